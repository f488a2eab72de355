"""PyAV video source and sink.

VideoSource decodes frames as RGB arrays with their pts. VideoSink encodes frames at the source's
size, timestamps and time base, and carries the other streams over: audio and subtitles are copied
packet for packet (a second demuxer reads them alongside, so memory stays flat), and audio the output
container cannot hold is transcoded to AAC. The file appears under its final name only on commit().
"""
from __future__ import annotations

import fractions
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import av
import numpy as np

from vidcolor.errors import InputError, OutputError
from vidcolor.io.paths import temp_output_path
from vidcolor.io.subtitles import convert_packet, target_codec

log = logging.getLogger("vidcolor")

DEFAULT_CODEC = "libx264"
DEFAULT_CRF = 18
DEFAULT_PRESET = "medium"
AUDIO_LEAD_S = 0.5  # copied packets are muxed up to this far ahead of the video, for interleaving


@dataclass
class VideoInfo:
    path: Path
    width: int
    height: int
    frames: int  # from the container's index or header; 0 when unknown
    time_base: fractions.Fraction
    average_rate: fractions.Fraction | None
    rotation: int  # display rotation in degrees, as stored
    codec: str
    duration_s: float | None
    start_pts: int | None
    other_streams: list[str] = field(default_factory=list)  # "audio:mp3", "subtitle:subrip", ...

    @property
    def fps(self) -> float:
        return float(self.average_rate) if self.average_rate else 25.0


@dataclass
class Frame:
    rgb: np.ndarray  # (H, W, 3) uint8
    pts: int | None
    index: int


def _open_input(path: Path) -> av.container.InputContainer:
    if not path.exists():
        raise InputError(f"{path}: file not found")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not a video")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: empty file (0 bytes)")
    try:
        return av.open(str(path))
    except av.error.FFmpegError as e:
        raise InputError(f"{path}: not a readable video ({_reason(e)})") from e


def _reason(e: Exception) -> str:
    msg = getattr(e, "strerror", None) or str(e)
    return str(msg).splitlines()[0][:160]


