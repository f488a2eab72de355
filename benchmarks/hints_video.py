"""Video hints against automatic colorization (issue 13, "Done when: Video"): camera-move clips made
from ground-truth colour photos (a pan or a zoom of a crop window), hints sampled from the FIRST
frame's ground truth only (as benchmarks/hints.py samples them: random points around the centre,
each the mean colour of a small patch), carried through the clip by the pipeline's hint tracker. It
prints PSNR over all frames with and without hints, and the warp error (Lai et al., vidcolor.metrics)
of each, beside the targets: +1.5 dB, warp error within 1.1x of the no-hint run.

Frames go through `vidcolor.pipeline.colorize_frames` (network, hint tracker, flow smoother, scene
cuts), the path `vidcolor FILM --hints` takes, without the lossy encode.

    python benchmarks/hints_video.py ../shared/data/val --weights runs/hints.pt --counts 0,5,10,20 --json hv.json

Without `--weights`, the shipped weights: their hint points are spread over their objects with L
as the guide (vidcolor.hint_spread). `--stand-in` uses the tests' painted-hint stand-in instead
(tests/serve_util.py: each hint's colour painted around its point), a smoke run of the plumbing.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import cv2
import numpy as np
from skimage.color import rgb2lab

from _paths import refuse_missing
from vidcolor.evaluate import gray_baseline
from vidcolor.folder import find_images
from vidcolor.hint_tracking import HintTracker
from vidcolor.hints import VideoHints, sample_hints
from vidcolor.io.base import Frame
from vidcolor.io.images import read_rgb8
from vidcolor.metrics import WarpError, psnr
from vidcolor.pipeline import batched, colorize_frames
from vidcolor.temporal import SceneCuts, make_smoother

FPS = 25


def camera_move(photo: np.ndarray, kind: str, frames: int, out_hw: tuple[int, int], travel: float) -> list[np.ndarray]:
    """A clip of `frames` frames of out_hw: a window of the photo with out_hw's aspect panning left to
    right by `travel` of the photo's width ("pan"), or closing in from 90% to (90 - 100 * travel)% of it
    ("zoom"). The photo is first area-downscaled to the widest window's scale, so no frame aliases."""
    h, w = photo.shape[:2]
    oh, ow = out_hw
    aspect = ow / oh
    widths = [min(w * (1 - travel), h * 0.9 * aspect)] * frames if kind == "pan" else \
        [min(w, h * aspect) * (0.9 - travel * t) for t in np.linspace(0.0, 1.0, frames)]
    s = min(1.0, ow / max(widths))
    small = cv2.resize(photo, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA) if s < 1 else photo
    clip = []
    for t, cw in zip(np.linspace(0.0, 1.0, frames), widths):
        x0 = (w - cw - travel * w) / 2 + t * travel * w if kind == "pan" else (w - cw) / 2
        ch = cw / aspect
        y0 = (h - ch) / 2
        m = np.float32([[cw / ow * s, 0, x0 * s], [0, ch / oh * s, y0 * s]])  # output pixel -> pixel of `small`
        clip.append(cv2.warpAffine(small, m, (ow, oh), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                   borderMode=cv2.BORDER_REFLECT))
    return clip


def run_clip(col, gt: list[np.ndarray], hints: VideoHints | None, temporal: str, batch: int) -> list[np.ndarray]:
    """The clip's gray frames through the video path (smoother, cuts, and the tracker when hinted)."""
    frames = [Frame(gray_baseline(f), i, i) for i, f in enumerate(gt)]
    smoother, cuts = make_smoother(temporal), SceneCuts(FPS)
    tracker = HintTracker(hints, col.work_size) if hints else None
    return [o for b in batched(frames, batch) for o in colorize_frames(col, b, smoother, cuts, tracker)]


def load(args):
    if args.stand_in:
        import sys

        sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
        from tests.serve_util import hint_colorizer

        return hint_colorizer(shipped=True)
    from vidcolor.weights import load_colorizer

    return load_colorizer(weights=args.weights, device=args.device)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("root", type=Path, help="folder of ground-truth colour photos")
    ap.add_argument("--weights", default=None, help="a checkpoint (default: the shipped weights)")
    ap.add_argument("--stand-in", action="store_true", help="the tests' painted-hint stand-in (a smoke run of the plumbing)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--counts", default="0,5,10,20", help="hints on the first frame; 0 (no hints) is always run")
    ap.add_argument("--frames", type=int, default=24)
    ap.add_argument("--size", default="192x256", help="clip frame size HxW")
    ap.add_argument("--travel", type=float, default=0.2, help="pan: share of the photo's width; zoom: of its scale")
    ap.add_argument("--temporal", default="flow")
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--max-half", type=int, default=2, help="patch half-size 0..N pixels, as benchmarks/hints.py")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args(argv)
    refuse_missing(folders=[a.root], weights=a.weights)  # a missing folder was a KeyError traceback
    col = load(a)
    counts = sorted({0, *(int(c) for c in a.counts.split(","))})
    out_hw = tuple(int(v) for v in a.size.lower().split("x"))
    files = find_images(a.root)[: a.limit]
    per = {n: {"psnr": [], "first_psnr": []} for n in counts}
    warp, t0 = WarpError(), time.time()
    for i, path in enumerate(files):
        kind = "pan" if i % 2 == 0 else "zoom"
        gt = camera_move(read_rgb8(path), kind, a.frames, out_hw, a.travel)
        first_ab = rgb2lab(gt[0])[..., 1:]
        outs = {}
        for n in counts:
            hints = VideoHints({0: sample_hints(first_ab, np.random.default_rng([a.seed, i, n]), n, max_half=a.max_half)}) if n else None
            outs[n] = run_clip(col, gt, hints, a.temporal, a.batch_size)
            scores = [psnr(o, g) for o, g in zip(outs[n], gt)]
            per[n]["psnr"].append(float(np.mean(scores)))
            per[n]["first_psnr"].append(scores[0])
        for k, g in enumerate(gt):
            warp.update(g, {str(n): outs[n][k] for n in counts})
    we = warp.result()
    table = {n: {"psnr": float(np.mean(r["psnr"])), "first_frame_psnr": float(np.mean(r["first_psnr"])),
                 "warp_error": float(we[str(n)])} for n, r in per.items()}
    base = table[0]
    print(f"{len(files)} clips ({a.frames} frames {out_hw[1]}x{out_hw[0]}, pan/zoom {a.travel:g}) from {a.root}, "
          f"model {col.model_id}{' (STAND-IN: smoke run)' if a.stand_in else ''}, temporal {a.temporal}, {time.time() - t0:.0f} s")
    print("| hints on frame 0 | PSNR all frames dB | vs no hints (target +1.5) | PSNR frame 0 | warp error | vs no hints (target <= 1.1x) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for n, r in table.items():
        print(f"| {n} | {r['psnr']:.2f} | {r['psnr'] - base['psnr']:+.2f} | {r['first_frame_psnr']:.2f} | "
              f"{r['warp_error']:.5f} | {r['warp_error'] / base['warp_error']:.3f}x |")
    if a.json:
        a.json.write_text(json.dumps({"root": str(a.root), "model": col.model_id, "stand_in": a.stand_in, "clips": len(files),
                                      "frames": a.frames, "size": list(out_hw), "travel": a.travel, "temporal": a.temporal,
                                      "table": table}, indent=1))


if __name__ == "__main__":
    main()
