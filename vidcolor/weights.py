"""Where trained weights come from, and `load_colorizer`, the front door for inference.

Shipped weights live in weights/ at the repository root; the wheel carries that folder as
vidcolor/_weights, so a plain `pip install .` finds them as well as an editable install does.
weights/manifest.json lists each model's file and sha256, which loading checks.
"""
from __future__ import annotations

import json
import os
import pickle
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

from vidcolor.errors import WeightsError
from vidcolor.io.paths import file_sha256

if TYPE_CHECKING:
    from vidcolor.colorizer import Colorizer

DEFAULT_MODEL = "effnet_unet"
_PKG = Path(__file__).resolve().parent


def _candidate_dirs() -> list[Path]:
    """Installed wheel first (vidcolor/_weights), then a source checkout's weights/: beside the package
    only where that is a checkout (a pyproject.toml there), never site-packages/weights, a folder
    nobody owns once installed (a wheel user's message named it)."""
    checkout = _PKG.parent / "pyproject.toml"
    return [_PKG / "_weights", *([_PKG.parent / "weights"] if checkout.is_file() else [])]


def weights_dirs() -> list[Path]:
    return [p for p in _candidate_dirs() if (p / "manifest.json").is_file()]


def manifest() -> dict[str, dict]:
    for d in weights_dirs():
        entries = json.loads((d / "manifest.json").read_text())
        return {name: {**e, "path": str(d / e["file"])} for name, e in entries.items()}
    return {}


def shipped_file(name: str, kind: str, advice: str = "") -> tuple[Path, str]:
    """(path, sha256) of the shipped file that manifest.json lists as `name` (a model, or "tone_net", the
    colour-photo detector); WeightsError when it lists none or the file is missing."""
    entry = manifest().get(name)
    if entry is None:
        looked = ", ".join(str(p) for p in _candidate_dirs())
        raise WeightsError(f"no trained weights file for {kind} {name!r} (looked in {looked}){advice}")
    path = Path(entry["path"])
    if not path.is_file():
        raise WeightsError(f"{path}: {kind} weights file listed in manifest.json is missing; {restore_advice(path)}")
    return path, entry["sha256"]


def restore_advice(path: Path) -> str:
    """How to get a shipped weights file back: a wheel's comes with vidcolor, a checkout's from git."""
    if path.parent == _PKG / "_weights":
        return "reinstall vidcolor (pip install --force-reinstall vidcolor, or pip install . in its source)"
    return f"restore it (git checkout -- {path.parent.name}/{path.name} in {path.parent.parent}) or reinstall vidcolor"


def check_shipped(name: str, kind: str, advice: str = "") -> Path:
    """The shipped file `name` (shipped_file), whole: its sha256 the listed one. Checked at the start of a
    run that needs it, before any input is decoded or a model loaded: a missing or truncated tone_net.pt
    (a copied checkout, a broken install) had failed a photo's run only after its decoding and the model's
    load, 19 s in on a large scan, and `vidcolor serve` on every photo with a 500 (a tester's find). A
    hash costs about 10 ms for the 8 MB network, 1 ms for the detector."""
    path, sha256 = shipped_file(name, kind, advice)
    try:
        digest = file_sha256(path)
    except OSError as e:
        raise WeightsError(f"{path}: cannot read the {kind} weights ({e.strerror or e}); {restore_advice(path)}") from None
    if digest != sha256:
        size = path.stat().st_size
        raise WeightsError(f"{path}: the {kind} weights file is corrupt or truncated ({size:,} bytes, sha256 {digest[:12]}... "
                           f"where manifest.json lists {sha256[:12]}...); {restore_advice(path)}")
    return path


def shipped_weights(model: str) -> tuple[Path, str]:
    """(path, sha256) of the shipped weights for `model`; WeightsError when there are none."""
    from vidcolor.models import list_models

    if model not in list_models():
        raise WeightsError(f"unknown model {model!r}; known models: {', '.join(list_models())}")
    return shipped_file(model, "model", "; pass --weights PATH to a checkpoint")


