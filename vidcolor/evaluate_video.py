"""`vidcolor eval-video CLIP`: reduce a colour clip to gray, colorize it with every temporal mode, and
measure flicker (warp error, CDC) beside the ground truth's own, colour kept (colourfulness, PSNR)
and speed. All modes run in one pass over the clip so they see identical frames."""
from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Callable

import av
import numpy as np

from vidcolor.colorizer import Colorizer
from vidcolor.errors import InputError
from vidcolor.io.video import VideoSource
from vidcolor.metrics import CDC, WarpError, colourfulness, is_gray, psnr
from vidcolor.pipeline import colorize_frames, luma_path, network_stride, stride_batches
from vidcolor.temporal import TEMPORAL_MODES, SceneCuts, TemporalSmoother, make_smoother


def evaluate_video(colorizer: Colorizer, clip: str | Path, modes: tuple[str, ...] = TEMPORAL_MODES,
                   strength: float | None = None, batch_size: int = 4, max_frames: int | None = None,
                   smoothers: dict[str, Callable[[], TemporalSmoother]] | None = None) -> dict:
    """Every mode (or every named smoother factory in `smoothers`, which should include "off") on one clip."""
    # a clip with no colour in the frames measured was scored against itself as if it were the truth (a new user's
    # test), and is refused before any colorizing: it had run every mode over the whole clip first
    refuse_gray_clip(clip, max_frames)
    factories = smoothers or {m: (lambda m=m: make_smoother(m, strength, colorizer.device)) for m in modes}
    modes = tuple(factories)
    states = {m: (factories[m](), None) for m in modes}
    seconds = {m: 0.0 for m in modes}
    psnrs = {m: [] for m in modes}
    exact = 0  # frames some mode reproduced exactly (black frames): infinite PSNR, left out of every mode's mean
    colour = {m: [] for m in (*modes, "gt")}
    warp, cdc = WarpError(), CDC()
    n, limited = 0, False
    with VideoSource(clip) as src:
        # the path a run into an MP4 takes on this device: on the CPU the luma planes, written as yuv420p
        luma = luma_path(colorizer, "yuv420p", src.info)
        decoded = src.frames_ahead(depth=8, luma=luma, with_rgb=True)  # joined by the source's close(), before the container closes
        cuts = {m: SceneCuts(src.info.fps) for m in modes}
        stride = math.lcm(*(network_stride(s) for s, _ in states.values()))  # every smoother's network frames end a batch
        for frames in stride_batches(decoded, batch_size, stride):  # batched as a run of the default `flow` is on this device
            if max_frames is not None:
                limited = limited or len(frames) > max_frames - n
                frames = frames[: max(0, max_frames - n)]
                if not frames:
                    break
            if n == 0:  # untimed: the network's first call at the clip's shape (oneDNN's set-up) had gone to `off`, the
                colorize_frames(colorizer, frames, factories[modes[0]](), None, rotation=src.info.rotation)  # first timed
            outs = {}  # and each batch starts at another mode: fps_vs_off read 2.1x for a clip's first copy, 1.2x for its second
            k = (n // max(1, len(frames))) % len(modes)
            for m in modes[k:] + modes[:k]:
                t = time.perf_counter()
                outs[m] = as_rgb(colorize_frames(colorizer, frames, states[m][0], cuts[m], rotation=src.info.rotation))
                seconds[m] += time.perf_counter() - t
            for i, f in enumerate(frames):
                per = {m: outs[m][i] for m in modes}
                warp.update(f.rgb, {**per, "gt": f.rgb}, scene_cut=f.index in cuts[modes[0]].cuts)
                cdc.update({**per, "gt": f.rgb})
                scores = {m: psnr(per[m], f.rgb) for m in modes}
                if all(np.isfinite(list(scores.values()))):  # one infinite frame had made Megamind's mean inf, and its change nan
                    for m in modes:
                        psnrs[m].append(scores[m])
                else:
                    exact += 1
                for m in modes:
                    colour[m].append(colourfulness(per[m]))
                colour["gt"].append(colourfulness(f.rgb))
            n += len(frames)
        info = src.info
        short = None if limited else src.ends_early(n)  # a clip cut short is measured on what it holds, and says so
    if n < 2:  # a one-frame clip measured as nan flicker, exit 0 (film-user test)
        raise InputError(f"{clip}: {n} frame{'s' * (n != 1)}; flicker is measured between frames, so eval-video needs at least 2")
    we, cd = warp.result(), cdc.result()
    rows = {m: {"warp_error": we.get(m, float("nan")), "cdc": cd.get(m, float("nan")), "psnr": float(np.mean(psnrs[m])) if psnrs[m] else float("inf"),
                "colourfulness": float(np.mean(colour[m])), "fps": n / seconds[m] if seconds[m] else 0.0} for m in modes}
    rows["gt"] = {"warp_error": we.get("gt", float("nan")), "cdc": cd.get("gt", float("nan")), "psnr": float("inf"),
                  "colourfulness": float(np.mean(colour["gt"])), "fps": float("nan")}
    return {"clip": str(clip), "frames": n, "size": [info.width, info.height], "model": colorizer.model_id,
            "scene_cuts": cuts[modes[0]].cuts, "modes": rows, "against_off": against_off(rows), "exact_frames": exact,
            **({"note": short} if short else {})}


def refuse_gray_clip(clip: str | Path, max_frames: int | None = None) -> None:
    """Raise InputError where the clip (its first `max_frames` frames) holds no colour, as `evaluate_video`
    would find once done, but decoding only, without the network: it stops at the first frame in colour,
    so a colour clip costs one frame. A black-and-white film had been colorized in all three modes, a
    minute for 100 frames on the CPU, before it was refused (a new user's test); `vidcolor eval-video`
    calls this for every clip before the model loads."""
    n, limited = 0, False
    with VideoSource(clip) as src:
        for f in src.frames():  # RGB, as evaluate_video's `with_rgb` frames
            if max_frames is not None and n >= max_frames:
                limited = True
                break
            if not is_gray(f.rgb):
                return
            n += 1
    if n:  # no frames at all: evaluate_video's own error says so
        what = f"its first {n} frames (--max-frames) hold no colour" if limited else "black and white"
        raise InputError(f"{clip}: {what}: no colours to score against (eval-video takes colour clips, reduces "
                         "them to gray and compares; colorize a black-and-white film with `vidcolor CLIP`)")


def as_rgb(frames: np.ndarray) -> np.ndarray:
    """colorize_frames' output -> (B, H, W, 3) uint8 RGB: packed yuv420p frames (the luma path) are
    converted back with the BT.709 matrix they were made with, as a player would show them."""
    if frames.ndim == 4:
        return frames
    return np.stack([av.VideoFrame.from_ndarray(f, format="yuv420p").reformat(format="rgb24", src_colorspace="ITU709").to_ndarray()
                     for f in frames])


def against_off(rows: dict) -> dict[str, dict]:
    """Each smoothing mode beside `off` and the ground truth: the figures the flicker targets are set in."""
    off, gt = rows.get("off"), rows["gt"]
    if off is None:
        return {}
    def ratio(x: float, y: float) -> float:  # a still clip's zero warp error, a colourless `off`: nan, not ZeroDivisionError
        return x / y if y else float("nan")

    return {m: {"warp_vs_off": ratio(r["warp_error"], off["warp_error"]), "warp_vs_gt": ratio(r["warp_error"], gt["warp_error"]),
                "colourfulness_change": ratio(r["colourfulness"], off["colourfulness"]) - 1, "psnr_change_db": r["psnr"] - off["psnr"],
                "fps_vs_off": ratio(r["fps"], off["fps"])}
            for m, r in rows.items() if m not in ("off", "gt")}
