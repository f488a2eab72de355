"""Runs as an ordinary user on shared storage: another user's files in the output, the outputs' permission
bits. The tests run as root in CI, where the kernel grants every permission: they refuse the OS call where
vidcolor makes it (an `os.open` that raises PermissionError) rather than relying on chmod, or skip as root."""
import errno
import os
from pathlib import Path

import pytest

from tests.media import write_image
from tests.test_cli_refusals import invoke, no_work  # noqa: F401  (no_work: a fixture)

AS_ROOT = pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root is granted every permission")


def refuse_writes_to(monkeypatch, name: str, code: int = errno.EACCES) -> None:
    """os.open refuses to open the file `name` for writing with errno `code`: by default as for a file another
    user's run left (0644, theirs)."""
    real = os.open

    def open_(path, flags, *a, **kw):
        if Path(path).name == name and flags & (os.O_WRONLY | os.O_RDWR):
            raise OSError(code, os.strerror(code), str(path))  # (OSError makes the errno's subclass: PermissionError)
        return real(path, flags, *a, **kw)

    monkeypatch.setattr(os, "open", open_)


def last_nights_state(out: Path) -> None:
    """The state folder a finished run leaves: its lock files and journal (an empty journal will do)."""
    (out / ".vidcolor" / "locks").mkdir(parents=True)
    for name in ("lock", "journal.jsonl", "journal.jsonl.lock"):
        (out / ".vidcolor" / name).touch()


@pytest.mark.parametrize("name", ["lock", "journal.jsonl", "journal.jsonl.lock"])
@pytest.mark.parametrize("kind", ["folder", "photo"])
def test_a_state_file_another_users_run_left_is_refused_before_the_model_loads(tmp_path, monkeypatch, no_work, name,
                                                                              kind):
    """Root's run last night, the archivist's cron job tonight: root's lock file gave a traceback (PermissionError
    from filelock), and root's journal or journal lock let the run load the model and stop at its first output
    with exit 4, "cannot write the journal". Now one line naming the file, exit 2, before any work."""
    src = tmp_path / "scans"
    write_image(src / "a.png")
    out = tmp_path / "out"
    last_nights_state(out)
    report = tmp_path / "run.jsonl"
    report.write_text('{"summary": {"done": 1}}\n')
    refuse_writes_to(monkeypatch, name)
    r = invoke(*([src, "-o", out] if kind == "folder" else [src / "a.png", "-o", out / "a.png"]), "--report", report)
    lines = r.stderr.strip().splitlines()
    assert r.exit_code == 2 and len(lines) == 1, r.output
    assert lines[0].startswith("vidcolor: error: ") and f".vidcolor{os.sep}{name}: cannot write the output's run state " \
        "(Permission denied" in lines[0], lines[0]
    assert "Traceback" not in r.output
    assert report.read_text() == '{"summary": {"done": 1}}\n'  # last night's report, as any refusal leaves it
    assert sorted(p.name for p in out.iterdir()) == [".vidcolor"]


@pytest.mark.parametrize("code, exit_code, says", [
    (errno.ENOSPC, 4, "cannot write the output's run state (No space left on device); the run stops"),
    (errno.EROFS, 2, "read-only file system; the output cannot be written there"),
    (errno.EIO, 2, "cannot write the output's run state (Input/output error)")], ids=["ENOSPC", "EROFS", "EIO"])
@pytest.mark.parametrize("name", ["lock", "journal.jsonl"])
def test_a_state_file_that_cannot_be_written_for_another_reason_says_that_reason(tmp_path, monkeypatch, no_work, name,
                                                                                code, exit_code, says):
    """A full disk, a read-only file system or an I/O error while taking the output's lock (or opening its journal)
    had each read "cannot write the output's run state", with advice about another user's run where the file was
    another user's. A full disk is the run stopped for space (exit 4); the others are one line saying what the OS
    said, and none blames another user."""
    src = tmp_path / "scans"
    write_image(src / "a.png")
    out = tmp_path / "out"
    last_nights_state(out)
    if os.name == "posix" and os.geteuid() == 0:  # another user's file: what had brought the advice about their run
        os.chown(out / ".vidcolor" / name, 1, 1)
    refuse_writes_to(monkeypatch, name, code)
    r = invoke(src, "-o", out)
    lines = r.stderr.strip().splitlines()
    assert r.exit_code == exit_code and len(lines) == 1, r.output
    assert lines[0] == f"vidcolor: error: {out / '.vidcolor' / name}: {says}", lines[0]
    assert "Traceback" not in r.output


@AS_ROOT
def test_a_read_only_journal_is_refused_before_the_model_loads_as_a_user(tmp_path, no_work):
    """The same, with the file really read-only (run as an ordinary user; root writes it anyway)."""
    src = tmp_path / "scans"
    write_image(src / "a.png")
    out = tmp_path / "out"
    last_nights_state(out)
    (out / ".vidcolor" / "journal.jsonl").chmod(0o444)
    r = invoke(src, "-o", out)
    assert r.exit_code == 2 and "journal.jsonl: cannot write the output's run state (Permission denied" in r.stderr, r.output


@pytest.fixture(params=[0o002, 0o077], ids=["umask002", "umask077"])
def umask(request):
    old = os.umask(request.param)
    yield request.param
    os.umask(old)


