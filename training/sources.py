"""Where the v2 training photos come from: one table of sources with their per-source rules, and two
readers (a bare git directory read with git itself, or a plain folder) that list and read them.

The photos are never copied into this repository. The recipe (training/dataset.py) reads them from
`../shared/data/train` and from snapshots or clones of the public repositories named below.
"""
from __future__ import annotations

import hashlib
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from vidcolor.errors import InputError

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
SCENE = "<scene>"  # a source whose domain is decided per photo by the scene classifier
ADE_PAD_RGB = (123, 115, 104)  # DeepLab's mean-pixel padding in the ADE20K copy (512x512, picture top-left)


@dataclass(frozen=True)
class Source:
    name: str  # folder name under OUT/<domain>/
    repo: str  # "owner/name" on GitHub, or "shared" for a folder of ../shared/data/train
    include: tuple[str, ...]  # path prefixes inside the repository
    domain: str  # a domain name, or SCENE
    licence: str
    exclude: tuple[str, ...] = ()
    name_pattern: str | None = None  # file names must match (re.fullmatch)
    min_short: int = 96  # smaller photos are dropped (after the padding crop)
    pad_rgb: tuple[tuple[int, int, int], ...] = ()  # uniform border colours to crop off
    other_domain: str | None = None  # SCENE sources: the domain of photos that are neither city nor indoor
    holdout: bool = False  # may give photos to the `scenes` validation set (independent photos, not video frames)
    folder: str | None = None  # shared sources: the sub-folder of the shared train folder

    @property
    def classify(self) -> bool:
        return self.domain == SCENE

    def wants(self, rel: str) -> bool:
        name = rel.rsplit("/", 1)[-1]
        return (rel.lower().endswith(IMAGE_EXTS) and any(rel.startswith(p) for p in self.include)
                and not any(rel.startswith(p) for p in self.exclude)
                and (self.name_pattern is None or re.fullmatch(self.name_pattern, name) is not None))


_NONE = "repository: no licence stated"
REPO_SOURCES = (
    Source("ade20k", "lehtoneo/cross-platform-inference-data-api", ("ade20k/",), SCENE, other_domain="outdoor",
           pad_rgb=(ADE_PAD_RGB,), holdout=True,
           licence=f"{_NONE}; upstream ADE20K (MIT CSAIL) validation images: non-commercial research and education"),
    Source("ccp", "bearpaw/clothing-co-parsing", ("photos/",), "people",
           licence="repository LICENSE: Apache-2.0; upstream Clothing Co-Parsing photos (Yang et al., CVPR 2014), "
                   "street-fashion web photos, research"),
    Source("pedestrians", "LS-chen/Pedestrian-behavior-detection-and-prediction", ("JPEGImages/",), "street",
           licence=f"{_NONE}; upstream not named (annotations say 'database Unknown'): research use only"),
    # Part A has black letterbox bars on some photos; part B is one shopping street seen from above.
    Source("shanghaitech", "MonsterVivy/shanghaitech", ("part_A/train_data/images/", "part_A/test_data/images/",
           "part_B/train_data/images/", "part_B/test_data/images/"), "street", pad_rgb=((0, 0, 0),),
           licence=f"{_NONE}; upstream ShanghaiTech crowd counting set (Zhang et al., CVPR 2016): research"),
    Source("stanford_cars", "fmejbah/car_dataset1", ("cars_train/",), "vehicles", min_short=256,
           licence=f"{_NONE}; upstream Stanford Cars train split (Krause et al., 2013): non-commercial research"),
    # The VOC photos of the Animal-Pose set (cats, dogs, horses, cows, sheep); its ~1,000 extras (ca1.jpeg,
    # do92.jpeg, ...: web photos of 300 px) are left out. Pets at home go to `indoor`, the rest to `animals`.
    Source("voc2012", "mateusrafael4/Atividade_programacao_pose_estimation", ("images/",), SCENE,
           name_pattern=r"\d{4}_\d{6}\.jpg", other_domain="animals",
           licence=f"{_NONE}; upstream PASCAL VOC 2012 images (Flickr; VOC terms): research"),
    # Object photos (cars, buses, trains, cats, people, ...). Neither VOC set gives photos to `scenes`:
    # they are portraits of objects, and the scenes set is about rooms, streets and buildings.
    Source("voc_style", "BernieChen96/ImageClassification", ("JPEGImages/",), SCENE, other_domain="general",
           licence=f"{_NONE}; upstream not named (VOC-style file names and boxes): research use only"),
    Source("grocery", "marcusklasson/GroceryStoreDataset", ("dataset/",), "shop_food",
           exclude=("dataset/iconic-images-and-descriptions/",),
           licence="repository LICENSE: MIT (Copyright 2019 Marcus Klasson); Klasson et al., WACV 2019"),
)

