import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.media import probe, write_image, write_video
from vidcolor import cli

runner = CliRunner()


def invoke(*args):
    return runner.invoke(cli.app, ["colorize", *map(str, args)])


def test_colorizes_a_video_and_reports_one_line(tmp_path, weights_file):
    src = write_video(tmp_path / "film.mp4", frames=8, audio="aac")
    r = invoke(src, "-o", tmp_path / "film_color.mp4", "--weights", weights_file, "--device", "cpu")
    assert r.exit_code == 0, r.output
    assert probe(tmp_path / "film_color.mp4")["frames"] == 8
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    assert lines[0].startswith("done ") and "film_color.mp4" in lines[0] and "8 frames" in lines[0]


def test_single_image(tmp_path, weights_file):
    src = write_image(tmp_path / "photo.jpg")
    r = invoke(src, "-o", tmp_path / "photo_color.jpg", "--weights", weights_file)
    assert r.exit_code == 0, r.output
    assert (tmp_path / "photo_color.jpg").exists()


def test_folder_with_a_bad_file_exits_1_and_names_it(tmp_path, weights_file):
    src = tmp_path / "scans"
    write_image(src / "ok.png")
    (src / "broken.jpg").write_text("nope")
    r = invoke(src, "-o", tmp_path / "out", "--weights", weights_file)
    assert r.exit_code == 1
    assert "FAILED" in r.stderr and "broken.jpg" in r.stderr
    assert "1 done, 0 skipped, 1 failed of 2 inputs" in r.stderr
    assert (tmp_path / "out" / "ok.png").exists()


def test_a_bad_video_in_a_folder_fails_alone_and_the_videos_after_it_are_done(tmp_path, weights_file):
    """Two new users: an empty or unreadable video stopped every video after it (the CLI's progress probed
    it outside the per-video failure handling), and the report named the folder as the failed input."""
    src = tmp_path / "films"
    src.mkdir()
    write_video(src / "a.mp4", w=64, h=48, frames=4, audio=None)
    (src / "b_text.mp4").write_text("not a video\n")
    (src / "m_empty.mp4").write_bytes(b"")
    write_video(src / "z.mp4", w=64, h=48, frames=4, audio=None)
    report = tmp_path / "run.jsonl"
    r = invoke(src, "-o", tmp_path / "out", "--weights", weights_file, "--report", report)
    assert r.exit_code == 1, r.output
    assert "2 done, 0 skipped, 2 failed of 4 inputs" in r.stderr
    assert (tmp_path / "out" / "z.mp4").is_file()
    rows = [json.loads(line) for line in report.read_text().splitlines()][:-1]
    assert {Path(row["input"]).name: row["status"] for row in rows} == {"a.mp4": "done", "b_text.mp4": "failed",
                                                                       "m_empty.mp4": "failed", "z.mp4": "done"}


def test_missing_input_exits_2_with_one_line(tmp_path, weights_file):
    r = invoke(tmp_path / "nope.mp4", "-o", tmp_path / "o.mp4", "--weights", weights_file)
    assert r.exit_code == 2
    assert r.stderr.strip().count("\n") == 0 and "nope.mp4" in r.stderr and "not found" in r.stderr
    assert "Traceback" not in r.output


def test_no_weights_is_said_plainly_never_random(tmp_path):
    src = write_image(tmp_path / "p.png")
    r = invoke(src, "-o", tmp_path / "o.png", "--model", "cunet")  # cunet ships no weights
    assert r.exit_code == 2
    assert "no trained weights file for model 'cunet'" in r.stderr
    assert not (tmp_path / "o.png").exists()


def test_corrupt_weights_file_is_refused(tmp_path):
    bad = tmp_path / "w.pt"
    bad.write_bytes(b"garbage" * 100)
    src = write_image(tmp_path / "p.png")
    report = tmp_path / "run.jsonl"
    report.write_text('{"summary": {"done": 1, "skipped": 0, "failed": 0, "total": 1, "seconds": 1.0}}\n')  # last night's
    r = invoke(src, "-o", tmp_path / "o.png", "--weights", bad, "--report", report)
    assert r.exit_code == 2 and "cannot read weights" in r.stderr
    # the report no longer shows last night's success for a run that stopped on its weights (review)
    [line] = report.read_text().splitlines()
    assert "cannot read weights" in json.loads(line)["summary"]["error"]


