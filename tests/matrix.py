"""The container matrix of issue 12: every output container, with every common audio codec in the
source. Each combination must either work (frames, duration and audio checked) or be refused before
any decoding, in under 2 s. Shared by tests/test_containers.py (one tiny clip per cell) and
benchmarks/container_matrix.py (the printed table, more source containers)."""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import av

from tests.media import audio_seconds, probe, write_video
from vidcolor.errors import OutputError
from vidcolor.pipeline import VideoOptions, colorize_video

OUTPUTS = ("mp4", "mkv", "mov", "webm", "avi")
AUDIO = (None, "aac", "mp3", "ac3", "opus", "pcm_s16le")
ENCODER = {"opus": "libopus", "mp3": "libmp3lame"}  # write_video takes encoder names
REFUSE_WITHIN_S = 2.0
# A transcoded stream ends on a whole codec frame and may keep the encoder's priming where the container
# cannot trim it (MP3 in AVI at 16 kHz: 72 ms frames, about 70 ms of delay); a lost or cut stream is far off
AUDIO_TOLERANCE_S = 0.15
FPS = 25


@dataclass
class Cell:
    output: str
    audio: str | None
    source: str  # the source file's container
    outcome: str  # "works", "refused" or "FAILED"
    seconds: float
    video: str = ""  # codec in the output
    audio_out: str = ""  # audio codec in the output ("-" for none)
    detail: str = ""  # what was checked, or the refusal, or what went wrong

    @property
    def ok(self) -> bool:
        return self.outcome in ("works", "refused")


def make_source(folder: Path, audio: str | None, container: str = "mkv", frames: int = 20) -> Path:
    name = f"src_{audio or 'none'}.{container}"
    # what each container usually holds (H.264 with B-frames in AVI has its own test: test_containers.py)
    video = {"webm": "libvpx-vp9", "avi": "mpeg4"}.get(container, "libx264")
    return write_video(folder / name, w=64, h=48, frames=frames, codec=video, audio=ENCODER.get(audio, audio) if audio else None)


def run_cell(src: Path, output: str, colorizer, workdir: Path, codec: str | None = None) -> Cell:
    """Colorize src into a fresh .`output` file and check it, or time the refusal."""
    audio = next(iter(codecs(src)[1]), None)
    dst = workdir / f"{src.stem}_{src.suffix[1:]}_{codec or 'default'}_to.{output}"
    t0 = time.perf_counter()
    try:
        res = colorize_video(src, dst, colorizer, VideoOptions(temporal="off", codec=codec, segment_seconds=0.3))
    except OutputError as e:
        seconds = time.perf_counter() - t0
        untouched = not dst.exists() and not (workdir / ".vidcolor" / f"{dst.name}.work").exists()
        fine = seconds < REFUSE_WITHIN_S and "\n" not in str(e) and str(dst) in str(e) and untouched
        return Cell(output, audio, src.suffix[1:], "refused" if fine else "FAILED", seconds, detail=str(e))
    seconds = time.perf_counter() - t0
    return _check(src, res, Cell(output, audio, src.suffix[1:], "works", seconds))


def _check(src: Path, res, cell: Cell) -> Cell:
    a, b = probe(src), probe(res.output)
    problems = []
    if b["frames"] != a["frames"]:
        problems.append(f"{b['frames']} frames of {a['frames']}")
    src_audio, (cell.video, out_audio) = codecs(src)[1], codecs(res.output)
    if max(abs(x - y) for x, y in zip(a["pts_s"], b["pts_s"])) > 1e-3:
        problems.append("frame times differ from the source's")
    # the container's duration is the longest stream's: exactly the video's without audio
    if abs(b["duration_s"] - a["duration_s"]) > (AUDIO_TOLERANCE_S if src_audio else 1e-3):
        problems.append(f"duration {b['duration_s']:.3f} s, source {a['duration_s']:.3f} s")
    if len(out_audio) != len(src_audio):
        problems.append(f"audio streams {out_audio}, source {src_audio}")
    elif src_audio:
        got, want = audio_seconds(res.output), audio_seconds(src)
        if abs(got - want) > AUDIO_TOLERANCE_S:
            problems.append(f"audio {got:.3f} s, source {want:.3f} s")
    cell.audio_out = out_audio[0] if out_audio else "-"
    if problems:
        cell.outcome, cell.detail = "FAILED", "; ".join(problems)
    else:
        cell.detail = f"{b['frames']} frames, {b['duration_s']:.3f} s" + (f", audio {audio_seconds(res.output):.3f} s" if out_audio else "")
    return cell


def codecs(path: Path) -> tuple[str, list[str]]:
    """Canonical codec names ("mp3", not the decoder's "mp3float") of the video and the audio streams."""
    with av.open(str(path)) as c:
        return (c.streams.video[0].codec_context.codec.canonical_name,
                [s.codec_context.codec.canonical_name for s in c.streams.audio])
