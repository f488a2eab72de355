"""Output paths: temporary names beside the target, so nothing partial ever has a final name."""
from __future__ import annotations

import os
from pathlib import Path

TEMP_MARK = ".vidcolor-partial-"


def temp_output_path(path: Path) -> Path:
    """A hidden name in the target folder, unique to this process, keeping the extension."""
    return path.with_name(f".{path.stem}{TEMP_MARK}{os.getpid()}{path.suffix}")


def is_temp_output(path: Path) -> bool:
    return TEMP_MARK in path.name
