"""Self-describing checkpoints: the architecture name, its arguments, the decoding settings and the
state dict, so `load_checkpoint(path)` rebuilds the exact network (after whisper's ModelDimensions and
nanoGPT's model_args). Loading always uses weights_only=True.
"""
from __future__ import annotations

import io
import os
import secrets
from pathlib import Path

import torch
import torch.nn as nn

from vidcolor.errors import WeightsError
from vidcolor.io.paths import file_sha256
from vidcolor.models.bins import checkpoint_bins
from vidcolor.models.registry import create_model, list_models

FORMAT_VERSION = 1
_PREFIXES = ("module.", "_orig_mod.")  # DataParallel / DDP and torch.compile wrappers


def clean_state_dict(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Strip wrapper prefixes so a checkpoint saved from a wrapped model loads into a bare one."""
    out = {}
    for k, v in sd.items():
        changed = True
        while changed:
            changed = False
            for p in _PREFIXES:
                if k.startswith(p):
                    k, changed = k[len(p):], True
        out[k] = v
    return out


def checkpoint_dict(model: nn.Module, half: bool = False, meta: dict | None = None) -> dict:
    sd = clean_state_dict(model.state_dict())
    if half:  # fp16 storage halves the file; loading casts back to fp32
        sd = {k: v.half() if v.is_floating_point() else v for k, v in sd.items()}
    return {
        "format": FORMAT_VERSION,
        "arch": model.arch_name,
        "model_args": dict(model.model_args),
        "decode": model.decode_settings(),
        "state_dict": sd,
        "meta": dict(meta or {}),
    }


def atomic_save(obj, path: str | os.PathLike) -> None:
    """torch.save to a temporary file in the same folder, then rename: never a half-written checkpoint."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # not mkstemp, whose file is 0600 (then set to 0644 whatever the umask: private weights under umask 077
    # came out world-readable, a team's under 002 not group-writable): opened as `cp` opens, the umask applies
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    # saved through a buffer: torch names the zip's records after the file, so a temporary name made
    # the same export give another sha256 each time; from a buffer they are all "archive/..."
    buf = io.BytesIO()
    torch.save(obj, buf)
    f = open(tmp, "xb")  # before the try: a file already of that name (another writer's) is not ours to remove
    try:
        with f:
            f.write(buf.getbuffer())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def save_checkpoint(model: nn.Module, path: str | os.PathLike, half: bool = False, meta: dict | None = None) -> None:
    atomic_save(checkpoint_dict(model, half=half, meta=meta), path)


def model_from_checkpoint(ckpt) -> nn.Module:
    """Rebuild the network a checkpoint describes. WeightsError (without a path: the caller adds it)
    for anything that is not a vidcolor checkpoint or whose weights do not fit its architecture."""
    from vidcolor.weights import not_a_checkpoint

    if problem := not_a_checkpoint(ckpt, lambda v: isinstance(v, torch.Tensor)):
        raise WeightsError(problem)
    sd = {k: v.float() if v.is_floating_point() else v for k, v in clean_state_dict(ckpt["state_dict"]).items()}
    bins = sd.get("head.bins")
    if ckpt["arch"] not in list_models():
        raise WeightsError(f"made for an unknown architecture {ckpt['arch']!r} (known: {', '.join(list_models())})")
    try:
        with checkpoint_bins(bins if isinstance(bins, torch.Tensor) and bins.ndim == 2 and bins.shape[-1] == 2 else None):
            model = create_model(ckpt["arch"], **ckpt["model_args"])
    except (TypeError, ValueError) as e:
        raise WeightsError(f"arguments {ckpt['model_args']} do not fit architecture {ckpt['arch']!r} ({e})") from None
    try:
        model.load_state_dict(sd, strict=True)
    except RuntimeError as e:  # missing, unexpected or mis-shaped tensors
        problem = " ".join(line.strip() for line in str(e).splitlines()[1:3])[:200]
        raise WeightsError(f"the weights do not fit the {ckpt['arch']!r} architecture ({problem})") from None
    model.set_decode(**ckpt.get("decode", {}))
    model.checkpoint_meta = dict(ckpt.get("meta", {}))
    return model.eval()


def read_checkpoint_file(path: str | os.PathLike, sha256: str | None = None) -> tuple[dict, str]:
    """(the unpickled dict, its sha256) of a weights file: there, not empty, with `sha256` the hash it
    must have, and readable with weights_only=True; each failure a WeightsError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"{path}: weights file not found")
    if path.stat().st_size == 0:
        raise WeightsError(f"{path}: empty weights file (0 bytes)")
    digest = file_sha256(path)
    if sha256 is not None and digest != sha256:
        raise WeightsError(f"{path}: sha256 {digest[:12]}... does not match the listed {sha256[:12]}...; the file is corrupt or replaced")
    try:
        return torch.load(path, map_location="cpu", weights_only=True), digest
    except Exception as e:  # torch raises several types for a damaged or foreign file; each is named below
        raise WeightsError(f"{path}: {_unreadable(path, e)}") from None


def load_checkpoint(path: str | os.PathLike, sha256: str | None = None) -> nn.Module:
    """Rebuild a network from a vidcolor checkpoint; with `sha256`, refuse a file whose hash differs.

    Only tensors are ever unpickled (weights_only=True); a file that holds anything else is refused
    with what it is, never with advice to load it unsafely."""
    path = Path(path)
    ckpt, digest = read_checkpoint_file(path, sha256)
    try:
        model = model_from_checkpoint(ckpt)
    except WeightsError as e:
        raise WeightsError(f"{path}: {e}") from None
    model.weights_sha256 = digest
    model.weights_path = str(path)
    return model


def _unreadable(path: Path, e: Exception) -> str:
    """Why torch.load failed, in a few words (torch's own message suggests weights_only=False)."""
    with open(path, "rb") as f:
        is_zip = f.read(4) == b"PK\x03\x04"  # torch.save's format since 1.6
    text = str(e)
    if is_zip and ("central directory" in text or "zip archive" in text or isinstance(e, EOFError)):
        return "cannot read weights: the file is truncated or corrupt (its zip archive is incomplete)"
    if "Unsupported global" in text:
        found = text.split("GLOBAL ", 1)[1].split()[0] if "GLOBAL " in text else "Python objects"
        return (f"cannot read weights: the file holds pickled Python objects ({found}), not plain tensors; vidcolor "
                "loads only checkpoints saved by vidcolor (python -m training export)")
    return f"cannot read weights: not a PyTorch checkpoint ({type(e).__name__})"
