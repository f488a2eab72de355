"""Archives from odd places: outputs on drives that fold names (FAT, exFAT, SMB, macOS), names no
terminal shows as they are, and inputs that are no files. Case-insensitivity is simulated by patching the
output folder's probe (CI has no FAT mount); the rest runs on the test machine's own file system."""
import os
import shutil
import unicodedata

import pytest

import vidcolor
from tests.media import write_image
from vidcolor.io import paths
from vidcolor.io.paths import name_folding
from vidcolor.options import FolderOptions


@pytest.fixture
def case_insensitive_output(monkeypatch):
    """The output folder's file system folds case (a FAT drive): its case probe finds the other spelling."""
    real = paths._probe_folds
    monkeypatch.setattr(paths, "_probe_folds", lambda folder, suffix, other: suffix == "-x" or real(folder, suffix, other))


def test_the_probe_finds_what_the_file_system_folds(tmp_path):
    (tmp_path / "Probe").touch()
    folds_case = (tmp_path / "pROBE").exists()
    fold = name_folding(tmp_path / "not" / "made" / "yet")  # the nearest folder that exists is probed
    assert (fold("a/Photo.jpg") == fold("a/photo.JPG")) == folds_case
    assert [p.name for p in tmp_path.iterdir()] == ["Probe"]  # the probes are gone, and nothing was made


def test_outputs_one_file_on_a_case_insensitive_drive_fail_before_any_work(tmp_path, colorizer, case_insensitive_output):
    """An archivist's output on a FAT drive: a/Photo.jpg and a/photo.JPG, and Scan.tif with --format jpg beside
    scan.jpg, were all 'done', four lines, into two files, each holding one of the pair's pictures, and every
    re-run skipped all four as done. Each pair fails, named, before any is written; the rest is done."""
    src, out = tmp_path / "in", tmp_path / "usb" / "out"
    for i, name in enumerate(["a/Photo.jpg", "a/photo.JPG", "Scan.tif", "scan.jpg", "b/other.png"]):
        write_image(src / name, seed=i)
    dry = vidcolor.colorize(src, out, colorizer=colorizer, folder=FolderOptions(fmt_ext=".jpg", dry_run=True))
    res = vidcolor.colorize(src, out, colorizer=colorizer, folder=FolderOptions(fmt_ext=".jpg"))
    for got in (dry, res):
        by = {str(r.input.relative_to(src)): r for r in got}
        assert {k: r.status for k, r in by.items() if r.status == "failed"} == dict.fromkeys(
            ["a/Photo.jpg", "a/photo.JPG", "Scan.tif", "scan.jpg"], "failed")
        assert by["a/photo.JPG"].error == (f"{src}/a/Photo.jpg and {src}/a/photo.JPG would both be written to {out}/a/photo.jpg "
                                           "(one file where the output is: its file system does not tell those names "
                                           "apart); rename one of them")  # leaving out --format would not part them
        assert by["scan.jpg"].error.endswith(f"would both be written to {out}/scan.jpg (one file where the output is: its file "
                                             "system does not tell those names apart); rename one of them or leave out --format")
    assert by["b/other.png"].status == "done"
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file() and ".vidcolor" not in p.parts) == ["b/other.jpg"]


def test_names_that_differ_in_case_are_two_outputs_where_the_drive_keeps_them_apart(tmp_path, colorizer):
    src, out = tmp_path / "in", tmp_path / "out"
    write_image(src / "Photo.jpg", seed=1)
    write_image(src / "photo.JPG", seed=2)
    (tmp_path / "Probe").touch()
    if (tmp_path / "probe").exists():
        pytest.skip("this machine's file system folds case")
    res = vidcolor.colorize(src, out, colorizer=colorizer)
    assert [r.status for r in res] == ["done", "done"] and {p.name for p in out.iterdir()} == {"Photo.jpg", "photo.JPG", ".vidcolor"}
    assert os.path.getsize(out / "Photo.jpg") != os.path.getsize(out / "photo.JPG") or \
        (out / "Photo.jpg").read_bytes() != (out / "photo.JPG").read_bytes()


NFC_CAFE, NFD_CAFE = "Caf\u00e9", "Cafe\u0301"  # one name, accent composed / decomposed


def _keeps_both_spellings(folder) -> bool:
    (folder / NFC_CAFE).touch()
    apart = not (folder / NFD_CAFE).exists()
    (folder / NFC_CAFE).unlink()
    return apart


def _outputs(out) -> list[str]:
    return sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file() and ".vidcolor" not in p.parts)


