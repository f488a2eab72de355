"""An archive run killed and resumed: generates a 2,000-image archive of mixed sizes, formats, bit
depths and colour modes (plus broken files and photos already in colour), runs `vidcolor DIR -o OUT`,
SIGKILLs it at 5 random moments (seeded), re-runs it to the end, and checks that:

- every good input has an output that decodes, at the input's size (16-bit stays 16-bit);
- no temporary or partial file is left;
- the journal (OUT/.vidcolor/journal.jsonl) and the final --report account for every input.

    python benchmarks/archive_resume.py --images 2000 --kills 5 --json archive_resume.json
"""
from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import tifffile
from PIL import Image

FORMATS = ["jpg", "png", "tif", "webp", "bmp", "png16", "tif16", "rgba", "la", "palette", "cmyk"]


def scan(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    f1, f2, ph = rng.uniform(0.01, 0.08), rng.uniform(0.01, 0.08), rng.uniform(0, 6)
    v = 0.5 + 0.4 * np.sin(x * f1 + ph) * np.cos(y * f2) + rng.normal(0, 0.02, (h, w))
    return np.clip(v, 0, 1)


def write(path: Path, kind: str, g: np.ndarray) -> None:
    """Write gray picture g (float in [0, 1]) as `kind`."""
    g8 = (g * 255).round().astype(np.uint8)
    if kind == "png16":
        Image.fromarray((g * 65535).round().astype(np.uint16)).save(path)
    elif kind == "tif16":
        tifffile.imwrite(path, (g * 65535).round().astype(np.uint16), photometric="minisblack")
    elif kind == "rgba":
        Image.fromarray(np.dstack([g8, g8, g8, np.full_like(g8, 200)]), "RGBA").save(path)
    elif kind == "la":
        Image.fromarray(g8).convert("LA").save(path)
    elif kind == "palette":
        Image.fromarray(g8).convert("P").save(path)
    elif kind == "cmyk":
        Image.fromarray(g8).convert("CMYK").save(path, quality=90)
    else:
        Image.fromarray(g8).save(path)


def suffix(kind: str) -> str:
    return {"png16": ".png", "tif16": ".tif", "rgba": ".png", "la": ".png", "palette": ".png", "cmyk": ".jpg"}.get(kind, f".{kind}")


def make_archive(root: Path, n: int, seed: int) -> dict[str, str]:
    """n inputs; returns relative path -> expected outcome (done, skipped, failed)."""
    rng = np.random.default_rng(seed)
    expect = {}
    for i in range(n):
        folder = root / f"box {i % 7:02d}" / f"folder, {i % 3}"
        folder.mkdir(parents=True, exist_ok=True)
        r = i % 100
        if r == 0:
            p = folder / f"empty {i}.jpg"
            p.write_bytes(b"")
            expect[str(p.relative_to(root))] = "failed"
        elif r == 1:
            p = folder / f"text {i}.jpg"
            p.write_text("this is not a JPEG\n")
            expect[str(p.relative_to(root))] = "failed"
        elif r == 2:
            p = folder / f"truncated {i}.png"
            write(p, "png", scan(rng, 300, 400))
            p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
            expect[str(p.relative_to(root))] = "failed"
        elif r == 3:
            p = folder / f"colour {i}.jpg"
            h, w = int(rng.integers(80, 400)), int(rng.integers(80, 400))
            rgb = np.stack([scan(rng, h, w), scan(rng, h, w), scan(rng, h, w)], -1)
            Image.fromarray((rgb * 255).astype(np.uint8)).save(p)
            expect[str(p.relative_to(root))] = "skipped"
        else:
            kind = FORMATS[i % len(FORMATS)]
            h, w = int(rng.integers(48, 700)), int(rng.integers(48, 700))
            p = folder / f"scan {i:05d}{suffix(kind)}"
            write(p, kind, scan(rng, h, w))
            expect[str(p.relative_to(root))] = "done"
    return expect


def read_size(path: Path) -> tuple[int, int, str]:
    """Decode the whole file (a truncated one fails) and return its height, width and sample type."""
    a = tifffile.imread(path) if path.suffix == ".tif" else cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if a is None:  # OpenCV's way of failing (PIL would read 16-bit RGB PNGs as 8-bit, so it is not used here)
        raise ValueError("cannot decode")
    return a.shape[0], a.shape[1], str(a.dtype)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", type=int, default=2000)
    p.add_argument("--kills", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--min-kill-s", type=float, default=4.0)
    p.add_argument("--max-kill-s", type=float, default=25.0)
    p.add_argument("--weights", default=None)
    p.add_argument("--keep", default=None, help="build the archive here and keep it (default: a temp folder)")
    p.add_argument("--json", default=None)
    a = p.parse_args()
    rng = random.Random(a.seed)
    with tempfile.TemporaryDirectory(prefix="vidcolor-archive-") as tmp:
        base = Path(a.keep or tmp)
        src, dst, report = base / "scans", base / "scans_color", base / "run.jsonl"
        t0 = time.time()
        expect = make_archive(src, a.images, a.seed)
        print(f"generated {len(expect)} inputs in {time.time() - t0:.0f} s: "
              + ", ".join(f"{v} {sum(1 for x in expect.values() if x == v)}" for v in ("done", "skipped", "failed")))
        cmd = [sys.executable, "-m", "vidcolor", str(src), "-o", str(dst), "--device", "cpu", "-q"]
        if a.weights:
            cmd += ["--weights", a.weights]
        t0 = time.time()
        kills = []
        for k in range(a.kills):  # each run gets a few seconds of start-up, then works until killed
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            wait = rng.uniform(a.min_kill_s, a.max_kill_s)
            try:
                proc.wait(timeout=wait)
                print(f"run {k + 1} finished before its kill at {wait:.1f} s")
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            jpath = dst / ".vidcolor" / "journal.jsonl"
            n_done = len(jpath.read_text().splitlines()) if jpath.exists() else 0
            kills.append({"after_s": round(wait, 1), "journal_lines": n_done})
            print(f"kill {k + 1}: SIGKILL after {wait:.1f} s, journal has {n_done} lines")
        final = subprocess.run(cmd + ["--report", str(report)], capture_output=True, text=True)
        total_s = time.time() - t0
        problems = []
        rows = [json.loads(line) for line in report.read_text().splitlines()]
        summary = rows[-1]["summary"]
        by_input = {str(Path(r["input"]).relative_to(src)): r for r in rows[:-1]}
        journal = {}
        for line in (dst / ".vidcolor" / "journal.jsonl").read_text().splitlines():
            e = json.loads(line)
            if e["status"] != "started":  # marks a path as vidcolor's before it is written; names no input
                journal[str(Path(e["input"]).relative_to(src))] = e["status"]
        for rel, want in expect.items():
            r = by_input.get(rel)
            if r is None:
                problems.append(f"{rel}: not in the report")
                continue
            if want == "done":
                out = dst / rel
                if r["status"] not in ("done", "skipped") or not out.is_file():
                    problems.append(f"{rel}: {r['status']} {r.get('error')}")
                    continue
                try:
                    ih, iw, idt = read_size(src / rel)
                    oh, ow, odt = read_size(out)
                    if (ih, iw) != (oh, ow) or (idt == "uint16") != (odt == "uint16"):
                        problems.append(f"{rel}: {ih}x{iw} {idt} -> {oh}x{ow} {odt}")
                except Exception as e:  # noqa: BLE001 - any decode failure is a finding
                    problems.append(f"{rel}: output does not decode ({e})")
                if journal.get(rel) != "done":
                    problems.append(f"{rel}: journal says {journal.get(rel)}")
            else:
                if r["status"] != want:
                    problems.append(f"{rel}: expected {want}, report says {r['status']}")
                if journal.get(rel) != {"skipped": "colour", "failed": "failed"}[want]:
                    problems.append(f"{rel}: journal says {journal.get(rel)}")
                if want == "skipped" and not ((dst / rel).is_file() and (dst / rel).read_bytes() == (src / rel).read_bytes()):
                    problems.append(f"{rel}: skipped as colour but not copied unchanged")
        leftovers = [str(q) for q in dst.rglob("*") if "vidcolor-partial" in q.name or q.name.endswith((".tmp", ".part.mp4"))]
        problems += [f"left behind: {q}" for q in leftovers]
        extra = {str(q.relative_to(dst)) for q in dst.rglob("*") if q.is_file() and ".vidcolor" not in q.parts} - {
            k for k, v in expect.items() if v in ("done", "skipped")}  # colour photos are copied unchanged
        problems += [f"unexpected output: {q}" for q in sorted(extra)]
        res = {"inputs": len(expect), "kills": kills, "final_exit_code": final.returncode, "summary": summary,
               "journal_entries": len(journal), "seconds_total": round(total_s, 1), "problems": problems}
    print(json.dumps({k: v for k, v in res.items() if k != "problems"}, indent=1))
    print(f"{len(problems)} problem(s)" + "".join(f"\n  {x}" for x in problems[:20]))
    if a.json:
        Path(a.json).write_text(json.dumps(res, indent=1))
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
