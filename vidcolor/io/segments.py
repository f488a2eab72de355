"""The video encoder side: frames are encoded into segments of a few seconds in a hidden work folder,
and joined into the output without re-encoding at the end, with the audio and subtitles muxed in.

A finished segment (with the temporal smoother's state at its end) survives a kill, so a re-run
continues where the last one stopped. Segments are MP4 without an edit list (an edit list would round
their start to the movie timescale); each records the timestamps of its first packet, so joining puts
every packet back at its exact pts and dts.
"""
from __future__ import annotations

import fractions
import json
import os
import shutil
from pathlib import Path

import av
import numpy as np

from vidcolor.errors import OutputError
from vidcolor.io.paths import temp_output_path
from vidcolor.io.video import DEFAULT_CODEC, DEFAULT_CRF, DEFAULT_PRESET, VideoInfo, _Passthrough, _reason
from vidcolor.options import SEGMENT_SECONDS
_FORMATS = {".mkv": "matroska", ".webm": "webm", ".mov": "mov", ".mp4": "mp4", ".m4v": "mp4", ".avi": "avi"}


def atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


class SegmentEncoder:
    """Encodes one segment: frames at the source's size, time base and pts."""

    def __init__(self, path: Path, like: VideoInfo, codec: str, crf: int, preset: str, notes: list[str]):
        self.path, self.tmp, self.like = path, path.with_name(path.name + ".part.mp4"), like
        self.first: tuple[int, int] | None = None  # encoder's (pts, dts) of the first packet
        self.frames = 0
        self.out = av.open(str(self.tmp), "w", format="mp4", options={"use_editlist": "0"})
        try:
            s = self.out.add_stream(codec, rate=like.average_rate or fractions.Fraction(25))
        except (av.error.FFmpegError, ValueError) as e:
            self.out.close()
            raise OutputError(f"encoder {codec!r} is not available ({_reason(e)})") from e
        s.width, s.height = like.width, like.height
        s.pix_fmt = "yuv420p"
        if (like.width % 2 or like.height % 2) and codec in ("libx264", "libx265"):
            s.pix_fmt = "yuv444p"  # 4:2:0 needs even dimensions; 4:4:4 keeps the exact size
            note = f"odd frame size {like.width}x{like.height}: encoded as yuv444p (4:2:0 needs even sizes)"
            if note not in notes:
                notes.append(note)
        s.time_base = like.time_base
        s.codec_context.time_base = like.time_base
        s.codec_context.colorspace = 1  # ITU-R BT.709, matching the reformat in write()
        s.codec_context.color_range = 1  # limited ("MPEG") range
        if codec in ("libx264", "libx265"):
            s.options = {"crf": str(crf), "preset": preset}
        self.stream = s

    def _mux(self, packets) -> None:
        for p in packets:
            if self.first is None:
                self.first = (p.pts, p.dts)
            self.out.mux(p)

    def write(self, rgb: np.ndarray, pts: int) -> None:
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format=self.stream.pix_fmt, dst_colorspace="ITU709")
        frame.pts, frame.time_base = pts, self.like.time_base
        self._mux(self.stream.encode(frame))
        self.frames += 1

    def finish(self) -> dict:
        self._mux(self.stream.encode(None))
        self.out.close()
        os.replace(self.tmp, self.path)
        return {"file": self.path.name, "frames": self.frames, "first_pts": self.first[0], "first_dts": self.first[1]}

    def abort(self) -> None:
        try:
            self.out.close()
        except (av.error.FFmpegError, ValueError):
            pass  # a half-written segment is deleted either way
        self.tmp.unlink(missing_ok=True)


