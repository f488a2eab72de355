"""Unattended runs: re-runs skip finished work, a second run is locked out, reports and dry runs,
images already in colour, and archive image formats with their metadata."""
import dataclasses
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms
from typer.testing import CliRunner

from tests.media import probe, write_image, write_video
from vidcolor import cli
from vidcolor.colorizer import Colorizer
from vidcolor.io.images import read_image
from vidcolor.folder import colorize_folder, colorize_image
from vidcolor.options import FolderOptions, VideoOptions
from vidcolor.pipeline import colorize_video

runner = CliRunner()


def archive(root, n=6):
    for i in range(n):
        write_image(root / f"d{i % 2}" / f"img{i}.png", h=30 + i, w=40, seed=i)
    return root


def statuses(results):
    return sorted(r.status for r in results)


def test_rerun_skips_finished_outputs_and_redoes_changed_ones(tmp_path, colorizer):
    src = archive(tmp_path / "in")
    out = tmp_path / "out"
    assert statuses(colorize_folder(src, out, colorizer)) == ["done"] * 6
    mtimes = {p: p.stat().st_mtime_ns for p in out.rglob("*.png")}
    assert statuses(colorize_folder(src, out, colorizer)) == ["skipped"] * 6
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.png")} == mtimes
    write_image(src / "d0" / "img0.png", h=33, w=41, seed=99)  # the input changed
    (out / "d1" / "img1.png").unlink()  # an output went missing
    res = {r.input.name: r.status for r in colorize_folder(src, out, colorizer)}
    assert res["img0.png"] == "done" and res["img1.png"] == "done" and list(res.values()).count("skipped") == 4
    other = Colorizer(colorizer.model, work_size=96)  # another model setting makes everything stale
    assert statuses(colorize_folder(src, out, other)) == ["done"] * 6
    assert statuses(colorize_folder(src, out, other, FolderOptions(overwrite=True))) == ["done"] * 6


def as_old_journal(out: Path, cwd: Path) -> None:
    """Rewrite out's journal as vidcolor wrote it before paths were normalised (no "v"): each path as the
    run, started in `cwd` with `-o out`, spelled it."""
    journal = out / ".vidcolor" / "journal.jsonl"
    old = []
    for line in journal.read_text().splitlines():
        e = json.loads(line)
        e.pop("v")
        e["target"] = str(Path(out.name) / e["target"])
        if "input" in e:
            e["input"] = str(Path(e["input"]).relative_to(cwd))
        old.append(json.dumps(e))
    journal.write_text("\n".join(old) + "\n")


def test_the_journal_does_not_depend_on_how_paths_are_spelled(tmp_path, colorizer, monkeypatch):
    """A new user tested by hand with relative paths; cron then ran with absolute ones and every finished
    file failed as "not written by vidcolor" (the journal held the paths as spelled). Relative, absolute,
    through a symlinked folder or from another working directory: the same entries."""
    src = archive(tmp_path / "in", 2)
    monkeypatch.chdir(tmp_path)
    assert statuses(colorize_folder(Path("in"), Path("out"), colorizer)) == ["done"] * 2
    assert statuses(colorize_folder(tmp_path / "in", tmp_path / "out", colorizer)) == ["skipped"] * 2
    (tmp_path / "link").symlink_to(tmp_path)
    assert statuses(colorize_folder(tmp_path / "link" / "in", tmp_path / "link" / "out", colorizer)) == ["skipped"] * 2
    monkeypatch.chdir(src)
    assert statuses(colorize_folder(Path("."), Path("../out"), colorizer)) == ["skipped"] * 2
    # a single photo, run from its own folder after a run from above
    monkeypatch.chdir(tmp_path)
    assert colorize_image(Path("in/d0/img0.png"), Path("one.png"), colorizer).status == "done"
    monkeypatch.chdir(src / "d0")
    assert colorize_image(Path("img0.png"), Path("../../one.png"), colorizer).status == "skipped"


def test_an_output_folder_given_through_a_link_is_the_same_folder(tmp_path, colorizer):
    """Review: with -o a link to the real folder (~/archive -> /mnt/nas/...), keys were absolute, and a
    run through the real path failed every file as "not written by vidcolor"."""
    src = archive(tmp_path / "in", 2)
    (tmp_path / "nas").mkdir()
    (tmp_path / "archive").symlink_to(tmp_path / "nas")
    assert statuses(colorize_folder(src, tmp_path / "archive", colorizer)) == ["done"] * 2
    assert statuses(colorize_folder(src, tmp_path / "nas", colorizer)) == ["skipped"] * 2
    assert statuses(colorize_folder(src, tmp_path / "archive", colorizer)) == ["skipped"] * 2
    # a single photo, whose journal lives in its output's folder, through the link and then not
    assert colorize_image(src / "d0" / "img0.png", tmp_path / "archive" / "one.png", colorizer).status == "done"
    assert colorize_image(src / "d0" / "img0.png", tmp_path / "nas" / "one.png", colorizer).status == "skipped"


def test_an_old_journal_written_from_another_working_directory_still_counts(tmp_path, colorizer, monkeypatch):
    """Review: a hand test from ~/work (`vidcolor in -o out`) then cron from $HOME with absolute paths: the
    old lines' relative paths were read against the wrong folder and every file failed as not vidcolor's."""
    work = tmp_path / "work"
    src = archive(work / "in", 2)
    monkeypatch.chdir(work)
    assert statuses(colorize_folder(Path("in"), Path("out"), colorizer)) == ["done"] * 2
    as_old_journal(work / "out", work)
    monkeypatch.chdir(tmp_path)  # cron's working directory
    assert statuses(colorize_folder(src, work / "out", colorizer)) == ["skipped"] * 2


def test_a_dangling_symlink_fails_alone(tmp_path, colorizer):
    """A new user's one broken link crashed the whole run with a traceback (the journal stat'ed the input
    to record its failure) and exit 1, which cron's `test $? -le 1` passes."""
    src = archive(tmp_path / "in", 2)
    (src / "broken.png").symlink_to(tmp_path / "nowhere.png")
    res = {r.input.name: r for r in colorize_folder(src, tmp_path / "out", colorizer)}
    assert res["broken.png"].status == "failed" and "broken.png" in res["broken.png"].error
    assert sorted(r.status for r in res.values()) == ["done", "done", "failed"]
    assert statuses(colorize_folder(src, tmp_path / "out", colorizer)) == ["failed", "skipped", "skipped"]


def test_a_link_to_a_folder_is_not_followed_and_said_so(tmp_path, colorizer):
    """A new user's symlinked subfolder was skipped without a word, in the run and its dry run."""
    src = archive(tmp_path / "in", 2)
    write_image(tmp_path / "elsewhere" / "x.png")
    (src / "linked").symlink_to(tmp_path / "elsewhere")
    for opts in (FolderOptions(dry_run=True), FolderOptions()):
        res = {r.input.name: r for r in colorize_folder(src, tmp_path / "out", colorizer, opts)}
        assert res["linked"].status == "skipped" and "a link to a folder: not followed" in res["linked"].note
        assert "x.png" not in res and len(res) == 3
    assert not (tmp_path / "out" / "linked").exists()


def test_a_subfolder_that_cannot_be_listed_fails_by_name(tmp_path, weights_file, monkeypatch):
    """An archivist's subfolder without read permission (a NAS share's ACL) was left out without a word: the run
    said "1 done of 1 input" and exited 0, so cron never learned that a whole roll of scans was not colorized."""
    src = archive(tmp_path / "in", 1)
    write_image(src / "locked" / "roll.png")
    scandir = os.scandir

    def refusing(path="."):
        if Path(path).name == "locked":
            raise PermissionError(13, "Permission denied", str(path))
        return scandir(path)
    monkeypatch.setattr(os, "scandir", refusing)
    rep = tmp_path / "run.jsonl"
    r = runner.invoke(cli.app, ["colorize", str(src), "-o", str(tmp_path / "out"), "--weights", str(weights_file), "--report", str(rep)])
    assert r.exit_code == 1
    rows = {Path(row["input"]).name: row for row in map(json.loads, rep.read_text().splitlines()[:-1])}
    assert rows.keys() == {"locked", "img0.png"} and rows["img0.png"]["status"] == "done"
    assert rows["locked"]["status"] == "failed"
    assert rows["locked"]["error"] == f"{src / 'locked'}: cannot list the folder (Permission denied); its photos and videos were left out"


def test_a_mount_points_lost_and_found_is_skipped_not_failed(tmp_path, colorizer, monkeypatch):
    """A nightly run over a mount point, not as root, failed every night on the file system's own lost+found
    (mode 700), exit 1 for no scan of the user's (a review)."""
    src = archive(tmp_path / "in", 1)
    (src / "lost+found").mkdir()
    scandir = os.scandir

    def refusing(path="."):
        if not isinstance(path, int) and Path(path).name == "lost+found":
            raise PermissionError(13, "Permission denied", str(path))
        return scandir(path)
    monkeypatch.setattr(os, "scandir", refusing)
    res = {r.input.name: r for r in colorize_folder(src, tmp_path / "out", colorizer)}
    assert res["lost+found"].status == "skipped" and "recovery folder, not read (Permission denied)" in res["lost+found"].note
    assert res["img0.png"].status == "done"


def test_an_input_folder_that_cannot_be_listed_is_refused_not_done(tmp_path, weights_file, monkeypatch):
    """`vidcolor scans` on a folder it may not read said "no photos or videos in it, nothing to do", exit 0
    (a new user's test; os.scandir refuses here, as the tests run as root, who reads any folder)."""
    src = archive(tmp_path / "in", 2)
    real = os.scandir
    monkeypatch.setattr(os, "scandir", lambda path=".": _refused(path) if Path(path) == src else real(path))
    r = runner.invoke(cli.app, ["colorize", str(src), "-o", str(tmp_path / "out"), "--weights", str(weights_file)])
    assert r.exit_code == 1 and r.output.splitlines()[0] == f"FAILED {src}: cannot list the folder (Permission denied)"
    assert "0 done, 0 skipped, 1 failed of 1 input" in r.output
    assert not (tmp_path / "out").exists()


def _refused(path):
    raise PermissionError(13, "Permission denied", str(path))


def test_an_output_folder_moved_whole_keeps_its_record(tmp_path, colorizer):
    src = archive(tmp_path / "in", 2)
    assert statuses(colorize_folder(src, tmp_path / "out", colorizer)) == ["done"] * 2
    (tmp_path / "out").rename(tmp_path / "moved")
    assert statuses(colorize_folder(src, tmp_path / "moved", colorizer)) == ["skipped"] * 2


def test_an_input_folder_moved_or_renamed_keeps_its_record(tmp_path, colorizer):
    """`mv scans scans_1950s` (or a NAS mounted at a new path) redid every output: the journal held the
    inputs' absolute paths (a new user's test). A file of the same name, size and mtime is the same file;
    one whose content changed (here: its size) is redone."""
    src = archive(tmp_path / "in", 2)
    clip = write_video(src / "d0" / "reel.mp4", w=64, h=48, frames=6, audio=None)
    assert statuses(colorize_folder(src, tmp_path / "out", colorizer)) == ["done"] * 3
    moved = tmp_path / "archive_1950s"
    src.rename(moved)
    assert statuses(colorize_folder(moved, tmp_path / "out", colorizer)) == ["skipped"] * 3
    write_image(moved / "d1" / "img1.png", h=44, w=40, seed=9)  # a new scan in its place
    results = {r.input.name: r.status for r in colorize_folder(moved, tmp_path / "out", colorizer)}
    assert results == {"img0.png": "skipped", "img1.png": "done", clip.name: "skipped"}
    # another roll's scan of the same name, size and mtime, while the recorded one is still there, is
    # another file: two rolls sent into one output folder (a review found the second taken as done; then
    # it replaced the first's output without a word, as a copy of it: a reviewer's find), refused as such
    rng = np.random.default_rng(5)
    for roll in ("roll_a", "roll_b"):
        (tmp_path / roll).mkdir()
        Image.fromarray(rng.integers(0, 255, (30, 40), dtype=np.uint8)).save(tmp_path / roll / "scan0001.png", compress_level=0)
        os.utime(tmp_path / roll / "scan0001.png", ns=(0, 1_000_000_000_000))  # a date copied onto both
    assert (tmp_path / "roll_a" / "scan0001.png").stat().st_size == (tmp_path / "roll_b" / "scan0001.png").stat().st_size
    assert statuses(colorize_folder(tmp_path / "roll_a", tmp_path / "rolls", colorizer)) == ["done"]
    (r,) = colorize_folder(tmp_path / "roll_b", tmp_path / "rolls", colorizer)
    assert r.status == "failed" and f"from another input, {tmp_path / 'roll_a' / 'scan0001.png'}, which is still there" in r.error


