"""What a power loss cannot undo: every output (and every file a resume relies on) is fsynced under its temporary
name before it is renamed into place, so the journal's "done" line, fsynced after it, never outlives its bytes;
and an output found empty where the journal says it was written whole is redone, not kept as an edit."""
import errno
import logging
import os
import stat
from pathlib import Path

import pytest
import torch

import vidcolor
from tests.media import write_image, write_video
from vidcolor.archive import Journal
from vidcolor.io.paths import atomic_write_text
from vidcolor.options import FolderOptions, VideoOptions


class DiskEvents:
    """os.fsync and os.replace as they are called, in order: ("fsync", inode, is_folder) and ("replace", the
    source's inode, the destination)."""

    def __init__(self, monkeypatch):
        self.events: list[tuple] = []
        real_fsync, real_replace = os.fsync, os.replace

        def fsync(fd):
            st = os.fstat(fd)
            self.events.append(("fsync", st.st_ino, stat.S_ISDIR(st.st_mode)))
            return real_fsync(fd)

        def replace(src, dst, *a, **k):
            self.events.append(("replace", os.stat(src).st_ino, Path(dst)))
            return real_replace(src, dst, *a, **k)

        monkeypatch.setattr(os, "fsync", fsync)
        monkeypatch.setattr(os, "replace", replace)

    def renames(self) -> list[tuple[int, int, Path]]:
        """(position, source inode, destination) of each rename."""
        return [(i, e[1], e[2]) for i, e in enumerate(self.events) if e[0] == "replace"]

    def synced_before(self, position: int, inode: int) -> bool:
        return ("fsync", inode, False) in self.events[:position]

    def unsynced_renames(self) -> list[Path]:
        """Renames of files not fsynced first, but for a lock's owner record (moot after a power loss)."""
        return [dst for i, ino, dst in self.renames() if not self.synced_before(i, ino) and not is_lock_owner(dst)]

    def rename_of(self, dst: Path) -> int:
        return max(i for i, _, d in self.renames() if d == dst)

    def last_journal_sync(self, root: Path) -> int:
        ino = (root / ".vidcolor" / "journal.jsonl").stat().st_ino
        return max(i for i, e in enumerate(self.events) if e == ("fsync", ino, False))


def is_lock_owner(path: Path) -> bool:
    return path.parent.name == "locks" or path.name == "owner.json"


@pytest.fixture
def disk(monkeypatch):
    return DiskEvents(monkeypatch)


def test_a_photos_output_is_fsynced_before_its_rename_and_its_journal_line(tmp_path, colorizer, disk):
    src = write_image(tmp_path / "scan.png")
    dst = tmp_path / "out" / "scan.png"
    [res] = vidcolor.colorize(src, dst, colorizer=colorizer)
    assert res.status == "done"
    assert disk.unsynced_renames() == []
    assert disk.rename_of(dst) < disk.last_journal_sync(dst.parent)


def test_a_colour_photos_copy_is_fsynced_before_its_rename(tmp_path, colorizer, disk, monkeypatch):
    import vidcolor.folder as folder
    from vidcolor.tone import ColourScores

    monkeypatch.setattr(folder, "colour_photo_score", lambda px: ColourScores(9.0, 9.0))
    src = write_image(tmp_path / "in" / "colour.png")
    [res] = vidcolor.colorize(tmp_path / "in", tmp_path / "out", colorizer=colorizer)
    assert res.status == "skipped" and (tmp_path / "out" / "colour.png").read_bytes() == src.read_bytes()
    assert disk.unsynced_renames() == []
    assert disk.rename_of(tmp_path / "out" / "colour.png") < disk.last_journal_sync(tmp_path / "out")


def test_a_videos_segments_states_log_and_output_are_fsynced_before_their_renames(tmp_path, colorizer, disk):
    """The segment log lists a segment only once its file and smoother state are on disk, and the joined film is
    on disk before the journal's line: a log or journal that outlived them had a resume splice an empty segment."""
    src = write_video(tmp_path / "clip.mp4", w=64, h=48, frames=12, audio=None)
    dst = tmp_path / "out" / "clip.mp4"
    [res] = vidcolor.colorize(src, dst, colorizer=colorizer, video=VideoOptions(segment_seconds=0.2))
    assert res.status == "done"
    names = [d.name for _, _, d in disk.renames()]
    assert {"seg000000.mp4", "seg000000.state.npz", "segments.json", "clip.mp4"} <= set(names), names
    assert disk.unsynced_renames() == []
    assert disk.rename_of(dst) < disk.last_journal_sync(dst.parent)


def test_a_film_joined_on_the_cluster_is_fsynced_before_its_rename(tmp_path, colorizer, disk, monkeypatch):
    from tests import fake_ray
    from vidcolor.cluster import RayOptions

    fake_ray.install(monkeypatch)
    threads = torch.get_num_threads()  # an actor sets the process's torch threads; keep the suite's
    try:
        src = write_video(tmp_path / "clip.mp4", w=64, h=48, frames=12, audio=None)
        dst = tmp_path / "out" / "film.mp4"
        [res] = vidcolor.colorize(src, dst, colorizer=colorizer, video=VideoOptions(segment_seconds=0.2),
                                  ray=RayOptions("auto"))
    finally:
        torch.set_num_threads(threads)
    assert res.status == "done"
    assert disk.unsynced_renames() == []
    assert disk.rename_of(dst) < disk.last_journal_sync(dst.parent)


