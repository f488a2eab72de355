"""`vidcolor bench CLIP`: where the time goes, measured on one clip in one run.

    decode      decode to RGB, nothing else
    transcode   decode, then encode with the same encoder settings as a real run, no model
    model       the network alone at the clip's working resolution (random L, stated batch and precision)
    end-to-end  the real `colorize_video` with the chosen model and temporal mode

Each phase reports fps and its own peak RSS (sampled from /proc, so phases do not hide each other);
on CUDA also the peak GPU memory. `startup` times fresh processes as a user meets them: `vidcolor
--help`, and from process start to the first colorized frame (interpreter, imports, the model loaded
in a background thread while the clip is opened and its first frames decode, as the front door does,
then one network pass). `--length-check 10` encodes the clip's first frames once and
10 times over and runs end-to-end on both, each in a fresh process, to show memory is flat in length.
"""
from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import av
import torch

from vidcolor.colorizer import Colorizer, working_size
from vidcolor.io.prefetch import BackgroundWorker
from vidcolor.io.plan import plan_output
from vidcolor.io.segments import SegmentEncoder
from vidcolor.io.video import VideoSource
from vidcolor.pipeline import VideoOptions, colorize_video


def current_rss() -> int:
    """Resident set size of this process in bytes (Linux /proc; elsewhere the peak so far)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        scale = 1 if sys.platform == "darwin" else 1024
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


class _Sampler:
    """A context manager that calls `_sample()` every `interval` seconds in its own thread while the
    block runs, after `_begin()`, and once more at the end, then `_end()`."""

    thread_name = "bench-sampler"

    def __init__(self, interval: float):
        self.interval = interval

    def _begin(self) -> None:
        pass

    def _sample(self) -> None:
        raise NotImplementedError

    def _end(self) -> None:
        pass

    def _watch(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def __enter__(self):
        self._begin()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True, name=self.thread_name)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()
        self._end()


class PeakRSS(_Sampler):
    """`with PeakRSS() as m: ...` then m.peak: the highest RSS seen, sampled every 5 ms in a thread."""

    thread_name = "bench-rss"

    def __init__(self, interval: float = 0.005):
        super().__init__(interval)
        self.peak = 0

    def _begin(self) -> None:
        self.peak = current_rss()

    def _sample(self) -> None:
        self.peak = max(self.peak, current_rss())


class ThreadCPU(_Sampler):
    """`with ThreadCPU() as t: ...` then t.seconds: CPU seconds per thread over the block, by name:
    "main", a Python thread's name ("encode", "decode"), or "NAME, native" summed over the threads a
    library started from thread NAME, which inherit its OS name: x264's are "encode, native" (the
    pipeline's threads name themselves at the OS level, io.prefetch), torch's OpenMP pool "main,
    native"; FFmpeg's decoder threads keep their own names. Tells which stage is the limit: one near
    the wall time is. Linux /proc, sampled every 50 ms: a thread that ends loses its last 50 ms, and one
    that lives less than 50 ms can be missed; under 0.05 s is left out; elsewhere empty."""

    thread_name = "bench-threads"

    def __init__(self, interval: float = 0.05):
        super().__init__(interval)
        self.seconds: dict[str, float] = {}
        self._ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

    def _read(self) -> dict[int, tuple[str, float]]:
        out = {}
        try:
            tids = os.listdir("/proc/self/task")
        except OSError:
            return out
        for tid in tids:
            try:
                with open(f"/proc/self/task/{tid}/stat", "rb") as f:
                    stat = f.read().decode("utf-8", errors="replace")  # a thread may name itself in any bytes
                comm, rest = stat[stat.index("(") + 1:stat.rindex(")")], stat[stat.rindex(")") + 2:].split()
                out[int(tid)] = (comm, (int(rest[11]) + int(rest[12])) / self._ticks)  # utime + stime
            except (OSError, ValueError, IndexError):
                continue  # ended meanwhile
        return out

    def _begin(self) -> None:
        self.seconds, self._last, self._names = {}, {}, {}
        self._at_start = {tid: cpu for tid, (_, cpu) in self._read().items()}

    def _sample(self) -> None:
        self._names.update({t.native_id: t.name for t in threading.enumerate() if t.native_id is not None})
        self._last.update(self._read())

    def _end(self) -> None:
        main, me = threading.main_thread().native_id, self._thread.native_id
        main_comm = self._last.get(main, ("",))[0]
        started_from = {**{n[:15]: n for n in self._names.values()}, main_comm: "main"}  # OS names hold 15 bytes
        for tid, (comm, cpu) in self._last.items():
            name = "main" if tid == main else self._names.get(tid) or (
                f"{started_from[comm]}, native" if comm in started_from else comm)  # else a name of its own (FFmpeg's)
            if tid == me or name.startswith("bench-"):
                continue  # the benchmark's own watchers
            self.seconds[name] = round(self.seconds.get(name, 0.0) + cpu - self._at_start.get(tid, 0.0), 2)
        self.seconds = dict(sorted(((k, v) for k, v in self.seconds.items() if v >= 0.05), key=lambda kv: -kv[1]))


@dataclass
class Phase:
    name: str
    frames: int
    seconds: float
    peak_rss_mb: float
    peak_gpu_mb: float | None = None
    note: str = ""
    thread_cpu_s: dict | None = None  # CPU seconds per thread (ThreadCPU)

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


def _measure(name: str, device: torch.device, fn) -> Phase:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    with PeakRSS() as mem, ThreadCPU() as threads:
        t0 = time.perf_counter()
        frames, note = fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        seconds = time.perf_counter() - t0
    gpu = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else None
    return Phase(name, frames, seconds, mem.peak / 2**20, gpu, note, threads.seconds)


def decode_only(clip: Path) -> tuple[int, str]:
    with VideoSource(clip) as src, src.frames_ahead(depth=8) as frames:
        n = sum(1 for _ in frames)
    return n, "PyAV decode to rgb24, threaded"


def transcode_only(clip: Path, opts: VideoOptions, workdir: Path) -> tuple[int, str]:
    """The pipeline's own decode thread and encoder (SegmentEncoder, same settings), no model."""
    plan = plan_output(clip, workdir / "transcode.mp4", opts.codec, opts.crf, opts.preset)
    with VideoSource(clip) as src:
        enc = SegmentEncoder(workdir / "transcode.mp4", src.info, plan)
        writer = BackgroundWorker(lambda f: enc.write(f.rgb, f.pts), depth=2 * opts.batch_size, name="encode")
        n = 0
        try:
            with src.frames_ahead(depth=2 * opts.batch_size) as frames:
                for f in frames:
                    writer.submit(f)
                    n += 1
            writer.close()
        except BaseException:
            writer.close_quietly()
            enc.abort()
            raise
        enc.finish()
    return n, f"{plan.encoder} {' '.join(f'{k} {v}' for k, v in plan.options.items())}"