def test_an_output_folder_that_lost_its_journal_says_so(tmp_path, colorizer):
    """Copied without its hidden .vidcolor folder (rsync without dotfiles), every photo failed every night as
    "not written by vidcolor", with nothing saying why (a new user's test): the refusal names the lost journal."""
    import shutil

    src = archive(tmp_path / "in", 2)
    assert statuses(colorize_folder(src, tmp_path / "out", colorizer)) == ["done"] * 2
    shutil.rmtree(tmp_path / "out" / ".vidcolor")
    results = colorize_folder(src, tmp_path / "out", colorizer)
    assert statuses(results) == ["failed"] * 2
    assert all("the output folder has no journal, .vidcolor/journal.jsonl" in r.error for r in results), results[0].error


def test_a_folder_runs_video_in_an_output_that_lost_its_journal_says_so_too(tmp_path, colorizer):
    """The photos' hint above, for a folder run's film: its refusal said only "not written by vidcolor", in the
    run and its dry run (a reviewer's find)."""
    import shutil

    (tmp_path / "in").mkdir()
    write_video(tmp_path / "in" / "reel01.mp4", frames=4, audio=None)
    assert statuses(colorize_folder(tmp_path / "in", tmp_path / "out", colorizer)) == ["done"]
    shutil.rmtree(tmp_path / "out" / ".vidcolor")
    for opts in (FolderOptions(), FolderOptions(dry_run=True)):
        (r,) = colorize_folder(tmp_path / "in", tmp_path / "out", colorizer, opts)
        assert r.status == "failed" and "the output folder has no journal, .vidcolor/journal.jsonl" in r.error, r.error


def test_a_journal_written_before_paths_were_normalised_still_counts(tmp_path, colorizer, monkeypatch):
    """Lines with no "v" held the paths as that run spelled them, relative to its working directory."""
    src = archive(tmp_path / "in", 2)
    monkeypatch.chdir(tmp_path)
    assert statuses(colorize_folder(Path("in"), Path("out"), colorizer)) == ["done"] * 2
    as_old_journal(tmp_path / "out", tmp_path)
    assert statuses(colorize_folder(Path("in"), Path("out"), colorizer)) == ["skipped"] * 2


def test_an_output_edited_since_vidcolor_wrote_it_is_not_replaced_without_overwrite(tmp_path, colorizer):
    """A new user retouched out/d0/img0.png, then the scan was touched (re-scanned, copied): the re-run
    redid the photo and the retouch was lost without a word. Its size and mtime are journaled now."""
    src = archive(tmp_path / "in", n=2)
    out = tmp_path / "out"
    assert statuses(colorize_folder(src, out, colorizer)) == ["done"] * 2
    edited = out / "d0" / "img0.png"
    Image.fromarray(np.full((30, 40, 3), 200, np.uint8)).save(edited)  # the retouch
    before = edited.read_bytes()
    write_image(src / "d0" / "img0.png", h=33, w=41, seed=99)  # the input changed
    write_image(src / "d1" / "img1.png", h=31, w=40, seed=98)  # and one whose output nobody edited
    res = {r.input.name: r for r in colorize_folder(src, out, colorizer)}
    assert res["img0.png"].status == "failed" and "changed since vidcolor wrote it" in res["img0.png"].error
    assert "--overwrite" in res["img0.png"].error and edited.read_bytes() == before
    assert res["img1.png"].status == "done"
    res = {r.input.name: r.status for r in colorize_folder(src, out, colorizer, FolderOptions(overwrite=True))}
    assert res == {"img0.png": "done", "img1.png": "done"} and edited.read_bytes() != before
    write_image(src / "d0" / "img0.png", h=30, w=40, seed=7)  # vidcolor's own output is replaced as before
    assert {r.input.name: r.status for r in colorize_folder(src, out, colorizer)}["img0.png"] == "done"


def test_outputs_only_touched_since_vidcolor_wrote_them_are_not_taken_for_edited(tmp_path, colorizer, monkeypatch):
    """A backup restored, or `cp -r` without -p, gives every file a new mtime and edits none: a re-run
    after the inputs were touched too failed every photo as "changed since vidcolor wrote it", and the
    only way out (-y) also replaced files vidcolor never wrote (a new user's test). Same size and
    content (sha256, journaled) is the same output; an edit of the same size is still one."""
    src = archive(tmp_path / "in", n=3)
    out = tmp_path / "out"
    assert statuses(colorize_folder(src, out, colorizer)) == ["done"] * 3
    later = time.time() + 100
    for p in [*src.rglob("*.png"), *out.rglob("*.png")]:
        os.utime(p, (later, later))
    assert [r.note for r in colorize_folder(src, out, colorizer)] == ["already done"] * 3  # inputs the same bytes too
    for p in out.rglob("*.png"):
        os.utime(p, (later + 100, later + 100))
    assert [r.note for r in colorize_folder(src, out, colorizer)] == ["already done"] * 3  # not "has changed"
    import vidcolor.archive as journal_module

    read = []
    journal_module._touched_input_sha256.cache_clear()  # the next night's run is a new process: nothing remembered
    monkeypatch.setattr(journal_module, "file_sha256", lambda p: read.append(p) or pytest.fail("read again"))
    assert [r.note for r in colorize_folder(src, out, colorizer)] == ["already done"] * 3  # their new mtime was journaled
    monkeypatch.undo()
    edited = out / "d0" / "img0.png"
    data = bytearray(edited.read_bytes())
    data[-20] ^= 0xFF  # the same size, other content
    edited.write_bytes(bytes(data))
    assert {r.input.name: r.note for r in colorize_folder(src, out, colorizer)}["img0.png"].startswith(
        "already done; the output has changed")


def test_inputs_only_touched_since_they_were_colorized_are_not_redone(tmp_path, colorizer, monkeypatch):
    """A backup restored, `cp -r` without -p or a `touch` gives every scan a new mtime and changes none: a nightly
    run then colorized the whole archive again, days of work (an operator's find). The journal keeps each
    input's sha256: an input whose mtime alone moved is read once, found the same, and journaled with its new
    mtime; one of the same size and other bytes (a re-scan, an uncompressed TIFF's size never changes) is redone."""
    import vidcolor.archive as journal_module

    src = archive(tmp_path / "in", n=3)
    clip = write_video(src / "d0" / "reel.mp4", w=64, h=48, frames=6, audio=None)
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (30, 40), dtype=np.uint8)).save(src / "d1" / "scan.bmp")
    out = tmp_path / "out"
    assert statuses(colorize_folder(src, out, colorizer)) == ["done"] * 5
    copied = tmp_path / "copied"  # `cp -r` without -p: a new folder, every mtime new
    import shutil

    shutil.copytree(src, copied, copy_function=shutil.copyfile)
    shutil.rmtree(src)
    later = time.time() + 100
    for p in copied.rglob("*.*"):
        os.utime(p, (later, later))
    lines = (out / ".vidcolor" / "journal.jsonl").read_text().count("\n")
    dry = colorize_folder(copied, out, colorizer, FolderOptions(dry_run=True))
    assert statuses(dry) == ["skipped"] * 5
    assert (out / ".vidcolor" / "journal.jsonl").read_text().count("\n") == lines  # a dry run writes nothing
    assert [r.note for r in colorize_folder(copied, out, colorizer)] == ["already done"] * 5
    from vidcolor.archive import Journal

    assert Journal(out).last(out / "d0" / "img0.png")["input"] == str((copied / "d0" / "img0.png").resolve())  # its new path
    journal_module._touched_input_sha256.cache_clear()  # the next night's run is a new process: nothing remembered
    monkeypatch.setattr(journal_module, "file_sha256", lambda p: pytest.fail(f"{p} read again"))
    assert statuses(colorize_folder(copied, out, colorizer)) == ["skipped"] * 5  # their new mtimes were journaled
    monkeypatch.undo()
    rescan = copied / "d1" / "scan.bmp"  # a re-scan: an uncompressed photo of the same size, other pixels
    before = rescan.stat().st_size
    Image.fromarray(np.full((30, 40), 77, np.uint8)).save(rescan)
    assert rescan.stat().st_size == before
    results = {r.input.name: r.status for r in colorize_folder(copied, out, colorizer)}
    assert results == {"img0.png": "skipped", "img1.png": "skipped", "img2.png": "skipped", "scan.bmp": "done", clip.name: "skipped"}


def test_a_touched_film_is_read_once_by_its_plan_and_its_run_and_again_once_its_stat_moves(tmp_path, colorizer, monkeypatch):
    """A single film's plan and its run each asked whether only its mtime moved (a 50 GB master read twice before its
    first frame; e9b935e): one read a process for one size and mtime. The next night's process (the cache emptied)
    finds the new mtime journaled and reads nothing; a film touched again is read again, not vouched for by the cache."""
    import vidcolor
    import vidcolor.archive as journal_module

    film = write_video(tmp_path / "reel.mp4", w=64, h=48, frames=4, audio=None)
    dst = tmp_path / "out" / "reel.mp4"
    assert [r.status for r in vidcolor.colorize(film, dst, colorizer=colorizer)] == ["done"]
    real, read = journal_module.file_sha256, []
    monkeypatch.setattr(journal_module, "file_sha256", lambda p: read.append(Path(p)) or real(p))
    for t in (time.time() + 100, time.time() + 200):
        os.utime(film, (t, t))
        read.clear()
        assert [r.note for r in vidcolor.colorize(film, dst, colorizer=colorizer)] == ["already done"]
        assert read.count(film) == 1, read  # the plan's read serves the run: 2 without the cache
    journal_module._touched_input_sha256.cache_clear()
    read.clear()
    assert [r.note for r in vidcolor.colorize(film, dst, colorizer=colorizer)] == ["already done"]
    assert film not in read  # its last mtime was journaled


def test_a_rescan_is_not_vouched_for_by_another_folders_file_of_the_same_name_size_and_mtime(tmp_path, colorizer, monkeypatch):
    """The hash of a touched input is kept for the process by path, size and mtime (e9b935e), and the path was the
    one given: a service that runs `vidcolor.colorize("scan.bmp", "colour/scan.png")` in each roll's folder in turn
    took roll A's cached hash for roll B's scan.bmp (same name, size and a date copied onto both, as the journal's
    own `same_input` knows happens), and skipped B's re-scan as done. The cache is keyed by the real path."""
    import vidcolor

    pixels = np.random.default_rng(1).integers(0, 255, (30, 40), dtype=np.uint8)
    rolls = [tmp_path / "A", tmp_path / "B"]
    for roll in rolls:
        roll.mkdir()
        Image.fromarray(pixels).save(roll / "scan.bmp")
        monkeypatch.chdir(roll)
        assert [r.status for r in vidcolor.colorize("scan.bmp", "colour/scan.png", colorizer=colorizer)] == ["done"]
    rescan = rolls[1] / "scan.bmp"  # B re-scanned: an uncompressed photo of the same size, other pixels
    Image.fromarray(255 - pixels).save(rescan)
    date = time.time() + 100  # then a date copied onto both
    for roll in rolls:
        os.utime(roll / "scan.bmp", (date, date))
    monkeypatch.chdir(rolls[0])
    assert [r.note for r in vidcolor.colorize("scan.bmp", "colour/scan.png", colorizer=colorizer)] == ["already done"]
    monkeypatch.chdir(rolls[1])
    assert [r.status for r in vidcolor.colorize("scan.bmp", "colour/scan.png", colorizer=colorizer)] == ["done"]


def test_an_archive_copied_while_its_original_is_still_there_is_not_redone(tmp_path, colorizer, monkeypatch):
    """`cp -r scans /mnt/new/scans` (no -p), the old disk still mounted, and the nightly job pointed at the copy:
    every scan and film was colorized again (an operator's test), where the README says a copy without -p is
    read once, not redone; a copy with its dates (`cp -p`, `rsync -a`) too. Each input of the copy is read once,
    found to hold the recorded bytes, skipped and journaled under its new path; a scan of the same name and size
    with other bytes is still another scan."""
    import shutil

    import vidcolor.archive as journal_module
    from vidcolor.archive import Journal

    src = archive(tmp_path / "old_disk", n=2)
    write_video(src / "d0" / "reel.mp4", w=64, h=48, frames=6, audio=None)
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (30, 40), dtype=np.uint8)).save(src / "d1" / "scan.bmp")
    out = tmp_path / "out"
    assert statuses(colorize_folder(src, out, colorizer)) == ["done"] * 4
    for name, copy_function in (("cp_r", shutil.copyfile), ("cp_p", shutil.copy2)):
        copy = tmp_path / name
        shutil.copytree(src, copy, copy_function=copy_function)
        if copy_function is shutil.copyfile:
            later = time.time() + 100
            for p in copy.rglob("*.*"):
                os.utime(p, (later, later))
        assert statuses(colorize_folder(copy, out, colorizer, FolderOptions(dry_run=True))) == ["skipped"] * 4
        journal_module._touched_input_sha256.cache_clear()  # (the dry run's hashes: a run is a process of its own)
        reads = []
        real = journal_module.file_sha256
        monkeypatch.setattr(journal_module, "file_sha256", lambda p: reads.append(Path(p).resolve()) or real(p))
        assert [r.note for r in colorize_folder(copy, out, colorizer)] == ["already done"] * 4, name
        assert sorted(reads) == sorted(p.resolve() for p in copy.rglob("*.*")), name  # each read once, none of the old
        assert Journal(out).last(out / "d1" / "scan.bmp")["input"] == str((copy / "d1" / "scan.bmp").resolve())
        reads.clear()
        assert statuses(colorize_folder(copy, out, colorizer)) == ["skipped"] * 4
        assert reads == []  # their new paths and mtimes were journaled
        monkeypatch.undo()
    other = tmp_path / "other_roll"  # the same names, one scan of the same size and other bytes
    shutil.copytree(src, other, copy_function=shutil.copy2)
    Image.fromarray(np.full((30, 40), 77, np.uint8)).save(other / "d1" / "scan.bmp")
    assert (other / "d1" / "scan.bmp").stat().st_size == (src / "d1" / "scan.bmp").stat().st_size
    res = {r.input.name: r for r in colorize_folder(other, out, colorizer)}
    assert res["scan.bmp"].status == "failed" and "from another input" in res["scan.bmp"].error
    assert {n: r.status for n, r in res.items() if n != "scan.bmp"} == {"img0.png": "skipped", "img1.png": "skipped",
                                                                          "reel.mp4": "skipped"}