@pytest.mark.parametrize("args", [["--temporal", "bogus"], ["--format", "gif"], ["--batch-size", "0"]])
def test_usage_errors_exit_2(tmp_path, weights_file, args):
    src = write_image(tmp_path / "p.png")
    r = invoke(src, "-o", tmp_path / "o.png", "--weights", weights_file, *args)
    assert r.exit_code == 2


def fake_colorize(seen):
    """Stands in for vidcolor.api.colorize: records what the CLI passed, reports one done input."""
    def colorize(src, dst=None, *, on_result=None, progress=None, **kw):
        from vidcolor.options import Result

        seen.update(src=src, dst=dst, **kw)
        on_result(Result(src, dst, "done", 1.0, 3))
        return []

    return colorize


def test_options_reach_the_library(tmp_path, weights_file, monkeypatch):
    seen = {}
    monkeypatch.setattr("vidcolor.api.colorize", fake_colorize(seen))
    src = write_video(tmp_path / "a.mkv", frames=3, audio=None)
    r = invoke(src, "-o", tmp_path / "b.mkv", "--weights", weights_file, "--temporal", "ema", "--crf", "23",
               "--preset", "fast", "--codec", "libx264", "--batch-size", "2", "--work-size", "96", "--temporal-strength", "0.3",
               "-y")  # --format, --force and --(no-)copy-skipped are for photos: refused for a video (tests/test_cli_refusals.py,
    # which also sees them reach the library for a photo and a folder)
    assert r.exit_code == 0, r.output
    o, f = seen["video"], seen["folder"]
    assert (o.temporal, o.crf, o.preset, o.codec, o.batch_size, o.temporal_strength, o.overwrite) == ("ema", 23, "fast", "libx264", 2, 0.3, True)
    assert (f.fmt_ext, f.copy_skipped, f.overwrite, f.batch_size) == (None, True, True, 2)
    assert seen["work_size"] == 96 and seen["dst"] == tmp_path / "b.mkv" and seen["weights"] == weights_file


def test_bare_input_form_routes_to_colorize_and_output_is_optional(tmp_path, monkeypatch):
    seen = {}
    monkeypatch.setattr("vidcolor.api.colorize", fake_colorize(seen))
    (tmp_path / "film.mp4").write_bytes(b"")  # a missing input is refused before the library is called
    with pytest.raises(SystemExit) as e:
        cli.main([str(tmp_path / "film.mp4")])
    assert e.value.code == 0 and seen["src"] == tmp_path / "film.mp4" and seen["dst"] is None


