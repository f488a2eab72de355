"""An interrupted --overwrite run, and re-runs over outputs edited or protected since vidcolor wrote them
(a new user's test, 2026-11-28)."""
import fractions
import json
import logging

import numpy as np
from PIL import Image
from typer.testing import CliRunner

from tests.media import write_image, write_video
from vidcolor import cli

runner = CliRunner()


def invoke(*args):
    return runner.invoke(cli.app, ["colorize", *map(str, args)])


def test_a_y_run_stopped_over_an_edited_video_is_resumed_by_the_next_run_not_taken_as_done(tmp_path, weights_file, encoder_fails_at):
    """The edited film was kept with a note, -y was given to redo it and stopped with Ctrl-C, and the next run
    without -y (as the stop line tells) said "already done": the edit was then accepted without a word and the
    redo's finished segments dropped."""
    src = write_video(tmp_path / "in.mp4", w=64, h=48, frames=40, rate=fractions.Fraction(10), audio=None)
    dst = tmp_path / "out" / "film.mp4"
    common = ("-o", dst, "--weights", weights_file, "--segment-seconds", 1)
    assert invoke(src, *common).exit_code == 0
    written = dst.read_bytes()
    with open(dst, "ab") as f:
        f.write(b"xx")  # edited by hand
    r = invoke(src, *common)
    assert r.exit_code == 0 and "the output has changed since vidcolor wrote it (kept; -y redoes it)" in r.stderr, r.stderr
    restore = encoder_fails_at(25, KeyboardInterrupt())  # Ctrl-C in the third segment
    r = invoke(src, *common, "-y")
    assert r.exit_code == 130 and "without -y (--overwrite) to resume" in r.stderr, r.stderr
    assert dst.read_bytes() == written + b"xx"  # not replaced yet
    restore()
    r = invoke(src, *common, "--report", tmp_path / "run.jsonl")
    assert r.exit_code == 0, r.stderr
    row = json.loads((tmp_path / "run.jsonl").read_text().splitlines()[0])
    assert row["status"] == "done" and row["frames_resumed"] >= 10, row  # the redo resumed, not started over
    assert not dst.read_bytes().endswith(b"xx")
    r = invoke(src, *common)  # and then it is done
    assert r.exit_code == 0 and "already done" in r.stderr and "changed" not in r.stderr, r.stderr


def test_a_y_run_stopped_before_a_photo_leaves_it_to_be_redone(tmp_path, weights_file, monkeypatch):
    """The same for a photo: the stopped -y run's redo is carried out by the next run, not skipped as done."""
    import vidcolor.folder as folder

    src = write_image(tmp_path / "a.png")
    dst = tmp_path / "out" / "a.png"
    assert invoke(src, "-o", dst, "--weights", weights_file).exit_code == 0
    write = folder.write_image

    def stopped(*a, **k):
        raise KeyboardInterrupt()

    monkeypatch.setattr(folder, "write_image", stopped)
    assert invoke(src, "-o", dst, "--weights", weights_file, "-y").exit_code == 130
    monkeypatch.setattr(folder, "write_image", write)
    r = invoke(src, "-o", dst, "--weights", weights_file, "--strength", "1.5")  # other settings: read as before (a redo)
    assert r.exit_code == 0 and "done" in r.stderr and "skipped" not in r.stderr, r.stderr
    monkeypatch.setattr(folder, "write_image", stopped)
    assert invoke(src, "-o", dst, "--weights", weights_file, "-y").exit_code == 130
    monkeypatch.setattr(folder, "write_image", write)
    r = invoke(src, "-o", dst, "--weights", weights_file, "--strength", "1.5")  # the strength-1.5 output stands
    assert r.exit_code == 0 and "already done" in r.stderr, r.stderr
    _retouch(dst)  # edited after the stop: the resumed redo refuses it (a review)
    r = invoke(src, "-o", dst, "--weights", weights_file)
    assert r.exit_code == 2 and "changed since vidcolor wrote it" in r.stderr, r.stderr
    dst.unlink()  # moved aside: redone
    r = invoke(src, "-o", dst, "--weights", weights_file, "--report", tmp_path / "run.jsonl")
    assert r.exit_code == 0 and json.loads((tmp_path / "run.jsonl").read_text().splitlines()[0])["status"] == "done", r.stderr