def test_two_copies_of_an_archive_run_in_turn_are_not_read_again_each_night(tmp_path, colorizer, monkeypatch):
    """The archive and its copy (or a hard link of a scan), both there, run in turn into one output (a cron job on
    one, a run by hand on the other): each run read every input whole and added a line for it to the journal,
    its path flipping between the two, night after night. The original is kept with the entry as a copy; a
    scan of the original changed since is still another scan."""
    import shutil

    import vidcolor.archive as journal_module

    a = archive(tmp_path / "a", n=2)
    out = tmp_path / "out"
    assert statuses(colorize_folder(a, out, colorizer)) == ["done"] * 2
    b = tmp_path / "b"
    shutil.copytree(a, b, copy_function=shutil.copyfile)  # no dates
    linked = tmp_path / "linked" / "d0"
    linked.mkdir(parents=True)
    os.link(a / "d0" / "img0.png", linked / "img0.png")
    journal = out / ".vidcolor" / "journal.jsonl"
    reads = []
    real = journal_module.file_sha256
    monkeypatch.setattr(journal_module, "file_sha256", lambda p: reads.append(Path(p).name) or real(p))
    for night in range(3):
        for folder, n in ((b, 2), (a, 2), (linked.parent, 1)):
            journal_module._touched_input_sha256.cache_clear()  # (each run is a process of its own)
            reads.clear()
            lines = journal.read_text().count("\n")
            assert statuses(colorize_folder(folder, out, colorizer)) == ["skipped"] * n
            if night:
                assert (reads, journal.read_text().count("\n")) == ([], lines), (night, folder.name)
    Image.fromarray(np.full((30, 40), 77, np.uint8)).save(a / "d1" / "img1.png")  # a re-scan of the original
    res = {r.input.name: r for r in colorize_folder(b, out, colorizer)}
    assert res["img1.png"].status == "skipped"  # b's own, unchanged
    assert statuses(colorize_folder(a, out, colorizer)) == ["failed", "skipped"]  # made from b's, still there


def test_a_touched_input_whose_output_is_gone_is_not_read_to_be_found_unchanged(tmp_path, colorizer, monkeypatch):
    """A scan touched (a restore) whose output was deleted: the run read the whole scan to find it unchanged,
    journaled it as done again (with its new mtime, for an output not there), then read it again to colorize it
    (an operator's test). The output is looked for first: the scan is read to be colorized, and hashed once, for
    its record."""
    import vidcolor.archive as journal_module

    src = archive(tmp_path / "in", n=2)
    out = tmp_path / "out"
    assert statuses(colorize_folder(src, out, colorizer)) == ["done"] * 2
    scan = src / "d1" / "img1.png"
    later = time.time() + 100
    os.utime(scan, (later, later))
    (out / "d1" / "img1.png").unlink()
    journal = out / ".vidcolor" / "journal.jsonl"
    lines = journal.read_text().count("\n")
    hashed = []
    real = journal_module.file_sha256
    monkeypatch.setattr(journal_module, "file_sha256", lambda p: hashed.append(Path(p).name) or real(p))
    assert {r.input.name: r.status for r in colorize_folder(src, out, colorizer)} == {"img0.png": "skipped", "img1.png": "done"}
    assert hashed.count("img1.png") == 2  # the scan for its record, then its new output: nothing before
    added = [json.loads(line)["status"] for line in journal.read_text().splitlines()[lines:]]
    assert added == ["started", "done"]


def test_a_read_only_output_is_not_replaced_without_overwrite(tmp_path, colorizer):
    """chmod 444 on an output, then its scan touched: the re-run replaced it, writable again, without a
    word (a new user's test)."""
    src = archive(tmp_path / "in", n=2)
    out = tmp_path / "out"
    assert statuses(colorize_folder(src, out, colorizer)) == ["done"] * 2
    kept = out / "d0" / "img0.png"
    kept.chmod(0o444)
    before = kept.read_bytes()
    write_image(src / "d0" / "img0.png", h=33, w=41, seed=99)
    res = {r.input.name: r for r in colorize_folder(src, out, colorizer)}
    assert res["img0.png"].status == "failed" and "is read-only" in res["img0.png"].error and "--overwrite" in res["img0.png"].error
    assert kept.read_bytes() == before
    res = {r.input.name: r.status for r in colorize_folder(src, out, colorizer, FolderOptions(overwrite=True))}
    assert res["img0.png"] == "done" and kept.read_bytes() != before


def test_an_output_damaged_since_vidcolor_wrote_it_is_kept_but_not_called_plainly_done(tmp_path, colorizer):
    """A new user replaced an output with 5 bytes of junk: the re-run said "skipped: already done" and
    the report was clean. The output is still kept (it may be a retouch), and the skip now says it changed."""
    src = archive(tmp_path / "in", n=2)
    out = tmp_path / "out"
    assert statuses(colorize_folder(src, out, colorizer)) == ["done"] * 2
    (out / "d0" / "img0.png").write_bytes(b"junk!")
    res = {r.input.name: r for r in colorize_folder(src, out, colorizer)}
    assert res["img0.png"].status == "skipped" and (out / "d0" / "img0.png").read_bytes() == b"junk!"
    assert res["img0.png"].note == "already done; the output has changed since vidcolor wrote it (kept; -y redoes it)"
    assert res["img1.png"].note == "already done"
    single = tmp_path / "single.png"  # one photo: the same
    assert colorize_image(src / "d0" / "img0.png", single, colorizer).status == "done"
    single.write_bytes(b"junk!")
    one = colorize_image(src / "d0" / "img0.png", single, colorizer)
    assert one.status == "skipped" and one.note.startswith("already done; the output has changed")


def test_dry_run_lists_and_writes_nothing(tmp_path, colorizer):
    src = archive(tmp_path / "in", 3)
    res = colorize_folder(src, tmp_path / "out", colorizer, FolderOptions(dry_run=True))
    assert statuses(res) == ["planned"] * 3 and not (tmp_path / "out").exists()
    colorize_folder(src, tmp_path / "out", colorizer)
    assert statuses(colorize_folder(src, tmp_path / "out", colorizer, FolderOptions(dry_run=True))) == ["skipped"] * 3


def test_stale_partial_files_of_a_killed_run_are_removed(tmp_path, colorizer):
    src = archive(tmp_path / "in", 2)
    (tmp_path / "out" / "d0").mkdir(parents=True)
    junk = tmp_path / "out" / "d0" / ".img0.vidcolor-partial-99999.png"
    junk.write_bytes(b"half a file")
    colorize_folder(src, tmp_path / "out", colorizer)
    assert not junk.exists()


def test_a_second_run_is_locked_out_with_the_first_runs_pid(tmp_path, weights_file):
    src = archive(tmp_path / "in", 2)
    out = tmp_path / "out"
    holder = _hold(out, None)
    try:
        report = tmp_path / "run.jsonl"  # the first run's report, as far as it got
        report.write_text('{"input": "in/d0/img0.png", "status": "done"}\n')
        r = runner.invoke(cli.app, ["colorize", str(src), "-o", str(out), "--weights", str(weights_file), "--report", str(report)])
        assert r.exit_code == 3
        assert f"pid {holder.pid}" in r.stderr and "locked" in r.stderr
        # a new user's locked-out second run had emptied the first run's report
        assert report.read_text() == '{"input": "in/d0/img0.png", "status": "done"}\n'
    finally:
        holder.kill()
        holder.wait()
    r = runner.invoke(cli.app, ["colorize", str(src), "-o", str(out), "--weights", str(weights_file)])
    assert r.exit_code == 0  # the kernel dropped the killed holder's lock


def test_report_has_one_line_per_input_and_a_summary(tmp_path, weights_file):
    src = archive(tmp_path / "in", 3)
    (src / "broken.jpg").write_text("not an image")
    rep = tmp_path / "run.jsonl"
    r = runner.invoke(cli.app, ["colorize", str(src), "-o", str(tmp_path / "out"), "--weights", str(weights_file), "--report", str(rep)])
    assert r.exit_code == 1
    lines = [json.loads(l) for l in rep.read_text().splitlines()]
    rows, summary = lines[:-1], lines[-1]["summary"]
    assert sorted(row["status"] for row in rows) == ["done", "done", "done", "failed"]
    failed = next(row for row in rows if row["status"] == "failed")
    assert "broken.jpg" in failed["error"] and failed["seconds"] >= 0
    assert summary == {**summary, "done": 3, "failed": 1, "skipped": 0, "total": 4}


def readme_cron_options() -> list[str]:
    """The options of the README's nightly cron line, between the input and `>>`."""
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    line = next(l for l in readme.split("```cron")[1].splitlines() if "vidcolor" in l and not l.startswith("#"))
    words = re.sub(r"--report \S+\$\(date \S+\)\.jsonl", "", line.split(">>")[0]).split()
    return words[words.index("-o") + 2:]


def test_the_readme_cron_line_logs_only_what_changed_on_a_night_with_nothing_new(tmp_path, weights_file):
    """The README's cron line appended a "skipped" line for every finished scan, and a progress line every
    20, to cron.log every night: 25,201 lines (1.6 MB) a night for an archive of 24,000 done scans, for
    ever (an operator's test). Its options now print the summary alone when nothing changed."""
    src = archive(tmp_path / "in", 4)
    args = ["colorize", str(src), "-o", str(tmp_path / "out"), "--weights", str(weights_file), *readme_cron_options()]
    assert runner.invoke(cli.app, args).exit_code == 0
    r = runner.invoke(cli.app, args)
    assert r.exit_code == 0
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"0 done, 4 skipped, 0 failed of 4 inputs into {tmp_path / 'out'} (")


def test_journal_accounts_for_failures_but_retries_them(tmp_path, colorizer):
    src = archive(tmp_path / "in", 2)
    bad = src / "later.png"
    bad.write_bytes(b"")
    out = tmp_path / "out"
    assert statuses(colorize_folder(src, out, colorizer)) == ["done", "done", "failed"]
    lines = [json.loads(l) for l in (out / ".vidcolor" / "journal.jsonl").read_text().splitlines()]
    journal = [e for e in lines if e["status"] != "started"]  # "started" marks a path as vidcolor's before it is written
    failed = [e for e in journal if e["status"] == "failed"]
    assert len(journal) == 3 and len(failed) == 1 and "later.png" in failed[0]["note"]
    write_image(bad, h=20, w=30)  # the file is fixed: the next run does it, and only it
    assert statuses(colorize_folder(src, out, colorizer)) == ["done", "skipped", "skipped"]


def test_a_file_that_fails_every_night_adds_no_journal_line_after_the_first(tmp_path, colorizer):
    """A nightly run journaled each broken scan again every night: the journal, read whole at each start,
    grew by one line per broken file per night, without end (an operator's archive-scale test). The
    same failure of the same file with the same settings is recorded once; a new error is recorded. So is
    an output that cannot be written (it had added a "started" and a "failed" line a night)."""
    src = archive(tmp_path / "in", 2)
    bad = src / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff not a whole jpeg")
    write_image(src / "blocked.png", h=20, w=30)
    out = tmp_path / "out"
    (out / "blocked.png").mkdir(parents=True)  # its output path is taken by a folder: the write fails
    journal = out / ".vidcolor" / "journal.jsonl"
    assert statuses(colorize_folder(src, out, colorizer)) == ["done", "done", "failed", "failed"]
    size = journal.stat().st_size
    for _ in range(3):
        assert statuses(colorize_folder(src, out, colorizer)) == ["failed", "failed", "skipped", "skipped"]
    assert journal.stat().st_size == size
    bad.write_bytes(b"")  # another failure: recorded
    assert statuses(colorize_folder(src, out, colorizer)) == ["failed", "failed", "skipped", "skipped"]
    last = [json.loads(l) for l in journal.read_text().splitlines()][-1]
    assert last["status"] == "failed" and "empty file" in last["note"]


