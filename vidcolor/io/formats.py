"""Which files are images and which are videos, by extension. No codec is imported here, so the CLI
and the front door can sort inputs and check output names before torch or PyAV load."""
from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

# Each photo extension read and written, and its format. .jpe, .jfif and .jif are JPEG's other registered names
# (a browser on Windows saves JPEGs as .jfif): a folder of them was "no photos or videos in it, nothing to
# do", and among other photos they were left out without a line (an archivist's find).
IMAGE_FORMAT = {".jpg": "JPEG", ".jpeg": "JPEG", ".jpe": "JPEG", ".jfif": "JPEG", ".jif": "JPEG", ".png": "PNG",
                ".tif": "TIFF", ".tiff": "TIFF", ".webp": "WEBP", ".bmp": "BMP"}
IMAGE_EXTS = set(IMAGE_FORMAT)
FORMAT_EXT = {"jpg": ".jpg", "jpeg": ".jpg", "png": ".png", "tif": ".tif", "tiff": ".tif", "webp": ".webp", "bmp": ".bmp"}
# Videos a folder run picks up: the containers FFmpeg reads that archives hold films in.
VIDEO_EXTS = {".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".m2v", ".ts", ".mts", ".m2ts",
              ".wmv", ".asf", ".flv", ".ogv", ".3gp", ".dv", ".vob", ".mxf"}
# Containers the video sink writes (vidcolor.io.segments); a test keeps the two lists equal.
VIDEO_OUTPUT_EXTS = {".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi"}


# The major brands of ISO-BMFF files (an MP4's container) that hold still images: HEIF, as phones write it, and
# AVIF. Their image sequences (msf1, hevc, avis) are animations, left to FFmpeg as an animated GIF is.
STILL_BRANDS = {b"heic": "HEIC", b"heix": "HEIC", b"heim": "HEIC", b"heis": "HEIC", b"mif1": "HEIF", b"avif": "AVIF"}


def still_brand(head: bytes) -> str | None:
    """The image format an ISO-BMFF file's major brand names (HEIC, HEIF, AVIF); None for other files."""
    return STILL_BRANDS.get(head[8:12]) if head[4:8] == b"ftyp" else None


def is_image_path(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTS


def is_video_path(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_EXTS


SIDECAR_SUFFIX = ".hints.json"


def sidecar_path(media: Path) -> Path:
    """The hints file a folder run reads for a photo or video: NAME.hints.json beside NAME.EXT (the name
    `vidcolor serve` downloads hints under)."""
    return media.with_name(media.stem + SIDECAR_SUFFIX)


class Media(NamedTuple):
    """A folder's inputs, walked once (`list_media`): its photos, its videos, the links to folders it
    holds (not followed), and the hints files that are no input's sidecar (a new user's
    Vinegar.png.hints.json was ignored without a word); those two are reported as skipped. `unreadable`:
    the folders that could not be listed, with why, each reported as failed (a subfolder without read
    permission was left out without a word, and the run exited 0: an archivist's test)."""

    images: list[Path]
    videos: list[Path]
    linked: list[Path]
    stray_hints: list[Path] | tuple = ()
    unreadable: list[tuple[Path, str]] | tuple = ()

    @property
    def reported(self) -> int:
        """How many lines a run gives: one per input, link, stray hints file and unreadable folder."""
        return len(self.images) + len(self.videos) + len(self.linked) + len(self.stray_hints) + len(self.unreadable)


def list_media(root: Path) -> Media:
    linked: list[Path] = []
    hints: list[Path] = []
    unreadable: list[tuple[Path, str]] = []
    images, videos = find_media(root, linked, hints, unreadable)
    taken = {sidecar_path(m) for m in images + videos}
    folded = {str(t).casefold(): t for t in taken}
    return Media(images, videos, linked, sorted(h for h in hints if h not in taken and not _same_file(h, folded.get(str(h).casefold()))),
                 sorted(unreadable))


def refuse_unlisted(root: Path, unreadable: list[tuple[Path, str]], error: type[Exception]) -> None:
    """`error` naming `root` where `find_media` could not list it: an input folder this user may not read said
    "nothing to do" (colorize) or "no images found" (eval), exit 0 (a new user's test)."""
    if unreadable and unreadable[0][0] == root:
        raise error(f"{root}: cannot list the folder ({unreadable[0][1]})")


def _same_file(a: Path, b: Path | None) -> bool:
    """Whether a hints file named in another case is the sidecar an input reads: on a case-insensitive
    disk (macOS, Windows, FAT) C.Hints.json is C.PNG's C.hints.json, applied, and not a stray (a reviewer's)."""
    if b is None:
        return False
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def find_media(root: Path, linked_folders: list[Path] | None = None, hints_files: list[Path] | None = None,
               unreadable: list[tuple[Path, str]] | None = None) -> tuple[list[Path], list[Path]]:
    """(images, videos) under root, recursively, in a stable order; hidden files and folders skipped.
    Links to folders are not followed (one may lead back into the tree, or to the output); each is added
    to `linked_folders` where given, so the run can say so (a new user's were skipped without a word).
    A folder that cannot be listed is added to `unreadable` with the reason, where given."""
    images, videos = [], []

    def cannot_list(err: OSError) -> None:
        if unreadable is not None:
            unreadable.append((Path(err.filename or root), err.strerror or str(err)))
    for dirpath, dirnames, filenames in walk(root, onerror=cannot_list):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        if linked_folders is not None:
            linked_folders += [Path(dirpath) / d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]
        for f in filenames:
            ext = Path(f).suffix.lower()
            if not f.startswith(".") and (ext in IMAGE_EXTS or ext in VIDEO_EXTS):
                (images if ext in IMAGE_EXTS else videos).append(Path(dirpath) / f)
            elif hints_files is not None and f.lower().endswith(SIDECAR_SUFFIX) and not f.startswith("."):
                # any case: C.Hints.json beside C.PNG was ignored without a word; it is a stray now (a reviewer's test)
                hints_files.append(Path(dirpath) / f)
    return sorted(images), sorted(videos)


def walk(top: str | os.PathLike, onerror=None):
    """os.walk(top, onerror=onerror), top-down and not into links to folders, but without recursion: Python
    3.10 and 3.11's os.walk recurses once a folder level, and a tree 1,000 folders deep (a copy loop's
    scan/scan/scan/..., a tool's runaway output) stopped the run, its dry run too, with a RecursionError
    traceback (an archivist's test). The caller may prune `dirnames` in place, as with os.walk."""
    stack = [os.fspath(top)]
    while stack:
        top = stack.pop()
        dirs, files = [], []
        try:
            with os.scandir(top) as entries:
                for entry in entries:
                    try:
                        is_dir = entry.is_dir()
                    except OSError:
                        is_dir = False
                    (dirs if is_dir else files).append(entry.name)
        except OSError as err:
            if onerror is not None:
                onerror(err)
            continue
        yield top, dirs, files
        stack += [path for d in reversed(dirs) if not os.path.islink(path := os.path.join(top, d))]
