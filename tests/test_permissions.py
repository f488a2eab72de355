"""Runs as an ordinary user on shared storage: another user's files in the output, the outputs' permission
bits. The tests run as root in CI, where the kernel grants every permission: they refuse the OS call where
vidcolor makes it (an `os.open` that raises PermissionError) rather than relying on chmod, or skip as root."""
import errno
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.media import write_image
from vidcolor import cli

runner = CliRunner()
AS_ROOT = pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root is granted every permission")


def invoke(*args):
    return runner.invoke(cli.app, ["colorize", *map(str, args)])


@pytest.fixture
def no_work(monkeypatch):
    monkeypatch.setattr("vidcolor.api._load", lambda **kw: pytest.fail("the model was loaded"))
    monkeypatch.setattr("vidcolor.api.colorize", lambda *a, **kw: pytest.fail("the run started"))


def refuse_writes_to(monkeypatch, name: str) -> None:
    """os.open refuses to open the file `name` for writing, as for a file another user's run left (0644, theirs)."""
    real = os.open

    def open_(path, flags, *a, **kw):
        if Path(path).name == name and flags & (os.O_WRONLY | os.O_RDWR):
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
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