def coloured_photo(h=64, w=96):
    y, x = np.mgrid[0:h, 0:w]
    rgb = np.zeros((h, w, 3), np.uint8)
    rgb[..., 0] = 128 + 100 * np.sin(x / 9)
    rgb[..., 1] = 128 + 100 * np.cos(y / 7)
    rgb[..., 2] = 128 + 100 * np.sin((x + y) / 11)
    return rgb


def sepia(h=64, w=96):
    g = np.linspace(0, 1, w)[None, :].repeat(h, 0)
    return (np.stack([0.95 * g + 0.05, 0.80 * g + 0.04, 0.60 * g + 0.02], -1) * 255).astype(np.uint8)


def test_colour_photos_are_skipped_unless_forced_but_toned_prints_are_colorized(tmp_path, colorizer):
    Image.fromarray(coloured_photo()).save(tmp_path / "colour.png")
    Image.fromarray(sepia()).save(tmp_path / "sepia.png")
    res = colorize_image(tmp_path / "colour.png", tmp_path / "o0.png", colorizer, FolderOptions(copy_skipped=False))
    assert res.status == "skipped" and "already in colour" in res.note and not (tmp_path / "o0.png").exists()
    res = colorize_image(tmp_path / "colour.png", tmp_path / "o1.png", colorizer)
    assert res.status == "skipped" and "copied unchanged" in res.note and res.output == tmp_path / "o1.png"
    assert (tmp_path / "o1.png").read_bytes() == (tmp_path / "colour.png").read_bytes()
    assert colorize_image(tmp_path / "colour.png", tmp_path / "o1.png", colorizer, FolderOptions(force=True)).status == "done"
    assert colorize_image(tmp_path / "sepia.png", tmp_path / "o2.png", colorizer).status == "done"


def test_colour_skip_is_journaled_and_force_redoes_it(tmp_path, colorizer):
    (tmp_path / "in").mkdir()
    Image.fromarray(coloured_photo()).save(tmp_path / "in" / "colour.png")
    assert statuses(colorize_folder(tmp_path / "in", tmp_path / "out", colorizer)) == ["skipped"]
    assert statuses(colorize_folder(tmp_path / "in", tmp_path / "out", colorizer, FolderOptions(force=True))) == ["done"]


# -- formats and metadata -----------------------------------------------------------------------

def gray16(h=40, w=56):
    y, x = np.mgrid[0:h, 0:w]
    return (x * 1000 + y * 37 + 5).astype(np.uint16)


@pytest.mark.parametrize("ext", [".png", ".tif"])
def test_16_bit_stays_16_bit_with_full_precision_lightness(tmp_path, colorizer, ext):
    import cv2
    import tifffile

    g = gray16()
    rgb16 = np.repeat(g[..., None], 3, 2)
    src = tmp_path / f"in{ext}"
    cv2.imwrite(str(src), rgb16) if ext == ".png" else tifffile.imwrite(src, rgb16, photometric="rgb")
    assert read_image(src).pixels.dtype == np.uint16
    colorize_image(src, tmp_path / f"out{ext}", colorizer)
    out = read_image(tmp_path / f"out{ext}").pixels
    assert out.dtype == np.uint16 and out.shape == rgb16.shape
    assert len(np.unique(out)) > 256  # more levels than 8 bits could hold


def test_16_bit_scans_keep_their_resolution_and_get_no_tifffile_tags(tmp_path, colorizer):
    """A new user's 2400 dpi 16-bit TIFF came out at resolution 1 with no unit, described as
    '{"shape": [...]}' by 'tifffile.py'; a 600 dpi 16-bit PNG lost its pHYs chunk."""
    import tifffile

    tifffile.imwrite(tmp_path / "scan.tif", gray16(), photometric="minisblack", resolution=(2400, 2400), resolutionunit="INCH")
    tifffile.imwrite(tmp_path / "cm.tif", gray16(), photometric="minisblack", resolution=(100, 100), resolutionunit="CENTIMETER")
    Image.fromarray(gray16()).save(tmp_path / "scan.png", dpi=(600, 600))
    for name in ("scan.tif", "cm.tif", "scan.png"):
        assert colorize_image(tmp_path / name, tmp_path / f"o_{name}", colorizer).status == "done"
    for name, dpi in (("o_scan.tif", 2400), ("o_cm.tif", 254)):
        with tifffile.TiffFile(tmp_path / name) as tf:
            page = tf.pages[0]
            x, unit = page.tags["XResolution"].value, page.tags["ResolutionUnit"].value
            assert page.bitspersample == 16 and x[0] / x[1] == pytest.approx(dpi) and int(unit) == 2
            # no tifffile description or Software: the Software tag names vidcolor, as a colorized photo's does
            assert "ImageDescription" not in page.tags and page.tags["Software"].value == colorizer.provenance
    with Image.open(tmp_path / "o_scan.png") as im:
        assert im.info["dpi"] == pytest.approx((600, 600), abs=0.01)
    assert cv2_depth(tmp_path / "o_scan.png") == np.uint16
    # an absurd or zero resolution is dropped, not a crash that stopped the folder run (review)
    tifffile.imwrite(tmp_path / "huge.tif", gray16(), photometric="minisblack", resolution=((4294967295, 1), (4294967295, 1)),
                     resolutionunit="CENTIMETER")
    tifffile.imwrite(tmp_path / "zero.tif", gray16(), photometric="minisblack", resolution=((0, 1), (0, 1)), resolutionunit="INCH")
    for name in ("huge.tif", "zero.tif"):
        assert colorize_image(tmp_path / name, tmp_path / f"o_{name}", colorizer).status == "done"
        with tifffile.TiffFile(tmp_path / f"o_{name}") as tf:
            assert "ResolutionUnit" not in tf.pages[0].tags or int(tf.pages[0].tags["ResolutionUnit"].value) != 3


def cv2_depth(path):
    import cv2

    return cv2.imread(str(path), cv2.IMREAD_UNCHANGED).dtype


def test_exif_orientation_is_applied_and_reset(tmp_path, colorizer):
    im = Image.fromarray(np.random.default_rng(0).integers(0, 255, (30, 50), dtype=np.uint8), "L")
    exif = im.getexif()
    exif[0x0112] = 6  # stored landscape, displayed rotated 90 degrees
    exif[0x010F] = "ArchiveCam"
    im.save(tmp_path / "in.jpg", exif=exif.tobytes())
    colorize_image(tmp_path / "in.jpg", tmp_path / "out.jpg", colorizer)
    with Image.open(tmp_path / "out.jpg") as out:
        assert out.size == (30, 50)
        assert out.getexif().get(0x0112) == 1 and out.getexif().get(0x010F) == "ArchiveCam"


@pytest.mark.parametrize("ext", [".jpg", ".png", ".tif", ".webp"])
def test_icc_profile_is_copied(tmp_path, colorizer, ext):
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    Image.fromarray(np.full((20, 30, 3), 120, np.uint8)).save(tmp_path / f"in{ext}", icc_profile=icc)
    colorize_image(tmp_path / f"in{ext}", tmp_path / f"out{ext}", colorizer)
    with Image.open(tmp_path / f"out{ext}") as out:
        assert out.info.get("icc_profile") == icc


def test_16_bit_png_keeps_icc(tmp_path, colorizer):
    import cv2

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    src = tmp_path / "in.png"
    cv2.imwrite(str(src), np.repeat(gray16()[..., None], 3, 2))
    data = src.read_bytes()
    from vidcolor.io.images import _png_chunk
    import zlib

    src.write_bytes(data[:33] + _png_chunk(b"iCCP", b"icc\x00\x00" + zlib.compress(icc)) + data[33:])
    colorize_image(src, tmp_path / "out.png", colorizer)
    with Image.open(tmp_path / "out.png") as out:
        assert out.info.get("icc_profile") == icc


@pytest.mark.parametrize("mode", ["RGBA", "LA", "P"])
def test_alpha_is_kept(tmp_path, colorizer, mode):
    rgba = np.zeros((24, 32, 4), np.uint8)
    rgba[..., :3] = 100
    rgba[..., 3] = np.linspace(0, 255, 32, dtype=np.uint8)[None]
    im = Image.fromarray(rgba, "RGBA")
    if mode == "LA":
        im = im.convert("LA")
    elif mode == "P":
        im = Image.fromarray(rgba[..., :3]).convert("P")
        im.info["transparency"] = 0
    im.save(tmp_path / "in.png")
    colorize_image(tmp_path / "in.png", tmp_path / "out.png", colorizer)
    with Image.open(tmp_path / "out.png") as out:
        assert out.mode == "RGBA" and out.size == (32, 24)
        expected = np.asarray(Image.open(tmp_path / "in.png").convert("RGBA"))[..., 3]
        assert np.array_equal(np.asarray(out)[..., 3], expected)


@pytest.mark.parametrize("kind", ["L", "RGB", "L16"])
def test_png_transparent_colour_is_kept_as_alpha(tmp_path, colorizer, kind):
    """A gray or RGB PNG whose transparency is a tRNS colour (what optipng and oxipng make of an alpha that is
    all 0 or 255) came out opaque, with no note (an archivist's test); it is kept as alpha, as a palette's is."""
    import cv2

    from vidcolor.io.images import _png_chunk

    gray = np.tile(np.linspace(20, 230, 32).astype(np.uint8), (24, 1))
    gray[:6] = 0  # the transparent band
    if kind == "L16":
        data = cv2.imencode(".png", gray.astype(np.uint16) * 257)[1].tobytes()
        (tmp_path / "in.png").write_bytes(data[:33] + _png_chunk(b"tRNS", b"\x00\x00") + data[33:])
        assert Image.open(tmp_path / "in.png").info["transparency"] == 0
    else:
        im = Image.fromarray(gray) if kind == "L" else Image.fromarray(np.dstack([gray] * 3))
        im.save(tmp_path / "in.png", transparency=0 if kind == "L" else (0, 0, 0))
    colorize_image(tmp_path / "in.png", tmp_path / "out.png", colorizer)
    out = cv2.imread(str(tmp_path / "out.png"), cv2.IMREAD_UNCHANGED)
    assert out.shape == (24, 32, 4) and out.dtype == (np.uint16 if kind == "L16" else np.uint8)
    opaque = np.iinfo(out.dtype).max
    assert (out[:6, :, 3] == 0).all() and (out[6:, :, 3] == opaque).all()


def test_cmyk_jpeg_is_read_as_rgb(tmp_path, colorizer):
    Image.fromarray(np.full((20, 30, 3), 90, np.uint8)).convert("CMYK").save(tmp_path / "in.jpg")
    colorize_image(tmp_path / "in.jpg", tmp_path / "out.jpg", colorizer)
    with Image.open(tmp_path / "out.jpg") as out:
        assert out.mode == "RGB" and out.size == (30, 20)


def test_multi_page_tiff_is_refused_clearly(tmp_path, colorizer):
    from vidcolor.errors import InputError

    pages = [Image.fromarray(np.full((10, 10), v, np.uint8)) for v in (10, 200)]
    pages[0].save(tmp_path / "multi.tif", save_all=True, append_images=pages[1:])
    with pytest.raises(InputError, match="multi-page TIFF \\(2 pages\\)"):
        colorize_image(tmp_path / "multi.tif", tmp_path / "out.tif", colorizer)


# -- video resume ---------------------------------------------------------------------------------

def _stop_after(n: int):
    """A progress callback that stands in for Ctrl-C once n frames are done."""
    def progress(done, total):
        if done >= n:
            raise KeyboardInterrupt

    return progress


def test_interrupted_video_resumes_from_finished_segments(tmp_path, colorizer):
    src = write_video(tmp_path / "in.mp4", w=96, h=64, frames=40, audio="aac")
    opts = VideoOptions(segment_seconds=0.4, batch_size=3, temporal="flow")  # 10 frames per segment

    with pytest.raises(KeyboardInterrupt):
        colorize_video(src, tmp_path / "out.mp4", colorizer, opts, progress=_stop_after(25))
    assert not (tmp_path / "out.mp4").exists()
    assert [p.name for p in tmp_path.glob(".*partial*")] == []
    dry = colorize_video(src, tmp_path / "out.mp4", colorizer, dataclasses.replace(opts, dry_run=True))
    assert dry.note == "would resume at frame 20", dry.note  # it said "would colorize" (a new user's test)
    res = colorize_video(src, tmp_path / "out.mp4", colorizer, opts)
    assert any("resumed at frame 20" in n for n in res.notes)
    whole = colorize_video(src, tmp_path / "whole.mp4", colorizer, opts)
    a, b = probe(tmp_path / "out.mp4"), probe(tmp_path / "whole.mp4")
    assert a["frames"] == b["frames"] == 40 and a["pts_s"] == b["pts_s"] and a["others"] == [("audio", "aac")]
    assert not any((tmp_path / ".vidcolor").glob("*.work"))
    assert colorize_video(src, tmp_path / "out.mp4", colorizer, opts).status == "skipped"