@torch.inference_mode()
def model_only(colorizer: Colorizer, height: int, width: int, batch_size: int, seconds: float = 5.0) -> tuple[int, str]:
    """The network on random L at the working resolution of a height x width frame: warm up, then time."""
    l_full = torch.rand(batch_size, 1, height, width, device=colorizer.device) * 100
    x = colorizer.network_input(l_full)
    for _ in range(3):
        with colorizer._autocast():
            colorizer.model.predict_ab(x)
    if colorizer.device.type == "cuda":
        torch.cuda.synchronize(colorizer.device)
    n, t0 = 0, time.perf_counter()
    while n < 10 * batch_size or time.perf_counter() - t0 < seconds:
        with colorizer._autocast():
            colorizer.model.predict_ab(x)
        n += batch_size
        if colorizer.device.type == "cuda" and n % (20 * batch_size) == 0:
            torch.cuda.synchronize(colorizer.device)
    precision = str(colorizer.amp_dtype).replace("torch.", "") if colorizer.amp_dtype else "fp32"
    return n, f"{tuple(x.shape[-2:])} input, batch {batch_size}, {precision}"


def end_to_end(clip: Path, dst: Path, colorizer: Colorizer, opts: VideoOptions) -> tuple[int, str]:
    res = colorize_video(clip, dst, colorizer, opts)
    return res.frames, f"temporal {opts.temporal}, batch {opts.batch_size}, {colorizer.upsampler.name} upsampling"