def check_weights_source(model: str | None, weights: str | Path | None) -> None:
    """What can be told of the weights without loading them, before the output's lock and any work: a
    weights file that is there, not empty and a zip archive or a pickle (torch.save's formats), or
    shipped weights listed for `model`, there and whole (check_shipped). WeightsError otherwise (a run refused for its weights only after
    taking the output's lock had left a `.vidcolor/` lock folder in the user's photo folder: a new user's
    test). load_colorizer still checks everything else (the hash, the network)."""
    if weights is None:
        check_shipped(DEFAULT_MODEL if model is None else model, "model", "; pass --weights PATH to a checkpoint")
        return
    path = Path(weights)
    if not path.is_file():
        raise WeightsError(f"{path}: weights file not found")
    if path.stat().st_size == 0:
        raise WeightsError(f"{path}: empty weights file (0 bytes)")
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
    except OSError as e:
        raise WeightsError(f"{path}: cannot read weights ({e.strerror or e})") from None
    if magic != b"PK\x03\x04" and magic[:1] != b"\x80":  # torch.save's zip, or the pickle of torch before 1.6
        raise WeightsError(f"{path}: cannot read weights: not a PyTorch checkpoint (neither a zip archive nor a pickle)")
    if magic == b"PK\x03\x04" and (problem := _zip_checkpoint_problem(path, model)):
        raise WeightsError(f"{path}: {problem}")


class _Stand(dict):
    """What a checkpoint's pickle builds for any class it names (a tensor, a storage, an OrderedDict): nothing
    is imported or run, so reading the top level is safe without torch."""

    def __init__(self, *args, **kwargs):
        pass

    def __setstate__(self, state):
        pass

    def append(self, item):
        pass

    def extend(self, items):
        pass


class _Peek(pickle.Unpickler):
    def find_class(self, module, name):
        return _Stand

    def persistent_load(self, pid):  # a tensor's storage, left in the archive
        return None


def _zip_checkpoint_problem(path: Path, model: str | None) -> str | None:
    """Why a torch.save zip is not the checkpoint asked for, from its central directory and its pickle's
    top level (a few KB; no tensor data, no torch): a truncated file, ToneNet or a training state, another
    architecture than `model`. Each had been found only by the load, after the input's decoding: 8.5 s into
    a 48 Mpx photo's run, and a video's first frames decoded (a tester's sweep)."""
    try:
        with zipfile.ZipFile(path) as z:
            name = next((n for n in z.namelist() if n.endswith("/data.pkl") or n == "data.pkl"), None)
            if name is None:
                return "cannot read weights: not a PyTorch checkpoint (a zip archive without data.pkl)"
            with z.open(name) as f:  # streamed, not read whole: a crafted zip can declare a pickle of any size
                top = _Peek(f).load()
    except zipfile.BadZipFile:  # (a bad CRC-32 too, once the pickle is read to its end)
        return "cannot read weights: the file is truncated or corrupt (its zip archive is incomplete)"
    except Exception as e:  # noqa: BLE001 -- a damaged or crafted pickle raises TypeError, AttributeError, MemoryError...
        return f"cannot read weights: the file is corrupt ({type(e).__name__})"
    if isinstance(top, _Stand) and not top:  # a tensor, a module: something pickle rebuilds by a call
        return "not a vidcolor checkpoint (it holds one object, such as a tensor, not a dict)"
    if problem := not_a_checkpoint(top, lambda v: isinstance(v, _Stand)):
        return problem
    if model is not None and top["arch"] != model:
        return f"holds the network {top['arch']!r}, not {model!r}"
    return None


