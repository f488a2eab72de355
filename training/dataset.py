"""python -m training data: build the v2 training set (and the `scenes` validation set) from
../shared/data/train and the public repositories of training/sources.py, by one deterministic recipe.

    nice -n 10 python -m training data --shared ../shared/data/train --repos /work/.mirror \\
        --out /root/vidcolor-data/v2 [--scenes-out /root/vidcolor-data/scenes] [--pack /root/vidcolor-data/pack-50mb.tar]

--repos holds one copy per repository: `owner+name/repo` or `owner+name` (a bare git directory, read
with git: HEAD's tree) or `name` (a plain folder, e.g. a clone's work tree). Every photo is decoded,
cropped of padding, shrunk to a short side of at most --max-side, dropped when small or gray, and
cached by content id under WORK (default OUT.work), so a re-run only redoes what changed. Exact and
near duplicates (64-bit DCT hash and 8x8 colour thumbnail) are dropped across all sources; --scenes
city and indoor photos of ADE20K are held out into SCENES_OUT; each domain is capped at --per-domain-cap, shared
evenly over its sources. OUT/<domain>/<source>/*.jpg are hard links into WORK; OUT/manifest.json
records every count, drop reason and licence.
"""
from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import sys
import time
import zlib
from collections import Counter, deque
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from training import photo_prep
from training.dataset_out import MARKER, marker_owner, publish, write_manifest_table
from training.dataset_scan import scan_source, start_pool
from training.sources import ALL_SOURCES, SEGMENTER, Source, find_repo, git_blob_id, open_source, open_tree
from vidcolor.errors import InputError, OutputError, UsageError, VidcolorError

RECIPE_VERSION = 1  # bump when a change to the recipe must redo every cached photo
SCENE_LABELS = ("city", "indoor")
NEAR_DUP_BITS = 8  # hashes at most this many bits apart, and
NEAR_DUP_RGB = 14.0  # 8x8 thumbnails at most this far apart (0-255 scale): one photo (resized, recompressed, next frame)
PREP_CONSTANTS = {k: getattr(photo_prep, k) for k in ("JPEG_QUALITY", "GRAY_CHROMA", "PAD_TOLERANCE", "PAD_SHARE",
                                                    "SEG_SIZE")}  # a change redoes the cached photos


@dataclass
class BuildConfig:
    out: Path
    shared: Path | None = None
    repos: Path | None = None
    scenes_out: Path | None = None  # default: OUT's sibling `scenes`
    work: Path | None = None  # default: OUT's sibling `<OUT>.work`
    sources: tuple[str, ...] = ()  # names from training/sources.py; empty: all of them
    max_side: int = photo_prep.MAX_SIDE
    scenes: int = 300
    per_domain_cap: int = 4000
    near_dup_bits: int = NEAR_DUP_BITS
    seed: int = 0
    workers: int = 2
    overwrite: bool = False

    def __post_init__(self):
        self.out = Path(self.out)
        self.scenes_out = Path(self.scenes_out) if self.scenes_out else self.out.parent / "scenes"
        self.work = Path(self.work) if self.work else self.out.parent / f"{self.out.name}.work"


def _load_classifier(cfg: BuildConfig):
    where = find_repo(cfg.repos, SEGMENTER[0]) if cfg.repos else None
    if where is None:
        raise InputError(f"{cfg.repos}: no copy of {SEGMENTER[0]}, whose {SEGMENTER[1]} sorts photos into city and indoor")
    if importlib.util.find_spec("onnxruntime") is None:  # checked here so it fails before any work
        raise InputError("onnxruntime is not installed; the scene classifier needs it: pip install -e '.[train]'")
    model = open_tree(where).read(SEGMENTER[1])
    clf = photo_prep.SceneClassifier(model)
    clf.version = git_blob_id(model)
    return clf


