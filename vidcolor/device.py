"""Device and precision choice."""
from __future__ import annotations

import torch

from vidcolor.errors import UsageError


def resolve_device(spec: str = "auto") -> torch.device:
    """'auto' -> the first CUDA device when present, else the CPU; 'cpu', 'cuda', 'cuda:1' as given."""
    if isinstance(spec, torch.device):
        spec = str(spec)
    if not isinstance(spec, str):  # device=None raised torch's TypeError (a reviewer's test)
        raise UsageError(f"device= takes a string (auto, cpu, cuda or cuda:N) or a torch.device, got {spec!r}")
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(spec)
    except RuntimeError as e:
        raise UsageError(f"--device {spec}: not a device (use auto, cpu, cuda or cuda:N)") from e
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise UsageError(f"--device {spec}: CUDA is not available on this machine")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise UsageError(f"--device {spec}: only {torch.cuda.device_count()} CUDA device(s) present")
    elif dev.type != "cpu":
        raise UsageError(f"--device {spec}: unsupported device type {dev.type!r}")
    return dev


def autocast_dtype(device: torch.device) -> torch.dtype | None:
    """bf16 on CUDA cards that support it, else fp16; None (fp32) on the CPU."""
    if device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
