"""The benchmarks' paths checked before any model loads, each refused in one line naming it (exit 1): with
a mistyped path, scripts printed nan and exited 0, ran eval-video 50 times, or ended in a traceback (a
reviewer's test). A script run as `python benchmarks/NAME.py` finds this module beside it."""
from __future__ import annotations

import json
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


def refuse_foreign_output(out, inputs=()) -> None:
    """A JSON report `out` that a script is about to write: refused where it is one of the script's own inputs, a
    folder, or an existing file that is not JSON (a report of an earlier run may be replaced). tradeoff.py takes
    OUT.json first; with it left out, `tradeoff.py weights/effnet_unet.pt SNAP.pt` replaced the shipped weights
    with its report (a researcher's find)."""
    out = Path(out)
    if out.is_dir():
        raise SystemExit(f"{out}: a folder, not the JSON report to write")
    if any(out.resolve() == Path(p).resolve() for p in inputs):
        raise SystemExit(f"{out}: is also an input; give the JSON report to write first")
    if out.is_file():
        try:
            report = json.loads(out.read_text())
        except (UnicodeDecodeError, ValueError):
            report = None
        # a report maps each checkpoint to its rows: a run's args.json or weights/manifest.json named first is no report
        if not (isinstance(report, dict) and all(isinstance(rows, list) for rows in report.values())):
            raise SystemExit(f"{out}: exists and is not a JSON report; the report to write comes first "
                             "(remove the file to reuse its name)")