def _check_outputs(cfg: BuildConfig, sources: list[Path] = ()) -> None:
    o, s, w = cfg.out.resolve(), cfg.scenes_out.resolve(), cfg.work.resolve()
    nested = lambda a, b: a == b or a in b.parents or b in a.parents
    for d in (cfg.out, cfg.scenes_out, cfg.work):
        if d.exists() and not d.is_dir():  # a NotADirectoryError traceback (a researcher's test)
            raise OutputError(f"{d}: a file, not a folder")
        for root in sources:  # a second build read the first one's cache and set as source photos
            if nested(d.resolve(), root.resolve()):
                raise OutputError(f"{d}: inside the source folder {root} (or holding it): the next build would read it as photos")
    if nested(o, s):
        raise OutputError(f"{cfg.scenes_out}: the scenes set must not be inside the training set or contain it ({cfg.out})")
    if nested(w, o) or nested(w, s):
        raise OutputError(f"{cfg.work}: the cache must be outside {cfg.out} and {cfg.scenes_out} (their files are pruned)")
    for d in (cfg.out, cfg.scenes_out):
        if d.exists() and any(d.iterdir()) and not (d / MARKER).exists() and not cfg.overwrite:
            raise OutputError(f"{d}: not empty and not written by this recipe (use --overwrite to replace it)")
    owner = marker_owner(cfg.scenes_out)  # the default OUT/../scenes is shared by every build beside OUT
    if owner is not None and owner != str(o) and not cfg.overwrite:  # a trial build had emptied another's
        raise OutputError(f"{cfg.scenes_out}: holds the scenes set of {owner}; give this build its own --scenes-out "
                          "(or --overwrite to replace it)")


# Allowed ranges of the numeric settings (low, high). --max-side 0 had written every photo at 1x1 pixels over a
# built set, and a negative --scenes held out every city and indoor photo: the smallest short side a source keeps
# (96) is the least a photo may be shrunk to, or the recipe writes what it calls too small.
RANGES = {"max_side": (min(s.min_short for s in ALL_SOURCES), 1 << 16), "scenes": (0, 10**7),
          "per_domain_cap": (1, 10**9), "near_dup_bits": (0, 64), "workers": (0, 256)}


def _check_numbers(cfg: BuildConfig) -> None:
    for name, (lo, hi) in RANGES.items():
        v = getattr(cfg, name)
        if not lo <= v <= hi:
            raise UsageError(f"--{name.replace('_', '-')} {v}: must be from {lo} to {hi}")


def _domain(src: Source, rec: dict) -> str:
    if not src.classify:
        return src.domain
    return {"indoor": "indoor", "city": "street"}.get(photo_prep.scene_from_shares(rec["classes"]), src.other_domain)


def dedupe(cands: list[tuple[tuple[str, str], dict]], bits: int, same=None) -> dict[tuple[str, str], tuple[str, tuple[str, str]]]:
    """Greedy in the given order: a photo is dropped when an earlier kept one has the same content
    ('duplicate'), or a perceptual hash at most `bits` bits away and `same(key, kept_key)` agrees
    ('near_duplicate'). -> {key: (reason, kept key)}"""
    by_id, kept_keys = {}, []
    hashes = np.empty(len(cands), np.uint64)
    dropped = {}
    for key, rec in cands:
        if rec["id"] in by_id:
            dropped[key] = ("duplicate", by_id[rec["id"]])
            continue
        h = np.uint64(int(rec["phash"], 16))
        dist = np.bitwise_count(hashes[:len(kept_keys)] ^ h)
        near = np.flatnonzero(dist <= bits)
        match = next((kept_keys[j] for j in near[np.argsort(dist[near], kind="stable")]
                      if same is None or same(key, kept_keys[j])), None)
        if match is not None:
            dropped[key] = ("near_duplicate", match)
            continue
        by_id[rec["id"]] = key
        hashes[len(kept_keys)] = h
        kept_keys.append(key)
    return dropped


