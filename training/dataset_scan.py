"""The data recipe's first stage: every wanted photo of a source, prepared (training/photo_prep.py) in
a small process pool and cached by content id, so a re-run only prepares what changed."""
from __future__ import annotations

import contextlib
import json
import multiprocessing as mp
import os
import re
import time
from collections import deque
from pathlib import Path

from training import photo_prep
from training.sources import IMAGE_EXTS, Source, git_blob_id
from vidcolor.errors import InputError

SAVE_EVERY = 500  # photos between writes of a source's record cache (what a killed run keeps)


def safe_name(rel: str) -> str:
    stem, ext = os.path.splitext(rel)
    stem = re.sub(r"[^A-Za-z0-9._/-]", "_", stem)
    return f"{stem}.jpg" if ext.lower() in (".jpg", ".jpeg") else f"{stem}_{ext[1:].lower()}.jpg"


_CLASSIFIER = None


def _init_worker(classifier) -> None:
    global _CLASSIFIER
    import cv2
    import torch
    torch.set_num_threads(1)  # the pool is the parallelism; nested threads only fight over 2 cores
    cv2.setNumThreads(1)
    _CLASSIFIER = classifier


def _work(task: tuple[bytes, photo_prep.PrepRules, str]) -> dict:
    data, rules, out_path = task
    rec, jpeg = photo_prep.prepare(data, rules, _CLASSIFIER)
    if jpeg is not None:
        os.makedirs(os.path.dirname(out_path), exist_ok=True)
        photo_prep.write_atomic(out_path, jpeg)
    return rec


@contextlib.contextmanager
def start_pool(workers: int, classifier):
    """A spawn pool of `workers` processes (None, and the work done in this process, for workers <= 1)."""
    if workers <= 1:
        _init_worker(classifier)
        yield None
        return
    pool = mp.get_context("spawn").Pool(workers, _init_worker, (classifier,))
    try:
        yield pool
    finally:
        pool.terminate()


def _ordered(pool, items, window: int):
    """(key, _work(task)) for (key, task) in `items`, in order, with at most `window` photos in flight."""
    if pool is None:
        for key, task in items:
            yield key, _work(task)
        return
    pending = deque()
    for key, task in items:
        pending.append((key, pool.apply_async(_work, (task,))))
        if len(pending) >= window:
            key0, res = pending.popleft()
            yield key0, res.get()
    while pending:
        key0, res = pending.popleft()
        yield key0, res.get()


def scan_source(src: Source, tree, rules: photo_prep.PrepRules, work: Path, pool, digest: str, log) -> tuple[dict, int]:
    """Records of every wanted photo of `src` (from the cache, or processed now), and how many image
    files under its folders its rules leave out."""
    files = tree.files()
    wanted = sorted(r for r in files if src.wants(r))
    in_folders = sum(r.lower().endswith(IMAGE_EXTS) and any(r.startswith(p) for p in src.include) for r in files)
    names = {r: safe_name(r) for r in wanted}
    if len(set(names.values())) < len(names):
        raise InputError(f"{tree.root}: two photos of {src.name} map to one output name")
    cache_path = work / "records" / f"{src.name}.json"
    cache = json.loads(cache_path.read_text()) if cache_path.is_file() else {}
    recs = cache.get("files", {}) if cache.get("params") == digest else {}
    img_dir = work / "img" / src.name

    def fresh(rel: str, blob: str | None) -> bool:
        r = recs.get(rel)
        return bool(r) and r["id"] == blob and (r["status"] != "ok" or (img_dir / r["file"]).is_file())

    def save():
        cache_path.parent.mkdir(parents=True, exist_ok=True)
        photo_prep.write_atomic(str(cache_path), json.dumps({"params": digest, "files": recs}).encode())

    def tasks():  # a plain folder's content id is only known once the file is read
        for rel, data in tree.read_many([(r, files[r]) for r in wanted if not fresh(r, files[r])]):
            blob = git_blob_id(data)
            if not fresh(rel, blob):
                yield (rel, blob), (data, rules, str(img_dir / names[rel]))

    t0, done = time.time(), 0
    for (rel, blob), rec in _ordered(pool, tasks(), window=16):
        recs[rel] = {"id": blob, "file": names[rel], **rec}
        if rec["status"] == "unreadable":
            log(f"  {src.name}: {rel}: unreadable ({rec['error']}), dropped")
        done += 1
        if done % SAVE_EVERY == 0:
            save()
            log(f"  {src.name}: {done} photos processed ({done / (time.time() - t0):.1f}/s)")
    recs = {r: recs[r] for r in wanted}
    save()
    log(f"  {src.name}: {len(wanted)} photos, {done} processed now ({time.time() - t0:.0f} s), the rest from the cache")
    return recs, in_folders - len(wanted)
