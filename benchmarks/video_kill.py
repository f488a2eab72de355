"""A video run SIGKILLed at many moments, each followed by a resume that must finish the output.

Generates a clip with audio, runs `vidcolor CLIP -o OUT` once uninterrupted (the reference and the
run's length T), then for every trial starts a fresh output, kills the run, sometimes kills the
resume too, resumes to the end and checks the result against the reference: frame count, every frame
time, duration, audio length and streams, and nothing left over (no partial file, no work folder, no
segment or state file). The kills are:

- `--kills` random moments (seeded), half of them a time drawn uniformly over [0, T], the real
  `kill -9` from outside, and half a point drawn uniformly over the run's work (the N-th of its
  encoded frames or of the packets its join writes, through tests/killpoints.py), so that the kills
  spread over the whole run however long start-up takes on a loaded machine; and
- one at each named stage of tests/killpoints.py (inside a segment, at a segment's rename, when the
  join opens the output, during the join, just before and just after the final rename, just after
  the journal, half-way through removing the work folder), which random moments rarely hit.

The network is an untrained one at working size 64 (what is tested is the bookkeeping, not colour).

    python benchmarks/video_kill.py --kills 25 --frames 300 --json video_kill.json
"""
from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.media import video_differences, write_video  # noqa: E402

STAGES = ["segment-mux:40", "segment-rename:3", "output-open", "output-mux:30", "output-rename", "output-renamed",
          "journal", "discard"]


def count_packets(path: Path) -> int:
    import av

    with av.open(str(path)) as c:
        return sum(1 for p in c.demux() if p.size)


def untrained_weights(folder: Path) -> Path:
    import torch

    from vidcolor.models import create_model, save_checkpoint

    torch.manual_seed(0)
    path = folder / "untrained.pt"
    save_checkpoint(create_model("effnet_unet"), path, half=True, meta={"work_size": 64})
    return path


def cli(args: list, weights: Path, kill_at: str | None = None) -> list[str]:
    head = ["-m", "tests.killpoints", kill_at, "--"] if kill_at else ["-m", "vidcolor"]
    return [sys.executable, *head, *map(str, args), "--weights", str(weights), "--device", "cpu", "-q"]


def leftovers(out: Path) -> list[str]:
    """Anything beside the output and the journal: partial outputs, work folders, segments, state files."""
    root = out.parent
    allowed = {out, root / ".vidcolor", root / ".vidcolor" / "journal.jsonl", root / ".vidcolor" / "lock"}
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p not in allowed)


def stage_on_disk(out: Path) -> str:
    """Where the killed run was, as its files show it."""
    state = out.parent / ".vidcolor"
    meta = state / f"{out.name}.work" / "segments.json"
    journal = state / "journal.jsonl"
    if out.exists():
        done = journal.exists() and any(json.loads(line).get("status") == "done" and json.loads(line)["target"] == str(out)
                                        for line in journal.read_text().splitlines() if line.strip())
        return "finished" if not meta.parent.exists() else ("journaled, work folder left" if done else "renamed, not journaled")
    if list(out.parent.glob(".*vidcolor-partial-*")):
        return "joining"
    if meta.exists():
        m = json.loads(meta.read_text())
        return f"encoding, {len(m['segments'])} segments done" + (", all frames in" if m["complete"] else "")
    if meta.parent.exists():
        return "encoding the first segment"
    return "starting (nothing written)"


def trial(src: Path, ref: Path, out: Path, weights: Path, args: list, kills: list) -> dict:
    """kills: seconds after the start (from outside) or a kill point name; then a resume to the end."""
    seen = []
    for k in kills:
        if isinstance(k, str):
            r = subprocess.run(cli([src, "-o", out, *args], weights, k), capture_output=True, cwd=ROOT)
            seen.append({"kill": k, "returncode": r.returncode, "stage": stage_on_disk(out)})
        else:
            p = subprocess.Popen(cli([src, "-o", out, *args], weights), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                 cwd=ROOT)
            time.sleep(k)
            p.kill()
            rc = p.wait()
            seen.append({"kill": f"{k:.2f} s", "returncode": rc, "stage": stage_on_disk(out)})
    t0 = time.time()
    final = subprocess.run(cli([src, "-o", out, *args], weights), capture_output=True, text=True, cwd=ROOT)
    problems = [] if final.returncode == 0 else [f"resume exited {final.returncode}: {final.stderr.strip()[-300:]}"]
    if out.exists():
        problems += video_differences(out, ref)
    else:
        problems.append("no output")
    problems += [f"left over: {x}" for x in leftovers(out)]
    return {"kills": seen, "resume_s": round(time.time() - t0, 2), "problems": problems}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kills", type=int, default=25, help="random moments (each a trial), besides one kill per stage")
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--size", default="160x120")
    ap.add_argument("--segment-seconds", type=float, default=1.0)
    ap.add_argument("--double", type=float, default=0.3, help="share of trials whose resume is killed too")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    w, h = map(int, a.size.split("x"))
    rng = random.Random(a.seed)
    with tempfile.TemporaryDirectory(prefix="vidcolor-kill-") as tmp:
        tmp = Path(tmp)
        weights = untrained_weights(tmp)
        src = write_video(tmp / "film.mp4", w=w, h=h, frames=a.frames, audio="aac")
        args = ["--segment-seconds", a.segment_seconds]
        ref = tmp / "ref" / "film.mp4"
        t0 = time.time()
        subprocess.run(cli([src, "-o", ref, *args], weights), check=True, cwd=ROOT)
        full = time.time() - t0
        print(f"clip {w}x{h}, {a.frames} frames, AAC audio, segments of {a.segment_seconds} s; "
              f"an uninterrupted run takes {full:.1f} s")
        join_packets = count_packets(ref)

        def random_moment() -> float | str:
            if rng.random() < 0.5:
                return rng.uniform(0, full)
            n = rng.randint(1, a.frames + join_packets)  # a frame to encode, or a packet of the join
            return f"segment-mux:{n}" if n <= a.frames else f"output-mux:{n - a.frames}"

        plans = [[random_moment()] for _ in range(a.kills)] + [[s] for s in STAGES]
        for p in plans:
            if rng.random() < a.double:  # the resume is killed as well, at a random moment
                p.append(rng.uniform(0, full))
        results = []
        for i, kills in enumerate(plans):
            out = tmp / f"t{i:02d}" / "film.mp4"
            r = trial(src, ref, out, weights, args, kills)
            results.append(r)
            shutil.rmtree(out.parent, ignore_errors=True)
            where = "; then ".join(f"{k['kill']} ({k['stage']})" for k in r["kills"])
            print(f"{i + 1:3d}  killed at {where}  -> resume {r['resume_s']:.1f} s: "
                  + ("OK" if not r["problems"] else "PROBLEMS: " + "; ".join(r["problems"])))
    bad = [r for r in results if r["problems"]]
    n_kills = sum(len(r["kills"]) for r in results)
    print(f"{len(results)} trials, {n_kills} kills, {len(results) - len(bad)} resumed to a complete output "
          f"({a.frames} frames, frame times, duration and audio as the uninterrupted run), {len(bad)} with problems")
    if a.json:
        a.json.write_text(json.dumps({"full_run_s": full, "trials": results}, indent=1))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
