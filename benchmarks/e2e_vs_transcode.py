"""The CPU target as a user times it: whole-process wall time of `vidcolor CLIP -o OUT` (start-up,
model load, decode, network, smoothing, encode, exit) against an in-process PyAV transcode of the same
clip with the same encoder settings (the encoder, options and pixel format vidcolor's own output plan
picks: libx264, CRF 18, preset medium, yuv420p for an MP4), the two interleaved round by round so that a shared machine's drift falls on both. Prints the median times and the ratio
transcode / vidcolor (issue 16's target: at least 0.5) and, with --json, writes every run.

    python benchmarks/e2e_vs_transcode.py ../shared/data/video/cockatoo.mp4 --json e2e_cockatoo.json
    python benchmarks/make_clip.py /tmp/gen720.mp4 && python benchmarks/e2e_vs_transcode.py /tmp/gen720.mp4

`--variant NAME=COMMAND` times other vidcolor commands in the same rounds (say, an older checkout:
`--variant old="env -C /tmp/old python -m vidcolor"`, /tmp/old holding that checkout's `vidcolor/` and
`weights/`: PYTHONPATH does not beat an editable install, the working directory of `-m` does), each
against the same transcodes. Paths are made absolute, so a variant may change its directory.
`--null-network` adds the variant `null`: the same pipeline with a network that costs almost nothing
(the registry's `cunet` at base width 4, untrained, its head at the shipped network's quarter
resolution), so the ratio the pipeline alone allows is measured beside the real one.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av

from vidcolor.io.plan import OutputPlan, plan_output

TARGET = 0.5  # issue 16: transcode time / vidcolor time


def transcode(src: Path, dst: Path, plan: OutputPlan) -> int:
    """Decode and re-encode the first video stream with the encoder, options and pixel format vidcolor
    plans for this output, as PyAV's own examples do; returns the frame count."""
    with av.open(str(src)) as inp, av.open(str(dst), "w") as out:
        ist = inp.streams.video[0]
        ist.thread_type = "AUTO"
        ost = out.add_stream(plan.encoder, rate=ist.average_rate or ist.guessed_rate)
        ost.width, ost.height = ist.codec_context.width, ist.codec_context.height
        ost.pix_fmt = plan.pix_fmt
        ost.options = dict(plan.options)
        ost.time_base = ost.codec_context.time_base = plan.time_base or ist.time_base  # timestamps kept, as vidcolor does
        n = 0
        for frame in inp.decode(ist):
            out.mux(ost.encode(frame))
            n += 1
        out.mux(ost.encode(None))
    return n


def probe_video(path: Path) -> dict:
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        return {"codec": s.codec_context.name, "pix_fmt": s.codec_context.pix_fmt, "frames": s.frames,
                "size": [s.codec_context.width, s.codec_context.height]}


def default_vidcolor() -> list[str]:
    """The `vidcolor` console script of this interpreter's environment (as a user runs it)."""
    script = Path(sys.executable).with_name("vidcolor")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "vidcolor"]


def cpu_seconds(who: int) -> float:
    r = resource.getrusage(who)
    return r.ru_utime + r.ru_stime


def run_vidcolor(cmd: list[str], clip: Path, work: Path, extra: list[str]) -> tuple[float, float, dict]:
    """Wall time and CPU time of one whole `vidcolor CLIP -o OUT` process, into a fresh folder (so
    nothing is skipped as already done)."""
    out_dir = Path(tempfile.mkdtemp(prefix="run-", dir=work))
    out = out_dir / "out.mp4"
    c0, t0 = cpu_seconds(resource.RUSAGE_CHILDREN), time.perf_counter()
    r = subprocess.run([*cmd, str(clip), "-o", str(out), "-q", *extra], capture_output=True, text=True)
    seconds, cpu = time.perf_counter() - t0, cpu_seconds(resource.RUSAGE_CHILDREN) - c0
    if r.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed on {clip} (exit {r.returncode}): {r.stderr.strip()[-400:]}")
    info = probe_video(out)
    shutil.rmtree(out_dir)
    return seconds, cpu, info


def run_transcode(clip: Path, work: Path, plan: OutputPlan) -> tuple[float, float, dict]:
    out = work / "transcode.mp4"
    c0, t0 = cpu_seconds(resource.RUSAGE_SELF), time.perf_counter()
    frames = transcode(clip, out, plan)
    seconds, cpu = time.perf_counter() - t0, cpu_seconds(resource.RUSAGE_SELF) - c0
    info = {**probe_video(out), "frames_encoded": frames}
    out.unlink()
    return seconds, cpu, info


