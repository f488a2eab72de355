"""A generated archive on a local multi-node Ray cluster against the one-machine run: every output within
one level per pixel of the one-machine output, every input in the journal and the report once.

It starts `ray.cluster_utils.Cluster` with --nodes nodes of one CPU each on this machine, runs the real
command (`python -m vidcolor ARCHIVE -o OUT --ray ADDRESS --report ...`) and the one-machine command
on the same photos, and compares outputs, journals, reports and exit codes.

    python benchmarks/ray_archive.py --images 500 --nodes 3
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image


def make_archive(root: Path, n: int) -> int:
    """n gray photos (PNG, lossless, so outputs can be compared to the level) of mixed sizes in 20 folders,
    plus one broken file; returns the number of inputs."""
    rng = np.random.default_rng(1)
    for i in range(n):
        h, w = int(rng.integers(96, 400)), int(rng.integers(96, 400))
        y, x = np.mgrid[0:h, 0:w]
        g = 127 + 100 * np.sin(x / rng.uniform(4, 20) + i) * np.cos(y / rng.uniform(4, 20))
        p = root / f"box{i % 20:02d}" / f"scan{i:04d}.png"
        p.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.clip(g + rng.normal(0, 5, g.shape), 0, 255).astype(np.uint8), "L").save(p)
    (root / "box00" / "broken.png").write_text("not a photo")
    return n + 1


def run(args: list, log: Path) -> tuple[int, float]:
    t = time.perf_counter()
    with open(log, "w") as f:
        rc = subprocess.run([sys.executable, "-m", "vidcolor", *map(str, args)], stdout=f, stderr=subprocess.STDOUT).returncode
    return rc, time.perf_counter() - t


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--images", type=int, default=500)
    p.add_argument("--nodes", type=int, default=3)
    p.add_argument("--json", type=Path)
    a = p.parse_args()
    from ray.cluster_utils import Cluster

    out: dict = {"images": a.images, "nodes": a.nodes, "load_before": os.getloadavg()}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        inputs = make_archive(tmp / "in", a.images)
        cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
        try:
            for _ in range(a.nodes - 1):
                cluster.add_node(num_cpus=1)
            cluster.wait_for_nodes()
            out["ray_rc"], out["ray_s"] = run([tmp / "in", "-o", tmp / "ray", "--ray", cluster.address, "-q",
                                               "--report", tmp / "ray.jsonl"], tmp / "ray.log")
        finally:
            cluster.shutdown()
        out["one_rc"], out["one_s"] = run([tmp / "in", "-o", tmp / "one", "-q", "--report", tmp / "one.jsonl"], tmp / "one.log")
        out.update(compare(tmp, inputs))
    out["load_after"] = os.getloadavg()
    print(json.dumps(out, indent=1))
    if a.json:
        a.json.write_text(json.dumps(out, indent=1))


def compare(tmp: Path, inputs: int) -> dict:
    one = sorted(p.relative_to(tmp / "one") for p in (tmp / "one").rglob("*.png"))
    ray = sorted(p.relative_to(tmp / "ray") for p in (tmp / "ray").rglob("*.png"))
    diffs = [int(np.abs(np.asarray(Image.open(tmp / "one" / r), np.int16) - np.asarray(Image.open(tmp / "ray" / r), np.int16)).max())
             for r in one if r in set(ray)]
    journal = [json.loads(line) for line in (tmp / "ray" / ".vidcolor" / "journal.jsonl").read_text().splitlines()]
    rows = [json.loads(line) for line in (tmp / "ray.jsonl").read_text().splitlines()]
    one_rows = [json.loads(line) for line in (tmp / "one.jsonl").read_text().splitlines()]
    status = lambda rs: sorted((r["input"], r["status"]) for r in rs if "input" in r)  # noqa: E731
    return {
        "outputs_one": len(one), "outputs_ray": len(ray), "same_output_set": one == ray,
        "max_level_difference": max(diffs) if diffs else None,
        "outputs_identical": sum(d == 0 for d in diffs),
        "journal_lines": len(journal), "journal_targets_unique": len({e["target"] for e in journal}), "inputs": inputs,
        "journal_statuses": {s: sum(e["status"] == s for e in journal) for s in ("done", "colour", "failed")},
        "report_rows": len(rows), "report_summary": rows[-1]["summary"], "one_summary": one_rows[-1]["summary"],
        "same_statuses_as_one_machine": status(rows) == status(one_rows),
        "leftovers": [str(x) for x in (tmp / "ray").rglob("*") if "vidcolor-partial" in x.name],
    }


if __name__ == "__main__":
    main()
