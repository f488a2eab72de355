"""The network on other CPU runtimes: ONNX Runtime and OpenVINO against torch, model only and end to end.

Model only: CPU ms a frame of the shipped network's raw forward (both heads, no decoding) at a 720p
frame's working resolution, batch 4, with 1 and 2 threads, and the largest difference from torch.
End to end (`--e2e CLIP`): whole `vidcolor CLIP -o OUT` processes, the CLI as it ships and the CLI with
the network's hint-free forward handed to each runtime (one thread, fp32, spinning off), one after the
other, wall and CPU seconds. Neither runtime is a dependency: install them beside vidcolor to measure
(`pip install onnx onnxruntime openvino`). Left out on 2026-11-26 (docs/performance.md, "Where the CPU
time goes now": "Tried and left out").

    python benchmarks/cpu_runtimes.py
    python benchmarks/cpu_runtimes.py --e2e ../shared/data/video/cockatoo.mp4 --rounds 2

The ONNX graph is exported with dynamic batch, height and width, but the legacy exporter bakes the
decoder's upsampling sizes in: it is only right at the shape it was traced at, so each working size
gets its own export (one is enough for a video).
"""
from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import vidcolor  # noqa: F401  (OMP_WAIT_POLICY before torch loads, as the CLI sets it)
import numpy as np
import torch


class RawHeads(torch.nn.Module):
    """The network's automatic forward as a pair of tensors (what the runtimes run)."""

    def __init__(self, net: torch.nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.net(x)
        return out["ab"], out["logits"]


def export(net: torch.nn.Module, x: torch.Tensor, path: Path) -> Path:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(RawHeads(net).eval(), (x.contiguous(),), str(path), input_names=["l"],
                          output_names=["ab", "logits"], dynamic_axes={"l": {0: "b"}}, opset_version=17, dynamo=False)
    return path


def session(runtime: str, onnx: Path, threads: int):
    """A callable numpy (B, 1, H, W) -> (ab, logits) on `runtime`."""
    if runtime == "onnxruntime":
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads, so.inter_op_num_threads = threads, 1
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        s = ort.InferenceSession(str(onnx), so, providers=["CPUExecutionProvider"])
        return lambda x: s.run(None, {"l": x})
    import openvino as ov

    compiled = ov.Core().compile_model(str(onnx), "CPU", {"INFERENCE_NUM_THREADS": threads,
                                                          "INFERENCE_PRECISION_HINT": "f32"})  # bf16 by default on AVX512-BF16
    req = compiled.create_infer_request()
    return lambda x: (lambda r: (r[0], r[1]))(req.infer({0: x}))


def cpu_ms(fn, frames: int, n: int = 12) -> float:
    for _ in range(3):
        fn()
    c = time.process_time()
    for _ in range(n):
        fn()
    return (time.process_time() - c) / n / frames * 1000


def model_only(runtimes: list[str]) -> None:
    from vidcolor.weights import load_colorizer

    col = load_colorizer(device="cpu")
    x = col.network_input(torch.rand(4, 1, 720, 1280) * 100).contiguous(memory_format=col.memory_format)
    with tempfile.TemporaryDirectory() as tmp:
        onnx = export(col.model, x, Path(tmp) / "net.onnx")
        with torch.inference_mode():
            ref = RawHeads(col.model)(x)
        xn = x.contiguous().numpy()
        for threads in (1, 2):
            torch.set_num_threads(threads)
            with torch.inference_mode():
                print(f"{threads} thread(s)  torch        {cpu_ms(lambda: col.model(x), 4):5.1f} ms of CPU a frame")
            for rt in runtimes:
                run = session(rt, onnx, threads)
                diff = max(float(np.abs(np.asarray(o) - r.numpy()).max()) for o, r in zip(run(xn), ref))
                print(f"{threads} thread(s)  {rt:<12} {cpu_ms(lambda: run(xn), 4):5.1f} ms of CPU a frame  (max diff {diff:.1e})")


def patched_cli(runtime: str, argv: list[str]) -> None:
    """The CLI, with EffNetUNet's hint-free forward on `runtime` (exported once per input shape)."""
    from vidcolor.cli import main
    from vidcolor.models.effnet_unet import EffNetUNet

    orig, runs, tmp = EffNetUNet.forward, {}, tempfile.mkdtemp()

    def forward(self, l_norm, hint_map=None, palette=None):
        if hint_map is not None or palette is not None or torch.onnx.is_in_onnx_export():
            return orig(self, l_norm, hint_map, palette)
        key = tuple(l_norm.shape[-2:])
        if key not in runs:
            with torch.inference_mode(False):
                runs[key] = session(runtime, export(self, l_norm.clone(), Path(tmp) / f"{key[0]}x{key[1]}.onnx"), 1)
        ab, logits = runs[key](l_norm.contiguous().numpy())
        return {k: torch.from_numpy(np.asarray(v)).contiguous(memory_format=torch.channels_last)
                for k, v in (("ab", ab), ("logits", logits))}

    EffNetUNet.forward = forward
    sys.argv = ["vidcolor", *argv]
    main()


def end_to_end(clip: Path, runtimes: list[str], rounds: int) -> None:
    variants = {"torch": [sys.executable, "-m", "vidcolor"]}
    variants.update({rt: [sys.executable, __file__, "--cli", rt] for rt in runtimes})
    for r in range(rounds):
        for name, cmd in variants.items():
            with tempfile.TemporaryDirectory() as tmp:
                c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
                t0 = time.perf_counter()
                subprocess.run([*cmd, str(clip), "-o", str(Path(tmp) / "out.mp4")], check=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                wall = time.perf_counter() - t0
                c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpu = c1.ru_utime + c1.ru_stime - c0.ru_utime - c0.ru_stime
                print(f"round {r + 1}  {name:<12} wall {wall:6.2f} s  CPU {cpu:6.2f} s")


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--cli":
        return patched_cli(sys.argv[2], sys.argv[3:])
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runtimes", default="onnxruntime,openvino")
    p.add_argument("--e2e", type=Path, default=None, help="a clip: time whole CLI runs instead")
    p.add_argument("--rounds", type=int, default=1)
    a = p.parse_args()
    runtimes = a.runtimes.split(",")
    if a.e2e:
        end_to_end(a.e2e.resolve(), runtimes, a.rounds)
    else:
        model_only(runtimes)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    main()