def measure(clip: Path, variants: dict[str, list[str]], rounds: int, plan: OutputPlan, extra: list[str],
            log=print) -> dict:
    """`rounds` rounds; in each, the transcode and every variant once, the order alternating."""
    times: dict[str, list[float]] = {"transcode": [], **{v: [] for v in variants}}
    cpu: dict[str, list[float]] = {k: [] for k in times}  # CPU seconds: the work done, less sensitive to load than wall time
    outputs: dict[str, dict] = {}
    loads = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory(prefix="e2e-vs-transcode-") as tmp:
        work = Path(tmp)
        names = ["transcode", *variants]
        for r in range(rounds):
            for name in names if r % 2 == 0 else names[::-1]:
                if name == "transcode":
                    sec, c, info = run_transcode(clip, work, plan)
                else:
                    sec, c, info = run_vidcolor(variants[name], clip, work, extra)
                times[name].append(sec)
                cpu[name].append(c)
                outputs[name] = info
                log(f"round {r + 1}: {name:>10} {sec:7.2f} s wall, {c:7.2f} s CPU  (load {os.getloadavg()[0]:.2f})")
            loads.append(os.getloadavg()[0])
    med = {k: statistics.median(v) for k, v in times.items()}
    res = {"clip": str(clip), "rounds": rounds, "encoder": {"encoder": plan.encoder, "pix_fmt": plan.pix_fmt, **plan.options},
           "vidcolor_args": extra, "variants": {k: shlex.join(v) for k, v in variants.items()},
           "seconds": times, "median_s": med, "cpu_seconds": cpu,
           "median_cpu_s": {k: statistics.median(v) for k, v in cpu.items()}, "outputs": outputs,
           "ratio": {v: med["transcode"] / med[v] for v in variants},
           "load_1min": {"min": min(loads), "max": max(loads), "samples": loads},
           "cpu_count": os.cpu_count(), "date": time.strftime("%Y-%m-%d %H:%M")}
    for v in variants:  # the comparison is only fair when vidcolor wrote what the transcode wrote
        o, t = outputs[v], outputs["transcode"]
        if (o["codec"], o["pix_fmt"], o["size"]) != (t["codec"], t["pix_fmt"], t["size"]):
            raise SystemExit(f"{v}: wrote {o}, the transcode {t}: not the same encoding")
    return res


def null_network(folder: Path) -> Path:
    """A checkpoint of a network that costs almost nothing, for the pipeline's own floor: cunet at base
    width 4 with both heads at a quarter of the working resolution, as the shipped network's."""
    from vidcolor.models import create_model
    from vidcolor.models.checkpoint import save_checkpoint
    path = folder / "null-network.pt"
    save_checkpoint(create_model("cunet", head="both", base=4, out_stride=4).eval(), path, meta={"work_size": 192})
    return path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("clip", type=Path)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--crf", type=int, help="for both (default: vidcolor's)")
    p.add_argument("--preset", help="for both (default: vidcolor's)")
    p.add_argument("--variant", action="append", default=[], metavar="NAME=COMMAND",
                   help="another vidcolor command to time in the same rounds")
    p.add_argument("--vidcolor-args", default="", help="extra options for every vidcolor run, e.g. '--temporal off'")
    p.add_argument("--null-network", action="store_true",
                   help="also time the pipeline with a network that costs almost nothing (variant 'null')")
    p.add_argument("--json", type=Path, help="write every run's time here")
    a = p.parse_args()
    if not a.clip.is_file():
        raise SystemExit(f"{a.clip}: file not found")
    variants = {"vidcolor": default_vidcolor()}
    for spec in a.variant:
        name, sep, cmd = spec.partition("=")
        if not sep or not cmd or name in ("transcode", *variants):
            raise SystemExit(f"--variant {spec!r}: give NAME=COMMAND with a new name")
        variants[name] = shlex.split(cmd)
    if a.null_network:
        if "null" in variants:
            raise SystemExit("--null-network: a --variant is already named 'null'")
        keep = tempfile.TemporaryDirectory(prefix="e2e-null-")  # lives until main returns
        variants["null"] = [*default_vidcolor(), "--weights", str(null_network(Path(keep.name)))]
    extra = shlex.split(a.vidcolor_args) + (["--crf", str(a.crf)] if a.crf is not None else []) + (
        ["--preset", a.preset] if a.preset else [])
    a.clip = a.clip.resolve()  # a variant run from another directory (env -C) still finds it
    plan = plan_output(a.clip, Path(tempfile.gettempdir()) / "transcode.mp4", crf=a.crf, preset=a.preset)  # reads the header only
    res = measure(a.clip, variants, a.rounds, plan, extra)
    print(f"{a.clip.name}: transcode {res['median_s']['transcode']:.2f} s ({res['median_cpu_s']['transcode']:.1f} s CPU; "
          f"medians of {a.rounds}), "
          f"load {res['load_1min']['min']:.1f}-{res['load_1min']['max']:.1f} on {res['cpu_count']} cores")
    for v in variants:
        ok = "meets" if res["ratio"][v] >= TARGET else "misses"
        print(f"  {v:>10}: {res['median_s'][v]:.2f} s ({res['median_cpu_s'][v]:.1f} s CPU), transcode / {v} = "
              f"{res['ratio'][v]:.3f} ({ok} the {TARGET} target)")
    if a.json:
        a.json.write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
