"""The benchmarks' paths checked before any model loads, each refused in one line naming it (exit 1): with
a mistyped path, scripts printed nan and exited 0, ran eval-video 50 times, or ended in a traceback (a
reviewer's test). A script run as `python benchmarks/NAME.py` finds this module beside it."""
from __future__ import annotations

from pathlib import Path


def refuse_missing(files=(), folders=(), weights=None) -> None:
    for f in files:
        if not Path(f).is_file():
            raise SystemExit(f"{f}: file not found")
    for d in folders:
        if not Path(d).is_dir():
            raise SystemExit(f"{d}: folder not found")
    if weights is not None and not Path(weights).is_file():
        raise SystemExit(f"{weights}: weights file not found")
