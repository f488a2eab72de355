"""`vidcolor eval-video CLIP --max-frames N` run again and again, each in a fresh process: does any run crash?

Issue 12, case 2: breaking out of the frame loop early left the prefetch thread decoding while the
container closed, and the process died in 4 of 5 runs (SIGSEGV, or glibc's "malloc(): unsorted double
linked list corrupted"). Each run here is a new process, as a user runs it, so a crash is a negative
return code or glibc's abort message, not a failed test inside one interpreter.

    python benchmarks/eval_video_repeat.py [CLIP] [--runs 50] [--max-frames 30] [--weights W.pt]

Without CLIP a 320x180 clip of 90 frames with audio is generated (tests/media.py), so that the
decoder is well ahead when the loop stops at frame 30; without --weights the shipped model runs.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/ holds the clip generator
from _paths import refuse_missing  # noqa: E402

CRASH_SIGNS = ("malloc", "corrupted", "double free", "Segmentation fault", "Fatal Python error")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("clip", type=Path, nargs="?")
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--max-frames", type=int, default=30)
    ap.add_argument("--weights", type=Path)
    ap.add_argument("--device", default="cpu")
    a = ap.parse_args()
    refuse_missing([a.clip] if a.clip is not None else [], weights=a.weights)  # it ran eval-video 50 times to say so
    with tempfile.TemporaryDirectory(prefix="vidcolor-evalrep-") as tmp:
        if a.clip is None:
            from tests.media import write_video

            a.clip = write_video(Path(tmp) / "clip.mp4", w=320, h=180, frames=90, audio="aac")
        sys.exit(repeat(a))


def repeat(a: argparse.Namespace) -> int:
    cmd = [sys.executable, "-m", "vidcolor", "eval-video", str(a.clip), "--max-frames", str(a.max_frames),
           "--device", a.device] + (["--weights", str(a.weights)] if a.weights else [])
    print(" ".join(cmd[2:]), f"x {a.runs}")
    crashes, failures, times = [], [], []
    for i in range(a.runs):
        t0 = time.time()
        r = subprocess.run(cmd, capture_output=True, text=True)
        times.append(time.time() - t0)
        if r.returncode < 0 or any(s in r.stderr for s in CRASH_SIGNS):
            crashes.append((i + 1, r.returncode, r.stderr.strip()[-200:]))
        elif r.returncode != 0:
            failures.append((i + 1, r.returncode, r.stderr.strip()[-200:]))
        print(f"{i + 1:3d}  exit {r.returncode}  {times[-1]:.1f} s", flush=True)
    for what, rows in (("CRASH", crashes), ("FAILED", failures)):
        for i, rc, err in rows:
            print(f"{what} run {i}: exit {rc}: {err}")
    print(f"{a.runs} runs of {a.max_frames} frames: {len(crashes)} crashed, {len(failures)} failed otherwise, "
          f"{a.runs - len(crashes) - len(failures)} clean; {sum(times) / len(times):.1f} s a run on average")
    return 1 if crashes or failures else 0


if __name__ == "__main__":
    main()