def _retouch(path):
    px = np.asarray(Image.open(path)).copy()
    px[:8, :8] = (255, 0, 0)
    Image.fromarray(px).save(path)


def test_a_retouched_single_photo_is_kept_with_a_note_as_in_a_folder_run_and_refused_when_it_must_be_redone(tmp_path, weights_file):
    """A retouched output failed its single-photo nightly re-run with exit 2 ("changed since vidcolor wrote
    it"), where a folder run keeps it with a note; only a run that has to redo it refuses it."""
    src = write_image(tmp_path / "a.png")
    dst = tmp_path / "out" / "a.png"
    assert invoke(src, "-o", dst, "--weights", weights_file).exit_code == 0
    _retouch(dst)
    retouched = dst.read_bytes()
    r = invoke(src, "-o", dst, "--weights", weights_file)
    assert r.exit_code == 0 and "already done; the output has changed since vidcolor wrote it (kept" in r.stderr, r.stderr
    assert invoke(src, "-o", dst, "--weights", weights_file, "--dry-run").exit_code == 0
    r = invoke(src, "-o", dst, "--weights", weights_file, "--strength", "1.2")
    assert r.exit_code == 2 and "changed since vidcolor wrote it" in r.stderr, r.stderr
    assert dst.read_bytes() == retouched


def test_a_protected_single_output_that_must_be_redone_exits_2_as_a_foreign_file_does(tmp_path, weights_file):
    """chmod a-w on the output, then a run with another --strength: "FAILED ... is read-only", exit 1, where
    docs/archives.md says it is refused the same way as a file vidcolor did not write (exit 2)."""
    src = write_image(tmp_path / "a.png")
    dst = tmp_path / "out" / "a.png"
    assert invoke(src, "-o", dst, "--weights", weights_file).exit_code == 0
    dst.chmod(0o444)
    r = invoke(src, "-o", dst, "--weights", weights_file)
    assert r.exit_code == 0 and "already done" in r.stderr
    r = invoke(src, "-o", dst, "--weights", weights_file, "--strength", "1.2", "--report", tmp_path / "run.jsonl")
    assert r.exit_code == 2 and "is read-only" in r.stderr and "FAILED" not in r.stderr, r.stderr
    assert "is read-only" in json.loads((tmp_path / "run.jsonl").read_text().splitlines()[-1])["summary"]["error"]


def test_a_film_stopped_and_resumed_with_another_segment_length_keeps_its_finished_segments(tmp_path, weights_file, encoder_fails_at):
    """Resumed with another --segment-seconds (or without the flag), the 116 finished frames were thrown away
    as "made with other settings"; and a --crf change, which does start over, was not said by --dry-run."""
    src = write_video(tmp_path / "in.mp4", w=64, h=48, frames=40, rate=fractions.Fraction(10), audio=None)
    dst = tmp_path / "out" / "film.mp4"
    restore = encoder_fails_at(25, KeyboardInterrupt())
    assert invoke(src, "-o", dst, "--weights", weights_file, "--segment-seconds", 1).exit_code == 130
    restore()
    r = invoke(src, "-o", dst, "--weights", weights_file, "--segment-seconds", 3, "--dry-run")
    assert r.exit_code == 0 and "would resume at frame 20" in r.stderr, r.stderr
    r = invoke(src, "-o", dst, "--weights", weights_file, "--crf", 30, "--dry-run")
    assert "would colorize, starting over: the 20 frames an earlier run finished were made with other settings" in r.stderr, r.stderr
    r = invoke(src, "-o", dst, "--weights", weights_file, "--segment-seconds", 3, "--report", tmp_path / "run.jsonl")
    row = json.loads((tmp_path / "run.jsonl").read_text().splitlines()[0])
    assert r.exit_code == 0 and row["frames_resumed"] == 20 and row["frames"] == 40, (r.stderr, row)