def startup(clip: Path, weights_args: dict, runs: int = 3) -> dict:
    """Median wall seconds of fresh processes: `vidcolor --help`, and process start to first colorized frame."""
    import statistics

    def wall(cmd: list[str]) -> tuple[float, str]:
        t0 = time.perf_counter()
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode:
            raise RuntimeError(f"{' '.join(cmd[:4])} failed: {r.stderr.strip().splitlines()[-1:]}")
        return time.perf_counter() - t0, r.stdout

    helps = [wall([sys.executable, "-m", "vidcolor", "--help"])[0] for _ in range(runs)]
    firsts, parts = [], []
    for _ in range(runs):
        t0 = time.time()
        _, out = wall([sys.executable, "-c", _FIRST_FRAME, str(clip), json.dumps(weights_args)])
        child = json.loads(out.strip().splitlines()[-1])
        firsts.append(child["first_frame_at"] - t0)
        parts.append(child)
    return {"help_s": statistics.median(helps), "first_frame_s": statistics.median(firsts), "runs": runs,
            "model_ready_s": statistics.median(p["model_ready_at"] - p["main_at"] for p in parts),
            "first_decoded_s": statistics.median(p["first_decoded_at"] - p["main_at"] for p in parts)}


# The fresh process of `startup`, run with `python -c` so that nothing heavy is imported before its
# first stamp: it does what the front door does (vidcolor.api.colorize) up to the first colorized frame.
_FIRST_FRAME = """
import json, sys, time
main_at = time.time()
from vidcolor.api import _in_background, _load
from vidcolor.io.video import VideoSource
col = _in_background(_load, **json.loads(sys.argv[2]))
with VideoSource(sys.argv[1]) as src:
    frame = next(iter(src.frames()))
    first_decoded_at = time.time()
    colorizer = col.result()
    model_ready_at = time.time()
    from vidcolor.pipeline import colorize_frames
    from vidcolor.temporal import make_smoother
    colorize_frames(colorizer, [frame], make_smoother("flow"), None)
print(json.dumps({"main_at": main_at, "first_decoded_at": first_decoded_at, "model_ready_at": model_ready_at,
                  "first_frame_at": time.time()}))
"""