def test_segment_length_changes_no_finished_film_and_other_settings_say_they_started_over(tmp_path, colorizer):
    """--segment-seconds was part of a finished film's key: a re-run at 5 s redid a film finished at 2 s.
    And a --crf change after Ctrl-C threw the finished segments away without a word (a new user's test)."""
    src = write_video(tmp_path / "in.mp4", w=96, h=64, frames=30, audio=None)
    opts = VideoOptions(segment_seconds=0.4, batch_size=3, temporal="off")
    assert colorize_video(src, tmp_path / "out.mp4", colorizer, opts).status == "done"
    other_split = dataclasses.replace(opts, segment_seconds=0.8)
    assert colorize_video(src, tmp_path / "out.mp4", colorizer, other_split).status == "skipped"
    # a journal written when the key held it is read without it
    journal = tmp_path / ".vidcolor" / "journal.jsonl"
    lines = [json.loads(x) for x in journal.read_text().splitlines()]
    for e in lines:
        if e.get("key"):
            e["key"] += "|seg0.4"  # where the old key had it (before any hints)
    journal.write_text("".join(json.dumps(e) + "\n" for e in lines))
    assert colorize_video(src, tmp_path / "out.mp4", colorizer, other_split).status == "skipped"

    with pytest.raises(KeyboardInterrupt):
        colorize_video(src, tmp_path / "b.mp4", colorizer, opts, progress=_stop_after(20))
    res = colorize_video(src, tmp_path / "b.mp4", colorizer, dataclasses.replace(opts, crf=22))
    assert res.status == "done" and res.frames_resumed == 0
    assert any(n.startswith("the 20 frames an earlier run had finished were made with other settings") for n in res.notes), res.notes


def test_a_second_thread_is_refused_the_output_lock_as_a_second_process_is(tmp_path):
    """Two library calls in two threads both ran into one folder: photos colorized twice, others failed
    as "not written by vidcolor", 68 journal lines for 20 inputs (an operator's test, 2026-11-27)."""
    import threading

    from vidcolor.archive import OutputLock
    from vidcolor.errors import LockedError

    got: list = []

    def other() -> None:
        try:
            with OutputLock(tmp_path):
                got.append("entered")
        except LockedError as e:
            got.append(str(e))

    with OutputLock(tmp_path), OutputLock(tmp_path):  # re-entrant within a thread (a folder run's videos)
        t = threading.Thread(target=other)
        t.start()
        t.join()
    assert len(got) == 1 and "locked by another thread of this process" in got[0], got
    t = threading.Thread(target=other)  # released: the other thread gets it now
    t.start()
    t.join()
    assert got[1] == "entered"


def test_two_runs_cannot_share_one_report(tmp_path):
    """Two cron jobs given one --report interleaved it: the second's start emptied the first's lines and
    the file ended with two summaries (an operator's test, 2026-11-27)."""
    from vidcolor.archive import RunReport
    from vidcolor.errors import LockedError
    from vidcolor.options import Result

    path = tmp_path / "run.jsonl"
    first = RunReport(path)
    first.add(Result(tmp_path / "a.png", tmp_path / "o" / "a.png", "done"))
    with pytest.raises(LockedError, match="this --report is being written by another vidcolor run"):
        RunReport(path).begin()
    first.close()
    lines = path.read_text().splitlines()
    assert len(lines) == 2 and '"summary"' in lines[1]
    second = RunReport(path)  # once the first has finished, a new run replaces it
    second.begin()
    assert path.read_text() == ""
    second.close()


def test_a_report_to_a_pipe_is_written_as_before(tmp_path):
    """`--report /dev/stdout | cat` failed with "cannot write the report (Invalid argument)": a pipe cannot
    be emptied (a review of the report lock)."""
    import os

    from vidcolor.archive import RunReport
    from vidcolor.options import Result

    r, w = os.pipe()
    report = RunReport(Path(f"/dev/fd/{w}"))
    report.add(Result(tmp_path / "a.png", tmp_path / "o.png", "done"))
    report.close()
    os.close(w)
    lines = os.read(r, 65536).decode().splitlines()
    os.close(r)
    assert len(lines) == 2 and '"summary"' in lines[1]


def test_a_report_on_standard_output_goes_where_the_shell_points_it(tmp_path, weights_file):
    """`--report -` made a file named "-", and `--report /dev/stdout >> all.jsonl` emptied the lines of the
    nights before on each run (a new user's test): both now write to stdout as the shell gives it."""
    src = archive(tmp_path / "in", 2)
    log = tmp_path / "all.jsonl"
    log.write_text("from before\n")
    base = f"'{sys.executable}' -m vidcolor '{src}' -o '{tmp_path / 'out'}' --weights '{weights_file}' -q"
    for report in ("-", "/dev/stdout"):
        r = subprocess.run(["bash", "-c", f"{base} --report {report} >> '{log}'"], cwd=tmp_path, capture_output=True,
                           text=True, timeout=300)
        assert r.returncode == 0, r.stderr
    lines = log.read_text().splitlines()
    assert lines[0] == "from before" and len(lines) == 1 + 2 * 3, lines  # two runs of two inputs and a summary
    assert json.loads(lines[3])["summary"]["done"] == 2 and json.loads(lines[6])["summary"]["skipped"] == 2
    assert not (tmp_path / "-").exists()


def test_a_report_on_stdout_to_a_full_disk_stops_the_run_as_a_report_file_does(tmp_path):
    """Any failure on stdout was taken for a reader gone (`| head -1`): `--report - > /full/disk/run.jsonl`
    lost its lines and the run went on (a review). Only a broken pipe is that; a full disk stops the run."""
    code = ("import sys; from pathlib import Path; from vidcolor.archive import RunReport; from vidcolor.options import Result\n"
            "from vidcolor.errors import StorageError\n"
            "r = RunReport(Path('-'))\n"
            "try:\n    r.add(Result(Path('a.png'), Path('o.png'), 'done'))\nexcept StorageError as e:\n"
            "    print(e, file=sys.stderr); sys.exit(4)\n")
    with open("/dev/full", "w") as full:
        r = subprocess.run([sys.executable, "-c", code], stdout=full, stderr=subprocess.PIPE, text=True, timeout=60)
    assert r.returncode == 4 and "-: cannot write the report (No space left on device); the run stops" in r.stderr, r.stderr


def _hold(out: Path, target: str | None):
    """Another process holding `out`'s lock (the whole folder, or one output in it) until killed."""
    arg = "None" if target is None else f"Path({str(out / target)!r})"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import time; from pathlib import Path; from vidcolor.archive import OutputLock\n"
        f"with OutputLock(Path({str(out)!r}), {arg}):\n    print('locked', flush=True); time.sleep(120)")],
        stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    return holder


def test_runs_writing_single_outputs_into_one_folder_go_side_by_side(tmp_path, weights_file):
    """`parallel vidcolor {} -o out/{.}_color.png ::: *.png`: every run but one failed with exit 3, the
    folder being locked by whichever started first."""
    out = tmp_path / "out"
    out.mkdir()
    a, b = write_image(tmp_path / "a.png"), write_image(tmp_path / "b.png", seed=1)
    holder = _hold(out, "a_color.png")  # a run writing a_color.png, under way
    try:
        r = runner.invoke(cli.app, ["colorize", str(b), "-o", str(out / "b_color.png"), "--weights", str(weights_file)])
        assert r.exit_code == 0, r.output
        assert (out / "b_color.png").is_file()
        # the same output: refused at once, naming the run that writes it
        r = runner.invoke(cli.app, ["colorize", str(a), "-o", str(out / "a_color.png"), "--weights", str(weights_file)])
        assert r.exit_code == 3 and "is being written by another vidcolor run" in r.stderr and f"pid {holder.pid}" in r.stderr
        # a folder run would write a_color.png too: refused, saying what is being written
        src = tmp_path / "in"
        src.mkdir()
        write_image(src / "a.png")
        r = runner.invoke(cli.app, ["colorize", str(src), "-o", str(out), "--weights", str(weights_file)])
        assert r.exit_code == 3 and f"pid {holder.pid}" in r.stderr and "a_color.png" in r.stderr, r.stderr
    finally:
        holder.kill()
        holder.wait()
    # the killed run's lock file is removed by the next run of the whole folder; b's went with its run
    locks = out / ".vidcolor" / "locks"
    assert len(list(locks.glob("*.lock"))) == 1
    r = runner.invoke(cli.app, ["colorize", str(src), "-o", str(out), "--weights", str(weights_file)])
    assert r.exit_code == 0, r.output
    assert list(locks.glob("*")) == []


def test_a_folder_run_keeps_single_output_runs_out(tmp_path, weights_file, monkeypatch):
    import vidcolor.archive as archive

    monkeypatch.setattr(archive, "FOLDER_CHECK_S", 600.0)  # the wait for another single-output run's check: not taken here
    out = tmp_path / "out"
    out.mkdir()
    holder = _hold(out, None)
    try:
        b = write_image(tmp_path / "b.png")
        t0 = time.monotonic()
        r = runner.invoke(cli.app, ["colorize", str(b), "-o", str(out / "b_color.png"), "--weights", str(weights_file)])
        assert time.monotonic() - t0 < 300  # refused at once: it waited FOLDER_CHECK_S first (a review)
        assert r.exit_code == 3 and "a vidcolor run of the whole folder" in r.stderr and f"pid {holder.pid}" in r.stderr
        assert not (out / "b_color.png").exists()
    finally:
        holder.kill()
        holder.wait()


def test_threads_of_one_process_write_single_outputs_side_by_side_but_not_the_same_one(tmp_path):
    import threading

    from vidcolor.archive import OutputLock
    from vidcolor.errors import LockedError

    got: list = []

    def other(target: str | None) -> None:
        try:
            with OutputLock(tmp_path, None if target is None else tmp_path / target):
                got.append("entered")
        except LockedError as e:
            got.append(str(e))

    with OutputLock(tmp_path, tmp_path / "a.mp4"), OutputLock(tmp_path, tmp_path / "a.mp4"):  # re-entrant
        for target in ("b.mp4", "a.mp4", None):
            t = threading.Thread(target=other, args=(target,))
            t.start()
            t.join()
    assert got[0] == "entered" and "another thread" in got[2], got
    assert "a.mp4: is being written by another thread of this process" in got[1], got  # not "unless each writes a single output"
    with OutputLock(tmp_path):  # a folder held covers its outputs in this thread, and keeps other threads out
        with OutputLock(tmp_path, tmp_path / "c.mp4"):
            t = threading.Thread(target=other, args=("d.mp4",))
            t.start()
            t.join()
    assert "another thread of this process" in got[3], got
    # one lock for the names that may be one file (macOS, Windows, a FAT drive): A.MP4 and a composed/decomposed accent
    with OutputLock(tmp_path, tmp_path / "Caf\u00e9.MP4"):
        for target in ("cafe\u0301.mp4", "café.mp4"):
            t = threading.Thread(target=other, args=(target,))
            t.start()
            t.join()
    assert all("is being written by another thread" in g for g in got[4:6]), got
    assert list((tmp_path / ".vidcolor" / "locks").glob("*")) == []


def test_a_runs_stale_temporaries_are_its_outputs_only(tmp_path):
    """Matched by a glob of the name with the pid replaced by "*", `reel.mp4` took another output's
    `.reel0007.vidcolor-partial-99999.mp4` for its own, and `clip[1].mp4` matched `.clip1...`; with runs
    writing single outputs side by side in one folder, that was another run's file under way."""
    from vidcolor.io.paths import stale_temporaries, temp_output_path

    names = [".reel0007.vidcolor-partial-99999.mp4", ".clip1.vidcolor-partial-5.mp4", ".clip[1].vidcolor-partial-77.mp4",
             ".reel.vidcolor-partial-12.mp4", ".reel.vidcolor-partial-12.mkv", "reel.mp4"]
    for n in names:
        (tmp_path / n).write_bytes(b"x")
    assert stale_temporaries(tmp_path / "reel.mp4") == [tmp_path / ".reel.vidcolor-partial-12.mp4"]
    assert stale_temporaries(tmp_path / "clip[1].mp4") == [tmp_path / ".clip[1].vidcolor-partial-77.mp4"]
    assert temp_output_path(tmp_path / "reel0007.mp4").name.startswith(".reel0007.vidcolor-partial-")


