"""Refusals of the CLI that come before any work: one line naming the file and the reason, exit 2, and
nothing written (README, "CLI reference" and "Exit codes"; in full in docs/reference.md)."""
import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.media import write_colour_image, write_image, write_video
import vidcolor
from vidcolor import cli

runner = CliRunner()


def invoke(*args):
    return runner.invoke(cli.app, ["colorize", *map(str, args)])


@pytest.fixture
def no_work(monkeypatch):
    """The model must not load and the library must not start."""
    monkeypatch.setattr("vidcolor.api._load", lambda **kw: pytest.fail("the model was loaded"))
    monkeypatch.setattr("vidcolor.api.colorize", lambda *a, **kw: pytest.fail("the run started"))


def refused(r, *words):
    lines = r.stderr.strip().splitlines()
    assert r.exit_code == 2 and len(lines) == 1 and lines[0].startswith("vidcolor: error: "), r.output
    assert all(w in lines[0] for w in words), lines[0]
    assert "Traceback" not in r.output


def fake_colorize(calls):
    def colorize(src, dst=None, *, on_result=None, **kw):
        from vidcolor.options import Result

        calls.append((src, dst, kw))
        on_result(Result(src, dst, "planned" if kw["folder"].dry_run else "done", 0.1, 1))
        return []

    return colorize


# -- --report -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("how", ["same", "symlink", "hardlink"])
def test_report_that_is_the_input_photo_is_refused(tmp_path, no_work, how):
    src = write_image(tmp_path / "orig.png")
    before = src.read_bytes()
    report = {"same": src, "symlink": tmp_path / "link.png", "hardlink": tmp_path / "hard.png"}[how]
    if how == "symlink":
        report.symlink_to(src)
    elif how == "hardlink":
        os.link(src, report)
    r = invoke(src, "-o", tmp_path / "out.png", "--report", report, "-y")
    refused(r, str(report), "--report is the input file")
    assert src.read_bytes() == before


def test_report_inside_the_input_folder_is_refused_even_in_a_dry_run(tmp_path, no_work):
    src = tmp_path / "scans"
    keep = write_image(src / "keep.png")
    write_image(src / "a.png", seed=1)
    before = keep.read_bytes()
    r = invoke(src, "-o", tmp_path / "out", "--dry-run", "--report", keep)
    refused(r, str(keep), "would be an input")
    assert keep.read_bytes() == before
    os.link(keep, tmp_path / "elsewhere.png")  # the same photo by another name outside the folder, even with -y
    r = invoke(src, "-o", tmp_path / "out", "--dry-run", "--report", tmp_path / "elsewhere.png", "-y")
    refused(r, "elsewhere.png", "not a vidcolor report")
    assert keep.read_bytes() == before


def test_report_over_a_file_vidcolor_did_not_write_is_refused_even_with_y_and_a_report_is_rewritten(tmp_path, monkeypatch):
    """-y is no way round it: -y also redoes finished outputs, and the file may be the weights or a hints file."""
    calls = []
    monkeypatch.setattr("vidcolor.api.colorize", fake_colorize(calls))
    src = write_image(tmp_path / "p.png")
    mine = tmp_path / "notes.txt"
    mine.write_text("my notes\n")
    hints = tmp_path / "p.hints.json"
    hints.write_text('{"points": []}')
    for extra in ([], ["-y"], ["--hints", str(hints)]):
        r = invoke(src, "-o", tmp_path / "o.png", "--report", mine, *extra)
        refused(r, str(mine), "not a vidcolor report; choose another --report path")
    r = invoke(src, "-o", tmp_path / "o.png", "--hints", hints, "--report", hints, "-y")
    refused(r, str(hints), "not a vidcolor report")
    assert mine.read_text() == "my notes\n" and hints.read_text() == '{"points": []}' and calls == []
    report = tmp_path / "run.jsonl"
    for _ in range(2):  # a report of an earlier run is replaced without -y
        r = invoke(src, "-o", tmp_path / "o.png", "--report", report)
        assert r.exit_code == 0, r.output
        assert len(report.read_text().splitlines()) == 2  # the input and the summary
        assert json.loads(report.read_text().splitlines()[0])["status"] == "done"