def test_inputs_renamed_between_composed_and_decomposed_accents_are_done_into_their_outputs(tmp_path, colorizer):
    """An archive whose names were converted from composed to decomposed accents (a copy through a Mac, `rsync
    --iconv`) was colorized again whole on Linux, each accented output written a second time under a name that
    looks the same (an archivist's find). The renamed inputs, folder and file, are skipped as done, their outputs
    kept under the names written; a renamed input whose bytes changed is redone into its existing output."""
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    if not _keeps_both_spellings(src):
        pytest.skip("this machine's file system folds accents")
    write_image(src / f"{NFC_CAFE}.png", seed=1)
    write_image(src / f"\u00c9t\u00e9 1950" / f"{NFC_CAFE}.png", seed=2)
    write_image(src / "plain.png", seed=3)
    assert [r.status for r in vidcolor.colorize(src, out, colorizer=colorizer)] == ["done"] * 3
    written = _outputs(out)
    mtimes = {p: os.stat(out / p).st_mtime_ns for p in written}
    (src / f"\u00c9t\u00e9 1950").rename(src / "E\u0301te\u0301 1950")
    (src / "E\u0301te\u0301 1950" / f"{NFC_CAFE}.png").rename(src / "E\u0301te\u0301 1950" / f"{NFD_CAFE}.png")
    (src / f"{NFC_CAFE}.png").rename(src / f"{NFD_CAFE}.png")
    for opts in (FolderOptions(dry_run=True), FolderOptions(), FolderOptions()):
        assert [r.note for r in vidcolor.colorize(src, out, colorizer=colorizer, folder=opts)] == ["already done"] * 3
    assert _outputs(out) == written and {p: os.stat(out / p).st_mtime_ns for p in written} == mtimes
    write_image(src / f"{NFD_CAFE}.png", seed=9, h=50)  # a re-scan under the new spelling: redone in place
    res = {str(r.input.relative_to(src)): r.status for r in vidcolor.colorize(src, out, colorizer=colorizer)}
    assert res == {f"{NFD_CAFE}.png": "done", f"E\u0301te\u0301 1950/{NFD_CAFE}.png": "skipped", "plain.png": "skipped"}
    assert _outputs(out) == written and os.stat(out / f"{NFC_CAFE}.png").st_mtime_ns != mtimes[f"{NFC_CAFE}.png"]


def test_a_copy_through_a_mac_beside_its_original_is_done_into_the_originals_output(tmp_path, colorizer):
    """The archive copied through a Mac (its names decomposed), the original still there, and the copy run into the
    same output: the same photo, read once and skipped, not refused as another input's nor written a second time."""
    src, mac, out = tmp_path / "in", tmp_path / "mac", tmp_path / "out"
    src.mkdir()
    if not _keeps_both_spellings(src):
        pytest.skip("this machine's file system folds accents")
    write_image(src / f"{NFC_CAFE}.png", seed=1)
    assert [r.status for r in vidcolor.colorize(src, out, colorizer=colorizer)] == ["done"]
    mac.mkdir()
    shutil.copyfile(src / f"{NFC_CAFE}.png", mac / f"{NFD_CAFE}.png")  # (a new mtime: read once)
    assert [r.note for r in vidcolor.colorize(mac, out, colorizer=colorizer)] == ["already done"]
    assert _outputs(out) == [f"{NFC_CAFE}.png"]


def test_two_inputs_named_in_both_accent_spellings_keep_an_output_each(tmp_path, colorizer):
    """Both spellings of one name, two files side by side (Linux keeps them apart): two inputs, two outputs, and
    neither is taken for the other renamed, on the first run or the next, nor after one output is removed."""
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    if not _keeps_both_spellings(src):
        pytest.skip("this machine's file system folds accents")
    write_image(src / f"{NFC_CAFE}.png", seed=1)
    write_image(src / f"{NFD_CAFE}.png", seed=2, h=50)
    assert [r.status for r in vidcolor.colorize(src, out, colorizer=colorizer)] == ["done", "done"]
    assert _outputs(out) == sorted([f"{NFC_CAFE}.png", f"{NFD_CAFE}.png"])
    assert [r.status for r in vidcolor.colorize(src, out, colorizer=colorizer)] == ["skipped", "skipped"]
    (out / f"{NFD_CAFE}.png").unlink()
    res = {str(r.input): r.status for r in vidcolor.colorize(src, out, colorizer=colorizer)}
    assert res == {str(src / f"{NFC_CAFE}.png"): "skipped", str(src / f"{NFD_CAFE}.png"): "done"}
    assert _outputs(out) == sorted([f"{NFC_CAFE}.png", f"{NFD_CAFE}.png"])
    assert (out / f"{NFD_CAFE}.png").read_bytes() != (out / f"{NFC_CAFE}.png").read_bytes()