def machine() -> dict:
    info = {"platform": platform.platform(), "python": platform.python_version(), "torch": torch.__version__,
            "av": av.__version__, "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads()}
    try:
        info["cpu"] = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        info["cpu"] = platform.processor()
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def run_bench(clip: Path, colorizer: Colorizer, opts: VideoOptions, phases=("decode", "transcode", "model", "e2e"),
              log=print) -> dict:
    """All phases on one clip; returns the JSON-able result (also the input of `--compare`)."""
    with VideoSource(clip) as src:
        info = src.info
    dev = colorizer.device
    out: dict = {"clip": str(clip), "size": [info.width, info.height], "frames": info.frames,
                 "working_size": list(working_size(info.height, info.width, colorizer.work_size)),
                 "model": colorizer.model_id, "device": str(dev), "machine": machine(),
                 "options": {"temporal": opts.temporal, "batch_size": opts.batch_size, "codec": opts.codec,
                             "crf": opts.crf, "preset": opts.preset}, "phases": {}}
    with tempfile.TemporaryDirectory(prefix="vidcolor-bench-") as tmp:
        jobs = {
            "decode": lambda: decode_only(clip),
            "transcode": lambda: transcode_only(clip, opts, Path(tmp)),
            "model": lambda: model_only(colorizer, info.height, info.width, opts.batch_size),
            "e2e": lambda: end_to_end(clip, Path(tmp) / "e2e" / "out.mp4", colorizer, opts),
        }
        for name in phases:
            p = _measure(name, dev, jobs[name])
            out["phases"][name] = {**asdict(p), "fps": p.fps}
            log(f"{name:>10}: {p.fps:8.1f} fps  ({p.frames} frames in {p.seconds:.1f} s, peak RSS {p.peak_rss_mb:.0f} MB"
                + (f", GPU {p.peak_gpu_mb:.0f} MB" if p.peak_gpu_mb is not None else "") + f")  {p.note}")
            if p.thread_cpu_s:
                log(f"{'':>12}CPU s by thread: " + "; ".join(f"{k} {v:.1f}" for k, v in list(p.thread_cpu_s.items())[:6]))
    ph = out["phases"]
    if "e2e" in ph and "transcode" in ph:
        out["e2e_over_transcode"] = ph["e2e"]["fps"] / ph["transcode"]["fps"]
    return out


def make_long_clips(clip: Path, workdir: Path, frames: int, repeat: int) -> tuple[Path, Path]:
    """The clip's first `frames` frames, encoded once and `repeat` times over (same size and rate)."""
    with VideoSource(clip) as src:
        info = src.info
        head = []
        for f in src.frames():
            head.append(f.rgb)
            if len(head) == frames:
                break
    paths = workdir / "base.mp4", workdir / f"x{repeat}.mp4"
    for path, times in zip(paths, (1, repeat)):
        with av.open(str(path), "w") as out:
            s = out.add_stream("libx264", rate=info.average_rate or 25)
            s.width, s.height, s.pix_fmt = info.width, info.height, "yuv420p"
            s.options = {"crf": "18", "preset": "ultrafast"}
            for i in range(times * len(head)):
                frame = av.VideoFrame.from_ndarray(head[i % len(head)], format="rgb24")
                frame.pts = i
                out.mux(s.encode(frame))
            out.mux(s.encode(None))
    return paths


def _child_e2e(clip: Path, weights_args: dict, opts: dict) -> dict:
    """Runs in a fresh process: one end-to-end run, reporting this process's peak RSS."""
    from vidcolor.weights import load_colorizer

    col = load_colorizer(**weights_args)
    o = VideoOptions(**opts)
    with tempfile.TemporaryDirectory(prefix="vidcolor-bench-") as tmp:
        p = _measure("e2e", col.device, lambda: end_to_end(clip, Path(tmp) / "out.mp4", col, o))
    return {**asdict(p), "fps": p.fps, "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def length_check(clip: Path, weights_args: dict, opts: VideoOptions, frames: int = 60, repeat: int = 10, log=print) -> dict:
    """End-to-end peak RSS on a clip and on one `repeat` times longer, each in a fresh process."""
    o = {"temporal": opts.temporal, "batch_size": opts.batch_size, "codec": opts.codec, "crf": opts.crf, "preset": opts.preset}
    res = {}
    with tempfile.TemporaryDirectory(prefix="vidcolor-bench-") as tmp:
        for path in make_long_clips(clip, Path(tmp), frames, repeat):
            cmd = [sys.executable, "-m", "vidcolor.bench", str(path), json.dumps(weights_args), json.dumps(o)]
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode:
                raise RuntimeError(f"length check on {path.name} failed: {r.stderr.strip().splitlines()[-1:]}")
            res[path.stem] = json.loads(r.stdout.strip().splitlines()[-1])
            log(f"{path.stem:>10}: {res[path.stem]['frames']} frames, peak RSS {res[path.stem]['max_rss_mb']:.0f} MB, "
                f"{res[path.stem]['fps']:.1f} fps")
    base, long = res["base"], res[f"x{repeat}"]
    res["rss_ratio"] = long["max_rss_mb"] / base["max_rss_mb"]
    log(f"peak RSS x{repeat} length / x1 length: {res['rss_ratio']:.3f}")
    return res


def compare(a: dict, b: dict, log=print) -> dict:
    """B relative to A, phase by phase: fps ratios and peak-RSS ratios. Says so first where the two runs
    differ in what they measured (clip, size, working size, model, device, options): such ratios compare
    settings, not code."""
    ratios = {}
    for k in ("clip", "size", "working_size", "model", "device", "options"):
        if a.get(k) != b.get(k):
            log(f"note: the runs differ in {k}: A {a.get(k)}, B {b.get(k)}")
    log(f"{'phase':>10}  {'A fps':>8}  {'B fps':>8}  {'B/A':>6}   {'A MB':>6}  {'B MB':>6}")
    for name in a["phases"]:
        if name in b["phases"]:
            pa, pb = a["phases"][name], b["phases"][name]
            r = pb["fps"] / pa["fps"] if pa["fps"] else float("nan")
            ratios[name] = {"fps_ratio": r, "rss_ratio": pb["peak_rss_mb"] / pa["peak_rss_mb"]}
            log(f"{name:>10}  {pa['fps']:8.1f}  {pb['fps']:8.1f}  {r:6.2f}   {pa['peak_rss_mb']:6.0f}  {pb['peak_rss_mb']:6.0f}")
    return ratios


if __name__ == "__main__":  # the fresh process of length_check
    print(json.dumps(_child_e2e(Path(sys.argv[1]), json.loads(sys.argv[2]), json.loads(sys.argv[3]))))
