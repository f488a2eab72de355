"""PyAV video source, and the passthrough of the other streams into an output.

VideoSource decodes frames as RGB arrays with their pts (and can resume from a pts). _Passthrough
carries audio and subtitles over: copied packet for packet (a second demuxer reads them alongside the
video, so memory stays flat), re-framed between text subtitle codecs, or transcoded to AAC where the
output container cannot hold the codec. The encoder side is in segments.py.
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
from vidcolor.options import DEFAULT_CODEC, DEFAULT_CRF, DEFAULT_PRESET  # noqa: F401  (defined where the CLI reads them)

log = logging.getLogger("vidcolor")

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
    warmup: bool = False  # on resume: a frame before the resume point, shown to the cut detector only

WARMUP_FRAMES = 8


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
        return self.frames()

    def frames(self, start_index: int = 0, after_pts: int | None = None) -> Iterator[Frame]:
        """Decode frames in order. To resume, give the index of the next frame to do and the pts of the
        last one done: the source seeks to the keyframe before it and decodes forward. The last few
        frames before the resume point come first, marked `warmup`, so scene-cut state can be rebuilt."""
        index, last_pts, step = 0, None, None
        if self.info.average_rate:
            step = max(1, round(1 / (self.info.average_rate * self.info.time_base)))
        seeking = start_index > 0 and after_pts is not None
        if seeking:
            self.container.seek(after_pts, stream=self.stream, backward=True, any_frame=False)
        recent: list[Frame] = []
        decoded = 0
        try:
            for frame in self.container.decode(self.stream):
                decoded += 1
                if frame.pts is None and seeking:
                    raise InputError(f"{self.path}: cannot resume: frames have no timestamps")
                if not self.info.rotation:
                    self.info.rotation = int(frame.rotation or 0)
                pts = frame.pts
                if pts is None:  # some AVI streams carry no pts: continue the nominal frame grid
                    pts = 0 if last_pts is None else last_pts + (step or 1)
                last_pts = pts
                done_already = pts <= after_pts if seeking else index < start_index
                if done_already:
                    recent = recent[-(WARMUP_FRAMES - 1):] + [Frame(frame.to_ndarray(format="rgb24"), pts, -1, True)]
                    index += 0 if seeking else 1
                    continue
                if recent:
                    yield from recent
                    recent = []
                if seeking:
                    seeking, index = False, start_index
                yield Frame(frame.to_ndarray(format="rgb24"), pts, index)
                index += 1
        except av.error.FFmpegError as e:
            raise InputError(f"{self.path}: decoding failed at frame {index} (after pts {last_pts}): {_reason(e)}") from e
        if decoded == 0:
            raise InputError(f"{self.path}: no decodable video frames (corrupt or truncated)")
        self._check_complete(max(index, start_index), last_pts, step)

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
