"""A small trainer that knows nothing about colour: it steps an optimizer over `step_fn` losses, and
owns checkpoints (exact resume: model, optimizer, schedule, step, RNG), the CSV log and the plot."""
from __future__ import annotations

import contextlib
import copy
import csv
import math
import os
import random
import signal
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from vidcolor.io.prefetch import prefetch
from vidcolor.models.checkpoint import atomic_save, checkpoint_dict


@dataclass
class TrainConfig:
    steps: int = 20_000
    batch_size: int = 24
    lr: float = 1e-3  # decoder and head
    encoder_lr: float = 2e-4  # a pretrained encoder is fine-tuned more gently
    weight_decay: float = 1e-4
    warmup: int = 200
    min_lr_ratio: float = 0.05  # cosine decay ends at this fraction of the peak
    ckpt_every: int = 200
    val_every: int = 1000
    log_every: int = 10
    seed: int = 0
    workers: int = 0  # batch-making processes (DataLoader); 0 = one background thread, as on a 2-core CPU
    time_budget: float = 0.0  # seconds; > 0: the run's length (`steps`) is set from the rate measured during warm-up
    budget_snapshots: int = 4  # with a time budget: model snapshots at these many evenly spaced points
    ema: float = 0.0  # > 0: snapshots, validation and exports take an exponential moving average of the weights
    # the convolutions' layout on a GPU: "nchw" or "channels_last" (NHWC). cuDNN spends seconds choosing kernels at
    # each new input shape in channels_last (4.7 s against 0.5 s in NCHW for inference, benchmarks/gpu_first_call.py),
    # and training draws six batch shapes: on an H200 (Lite2, batch 64) step 50 came 89-103 s after the start in
    # channels_last and 11-12 s in NCHW, at the same steady 11.2-11.4 steps/s (docs/gpu_session.md, 2026-11-28)
    memory_format: str = "nchw"


MEMORY_FORMATS = ("channels_last", "nchw")  # TrainConfig.memory_format


BUDGET_MARGIN = 0.85  # share of the time left that a fitted run plans to use
MIN_BUDGET_WARMUP = 30  # the fit needs 10-step windows inside warm-up, after the first 10 steps


class _StepBatches(torch.utils.data.Dataset):
    """Batch number i of a run resumed at `start`: `batches` is a pure function of the step, so worker
    processes make exactly the batches one thread would, in the same order."""

    def __init__(self, batches: Callable[[int], object], start: int, stop: int):
        self.batches, self.start, self.stop = batches, start, stop

    def __len__(self) -> int:
        return self.stop - self.start

    def __getitem__(self, i: int):
        return self.batches(self.start + i)  # pinned through its own pin_memory(), where it has one


def check_memory_format(memory_format: str, name: str) -> None:
    """Raise ValueError, naming the option as `name`, unless memory_format is one of MEMORY_FORMATS: any other
    value had trained in NCHW, unsaid."""
    if memory_format not in MEMORY_FORMATS:
        raise ValueError(f"{name}: must be one of {', '.join(MEMORY_FORMATS)}")


def check_time_budget(time_budget: float, warmup: int) -> None:
    """Raise ValueError when a time budget cannot be fitted: the fit needs 10-step windows inside warm-up."""
    if time_budget > 0 and warmup < MIN_BUDGET_WARMUP:
        raise ValueError(f"--time-budget needs --warmup of at least {MIN_BUDGET_WARMUP} steps: the run's length is fitted inside warm-up")


def _worker_init(_: int) -> None:
    torch.set_num_threads(1)  # many small processes, each with one thread: no oversubscription


def lr_factor(step: int, cfg: TrainConfig) -> float:
    if step < cfg.warmup:
        return (step + 1) / cfg.warmup
    t = min(1.0, (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup))
    return cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * t))