class SameColours:
    """Whether two prepared photos also agree in colour and layout: mean absolute difference of their
    8x8 RGB thumbnails. The 64-bit hash alone matches different people in aligned face crops (measured
    on UTKFace: such pairs differ by 16 to 30 here, true duplicates and next video frames by 0 to 15)."""

    def __init__(self, work: Path, records: dict, limit: float = NEAR_DUP_RGB):
        self.work, self.records, self.limit, self._thumbs = work, records, limit, {}

    def _thumb(self, key: tuple[str, str]) -> np.ndarray:
        if key not in self._thumbs:
            with Image.open(self.work / "img" / key[0] / self.records[key[0]][key[1]]["file"]) as im:
                self._thumbs[key] = np.asarray(im.convert("RGB").resize((8, 8), Image.BOX), np.float32)
        return self._thumbs[key]

    def __call__(self, a: tuple[str, str], b: tuple[str, str]) -> bool:
        return float(np.abs(self._thumb(a) - self._thumb(b)).mean()) <= self.limit


def seeded_order(rels: list[str], seed: int, *salt) -> list[str]:
    """`rels` in an order fixed by the seed and the salt (names, not positions: adding a source moves no other)."""
    rng = np.random.default_rng([seed, *(zlib.crc32(str(s).encode()) for s in salt)])
    return [rels[i] for i in rng.permutation(len(rels))]


def hold_out(pools: dict[str, dict[str, list[str]]], n: int, seed: int) -> dict[str, dict[str, list[str]]]:
    """{label: {source: rels}} -> the same, at most n photos in all (half per label), taken in turn
    from each source in a seeded order."""
    out = {}
    for i, label in enumerate(SCENE_LABELS):
        target = n // len(SCENE_LABELS) + (i < n % len(SCENE_LABELS))
        queues = {s: deque(seeded_order(sorted(rels), seed, "scenes", label, s)) for s, rels in pools.get(label, {}).items()}
        taken = {s: [] for s in queues}
        while target and any(queues.values()):
            for s, q in queues.items():
                if q and target:
                    taken[s].append(q.popleft())
                    target -= 1
        out[label] = {s: sorted(t) for s, t in taken.items() if t}
    return out


