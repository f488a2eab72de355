"""Settings of the `flow` smoother side by side, with the metrics of `vidcolor eval-video` (same frames,
same warp error, CDC, colourfulness and PSNR), to choose its defaults by measurement.

Each variant is NAME=key:value,key:value over FlowSmoother's arguments (strength, fb_tolerance,
photometric, max_motion_frac, preset: ultrafast|fast|medium); `off`, `ema` and the ground truth are
always scored too.

    python benchmarks/temporal_variants.py ../shared/data/video/cockatoo.mp4 \\
        default= s90=strength:0.9 nofb=fb_tolerance:inf fb1=fb_tolerance:1 fast=preset:fast
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import cv2

import vidcolor
from vidcolor.evaluate_video import evaluate_video
from vidcolor.temporal import FlowSmoother, make_smoother

PRESETS = {"ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST, "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
           "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM}


def parse_variant(spec: str) -> tuple[str, dict]:
    name, _, args = spec.partition("=")
    kwargs = {}
    for item in filter(None, args.split(",")):
        k, _, v = item.partition(":")
        kwargs[k] = PRESETS[v] if k == "preset" else float(v)
    return name, kwargs


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("clip", type=Path)
    p.add_argument("variants", nargs="+", help="NAME=key:value,... (NAME= alone: the defaults)")
    p.add_argument("--max-frames", type=int)
    p.add_argument("--json", type=Path)
    a = p.parse_args()
    factories = {"off": lambda: make_smoother("off"), "ema": lambda: make_smoother("ema")}
    for spec in a.variants:
        name, kwargs = parse_variant(spec)
        factories[name] = lambda kw=kwargs: FlowSmoother(**kw)
    res = evaluate_video(vidcolor.load_colorizer(device="cpu"), a.clip, smoothers=factories, max_frames=a.max_frames)
    print(f"{a.clip} ({res['frames']} frames)")
    for m, r in res["modes"].items():
        rel = res["against_off"].get(m)
        tail = (f"  {rel['warp_vs_off']:.2f}x off, {rel['warp_vs_gt']:.2f}x gt, colour {rel['colourfulness_change']:+.1%}, "
                f"PSNR {rel['psnr_change_db']:+.2f} dB") if rel else ""
        print(f"{m:12s} warp x1e3 {r['warp_error'] * 1e3:.3f}  colourfulness {r['colourfulness']:.1f}  PSNR {r['psnr']:.2f}{tail}")
    if a.json:
        a.json.write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
