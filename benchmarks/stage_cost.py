"""Where the main thread's CPU goes: the pipeline's own `colorize_frames` on a clip's first frames,
profiled with a CPU-time clock (so a busy machine inflates the figures less than wall time), reported
per step in ms of CPU a frame. One torch and OpenCV thread by default, so that the figures hold
still; on a shared machine they still move by 20-30% between runs, so compare runs made back to back.
glibc's allocator is set as the CLI sets it (vidcolor/allocator.py) unless --default-malloc. With one
thread torch runs the 1x1 convolutions through its own slow path rather than oneDNN, so the network
costs a few ms a frame more here than in a CLI run's two threads (--threads 2 shows that). The flow
smoother's flows are computed in its calls here (`look_ahead=False`), so that each step is charged its
own time: a CLI run computes them on a thread beside the network (`FlowSmoother.look_ahead`) and
renders on the encoder's thread, so its main thread spends less than "all of colorize_frames".

    python benchmarks/stage_cost.py ../shared/data/video/cockatoo.mp4 --frames 24
"""
from __future__ import annotations

import argparse
import cProfile
import pstats
import time

import vidcolor  # noqa: F401  (sets OMP_WAIT_POLICY before torch loads, as the CLI does)
import cv2
import torch

from _paths import refuse_missing
from vidcolor.allocator import keep_freed_memory
from vidcolor.io.video import VideoSource
from vidcolor.pipeline import batched, colorize_frames, luma_path
from vidcolor.temporal import SceneCuts, make_smoother
from vidcolor.weights import load_colorizer

# step name -> (file suffix, function name) of the code that does it
STEPS = {
    "network": ("models/effnet_unet.py", "forward"),
    "head decoding": ("models/heads.py", "decode"),
    "render (upsampling, Lab to RGB)": ("vidcolor/colorizer.py", "render"),
    "render to yuv420p (luma path)": ("vidcolor/colorizer.py", "render_yuv420"),
    "temporal smoother": ("vidcolor/temporal.py", "__call__"),
    "L from RGB": ("vidcolor/color.py", "rgb8_to_l"),
    "L from luma (luma path)": ("vidcolor/color.py", "luma8_to_l"),
    "network input (resize, pad)": ("vidcolor/colorizer.py", "network_input"),
    "scene cuts": ("vidcolor/temporal.py", "is_cut"),
    "all of colorize_frames": ("vidcolor/pipeline.py", "colorize_frames"),
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("clip")
    p.add_argument("--frames", type=int, default=24)
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--temporal", default="flow")
    p.add_argument("--threads", type=int, default=1, help="torch and OpenCV threads")
    p.add_argument("--rgb", action="store_true", help="decode to RGB and render RGB, as a GPU run does (the CPU "
                   "pipeline decodes luma planes and writes yuv420p where the output takes it)")
    p.add_argument("--default-malloc", action="store_true", help="leave glibc's allocator as it is (the CLI tunes it)")
    a = p.parse_args()
    refuse_missing([a.clip])
    if not a.default_malloc:
        keep_freed_memory()
    torch.set_num_threads(a.threads)
    cv2.setNumThreads(a.threads)
    col = load_colorizer(device="cpu")
    with VideoSource(a.clip) as src:
        frames = [f for _, f in zip(range(a.frames), src.frames(luma=not a.rgb and luma_path(col, "yuv420p", src.info)))]
    smoother, cuts = make_smoother(a.temporal), SceneCuts(src.info.fps)
    colorize_frames(col, frames[: a.batch_size], make_smoother(a.temporal), SceneCuts(src.info.fps))  # warm-up
    prof = cProfile.Profile(time.process_time)
    prof.enable()
    for batch in batched(frames, a.batch_size):
        colorize_frames(col, batch, smoother, cuts, look_ahead=False)
    prof.disable()
    stats = pstats.Stats(prof).stats  # (file, line, name) -> (calls, primitive calls, own, cumulative, callers)
    print(f"{a.clip}: {len(frames)} frames {src.info.width}x{src.info.height}, batch {a.batch_size}, "
          f"{a.threads} torch thread(s), temporal {a.temporal}; CPU ms a frame")
    for step, (suffix, name) in STEPS.items():
        cum = sum(v[3] for (file, _, fn), v in stats.items() if fn == name and file.endswith(suffix))
        print(f"  {step:>32}: {1000 * cum / len(frames):7.2f}")


if __name__ == "__main__":
    main()