def cap_domain(by_source: dict[str, list[str]], cap: int, seed: int, domain: str) -> dict[str, list[str]]:
    """At most `cap` photos, shared as evenly as the sources' sizes allow (water-filling), a seeded sample of each."""
    if sum(map(len, by_source.values())) <= cap:
        return by_source
    out, left = {}, cap
    order = sorted(by_source, key=lambda s: (len(by_source[s]), s))
    for i, s in enumerate(order):
        k = min(len(by_source[s]), left // (len(order) - i))
        out[s] = sorted(seeded_order(sorted(by_source[s]), seed, "cap", domain, s)[:k])
        left -= k
    return {s: out[s] for s in by_source}


def _sources(names: tuple[str, ...]) -> list[Source]:
    known = {s.name: s for s in ALL_SOURCES}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise InputError(f"--sources: unknown {', '.join(unknown)} (known: {', '.join(known)})")
    return [s for s in ALL_SOURCES if not names or s.name in names]


def build(cfg: BuildConfig, classifier=None, log=print) -> dict:
    """Build (or bring up to date) OUT and SCENES_OUT; return the manifest. Inputs and outputs are
    checked before any photo is read; `classifier` (RGB uint8 array -> {ADE20K class id: share of
    the pixels}, read by photo_prep.scene_from_shares) defaults to the segmenter found in --repos."""
    _check_numbers(cfg)
    srcs = _sources(cfg.sources)
    trees = {s.name: open_source(s, cfg.shared, cfg.repos) for s in srcs}
    _check_outputs(cfg, [Path(t.root) for t in trees.values()])
    if classifier is None and any(s.classify for s in srcs):
        classifier = _load_classifier(cfg)
    clf_version = getattr(classifier, "version", type(classifier).__name__)
    t0 = time.time()
    records, ruled_out = {}, {}
    with start_pool(cfg.workers, classifier) as pool:
        for s in srcs:
            rules = photo_prep.PrepRules(cfg.max_side, s.min_short, s.pad_rgb, s.classify)
            digest = hashlib.sha1(json.dumps([RECIPE_VERSION, asdict(rules), PREP_CONSTANTS,
                                              clf_version if s.classify else None]).encode()).hexdigest()
            log(f"{s.name}: reading {trees[s.name].root}")
            records[s.name], ruled_out[s.name] = scan_source(s, trees[s.name], rules, cfg.work, pool, digest, log)
    log(f"photos read and prepared in {time.time() - t0:.0f} s")

    ok = [((s.name, rel), rec) for s in srcs for rel, rec in sorted(records[s.name].items()) if rec["status"] == "ok"]
    dups = dedupe(ok, cfg.near_dup_bits, SameColours(cfg.work, records))
    unique = [(k, rec) for k, rec in ok if k not in dups]
    by_name = {s.name: s for s in srcs}
    pools: dict[str, dict[str, list[str]]] = {}
    for (s, rel), rec in unique:
        scene = photo_prep.scene_from_shares(rec["classes"]) if by_name[s].classify else None
        if by_name[s].holdout and scene in SCENE_LABELS:
            pools.setdefault(scene, {}).setdefault(s, []).append(rel)
    scenes = hold_out(pools, cfg.scenes, cfg.seed)
    held = {(s, rel) for label in scenes.values() for s, rels in label.items() for rel in rels}
    by_domain: dict[str, dict[str, list[str]]] = {}
    for (s, rel), rec in unique:
        if (s, rel) not in held:
            by_domain.setdefault(_domain(by_name[s], rec), {}).setdefault(s, []).append(rel)
    kept = {d: cap_domain(by_domain[d], cfg.per_domain_cap, cfg.seed, d) for d in sorted(by_domain)}

    train_files = {f"{d}/{s}/{records[s][rel]['file']}": cfg.work / "img" / s / records[s][rel]["file"]
                   for d, per in kept.items() for s, rels in per.items() for rel in rels}
    scene_files = {f"{label}/{s}/{records[s][rel]['file']}": cfg.work / "img" / s / records[s][rel]["file"]
                   for label, per in scenes.items() for s, rels in per.items() for rel in rels}
    publish(cfg.out, train_files, log)
    publish(cfg.scenes_out, scene_files, log, owner=cfg.out)
    photo_prep.write_atomic(str(cfg.work / "duplicates.json"), json.dumps(
        {f"{s}/{rel}": [reason, f"{k[0]}/{k[1]}"] for (s, rel), (reason, k) in dups.items()}, indent=0).encode())
    manifest = make_manifest(cfg, srcs, trees, records, ruled_out, dups, scenes, by_domain, kept)
    write_manifest_table(cfg.out, manifest, log)
    log(f"built in {time.time() - t0:.0f} s: {len(train_files)} training photos in {cfg.out}, "
        f"{len(scene_files)} in {cfg.scenes_out}")
    return manifest


def make_manifest(cfg, srcs, trees, records, ruled_out, dups, scenes, by_domain, kept) -> dict:
    per_source = {}
    for s in srcs:
        status = Counter(r["status"] for r in records[s.name].values())
        drops = {k: status[k] for k in ("unreadable", "small", "gray")}
        drops.update(Counter(reason for (src, _), (reason, _) in dups.items() if src == s.name))
        n_held = {label: len(per.get(s.name, [])) for label, per in scenes.items()}
        avail = {d: len(per[s.name]) for d, per in by_domain.items() if s.name in per}
        kept_d = {d: len(per[s.name]) for d, per in kept.items() if s.name in per}
        per_source[s.name] = {
            "repo": s.repo if s.repo != "shared" else f"shared/{s.folder}", "commit": trees[s.name].commit,
            "paths": list(s.include), "licence": s.licence, "ruled_out_by_name": ruled_out[s.name],
            "found": len(records[s.name]), "dropped": {**drops, "capped": sum(avail.values()) - sum(kept_d.values())},
            "scenes": n_held, "kept": sum(kept_d.values()), "kept_by_domain": kept_d,
        }
        if s.classify:  # what the segmenter made of the readable, colour photos, before dedupe
            per_source[s.name]["scene_types"] = dict(sorted(Counter(
                photo_prep.scene_from_shares(r["classes"]) for r in records[s.name].values() if r["status"] == "ok").items()))
    domains = {d: {"available": sum(map(len, by_domain[d].values())), "kept": sum(map(len, per.values())),
                   "sources": {s: len(r) for s, r in per.items()}} for d, per in kept.items()}
    return {
        "recipe": "vidcolor-data", "recipe_version": RECIPE_VERSION, "seed": cfg.seed, "max_side": cfg.max_side,
        "jpeg_quality": photo_prep.JPEG_QUALITY, "gray_chroma": photo_prep.GRAY_CHROMA,
        "near_dup_bits": cfg.near_dup_bits, "near_dup_rgb": NEAR_DUP_RGB, "per_domain_cap": cfg.per_domain_cap,
        "total": sum(d["kept"] for d in domains.values()), "sources": per_source, "domains": domains,
        "scenes": {"out": str(cfg.scenes_out), **{label: {s: len(r) for s, r in per.items()} for label, per in scenes.items()}},
    }


def add_arguments(p: argparse.ArgumentParser) -> None:
    d = BuildConfig(out=Path("."))
    p.add_argument("--out", type=Path, required=True, help="the training set: OUT/<domain>/<source>/*.jpg")
    p.add_argument("--shared", type=Path, help="../shared/data/train")
    p.add_argument("--repos", type=Path, help="folder of repository copies (bare git directories or plain folders)")
    p.add_argument("--scenes-out", type=Path, help="held-out city and indoor photos (default: OUT/../scenes)")
    p.add_argument("--work", type=Path, help="cache of prepared photos (default: OUT.work beside OUT)")
    p.add_argument("--sources", default="", help="comma-separated source names (default: all)")
    for name in ("max_side", "scenes", "per_domain_cap", "near_dup_bits", "seed", "workers"):
        p.add_argument(f"--{name.replace('_', '-')}", type=int, default=getattr(d, name))
    p.add_argument("--overwrite", action="store_true", help="replace outputs this recipe did not write")
    p.add_argument("--pack", type=Path, help="also write a tar of a domain-balanced subset of at most --pack-mb")
    p.add_argument("--pack-mb", type=float, default=50.0)
    p.add_argument("--pack-side", type=int, default=192, help="short side of the packed photos")


def cmd_data(a: argparse.Namespace) -> None:
    from training.pack import MIN_PACK_SIDE, check_pack_target, write_pack

    if a.pack and (not a.pack_mb > 0 or a.pack_side < MIN_PACK_SIDE):  # as `pack` checks --mb and --side: a pack of 1x1 photos
        sys.exit(f"--pack-mb {a.pack_mb} --pack-side {a.pack_side}: need --pack-mb above 0, --pack-side at least {MIN_PACK_SIDE}")
    cfg = BuildConfig(out=a.out, shared=a.shared, repos=a.repos, scenes_out=a.scenes_out, work=a.work,
                      sources=tuple(n for n in a.sources.split(",") if n), max_side=a.max_side, scenes=a.scenes,
                      per_domain_cap=a.per_domain_cap, near_dup_bits=a.near_dup_bits, seed=a.seed,
                      workers=a.workers, overwrite=a.overwrite)
    try:
        if a.pack:
            check_pack_target(a.pack, a.overwrite)
        build(cfg)
        if a.pack:
            write_pack(cfg.out, a.pack, max_mb=a.pack_mb, short_side=a.pack_side, seed=a.seed, overwrite=a.overwrite)
    except VidcolorError as e:
        sys.exit(str(e))