def test_python_m_vidcolor_runs(tmp_path):
    r = subprocess.run([sys.executable, "-m", "vidcolor", "models"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "effnet_unet" in r.stdout
    assert "tone_net       weights tone_net.pt" in r.stdout  # the colour-photo detector is listed with its weights


HEAVY = ("torch", "av", "cv2", "scenedetect", "kornia")


def test_help_version_and_option_errors_load_nothing_heavy():
    """`vidcolor --help` answers in well under half a second because torch, PyAV, OpenCV and
    PySceneDetect are not imported for help, the version or an option error."""
    code = (
        "import json, sys\n"
        "from vidcolor import cli\n"
        "codes = []\n"
        "for argv in (['--help'], ['-h'], ['--version'], ['-V'], ['colorize', '-h'], ['x.mp4', '--work-size', '5'],\n"
        "             ['x.mp4', '--temporal', 'bogus'], ['x.mp4', '--crf', '99'], ['x.mp4', '--device', 'gpu'],\n"
        "             ['x.mp4', '--model', 'nosuch'], ['x.mp4', '--model', 'tone_net'], ['x.mp4', '--strength', 'nan'], ['']):\n"
        "    try:\n"
        "        cli.main(argv)\n"
        "    except SystemExit as e:\n"
        "        codes.append(e.code)\n"
        f"print(json.dumps({{'codes': codes, 'heavy': [m for m in {HEAVY!r} if m in sys.modules]}}))\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    import json

    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out == {"codes": [0, 0, 0, 0, 0, 2, 2, 2, 2, 2, 2, 2, 2], "heavy": []}, r.stderr[-2000:]


def test_help_lists_choices_examples_and_the_version():
    r = runner.invoke(cli.app, ["colorize", "-h"])
    assert r.exit_code == 0
    assert "--temporal [off|ema|flow]" in r.output and "--upsample [guided|bilinear]" in r.output
    assert "Examples:" in r.output and "vidcolor film.mp4" in r.output and "-y, --overwrite" in r.output
    r = runner.invoke(cli.app, ["--version"])
    assert r.exit_code == 0 and r.output.startswith("vidcolor ")


@pytest.mark.parametrize("args", [["--work-size", "5"], ["--work-size", "-64"], ["--work-size", "99999"], ["--batch-size", "0"],
                                  ["--crf", "-1"], ["--crf", "99"], ["--segment-seconds", "0"], ["--temporal-strength", "1.5"],
                                  ["--upsample", "nearest"], ["--weights", "/no/such/file.pt"],
                                  ["--temporal", "off", "--temporal-strength", "0.5"]])
def test_out_of_range_values_are_usage_errors(tmp_path, args):
    src = write_image(tmp_path / "p.png")
    r = invoke(src, "-o", tmp_path / "o.png", *args)
    assert r.exit_code == 2 and not (tmp_path / "o.png").exists()


def test_unknown_codec_is_a_usage_error_before_the_model_loads(tmp_path, weights_file, monkeypatch):
    monkeypatch.setattr("vidcolor.api._load", lambda **kw: pytest.fail("model loaded"))
    src = write_video(tmp_path / "film.mp4", frames=3, audio=None)
    r = invoke(src, "-o", tmp_path / "o.mp4", "--codec", "libnope")
    assert r.exit_code == 2 and r.stderr.strip() == "vidcolor: error: --codec libnope: no such encoder in this FFmpeg build"


def test_an_existing_output_vidcolor_did_not_write_exits_2_unless_y(tmp_path, weights_file):
    src = write_image(tmp_path / "p.png")
    (tmp_path / "o.png").write_bytes(b"mine")
    r = invoke(src, "-o", tmp_path / "o.png", "--weights", weights_file)
    assert r.exit_code == 2 and r.stderr.count("\n") == 1 and "not written by vidcolor" in r.stderr
    assert (tmp_path / "o.png").read_bytes() == b"mine"
    assert invoke(src, "-o", tmp_path / "o.png", "--weights", weights_file, "-y").exit_code == 0
    assert (tmp_path / "o.png").read_bytes() != b"mine"


def interrupt_video_at(monkeypatch, frame: int):
    """Ctrl-C once a video's progress reaches `frame` (the reporter's callback raises it, in the main
    thread, as a real Ctrl-C would arrive); returns the function that puts the real reporter back."""
    from vidcolor.report import Reporter

    real_video = Reporter.video

    def interrupting(self, path, frames, segment_frames):
        plain = real_video(self, path, frames, segment_frames)

        def progress(done, total):
            plain(done, total)
            if done >= frame:
                raise KeyboardInterrupt
        return progress

    monkeypatch.setattr(Reporter, "video", interrupting)
    return lambda: monkeypatch.setattr(Reporter, "video", real_video)


def test_ctrl_c_exits_130_and_the_same_command_resumes_with_fps_of_the_frames_it_did(tmp_path, weights_file, monkeypatch):
    src = write_video(tmp_path / "film.mp4", frames=40, audio=None)
    args = [src, "--weights", weights_file, "--segment-seconds", "0.4", "--batch-size", "2"]  # 10 frames a segment
    undo = interrupt_video_at(monkeypatch, 25)
    r = invoke(*args)
    assert r.exit_code == 130 and r.stderr.splitlines()[-1] == "interrupted; run the same command again to resume"
    assert "film.mp4: 10/40 frames (25%)" in r.stderr and "film.mp4: 20/40 frames (50%)" in r.stderr  # cron: a line a segment
    assert not (tmp_path / "film_color.mp4").exists()
    undo()
    r = invoke(*args)
    assert r.exit_code == 0, r.output
    done = next(l for l in r.stderr.splitlines() if l.startswith("done "))
    assert "film_color.mp4 (40 frames, 20 of them resumed," in done
    fps, seconds = float(done.split(", ")[-1].split()[0]), float(done.split(", ")[-2].split()[0])
    # the 20 frames this run did, not all 40 (which would give twice the fps); the line rounds seconds
    # to 0.1 s, which at a fast run's 0.2 s is a 25% error, so compare within that rounding
    assert 20 / (seconds + 0.05) - 0.05 <= fps <= 20 / max(seconds - 0.05, 1e-3) + 0.05, (fps, seconds)


def test_a_run_with_overwrite_stopped_says_to_resume_without_it_and_that_resumes(tmp_path, weights_file, monkeypatch):
    """-y redoes every output, so "the same command again" started an interrupted -y run over (a new
    user's 8-second film, 116 of 233 frames lost): the line says to drop -y, and that resumes."""
    src = write_video(tmp_path / "film.mp4", frames=40, audio=None)
    (tmp_path / "film_color.mp4").write_bytes(b"an old render")  # what -y was meant to replace
    args = [src, "--weights", weights_file, "--segment-seconds", "0.4", "--batch-size", "2"]
    undo = interrupt_video_at(monkeypatch, 25)
    r = invoke(*args, "-y")
    assert r.exit_code == 130
    assert r.stderr.splitlines()[-1] == "interrupted; run the same command without -y (--overwrite) to resume; with it, the run starts over"
    undo()
    r = invoke(*args)
    assert r.exit_code == 0, r.output
    assert "(40 frames, 20 of them resumed," in next(l for l in r.stderr.splitlines() if l.startswith("done "))


def test_one_line_per_input_whatever_the_file_names_hold():
    """A new user's file name with a newline split its log line in two; a name whose bytes are not UTF-8
    printed Python's lone surrogate. And a 1-frame clip's line gave no frame count."""
    import io

    from vidcolor.options import Result
    from vidcolor.report import Reporter

    out = io.StringIO()
    rep = Reporter(stream=out)
    rep.result(Result(Path("new\nline.png"), Path("o/new\nline.png"), "done", 0.1, 1))
    rep.result(Result(Path("bad\udcffname.png"), None, "failed", error="bad\udcffname.png: corrupt"))
    rep.result(Result(Path("one.mp4"), Path("o/one.mp4"), "done", 0.5, 1))
    shot = "Screenshot 2026-11-26 at 10.00.00\u202fAM \U0001F468\u200d\U0001F469.png"  # shown as it is (review)
    rep.result(Result(Path(shot), Path("o") / shot, "done", 0.1, 1))
    assert out.getvalue().splitlines() == ["done new\\nline.png -> o/new\\nline.png (0.1 s)", "FAILED bad\\xffname.png: corrupt",
                                           "done one.mp4 -> o/one.mp4 (1 frame, 0.5 s)", f"done {shot} -> o/{shot} (0.1 s)"]


def test_quiet_prints_what_was_done_or_failed_not_what_was_skipped():
    """-q still printed one 'skipped ... already done' line per input: 100,000 lines a night for a large
    archive's re-run (a new user's test). The summary counts them; --report lists them."""
    import io

    from vidcolor.options import Result
    from vidcolor.report import Reporter

    out = io.StringIO()
    rep = Reporter(quiet=True, stream=out)
    rep.inputs(4)
    rep.result(Result(Path("a.png"), Path("o/a.png"), "skipped", note="already done"))
    rep.result(Result(Path("b.png"), Path("o/b.png"), "done", 0.1, 1))
    rep.result(Result(Path("c.png"), None, "failed", error="c.png: corrupt"))
    # what a user must still hear: a hints file that steers nothing (a misspelt name: a review)
    rep.result(Result(Path("weding.hints.json"), None, "skipped", note="a hints file beside no photo or video of its name"))
    assert out.getvalue().splitlines() == ["done b.png -> o/b.png (0.1 s)", "FAILED c.png: corrupt",
                                           "skipped weding.hints.json: a hints file beside no photo or video of its name"]
    one = io.StringIO()  # a single input's skip is all that run says
    Reporter(quiet=True, stream=one).result(Result(Path("a.png"), Path("o/a.png"), "skipped", note="already in colour"))
    assert one.getvalue().startswith("skipped a.png: already in colour")


def test_a_log_stream_that_fails_costs_lines_not_the_run():
    """A full disk under the log (2>/dev/full) or a reader gone (| head -1) raised from the line writer and
    stopped the run after its first input (a new user's test): lines are dropped and counted instead."""
    import io

    from vidcolor.options import Result
    from vidcolor.report import Reporter

    class Full(io.StringIO):
        def write(self, text):
            raise OSError(28, "No space left on device")

    rep = Reporter(stream=Full())
    for name in ("a.png", "b.png"):
        rep.result(Result(Path(name), Path("o") / name, "done", 0.1, 1))
    assert rep.lost_lines == 2


def test_a_standard_output_whose_reader_went_away_exits_120_without_a_traceback():
    """`vidcolor models | head -1`, or a Python caller that closed its end of the pipe: exit 1 (read as
    "some inputs failed") before; now 120, the code the README gives for lines that could not be written."""
    import os

    r, w = os.pipe()
    os.close(r)  # every write to stdout fails with EPIPE, as once `head -1` has gone
    try:
        p = subprocess.run([sys.executable, "-m", "vidcolor", "models"], stdout=w, stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(w)
    assert p.returncode == 120 and p.stderr == ""


def test_a_process_started_without_standard_output_refuses_report_to_it_and_writes_into_no_file_of_its_own(tmp_path):
    """`vidcolor DIR -o OUT --report - >&-`: the first file the run opened took descriptor 1, and the report went into
    it, OUT/.vidcolor/lock (the run's own lock-owner file), with exit 0. Now the closed descriptor holds the null
    device, `--report -` is refused before any work, and a command's lost lines exit 120."""
    import os

    src = tmp_path / "scans"
    write_image(src / "a.png")

    def run(*args):
        return subprocess.run([sys.executable, "-m", "vidcolor", *args], stderr=subprocess.PIPE, text=True, timeout=120,
                              preexec_fn=lambda: os.close(1))

    p = run(str(src), "-o", str(tmp_path / "out"), "--report", "-")
    assert p.returncode == 2 and p.stderr == "vidcolor: error: -: standard output is closed; give --report a file\n"
    assert not (tmp_path / "out").exists()
    assert run("models").returncode == 120  # its lines went nowhere, as a log's on a closed stderr


def test_bench_whose_standard_output_fails_still_writes_its_json_and_exits_120(tmp_path, monkeypatch):
    """A closed stdout had stopped bench at its first line, exit 1, with the minutes measured lost and no --json."""
    clip = write_video(tmp_path / "clip.mp4", frames=4)

    class Gone:
        def write(self, text):
            raise BrokenPipeError(32, "Broken pipe")

        def flush(self):
            raise BrokenPipeError(32, "Broken pipe")

    def run_bench(clip, col, opts, phases, log):
        log("    decode: 100.0 fps")
        return {"clip": str(clip), "frames": 4, "phases": {"decode": {"fps": 100.0}}}

    monkeypatch.setattr(cli, "_load", lambda *a, **kw: object())
    monkeypatch.setattr("vidcolor.bench.run_bench", run_bench)
    monkeypatch.setattr(sys, "stdout", Gone())
    with pytest.raises(SystemExit) as e:
        cli.main(["bench", str(clip), "--phases", "decode", "--json", str(tmp_path / "bench.json")])
    assert e.value.code == 120
    assert json.loads((tmp_path / "bench.json").read_text())["phases"]["decode"]["fps"] == 100.0


def test_plain_progress_for_a_folder_every_20_inputs_and_a_bar_on_a_terminal(monkeypatch):
    import io

    monkeypatch.setenv("TERM", "xterm-256color")  # (a dumb one gets plain lines: the next test)

    from vidcolor.options import Result
    from vidcolor.report import Reporter

    out = io.StringIO()
    rep = Reporter(stream=out)
    rep.inputs(45)
    for i in range(45):
        rep.result(Result(Path(f"img{i}.png"), Path(f"o{i}.png"), "done", 0.1, 1))
    progress = [l for l in out.getvalue().splitlines() if l.startswith("progress:")]
    assert [l.split(",")[0] for l in progress] == ["progress: 20/45 inputs", "progress: 40/45 inputs"] and "ETA" in progress[0]

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    tty = Terminal()
    rep = Reporter(stream=tty)
    rep.inputs(10)
    for i in range(3):
        rep.result(Result(Path(f"img{i}.png"), Path(f"o{i}.png"), "done", 0.1, 1))
    rep._bar.refresh()
    assert "3/10" in tty.getvalue() and "ETA" in tty.getvalue()
    rep.close()


def test_a_dumb_terminal_gets_the_plain_progress_lines_a_log_gets(monkeypatch):
    """TERM=dumb (Emacs's shell, some CI consoles): rich draws no bar there, and the Reporter, taking it for a terminal,
    printed no plain lines either, so a film ran without a word of progress until its result line."""
    import io

    from vidcolor.report import Reporter

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setenv("TERM", "dumb")
    tty = Terminal()
    rep = Reporter(stream=tty)
    track = rep.video(Path("film.mp4"), 100, 25)
    for done in (0, 25, 50, 75, 100):
        track(done, 100)
    rep.close()
    assert rep._bar is None and "\x1b" not in tty.getvalue()
    assert [l.split(" (")[0] for l in tty.getvalue().splitlines()] == ["film.mp4: 25/100 frames", "film.mp4: 50/100 frames",
                                                                       "film.mp4: 75/100 frames"]


def test_a_videos_progress_past_its_headers_frame_count_shows_counts_not_percentages_over_100(monkeypatch):
    """A variable-rate MKV of 70 frames, estimated at 30 from its header, printed "66/30 frames (220%)" (and the
    library's callback was told 66 / 30): past the estimate the total is not known (0), and the lines say so."""
    import io

    from vidcolor.report import Reporter

    out = io.StringIO()
    rep = Reporter(stream=out)
    track = rep.video(Path("vfr.mkv"), 30, 6)
    for done, total in ((6, 30), (12, 30), (24, 30), (36, 0), (48, 0), (70, 70)):  # what colorize_video calls
        track(done, total)
        assert rep.in_progress["frames"] == (total or None)  # a stopped run's report: not 36 of 36
    assert [l.split(",")[0] for l in out.getvalue().splitlines()] == [
        "vfr.mkv: 12/30 frames (40%)", "vfr.mkv: 24/30 frames (80%)", "vfr.mkv: 36 frames (more than the 30 its header says)",
        "vfr.mkv: 48 frames (more than the 30 its header says)"]  # the last segment's line is the result line

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setenv("TERM", "xterm-256color")  # (a dumb terminal gets the plain lines)
    rep = Reporter(stream=Terminal())
    track = rep.video(Path("vfr.mkv"), 30, 6)
    seen = []
    for done, total in ((24, 30), (36, 0), (70, 70)):
        track(done, total)
        task = rep._bar.tasks[0]
        seen.append((task.completed, task.total))
    assert seen == [(24, 30), (36, None), (70, 70)]  # the bar is full only at the end; meanwhile "36/?", no percentage
    rep.close()


def test_a_failed_video_reports_the_time_it_took(tmp_path, weights_file, encoder_fails_at):
    """After a disk filled 3 s into a run, its report line said "seconds": 0.0 (film-user test)."""
    from vidcolor.errors import OutputError

    src = write_video(tmp_path / "in.mp4", w=64, h=48, frames=20, audio=None)
    encoder_fails_at(15, OutputError("encoding failed: No space left on device"))
    report = tmp_path / "run.jsonl"
    r = invoke(src, "-o", tmp_path / "out.mp4", "--weights", weights_file, "--report", report)
    assert r.exit_code == 1, r.output
    row = json.loads(report.read_text().splitlines()[0])
    assert row["status"] == "failed" and row["seconds"] > 0


def test_a_folder_with_nothing_to_colorize_says_so_without_loading_the_model(tmp_path, monkeypatch):
    """A new user's folder holding only a readme loaded the model, made the output folder and its
    journal, and said "0 done, 0 skipped, 0 failed of 0 inputs"."""
    import vidcolor.api as api

    src = tmp_path / "in"
    src.mkdir()
    (src / "readme.txt").write_text("scans to come")
    monkeypatch.setattr(api, "_load", lambda **kw: pytest.fail("the model was loaded"))
    r = runner.invoke(cli.app, ["colorize", str(src), "-o", str(tmp_path / "out")])
    assert r.exit_code == 0 and r.stderr.strip() == f"{src}: no photos or videos in it, nothing to do", r.stderr
    assert not (tmp_path / "out").exists()


def test_a_photo_that_does_not_decode_is_refused_before_the_model_has_loaded(tmp_path, monkeypatch):
    """A truncated JPEG given alone failed only after the model had loaded (2.4-3.8 s; a new user's
    test): its header passes the plan's check, its pixels do not decode. It is read while the model loads."""
    import io
    import threading

    import numpy as np
    from PIL import Image

    import vidcolor.api as api

    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (256, 256), dtype=np.uint8)).save(buf, "JPEG")
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 3])
    never = threading.Event()
    monkeypatch.setattr(api, "_load", lambda **kw: never.wait(120) or pytest.fail("the model loaded first"))
    r = runner.invoke(cli.app, ["colorize", str(cut), "-o", str(tmp_path / "out.jpg")])
    never.set()
    assert r.exit_code == 1 and "cut.jpg" in r.stderr and "truncated" in r.stderr, r.stderr
    assert not (tmp_path / "out.jpg").exists()