def test_inputs_named_near_the_file_name_limit_are_colorized(tmp_path, colorizer):
    """A scan or film whose name is legal but within 26 bytes of 255 (a 250-byte caption in Chinese, a
    251-letter name) failed "ln_out: cannot create the output folder (File name too long)": the hidden
    temporary (".NAME.vidcolor-partial-PID.EXT") and a video's work folder ("NAME.work") added to the
    name. They are shortened with a hash instead, and a killed run's temporary is still found as its own."""
    src, out = tmp_path / "in", tmp_path / "out"
    names = ["A" * 251 + ".png", "\u5199" * 82 + ".png", "\u5199" * 81 + "B.png"]  # 255, 250, 248 bytes
    for i, n in enumerate(names):
        write_image(src / n, h=24, w=32, seed=i)
    write_video(src / ("V" * 248 + ".mp4"), w=32, h=24, frames=3, audio=None)
    results = colorize_folder(src, out, colorizer)
    assert [r.status for r in results] == ["done"] * 4, [r.error for r in results]
    assert sorted(p.name for p in out.iterdir() if p.name != ".vidcolor") == sorted(names + ["V" * 248 + ".mp4"])
    from vidcolor.io.paths import NAME_MAX, stale_temporaries, temp_output_path

    for n in names:
        tmp = temp_output_path(out / n)
        assert len(tmp.name.encode()) <= NAME_MAX and tmp.suffix == ".png"
        tmp.write_bytes(b"x")  # as a killed run leaves it
        assert stale_temporaries(out / n) == [tmp]
    assert temp_output_path(out / names[1]) != temp_output_path(out / names[2])


def test_an_input_whose_output_name_would_pass_the_limit_fails_alone(tmp_path, colorizer):
    """A 255-byte scan name is legal, but its output with --format webp (x.bmp -> x.webp), or a film's written as
    MKV (x.ts -> x.mkv), is a byte longer: the folder run stopped with a traceback, OSError "File name too long"
    from the first look at that output, every night, and its dry run said "would do" (a review of 4e26560).
    Such an input fails alone, in the dry run as in the run, named with the reason; the rest goes on."""
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    long_scan = src / ("a" * 251 + ".bmp")
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (24, 32), dtype=np.uint8)).save(long_scan)
    Image.fromarray(np.random.default_rng(1).integers(0, 255, (24, 32), dtype=np.uint8)).save(src / "short.bmp")
    long_film = write_video(src / ("v" * 252 + ".ts"), w=32, h=24, frames=3, audio=None)
    opts = FolderOptions(fmt_ext=".webp")
    for run in (dataclasses.replace(opts, dry_run=True), opts):
        results = {r.input: r for r in colorize_folder(src, out, colorizer, run)}
        assert results[src / "short.bmp"].status == ("planned" if run.dry_run else "done")
        for p, ext, how in ((long_scan, ".webp", "rename it or leave out --format"), (long_film, ".mkv", "rename it")):
            assert results[p].status == "failed"
            assert results[p].error == (f"{p}: its output, named {ext} in place of {p.suffix}, cannot be written: file name "
                                        f"too long (256 bytes, where a file system takes 255); {how}")
    assert sorted(p.name for p in out.iterdir() if p.name != ".vidcolor") == ["short.webp"]


def test_jpegs_named_jfif_jpe_or_jif_are_photos_of_a_folder_run(tmp_path, colorizer):
    """.jfif (a browser's JPEG on Windows), .jpe and .jif are JPEG's registered names: a folder of them was
    "no photos or videos in it, nothing to do" (exit 0), and among other photos they were left out without
    a line, neither done nor skipped nor failed (an archivist's find). They are colorized into the same name,
    as JPEG; one already in colour is copied unchanged, as a .jpg is."""
    from tests.media import write_colour_image

    src, out = tmp_path / "in", tmp_path / "out"
    (src / "web").mkdir(parents=True)
    for i, name in enumerate(("a.jfif", "b.JPE", "c.jif")):  # (Pillow saves no .jif by its name: format= says JPEG)
        Image.open(write_image(tmp_path / f"{i}.png", seed=i)).save(src / "web" / name, format="JPEG")
    Image.open(write_colour_image(tmp_path / "colour.png")).save(src / "web" / "colour.jfif", format="JPEG", quality=95)
    results = colorize_folder(src, out, colorizer)
    by_name = {r.input.name: r for r in results}
    assert sorted(by_name) == ["a.jfif", "b.JPE", "c.jif", "colour.jfif"], [r.input for r in results]
    assert [by_name[n].status for n in ("a.jfif", "b.JPE", "c.jif")] == ["done"] * 3
    for n in ("a.jfif", "b.JPE", "c.jif"):
        with Image.open(out / "web" / n) as im:
            assert im.format == "JPEG" and im.mode == "RGB"
    assert by_name["colour.jfif"].status == "skipped" and "copied unchanged" in by_name["colour.jfif"].note
    assert (out / "web" / "colour.jfif").read_bytes() == (src / "web" / "colour.jfif").read_bytes()


def test_a_folder_run_leaves_the_temporaries_of_runs_still_writing(tmp_path):
    """A run writing one video into out/sub holds out/sub's lock, not out's: a folder run on out, at
    the start, deleted its partial file as a killed run's, and its final rename failed (a review)."""
    from vidcolor.archive import remove_stale_temporaries

    sub = tmp_path / "sub"
    sub.mkdir()
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    try:
        under_way = sub / f".film.vidcolor-partial-{alive.pid}.mp4"
        left = sub / f".film2.vidcolor-partial-{dead.pid}.mp4"
        mine = tmp_path / f".a.vidcolor-partial-{os.getpid()}.png"
        for p in (under_way, left, mine):
            p.write_bytes(b"x")
        assert sorted(remove_stale_temporaries(tmp_path)) == sorted([left, mine])
        assert under_way.exists()
    finally:
        alive.kill()
        alive.wait()


def test_a_protected_output_that_is_finished_is_skipped_by_a_single_run(tmp_path, colorizer):
    """chmod a-w on a finished photo or video, then the same command again: the front door refused it
    ("is read-only", exit 2) before anything asked whether it was done; a folder run skipped it (review)."""
    import vidcolor.api as api

    photo = write_image(tmp_path / "in.png", h=30, w=40)
    clip = write_video(tmp_path / "in.mp4", w=64, h=48, frames=4, audio=None)
    for src, dst in ((photo, tmp_path / "out" / "in.png"), (clip, tmp_path / "out" / "in.mp4")):
        assert [r.status for r in api.colorize(src, dst, colorizer=colorizer)] == ["done"]
        dst.chmod(0o444)
        before = dst.read_bytes()
        again = api.colorize(src, dst, colorizer=colorizer)
        assert [(r.status, r.note) for r in again] == [("skipped", "already done")]
        dry = api.colorize(src, dst, colorizer=colorizer, video=VideoOptions(dry_run=True), folder=FolderOptions(dry_run=True))
        assert [r.status for r in dry] == ["skipped"]
        assert dst.read_bytes() == before and not dst.stat().st_mode & 0o222
    (tmp_path / "in.png").write_bytes(write_image(tmp_path / "other.png", h=31, w=40, seed=5).read_bytes())
    from vidcolor.errors import UsageError

    # its input changed, so it cannot be finished: refused by the plan, before any model loads (exit 2)
    with pytest.raises(UsageError, match="is read-only"):
        api.plan(photo, tmp_path / "out" / "in.png")
    with pytest.raises(UsageError, match="is read-only"):
        api.colorize(photo, tmp_path / "out" / "in.png", colorizer=colorizer)


def test_an_output_that_cannot_be_read_is_taken_for_changed_not_a_traceback(tmp_path, colorizer, monkeypatch):
    """An output whose mtime moved is hashed; one that cannot be read (its mode, a share's ACL) raised
    PermissionError out of a folder run's skip (review)."""
    import vidcolor.archive as journal_module

    src = archive(tmp_path / "in", n=2)
    out = tmp_path / "out"
    assert statuses(colorize_folder(src, out, colorizer)) == ["done"] * 2
    later = time.time() + 100
    os.utime(out / "d0" / "img0.png", (later, later))

    def unreadable(p):
        raise PermissionError(13, "Permission denied", str(p))

    monkeypatch.setattr(journal_module, "file_sha256", unreadable)
    res = {r.input.name: r for r in colorize_folder(src, out, colorizer)}
    assert res["img0.png"].status == "skipped" and res["img0.png"].note.startswith("already done; the output has changed")
    assert res["img1.png"].note == "already done"


def test_journal_keeps_the_hash_beside_the_stat_an_older_release_compares(tmp_path, colorizer):
    """The previous release compares `output_stat` as a whole: with the hash inside it every output read
    as changed; and a touched output's new mtime is journaled as its entry again, which that release
    reads as finished (a "restat" line of its own was read as the last entry: redone) (review)."""
    src = archive(tmp_path / "in", n=1)
    out = tmp_path / "out"
    colorize_folder(src, out, colorizer)
    journal = out / ".vidcolor" / "journal.jsonl"
    done = [json.loads(line) for line in journal.read_text().splitlines() if '"done"' in line][-1]
    target = out / done["target"]
    assert set(done["output_stat"]) == {"size", "mtime_ns"} and len(done["output_sha256"]) == 64
    later = time.time() + 100
    os.utime(target, (later, later))
    assert [r.note for r in colorize_folder(src, out, colorizer)] == ["already done"]
    last = json.loads(journal.read_text().splitlines()[-1])
    assert last["status"] == "done" and last["key"] == done["key"] and last["input_stat"] == done["input_stat"]
    assert last["output_stat"] == {"size": target.stat().st_size, "mtime_ns": target.stat().st_mtime_ns}
    assert last["output_sha256"] == done["output_sha256"]


def test_a_journal_of_the_day_the_hash_sat_inside_the_stat_still_reads(tmp_path, colorizer):
    """Journals written on 2026-11-27 hold the hash inside `output_stat`, and "restat" lines."""
    src = archive(tmp_path / "in", n=1)
    out = tmp_path / "out"
    colorize_folder(src, out, colorizer)
    journal = out / ".vidcolor" / "journal.jsonl"
    lines = [json.loads(line) for line in journal.read_text().splitlines()]
    for e in lines:
        if "output_sha256" in e:
            e["output_stat"]["sha256"] = e.pop("output_sha256")
    target = out / next(e["target"] for e in lines if e["status"] == "done")
    later = time.time() + 100
    os.utime(target, (later, later))
    lines.append({"v": 2, "target": str(target.relative_to(out)), "status": "restat", "time": time.time(),
                  "output_stat": {"size": target.stat().st_size, "mtime_ns": target.stat().st_mtime_ns,
                                  "sha256": lines[-1]["output_stat"]["sha256"]}})
    journal.write_text("".join(json.dumps(e) + "\n" for e in lines))
    assert [r.note for r in colorize_folder(src, out, colorizer)] == ["already done"]


def test_windows_is_asked_whether_a_process_runs():
    """os.kill there terminates; process_running said True for every pid, so a killed run's partial
    files were never removed (review, simulated: no Windows here)."""
    from vidcolor.archive import _windows_process_running

    class Kernel32:
        def __init__(self, alive: dict[int, int], denied=()):
            self.alive, self.denied, self.error, self.closed = alive, set(denied), 0, []

        def OpenProcess(self, access, inherit, pid):
            if pid in self.denied:
                self.error = 5
                return 0
            if pid not in self.alive:
                self.error = 87
                return 0
            return pid + 1000

        def GetExitCodeProcess(self, handle, ref):
            ref._obj.value = self.alive[handle - 1000]
            return 1

        def CloseHandle(self, handle):
            self.closed.append(handle)

    import ctypes as real

    class Ctypes:
        c_ulong, byref = real.c_ulong, staticmethod(real.byref)

        def __init__(self, k):
            self.k = k

        def get_last_error(self):
            return self.k.error

    k = Kernel32({10: 259, 11: 0}, denied={12})
    c = Ctypes(k)
    assert _windows_process_running(10, k, c) is True  # STILL_ACTIVE
    assert _windows_process_running(11, k, c) is False  # exited, its handle still held somewhere
    assert _windows_process_running(12, k, c) is True  # another user's
    assert _windows_process_running(13, k, c) is False  # no such process
    assert _windows_process_running(-1, k, c) is False and _windows_process_running(2**40, k, c) is False
    assert k.closed == [1010, 1011]


def test_a_dry_run_or_the_plan_never_clears_a_protected_outputs_flag(tmp_path, monkeypatch):
    """On Windows an overwrite clears the read-only flag first (Windows will not replace such a file);
    the plan and dry runs did it too, so a dry run with -y changed the file (review, simulated)."""
    import types

    import vidcolor.archive as archive_module
    from vidcolor.archive import Journal, refuse_foreign_output

    monkeypatch.setattr(archive_module, "os", types.SimpleNamespace(**{**{k: getattr(os, k) for k in dir(os) if not k.startswith("__")},
                                                                       "name": "nt"}))
    target = tmp_path / "out.png"
    target.write_bytes(b"x")
    target.chmod(0o444)
    journal = Journal(tmp_path)
    refuse_foreign_output(journal, target, True, writing=False)
    refuse_foreign_output(journal, target, True, writing=False, may_be_done=True)
    assert not target.stat().st_mode & 0o222
    link = tmp_path / "link.png"
    link.symlink_to(target)
    refuse_foreign_output(journal, link, True)  # a link is replaced itself: its target keeps its flag
    assert not target.stat().st_mode & 0o222
    refuse_foreign_output(journal, target, True)  # the run about to replace it
    assert target.stat().st_mode & 0o200


