"""SIGTERM stops a run the way Ctrl-C does (exit 143, one line, lock and owner.json gone, nothing partial,
the same command resumes), and --dry-run says what the real run would do and creates nothing."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from tests.media import write_image, write_video
from vidcolor import cli

runner = CliRunner()
REPO = Path(__file__).resolve().parents[1]
TERMINATED = "terminated; run the same command again to resume"


def invoke(*args):
    return runner.invoke(cli.app, ["colorize", *map(str, args)])


def start(args, weights):
    cmd = [sys.executable, "-m", "vidcolor", *map(str, args), "--weights", str(weights), "--device", "cpu", "-q"]
    return subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def sigterm_when(proc, ready, timeout=60.0, signum=signal.SIGTERM):
    """Send SIGTERM (or `signum`) once `ready()` holds (polled), while the run is still going; its (rc, stderr)."""
    deadline = time.time() + timeout
    while not ready():
        assert proc.poll() is None, f"the run ended before it could be terminated: {proc.communicate()[1]}"
        assert time.time() < deadline, "nothing was written in time"
        time.sleep(0.005)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=60)
    return proc.returncode, err


def leftovers(root: Path) -> list[str]:
    return [str(p) for p in root.rglob("*") if "vidcolor-partial" in p.name or p.name.endswith((".part.mp4", ".tmp", ".tmp.npz"))]


def stopped_cleanly(rc, err, out: Path, report: Path):
    assert rc == 143, (rc, err)
    assert err.splitlines()[-1] == TERMINATED and "Traceback" not in err, err
    assert not (out / ".vidcolor" / "owner.json").exists()
    assert leftovers(out) == []
    summary = json.loads(report.read_text().splitlines()[-1])["summary"]
    assert summary["interrupted"] is True


def test_sigterm_stops_a_folder_run_like_ctrl_c_and_the_same_command_skips_what_it_did(tmp_path, weights_file):
    src, out, report = tmp_path / "scans", tmp_path / "out", tmp_path / "run.jsonl"
    for i in range(30):
        write_image(src / f"p{i:03d}.png", seed=i)
    proc = start([src, "-o", out, "--report", report], weights_file)
    rc, err = sigterm_when(proc, lambda: any(out.glob("*.png")))
    stopped_cleanly(rc, err, out, report)
    # a new user's stopped run's total read as all there was: it is what the run handled; inputs is all of them
    assert json.loads(report.read_text().splitlines()[-1])["summary"]["inputs"] == 30
    before = {p.name: p.stat().st_mtime_ns for p in out.glob("*.png")}
    assert 1 <= len(before) < 30, "the run was not terminated mid-way"
    r = invoke(src, "-o", out, "--weights", weights_file, "--device", "cpu", "-q", "--report", report)
    assert r.exit_code == 0, r.output
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("*.png") if p.name in before} == before
    summary = json.loads(report.read_text().splitlines()[-1])["summary"]
    assert (summary["done"], summary["skipped"], summary["total"]) == (30 - len(before), len(before), 30)


def test_sigterm_stops_a_video_run_and_the_same_command_resumes_from_its_segments(tmp_path, weights_file):
    src = write_video(tmp_path / "film.mp4", frames=60, audio="aac")
    out, report = tmp_path / "out", tmp_path / "run.jsonl"
    args = ["--segment-seconds", "0.4", "--batch-size", "2"]  # 10 frames a segment
    proc = start([src, "-o", out / "film.mp4", "--report", report, *args], weights_file)
    rc, err = sigterm_when(proc, lambda: any(out.rglob("segments.json")))  # the first segment is finished
    stopped_cleanly(rc, err, out, report)
    assert not (out / "film.mp4").exists()
    # the report says which video was under way and how far it got (it had no line for it: film-user test)
    summary = json.loads(report.read_text().splitlines()[-1])["summary"]
    assert summary["inputs"] == 1 and summary["total"] == 0  # one input, as a folder's says its count (a new user's test)
    stopped = summary["in_progress"]
    assert stopped["input"] == str(src) and stopped["frames"] == 60 and 10 <= stopped["frames_done"] < 60
    r = invoke(src, "-o", out / "film.mp4", "--weights", weights_file, "--device", "cpu", *args)
    assert r.exit_code == 0, r.output
    assert "film.mp4 (60 frames, " in r.stderr and " of them resumed" in r.stderr, r.stderr


def test_sighup_stops_a_run_in_order_unless_it_is_ignored(tmp_path, weights_file):
    """An ssh session dropped: SIGHUP killed the run at once and left an empty report (a new user's test).
    It now stops as SIGTERM does, exit 129; a run started under nohup (SIGHUP ignored) carries on."""
    src, out, report = tmp_path / "scans", tmp_path / "out", tmp_path / "run.jsonl"
    for i in range(30):
        write_image(src / f"p{i:03d}.png", seed=i)
    cmd = [sys.executable, "-m", "vidcolor", str(src), "-o", str(out), "--report", str(report), "--weights", str(weights_file), "-q"]
    # SIGHUP as a terminal's session gives it (the suite itself may run under nohup, which children inherit)
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_DFL))
    rc, err = sigterm_when(proc, lambda: any(out.glob("*.png")), signum=signal.SIGHUP)
    assert rc == 129 and err.splitlines()[-1] == "hung up (SIGHUP); run the same command again to resume", (rc, err)
    assert json.loads(report.read_text().splitlines()[-1])["summary"]["interrupted"] is True
    assert leftovers(out) == []
    cmd = [sys.executable, "-m", "vidcolor", str(src), "-o", str(tmp_path / "nohup"), "--weights", str(weights_file), "-q"]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN))
    rc, err = sigterm_when(proc, lambda: any((tmp_path / "nohup").glob("*.png")), signum=signal.SIGHUP)
    assert rc == 0 and len(list((tmp_path / "nohup").glob("*.png"))) == 30, (rc, err)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a pseudo-terminal as the controlling terminal")
def test_a_terminal_that_goes_away_stops_the_run_in_order(tmp_path, weights_file):
    """An ssh session dropping: the kernel sends SIGHUP and the live bar's last redraw then fails on the dead
    terminal, which escaped the orderly stop: exit 1 and a report without its summary (a review, with a pty)."""
    import fcntl
    import select
    import termios

    src, out, report = tmp_path / "scans", tmp_path / "out", tmp_path / "run.jsonl"
    for i in range(40):
        write_image(src / f"p{i:03d}.png", seed=i)
    master, slave = os.openpty()
    cmd = [sys.executable, "-m", "vidcolor", str(src), "-o", str(out), "--report", str(report), "--weights", str(weights_file)]
    proc = subprocess.Popen(cmd, cwd=REPO, stdin=slave, stdout=slave, stderr=slave, start_new_session=True,
                            preexec_fn=lambda: (signal.signal(signal.SIGHUP, signal.SIG_DFL),
                                                fcntl.ioctl(0, termios.TIOCSCTTY, 0)))
    os.close(slave)
    seen, deadline = b"", time.time() + 120
    while b"inputs" not in seen:  # the live bar is up: the run is under way on the terminal
        assert time.time() < deadline and proc.poll() is None, seen[-500:]
        if select.select([master], [], [], 0.2)[0]:
            seen += os.read(master, 65536)
    os.close(master)  # the terminal goes away
    assert proc.wait(timeout=120) == 129
    assert json.loads(report.read_text().splitlines()[-1])["summary"]["interrupted"] is True
    assert leftovers(out) == []


def test_sigterm_is_handled_only_while_the_colorize_command_runs(tmp_path, monkeypatch):
    """`vidcolor serve` (uvicorn) and whatever calls the CLI in-process keep their own SIGTERM handling."""
    seen = []

    def fake_colorize(src, dst=None, **kw):
        seen.append(signal.getsignal(signal.SIGTERM))
        return []

    monkeypatch.setattr("vidcolor.api.colorize", fake_colorize)
    before = signal.getsignal(signal.SIGTERM)
    assert invoke(write_image(tmp_path / "a.png"), "-o", tmp_path / "b.png").exit_code == 0
    assert seen and seen[0] not in (before, signal.SIG_DFL, signal.SIG_IGN)
    assert signal.getsignal(signal.SIGTERM) == before


def colour_photo(path: Path) -> Path:
    img = np.zeros((48, 64, 3), np.uint8)
    img[..., 0], img[:, :32, 2], img[24:, :, 1] = 200, 180, 150
    Image.fromarray(img).save(path)
    return path


def tree(root: Path) -> dict:
    """Every path under root, with its files' mtimes (a folder's own mtime moves with a writability probe)."""
    return {str(p.relative_to(root)): p.is_file() and p.stat().st_mtime_ns for p in root.rglob("*")}


def test_dry_run_creates_nothing_not_even_a_video_folder_or_its_report(tmp_path, weights_file):
    src, out = tmp_path / "arch", tmp_path / "arch_color"
    write_image(src / "a.png")
    (src / "c").mkdir()
    write_video(src / "c" / "film.mp4", frames=4, audio=None)
    out.mkdir()
    report = tmp_path / "run.jsonl"
    report.write_text('{"summary": {"done": 2}}\n')  # last night's report
    outside = tree(tmp_path)
    r = invoke(src, "-o", out, "--weights", weights_file, "--dry-run", "--report", report)
    assert r.exit_code == 0, r.output
    assert tree(tmp_path) == outside and not (out / "c").exists()
    assert report.read_text() == '{"summary": {"done": 2}}\n'
    assert "would do " + str(src / "c" / "film.mp4") + ": would colorize" in r.stderr
    assert r.stderr.splitlines()[-1] == (f"dry run: 2 to do, 0 skipped, 0 would fail of 2 inputs into {out}; --report {report} "
                                         "not written; photos are not opened, so one to do may still be skipped as in "
                                         "colour or failed as unreadable")


def test_dry_run_says_would_fail_where_the_real_run_fails(tmp_path, weights_file):
    src, out = tmp_path / "arch", tmp_path / "out"
    write_image(src / "edited.png", seed=1)
    (src / "empty.png").write_bytes(b"")
    common = [src, "-o", out, "--weights", weights_file, "--device", "cpu", "--force"]
    assert invoke(*common).exit_code == 1  # empty.png fails
    with Image.open(out / "edited.png") as im:
        im.rotate(90).save(out / "edited.png")  # retouched by hand since vidcolor wrote it
    write_image(src / "edited.png", seed=2)  # and its scan changed: the run would redo it
    write_image(src / "mine.png")
    (out / "mine.png").write_bytes(b"someone else's")  # files vidcolor did not write
    write_video(src / "film.mp4", frames=4, audio=None)
    (out / "film.mp4").write_bytes(b"someone else's")
    r = invoke(*common, "--dry-run")
    lines = {l.split(":")[0]: l for l in r.stderr.splitlines()}
    assert r.exit_code == 1, r.output
    assert "exists and was not written by vidcolor; use --overwrite" in lines[f"would fail {src / 'mine.png'}"]
    assert "exists and was not written by vidcolor; use --overwrite" in lines[f"would fail {src / 'film.mp4'}"]
    assert "changed since vidcolor wrote it" in lines[f"would fail {src / 'edited.png'}"]
    assert lines[f"would fail {src / 'empty.png'}"].endswith("empty file (0 bytes)")
    assert "FAILED" not in r.stderr and "would colorize" not in r.stderr, r.stderr
    real = invoke(*common)  # the real run fails the same four
    assert real.exit_code == 1 and sum(l.startswith("FAILED") for l in real.stderr.splitlines()) == 4, real.stderr


def test_dry_run_does_not_claim_a_photo_it_did_not_open_will_be_colorized(tmp_path, weights_file):
    src = tmp_path / "arch"
    src.mkdir()
    colour_photo(src / "colour.png")
    write_image(src / "gray.png")
    r = invoke(src, "-o", tmp_path / "out", "--weights", weights_file, "--dry-run")
    assert r.exit_code == 0, r.output
    for name in ("colour.png", "gray.png"):
        assert f"would do {src / name}: would colorize or skip as already in colour" in r.stderr
    assert "photos are not opened, so some to do may still be skipped as in colour or failed as unreadable" in r.stderr
    r = invoke(src, "-o", tmp_path / "out", "--weights", weights_file, "--dry-run", "--force")
    assert f"would do {src / 'colour.png'}: would colorize\n" in r.stderr
    real = invoke(src, "-o", tmp_path / "out", "--weights", weights_file, "--device", "cpu")
    assert f"skipped {src / 'colour.png'}: already in colour" in real.stderr  # what the first dry run left open
    (src / "bad.png").write_text("not a photo")
    assert invoke(src, "-o", tmp_path / "out", "--weights", weights_file, "--device", "cpu").exit_code == 1
    r = invoke(src, "-o", tmp_path / "out", "--weights", weights_file, "--dry-run")
    assert f"would do {src / 'bad.png'}: would try again; it failed last time (not an image" in r.stderr
    assert f"skipped {src / 'colour.png'}: already in colour" in r.stderr


def test_dry_run_of_one_photo_over_a_file_vidcolor_did_not_write_is_refused_as_the_run_is(tmp_path, weights_file):
    src, dst = write_image(tmp_path / "photo.png"), tmp_path / "new" / "photo.png"
    dst.parent.mkdir()
    dst.write_bytes(b"mine")
    for extra in ([], ["--dry-run"]):  # the same line and exit code with and without --dry-run
        r = invoke(src, "-o", dst, "--weights", weights_file, *extra)
        assert r.exit_code == 2 and r.stderr.splitlines() == [
            f"vidcolor: error: {dst}: exists and was not written by vidcolor; use --overwrite (or -y) to replace it"], r.stderr
    assert dst.read_bytes() == b"mine" and sorted(os.listdir(dst.parent)) == ["photo.png"]


def test_dry_run_of_a_video_says_what_the_output_would_not_hold(tmp_path, weights_file):
    """The real run's notes that the plan already knows (a stream dropped or transcoded) were missing from the
    dry run: a restorer previewing `-o film.avi` was told only "would colorize" (a film restorer's test)."""
    src = write_video(tmp_path / "film.mkv", frames=3, audio="aac", subtitles=[(0, "Hello")])
    r = invoke(src, "-o", tmp_path / "film.avi", "--weights", weights_file, "--dry-run")
    assert r.exit_code == 0, r.output
    assert (f"would do {src}: would colorize\n"
            "  note: audio stream 1 (aac) transcoded to PCM: AVI cannot mark AAC's encoder delay (copied, it played late)\n"
            "  note: subtitle stream 2 (subrip) not copied: AVI cannot hold subrip\n") in r.stderr
    assert not (tmp_path / "film.avi").exists()


def test_a_quiet_dry_run_lists_what_is_to_do_not_what_is_done(tmp_path, weights_file):
    """`--dry-run -q` printed "skipped NAME: already done" for every finished input: the pre-flight check of a
    nightly run over 50,000 done scans was 50,000 lines, where -q is "one line per input done or failed,
    and the summary" (an archivist's find). Now only what would be done or would fail, and the summary."""
    src, out = tmp_path / "arch", tmp_path / "out"
    for i in range(3):
        write_image(src / f"old{i}.png", seed=i)
    common = [src, "-o", out, "--weights", weights_file, "--device", "cpu", "-q"]
    assert invoke(*common).exit_code == 0
    write_image(src / "new.png", seed=7)
    (src / "empty.jpg").write_bytes(b"")
    r = invoke(*common, "--dry-run")
    lines = r.stderr.splitlines()
    assert r.exit_code == 1 and not [x for x in lines if x.startswith("skipped")], r.stderr
    assert f"would do {src / 'new.png'}: would colorize or skip as already in colour" in lines
    assert f"would fail {src / 'empty.jpg'}: empty file (0 bytes)" in lines
    assert lines[-1].startswith("dry run: 1 to do, 3 skipped, 1 would fail of 5 inputs"), r.stderr


def test_a_dry_run_exits_0_over_a_damaged_photo_that_the_run_fails_as_the_readme_says(tmp_path, weights_file):
    """The README said a dry run exits 1 where some input would fail, as the run would: over a broken scan the
    nightly run exits 1 and the dry run 0, since photos are not opened (an operator's find: a pre-flight check
    with --dry-run passed). The README now says what it can tell; this pins that behaviour."""
    src, out = tmp_path / "arch", tmp_path / "out"
    write_image(src / "gray.png")
    (src / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 cut off")
    common = [src, "-o", out, "--weights", weights_file, "--device", "cpu", "-q"]
    assert invoke(*common, "--dry-run").exit_code == 0
    assert invoke(*common).exit_code == 1
    r = invoke(*common, "--dry-run")
    assert r.exit_code == 0 and f"would do {src / 'broken.jpg'}: would try again; it failed last time" in r.stderr, r.stderr
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert "a damaged photo is found by the run alone" in readme


@pytest.mark.parametrize("single", [True, False], ids=["single-video", "folder"])
def test_a_stop_during_a_films_clean_up_after_its_journal_reports_it_as_done(tmp_path, weights_file, monkeypatch, single):
    """A SIGTERM (or Ctrl-C) that lands once a film is journaled as done, while its run removes its work folder,
    had the stopped run's summary and --report list it as in progress (12/12 frames) and count it nowhere, though
    the next run skips it as done. The report says what the journal says: done, with nothing in progress."""
    import vidcolor.pipeline as pipeline
    from vidcolor.archive import Journal

    (tmp_path / "in").mkdir()
    src = write_video(tmp_path / "in" / "film.mp4", w=64, h=48, frames=12, audio=None)
    out, report = (tmp_path / "out.mp4", tmp_path / "run.jsonl") if single else (tmp_path / "out", tmp_path / "run.jsonl")
    real = pipeline.discard_work

    def stopped_while_cleaning(dst, work_root):
        if Journal(dst.parent).last(dst):  # the clean-up after "done": the stop lands there
            real(dst, work_root)
            raise cli.Terminated()
        real(dst, work_root)

    monkeypatch.setattr(pipeline, "discard_work", stopped_while_cleaning)
    r = invoke(src if single else tmp_path / "in", "-o", out, "--weights", weights_file, "--report", report)
    assert r.exit_code == 143 and r.stderr.splitlines()[-1] == TERMINATED, r.output
    lines = [json.loads(l) for l in report.read_text().splitlines()]
    assert [(l["input"], l["status"]) for l in lines[:-1]] == [(str(src), "done")]
    summary = lines[-1]["summary"]
    assert summary["done"] == 1 and summary["total"] == 1 and summary["inputs"] == 1, summary
    assert "in_progress" not in summary, summary
    assert next(l for l in r.stderr.splitlines() if l.startswith("done ")).startswith(f"done {src} -> ")
    monkeypatch.undo()  # and the next run agrees: skipped as done
    r = invoke(src if single else tmp_path / "in", "-o", out, "--weights", weights_file)
    assert r.exit_code == 0 and "skipped" in r.stderr and "already done" in r.stderr, r.output