def test_planning_a_folder_of_accented_names_reads_each_name_once(tmp_path, monkeypatch):
    """Each accented input's output name was looked up by normalizing the whole listing of its folder again: a
    folder of 4,000 accented scans took seconds to plan (twice a run), and the work grew with the square of the
    folder. Each listed name is now normalized once, and each output still finds its other spelling."""
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    if not _keeps_both_spellings(src):
        pytest.skip("this machine's file system folds accents")
    n = 300
    names = [f"F\u00eate_{i:04d}.png" for i in range(n)]
    for name in names:
        (src / name).touch()
    out.mkdir()
    (out / "Fe\u0302te_0007.png").touch()  # an output written under the other spelling (the input renamed since)
    calls = []

    class Counting:
        @staticmethod
        def normalize(form, s):
            calls.append(s)
            return unicodedata.normalize(form, s)
    monkeypatch.setattr(paths, "unicodedata", Counting)
    pairs, _, clashes = paths.planned_outputs(src, out, [src / name for name in names], [], fold=lambda s: s)
    assert not clashes and len(pairs) == n
    assert pairs[7][1] == out / "Fe\u0302te_0007.png" and pairs[8][1] == out / names[8]
    assert len(calls) <= 4 * n  # the listings once, each name looked up once or twice (it was n * n, 90,000 here)


DEEP = 1100  # folder levels: past Python's recursion limit (1000), within Linux's 4096-byte path limit


def _remove_deep(top, depth: int) -> None:
    """The tree removed from its deepest folder up (shutil.rmtree, which pytest's clean-up uses, recurses too)."""
    for k in range(depth, -1, -1):
        folder = top.joinpath(*["d"] * k)
        if folder.is_dir():
            for f in folder.iterdir():
                if f.name != "d":
                    shutil.rmtree(f) if f.is_dir() else f.unlink()
            folder.rmdir()


def test_a_tree_deeper_than_the_recursion_limit_is_listed_and_mirrored(tmp_path, colorizer):
    """A 1,100-level tree (a copy loop's scan/scan/scan/...) stopped the dry run and the run with a RecursionError
    traceback, from os.walk (recursive in Python 3.10 and 3.11) and then from pathlib's mkdir(parents=True)."""
    src, out = tmp_path / "in", tmp_path / "out"
    deep = src.joinpath(*["d"] * DEEP)
    folder = src
    for _ in range(DEEP):
        folder = folder / "d"
        folder.mkdir(parents=folder.parent == src)
    write_image(deep / "bottom.jpg")
    write_image(src / "top.jpg", seed=1)
    try:
        dry = vidcolor.colorize(src, out, colorizer=colorizer, folder=FolderOptions(dry_run=True))
        assert [(r.input.name, r.status) for r in dry] == [("bottom.jpg", "planned"), ("top.jpg", "planned")]
        res = vidcolor.colorize(src, out, colorizer=colorizer)
        assert [(r.input.name, r.status) for r in res] == [("bottom.jpg", "done"), ("top.jpg", "done")]
        assert out.joinpath(*["d"] * DEEP, "bottom.jpg").is_file()
        assert [r.status for r in vidcolor.colorize(src, out, colorizer=colorizer)] == ["skipped", "skipped"]
    finally:
        _remove_deep(src, DEEP)
        _remove_deep(out, DEEP)


def test_a_link_in_a_loop_or_to_a_file_gone_is_named_so_in_the_run_and_its_dry_run(tmp_path, colorizer):
    """`ls` lists loop.jpg -> loop.jpg, a.jpg <-> b.jpg and gone.jpg -> nowhere.jpg; the run called each "file not
    found" and its dry run "cannot read (Too many levels of symbolic links)" or "(No such file or directory)"."""
    src = tmp_path / "in"
    write_image(src / "ok.jpg")
    (src / "loop.jpg").symlink_to("loop.jpg")
    (src / "a.jpg").symlink_to("b.jpg")
    (src / "b.jpg").symlink_to("a.jpg")
    (src / "gone.mp4").symlink_to("nowhere.mp4")
    loop = "a link in a loop, leading to no file (Too many levels of symbolic links)"
    want = {"a.jpg": loop, "b.jpg": loop, "loop.jpg": loop, "gone.mp4": "a link to nowhere.mp4, which is missing"}
    for dry in (True, False):
        res = vidcolor.colorize(src, tmp_path / "out", colorizer=colorizer, folder=FolderOptions(dry_run=dry))
        assert {r.input.name: r.error for r in res if r.status == "failed"} == {k: f"{src / k}: {v}" for k, v in want.items()}
    with pytest.raises(vidcolor.errors.InputError, match="loop.jpg: a link in a loop"):
        vidcolor.colorize(src / "loop.jpg", tmp_path / "x.jpg", colorizer=colorizer)