def test_a_checkpoint_follows_the_umask_as_cp_would(tmp_path, umask):
    """mkstemp's 0600, then a fixed 0644: private weights (umask 077) came out world-readable, a team's (002)
    not group-writable."""
    import torch

    from vidcolor.models.checkpoint import atomic_save

    atomic_save({"w": torch.zeros(2)}, tmp_path / "w.pt")
    assert (tmp_path / "w.pt").stat().st_mode & 0o777 == 0o666 & ~umask
    assert [p.name for p in tmp_path.iterdir()] == ["w.pt"]


def test_a_checkpoints_temporary_name_already_taken_is_left_alone(tmp_path, monkeypatch):
    """The temporary is named by pid and 8 random hex digits; where a file of that name already exists
    (another writer's, in a folder shared by containers whose processes have the same pids), the save
    fails and leaves it: its clean-up had removed the other writer's file."""
    import torch

    from vidcolor.models import checkpoint

    monkeypatch.setattr(checkpoint.secrets, "token_hex", lambda n: "0" * 2 * n)
    theirs = tmp_path / f".w.pt.{os.getpid()}.00000000.tmp"
    theirs.write_bytes(b"another writer's")
    with pytest.raises(FileExistsError):
        checkpoint.atomic_save({"w": torch.zeros(2)}, tmp_path / "w.pt")
    assert theirs.read_bytes() == b"another writer's" and not (tmp_path / "w.pt").exists()


@pytest.mark.skipif(os.name != "posix", reason="POSIX modes and set-group-ID folders")
def test_outputs_reports_and_journals_follow_the_umask_and_a_setgid_folders_group(tmp_path, umask):
    """A shared group archive (umask 002, a set-group-ID folder): every file a run writes is the umask's 0666
    and the folder's group, as `cp` makes it; none is a temporary's 0600."""
    import grp

    from tests.media import write_video

    src = tmp_path / "scans"
    write_image(src / "a.png")
    (src / "sub").mkdir()
    write_video(src / "sub" / "clip.mp4", frames=6, audio=None)
    out = tmp_path / "archive"
    out.mkdir()
    others = [g.gr_gid for g in grp.getgrall() if g.gr_gid != os.getegid()]
    if os.geteuid() == 0 and others:  # (a user can chown only to a group of theirs)
        os.chown(out, -1, others[0])
    out.chmod(0o2777 & ~umask)
    r = invoke(src, "-o", out / "run", "--report", out / "run.jsonl", "--device", "cpu", "-q")
    assert r.exit_code == 0, r.output
    files = [p for p in out.rglob("*") if p.is_file()]
    names = {p.relative_to(out).as_posix() for p in files}
    assert {"run/a.png", "run/sub/clip.mp4", "run.jsonl", "run/.vidcolor/journal.jsonl"} <= names, names
    assert {p.relative_to(out).as_posix(): oct(p.stat().st_mode & 0o777) for p in files} == \
        {n: oct(0o666 & ~umask) for n in names}
    assert {p.stat().st_gid for p in files} == {out.stat().st_gid}


@pytest.mark.parametrize("kind", ["folder", "video", "photo"])
def test_a_killed_runs_partial_file_this_user_may_not_remove_is_left_with_a_line(tmp_path, monkeypatch, caplog, colorizer,
                                                                               kind):
    """Root's run killed last night left a partial file in a folder of root's (or a sticky shared folder): the
    next run, as the archivist, stopped with a PermissionError traceback after the model loaded, its report
    empty. Now it is left in place with one line, and the run goes on."""
    import vidcolor
    from tests.media import write_video

    src = tmp_path / "scans"
    src.mkdir()
    write_video(src / "v.mp4", frames=4, audio=None)
    write_image(src / "a.png")
    out = tmp_path / "out"
    out.mkdir()
    one = "a.png" if kind == "photo" else "v.mp4"  # (a single photo's run cleared it by a direct unlink: f640b7c)
    theirs = out / f".{Path(one).stem}.vidcolor-partial-999999999{Path(one).suffix}"  # (no such pid: a killed run's)
    theirs.touch()
    real = Path.unlink

    def unlink(self, missing_ok=False):
        if self.name == theirs.name:
            raise PermissionError(errno.EPERM, os.strerror(errno.EPERM), str(self))
        return real(self, missing_ok=missing_ok)

    monkeypatch.setattr(Path, "unlink", unlink)
    results = vidcolor.colorize(*((src, out) if kind == "folder" else (src / one, out / one)), colorizer=colorizer)
    assert {r.status for r in results} == {"done"} and (out / one).is_file()
    assert theirs.exists()
    assert f"{theirs}: cannot remove a killed run's partial file (Operation not permitted); left in place" in caplog.text


def test_an_unreadable_hints_file_beside_a_photo_fails_it_in_one_plain_line(tmp_path, monkeypatch):
    """A sidecar this user may not read failed its photo with "cannot read hints file ([Errno 13] Permission denied:
    'scans/a.hints.json')": the path twice and Python's errno. Now the reason alone, as for an unreadable photo."""
    from vidcolor.errors import InputError
    from vidcolor.hints import load_hints

    sidecar = tmp_path / "a.hints.json"
    sidecar.write_text('{"points": []}')
    real = Path.read_bytes
    monkeypatch.setattr(Path, "read_bytes", lambda self: (_ for _ in ()).throw(
        PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(self))) if self == sidecar else real(self))
    with pytest.raises(InputError) as e:
        load_hints(sidecar)
    assert str(e.value) == f"{sidecar}: cannot read hints file (Permission denied)"