def test_a_rename_over_a_file_fsyncs_the_folder_after_it_and_a_new_name_does_not(tmp_path, disk):
    """Lost, a rename over a file leaves the older file, which the journal's record of the new one reads as a hand
    edit: the folder is fsynced. Lost, a new name leaves no file, which the next run redoes: it is not."""
    folder_ino = tmp_path.stat().st_ino
    atomic_write_text(tmp_path / "state.json", "1")
    assert ("fsync", folder_ino, True) not in disk.events
    atomic_write_text(tmp_path / "state.json", "2")
    renamed = disk.rename_of(tmp_path / "state.json")
    assert ("fsync", folder_ino, True) in disk.events[renamed + 1:]
    assert disk.unsynced_renames() == []
    assert (tmp_path / "state.json").read_text() == "2" and [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_a_file_system_without_fsync_is_written_as_before(tmp_path, monkeypatch):
    def unsupported(fd):
        raise OSError(errno.EINVAL, "Invalid argument")

    from vidcolor.io.paths import durable_replace

    (tmp_path / "a.tmp").write_text("x")
    monkeypatch.setattr(os, "fsync", unsupported)
    durable_replace(tmp_path / "a.tmp", tmp_path / "a")
    assert (tmp_path / "a").read_text() == "x"


def test_a_full_disk_reported_by_the_fsync_stops_the_run_and_leaves_no_partial_file(tmp_path, colorizer, monkeypatch):
    """A network share may report a full disk or quota only when the data is flushed: at the fsync."""
    from vidcolor.errors import StorageError

    real = os.fsync

    def full(fd):  # the photo's temporary only: the journal's line (its failure) is written
        if os.fstat(fd).st_ino != (tmp_path / "out" / ".vidcolor" / "journal.jsonl").stat().st_ino:
            raise OSError(errno.EDQUOT, "Disk quota exceeded")
        return real(fd)

    src = write_image(tmp_path / "scan.png")
    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(StorageError, match=r"out.scan\.png: cannot write: Disk quota exceeded; the run stops"):
        vidcolor.colorize(src, tmp_path / "out" / "scan.png", colorizer=colorizer)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [".vidcolor"]
    assert Journal(tmp_path / "out").last(tmp_path / "out" / "scan.png")["status"] == "failed"


def test_an_output_found_empty_after_its_done_line_is_redone_and_one_cut_short_is_kept(tmp_path, colorizer, caplog):
    """What a power loss left of an output renamed before its bytes reached the disk (a release without the fsync):
    an empty file, journaled as done. It was kept as "changed since vidcolor wrote it", a broken file for good;
    replacing an empty file loses nothing, so it is redone, with a warning. A shorter file is kept as before (a
    retouch saved smaller looks the same); a missing one is redone."""
    for name in ("empty", "short", "gone"):
        write_image(tmp_path / "in" / f"{name}.png", seed=len(name))
    out = tmp_path / "out"
    assert {r.status for r in vidcolor.colorize(tmp_path / "in", out, colorizer=colorizer)} == {"done"}
    whole = {p.name: p.read_bytes() for p in out.glob("*.png")}
    (out / "empty.png").write_bytes(b"")
    (out / "short.png").write_bytes(whole["short.png"][:100])
    (out / "gone.png").unlink()

    dry = {r.input.name: r.status for r in vidcolor.colorize(tmp_path / "in", out, colorizer=colorizer,
                                                                folder=FolderOptions(dry_run=True))}
    assert dry == {"empty.png": "planned", "short.png": "skipped", "gone.png": "planned"}
    with caplog.at_level(logging.WARNING, logger="vidcolor"):
        results = {r.input.name: r for r in vidcolor.colorize(tmp_path / "in", out, colorizer=colorizer)}
    assert {n: r.status for n, r in results.items()} == {"empty.png": "done", "short.png": "skipped", "gone.png": "done"}
    assert "changed since vidcolor wrote it" in results["short.png"].note
    assert (out / "empty.png").read_bytes() == whole["empty.png"]
    assert (out / "short.png").stat().st_size == 100
    assert [r.getMessage() for r in caplog.records] == [
        f"vidcolor: {out / 'empty.png'}: empty, where the journal records it written whole (its bytes lost to a power "
        "loss?): redone"]
    assert {r.status for r in vidcolor.colorize(tmp_path / "in", out, colorizer=colorizer)} == {"skipped"}


def test_an_emptied_output_whose_input_changed_is_redone_not_refused_as_edited(tmp_path, colorizer):
    src = write_image(tmp_path / "scan.png", seed=1)
    dst = tmp_path / "out" / "scan.png"
    vidcolor.colorize(src, dst, colorizer=colorizer)
    dst.write_bytes(b"")
    write_image(src, seed=2)  # re-scanned
    assert Journal(dst.parent).changed_since_written(dst) is False
    [res] = vidcolor.colorize(src, dst, colorizer=colorizer)
    assert res.status == "done" and dst.stat().st_size > 0
