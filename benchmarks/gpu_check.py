"""Everything the GPU path needs measured, in one run of under 8 minutes on a machine with a CUDA GPU
(run it through benchmarks/gpu_check.sh, from the repository root):

    bench       `vidcolor bench` on a generated 1080p clip: decode, transcode, model-only and end-to-end
                fps, their ratio, and peak GPU memory
    model       the network alone at 256x256, batch 64, under bf16 and under fp16 autocast
    train       training throughput in images/s for 60 s, with the real step (training.validate.make_step_fn
                driven by training.trainer.Trainer, bf16 autocast) on batches made in memory
    profile     where the main thread's wall time goes in an end-to-end run of the 1080p clip (cProfile:
                waiting on the decoder, the network, the smoother, the render, or the encoder's queue),
                the top functions in profile.txt
    gpu_vs_cpu  the same 1080p frames through the pipeline's own colorize_frames (network, flow
                smoothing, render) on the CPU in fp32, on the GPU in fp32 and under its autocast; the
                outputs' mean and 99th-percentile L, a, b differences
    tests       the test suite, whose `device`-parametrised tests also run on CUDA (those first)

It writes gpu_check.json (rewritten after every part, so a run cut short keeps what it measured) and
gpu_check.txt, a short summary. Each part has a time budget; the test suite gets what is left.
`--dry-run` does the same on the CPU at tiny sizes in seconds per part, so CI keeps the script working.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from vidcolor.bench import machine

ROOT = Path(__file__).resolve().parents[1]
TOTAL_BUDGET_S = 480  # issue 16: all of it in under 8 minutes
AB_TOLERANCE = 0.5  # mean |a| and |b| difference, GPU against CPU both in fp32, CIELAB units (a just noticeable difference is about 2.3)
PARTS = ("clip", "bench", "model", "train", "profile", "gpu_vs_cpu", "tests")
TARGETS = {"e2e_over_transcode": 0.9, "model_fps_256": 1000.0}  # issue 16, for an H100-class GPU


@dataclass
class Plan:
    """Sizes and budgets of one run; `dry()` is the tiny CPU version CI runs."""
    device: str = "cuda"
    clip_size: tuple[int, int] = (1920, 1080)
    clip_frames: int = 150
    model_size: int = 256
    model_batch: int = 64
    model_seconds: float = 8.0  # per precision
    precisions: tuple[str, ...] = ("bf16", "fp16")
    train_seconds: float = 60.0
    train_warmup_steps: int = 15
    train_batch: int = 64
    train_size: int = 192  # short side, as training/data.py's DataConfig; 4:3 batches
    compare_frames: int = 24
    tests: tuple[str, ...] = ()  # the whole suite
    test_budget_s: float = 240.0  # at most; less when the other parts ran long
    subprocess_budget_s: float = 180.0  # making the clip, and `vidcolor bench`, each
    dry_run: bool = False

    @classmethod
    def dry(cls) -> "Plan":
        # fp32 only: CPU autocast to fp16 has no fast kernels (measured: 30-45 s for one 64x64 forward here)
        return cls(device="cpu", clip_size=(160, 96), clip_frames=8, model_size=64, model_batch=2, model_seconds=0.5,
                   precisions=("fp32",), train_seconds=2.0, train_warmup_steps=5, train_batch=2, train_size=64, compare_frames=4,
                   tests=("tests/test_color.py", "tests/test_device_paths.py"), test_budget_s=120.0, dry_run=True)


def write_clip(plan: Plan, path: Path) -> Path:
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "make_clip.py"), str(path), "--size", "x".join(map(str, plan.clip_size)),
                    "--frames", str(plan.clip_frames)], check=True, capture_output=True, text=True, timeout=plan.subprocess_budget_s)
    return path


def part_bench(plan: Plan, clip: Path, out_dir: Path) -> dict:
    """`vidcolor bench` as a user runs it, in its own process."""
    json_path = out_dir / "bench.json"
    cmd = [sys.executable, "-m", "vidcolor", "bench", str(clip), "--device", plan.device, "--json", str(json_path)]
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=plan.subprocess_budget_s)
    if r.returncode:
        raise RuntimeError(f"vidcolor bench exited {r.returncode}: {r.stderr.strip()[-500:]}")
    res = json.loads(json_path.read_text())
    phases = {k: {"fps": v["fps"], "peak_rss_mb": v["peak_rss_mb"], "peak_gpu_mb": v["peak_gpu_mb"], "note": v["note"],
                  "thread_cpu_s": v.get("thread_cpu_s")}
              for k, v in res["phases"].items()}
    return {"command": " ".join(cmd[1:]), "clip": {"size": res["size"], "frames": res["frames"]}, "phases": phases,
            "e2e_over_transcode": res.get("e2e_over_transcode"), "working_size": res["working_size"]}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)  # note: a CPU-GPU sync point, so the clock sees finished work


@torch.inference_mode()
def model_fps(model, device: torch.device, size: int, batch: int, dtype: torch.dtype | None, seconds: float,
              memory_format: torch.memory_format = torch.contiguous_format) -> dict:
    """Images per second of the network alone (forward and decoding of its head) on random L."""
    x = torch.rand(batch, 1, size, size, device=device).contiguous(memory_format=memory_format)
    amp = torch.autocast(device.type, dtype=dtype) if dtype is not None else torch.autocast(device.type, enabled=False)
    with amp:
        for _ in range(5):  # warm-up: kernel selection, allocator
            model.predict_ab(x)
        _sync(device)
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        n, t0 = 0, time.perf_counter()
        while n < 5 * batch or time.perf_counter() - t0 < seconds:
            for _ in range(5):
                model.predict_ab(x)
            n += 5 * batch
            _sync(device)
        dt = time.perf_counter() - t0
    gpu_mb = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None
    return {"fps": n / dt, "images": n, "seconds": dt, "peak_gpu_mb": gpu_mb}


def part_model(plan: Plan) -> dict:
    from vidcolor.weights import load_colorizer

    device = torch.device(plan.device)
    col = load_colorizer(device=plan.device)  # shipped weights, BN folded, the layout inference uses (NCHW on a GPU)
    dtypes = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": None}
    res = {"input": [plan.model_batch, 1, plan.model_size, plan.model_size], "model": col.model_id, "fps": {}}
    for name in plan.precisions:
        res["fps"][name] = model_fps(col.model, device, plan.model_size, plan.model_batch, dtypes[name], plan.model_seconds,
                                     col.memory_format)
    return res


def part_train(plan: Plan, out_dir: Path) -> dict:
    """The real training step (loss, backward, clipping, AdamW, bf16 autocast on CUDA) in training's
    Trainer: a short run to warm up and calibrate, then one of about `train_seconds`."""
    from training.data import TrainBatch, batch_shape
    from training.losses import rebalance_weights
    from training.trainer import Trainer, TrainConfig
    from training.validate import make_step_fn
    from vidcolor.models import create_model

    device = torch.device(plan.device)
    h, w = batch_shape(plan.train_size, 4 / 3)
    gen = torch.Generator().manual_seed(0)
    # Made in memory: this measures the step, not JPEG decoding (training/data.py's loader runs on the CPU)
    batches = [TrainBatch(torch.rand(plan.train_batch, 3, h, w, generator=gen)) for _ in range(4)]

    def run(steps: int, folder: Path) -> list[tuple[int, float]]:
        """(step, clock) at every log line the Trainer prints."""
        torch.manual_seed(0)
        model = create_model("effnet_unet", head="both")
        q = model.head.bins.shape[0]
        weights = rebalance_weights(torch.full((q,), 1.0 / q), model.head.bins)
        cfg = TrainConfig(steps=steps, batch_size=plan.train_batch, warmup=10, log_every=max(1, steps // 30),
                          ckpt_every=10**9, val_every=10**9)
        marks: list[tuple[int, float]] = []

        def log(line: str) -> None:
            if m := re.match(r"step=(\d+)", line):
                marks.append((int(m.group(1)), time.perf_counter()))

        Trainer(model, make_step_fn(weights, model, device, 1.0), lambda s: batches[s % len(batches)], cfg, folder, device,
                log=log).run()
        return marks

    def rate(marks: list[tuple[int, float]]) -> tuple[float, int, float]:
        (s0, t0), (s1, t1) = marks[len(marks) // 5], marks[-1]  # the first fifth is warm-up
        return (s1 - s0) * plan.train_batch / max(t1 - t0, 1e-9), (s1 - s0) * plan.train_batch, t1 - t0

    t0 = time.perf_counter()
    first, _, _ = rate(run(plan.train_warmup_steps, out_dir / "train_warmup"))  # kernel selection, allocator warm-up, a first rate
    warm_s = time.perf_counter() - t0
    steps = max(plan.train_warmup_steps, int(plan.train_seconds * first / plan.train_batch))
    images_per_s, images, seconds = rate(run(steps, out_dir / "train"))
    return {"images_per_s": images_per_s, "images": images, "window_s": seconds, "steps": steps, "batch": plan.train_batch,
            "shape": [h, w], "warmup_run_s": warm_s, "precision": "bf16 autocast" if device.type == "cuda" else "fp32",
            "peak_gpu_mb": torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None}


def part_profile(plan: Plan, clip: Path, work: Path, out_dir: Path) -> dict:
    """The pipeline end to end on the clip under cProfile (wall clock, main thread): what the main thread
    waits on, and each batch's prepare_frames time (the main thread's part of a batch: its render runs on
    the encoder's thread; the first one pays for new shapes: in the H200 run
    the training step's first 15 steps on one shape took 27 s where the steady rate does 20 a second). On CUDA the waits show at the synchronising calls (.cpu(), numpy()); `submit` is the
    encoder's queue being full, `__next__` of the frame prefetch the decoder being behind."""
    import cProfile
    import io
    import pstats

    from vidcolor.options import VideoOptions
    from vidcolor.pipeline import colorize_video
    from vidcolor.weights import load_colorizer

    import vidcolor.pipeline as pipeline

    col = load_colorizer(device=plan.device)
    device = torch.device(plan.device)
    batch_s: list[float] = []  # each prepare_frames call, synchronised: the first carries the new shapes' first kernels
    inner = pipeline.prepare_frames

    def timed(*args, **kwargs):
        t = time.perf_counter()
        out = inner(*args, **kwargs)
        _sync(device)
        batch_s.append(time.perf_counter() - t)
        return out

    prof = cProfile.Profile()
    pipeline.prepare_frames = timed
    t0 = time.perf_counter()
    try:
        prof.enable()
        res = colorize_video(clip, work / "profile.mp4", col, VideoOptions(overwrite=True))
        prof.disable()
    finally:
        pipeline.prepare_frames = inner
    wall = time.perf_counter() - t0
    text = io.StringIO()
    stats = pstats.Stats(prof, stream=text)
    stats.sort_stats("cumulative").print_stats(45)
    (out_dir / "profile.txt").write_text(f"{res.frames} frames in {wall:.2f} s ({res.frames / wall:.1f} fps)\n" + text.getvalue())
    waits = {}
    for (file, _, fn), (_, _, _, cum, _) in stats.stats.items():
        for name, (suffix, func) in {"encoder queue full (submit)": ("prefetch.py", "submit"),
                                     "decoder behind (frames ahead)": ("prefetch.py", "__next__"),
                                     "prepare_frames": ("pipeline.py", "prepare_frames"),
                                     "network": ("colorizer.py", "predict_ab_small"),
                                     "smoother": ("temporal.py", "__call__")}.items():
            if file.endswith(suffix) and fn == func:
                waits[name] = round(waits.get(name, 0.0) + cum, 3)
    rest = sorted(batch_s[1:]) or [float("nan")]
    return {"frames": res.frames, "wall_s": wall, "fps": res.frames / wall, "main_thread_cumulative_s": waits,
            "batches": len(batch_s), "first_batch_s": batch_s[0] if batch_s else None, "median_batch_s": rest[len(rest) // 2],
            "top": str(out_dir / "profile.txt")}


def colorize_clip_frames(col, frames) -> np.ndarray:
    """The pipeline's per-batch path (network, flow smoothing with scene cuts, render) over the frames."""
    from vidcolor.pipeline import batched, colorize_frames
    from vidcolor.temporal import SceneCuts, make_smoother

    smoother, cuts = make_smoother("flow"), SceneCuts(25.0)
    return np.concatenate([colorize_frames(col, b, smoother, cuts) for b in batched(frames, 4)])


def lab_difference(x: np.ndarray, y: np.ndarray) -> dict:
    """Mean and 99th-percentile |L|, |a|, |b| differences of two (N, H, W, 3) uint8 RGB stacks."""
    from vidcolor.color import rgb_to_lab

    diffs = []
    for a, b in zip(x, y):
        la, lb = (rgb_to_lab(torch.from_numpy(v).permute(2, 0, 1)[None].float() / 255)[0] for v in (a, b))
        diffs.append((la - lb).abs().reshape(3, -1))
    d = torch.cat(diffs, dim=1)
    return {f"{k}_{c}": float(f(d[i])) for i, c in enumerate("Lab") for k, f in
            (("mean", torch.mean), ("p99", lambda v: torch.quantile(v[:: max(1, v.numel() // 1_000_000)], 0.99)))}


def part_gpu_vs_cpu(plan: Plan, clip: Path) -> dict:
    """The same frames through colorize_frames on the CPU in fp32 (the reference), on the device in
    fp32 (same maths, other kernels: AB_TOLERANCE applies) and on the device under its autocast (bf16
    moves a/b by about 1 CIELAB unit on average, measured on the CPU: reported beside it)."""
    from vidcolor.io.video import VideoSource
    from vidcolor.weights import load_colorizer

    with VideoSource(clip) as src:
        frames = [f for _, f in zip(range(plan.compare_frames), src.frames())]
    runs = {"cpu_fp32": ("cpu", False), f"{plan.device}_fp32": (plan.device, False), f"{plan.device}_autocast": (plan.device, True)}
    outs, secs, precision = {}, {}, {}
    for name, (dev, amp) in runs.items():  # on a CPU-only dry run the two cpu_fp32 entries are one
        col = load_colorizer(device=dev)
        if not amp:
            col.amp_dtype = None
        precision[name] = str(col.amp_dtype or "fp32").replace("torch.", "")
        t0 = time.perf_counter()
        outs[name] = colorize_clip_frames(col, frames)
        secs[name] = time.perf_counter() - t0
    ref = outs["cpu_fp32"]
    diffs = {name: lab_difference(ref, out) for name, out in outs.items() if name != "cpu_fp32"}
    same = diffs.get(f"{plan.device}_fp32", lab_difference(ref, ref))
    return {"frames": len(frames), "size": list(frames[0].rgb.shape[1::-1]), "seconds": secs, "precision": precision,
            "against_cpu_fp32": diffs, "tolerance_mean_ab": AB_TOLERANCE,
            "within_tolerance": max(same["mean_a"], same["mean_b"]) <= AB_TOLERANCE}


CUDA_ID = re.compile(r"[\[-]cuda[\]-]|cuda")  # a `device`-parametrised test's CUDA id, or a CUDA-only test


def _xdist_args(dry_run: bool) -> list[str]:
    """Spread the suite over the machine's cores where pytest-xdist is installed (a GPU machine has 16)."""
    import importlib.util

    if dry_run or importlib.util.find_spec("xdist") is None or (os.cpu_count() or 1) < 4:
        return []
    return ["-n", str(min(12, (os.cpu_count() or 4) - 2))]


def run_pytest(select: list[str], junit: Path, budget_s: float, parallel: list[str] = ()) -> dict:
    """pytest in its own process with a time limit; counts from its JUnit XML."""
    # -v names each test as it ends, so the failures of a run cut by its time limit are still known
    # (the GPU machine's suite ran out of time at about 90% with 3 failures that nothing named)
    cmd = [sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider", f"--junitxml={junit}", *parallel, *select]
    env = {**os.environ, "OMP_NUM_THREADS": "1"} if parallel else None  # many workers: one torch thread each
    # its own process group, so that a timeout ends xdist's workers with it
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env,
                            start_new_session=True)
    try:
        stdout, _ = proc.communicate(timeout=budget_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        stdout, _ = proc.communicate()
        lines = (stdout or "").splitlines()
        return {"command": " ".join(cmd[1:]), "timed_out_after_s": budget_s, "output_tail": "\n".join(lines[-5:])[-800:],
                "passed": sum(" PASSED" in ln for ln in lines),
                "failed": sorted({m.group(0) for ln in lines if " FAILED" in ln or " ERROR" in ln
                                  for m in [re.search(r"\S+\.py::\S+", ln)] if m})}
    r = subprocess.CompletedProcess(cmd, proc.returncode, stdout, "")
    outcome: dict[str, str] = {}
    if junit.is_file():  # pytest writes none when nothing was collected
        for c in ET.parse(junit).getroot().iter("testcase"):
            kind = next((ch.tag for ch in c if ch.tag in ("failure", "error", "skipped")), "passed")
            outcome[f"{c.get('classname')}::{c.get('name')}"] = kind
    count = lambda pred: sum(1 for k, v in outcome.items() if pred(k, v))  # noqa: E731
    return {"command": " ".join(cmd[1:]), "exit_code": r.returncode, "summary": r.stdout.strip().splitlines()[-1:],
            **{k: count(lambda _, v, k=k: v == k) for k in ("passed", "failure", "error", "skipped")},
            "cuda_passed": count(lambda n, v: bool(CUDA_ID.search(n)) and v == "passed"),
            "cuda_not_passed": sorted(n for n, v in outcome.items() if CUDA_ID.search(n) and v != "passed"),
            "failed": sorted(n for n, v in outcome.items() if v in ("failure", "error"))}


def part_tests(plan: Plan, out_dir: Path, budget_s: float) -> dict:
    """The CUDA variants first (seconds), so they are reported even if the rest of the suite runs out of time."""
    t0 = time.perf_counter()
    cuda = run_pytest([*plan.tests, "-k", "cuda"], out_dir / "junit_cuda.xml", budget_s)
    rest = run_pytest([*plan.tests, "-k", "not cuda"], out_dir / "junit_rest.xml", max(10.0, budget_s - (time.perf_counter() - t0)),
                      _xdist_args(plan.dry_run))
    return {"cuda_variants": cuda, "rest": rest}


def summary_lines(res: dict) -> list[str]:
    p = res["parts"]
    lines = [f"gpu_check{' --dry-run' if res['dry_run'] else ''} on {res['machine'].get('gpu', res['machine']['cpu'])} "
             f"({res['device']}), {res['date']}, {res['total_s']:.0f} s of {res['budget_s']:.0f}"]

    def line(name: str, text) -> None:
        part = p.get(name, {})
        if part.get("status") != "ok":
            lines.append(f"{name}: {part.get('status', 'not run')} {part.get('error', '')}".rstrip())
        else:
            lines.append(f"{name} ({part['elapsed_s']:.0f} s): {text(part)}")

    def bench(b):
        ph = b["phases"]
        gpu = max((v["peak_gpu_mb"] or 0) for v in ph.values())
        return (f"{b['clip']['size'][0]}x{b['clip']['size'][1]}: " + ", ".join(f"{k} {v['fps']:.1f} fps" for k, v in ph.items())
                + f"; e2e / transcode {b['e2e_over_transcode']:.2f} (target >= {TARGETS['e2e_over_transcode']}); peak GPU {gpu:.0f} MB"
                + "".join(f"; {k} CPU s by thread: " + ", ".join(f"{t} {c:.1f}" for t, c in list(v["thread_cpu_s"].items())[:5])
                          for k, v in ph.items() if k in ("transcode", "e2e") and v.get("thread_cpu_s")))

    line("bench", bench)
    line("model", lambda m: f"{m['input'][2]}x{m['input'][3]} batch {m['input'][0]}: "
         + ", ".join(f"{k} {v['fps']:.0f}" for k, v in m["fps"].items())
         + f" images/s (target >= {TARGETS['model_fps_256']:.0f} on an H100-class GPU)")
    line("train", lambda t: f"{t['images_per_s']:.0f} images/s (batch {t['batch']}, {t['shape'][0]}x{t['shape'][1]}, "
         f"{t['precision']}, measured over {t['window_s']:.0f} s)")

    def compare(c):
        parts = [f"{c['frames']} frames {c['size'][0]}x{c['size'][1]} against the CPU in fp32:"]
        for name, d in c["against_cpu_fp32"].items():
            parts.append(f"{name} ({c['precision'][name]}) mean |da| {d['mean_a']:.2f}, |db| {d['mean_b']:.2f}, |dL| {d['mean_L']:.2f}, "
                         f"p99 |da| {d['p99_a']:.1f}, |db| {d['p99_b']:.1f};")
        return " ".join(parts) + f" fp32 tolerance {AB_TOLERANCE}: " + ("within" if c["within_tolerance"] else "OUTSIDE")

    line("profile", lambda f: f"end to end {f['fps']:.1f} fps; prepare_frames: first batch {f['first_batch_s']:.2f} s, "
         f"median of the rest {f['median_batch_s']:.3f} s ({f['batches']} batches); main thread (cumulative s): "
         + ", ".join(f"{k} {v:.1f}" for k, v in f["main_thread_cumulative_s"].items()))
    line("gpu_vs_cpu", compare)
    def tests(t):
        def one(name, r):
            if "timed_out_after_s" in r:
                failed = f": {', '.join(r['failed'][:5])}" if r.get("failed") else ""
                return (f"{name} timed out after {r['timed_out_after_s']:.0f} s with {r.get('passed', 0)} passed, "
                        f"{len(r.get('failed', []))} failed{failed}")
            failed = f" ({', '.join(r['failed'][:5])})" if r["failed"] else ""
            return f"{name}: {r['passed']} passed, {r['failure'] + r['error']} failed{failed}, {r['skipped']} skipped"
        return f"{one('CUDA variants', t['cuda_variants'])}; {one('the rest', t['rest'])}"

    line("tests", tests)
    return lines


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dry-run", action="store_true", help="CPU, tiny sizes, seconds per part (what CI runs)")
    p.add_argument("--out", type=Path, default=Path("gpu_check"), help="folder for gpu_check.json and gpu_check.txt")
    p.add_argument("--budget", type=float, default=TOTAL_BUDGET_S, help="seconds for all of it; the test suite gets what is left")
    p.add_argument("--clip", type=Path, help="an existing clip to use instead of generating one (skips the clip part)")
    p.add_argument("--skip", action="append", default=[], choices=PARTS, metavar="PART",
                   help=f"leave a part out (repeatable): {', '.join(PARTS)}; say, a part already measured on this GPU")
    a = p.parse_args()
    plan = Plan.dry() if a.dry_run else Plan()
    if not a.dry_run and not torch.cuda.is_available():
        print("gpu_check: no CUDA device here; on a machine without one run it with --dry-run", file=sys.stderr)
        return 2
    if a.dry_run:
        torch.set_num_threads(1)  # tiny sizes gain nothing from more, and a busy CI machine makes OpenMP barriers crawl
    a.out.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    res = {"dry_run": plan.dry_run, "device": plan.device, "plan": asdict(plan), "machine": machine(),
           "date": time.strftime("%Y-%m-%d %H:%M"), "budget_s": a.budget, "targets": TARGETS, "parts": {}}

    def save() -> None:
        res["total_s"] = time.perf_counter() - t_start
        tmp = a.out / "gpu_check.json.tmp"
        tmp.write_text(json.dumps(res, indent=1))
        os.replace(tmp, a.out / "gpu_check.json")

    def run_part(name: str, fn) -> None:
        if name in a.skip:
            res["parts"][name] = {"status": "skipped"}
            return
        print(f"[{time.perf_counter() - t_start:5.0f} s] {name} ...", flush=True)
        t0 = time.perf_counter()
        try:
            out = {"status": "ok", **fn()}
        except Exception as e:  # a broken part is reported (JSON, summary, exit code) and the others still run
            out = {"status": "failed", "error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc()[-2000:]}
        out["elapsed_s"] = time.perf_counter() - t0
        res["parts"][name] = out
        print(f"[{time.perf_counter() - t_start:5.0f} s] {name}: {out['status']} in {out['elapsed_s']:.0f} s", flush=True)
        save()

    with tempfile.TemporaryDirectory(prefix="gpu-check-") as tmp:
        work = Path(tmp)
        clip = a.clip or work / f"clip{plan.clip_size[1]}p.mp4"
        if a.clip:
            a.skip.append("clip")
        run_part("clip", lambda: {"path": str(write_clip(plan, clip)), "size": list(plan.clip_size), "frames": plan.clip_frames})
        run_part("bench", lambda: part_bench(plan, clip, work))
        run_part("model", lambda: part_model(plan))
        run_part("train", lambda: part_train(plan, work))
        run_part("profile", lambda: part_profile(plan, clip, work, a.out))
        run_part("gpu_vs_cpu", lambda: part_gpu_vs_cpu(plan, clip))
        left = a.budget - (time.perf_counter() - t_start) - 30  # 30 s kept for the summary and a margin
        run_part("tests", lambda: part_tests(plan, a.out, max(30.0, min(plan.test_budget_s, left))))
    save()
    text = "\n".join(summary_lines(res)) + "\n"
    (a.out / "gpu_check.txt").write_text(text)
    print(text, end="")
    return 0 if all(v["status"] in ("ok", "skipped") for v in res["parts"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