class VideoSource:
    """Iterate the frames of a video's first video stream: `for frame in VideoSource(path)`."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.container = _open_input(self.path)
        if not self.container.streams.video:
            self.container.close()
            raise InputError(f"{self.path}: no video stream")
        self.stream = self.container.streams.video[0]
        self.stream.thread_type = "AUTO"
        s, cc = self.stream, self.stream.codec_context
        if not cc.width or not cc.height:
            self.container.close()
            raise InputError(f"{self.path}: video stream has no frame size (corrupt header)")
        others = [f"{x.type}:{x.codec_context.name}" for x in self.container.streams if x.type in ("audio", "subtitle")]
        duration = float(s.duration * s.time_base) if s.duration else (
            self.container.duration / av.time_base if self.container.duration else None)
        self.info = VideoInfo(
            path=self.path, width=cc.width, height=cc.height, frames=int(s.frames or 0), time_base=s.time_base,
            average_rate=s.average_rate or s.guessed_rate, rotation=0, codec=cc.name, duration_s=duration,
            start_pts=s.start_time, other_streams=others,
        )
        if not self.info.frames and duration and self.info.average_rate:
            self.info.frames = int(round(duration * float(self.info.average_rate)))

    def __enter__(self) -> "VideoSource":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.container.close()

    def __iter__(self) -> Iterator[Frame]:
        index, last_pts, step = 0, None, None
        if self.info.average_rate:
            step = max(1, round(1 / (self.info.average_rate * self.info.time_base)))
        try:
            for frame in self.container.decode(self.stream):
                if index == 0:
                    self.info.rotation = int(frame.rotation or 0)
                pts = frame.pts
                if pts is None:  # some AVI streams carry no pts: continue the nominal frame grid
                    pts = 0 if last_pts is None else last_pts + (step or 1)
                last_pts = pts
                yield Frame(frame.to_ndarray(format="rgb24"), pts, index)
                index += 1
        except av.error.FFmpegError as e:
            raise InputError(f"{self.path}: decoding failed at frame {index} (after pts {last_pts}): {_reason(e)}") from e
        if index == 0:
            raise InputError(f"{self.path}: no decodable video frames (corrupt or truncated)")
        self._check_complete(index, last_pts, step)

    def _check_complete(self, decoded: int, last_pts: int, step: int | None) -> None:
        """A file cut short still decodes up to the cut; compare with the duration the header promises."""
        s = self.stream
        if not s.duration or step is None:
            return
        expected_end = (s.start_time or 0) + s.duration
        missing = expected_end - (last_pts + step)
        if missing > max(2 * step, 0.25 / s.time_base):
            got, want = float((last_pts + step) * s.time_base), float(expected_end * s.time_base)
            raise InputError(f"{self.path}: truncated: video ends at {got:.2f} s of {want:.2f} s ({decoded} frames decoded)")


class _Passthrough:
    """Copies (or, where the container can't hold the codec, transcodes) audio and subtitle streams."""

    def __init__(self, src_path: Path, out: av.container.OutputContainer, notes: list[str]):
        self.src = av.open(str(src_path))
        self.out = out
        # input stream index -> (output stream, how: "copy", "aac" or a subtitle codec to re-frame into)
        self.map: dict[int, tuple[av.stream.Stream, str]] = {}
        supported = out.supported_codecs
        for s in self.src.streams:
            if s.type not in ("audio", "subtitle"):
                continue
            name = s.codec_context.name
            sub_codec = target_codec(name, supported) if s.type == "subtitle" else None
            if name in supported:
                self.map[s.index] = (out.add_stream_from_template(s), "copy")
            elif s.type == "audio":
                a = out.add_stream("aac", rate=s.codec_context.sample_rate or 48000)
                a.layout = s.codec_context.layout
                self.map[s.index] = (a, "aac")
                notes.append(f"audio stream {s.index} ({name}) transcoded to AAC: {out.format.name} cannot hold {name}")
            elif sub_codec:
                ost = out.add_mux_stream(sub_codec)
                ost.metadata.update(s.metadata)
                self.map[s.index] = (ost, sub_codec)
                notes.append(f"subtitle stream {s.index} ({name}) converted to {sub_codec}: {out.format.name} cannot hold {name}")
            else:
                notes.append(f"subtitle stream {s.index} ({name}) not copied: {out.format.name} cannot hold {name}")
        streams = [s for s in self.src.streams if s.index in self.map]
        self.packets = self.src.demux(*streams) if streams else iter(())
        self.pending = None
        self.done = not streams

    def mux_until(self, t: float | None) -> None:
        """Mux copied packets whose time is at most t seconds (all of them when t is None)."""
        while not self.done:
            pkt = self.pending or next(self.packets, None)
            self.pending = None
            if pkt is None:
                self.done = True
                break
            if pkt.dts is None and pkt.pts is None:
                continue  # demuxer flush packet
            ts = pkt.dts if pkt.dts is not None else pkt.pts
            if t is not None and ts * pkt.time_base > t + AUDIO_LEAD_S:
                self.pending = pkt
                return
            ost, how = self.map[pkt.stream.index]
            if how == "aac":
                for frame in pkt.decode():
                    frame.pts = None  # the encoder counts samples itself
                    for p in ost.encode(frame):
                        self.out.mux(p)
            elif how == "copy":
                pkt.stream = ost
                self.out.mux(pkt)
            else:
                new = av.Packet(convert_packet(bytes(pkt), pkt.stream.codec_context.name, how))
                new.stream, new.time_base = ost, pkt.time_base
                new.pts, new.dts, new.duration = pkt.pts, pkt.dts, pkt.duration
                self.out.mux(new)

    def close(self) -> None:
        self.mux_until(None)
        for ost, how in self.map.values():
            if how == "aac":
                for p in ost.encode(None):
                    self.out.mux(p)
        self.src.close()


class VideoSink:
    """Encode frames into `path` like the source `like`; `commit()` renames the finished file into place.

    Exiting the context without commit() (an error) removes the partial file.
    """

    def __init__(self, path: str | os.PathLike, like: VideoInfo, codec: str = DEFAULT_CODEC, crf: int = DEFAULT_CRF,
                 preset: str = DEFAULT_PRESET, copy_streams: bool = True):
        self.path = Path(path)
        self.tmp = temp_output_path(self.path)
        self.like = like
        self.notes: list[str] = []
        self.frames = 0
        self._committed = False
        self.passthrough: _Passthrough | None = None
        try:
            self.out = av.open(str(self.tmp), "w", format=_format_for(self.path))
        except (av.error.FFmpegError, ValueError) as e:
            self.tmp.unlink(missing_ok=True)
            raise OutputError(f"{self.path}: cannot create the output ({_reason(e)})") from e
        try:
            self._add_video_stream(codec, crf, preset)
            self.passthrough = _Passthrough(like.path, self.out, self.notes) if copy_streams else None
        except BaseException:
            self.abort()
            raise

    def _add_video_stream(self, codec: str, crf: int, preset: str) -> None:
        lk = self.like
        try:
            s = self.out.add_stream(codec, rate=lk.average_rate or fractions.Fraction(25))
        except (av.error.FFmpegError, ValueError) as e:
            raise OutputError(f"{self.path}: encoder {codec!r} is not available ({_reason(e)})") from e
        s.width, s.height = lk.width, lk.height
        odd = lk.width % 2 or lk.height % 2
        pix = "yuv420p"
        if odd and codec in ("libx264", "libx265", "h264", "hevc"):
            pix = "yuv444p"  # 4:2:0 needs even dimensions; 4:4:4 keeps the exact size
            self.notes.append(f"odd frame size {lk.width}x{lk.height}: encoded as yuv444p (4:2:0 needs even sizes)")
        s.pix_fmt = pix
        s.time_base = lk.time_base
        s.codec_context.time_base = lk.time_base
        s.codec_context.colorspace = 1  # ITU-R BT.709, matching the reformat in write()
        s.codec_context.color_range = 1  # limited ("MPEG") range
        if codec in ("libx264", "libx265"):
            s.options = {"crf": str(crf), "preset": preset}
        self.stream = s
        self._rotation_set = False

    def write(self, rgb: np.ndarray, pts: int) -> None:
        """Encode one (H, W, 3) uint8 RGB frame at the source pts."""
        if not self._rotation_set:
            if self.like.rotation:
                self.stream.set_display_rotation(self.like.rotation)
            self._rotation_set = True
        if self.passthrough is not None:
            self.passthrough.mux_until(float((pts - (self.like.start_pts or 0)) * self.like.time_base))
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format=self.stream.pix_fmt, dst_colorspace="ITU709")
        frame.pts = pts
        frame.time_base = self.like.time_base
        try:
            for p in self.stream.encode(frame):
                self.out.mux(p)
        except av.error.FFmpegError as e:
            raise OutputError(f"{self.path}: encoding failed at frame {self.frames} (pts {pts}): {_reason(e)}") from e
        self.frames += 1

    def commit(self) -> None:
        """Flush the encoder and the copied streams, close, and rename into place."""
        try:
            for p in self.stream.encode(None):
                self.out.mux(p)
            if self.passthrough is not None:
                self.passthrough.close()
            self.out.close()
        except av.error.FFmpegError as e:
            self.abort()
            raise OutputError(f"{self.path}: finishing the output failed: {_reason(e)}") from e
        os.replace(self.tmp, self.path)
        self._committed = True

    def abort(self) -> None:
        if self.passthrough is not None:
            self.passthrough.src.close()
        try:
            self.out.close()
        except Exception:  # closing a half-written container can fail in many ways; the file goes anyway
            pass
        self.tmp.unlink(missing_ok=True)

    def __enter__(self) -> "VideoSink":
        return self

    def __exit__(self, exc_type, *exc) -> None:
        if not self._committed:
            self.abort()


def _format_for(path: Path) -> str | None:
    # The temporary name keeps the extension, but say the format explicitly for odd extensions.
    return {".mkv": "matroska", ".webm": "webm", ".mov": "mov", ".mp4": "mp4", ".m4v": "mp4", ".avi": "avi"}.get(path.suffix.lower())
