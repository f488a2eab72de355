"""`vidcolor bench` with the `flow` smoother's network stride set (temporal.NETWORK_STRIDE, the default 2),
to measure what running the network on every frame (1) or every second one (2) does to end to end,
in-process, everything else as shipped:

    python benchmarks/stride_bench.py 1 CLIP --phases transcode,e2e --json s1.json
    python benchmarks/stride_bench.py 2 CLIP --phases transcode,e2e --json s2.json

(Analysis only: the stride is not a user option; the patch sets the module's defaults, the CPU's and
the GPU's, and FlowSmoother's.)
"""
from __future__ import annotations

import inspect
import sys


def set_stride(stride: int) -> None:
    import vidcolor.temporal as T

    T.NETWORK_STRIDE = T.GPU_NETWORK_STRIDE = stride  # make_smoother reads GPU_NETWORK_STRIDE on CUDA
    sig = inspect.signature(T.FlowSmoother.__init__)
    names = [n for n, p in sig.parameters.items() if p.default is not inspect.Parameter.empty]
    defaults = list(T.FlowSmoother.__init__.__defaults__)
    defaults[names.index("network_stride")] = stride
    T.FlowSmoother.__init__.__defaults__ = tuple(defaults)


if __name__ == "__main__":
    if len(sys.argv) < 3 or not sys.argv[1].isdigit():
        raise SystemExit(__doc__)
    set_stride(int(sys.argv[1]))
    from vidcolor.cli import main

    main(["bench", *sys.argv[2:]])