def not_a_checkpoint(ckpt, is_tensor) -> str | None:
    """Why `ckpt`, an unpickled checkpoint, is not one of vidcolor's networks (`is_tensor` tells its tensors),
    with what it looks like; None if it has a network's entries."""
    if not isinstance(ckpt, dict):
        return f"not a vidcolor checkpoint (it holds a {type(ckpt).__name__}, not a dict)"
    for key in ("arch", "model_args", "state_dict"):
        if key not in ckpt:
            hint = "; it looks like a bare state dict" if all(is_tensor(v) for v in ckpt.values()) else ""
            if set(ckpt) == {"width", "state_dict", "meta"}:  # weights/tone_net.pt (a researcher passed it as --weights)
                hint = "; it is ToneNet, the colour-photo detector, not a colorization network"
            elif {"model", "optimizer", "step"} <= set(ckpt):
                hint = "; it is a run's training state (last.pt): use RUN/snapshots/stepN.pt or an export"
            return f"not a vidcolor checkpoint: no {key!r} entry{hint}"
    return None


def load_colorizer(model: str | None = None, weights: str | Path | None = None, device: str = "auto",
                   work_size: int | None = None, upsample: str = "guided", strength: float = 1.0) -> Colorizer:
    """A ready Colorizer: `weights` (a checkpoint path) if given, else the shipped weights of `model`.

    Never falls back to untrained weights: a missing or mismatched file raises WeightsError.
    """
    # Imported here, not at the top: torch takes a second to import, and the CLI's help and its
    # checks of the input and output come before any model is needed.
    from vidcolor.device import resolve_device
    from vidcolor.models import load_checkpoint

    check_load_args(work_size, upsample, strength, weights)
    if weights is not None:
        net = load_checkpoint(weights, sha256=listed_sha256(weights))
        if model is not None and net.arch_name != model:
            raise WeightsError(f"{weights}: holds the network {net.arch_name!r}, not {model!r}")
    else:
        path, sha = shipped_weights(DEFAULT_MODEL if model is None else model)
        net = load_checkpoint(path, sha256=sha)
    return make_colorizer(net, resolve_device(device), work_size, upsample, strength)


def listed_sha256(path: str | Path) -> str | None:
    """The sha256 a manifest.json beside a weights file lists for it (as `python -m training export`
    writes one), so a file corrupted or replaced since is refused as the shipped weights are; None
    without such a listing. A byte-flipped export loaded without a word (a researcher's test)."""
    path = Path(path)
    try:
        entries = json.loads(path.with_name("manifest.json").read_text())
    except (OSError, ValueError):
        return None
    for e in entries.values() if isinstance(entries, dict) else ():
        if isinstance(e, dict) and e.get("file") == path.name and isinstance(e.get("sha256"), str):
            return e["sha256"]
    return None


def check_load_args(work_size: int | None, upsample: str, strength: float, weights=None) -> None:
    """The CLI's checks of --work-size, --upsample and --strength, for library callers, and that `weights` is
    a path: UsageError (a nan strength gave a white photo, work_size 0 a crash deep inside, weights=123 a
    TypeError from the loader after the input was opened, and weights="" "weights file not found" for ".")."""
    from vidcolor.errors import UsageError
    from vidcolor.options import STRENGTH, WORK_SIZE, Upsample, in_range

    if weights is not None and not isinstance(weights, (str, os.PathLike)):
        raise UsageError(f"weights= takes a checkpoint file's path (str or os.PathLike), got {type(weights).__name__}")
    if isinstance(weights, str) and not weights:  # Path("") is ".": the current folder
        raise UsageError("weights path is empty")

    in_range("--strength", strength, STRENGTH)
    if work_size is not None:
        in_range("--work-size", work_size, WORK_SIZE, integer=True)
    if upsample not in {u.value for u in Upsample}:
        raise UsageError(f"--upsample {upsample!r}: choose from {', '.join(u.value for u in Upsample)}")


def make_colorizer(net, device, work_size: int | None = None, upsample: str = "guided", strength: float = 1.0) -> Colorizer:
    """A network as it ships: BN folded, the upsampler chosen. Training's tuning builds its colorizers
    here too, so what it tunes is exactly what runs."""
    from vidcolor.colorizer import Colorizer
    from vidcolor.models.blocks import fold_batchnorm
    from vidcolor.upsample import make_upsampler

    fold_batchnorm(net.eval())  # inference only: BN folded into the convs, one pass fewer per layer
    return Colorizer(net, device=device, work_size=work_size, upsampler=make_upsampler(upsample), strength=strength)
