"""The one place the pipeline is wired: FrameSource -> batches -> Colorizer -> TemporalSmoother -> FrameSink."""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np
import torch
import torch.nn.functional as F

from vidcolor.color import L_SCALE, merge_l_ab, rgb_to_l, to_uint8
from vidcolor.colorizer import Colorizer
from vidcolor.errors import InputError, OutputError, VidcolorError
from vidcolor.io.images import IMAGE_EXTS, read_image, write_image
from vidcolor.io.prefetch import BackgroundWorker, prefetch
from vidcolor.io.video import DEFAULT_CODEC, DEFAULT_CRF, DEFAULT_PRESET, Frame, VideoSink, VideoSource
from vidcolor.temporal import GUIDE_SCALE, SceneCuts, make_smoother

Progress = Callable[[int, int], None]  # (done, total or 0)


@dataclass
class VideoOptions:
    temporal: str = "ema"
    temporal_strength: float | None = None  # None: the mode's own default
    codec: str = DEFAULT_CODEC
    crf: int = DEFAULT_CRF
    preset: str = DEFAULT_PRESET
    batch_size: int = 4


@dataclass
class Result:
    input: Path
    output: Path | None
    status: str  # "done", "failed", "skipped"
    seconds: float = 0.0
    frames: int = 0
    error: str | None = None
    notes: list[str] = field(default_factory=list)


def check_output(src: Path, dst: Path) -> None:
    """Refuse an output that is the input, or whose folder cannot be created or written."""
    if src.resolve() == dst.resolve() or (dst.exists() and src.exists() and os.path.samefile(src, dst)):
        raise OutputError(f"{dst}: output is the input file; choose another output path")
    parent = dst.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(f"{parent}: cannot create the output folder ({e.strerror})") from e
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"{parent}: output folder is not writable")
    if dst.is_dir():
        raise OutputError(f"{dst}: is a folder; give a file name for the output")


def batched(items: Iterable, n: int) -> Iterator[list]:
    batch = []
    for x in items:
        batch.append(x)
        if len(batch) == n:
            yield batch
            batch = []
    if batch:
        yield batch


def _cut_thumbnail(l_full: torch.Tensor) -> torch.Tensor:
    """(B, 1, H, W) L* -> (B, h, w) uint8 gray about 256 wide, for scene-cut analysis."""
    h, w = l_full.shape[-2:]
    s = min(1.0, 256 / w)
    small = F.interpolate(l_full, size=(max(1, round(h * s)), max(1, round(w * s))), mode="area") if s < 1 else l_full
    return (small[:, 0] * (255.0 / L_SCALE)).round().clamp(0, 255).to(torch.uint8)


def colorize_video(src: str | os.PathLike, dst: str | os.PathLike, colorizer: Colorizer, opts: VideoOptions | None = None,
                   progress: Progress | None = None) -> Result:
    """Colorize one video file into `dst`, keeping size, frame count, timestamps, rotation and the other streams."""
    src, dst, opts = Path(src), Path(dst), opts or VideoOptions()
    t0 = time.time()
    check_output(src, dst)
    with VideoSource(src) as source:
        info = source.info
        with VideoSink(dst, like=info, codec=opts.codec, crf=opts.crf, preset=opts.preset) as sink:
            cuts = SceneCuts(info.fps)
            smoother = make_smoother(opts.temporal, opts.temporal_strength)
            writer = BackgroundWorker(lambda item: [sink.write(rgb, pts) for rgb, pts in item], depth=2, name="encode")
            done = 0
            try:
                for frames in batched(prefetch(source, depth=2 * opts.batch_size, name="decode"), opts.batch_size):
                    out = colorize_frames(colorizer, frames, smoother, cuts)
                    writer.submit(list(zip(out, (f.pts for f in frames))))
                    done += len(frames)
                    if progress:
                        progress(done, info.frames)
            finally:
                writer.close()
            sink.commit()
    notes = list(sink.notes)
    if cuts.cuts:
        notes.append(f"scene cuts at frames {', '.join(map(str, cuts.cuts))}")
    return Result(src, dst, "done", time.time() - t0, sink.frames, notes=notes)


@torch.inference_mode()
def colorize_frames(colorizer: Colorizer, frames: list[Frame], smoother, cuts: SceneCuts | None) -> np.ndarray:
    """A batch of decoded frames -> (B, H, W, 3) uint8 colorized frames, advancing the temporal state."""
    rgb = torch.from_numpy(np.stack([f.rgb for f in frames])).to(colorizer.device, non_blocking=True)
    l_full = rgb_to_l(rgb.permute(0, 3, 1, 2).float() / 255.0)  # (B, 1, H, W)
    ab_small = colorizer.predict_ab_small(l_full)  # (B, 2, h, w)
    h, w = ab_small.shape[-2:]
    l_guide = F.interpolate(l_full, size=(GUIDE_SCALE * h, GUIDE_SCALE * w), mode="area")
    thumbs = _cut_thumbnail(l_full).cpu().numpy() if cuts is not None else None
    smoothed = []
    for i in range(len(frames)):
        if cuts is not None and cuts.is_cut(thumbs[i]):
            smoother.reset()
        smoothed.append(smoother(l_guide[i:i + 1], ab_small[i:i + 1]))
    ab_full = colorizer.upsample(l_full, torch.cat(smoothed))
    return to_uint8(merge_l_ab(l_full, ab_full)).permute(0, 2, 3, 1).cpu().numpy()


def colorize_image(src: str | os.PathLike, dst: str | os.PathLike, colorizer: Colorizer) -> Result:
    """Colorize one image file into `dst` (format from dst's extension), same size, bit depth and alpha."""
    src, dst = Path(src), Path(dst)
    t0 = time.time()
    check_output(src, dst)
    img = read_image(src)
    out = colorizer.colorize_array(img.pixels)
    write_image(dst, out, img)
    return Result(src, dst, "done", time.time() - t0, 1)


def find_images(root: Path) -> list[Path]:
    """Every image under root, recursively, in a stable order; hidden files and our temporaries skipped."""
    return sorted(p for p in root.rglob("*")
                  if p.is_file() and p.suffix.lower() in IMAGE_EXTS and not any(part.startswith(".") for part in p.relative_to(root).parts))


def colorize_folder(src: str | os.PathLike, dst: str | os.PathLike, colorizer: Colorizer, fmt_ext: str | None = None,
                    on_result: Callable[[Result], None] | None = None) -> list[Result]:
    """Colorize every image under `src` into the mirrored tree under `dst`. A bad file is reported and skipped."""
    src, dst = Path(src), Path(dst)
    if src.resolve() == dst.resolve():
        raise OutputError(f"{dst}: output folder is the input folder; choose another")
    results = []
    for path in find_images(src):
        target = dst / path.relative_to(src)
        if fmt_ext:
            target = target.with_suffix(fmt_ext)
        try:
            res = colorize_image(path, target, colorizer)
        except VidcolorError as e:
            res = Result(path, None, "failed", error=str(e))
        results.append(res)
        if on_result:
            on_result(res)
    return results