# ../shared/data/train: the folders its README lists, with its licence column.
_SHARED = {
    "imagenet_sample": ("general", "ImageNet terms (research)"),
    "imagenet_det200": ("general", "ImageNet terms (research)"),
    "bsds500_train": ("general", "BSDS500 (research)"),
    "bsds500_test": ("general", "BSDS500 (research)"),
    "coco100": ("general", "COCO / Flickr terms"),
    "intel_scenes": ("outdoor", "Intel scene classification; repo MIT"),
    "utkfaces": ("faces", "UTKFace: non-commercial research"),
    "people_masks": ("faces", "repo MIT"),
    "cats_dogs": ("animals", "Kaggle Dogs vs. Cats and breed photos; no licence stated"),
    "food10": ("shop_food", "Food-101 terms (research)"),
    "clothing": ("people", "CC0"),
    "camvid_streets": ("street", "CamVid: CC BY-NC"),
    "mate_nature": ("nature", "Debian mate-backgrounds: GPL-2+"),
    "flowers128": ("nature", "tf_flowers: CC-BY 2.0"),
}
SHARED_SOURCES = tuple(Source(f, "shared", ("",), d, licence=lic, folder=f) for f, (d, lic) in _SHARED.items())
ALL_SOURCES = SHARED_SOURCES + REPO_SOURCES
SEGMENTER = ("lehtoneo/cross-platform-inference-data-api", "static/models/onnx/deeplabv3_mnv2_ade20k_uint8.onnx")


def git_blob_id(data: bytes) -> str:
    """Git's blob id of the bytes: the same content id whether a photo is read from git or from a folder."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class GitTree:
    """The HEAD tree of a bare git directory (a `fetch` snapshot or `git clone --bare`), read with git."""

    def __init__(self, git_dir: Path):
        self.root = Path(git_dir)
        self.commit = self._git("rev-parse", "HEAD").decode().strip()

    def _git(self, *args: str) -> bytes:
        r = subprocess.run(["git", f"--git-dir={self.root}", *args], capture_output=True)
        if r.returncode:
            raise InputError(f"{self.root}: git {args[0]} failed: {r.stderr.decode().strip()}")
        return r.stdout

    def files(self) -> dict[str, str]:
        """Path -> blob id, for every file of HEAD."""
        out = {}
        for entry in self._git("ls-tree", "-r", "-z", "HEAD").split(b"\0"):
            if entry:
                meta, path = entry.split(b"\t", 1)
                out[path.decode()] = meta.split()[2].decode()
        return out

    def read_many(self, items: list[tuple[str, str]]) -> Iterator[tuple[str, bytes]]:
        """(path, blob id) pairs -> (path, bytes), in order, through one `git cat-file --batch`."""
        with subprocess.Popen(["git", f"--git-dir={self.root}", "cat-file", "--batch"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE) as p:
            for path, blob in items:
                p.stdin.write(blob.encode() + b"\n")
                p.stdin.flush()
                header = p.stdout.readline().split()
                if len(header) != 3:  # "<id> missing": large files and LFS content are absent in snapshots
                    raise InputError(f"{self.root}: {path}: content missing from the git directory")
                data = p.stdout.read(int(header[2]))
                p.stdout.read(1)
                yield path, data
            p.stdin.close()

    def read(self, path: str) -> bytes:
        return self._git("cat-file", "blob", f"HEAD:{path}")


class FolderTree:
    """A plain folder (a clone's work tree, or an extracted copy)."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.commit = None

    def files(self) -> dict[str, str | None]:
        return {p.relative_to(self.root).as_posix(): None for p in sorted(self.root.rglob("*"))
                if p.is_file() and ".git" not in p.relative_to(self.root).parts}

    def read_many(self, items: list[tuple[str, str | None]]) -> Iterator[tuple[str, bytes]]:
        for path, _ in items:
            yield path, (self.root / path).read_bytes()

    def read(self, path: str) -> bytes:
        return (self.root / path).read_bytes()


def open_tree(path: Path) -> GitTree | FolderTree:
    is_bare = (path / "HEAD").is_file() and (path / "objects").is_dir() and not (path / ".git").exists()
    return GitTree(path) if is_bare else FolderTree(path)


def find_repo(repos: Path, repo: str) -> Path | None:
    """`owner/name` under the --repos folder: `owner+name/repo` (fetch snapshots), `owner+name` or `name`."""
    owner, name = repo.split("/")
    for cand in (repos / f"{owner}+{name}" / "repo", repos / f"{owner}+{name}", repos / name):
        if cand.is_dir():
            return cand
    return None


def open_source(src: Source, shared: Path | None, repos: Path | None) -> GitTree | FolderTree:
    """The tree holding `src`, or InputError naming what is missing (checked before any photo is read)."""
    if src.repo == "shared":
        folder = shared / src.folder if shared else None
        if folder is None or not folder.is_dir():
            raise InputError(f"{folder or '--shared'}: missing: source {src.name} needs it")
        return FolderTree(folder)
    where = find_repo(repos, src.repo) if repos else None
    if where is None:
        raise InputError(f"{repos or '--repos'}: no copy of {src.repo} (looked for {src.repo.replace('/', '+')}/repo, "
                         f"{src.repo.replace('/', '+')} and {src.repo.split('/')[1]})")
    return open_tree(where)
