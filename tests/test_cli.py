import subprocess
import sys

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


def test_missing_input_exits_1_with_one_line(tmp_path, weights_file):
    r = invoke(tmp_path / "nope.mp4", "-o", tmp_path / "o.mp4", "--weights", weights_file)
    assert r.exit_code == 1
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
    r = invoke(src, "-o", tmp_path / "o.png", "--weights", bad)
    assert r.exit_code == 2 and "cannot read weights" in r.stderr


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
    r = invoke(src, "-o", tmp_path / "b.mkv", "--weights", weights_file, "--temporal", "off", "--crf", "23",
               "--preset", "fast", "--codec", "libx264", "--batch-size", "2", "--work-size", "96", "--temporal-strength", "0.3",
               "-y", "--no-copy-skipped", "--format", "png")
    assert r.exit_code == 0, r.output
    o, f = seen["video"], seen["folder"]
    assert (o.temporal, o.crf, o.preset, o.codec, o.batch_size, o.temporal_strength, o.overwrite) == ("off", 23, "fast", "libx264", 2, 0.3, True)
    assert (f.fmt_ext, f.copy_skipped, f.overwrite, f.batch_size) == (".png", False, True, 2)
    assert seen["work_size"] == 96 and seen["dst"] == tmp_path / "b.mkv" and seen["weights"] == weights_file


def test_bare_input_form_routes_to_colorize_and_output_is_optional(tmp_path, monkeypatch):
    seen = {}
    monkeypatch.setattr("vidcolor.api.colorize", fake_colorize(seen))
    with pytest.raises(SystemExit) as e:
        cli.main([str(tmp_path / "film.mp4")])
    assert e.value.code == 0 and seen["src"] == tmp_path / "film.mp4" and seen["dst"] is None


def test_python_m_vidcolor_runs(tmp_path):
    r = subprocess.run([sys.executable, "-m", "vidcolor", "models"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "effnet_unet" in r.stdout