@pytest.mark.parametrize("where", ["under a file", "read-only folder", "a folder"])
def test_unusable_report_path_is_one_line_before_any_work(tmp_path, no_work, monkeypatch, where):
    src = write_image(tmp_path / "p.png")
    if where == "under a file":
        report, reason = src / "run.jsonl", "is a file"
    elif where == "a folder":
        report, reason = tmp_path, "is a folder"
    else:
        (tmp_path / "ro").mkdir()
        report, reason = tmp_path / "ro" / "run.jsonl", "not writable"
        real = os.access  # tests run as root here, where a chmod does not stop writing
        monkeypatch.setattr(os, "access", lambda p, mode: real(p, mode) and Path(p) != tmp_path / "ro")
    r = invoke(src, "-o", tmp_path / "o.png", "--report", report)
    refused(r, str(report), reason)
    if where == "read-only folder":  # the report's folder, not "the output folder", and what to do (a tester's)
        assert "the report's folder is not writable" in r.stderr and "output folder" not in r.stderr, r.stderr
        assert "give --report a path in a folder you can write in" in r.stderr, r.stderr


def test_a_single_input_whose_folder_is_read_only_is_told_to_use_o(tmp_path, no_work, monkeypatch):
    """A photo in a read-only folder, run without -o, was refused "output folder is not writable" without a word
    of -o, where the output, NAME_color beside it, was one the user never named (a tester's)."""
    src = write_image(tmp_path / "ro" / "scan.png")
    real = os.access  # tests run as root here, where a chmod does not stop writing
    monkeypatch.setattr(os, "access", lambda p, mode: real(p, mode) and Path(p) != tmp_path / "ro")
    r = invoke(src)
    refused(r, f"{tmp_path / 'ro'}: output folder is not writable", "the default output, scan_color.png, goes beside "
            "the input: give another with -o")
    r = invoke(src, "-o", tmp_path / "ro" / "mine.png")  # an output the user named there: no advice about -o
    refused(r, "output folder is not writable")
    assert "with -o" not in r.stderr


# -- eval --out, eval-video --json -----------------------------------------------------------------------

def test_eval_out_that_is_a_file_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr(cli, "_load", lambda *a, **kw: pytest.fail("the model was loaded"))
    write_colour_image(tmp_path / "gt" / "a.png")
    (tmp_path / "evout").write_text("mine")
    r = runner.invoke(cli.app, ["eval", str(tmp_path / "gt"), "--out", str(tmp_path / "evout")])
    refused(r, "evout", "is a file")
    assert (tmp_path / "evout").read_text() == "mine"


def test_eval_out_holding_files_eval_did_not_write_is_refused_and_its_own_folder_is_rewritten(tmp_path, weights_file):
    """A review: `vidcolor eval gt --out site` replaced a website's index.html without a word."""
    write_colour_image(tmp_path / "gt" / "a.png")
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("<p>my site</p>")
    r = runner.invoke(cli.app, ["eval", str(tmp_path / "gt"), "--out", str(site), "--weights", str(weights_file)])
    refused(r, str(site), "holds index.html that vidcolor eval did not write")
    assert (site / "index.html").read_text() == "<p>my site</p>"
    ev = tmp_path / "ev"
    for _ in range(2):  # an eval folder is rewritten by the next eval
        r = runner.invoke(cli.app, ["eval", str(tmp_path / "gt"), "--out", str(ev), "--weights", str(weights_file), "-q"])
        assert r.exit_code == 0, r.output
    assert json.loads((ev / "eval.json").read_text())["scored"] == 1


def test_eval_video_json_refuses_a_clip_and_a_file_vidcolor_did_not_write(tmp_path, monkeypatch):
    monkeypatch.setattr(cli, "_load", lambda *a, **kw: pytest.fail("the model was loaded"))
    clip = write_video(tmp_path / "clip.mp4", frames=3, audio=None)
    before = clip.read_bytes()
    r = runner.invoke(cli.app, ["eval-video", str(clip), "--json", str(clip), "-y"])
    refused(r, "clip.mp4", "--json is an input clip")
    assert clip.read_bytes() == before
    mine = tmp_path / "mine.json"
    mine.write_text('{"a": 1}')
    r = runner.invoke(cli.app, ["eval-video", str(clip), "--json", str(mine)])
    refused(r, "mine.json", "not a vidcolor eval-video result")
    bench = tmp_path / "bench.json"  # another command's result is not replaced either (a new user's test)
    bench.write_text(json.dumps({"clip": "clip.mp4", "frames": 3, "phases": {}}))
    refused(runner.invoke(cli.app, ["eval-video", str(clip), "--json", str(bench)]), "bench.json", "not a vidcolor eval-video result")
    earlier = tmp_path / "earlier.json"
    earlier.write_text(json.dumps([{"clip": "clip.mp4", "frames": 3, "modes": {}}]))
    refused(runner.invoke(cli.app, ["bench", str(clip), "--json", str(earlier)]), "earlier.json", "not a vidcolor bench result")
    for cmd in ("eval-video", "bench"):  # a folder's name wrote a file named evdir
        r = runner.invoke(cli.app, [cmd, str(clip), "--json", str(tmp_path / "evdir") + "/"])
        assert r.exit_code == 2 and "evdir/: ends in '/'" in r.output and not (tmp_path / "evdir").exists(), r.output
    monkeypatch.setattr(cli, "_load", lambda *a, **kw: None)
    monkeypatch.setattr("vidcolor.evaluate_video.evaluate_video", lambda col, c, **kw: {"clip": str(c), "frames": 3})
    monkeypatch.setattr(cli, "_print_video_table", lambda res: None)
    deep = tmp_path / "no" / "such" / "r.json"  # a missing folder: a traceback after all the work; now made
    for target in (earlier, mine, deep):  # an earlier result is replaced; another file with -y
        r = runner.invoke(cli.app, ["eval-video", str(clip), "--json", str(target), *(["-y"] if target == mine else [])])
        assert r.exit_code == 0, r.output
        assert json.loads(target.read_text()) == [{"clip": str(clip), "frames": 3}]