def test_a_run_that_redoes_finished_outputs_for_other_settings_says_how_many_and_why_before_the_work(tmp_path, weights_file, monkeypatch,
                                                                                                 caplog):
    """The first run after a release that renders otherwise redoes every finished output (hours for an archive of
    50,000 scans), and it started without a word; its dry run called each "would colorize" (an archivist's test).
    Now one line (a warning, which the CLI prints first), before the first photo, counts them and names what
    differs; the dry run says it per photo and in its summary. An output edited since is kept (its own line), and a
    -y run, which redoes everything, says nothing."""
    import vidcolor.colorizer as colorizer

    def said():
        lines = [r.getMessage() for r in caplog.records if "made with other settings" in r.getMessage()]
        caplog.clear()
        return lines

    for i in range(3):
        write_image(tmp_path / "scans" / f"img{i}.png", h=30 + i, w=40, seed=i)
    common = (tmp_path / "scans", "-o", tmp_path / "out", "--weights", weights_file)
    monkeypatch.setattr(colorizer, "RENDER_VERSION", 2)
    assert invoke(*common).exit_code == 0
    monkeypatch.undo()
    _retouch(tmp_path / "out" / "img2.png")
    caplog.set_level(logging.WARNING, logger="vidcolor")
    line = f"vidcolor: 2 finished outputs in {tmp_path / 'out'} were made with other settings"
    r = invoke(*common, "--dry-run")
    assert said() == [f"{line} (another vidcolor rendering (2, now 3)) and would be redone"]
    assert r.stderr.count("would do") == 2 and "made with other settings (another vidcolor rendering (2, now 3)): would colorize" in r.stderr
    assert "dry run: 2 to do (2 of them finished outputs made with other settings, redone), 0 skipped, 1 would fail" in r.stderr, r.stderr
    r = invoke(*common, "--strength", "1.5")
    assert r.exit_code == 1, r.stderr  # the retouched output is refused
    assert said() == [f"{line} (another --strength (1, now 1.5), another vidcolor rendering (2, now 3)) and will be redone; "
                      "Ctrl-C now to keep them"]
    assert r.stderr.count("done ") == 2  # the same outputs redone as without the line
    r = invoke(*common, "--strength", "1.5")  # finished with these settings: no line
    assert r.exit_code == 1 and "already done" in r.stderr and said() == [], r.stderr
    r = invoke(*common, "-y")
    assert r.exit_code == 0 and r.stderr.count("done ") == 3 and said() == [], r.stderr


def test_what_differs_between_two_resume_keys_is_named_as_a_user_set_it():
    """The words of that line, from the keys alone: each part a journal keeps, a key from before the rendering had a
    version (1), the input's own format, and a film's smoothing; --segment-seconds, in keys of 2026-11-27, is none."""
    from vidcolor.options import key_differences

    key = "effnet_unet:0123456789abcdef:ws256:t0.380:b0.000:bilinear:r3|fmt=None"
    assert key_differences(key, key) == [] and key_differences(key.replace("|fmt", "|seg10|fmt"), key) == []
    assert key_differences(key.replace(":r3", ""), key) == ["another vidcolor rendering (1, now 3)"]
    assert key_differences(key.replace("0123", "9999").replace("ws256", "ws512"), key.replace(":r3", ":r3:s0.500")) == [
        "other weights", "another --strength (1, now 0.5)", "another --work-size (512, now 256)"]
    assert key_differences(key, key.replace("None", ".jpg") + "|hints=ab12") == ["another --format (the input's, now .jpg)", "other hints"]
    film = key.replace("|fmt=None", "|temporal=ema:0.5:v3|libx264:yuv420p:1/25:crf=18,preset=medium")
    assert key_differences(film, film.replace("ema", "none")) == ["another temporal smoothing (ema:0.5:v3, now none:0.5:v3)"]
    assert key_differences(film, film.replace("crf=18", "crf=23")) == [
        "another video encoding (libx264:yuv420p:1/25:crf=18,preset=medium, now libx264:yuv420p:1/25:crf=23,preset=medium)"]
