"""python -m training detector {build,train}: the "already in colour?" network (vidcolor.models.tone_net).

    python -m training detector build --data ~/vidcolor-data/v2 --first 0 --per-source 500 --out tone_a.npz
    python -m training detector build --data ~/vidcolor-data/v2 --first 500 --per-source 1000 --out tone_b.npz
    python -m training detector build --data ~/vidcolor-data/v2 --first 1500 --per-source 3000 --out tone_c.npz
    python -m training detector train tone_a.npz tone_b.npz tone_c.npz --chroma-scale 0.6 1.3 --out weights/tone_net.pt  # 8 epochs

`build` takes photos from the named source folders (default: the sources of the data recipe that are
not in ../shared/data, so that benchmarks/colour_detector.py, which samples ../shared/data, measures
photos the network never saw): from each source, sorted and shuffled with a fixed seed, the photos
first .. first + per-source. Each photo becomes two examples made by training/toned_corpus.py: a colour
scan (faded in 35% of cases, sometimes on a mount, scanner cast, grain, JPEG) labelled colour, and a
toned print of its gray (toning, mount, captions, stamps, foxing, fading, cast) labelled monochrome;
a quarter of them also a plain gray scan. Procedural scenes from the same generator add one eighth as
many again (two toned prints and one colour scene each). What is stored is the network's input,
vidcolor.tone.tone_net_input, in float16.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from multiprocessing import get_context
from pathlib import Path

import cv2
import numpy as np

from training.sources import _SHARED
from training.toned_corpus import TONINGS, _scan, colour_photo, colourful_scene, procedural_scene, toned_print
from vidcolor.io.images import read_image
from vidcolor.tone import tone_net_input

# The data recipe's sources that ../shared/data/train does not hold (training/sources.py).
SOURCES = ("ade20k", "voc2012", "voc_style", "ccp", "grocery", "pedestrians", "shanghaitech", "stanford_cars")
assert not set(SOURCES) & set(_SHARED), "ToneNet must not train on photos the benchmark draws from ../shared/data"
MAX_SIDE = 480  # photos are shrunk to this first; the network's input comes from a 256 px thumbnail
FADE_SHARE, GRAY_SHARE = 0.35, 0.25


def load_rgb8(p: Path, max_side: int = MAX_SIDE) -> np.ndarray:
    """A photo as 8-bit RGB, shrunk to at most `max_side` (benchmarks/colour_detector.py reads its photos so too)."""
    px = read_image(p).pixels
    px = px if px.dtype == np.uint8 else (px // 257).astype(np.uint8)
    s = max_side / max(px.shape[:2])
    return cv2.resize(px, (round(px.shape[1] * s), round(px.shape[0] * s)), interpolation=cv2.INTER_AREA) if s < 1 else px


def gray01(rgb: np.ndarray) -> np.ndarray:
    """8-bit RGB -> (h, w) float32 gray in [0, 1], what toned_print takes."""
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32) / 255


def _photo_examples(args: tuple[int, Path, int]) -> list[tuple[np.ndarray, int]]:
    i, p, first = args
    rng = np.random.default_rng(1000 + i + 100000 * first)
    try:
        rgb = load_rgb8(p)
    except Exception:  # an unreadable photo is left out (build logs the count)
        return []
    gray = gray01(rgb)
    out = [(tone_net_input(colour_photo(rng, rgb, fade=rng.random() < FADE_SHARE)), 1),
           (tone_net_input(toned_print(rng, gray)[0]), 0)]
    if rng.random() < GRAY_SHARE:
        out.append((tone_net_input(_scan(rng, np.repeat(gray[..., None], 3, axis=2), {})), 0))
    return out


def _generated_examples(args: tuple[int, int]) -> list[tuple[np.ndarray, int]]:
    """Two toned prints of procedural scenes (every toning in turn) and one colour scene (every third faded)."""
    i, first = args
    rng = np.random.default_rng(50000 + i + 100000 * first)
    tonings = list(TONINGS)
    out = []
    for j in range(2):
        k = 2 * i + j
        gray = procedural_scene(rng, *((320, 448) if k % 2 else (448, 320)))
        out.append((tone_net_input(toned_print(rng, gray, tonings[k % len(tonings)])[0]), 0))
    rgb = colourful_scene(rng, *((320, 448) if i % 2 else (448, 320)))
    out.append((tone_net_input(colour_photo(rng, rgb, fade=i % 3 == 2)), 1))
    return out


def source_photos(root: Path, sources, first: int, per_source: int, seed: int = 7) -> list[Path]:
    from vidcolor.folder import find_images  # here, not at the top: it imports PyAV, which training needs nowhere else

    rng = np.random.default_rng(seed)
    paths: list[Path] = []
    for s in sources:
        found = sorted(p for d in sorted(root.glob(f"*/{s}")) + sorted(root.glob(s)) for p in find_images(d))
        paths += list(rng.permutation(np.array(found, dtype=object))[first:first + per_source])
    return paths


def cmd_build(a: argparse.Namespace) -> None:
    t0 = time.time()
    paths = source_photos(Path(a.data), a.sources.split(","), a.first, a.per_source)
    jobs = [(i, p, a.first) for i, p in enumerate(paths)]
    n_gen = len(a.sources.split(",")) * a.per_source // 8
    rows, groups = [], []  # groups: which photo or scene each example comes from (the held-out split keeps them together)
    with get_context("spawn").Pool(a.workers) as pool:  # not fork: the parent already runs torch and OpenCV threads
        for g, rs in enumerate(pool.imap(_photo_examples, jobs, chunksize=8)):
            rows += rs
            groups += [g] * len(rs)
        for g, rs in enumerate(pool.imap(_generated_examples, [(i, a.first) for i in range(n_gen)], chunksize=4), len(jobs)):
            rows += rs
            groups += [g] * len(rs)
    x = np.stack([r[0] for r in rows])
    y = np.array([r[1] for r in rows], np.int8)
    with open(a.out, "wb") as f:  # np.savez(path) appends .npz to a name without it, and the message named the other file
        np.savez(f, X=x, y=y, group=np.array(groups, np.int64) + 10_000_000 * a.first)
    print(f"{a.out}: {len(paths)} photos and {n_gen} generated scenes -> {len(y)} examples "
          f"({int(y.sum())} colour), {time.time() - t0:.0f} s")


def cmd_train(a: argparse.Namespace) -> None:
    import torch
    import torch.nn.functional as F

    from vidcolor.io.paths import file_sha256
    from vidcolor.models.tone_net import ToneNet

    out = Path(a.out)
    if out.exists() and not a.overwrite:  # it replaced any file, the shipped detector included
        sys.exit(f"{out}: exists; pass --overwrite to replace it (a manifest.json beside it is updated too)")
    torch.manual_seed(a.seed)
    data = [np.load(f) for f in a.data]
    # kept in float16 (as stored; 50,000 examples are 3.7 GB) and made float32 a batch at a time
    x = torch.from_numpy(np.concatenate([d["X"] for d in data])).permute(0, 3, 1, 2).contiguous()
    y = torch.from_numpy(np.concatenate([d["y"] for d in data]).astype(np.float32))
    group = np.concatenate([d["group"] for d in data])
    ids = np.unique(group)
    held = np.random.default_rng(a.seed).permutation(ids)[:max(1, len(ids) // 10)]  # a tenth of the photos held out
    is_val = torch.from_numpy(np.isin(group, held))
    val, train = torch.nonzero(is_val).squeeze(1), torch.nonzero(~is_val).squeeze(1)
    net = ToneNet(a.width)
    opt = torch.optim.AdamW(net.parameters(), a.lr, weight_decay=a.weight_decay)
    steps = a.epochs * (len(train) // a.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, a.lr, total_steps=steps)
    gen = np.random.default_rng(a.seed)
    t0 = time.time()
    for ep in range(a.epochs):
        net.train()
        order = train[torch.randperm(len(train))]
        for i in range(0, len(order) - a.batch_size + 1, a.batch_size):
            xb, yb = x[order[i:i + a.batch_size]].float(), y[order[i:i + a.batch_size]]
            if gen.random() < 0.5:
                xb = xb.flip(3)
            if a.chroma_scale != [1.0, 1.0]:  # more or less saturated: a toned print stays toned, a colour photo colour
                k = torch.empty(len(xb), 1, 1, 1).uniform_(*a.chroma_scale)
                xb = torch.cat([xb[:, :1], xb[:, 1:] * k], 1)  # a*, b* and the residual (a*b* off the curve) scale alike
            loss = F.binary_cross_entropy_with_logits(net(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        net.eval()
        z = torch.cat([net.score(x[val[j:j + 1024]].float()) for j in range(0, len(val), 1024)])
        yv = y[val]
        worst_mono = float(z[yv == 0].max()) if bool((yv == 0).any()) else float("-inf")
        print(f"epoch {ep + 1}/{a.epochs}: loss {loss.item():.3f}, held-out accuracy {float(((z > 0) == (yv > 0)).float().mean()):.4f}, "
              f"colour scans at or below the highest monochrome one {float((z[yv == 1] <= worst_mono).float().mean()):.4f}, "
              f"{time.time() - t0:.0f} s", flush=True)
    torch.save({"width": net.width, "state_dict": net.state_dict(),
                "meta": {"data": [str(f) for f in a.data], "examples": len(y), "colour": int(y.sum()),
                         **{k: v for k, v in vars(a).items() if k in ("epochs", "batch_size", "lr", "weight_decay", "seed", "width", "chroma_scale")}}}, a.out)
    digest = file_sha256(a.out)
    manifest_path = out.parent / "manifest.json"  # a weights folder: its listed sha256 follows the new file
    if manifest_path.is_file():
        from vidcolor.io.paths import atomic_write_text

        manifest = json.loads(manifest_path.read_text())
        entry = manifest.get("tone_net")
        if isinstance(entry, dict) and entry.get("file") == out.name:
            entry["sha256"] = digest
            atomic_write_text(manifest_path, json.dumps(manifest, indent=1) + "\n")
            print(f"{manifest_path}: tone_net's sha256 updated")
    print(f"{a.out}: sha256 {digest}")


def add_arguments(ap: argparse.ArgumentParser) -> None:
    sub = ap.add_subparsers(dest="detector_cmd", required=True)
    b = sub.add_parser("build", help="make examples from photos")
    b.add_argument("--data", required=True, help="the data recipe's output (or any folder with the source folders)")
    b.add_argument("--sources", default=",".join(SOURCES))
    b.add_argument("--first", type=int, default=0)
    b.add_argument("--per-source", type=int, default=500)
    b.add_argument("--workers", type=int, default=2)
    b.add_argument("--out", required=True)
    b.set_defaults(detector_fn=cmd_build)
    t = sub.add_parser("train", help="train ToneNet on built examples")
    t.add_argument("data", nargs="+")
    t.add_argument("--out", required=True)
    t.add_argument("--overwrite", action="store_true", help="replace an existing --out (say, weights/tone_net.pt)")
    t.add_argument("--epochs", type=int, default=8)
    t.add_argument("--batch-size", type=int, default=64)
    t.add_argument("--lr", type=float, default=3e-3)
    t.add_argument("--weight-decay", type=float, default=1e-4)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--width", type=int, default=16, help="ToneNet's first layer's channels")
    t.add_argument("--chroma-scale", type=float, nargs=2, default=[1.0, 1.0], metavar=("LO", "HI"),
                   help="scale each example's a*, b* and residual by a factor drawn from [LO, HI]")
    t.set_defaults(detector_fn=cmd_train)


def cmd_detector(a: argparse.Namespace) -> None:
    a.detector_fn(a)