# -- empty paths, --format, a missing input ----------------------------------------------------------------

@pytest.mark.parametrize("args,message", [([""], "empty input path"), (["p.png", "-o", ""], "empty output path"),
                                          (["p.png", "--report", ""], "empty report path")])
def test_empty_paths_are_usage_errors(tmp_path, no_work, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    write_image(tmp_path / "p.png")
    r = runner.invoke(cli.app, ["colorize", *args])
    assert r.exit_code == 2 and message in r.stderr, r.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.png"]


def test_format_that_contradicts_the_output_or_is_given_for_a_video_is_refused(tmp_path, no_work):
    photo = write_image(tmp_path / "p.png")
    r = invoke(photo, "--format", "png", "-o", tmp_path / "q.jpg")
    refused(r, "q.jpg", "--format png contradicts", ".jpg")
    clip = write_video(tmp_path / "v.mp4", frames=3, audio=None)
    r = invoke(clip, "--format", "png", "-o", tmp_path / "v2.mp4")
    refused(r, "v.mp4", "--format png is for photos", "video")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.png", "v.mp4"]


def test_format_agreeing_with_the_output_reaches_the_library(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr("vidcolor.api.colorize", fake_colorize(calls))
    photo = write_image(tmp_path / "p.png")
    for out in ("q.JPG", "q.jpeg", "q"):  # --format jpeg is jpg; no extension takes the format's
        assert invoke(photo, "--format", "jpeg", "-o", tmp_path / out).exit_code == 0
    assert [kw["folder"].fmt_ext for _, _, kw in calls] == [".jpg"] * 3


def test_format_is_taken_in_capitals_as_the_library_takes_it(tmp_path, monkeypatch):
    """An archivist whose scans are all .TIF typed `--format TIF`: refused as "not one of", where
    FolderOptions(fmt_ext="TIF") takes it."""
    calls = []
    monkeypatch.setattr("vidcolor.api.colorize", fake_colorize(calls))
    photo = write_image(tmp_path / "p.png")
    for fmt in ("TIF", "Jpeg"):
        assert invoke(photo, "--format", fmt, "-o", tmp_path / f"q.{fmt.lower()}").exit_code == 0
    assert [kw["folder"].fmt_ext for _, _, kw in calls] == [".tif", ".jpg"]


def test_a_folder_given_as_a_photos_or_videos_output_is_refused_as_a_folder(tmp_path, no_work, monkeypatch):
    """`vidcolor photo.jpg -o newdir/` was refused as "not an image file name" (a video's as "extension-less"
    files): Path() dropped the slash; with --format png it planned the file newdir.png. A single input's
    output is a file (README, CLI reference): one line saying so, for a new folder as for an existing one."""
    monkeypatch.chdir(tmp_path)
    write_image(tmp_path / "p.jpg")
    write_video(tmp_path / "v.mp4", frames=3, audio=None)
    (tmp_path / "there").mkdir()
    for args, says in [(["p.jpg", "-o", "newdir/"], "newdir/: names a folder, and the input is a photo"),
                       (["p.jpg", "-o", "newdir/", "--format", "png"], "such as newdir/p_color.png"),
                       (["p.jpg", "-o", "there"], "there: names a folder, and the input is a photo"),
                       (["v.mp4", "-o", "newdir/"], "newdir/: names a folder, and the input is a video"),
                       (["v.mp4", "-o", "there/", "--dry-run"], "give its name, such as there/v_color.mp4")]:
        refused(invoke(*args), says)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.jpg", "there", "v.mp4"]
    assert not any((tmp_path / "there").iterdir())
    with pytest.raises(vidcolor.UsageError, match="newdir/: names a folder, and the input is a photo"):
        vidcolor.plan("p.jpg", "newdir/")


def test_a_folder_given_as_a_folders_output_with_a_slash_reaches_the_library(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr("vidcolor.api.colorize", fake_colorize(calls))
    monkeypatch.chdir(tmp_path)
    write_image(tmp_path / "in" / "p.jpg")
    assert invoke("in", "-o", "out/").exit_code == 0
    assert calls[0][1] == Path("out")
    assert vidcolor.plan("in", "out/").dst == Path("out")


def test_a_mistyped_command_is_a_missing_input_named_in_one_line_exit_2(tmp_path, no_work, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as e:
        cli.main(["bogus-command"])
    assert e.value.code == 2
    r = runner.invoke(cli.app, ["colorize", "bogus-command"])
    refused(r, "bogus-command: file not found", "not a file, folder or command", "eval-video")
    r = invoke(tmp_path / "nope.png")
    refused(r, "nope.png: file not found")
    assert "or command" not in r.stderr
    # with a file after it, Typer said "Got unexpected extra argument(s) (p.jpg)"; `help` was "file not found"
    write_image(tmp_path / "p.jpg")
    capsys.readouterr()
    for argv, says in [(["colorise", "p.jpg"], "colorise: not a file, folder or command (commands: bench, colorize, "
                                                "eval, eval-video, models, serve); did you mean 'colorize'?"),
                       (["help"], "help: not a file, folder or command (commands: bench, colorize, eval, eval-video, "
                                  "models, serve); for help: vidcolor --help"),
                       (["bogus", "p.jpg"], "bogus: not a file, folder or command (commands:")]:
        with pytest.raises(SystemExit) as e:
            cli.main(argv)
        assert e.value.code == 2
        err = capsys.readouterr().err
        assert err.startswith(f"vidcolor: error: {says}") and err.count("\n") == 1, err


# -- --model, --device, --strength, --crf -----------------------------------------------------------------

def test_static_model_names_match_the_registry():
    from vidcolor.models import list_models

    assert tuple(sorted(cli.MODELS)) == tuple(sorted(list_models()))


@pytest.mark.parametrize("name,message", [("nosuch", "unknown model 'nosuch'; models: cunet, eccv16, effnet_unet"),
                                          ("tone_net", "tone_net is the colour-photo detector, not a colorization model")])
def test_model_names_are_checked_when_options_are_parsed(tmp_path, no_work, name, message):
    r = invoke(write_image(tmp_path / "p.png"), "--model", name)
    assert r.exit_code == 2 and message in r.stderr, r.output


def test_cuda_device_without_cuda_is_a_usage_error_before_any_work(tmp_path, no_work, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    r = invoke(write_image(tmp_path / "p.png"), "-o", tmp_path / "o.png", "--device", "cuda")
    refused(r, "--device cuda: CUDA is not available")
    assert not (tmp_path / "o.png").exists()


@pytest.mark.parametrize("args,message", [(["--strength", "nan"], "nan is not a number from 0 to 3"),
                                          (["--strength", "inf"], "inf is not a number from 0 to 3"),
                                          (["--temporal-strength", "nan"], "nan is not a number from 0 to 0.99"),
                                          (["--segment-seconds", "nan"], "nan is not a number from 0.1 to 3600")])
def test_float_options_refuse_nan_and_inf_with_their_bounds(tmp_path, args, message):
    r = invoke(tmp_path / "x.png", *args)
    assert r.exit_code == 2 and message in r.stderr, r.output


def test_crf_beyond_x264s_range_is_refused_but_vp9_takes_it(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr("vidcolor.api.colorize", fake_colorize(calls))
    clip = write_video(tmp_path / "v.mp4", frames=3, audio=None)
    for out, codec in (("o.mp4", []), ("o.mkv", ["--codec", "h264"]), ("o.mkv", ["--codec", "libx265"])):
        r = invoke(clip, "-o", tmp_path / out, "--crf", "60", *codec)
        refused(r, "--crf 60", "takes 0 to 51")
    assert calls == []
    assert invoke(clip, "-o", tmp_path / "o.mp4", "--crf", "51").exit_code == 0
    assert invoke(clip, "-o", tmp_path / "o.webm", "--crf", "60").exit_code == 0
    assert [kw["video"].crf for _, _, kw in calls] == [51, 60]


def test_crf_beyond_x264s_range_is_refused_by_the_library_and_in_folders_too(tmp_path, colorizer):
    """A review found the library and folder runs clamping --crf 60 to 51 without a word."""
    import vidcolor
    from vidcolor.errors import UsageError
    from vidcolor.options import VideoOptions

    clip = write_video(tmp_path / "v.mp4", frames=3, audio=None)
    with pytest.raises(UsageError, match=r"lib\.mp4: --crf 60: libx264 takes 0 to 51"):
        vidcolor.colorize(clip, tmp_path / "lib.mp4", colorizer=colorizer, video=VideoOptions(crf=60))
    folder = tmp_path / "films"
    folder.mkdir()
    write_video(folder / "a.mp4", frames=3, audio=None)
    [res] = vidcolor.colorize(folder, tmp_path / "out", colorizer=colorizer, video=VideoOptions(crf=60))
    assert res.status == "failed" and "--crf 60: libx264 takes 0 to 51" in res.error


def test_eval_video_and_bench_refuse_a_photo_and_bench_a_bad_codec_before_any_work(tmp_path, monkeypatch):
    """A new user: eval-video on a photo printed 'warp error nanx', bench on a photo exited 0, and bench
    --codec nosuch ran the decode phase, then named an internal temporary file and exited 1."""
    monkeypatch.setattr(cli, "_load", lambda *a, **kw: pytest.fail("the model was loaded"))
    photo = write_colour_image(tmp_path / "p.jpg")
    for cmd in (["eval-video", str(photo)], ["bench", str(photo)]):
        refused(runner.invoke(cli.app, cmd), f"{photo}: a photo, not a video clip")
    clip = write_video(tmp_path / "v.mp4", frames=3, audio=None)
    refused(runner.invoke(cli.app, ["bench", str(clip), "--phases", "decode,e2e", "--codec", "nosuch"]),
            "--codec nosuch: no such encoder")
    refused(runner.invoke(cli.app, ["bench", str(clip), "--crf", "60"]), "--crf 60: libx264 takes 0 to 51")
    # a bad preset ran the phases before the transcode, then named a temporary file with exit 1 (a new user's test)
    refused(runner.invoke(cli.app, ["bench", str(clip), "--phases", "decode,transcode", "--preset", "bogus"]),
            "--preset bogus: libx264 presets are")
    refused(runner.invoke(cli.app, ["bench", str(tmp_path / "nosuch.mp4")]), "nosuch.mp4: file not found")  # exit 1, after the model
    # a folder given as a clip, or as eval's photo folder when missing, was named for the wrong reason: eval-video
    # said 'file not found' of a folder, eval 'not a folder' of a mistyped path (a reviewer's test)
    refused(runner.invoke(cli.app, ["eval-video", str(tmp_path)]), f"{tmp_path}: a folder, not a video clip")
    refused(runner.invoke(cli.app, ["eval-video", str(tmp_path / "nosuch.mp4")]), "nosuch.mp4: file not found")
    refused(runner.invoke(cli.app, ["eval", str(tmp_path / "nosuch")]), f"{tmp_path / 'nosuch'}: folder not found")
    refused(runner.invoke(cli.app, ["eval", str(photo)]), f"{photo}: a file, not a folder of photos")
    for phases, says in (("transcode,e2e,e2e", "e2e given twice"), ("", "no phase given"), (",", "no phase given")):
        r = runner.invoke(cli.app, ["bench", str(clip), "--phases", phases])
        assert r.exit_code == 2 and says in r.output, r.output


def test_video_options_given_for_a_photo_are_refused_as_format_is_for_a_video(tmp_path, no_work):
    """`vidcolor a.jpg --crf 20` and `--temporal off` exited 0 without a word (new-user test)."""
    photo = write_image(tmp_path / "a.jpg")
    for opt in (["--crf", "20"], ["--temporal", "off"], ["--codec", "libx265"], ["--preset", "fast"],
                ["--segment-seconds", "5"], ["--temporal-strength", "0.5"]):
        refused(invoke(photo, *opt, "-o", tmp_path / "c.jpg"), "a.jpg", f"{opt[0]} applies to videos, and this input is a photo")


@pytest.mark.parametrize("opt", ["--force", "--copy-skipped", "--no-copy-skipped"])
def test_photo_options_given_for_a_video_are_refused(tmp_path, no_work, opt):
    """`vidcolor film.mp4 --force` (or --no-copy-skipped) was accepted and did nothing: a video has no colour test
    to skip it by (a tester's). Refused in one line before the model loads; --force says what redoes an output."""
    (tmp_path / "in").mkdir()
    film = write_video(tmp_path / "in" / "film.mp4", frames=3, audio=None)
    r = invoke(film, opt)
    refused(r, "film.mp4", f"{opt} applies to photos already in colour, and this input is a video")
    assert ("-y (--overwrite) redoes a finished output" in r.stderr) == (opt == "--force")


def test_photo_options_are_taken_for_a_photo_and_for_a_folder_which_may_hold_photos(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr("vidcolor.api.colorize", fake_colorize(calls))
    photo = write_image(tmp_path / "scans" / "b.png")
    assert invoke(tmp_path / "scans", "--force", "--no-copy-skipped").exit_code == 0
    assert invoke(photo, "--force", "--no-copy-skipped").exit_code == 0
    assert [(c[2]["folder"].force, c[2]["folder"].copy_skipped) for c in calls] == [(True, False)] * 2


def test_video_options_are_taken_for_a_folder_which_may_hold_videos(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr("vidcolor.api.colorize", fake_colorize(calls))
    scans = tmp_path / "scans"
    write_image(scans / "b.png")
    assert invoke(scans, "--crf", "20").exit_code == 0 and calls[0][2]["video"].crf == 20


@pytest.mark.parametrize("args, says", [
    (["--format", "gif"], "Invalid value for '--format': 'gif' is not one of"),
    (["--temporl", "off"], "no such option --temporl; did you mean --temporal?"),
    (["--bogus"], "no such option --bogus (see vidcolor colorize --help)"),
    (["-o", "x.mp4", "extra"], "unexpected extra argument"),
])
def test_parser_refusals_are_one_line_like_every_other_refusal(tmp_path, args, says, capsys):
    """Click printed four lines (usage, a hint, a blank, the error), kept the parser's "Value error, "
    and offered `--verbose` as a "possible option" for `--bogus` (new-user test, 2026-11-27)."""
    src = write_video(tmp_path / "in.mp4", frames=2)
    with pytest.raises(SystemExit) as e:
        cli.main([str(src), *args])
    err = capsys.readouterr().err.strip()
    assert e.value.code == 2 and err.startswith("vidcolor: error: ") and len(err.splitlines()) == 1, err
    assert says in err and "Value error" not in err and "--verbose" not in err, err


@pytest.mark.parametrize("args", [["colorize", "--bogus"], ["colorise", "p.png"]])
def test_a_refusal_without_a_stderr_is_not_written_on_standard_output(args, capsys, monkeypatch):
    """`vidcolor ... --bogus 2>&-`: print(file=sys.stderr) with no stderr (None) printed the error on standard
    output, among the JSON lines of `--report -` or the output a script parses."""
    monkeypatch.setattr("sys.stderr", None)
    with pytest.raises(SystemExit) as e:
        cli.main(args)
    assert e.value.code == 2 and capsys.readouterr().out == ""


def test_json_results_are_written_through_a_link(tmp_path, monkeypatch):
    """Written to a temporary file and renamed, a --json link (or /dev/stdout, as root) was replaced by a
    file rather than written through (a reviewer's test)."""
    clip = write_video(tmp_path / "clip.mp4", frames=3, audio=None)
    target = tmp_path / "real.json"
    target.write_text("")
    link = tmp_path / "link.json"
    link.symlink_to(target)
    monkeypatch.setattr(cli, "_load", lambda *a, **kw: None)
    monkeypatch.setattr("vidcolor.evaluate_video.evaluate_video", lambda col, c, **kw: {"clip": str(c), "frames": 3})
    monkeypatch.setattr(cli, "_print_video_table", lambda res: None)
    r = runner.invoke(cli.app, ["eval-video", str(clip), "--json", str(link)])
    assert r.exit_code == 0, r.output
    assert link.is_symlink() and json.loads(target.read_text()) == [{"clip": str(clip), "frames": 3}]
    dangling = tmp_path / "dangling.json"  # a link into a folder not made yet: FileNotFoundError after the work
    dangling.symlink_to(tmp_path / "later" / "r.json")
    r = runner.invoke(cli.app, ["eval-video", str(clip), "--json", str(dangling)])
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / "later" / "r.json").read_text()) == [{"clip": str(clip), "frames": 3}]


@pytest.mark.parametrize("case", ["not_a_checkpoint", "no_shipped_weights", "palette"])
def test_a_run_refused_for_its_weights_or_a_palette_leaves_nothing_in_the_photos_folder(tmp_path, monkeypatch, case):
    """`vidcolor lit/photo.jpg --model eccv16` (no shipped weights), `--weights /etc/passwd` and a hints file
    with a palette for the shipped network were refused with exit 2 only after the output's lock was taken:
    a `.vidcolor/` lock folder was left in the user's own photo folder (a new user's test)."""
    import vidcolor.api as api

    monkeypatch.setattr(api, "_load", lambda **kw: pytest.fail("the model was loaded"))
    folder = tmp_path / "lit"
    src = write_image(folder / "photo.png")
    args = {"not_a_checkpoint": ["--weights", tmp_path / "passwd"], "no_shipped_weights": ["--model", "eccv16"],
            "palette": ["--hints", folder / "photo.hints.json"]}[case]
    (tmp_path / "passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
    if case == "palette":
        (folder / "photo.hints.json").write_text(json.dumps({"palette": ["#00f"]}))
    r = invoke(src, *args)
    refused(r, {"not_a_checkpoint": "not a PyTorch checkpoint", "no_shipped_weights": "no trained weights file",
                "palette": "palette"}[case])
    assert sorted(p.name for p in folder.iterdir()) == sorted(["photo.png"] + (["photo.hints.json"] * (case == "palette")))


def test_the_early_weights_check_takes_a_legacy_pickle_and_a_refusal_still_reaches_the_report(tmp_path):
    """The check before the lock asked for torch.save's zip, and a checkpoint pickled by torch before 1.6
    (which load_checkpoint reads) was refused; and a refusal found there left last night's --report summary
    in place, where the run's own refusal writes it (a review)."""
    import torch

    from vidcolor.weights import check_weights_source

    legacy = tmp_path / "legacy.pt"
    torch.save({"a": torch.zeros(1)}, legacy, _use_new_zipfile_serialization=False)
    check_weights_source(None, legacy)
    src = write_image(tmp_path / "p.png")
    report = tmp_path / "run.jsonl"
    report.write_text(json.dumps({"summary": {"done": 1, "failed": 0}}) + "\n")
    (tmp_path / "passwd").write_text("root:x:0:0\n")
    r = invoke(src, "-o", tmp_path / "o.png", "--weights", tmp_path / "passwd", "--report", report)
    refused(r, "not a PyTorch checkpoint")
    assert "not a PyTorch checkpoint" in json.loads(report.read_text().splitlines()[-1])["summary"]["error"]


def test_a_new_output_folder_is_locked_before_the_report_and_left_unmade_by_a_failed_run(tmp_path, monkeypatch):
    """Two cron runs started together on an output folder not made yet: the second skipped the early lock ("a
    folder not made yet: no other run holds it"), emptied its own --report and loaded the model (and started a
    Ray instance) before its exit 3 (an operator's test). The lock now comes first, making the folder; a run
    that writes nothing and fails removes the folders it made."""
    from vidcolor.archive import OutputLock, RunReport
    from vidcolor.options import Result

    src = tmp_path / "scans"
    write_image(src / "a.png")
    order = []
    enter, begin = OutputLock.__enter__, RunReport.begin
    monkeypatch.setattr(OutputLock, "__enter__", lambda self: (order.append("lock"), enter(self))[1])
    monkeypatch.setattr(RunReport, "begin", lambda self: (order.append("begin"), begin(self))[1])
    monkeypatch.setattr("vidcolor.api._load", lambda **kw: pytest.fail("the model was loaded"))
    calls = []
    monkeypatch.setattr("vidcolor.api.colorize", fake_colorize(calls))
    r = invoke(src, "-o", tmp_path / "new" / "out", "--report", tmp_path / "r.jsonl")
    assert r.exit_code == 0, r.output
    assert order[:2] == ["lock", "begin"]

    def failing(src_, dst=None, *, on_result=None, **kw):
        on_result(Result(src_ / "a.png", None, "failed", 0.1, error="a.png: corrupt"))
        return []

    monkeypatch.setattr("vidcolor.api.colorize", failing)
    r = invoke(src, "-o", tmp_path / "other" / "out")
    assert r.exit_code == 1, r.output
    assert not (tmp_path / "other").exists()  # nothing written: no empty folders of the run's making


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes")
def test_a_named_pipe_given_as_input_is_said_to_be_one_not_an_empty_file(tmp_path):
    """`vidcolor pipe.png` (a FIFO, say from `mkfifo`) said "empty file (0 bytes)"; a pipe with a writer would have
    been read as a stream that neither reader can seek in."""
    from vidcolor.errors import InputError
    from vidcolor.io.images import read_image
    from vidcolor.io.video import _open_input

    for name, read in (("pipe.png", read_image), ("pipe.mp4", _open_input)):
        os.mkfifo(tmp_path / name)
        with pytest.raises(InputError, match=rf"^{tmp_path / name}: a named pipe, not a file \(save the stream to a file first\)$"):
            read(tmp_path / name)
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(InputError, match="empty file"):
        read_image(tmp_path / "empty.png")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes")
def test_a_piped_input_is_named_as_a_pipe_not_checked_against_its_output_name(tmp_path, monkeypatch):
    """`cat scan.jpg | vidcolor /dev/stdin -o o.jpg` was refused as "an image file name for a video input": -o was
    checked against the kind of an input that has none (a pipe has no extension), before the input itself, whose
    line ("a named pipe ... save the stream to a file first") never showed (a new user's test). An empty file with
    a video's -o, likewise. Both now fail as unreadable inputs (exit 1), before the model loads."""
    monkeypatch.setattr("vidcolor.api._load", lambda **kw: pytest.fail("the model was loaded"))
    os.mkfifo(tmp_path / "stdin")
    (tmp_path / "empty.jpg").write_bytes(b"")
    for src, out, why in (("stdin", "o.jpg", "a named pipe, not a file"), ("empty.jpg", "o.mp4", "empty file")):
        r = invoke(tmp_path / src, "-o", tmp_path / out)
        assert r.exit_code == 1, r.output
        assert f"{tmp_path / src}: {why}" in r.output and "file name for a" not in r.output
        assert not (tmp_path / out).exists()
    from vidcolor.api import plan
    from vidcolor.errors import InputError

    with pytest.raises(InputError, match=r"stdin: a named pipe"):
        plan(tmp_path / "stdin", tmp_path / "o.jpg")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes")
def test_a_report_path_is_checked_for_an_unreadable_input_too(tmp_path, monkeypatch):
    """118a365 named a pipe or an empty input before -o was checked against its kind by returning from the CLI's early
    checks, which skipped the rest of them: `vidcolor empty.jpg --report notes.txt` replaced the user's notes with the
    run's report (exit 1), where it had been refused as 'exists and is not a vidcolor report' (exit 2; a review). The
    report's checks hold for such an input; with a usable report it still fails as unreadable, before the model loads."""
    monkeypatch.setattr("vidcolor.api._load", lambda **kw: pytest.fail("the model was loaded"))
    os.mkfifo(tmp_path / "stdin")
    (tmp_path / "empty.jpg").write_bytes(b"")
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n")
    for src in ("stdin", "empty.jpg"):
        r = invoke(tmp_path / src, "--report", notes)
        assert r.exit_code == 2 and "exists and is not a vidcolor report" in r.output, r.output
        assert notes.read_text() == "my notes\n"
        r = invoke(tmp_path / src, "--report", tmp_path / src)
        assert r.exit_code == 2 and "--report is the input file" in r.output, r.output
        r = invoke(tmp_path / src, "-o", tmp_path / "o.mp4", "--report", tmp_path / "run.jsonl")
        assert r.exit_code == 1 and f"{tmp_path / src}: " in r.output, r.output
        assert '"failed": 1' in (tmp_path / "run.jsonl").read_text()


@pytest.mark.parametrize("how", ["absolute", "relative"])
def test_a_working_folder_removed_under_the_shell_is_one_line_before_any_work(tmp_path, how):
    """A script's `cd "$tmp" && ... && rm -rf "$tmp"` then `vidcolor`: torch's import ended the process with
    oneMKL's 'FATAL ERROR: Cannot load libtorch_cpu.so' (exit 2, no word of vidcolor's), and a relative path was a
    traceback from resolving it. Now one line saying so, exit 2, nothing written."""
    import subprocess
    import sys

    src = write_image(tmp_path / "p.png")
    gone = tmp_path / "gone"
    gone.mkdir()
    paths = [str(src), "-o", str(tmp_path / "out.png")] if how == "absolute" else ["../p.png", "-o", "../out.png"]
    script = "import os, sys; os.chdir(sys.argv[1]); os.rmdir(sys.argv[1]); from vidcolor.cli import main; main(sys.argv[2:])"
    p = subprocess.run([sys.executable, "-c", script, str(gone), *paths], capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and p.stdout == "", p.stderr
    assert p.stderr == "vidcolor: error: the current folder no longer exists (removed while this shell was in it); cd to an existing folder\n"
    assert not (tmp_path / "out.png").exists()
