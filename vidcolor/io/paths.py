"""Output paths: temporary names beside the target, so nothing partial ever has a final name; and the
checks that an output can be written at all, which the front door runs before any work."""
from __future__ import annotations

import os
from pathlib import Path

from vidcolor.errors import InputError, OutputError

TEMP_MARK = ".vidcolor-partial-"


def temp_output_path(path: Path) -> Path:
    """A hidden name in the target folder, unique to this process, keeping the extension."""
    return path.with_name(f".{path.stem}{TEMP_MARK}{os.getpid()}{path.suffix}")


def is_temp_output(path: Path) -> bool:
    return TEMP_MARK in path.name


def check_output(src: Path, dst: Path, create: bool = True) -> None:
    """Refuse an output that is the input or a folder, or whose folder cannot be created or written.
    With create=False nothing is made on disk (the front door checks before the model loads)."""
    if src.resolve() == dst.resolve() or (dst.exists() and src.exists() and os.path.samefile(src, dst)):
        raise OutputError(f"{dst}: output is the input file; choose another output path")
    (ensure_writable_dir if create else check_writable_dir)(dst.parent)
    if dst.is_dir():
        raise OutputError(f"{dst}: is a folder; give a file name for the output")


def ensure_writable_dir(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(f"{folder}: cannot create the output folder ({e.strerror})") from e
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"{folder}: output folder is not writable")


def check_writable_dir(folder: Path) -> None:
    """What ensure_writable_dir would refuse, found without creating anything: the nearest existing
    ancestor must be a writable folder."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise OutputError(f"{folder}: cannot create the output folder ({existing} is a file)")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutputError(f"{existing}: output folder is not writable")


def check_folder_output(src: Path, dst: Path) -> None:
    """A folder input needs an output folder outside it."""
    if not src.is_dir():
        raise InputError(f"{src}: not a folder")
    if src.resolve() == dst.resolve() or dst.resolve().is_relative_to(src.resolve()):
        raise OutputError(f"{dst}: output folder is (inside) the input folder; choose another")
    if dst.exists() and not dst.is_dir():
        raise OutputError(f"{dst}: is a file; a folder input needs an output folder")
    check_writable_dir(dst)
