"""Bringing predicted ab from working resolution to full resolution."""
from __future__ import annotations

UPSAMPLERS = ("bilinear",)


def make_upsampler(kind: str):
    """'bilinear' -> None (the Colorizer's built-in bilinear path)."""
    if kind not in UPSAMPLERS:
        raise ValueError(f"unknown upsampler {kind!r}; choose from {', '.join(UPSAMPLERS)}")
    return None
