"""The data recipe's outputs: a folder tree brought in line with a {relative path: prepared file} map
(hard links, so the set costs no second copy), and the manifest with its printed tables."""
from __future__ import annotations

import errno
import json
import os
import shutil
from pathlib import Path

MARKER = ".vidcolor-data"  # written first: marks a folder this recipe owns (and may prune on a re-run)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except FileNotFoundError:
        return False


def _link(src: Path, dst: Path) -> None:
    tmp = dst.with_name(f".{dst.name}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        os.link(src, tmp)
    except OSError as e:
        if e.errno != errno.EXDEV:
            raise
        shutil.copyfile(src, tmp)  # another file system: a real copy
    os.replace(tmp, dst)


def publish(root: Path, files: dict[str, Path], log=print, owner: Path | None = None) -> None:
    """Make `root` hold exactly `files` (relative path -> prepared file) besides the marker and manifest.
    `owner`: the training set a scenes folder belongs to, kept in its marker (`marker_owner`)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / MARKER).write_text(json.dumps({"recipe": "vidcolor-data", **({"for": str(owner.resolve())} if owner else {})}) + "\n")
    removed = 0
    for dirpath, dirnames, filenames in os.walk(root, topdown=False):
        for f in filenames:
            p = Path(dirpath) / f
            rel = p.relative_to(root).as_posix()
            if rel not in files and rel not in (MARKER, "manifest.json"):
                p.unlink()
                removed += 1
        if dirpath != str(root) and not os.listdir(dirpath):
            os.rmdir(dirpath)
    added = 0
    for rel, src in sorted(files.items()):
        dst = root / rel
        if not _same_file(src, dst):
            dst.parent.mkdir(parents=True, exist_ok=True)
            _link(src, dst)
            added += 1
    log(f"{root}: {len(files)} photos ({added} new or changed, {removed} removed)")


def marker_owner(root: Path) -> str | None:
    """The training set whose scenes folder `root` is, as its marker says (None: not said, or no marker)."""
    try:
        return json.loads((root / MARKER).read_text()).get("for")
    except (OSError, ValueError, AttributeError):
        return None


def _table(header: list[str], rows: list[list]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    fmt = lambda r: "  ".join(str(x).rjust(w) if i else str(x).ljust(w) for i, (x, w) in enumerate(zip(r, widths)))
    return "\n".join([fmt(header), fmt(["-" * w for w in widths]), *map(fmt, rows)])


def tables(m: dict) -> str:
    """The per-source and per-domain tables of a manifest, as text."""
    reasons = ["unreadable", "small", "gray", "duplicate", "near_duplicate", "capped"]
    rows = []
    for name, s in m["sources"].items():
        d = s["dropped"]
        rows.append([name, ",".join(s["kept_by_domain"]) or "-", s["found"], *(d.get(r, 0) for r in reasons),
                     s["scenes"].get("city", 0), s["scenes"].get("indoor", 0), s["kept"]])
    tot = [sum(r[i] for r in rows) for i in range(2, len(rows[0]))] if rows else []
    src = _table(["source", "domains", "found", *reasons, "scenes city", "scenes indoor", "kept"],
                 rows + [["all", "", *tot]])
    drows = [[d, v["available"], v["kept"], ", ".join(f"{s} {n}" for s, n in v["sources"].items())]
             for d, v in m["domains"].items()]
    dom = _table(["domain", "available", "kept", "by source"], drows + [["all", "", m["total"], ""]])
    return f"{src}\n\n{dom}"


def write_manifest_table(out: Path, manifest: dict, log=print) -> None:
    tmp = out / ".manifest.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=1) + "\n")
    os.replace(tmp, out / "manifest.json")
    log(tables(manifest))