class SegmentedSink:
    """Resumable encoding of one output: `completed` lists the finished segments of an earlier run with
    the same key (anything else in the work folder is discarded), `start_segment` / `write` /
    `finish_segment` add more, and `join` writes the final file and removes the work folder."""

    def __init__(self, dst: Path, work_root: Path, like: VideoInfo, key: str, codec: str = DEFAULT_CODEC,
                 crf: int = DEFAULT_CRF, preset: str = DEFAULT_PRESET, segment_seconds: float = SEGMENT_SECONDS):
        self.dst, self.like, self.key = dst, like, key
        self.codec, self.crf, self.preset = codec, crf, preset
        self.segment_frames = max(1, round(segment_seconds * like.fps))
        self.work = work_root / f"{dst.name}.work"
        self.meta_path = self.work / "segments.json"
        self.notes: list[str] = []
        self.current: SegmentEncoder | None = None
        self.segments: list[dict] = self._load()

    def _load(self) -> list[dict]:
        try:
            meta = json.loads(self.meta_path.read_text())
            if meta.get("key") == self.key and all((self.work / s["file"]).is_file() for s in meta["segments"]):
                self.notes += meta.get("notes", [])
                return meta["segments"]
        except (OSError, ValueError, KeyError, TypeError):
            pass
        self.discard()
        return []

    def discard(self) -> None:
        shutil.rmtree(self.work, ignore_errors=True)
        self.segments = []

    @property
    def frames_done(self) -> int:
        return sum(s["frames"] for s in self.segments)

    def state(self) -> dict[str, np.ndarray]:
        """The temporal state saved at the end of the last finished segment."""
        if not self.segments or not self.segments[-1].get("state"):
            return {}
        with np.load(self.work / self.segments[-1]["state"]) as z:
            return {k: z[k] for k in z.files}

    def start_segment(self) -> None:
        self.work.mkdir(parents=True, exist_ok=True)
        n = len(self.segments)
        self.current = SegmentEncoder(self.work / f"seg{n:06d}.mp4", self.like, self.codec, self.crf, self.preset, self.notes)

    def write(self, rgb: np.ndarray, pts: int) -> None:
        if self.current is None:
            self.start_segment()
        try:
            self.current.write(rgb, pts)
        except av.error.FFmpegError as e:
            raise OutputError(f"{self.dst}: encoding failed at frame {self.frames_done + self.current.frames} (pts {pts}): {_reason(e)}") from e

    def finish_segment(self, last_pts: int, state: dict[str, np.ndarray]) -> None:
        """Close the current segment and record it (with the smoother state) as finished."""
        seg = self.current.finish()
        self.current = None
        seg["last_pts"] = int(last_pts)
        if state:
            name = seg["file"].replace(".mp4", ".state.npz")
            tmp = self.work / (name + ".tmp.npz")
            np.savez(tmp, **state)
            os.replace(tmp, self.work / name)
            seg["state"] = name
        self.segments.append(seg)
        atomic_write_text(self.meta_path, json.dumps({"key": self.key, "segments": self.segments, "notes": self.notes}))

    def abort(self) -> None:
        if self.current is not None:
            self.current.abort()
            self.current = None

    def join(self) -> None:
        """Mux the segments' packets (no re-encoding) and the passthrough streams into dst, atomically."""
        tmp = temp_output_path(self.dst)
        try:
            # Timestamps are the source's own; don't let the muxer shift them because the first B-frame
            # delay makes the first dts negative (the MP4 muxer writes an edit list for that instead).
            out = av.open(str(tmp), "w", format=_FORMATS.get(self.dst.suffix.lower()), options={"avoid_negative_ts": "disabled"})
        except (av.error.FFmpegError, ValueError) as e:
            raise OutputError(f"{self.dst}: cannot create the output ({_reason(e)})") from e
        try:
            with av.open(str(self.work / self.segments[0]["file"])) as first:
                ost = out.add_stream_from_template(first.streams.video[0])
            ost.time_base = self.like.time_base
            if self.like.rotation:
                ost.set_display_rotation(self.like.rotation)
            passthrough = _Passthrough(self.like.path, out, self.notes)
            last_dts = None
            start = self.like.start_pts or 0
            for seg in self.segments:
                with av.open(str(self.work / seg["file"])) as c:
                    shift = None
                    ratio = c.streams.video[0].time_base / self.like.time_base  # MP4 may pick a finer timescale
                    for pkt in c.demux(c.streams.video[0]):
                        if pkt.dts is None and pkt.pts is None:
                            continue
                        pts, dts = round(pkt.pts * ratio), round(pkt.dts * ratio)
                        if shift is None:  # segments have no edit list: restore the encoder's timestamps
                            shift = seg["first_dts"] - dts
                        pkt.time_base = self.like.time_base
                        pkt.pts, pkt.dts = pts + shift, dts + shift
                        if last_dts is not None and pkt.dts <= last_dts:
                            pkt.dts = last_dts + 1  # a new segment's B-frame delay overlaps the last one's end
                        last_dts = pkt.dts
                        passthrough.mux_until(float((pkt.pts - start) * self.like.time_base))
                        pkt.stream = ost
                        out.mux(pkt)
            passthrough.close()
            out.close()
        except BaseException as e:
            try:
                out.close()
            except (av.error.FFmpegError, ValueError):
                pass
            tmp.unlink(missing_ok=True)
            if isinstance(e, av.error.FFmpegError):
                raise OutputError(f"{self.dst}: joining the encoded segments failed: {_reason(e)}") from e
            raise
        os.replace(tmp, self.dst)
        self.discard()