def _garbled_avi(path):
    """An MJPEG AVI whose 5 frames' bytes are noise: packets that none decode."""
    import struct

    import numpy as np

    data = bytearray(write_video(path, frames=5, codec="mjpeg", pix_fmt="yuvj420p", audio=None).read_bytes())
    rng, at, end = np.random.default_rng(0), data.find(b"movi"), data.find(b"idx1")
    while 0 < (at := data.find(b"00dc", at + 1)) < end:
        n = struct.unpack("<I", data[at + 4:at + 8])[0]
        data[at + 8:at + 8 + n] = rng.integers(0, 256, n, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))
    return path


def _sound_under_an_empty_track(path):
    """An MKV whose video track (64x48 H.264) holds no packet, beside a second of sound."""
    import av
    import numpy as np

    with av.open(str(path), "w") as c:
        v = c.add_stream("libx264", rate=25)
        v.width, v.height, v.pix_fmt = 64, 48, "yuv420p"
        a = c.add_stream("aac", rate=16000)
        a.layout = "mono"
        for k in range(0, 16000, 1024):
            f = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.int16), format="s16", layout="mono")
            f.sample_rate, f.pts = 16000, k
            for p in a.encode(f):
                c.mux(p)
        for p in [*a.encode(), *v.encode()]:
            c.mux(p)
    return path