def test_outputs_whose_names_fold_alike_take_turns_and_the_same_one_is_refused(tmp_path, caplog):
    """Scan.png and scan.png are two files on Linux's ext4 and one on macOS, Windows, a FAT drive or an SMB
    share: two runs writing them take turns (a review found the second exited 3, "is being written by
    another vidcolor run", where the names are two files; and two files written at once where they are one)."""
    from vidcolor.archive import OutputLock
    from vidcolor.errors import LockedError

    out = tmp_path / "out"
    out.mkdir()
    code = ("import sys, time; from pathlib import Path; from vidcolor.archive import OutputLock\n"
            "with OutputLock(Path(sys.argv[1]), Path(sys.argv[1]) / 'Scan.png'):\n"
            "    print('held', flush=True); time.sleep(2)\n")
    holder = subprocess.Popen([sys.executable, "-c", code, str(out)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(LockedError, match="is being written by another vidcolor run"):  # the same output: at once
            with OutputLock(out, out / "Scan.png"):
                pass
        t0 = time.time()
        with OutputLock(out, out / "scan.png"):  # another spelling: after the other run
            assert holder.poll() is not None or time.time() - t0 > 1
        # and the wait says so, once (it had printed nothing for as long as the other run took)
        waits = [r.getMessage() for r in caplog.records if "waiting for another vidcolor run" in r.getMessage()]
        assert len(waits) == 1 and "scan.png" in waits[0] and f"pid {holder.pid}" in waits[0]
    finally:
        holder.wait(timeout=30)


def test_a_killed_folder_runs_owner_file_does_not_refuse_single_output_runs(tmp_path):
    """SIGKILL leaves .vidcolor/owner.json (the kernel frees the lock itself): a single-output run that
    found the folder's lock held for a moment by a sibling read that file and refused at once, "locked by
    a vidcolor run of the whole folder (pid <dead>)": 6 of 8 parallel runs failed (review)."""
    import socket
    import threading

    from filelock import FileLock

    from vidcolor.archive import OutputLock
    from vidcolor.errors import LockedError

    out = tmp_path / "out"
    (out / ".vidcolor").mkdir(parents=True)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    owner = out / ".vidcolor" / "owner.json"
    owner.write_text(json.dumps({"pid": dead.pid, "host": socket.gethostname(), "started": time.time(), "output": None}))
    sibling = FileLock(str(out / ".vidcolor" / "lock"), thread_local=False)
    sibling.acquire()  # a sibling single-output run taking its own lock, for a moment
    threading.Timer(0.5, sibling.release).start()
    t0 = time.time()
    with OutputLock(out, out / "a.png"):
        pass
    assert 0.4 < time.time() - t0 < 5
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(20)"])
    try:  # a folder run that is alive still refuses at once
        owner.write_text(json.dumps({"pid": alive.pid, "host": socket.gethostname(), "started": time.time(), "output": None}))
        sibling.acquire()
        with pytest.raises(LockedError, match="run of the whole folder"):
            with OutputLock(out, out / "b.png"):
                pass
        sibling.release()
    finally:
        alive.kill()
        alive.wait()


def test_a_held_output_lock_whose_owner_file_is_not_written_yet_is_waited_for(tmp_path):
    """The owner file is written just after its lock is taken and removed just before it is let go: a run
    that found the lock held and no owner file took it for the same output and exited 3 (a review: 290 of
    740 tries between Scan.png and scan.png). It now tries again for a few seconds."""
    import threading

    from filelock import FileLock

    from vidcolor.archive import LOCKS_DIR, OutputLock
    from vidcolor.errors import LockedError

    out = tmp_path / "out"
    (out / ".vidcolor" / LOCKS_DIR).mkdir(parents=True)
    probe_lock = OutputLock(out, out / "a.png")
    holder = FileLock(probe_lock.lock.lock_file, thread_local=False)
    holder.acquire()  # held, its owner file not there (yet)
    threading.Timer(1.0, holder.release).start()
    with OutputLock(out, out / "a.png"):
        pass
    holder.acquire()  # held for good, no owner file ever: refused after the tries
    try:
        t0 = time.time()
        with pytest.raises(LockedError, match="is being written by another vidcolor run"):
            with OutputLock(out, out / "a.png"):
                pass
        assert time.time() - t0 < 10
    finally:
        holder.release()


def test_a_folder_run_holds_the_folders_inside_its_output_too(tmp_path, weights_file):
    """A photo redone into a folder run's tree, or a folder run of one of its subfolders, went on beside it:
    both wrote and journaled the same outputs, and the folder run then failed one of them as "not written by
    vidcolor" (an operator's test). They are locked out (exit 3), naming the folder run."""
    from vidcolor.archive import OutputLock
    from vidcolor.errors import LockedError

    src = archive(tmp_path / "in", 2)
    out = tmp_path / "out"
    holder = _hold(out, None)
    try:
        photo = next(src.rglob("*.png"))
        for args in (["colorize", str(photo), "-o", str(out / "d0" / "a.png")], ["colorize", str(src / "d0"), "-o", str(out / "d0")]):
            r = runner.invoke(cli.app, [*args, "--weights", str(weights_file)])
            assert r.exit_code == 3 and f"is inside {out}" in r.stderr and f"pid {holder.pid}" in r.stderr, r.output
        assert not (out / "d0").exists()  # a refused run makes no folder
        with pytest.raises(LockedError):
            OutputLock(out / "d0" / "deeper").__enter__()
    finally:
        holder.kill()
        holder.wait()
    with OutputLock(out):  # this thread's own folder run covers the folders inside it
        with OutputLock(out / "d0", out / "d0" / "a.png"):
            pass


@pytest.mark.parametrize("order", ["subfolder first", "folder first"])
def test_outputs_a_run_into_a_subfolder_wrote_are_vidcolors_for_the_folder_run_and_back(tmp_path, colorizer, order):
    """A folder run failed every output that an earlier run into one of its subfolders had written as "not written
    by vidcolor" (with advice about a lost journal), and the other way round (an operator's test)."""
    src = archive(tmp_path / "in", 4)
    out = tmp_path / "out"
    runs = [(src / "d0", out / "d0"), (src, out)]
    for s, d in runs if order == "subfolder first" else runs[::-1]:
        res = colorize_folder(s, d, colorizer.with_strength(1.5) if d == out else colorizer)
        assert res and all(r.status == "done" for r in res), [(r.input.name, r.error) for r in res if r.status != "done"]
    edited = next((out / "d0").glob("*.png"))
    edited.write_bytes(edited.read_bytes() + b"edited")  # still refused once changed, whichever journal wrote it
    res = {r.input.stem: r for r in colorize_folder(src, out, colorizer.with_strength(0.5))}
    assert {k: r.status for k, r in res.items()} == {"img0": "failed", "img1": "done", "img2": "done", "img3": "done"}, {k: r.error for k, r in res.items()}
    assert edited.stem == "img0" and "changed since vidcolor wrote it" in res["img0"].error


def test_a_run_refused_by_the_lock_leaves_the_holders_folder_alone(tmp_path, weights_file, monkeypatch):
    """A run that found the output folder missing, then lost the race for its lock, removed the folder it had
    meant to make, with the winner's lock file in it, so a third run could start beside the winner (a review)."""
    src = archive(tmp_path / "in", 2)
    out = tmp_path / "out"
    holder = _hold(out, None)
    try:
        monkeypatch.setattr(cli, "_first_missing", lambda root: root)  # as if it was missing when this run looked
        r = runner.invoke(cli.app, ["colorize", str(src), "-o", str(out), "--weights", str(weights_file)])
        assert r.exit_code == 3, r.output
        assert (out / ".vidcolor" / "lock").is_file() and (out / ".vidcolor" / "owner.json").is_file()
    finally:
        holder.kill()
        holder.wait()


def test_an_unreadable_output_folder_above_is_no_enclosing_run(tmp_path, colorizer, monkeypatch):
    """Every run below a share's top, where an admin had once run a folder run (its .vidcolor not readable
    to this user), crashed with a PermissionError from the enclosing-run check and the other journals' reading
    (a review; simulated, as the tests run as root, whom file modes do not stop)."""
    src = archive(tmp_path / "in", 2)
    top = tmp_path / "share"
    (top / ".vidcolor").mkdir(parents=True)
    (top / ".vidcolor" / "owner.json").write_text("{}")
    (top / ".vidcolor" / "journal.jsonl").write_text("")
    real = Path.is_file

    def guarded(self):
        if self.parent == top / ".vidcolor":
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "is_file", guarded)
    res = colorize_folder(src, top / "bob" / "out", colorizer)
    assert statuses(res) == ["done", "done"]
    again = colorize_folder(src, top / "bob" / "out", colorizer.with_strength(1.5))  # redone: the other journals are read
    assert statuses(again) == ["done", "done"]


def _journal_statuses(out):
    return [json.loads(line)["status"] for line in (out / ".vidcolor" / "journal.jsonl").read_text().splitlines()]


def test_a_users_file_at_a_failed_inputs_output_stays_the_users(tmp_path, colorizer):
    """A review: the failure of a broken scan was journaled before its output was checked, and a failed line
    marked the output as vidcolor's: once the scan was fixed, the user's own file there was replaced unasked."""
    src, out = tmp_path / "in", tmp_path / "out"
    write_image(src / "a.png", 20, 30)
    (src / "scan.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    write_image(out / "scan.png", 20, 30, seed=7)
    mine = (out / "scan.png").read_bytes()
    assert sorted(r.status for r in colorize_folder(src, out, colorizer)) == ["done", "failed"]
    write_image(src / "scan.png", 20, 30, seed=3)  # the scan fixed
    res = {r.input.name: r for r in colorize_folder(src, out, colorizer)}
    assert res["scan.png"].status == "failed" and "was not written by vidcolor" in res["scan.png"].error
    assert (out / "scan.png").read_bytes() == mine


def test_an_output_whose_rewrite_failed_is_still_guarded_against_a_hand_edit(tmp_path, colorizer, monkeypatch):
    """A review: done, the scan re-scanned, the write failed ("started", "failed"), the old output still in place
    and then retouched by hand: the next run took it for a write under way and replaced it."""
    from vidcolor import folder
    from vidcolor.errors import OutputError

    src, out = tmp_path / "in", tmp_path / "out"
    write_image(src / "a.png", 20, 30)
    assert [r.status for r in colorize_folder(src, out, colorizer)] == ["done"]
    write_image(src / "a.png", 20, 30, seed=5)  # re-scanned

    def refused(dst, *args, **kwargs):
        raise OutputError(f"{dst}: cannot write (Permission denied)")
    with monkeypatch.context() as m:
        m.setattr(folder, "write_image", refused)
        assert [r.status for r in colorize_folder(src, out, colorizer)] == ["failed"]
    write_image(out / "a.png", 20, 30, seed=9)  # retouched
    retouched = (out / "a.png").read_bytes()
    res = colorize_folder(src, out, colorizer)
    assert res[0].status == "failed" and "changed since vidcolor wrote it" in res[0].error
    assert (out / "a.png").read_bytes() == retouched


@pytest.mark.parametrize("error", ["InputError", "ValueError"])
def test_a_failing_input_adds_no_journal_lines_night_after_night_videos_too(tmp_path, colorizer, monkeypatch, error):
    """A video that failed after its "started" line added one every night and never a failure (a review of the
    photos' fix), whatever raised it (a folder run makes any error a failed input): journaled as failed, once."""
    from vidcolor import errors, pipeline

    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    write_video(src / "v.mp4", frames=4, audio=None)

    def damaged(*args, **kwargs):
        raise getattr(errors, error, ValueError)("v.mp4: damaged stream at frame 2")
    monkeypatch.setattr(pipeline, "_encode_segments", damaged)
    for night in range(3):
        assert [r.status for r in colorize_folder(src, out, colorizer, video=VideoOptions(temporal="off"))] == ["failed"]
        assert _journal_statuses(out) == ["started", "failed"]


def test_a_videos_overwrite_does_not_replace_the_folders_photos(tmp_path, colorizer):
    """A review: VideoOptions(overwrite=True), given for a folder's videos, replaced a user's photo in the output."""
    import vidcolor
    from vidcolor.errors import UsageError

    src, out = tmp_path / "in", tmp_path / "out"
    write_image(src / "p.png", 20, 30)
    write_image(out / "p.png", 20, 30, seed=9)
    mine = (out / "p.png").read_bytes()
    res = colorize_folder(src, out, colorizer, FolderOptions(), video=VideoOptions(overwrite=True))
    assert res[0].status == "failed" and (out / "p.png").read_bytes() == mine
    with pytest.raises(UsageError, match=r"video=VideoOptions\(overwrite=True\) applies to videos"):  # not ignored
        vidcolor.colorize(src / "p.png", out / "p.png", colorizer=colorizer, video=VideoOptions(overwrite=True))
    assert (out / "p.png").read_bytes() == mine


def test_an_input_replaced_while_it_is_colorized_is_redone_by_the_next_run(tmp_path, colorizer, monkeypatch):
    """A scan (or film) replaced by a new version while the nightly run had it under way was journaled with the
    new file's size and mtime, as done from the old one's pixels: every later run skipped it, and the new
    version was never colorized (an archivist's test). The journal keeps the input as it was before reading."""
    import vidcolor.folder as folder_mod
    import vidcolor.pipeline as pipeline_mod

    src = tmp_path / "scans"
    write_image(src / "a.png", h=30, w=40, seed=1)
    write_image(src / "b.png", h=30, w=40, seed=2)
    film = write_video(src / "reel.mp4", w=64, h=48, frames=6, audio=None)
    read = folder_mod.read_image

    def read_then_rescanned(path):
        img = read(path)
        if path.name == "a.png":  # the re-scan lands (rsync's rename) while the old one is colorized
            write_image(path, h=30, w=40, seed=7)
            os.utime(path, ns=(time.time_ns(), time.time_ns() + 10**9))
        return img

    encode = pipeline_mod._encode_segments

    def encode_then_replaced(source, *args, **kwargs):
        enc = encode(source, *args, **kwargs)
        write_video(film, w=64, h=48, frames=8, audio=None)  # a new transfer of the reel, copied over it
        return enc

    monkeypatch.setattr(folder_mod, "read_image", read_then_rescanned)
    monkeypatch.setattr(pipeline_mod, "_encode_segments", encode_then_replaced)
    first = {r.input.name: r.status for r in colorize_folder(src, tmp_path / "out", colorizer)}
    assert first == {"a.png": "done", "b.png": "done", "reel.mp4": "done"}
    monkeypatch.undo()
    again = {r.input.name: r.status for r in colorize_folder(src, tmp_path / "out", colorizer)}
    assert again == {"a.png": "done", "b.png": "skipped", "reel.mp4": "done"}  # both had been "skipped"
    assert probe(tmp_path / "out" / "reel.mp4")["frames"] == 8


def test_two_input_folders_into_one_output_do_not_replace_each_others_outputs(tmp_path, colorizer):
    """Two scanning stations' folders sent into one output folder, each nightly: station B's scan0001.jpg
    replaced station A's colorized scan0001.jpg without a word, and A's next run replaced B's, every night
    (an archivist's test). The second input fails, naming the first, and -y still replaces it; a folder moved
    (the recorded input gone) or copied with its dates is still the same scan."""
    import shutil

    a, b, out = tmp_path / "stationA", tmp_path / "stationB", tmp_path / "out"
    write_image(a / "scan0001.jpg", h=30, w=40, seed=1)
    write_image(b / "scan0001.jpg", h=30, w=40, seed=2)
    write_image(b / "scan0002.jpg", h=30, w=40, seed=3)
    assert statuses(colorize_folder(a, out, colorizer)) == ["done"]
    first = (out / "scan0001.jpg").read_bytes()
    res = {r.input.name: r for r in colorize_folder(b, out, colorizer)}
    assert res["scan0002.jpg"].status == "done" and res["scan0001.jpg"].status == "failed"
    assert f"vidcolor wrote it from another input, {a / 'scan0001.jpg'}, which is still there" in res["scan0001.jpg"].error
    assert (out / "scan0001.jpg").read_bytes() == first  # it had been replaced by B's
    dry = {r.input.name: r.status for r in colorize_folder(b, out, colorizer, FolderOptions(dry_run=True))}
    assert dry["scan0001.jpg"] == "failed"
    assert statuses(colorize_folder(a, out, colorizer)) == ["skipped"]  # A's run found its own output (it redid it)
    copy = tmp_path / "stationA_copy"
    shutil.copytree(a, copy)  # copy2: the same scans, with their dates
    assert statuses(colorize_folder(copy, out, colorizer)) == ["skipped"]  # the same bytes: done (it was redone)
    shutil.rmtree(a)
    assert statuses(colorize_folder(copy, out, colorizer)) == ["skipped"]
    assert {r.input.name: r.status for r in colorize_folder(b, out, colorizer, FolderOptions(overwrite=True))} == {
        "scan0001.jpg": "done", "scan0002.jpg": "done"}


def test_two_input_folders_videos_into_one_output_do_not_replace_each_others(tmp_path, colorizer):
    """The photos' refusal above, for a folder run's videos: two stations' reel01.mp4 into one output replaced
    each other's film every night (a review of the photos' fix found the videos left out). The second fails
    naming the first, in a dry run too, and -y replaces it; the first station's own re-run skips its film."""
    a, b, out = tmp_path / "stationA", tmp_path / "stationB", tmp_path / "out"
    a.mkdir(), b.mkdir()
    write_video(a / "reel01.mp4", frames=4, audio=None)
    write_video(b / "reel01.mp4", frames=6, audio=None)
    assert statuses(colorize_folder(a, out, colorizer)) == ["done"]
    first = (out / "reel01.mp4").read_bytes()
    for opts in (FolderOptions(), FolderOptions(dry_run=True)):
        (r,) = colorize_folder(b, out, colorizer, opts)
        assert r.status == "failed" and f"vidcolor wrote it from another input, {a / 'reel01.mp4'}, which is still there" in r.error
    assert (out / "reel01.mp4").read_bytes() == first
    assert statuses(colorize_folder(a, out, colorizer)) == ["skipped"]
    assert statuses(colorize_folder(b, out, colorizer, FolderOptions(overwrite=True))) == ["done"]
    assert (out / "reel01.mp4").read_bytes() != first


def test_an_input_folder_copied_without_its_dates_is_not_taken_for_another_input(tmp_path, colorizer):
    """The archive copied to a new disk without its dates (cp -r, a restore that does not keep them), the old
    disk still mounted: each photo of the copy's first run failed as written "from another input, which is still
    there", every night, where the same bytes are the same scan (a review). A scan of the same name with other
    bytes is still refused."""
    import shutil

    a, out = tmp_path / "old_disk", tmp_path / "out"
    write_image(a / "scan0001.jpg", h=30, w=40, seed=1)
    write_image(a / "scan0002.jpg", h=30, w=40, seed=2)
    assert statuses(colorize_folder(a, out, colorizer)) == ["done", "done"]
    copy = tmp_path / "new_disk"
    shutil.copytree(a, copy, copy_function=shutil.copyfile)  # the bytes, not the dates
    os.utime(copy / "scan0001.jpg", ns=(time.time_ns(), time.time_ns() + 10**9))
    write_image(copy / "scan0002.jpg", h=30, w=40, seed=3)  # another scan under that name
    res = {r.input.name: r for r in colorize_folder(copy, out, colorizer)}
    assert res["scan0001.jpg"].status == "skipped", res["scan0001.jpg"].error  # the same bytes: done (it was redone)
    assert res["scan0002.jpg"].status == "failed" and "from another input" in res["scan0002.jpg"].error
    assert statuses(colorize_folder(copy, out, colorizer)) == ["failed", "skipped"]


def test_two_rolls_scans_of_one_size_and_date_do_not_replace_each_others_output(tmp_path, colorizer):
    """Two rolls' scan0001.bmp (uncompressed BMPs of one size) with a date copied onto both were taken for one
    file copied (same name, size and mtime), so each roll's run replaced the other's output without a word, every
    night (a reviewer's find). Other bytes are another scan; a hard link of the same scan is the same file."""
    a, b, out = tmp_path / "rollA", tmp_path / "rollB", tmp_path / "out"
    write_image(a / "scan0001.bmp", h=30, w=40, seed=1)
    write_image(b / "scan0001.bmp", h=30, w=40, seed=2)
    for p in (a / "scan0001.bmp", b / "scan0001.bmp"):
        os.utime(p, ns=(1_600_000_000_000_000_000,) * 2)
    assert (a / "scan0001.bmp").stat().st_size == (b / "scan0001.bmp").stat().st_size
    assert statuses(colorize_folder(a, out, colorizer)) == ["done"]
    first = (out / "scan0001.bmp").read_bytes()
    import vidcolor.archive as journal_module

    reads, real = [], journal_module.file_sha256
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(journal_module, "file_sha256", lambda p: reads.append(Path(p)) or real(p))
        (r,) = colorize_folder(b, out, colorizer)
    assert r.status == "failed" and f"from another input, {a / 'scan0001.bmp'}, which is still there" in r.error
    assert reads == [b / "scan0001.bmp"]  # once, and not roll A's, as journaled (it was B twice and A once)
    assert (out / "scan0001.bmp").read_bytes() == first
    assert statuses(colorize_folder(a, out, colorizer)) == ["skipped"]
    linked = tmp_path / "linked"
    linked.mkdir()
    os.link(a / "scan0001.bmp", linked / "scan0001.bmp")
    assert statuses(colorize_folder(linked, out, colorizer)) == ["skipped"]  # the same scan: done, not refused


def test_a_video_gone_between_its_plan_and_its_run_fails_as_not_found(tmp_path, colorizer, monkeypatch):
    """fb64b16 took a video's stat before opening it, so a film moved away after its plan was made raised a bare
    FileNotFoundError (a traceback from `vidcolor film.mp4 -o out/film.mp4`) where opening it said "file not
    found" (a review); it is that InputError again, journaled as the failure."""
    import vidcolor.pipeline as pipeline_mod
    from vidcolor.archive import Journal
    from vidcolor.errors import InputError

    src = write_video(tmp_path / "reel.mp4", w=64, h=48, frames=4, audio=None)
    plan = pipeline_mod.plan_output

    def planned_then_moved(s, *a, **k):
        p = plan(s, *a, **k)
        s.unlink()
        return p

    monkeypatch.setattr(pipeline_mod, "plan_output", planned_then_moved)
    with pytest.raises(InputError, match=r"reel\.mp4: file not found$"):
        colorize_video(src, tmp_path / "out" / "reel.mp4", colorizer)
    assert Journal(tmp_path / "out").last(tmp_path / "out" / "reel.mp4")["note"] == f"{src}: file not found"


@pytest.mark.parametrize("target", [None, "a.mp4"], ids=["folder-run", "single-output"])
def test_the_owner_file_is_never_seen_half_written(tmp_path, monkeypatch, target):
    """owner.json (who holds an output's lock) was written in place, so a run reading it meanwhile (is its holder
    alive, who is it) could read part of its JSON. It is written whole beside it and renamed over it: at any moment
    it holds a whole file, here the one a killed run left, then this run's."""
    from vidcolor.archive import OutputLock

    lock = OutputLock(tmp_path, None if target is None else tmp_path / target)
    owner, seen = lock.owner, []
    owner.parent.mkdir(parents=True)  # a killed run's (SIGKILL leaves it; the kernel freed its lock)
    owner.write_text(json.dumps({"pid": 2 ** 22 + 1, "host": "elsewhere", "started": 0, "output": None}))

    def in_two_halves(self, text, *args, **kwargs):
        with open(self, "w") as f:
            f.write(text[:len(text) // 2])
            f.flush()
            if owner.exists():  # another run reading it now
                seen.append(owner.read_text())
            f.write(text[len(text) // 2:])
        return len(text)

    monkeypatch.setattr(Path, "write_text", in_two_halves)
    with lock:
        held = json.loads(owner.read_text())
    assert held["pid"] == os.getpid() and seen
    for text in seen:
        json.loads(text)


def test_two_writers_of_one_file_do_not_share_a_temporary(tmp_path, monkeypatch):
    """atomic_write_text wrote through a fixed NAME.tmp: a second writer of the same file (two `vidcolor eval` into one
    --out) wrote into the first's temporary and renamed it, and the first's rename then failed ("No such file"). Each
    call's temporary is its own; the last rename wins, and no temporary is left."""
    from vidcolor.io.paths import atomic_write_text

    target, replace, calls = tmp_path / "eval.json", os.replace, []

    def other_writer_first(src, dst, *args, **kwargs):
        if not calls:  # between this writer's write and its rename, the other one writes the same file
            calls.append(src)
            atomic_write_text(target, '{"run": 2}')
        return replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", other_writer_first)
    atomic_write_text(target, '{"run": 1}')
    assert json.loads(target.read_text()) == {"run": 1} and os.listdir(tmp_path) == ["eval.json"]


def test_a_report_keeps_a_name_that_is_not_utf8_as_docs_archives_md_says(tmp_path):
    """docs/archives.md, "The report": a byte that is not UTF-8 is a lone surrogate escape, and
    os.fsencode(json.loads(line)["input"]) gives back the name's exact bytes (the docs said nothing of it)."""
    import json

    from vidcolor.archive import RunReport
    from vidcolor.options import Result

    name = os.fsdecode(b"scan\xff\xe9.png")
    report = RunReport(tmp_path / "run.jsonl")
    report.add(Result(tmp_path / name, tmp_path / "out" / name, "done", 0.1, 1))
    report.close()
    line = (tmp_path / "run.jsonl").read_bytes().splitlines()[0]
    assert b"scan\\udcff\\udce9.png" in line  # ASCII JSON: each such byte as a \udcXX escape
    assert os.fsencode(json.loads(line)["input"]) == os.fsencode(tmp_path) + b"/scan\xff\xe9.png"