def _rng_state() -> dict:
    # Batches come from their own (seed, step) generator; the global RNGs are saved for anything else.
    _, keys, pos, has_gauss, gauss = np.random.get_state()
    version, py_state, py_gauss = random.getstate()
    return {"torch": torch.get_rng_state(), "numpy": [torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(gauss)],
            "python": [int(version), list(py_state), py_gauss]}


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state(("MT19937", keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    version, py_state, py_gauss = state["python"]
    random.setstate((version, tuple(py_state), py_gauss))


class EmaWeights:
    """An exponential moving average of a model's weights and buffers (BatchNorm statistics), updated after
    each optimizer step. At batch 16 on a CPU the weights of snapshots a few hundred steps apart scored up to
    0.3 dB apart on val (weights/README.md): the average is the usual remedy. Its decay ramps up as
    (1 + t) / (10 + t) over the first steps of a run, so a fresh network is not averaged with its start."""

    def __init__(self, model: torch.nn.Module, decay: float):
        self.decay = decay
        self.model = copy.deepcopy(model).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, model: torch.nn.Module, step: int) -> None:
        d = min(self.decay, (1 + step) / (10 + step))
        theirs = model.state_dict()
        for k, v in self.model.state_dict().items():
            if v.is_floating_point():
                v.lerp_(theirs[k], 1.0 - d)
            else:
                v.copy_(theirs[k])  # counters (num_batches_tracked)


class Trainer:
    def __init__(self, model, step_fn: Callable, batches: Callable[[int], object], cfg: TrainConfig, run_dir: Path,
                 device: torch.device, validate: Callable | None = None, meta: dict | None = None, log=print):
        self.model, self.step_fn, self.batches, self.cfg = model.to(device), step_fn, batches, cfg
        self.run_dir, self.device, self.validate, self.meta, self.log = Path(run_dir), device, validate, meta or {}, log
        check_memory_format(cfg.memory_format, f"memory_format {cfg.memory_format!r}")
        self.optimizer = torch.optim.AdamW(self._param_groups(), weight_decay=cfg.weight_decay)
        self.step = 0
        self._fitted = False  # with a time budget: whether the run's length has been fitted (kept in last.pt)
        self.ema = EmaWeights(self.model, cfg.ema) if cfg.ema > 0 else None
        self.amp = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else contextlib.nullcontext()

    def _param_groups(self):
        enc = [p for n, p in self.model.named_parameters() if n.startswith("encoder.")]
        rest = [p for n, p in self.model.named_parameters() if not n.startswith("encoder.")]
        groups = [{"params": rest, "lr": self.cfg.lr, "base_lr": self.cfg.lr}]
        if enc:
            groups.append({"params": enc, "lr": self.cfg.encoder_lr, "base_lr": self.cfg.encoder_lr})
        return groups

    # -- checkpoints ---------------------------------------------------------------------------
    @property
    def last_path(self) -> Path:
        return self.run_dir / "last.pt"

    def save(self) -> None:
        state = {
            "model": checkpoint_dict(self.model, meta=self.meta),
            "optimizer": self.optimizer.state_dict(),
            "step": self.step,
            "config": asdict(self.cfg),
            "rng": _rng_state(),
            "budget_fitted": self._fitted,
        }
        if self.ema is not None:
            state["ema"] = self.ema.model.state_dict()
        atomic_save(state, self.last_path)

    def resume(self) -> bool:
        if not self.last_path.is_file():
            return False
        state = torch.load(self.last_path, map_location="cpu", weights_only=True)
        self.model.load_state_dict(state["model"]["state_dict"])
        if decode := state["model"].get("decode"):  # the run's decoding (from its --init), not the model's defaults
            self.model.set_decode(**decode)
            if self.ema is not None:  # settings are attributes, not weights: the average's copy needs them too
                self.ema.model.set_decode(**decode)
        self.optimizer.load_state_dict(state["optimizer"])
        # the learning rates and weight decay are this config's (a resume with --force-args --lr took the new
        # value into args.json, while the optimizer's saved groups kept scaling the old one: a researcher's test)
        for group, fresh in zip(self.optimizer.param_groups, self._param_groups()):
            group["base_lr"], group["weight_decay"] = fresh["base_lr"], self.cfg.weight_decay
        self.step = int(state["step"])
        # a budgeted run stopped in warm-up before its length was fitted is fitted when resumed: it had kept the
        # command's --steps (100000 in docs/training.md's command) at the peak learning rate until the clock stopped it
        self._fitted = bool(state.get("budget_fitted", True))
        if self.ema is not None:
            if "ema" in state:
                self.ema.model.load_state_dict(state["ema"])
            else:  # --ema added to a run started without it (or before the option existed): the average starts here
                self.ema.model.load_state_dict(self.model.state_dict())
                self.log(f"note: last.pt holds no weight average; the --ema average starts from step {self.step}'s weights")
        _set_rng_state(state["rng"])
        for name in ("loss.csv", "val.csv"):  # rows logged after that checkpoint are logged again (were duplicated)
            self._keep_rows_until(name, self.step)
        # a run whose length was fitted to a time budget keeps that schedule, not the command line's, also
        # when resumed without the budget (its learning rate had jumped back to the peak)
        if self.cfg.time_budget > 0 or float(state["config"].get("time_budget", 0) or 0) > 0:
            self.cfg.steps = int(state["config"]["steps"])
        self.log(f"resumed {self.last_path} at step {self.step} of {self.cfg.steps}")
        was = int(state["config"].get("steps", self.cfg.steps))
        if was != self.cfg.steps and self.step < self.cfg.steps:  # the cosine is stretched or shrunk: say what that does
            fields = {k: v for k, v in state["config"].items() if k in TrainConfig.__dataclass_fields__}
            before = lr_factor(self.step, TrainConfig(**{**fields, "steps": was}))
            self.log(f"note: --steps {self.cfg.steps}, where the run was planned for {was}: its decay now ends at step "
                     f"{self.cfg.steps}, and the learning rate goes from {before:.3f} to {lr_factor(self.step, self.cfg):.3f} "
                     "of its peak here")
        return True

    @property
    def shipped_model(self):
        """The weights a snapshot holds and validation scores: the moving average with --ema."""
        return self.model if self.ema is None else self.ema.model

    def snapshot(self) -> Path:
        """A model-only fp16 checkpoint per validation point, to pick the best one afterwards."""
        path = self.run_dir / "snapshots" / f"step{self.step:07d}.pt"
        meta = {**self.meta, "step": self.step, **({"ema": self.cfg.ema} if self.ema is not None else {})}
        atomic_save(checkpoint_dict(self.shipped_model, half=True, meta=meta), path)
        return path

    # -- logging -------------------------------------------------------------------------------
    def _keep_rows_until(self, name: str, step: int) -> None:
        path = self.run_dir / name
        if not path.is_file():
            return
        with path.open(newline="") as f:
            rows = list(csv.DictReader(f))
        kept = [r for r in rows if int(r["step"]) <= step]
        if len(kept) == len(rows) or not rows:
            return
        tmp = path.with_name(path.name + ".tmp")
        with tmp.open("w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(kept)
        os.replace(tmp, path)

    def _append_csv(self, name: str, row: dict) -> None:
        path = self.run_dir / name
        new = not path.exists()
        with path.open("a", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(row))
            if new:
                w.writeheader()
            w.writerow(row)

    def plot(self) -> None:
        try:
            import matplotlib
            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            self.log("matplotlib missing (train extra): no loss plot")
            return
        if not (self.run_dir / "loss.csv").is_file():  # stopped (by the clock) before the first log line
            return
        rows = list(csv.DictReader((self.run_dir / "loss.csv").open()))
        if not rows:
            return
        steps = np.array([int(r["step"]) for r in rows])
        fig, ax = plt.subplots(figsize=(8, 4))
        for key in (k for k in rows[0] if k.startswith("loss")):
            y = np.array([float(r[key]) for r in rows])
            k = min(25, len(y))
            ax.plot(steps[k - 1:], np.convolve(y, np.ones(k) / k, mode="valid"), label=f"{key} (mean of {k})")
        ax.set_xlabel("step"), ax.set_ylabel("loss"), ax.legend(), ax.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(self.run_dir / "loss.png", dpi=100)
        plt.close(fig)

    # -- the loop ------------------------------------------------------------------------------
    def _batch_stream(self):
        cfg = self.cfg
        if cfg.workers <= 0:
            return prefetch((self.batches(s) for s in range(self.step, cfg.steps)), depth=3, name="batches")
        cuda = self.device.type == "cuda"
        import multiprocessing as mp

        # fork: the batch function is a closure (3.14 defaults to forkserver, which would have to pickle it);
        # its own generator: making the iterator draws a base seed, which must not move the global RNG
        context = "fork" if "fork" in mp.get_all_start_methods() else None
        loader = torch.utils.data.DataLoader(_StepBatches(self.batches, self.step, max(self.step, cfg.steps)), batch_size=None,
                                             shuffle=False, num_workers=cfg.workers, pin_memory=cuda, prefetch_factor=4,
                                             worker_init_fn=_worker_init, persistent_workers=False,
                                             multiprocessing_context=context, generator=torch.Generator())
        return iter(loader)

    def _fit_to_budget(self, rate: float) -> None:
        """Set the run's length so it ends inside the time budget at `rate` steps/s (the cosine decay
        then runs its whole course), and where its snapshots fall."""
        cfg = self.cfg
        self._fitted = True
        left = cfg.time_budget - (time.time() - self._started)
        # with a margin: warm-up steps can be served from batches the loader made ahead, faster than it keeps up
        # later (on the H200, 19.5 steps/s measured in warm-up against 14.7 after it)
        cfg.steps = max(self.step + 1, min(self._planned_steps, self.step + int(BUDGET_MARGIN * rate * left)))
        if cfg.steps < cfg.warmup:
            self.log(f"time budget: only {cfg.steps} steps fit, fewer than the {cfg.warmup} of warm-up: no decay")
        n = max(1, cfg.budget_snapshots)
        self._budget_marks = {self.step + round((cfg.steps - self.step) * (i + 1) / n) for i in range(n)}
        self.log(f"time budget {cfg.time_budget:.0f} s: {rate:.2f} steps/s, so {cfg.steps} steps; "
                 f"snapshots at {sorted(self._budget_marks)}")

    def run(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._started = time.time()
        self._stop = None
        if not self.resume():  # a fresh start: the rows of a start killed before its first checkpoint are not kept
            for name in ("loss.csv", "val.csv"):  # (its steps 1 2 3 4 5 were followed by the new 1 2 3 ...)
                self._keep_rows_until(name, 0)
        cfg = self.cfg
        if self.device.type == "cuda" and cfg.memory_format == "channels_last":
            self.model.to(memory_format=torch.channels_last)  # convolutions in NHWC: the tensor cores' layout
            if self.ema is not None:
                self.ema.model.to(memory_format=torch.channels_last)
        self._optimizer_state_like_params()
        t0 = time.time()
        first_step, self._budget_marks, self._planned_steps = self.step, set(), cfg.steps
        if first_step == 0:
            check_time_budget(cfg.time_budget, cfg.warmup)
        batches = self._batch_stream()
        try:
            with self._stop_between_steps():
                self._loop(batches, t0, first_step)
        finally:
            if hasattr(batches, "close"):
                batches.close()  # the one-thread path's prefetch thread; DataLoader workers end with their iterator
        if self._stop is not None:
            code = 143 if self._stop == signal.SIGTERM else 130
            self.log(f"{'terminated' if code == 143 else 'interrupted'} at step {self.step}: last.pt saved; run the same "
                     "command again to resume")
            raise SystemExit(code)

    def _optimizer_state_like_params(self) -> None:
        """AdamW's moments in their parameters' layout: a resume loads them with the strides they were saved
        with, so a run started in channels_last and resumed in NCHW (or on the CPU) kept channels_last moments
        beside NCHW weights, and CUDA's AdamW leaves its fast path for mixed layouts."""
        for group in self.optimizer.param_groups:
            for p in group["params"]:
                state = self.optimizer.state.get(p, {})
                for k, v in state.items():
                    if torch.is_tensor(v) and v.shape == p.shape and v.stride() != p.stride():
                        state[k] = torch.empty_like(p).copy_(v)

    @contextlib.contextmanager
    def _stop_between_steps(self):
        """SIGTERM and Ctrl-C end the run after the step under way, with last.pt saved: it had no orderly
        stop, and up to --ckpt-every - 1 steps were lost (a new user's test). A second one stops at once."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def stop(signum, frame):
            if self._stop is not None:
                raise KeyboardInterrupt
            self._stop = signum

        old = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
        try:
            yield
        finally:
            for s, h in old.items():
                signal.signal(s, h)

    def _loop(self, batches, t0: float, first_step: int) -> None:
        cfg, seen = self.cfg, 0
        # With a time budget, a run sets its length during warm-up, where no learning rate yet depends on it: every
        # 10 steps, from the rate of the last 10 (the first steps carry start-up: workers, kernels); a run resumed
        # before its length was fitted is fitted in what is left of its warm-up.
        fitting = cfg.time_budget > 0 and not self._fitted
        clock: dict[int, float] = {}
        self.model.train()
        for batch in batches:
            if self.step >= cfg.steps:
                break
            if self.step - first_step in (0, 1, 5):  # start-up, attributed: the first batches, and the first steps' kernels
                self.log(f"batch {self.step - first_step + 1} ready {time.time() - t0:.1f} s after the start "
                         f"({'loader' if self.step == first_step else 'loader and the steps before'})")
            for g in self.optimizer.param_groups:
                g["lr"] = g["base_lr"] * lr_factor(self.step, cfg)
            with self.amp:
                loss, parts = self.step_fn(self.model, batch)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), 5.0)
            self.optimizer.step()
            if self.ema is not None:
                self.ema.update(self.model, self.step)
            self.step += 1
            seen += len(batch)
            if fitting and self.step % 10 == 0 and self.step < cfg.warmup:
                clock[self.step] = time.time()
                if self.step - 10 in clock and self.step >= 20:
                    self._fit_to_budget(10 / max(clock[self.step] - clock[self.step - 10], 1e-6))
            if fitting and self.step == cfg.warmup and not self._fitted:  # resumed too late in warm-up for a 10-step window
                self.log(f"time budget: warm-up ended before the run's length could be fitted (resumed at step {first_step}); "
                         f"it runs to step {cfg.steps} or until the clock stops it")
            if cfg.time_budget > 0 and time.time() - self._started > cfg.time_budget * 1.05 and self.step < cfg.steps:
                self.log(f"time budget spent at step {self.step} (planned {cfg.steps}): stopping here")
                cfg.steps = self.step  # the checkpoint below is written, and the loop ends
                self._budget_marks.add(self.step)  # and the model as it stands is kept as a snapshot
            if self.step in self._budget_marks:  # with --val too: the log promises them (a new user got one)
                self.snapshot()
            if self.step % cfg.log_every == 0:
                rate = seen / (time.time() - t0)
                row = {"step": self.step, "loss": float(loss.detach()), **{f"loss_{k}": v for k, v in parts.items()},
                       "lr": self.optimizer.param_groups[0]["lr"], "images_per_s": round(rate, 2), "time": round(time.time(), 1)}
                self._append_csv("loss.csv", row)
                self.log(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items() if k != "time"))
            if self.step % cfg.ckpt_every == 0 or self.step == cfg.steps:
                self.save()
                self.plot()
            if self._stop is not None and self.step % cfg.ckpt_every and self.step != cfg.steps:
                self.save()
            if self.validate is None and self.step == cfg.steps and self.step not in self._budget_marks:
                self.snapshot()  # the run's weights, exportable (without --val a run ended with only last.pt)
            if self._stop is not None:
                break
            if self.validate is not None and (self.step % cfg.val_every == 0 or self.step == cfg.steps):
                snap = self.snapshot()
                metrics = self.validate(self.shipped_model)
                self.model.train()
                self._append_csv("val.csv", {"step": self.step, "snapshot": snap.name, **metrics})
                self.log(f"val step {self.step}: " + " ".join(f"{k}={v:.4g}" for k, v in metrics.items()))
