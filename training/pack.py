"""A packed, domain-balanced subset of a built training set: one uncompressed tar of JPEGs at a small
short side, at most `max_mb`, for short GPU runs (`tar xf pack.tar` gives <stem>/<domain>/<source>/*.jpg
and <stem>/manifest.json). Byte-identical for the same set and seed."""
from __future__ import annotations

import io
import json
import os
import tarfile
from pathlib import Path

from PIL import Image

from training.dataset import seeded_order
from training.photo_prep import JPEG_QUALITY
from vidcolor.errors import InputError, OutputError, first_line
from vidcolor.folder import find_images
from vidcolor.io.images import read_rgb8

PACK_RECIPE = "vidcolor-data-pack"
_TAR_OVERHEAD = 1024  # a member's header and padding, at most
MIN_PACK_SIDE = 16  # the least short side a packed photo may be shrunk to (`pack --side`, `data --pack-side`)


def check_pack_target(path: Path, overwrite: bool) -> None:
    """Refuse to replace a file that is not a pack this module wrote, unless `overwrite`."""
    if not path.exists() or overwrite:
        return
    try:
        with tarfile.open(path) as t:
            first = t.next()
            ours = first is not None and first.name.endswith("/manifest.json") and \
                json.load(t.extractfile(first)).get("recipe") == PACK_RECIPE
    except (tarfile.TarError, OSError, ValueError):
        ours = False
    if not ours:
        raise OutputError(f"{path}: exists and is not a pack written by this recipe (use --overwrite)")


def _shrink(path: Path, short_side: int, quality: int = JPEG_QUALITY) -> bytes:
    """The photo as training reads it (read_rgb8: EXIF orientation applied, 16-bit rounded), shrunk: PIL's own
    convert packed a photo stored on its side (EXIF orientation 6) sideways, its EXIF dropped (a researcher's find)."""
    im = Image.fromarray(read_rgb8(path))
    s = short_side / min(im.size)
    if s < 1:
        im = im.resize((max(1, round(im.width * s)), max(1, round(im.height * s))), Image.LANCZOS, reducing_gap=3.0)
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def _domain_source(rel: str) -> tuple[str, str]:
    """A photo's domain and source, from root/<domain>/<source>/...; "." where it lies higher: a folder of one's
    own photos, flat or in one level of folders, was a traceback (a researcher's find)."""
    parts = rel.split("/")
    return (parts[0] if len(parts) > 1 else "."), (parts[1] if len(parts) > 2 else ".")


def balanced_order(root: Path, seed: int) -> list[Path]:
    """Every photo under root/<domain>/..., interleaved over domains and, within a domain, over sources,
    each in a seeded order: any prefix of the list is as balanced as the set allows."""
    groups: dict[str, dict[str, list[str]]] = {}
    for p in find_images(root):
        rel = p.relative_to(root).as_posix()
        d, s = _domain_source(rel)
        groups.setdefault(d, {}).setdefault(s, []).append(rel)
    per_domain = []
    for d in sorted(groups):
        queues = [seeded_order(groups[d][s], seed, "pack", d, s) for s in sorted(groups[d])]
        per_domain.append([q[i] for i in range(max(map(len, queues))) for q in queues if i < len(q)])
    return [root / q[i] for i in range(max(map(len, per_domain), default=0)) for q in per_domain if i < len(q)]


def packed_photos(root: Path, earlier: list[Path]) -> set[Path]:
    """The photos of `root` that earlier packs of it hold (`pack --after`), so a further pack takes none of them
    and a lent GPU, whose packs stay while it is warm (docs/gpu_session.md), trains on their union. OutputError
    names a file that is not such a pack, or a pack of another set."""
    held: set[Path] = set()
    for pack in earlier:
        try:
            with tarfile.open(pack) as t:
                first = t.next()
                manifest = json.load(t.extractfile(first)) if first is not None and first.name.endswith("/manifest.json") else {}
                names = t.getnames()
        except (tarfile.TarError, OSError, ValueError) as e:
            raise OutputError(f"{pack}: not a readable pack ({first_line(e, 100, default=type(e).__name__)})") from None
        if manifest.get("recipe") != PACK_RECIPE:
            raise OutputError(f"{pack}: not a pack written by this recipe")
        if Path(manifest["from"]).resolve() != root.resolve():
            raise OutputError(f"{pack}: packs {manifest['from']}, not {root}")
        held.update(root / n.split("/", 1)[1] for n in names[1:])
    return held


def write_pack(root: Path, path: Path, max_mb: float = 50.0, short_side: int = 192, seed: int = 0,
               overwrite: bool = False, quality: int = JPEG_QUALITY, exclude: frozenset[str] = frozenset(),
               after: list[Path] = (), log=print) -> dict:
    """`exclude`: resolved paths to leave out (a run's holdout.txt, so what tunes its decoding stays unseen).
    `after`: earlier packs of the same set, whose photos this one leaves out (`packed_photos`)."""
    check_pack_target(path, overwrite)
    earlier = packed_photos(root, list(after))
    budget = int(max_mb * 1e6) - 16 * 1024  # room for the manifest and the tar's end blocks
    order = balanced_order(root, seed)
    held = {p for p in order if str(p.resolve()) in exclude} if exclude else set()
    members, used, skipped, before = [], 0, 0, 0
    unreadable = []
    for p in order:
        if p in held:
            skipped += 1
            continue
        if p in earlier:
            before += 1
            continue
        try:
            data = _shrink(p, short_side, quality)
        except InputError as e:  # left out, named: it stopped the pack with a traceback
            unreadable.append(p)
            log(f"{first_line(e, 200)}: unreadable, left out")
            continue
        if used + len(data) + _TAR_OVERHEAD > budget:
            break
        members.append((p.relative_to(root).as_posix(), data))
        used += len(data) + _TAR_OVERHEAD
    if not members:  # an empty tar with exit 0 (a wrong --from, or an --mb below one photo)
        raise InputError(f"{root}: no photo fits" + (f" in {max_mb} MB" if order else " (no photos found under it)")
                         + f"; nothing written to {path}")
    counts: dict[str, int] = {}
    for rel, _ in members:
        d = _domain_source(rel)[0]
        counts[d] = counts.get(d, 0) + 1
    manifest = {"recipe": PACK_RECIPE, "from": str(root), "short_side": short_side, "seed": seed, "quality": quality,
                "photos": len(members), "excluded": skipped, "domains": counts,
                **({"after": [Path(p).name for p in after], "in_earlier_packs": before} if after else {})}
    stem = path.name.split(".")[0]
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with tarfile.open(tmp, "w", format=tarfile.GNU_FORMAT) as t:
        for rel, data in [("manifest.json", json.dumps(manifest, indent=1).encode()), *members]:
            info = tarfile.TarInfo(f"{stem}/{rel}")
            info.size, info.mtime, info.mode = len(data), 0, 0o644  # fixed metadata: the same bytes every time
            t.addfile(info, io.BytesIO(data))
    os.replace(tmp, path)
    log(f"{path}: {len(members)} photos at short side {short_side}, {path.stat().st_size / 1e6:.1f} MB; {counts}"
        + (f"; {skipped} excluded before the size limit" if exclude else "")
        + (f"; {before} left out as in {', '.join(str(p) for p in after)}" if after else ""))
    if exclude and not held:
        log(f"warning: none of the {len(exclude)} photos to exclude is under {root} (paths as the run wrote them?)")
    return manifest