@pytest.mark.parametrize("case", ["no_packets", "none_decode"])
def test_a_video_without_a_frame_is_refused_before_the_model_has_loaded(tmp_path, monkeypatch, case):
    """An MKV of sound under an empty video track, or a film whose every video packet is damaged, passed the
    plan (its header is whole) and failed "no decodable video frames" only once the model had loaded (5 s)."""
    import vidcolor
    import vidcolor.api as api
    from vidcolor.errors import InputError

    src = _sound_under_an_empty_track(tmp_path / "film.mkv") if case == "no_packets" else _garbled_avi(tmp_path / "film.avi")
    monkeypatch.setattr(api, "_load", lambda **kw: pytest.fail("the model was loaded"))
    r = runner.invoke(cli.app, ["colorize", str(src), "-o", str(tmp_path / "out.mp4")])
    says = "its video stream holds no frames" if case == "no_packets" else "no decodable video frames (corrupt or truncated)"
    assert r.exit_code == 1 and r.stderr.strip() == f"FAILED {src}: {says}", r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [src.name]
    with pytest.raises(InputError, match="holds no frames" if case == "no_packets" else "no decodable"):
        vidcolor.colorize(src, tmp_path / "out.mp4")


def test_verbose_says_the_settings_it_promises(tmp_path, weights_file):
    """-v's help promised "scene cuts and settings"; no settings were ever printed (a new user's test)."""
    from tests.media import write_video

    clip = write_video(tmp_path / "clip.mp4", w=64, h=48, frames=4, audio=None)
    r = runner.invoke(cli.app, ["colorize", str(clip), "-o", str(tmp_path / "out.mp4"), "--weights", str(weights_file), "-v",
                                "--crf", "23"])
    assert r.exit_code == 0, r.output
    line = next(l for l in r.output.splitlines() if l.startswith("settings: "))
    assert "model effnet_unet:" in line and "device cpu" in line and "temporal flow" in line and "CRF 23" in line, line


def test_a_single_scene_cut_is_said_only_with_v_as_several_are():
    """"scene cut at frame 134" was printed without -v while "scene cuts at frames 44, 134" was kept for -v, so a
    resumed run with one cut left said more than the whole run (a film restorer's test)."""
    import io
    from pathlib import Path

    from vidcolor.options import Result
    from vidcolor.report import Reporter

    for verbose in (False, True):
        out = io.StringIO()
        rep = Reporter(stream=out, verbose=verbose)
        rep.result(Result(Path("film.mp4"), Path("out.mp4"), "done", 1.0, 10, notes=["scene cut at frame 4"]))
        rep.result(Result(Path("film2.mp4"), Path("out2.mp4"), "done", 1.0, 10, notes=["scene cuts at frames 2, 6"]))
        assert ("note: scene cut" in out.getvalue()) == verbose, out.getvalue()
