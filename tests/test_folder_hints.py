"""Sidecar hints in folder runs (issue 13): NAME.hints.json beside a photo or video is its hints, the
report says "with hints", the journal redoes exactly the photo whose sidecar changed, a bad sidecar
fails its photo alone, and a model without hint inputs refuses the run before any work."""
import json
import re
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import vidcolor
from tests.media import write_image, write_video
from tests.serve_util import hint_colorizer
from vidcolor.errors import VidcolorError
from vidcolor.hints import load_hints


@pytest.fixture(scope="module")
def hinted():
    return hint_colorizer(work_size=64)


def _sidecar(path, points):
    path.write_text(json.dumps({"points": points}))
    return path


def _scans(tmp_path):
    src = tmp_path / "scans"
    write_image(src / "a.png", seed=1)
    write_image(src / "sub" / "b.png", seed=2)
    _sidecar(src / "a.hints.json", [{"x": 20, "y": 20, "color": "#c02020", "radius": 3}])
    return src


def _by_name(results):
    return {r.input.name: r for r in results}


def test_a_sidecar_beside_a_photo_is_used_in_a_folder_run(tmp_path, hinted):
    src = _scans(tmp_path)
    res = _by_name(vidcolor.colorize(src, tmp_path / "out", colorizer=hinted))
    assert sorted(res) == ["a.png", "b.png"]  # the sidecar is not an input
    assert (res["a.png"].status, res["a.png"].note) == ("done", "with hints")
    assert (res["b.png"].status, res["b.png"].note) == ("done", None)
    assert sorted(p.name for p in (tmp_path / "out").iterdir() if not p.name.startswith(".")) == ["a.png", "sub"]
    gray = np.asarray(Image.open(src / "a.png").convert("RGB"))
    want = hinted.colorize_array(gray, load_hints(src / "a.hints.json"))
    assert np.array_equal(np.asarray(Image.open(tmp_path / "out" / "a.png")), want)
    assert not np.array_equal(want, hinted.colorize_array(gray))


def test_editing_a_sidecar_redoes_that_photo_and_only_that_one(tmp_path, hinted):
    src, out = _scans(tmp_path), tmp_path / "out"
    vidcolor.colorize(src, out, colorizer=hinted)
    assert {n: r.status for n, r in _by_name(vidcolor.colorize(src, out, colorizer=hinted)).items()} == {"a.png": "skipped", "b.png": "skipped"}
    _sidecar(src / "a.hints.json", [{"x": 20, "y": 20, "color": "#2040c0", "radius": 3}])
    again = _by_name(vidcolor.colorize(src, out, colorizer=hinted))
    assert (again["a.png"].status, again["a.png"].note, again["b.png"].status) == ("done", "with hints", "skipped")
    _sidecar(src / "sub" / "b.hints.json", [{"x": 5, "y": 5, "color": "#20c020"}])  # a new sidecar redoes its photo too
    again = _by_name(vidcolor.colorize(src, out, colorizer=hinted))
    assert (again["a.png"].status, again["b.png"].status) == ("skipped", "done")


@pytest.mark.parametrize("content, message", [
    ("{oops", "a.hints.json: bad JSON at line 1"),
    (json.dumps({"points": [{"x": 90, "y": 5, "color": "#c02020"}]}), r"a.hints.json: points\[0\] at \(90, 5\) is outside the 64x48 image"),
    (json.dumps({"points": [{"x": 9, "y": 5, "colour": "#c02020"}]}), r"a.hints.json: points\[0\]: unknown key 'colour'"),
])
def test_a_bad_sidecar_fails_its_photo_in_one_line_and_the_run_goes_on(tmp_path, hinted, content, message):
    src = _scans(tmp_path)
    (src / "a.hints.json").write_text(content)
    res = _by_name(vidcolor.colorize(src, tmp_path / "out", colorizer=hinted))
    assert res["a.png"].status == "failed" and "\n" not in res["a.png"].error
    assert re.search(message, res["a.png"].error)
    assert res["b.png"].status == "done" and not (tmp_path / "out" / "a.png").exists()


def test_a_palette_sidecar_with_a_model_without_hint_inputs_fails_its_photo_and_the_run_goes_on(tmp_path, colorizer):
    """It refused the whole run (exit 2): one such sidecar stopped a nightly archive run of 10,000 photos
    (a new user's test). It now fails its photo, as any other bad sidecar does."""
    src = _scans(tmp_path)
    (src / "a.hints.json").write_text(json.dumps({"palette": ["#20c020"]}))
    (src / "sub" / "b.hints.json").write_text(json.dumps({"points": [{"x": 5, "y": 5, "color": "#20c020"}], "palette": ["#c02020"]}))
    res = _by_name(vidcolor.colorize(src, tmp_path / "out", colorizer=colorizer))
    assert res["a.png"].status == res["b.png"].status == "failed"
    assert re.search(r"a.hints.json: model effnet_unet has no hint inputs for a palette", res["a.png"].error)
    assert not (tmp_path / "out" / "a.png").exists() and not (tmp_path / "out" / "sub" / "b.png").exists()
    for side in (src / "a.hints.json", src / "sub" / "b.hints.json"):  # points alone: spread with L as the guide
        _sidecar(side, [{"x": 5, "y": 5, "color": "#20c020"}])
    assert {r.status for r in vidcolor.colorize(src, tmp_path / "out", colorizer=colorizer)} == {"done"}
    # a video's palette sidecar too: it stopped the run with exit 2, after the photos were done (a review)
    write_video(src / "film.mp4", w=64, h=48, frames=4, audio=None)
    (src / "film.hints.json").write_text(json.dumps({"frames": {"0": {"palette": ["#20c020"]}}}))
    res = _by_name(vidcolor.colorize(src, tmp_path / "out2", colorizer=colorizer))
    assert res["film.mp4"].status == "failed" and "film.hints.json: model effnet_unet has no hint inputs" in res["film.mp4"].error


def test_the_cli_reports_with_hints_for_a_sidecar(tmp_path):
    from tests.test_hints import _hint_model
    from vidcolor.models import save_checkpoint

    ckpt = tmp_path / "hinted.pt"
    save_checkpoint(_hint_model(), ckpt, meta={"work_size": 64})
    src = _scans(tmp_path)
    r = subprocess.run([sys.executable, "-m", "vidcolor", str(src), "-o", str(tmp_path / "out"), "--weights", str(ckpt)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    lines = (r.stdout + r.stderr).splitlines()
    assert any("a.png" in ln and "with hints" in ln for ln in lines), lines
    assert not any("b.png" in ln and "with hints" in ln for ln in lines)


def test_a_sidecar_beside_a_video_is_its_video_hints(tmp_path, hinted):
    src = tmp_path / "films"
    src.mkdir()
    write_video(src / "reel.mp4", w=96, h=64, frames=6, audio=None)
    (src / "reel.hints.json").write_text(json.dumps({"frames": {"0": {"points": [{"x": 40, "y": 30, "color": "#c02020"}]}}}))
    (res,) = vidcolor.colorize(src, tmp_path / "out", colorizer=hinted)
    assert res.status == "done" and "with hints on 1 keyframe(s)" in res.notes
    (src / "reel.hints.json").write_text(json.dumps({"frames": {"9": {"points": []}}}))
    (res,) = vidcolor.colorize(src, tmp_path / "out", colorizer=hinted)
    assert res.status == "failed" and "reel.hints.json: frames[9]: frame 9 is beyond the end of reel.mp4" in res.error


def test_a_ray_photo_worker_uses_the_sidecar_hints_it_is_sent(tmp_path, hinted):
    """The Ray photo path (workers.PhotoBatch, which imports no ray) colorizes with the hints in its rows."""
    from vidcolor.cluster.workers import PhotoBatch
    from vidcolor.options import FolderOptions

    src = _scans(tmp_path)
    hints = load_hints(src / "a.hints.json")
    worker = PhotoBatch(hinted, FolderOptions(), since_ns=0)
    rows = worker({"src": np.array([str(src / "a.png"), str(src / "sub" / "b.png")]),
                   "dst": np.array([str(tmp_path / "o" / "a.png"), str(tmp_path / "o" / "b.png")]),
                   "hints": np.array([json.dumps(hints.to_obj()), ""])})
    assert rows["status"] == ["done", "done"] and rows["note"] == ["with hints", None]
    gray = np.asarray(Image.open(src / "a.png").convert("RGB"))
    assert np.array_equal(np.asarray(Image.open(tmp_path / "o" / "a.png")), hinted.colorize_array(gray, hints))


def test_a_sidecar_that_cannot_be_parsed_fails_its_photo_alone(tmp_path, colorizer):
    """A 330-digit number raised OverflowError outside the per-input guard: the whole folder run stopped
    with a traceback, the photo without a sidecar not done either (a reviewer's test)."""
    import vidcolor
    from tests.media import write_image

    src = tmp_path / "in"
    write_image(src / "a.png")
    write_image(src / "b.png", seed=1)
    (src / "a.hints.json").write_text('{"points": [{"x": 1' + "0" * 329 + ', "y": 1, "color": "#3a6ea5"}]}')
    res = {r.input.name: r for r in vidcolor.colorize(src, tmp_path / "out", colorizer=colorizer)}
    assert res["b.png"].status == "done"
    assert res["a.png"].status == "failed" and "points[0]: x must be a number" in res["a.png"].error


def test_a_hints_file_beside_no_input_of_its_name_is_reported(tmp_path, colorizer):
    """A new user's Vinegar.png.hints.json (the sidecar is Vinegar.hints.json) was ignored without a word."""
    import json

    import vidcolor
    from tests.media import write_image

    src = tmp_path / "in"
    write_image(src / "Vinegar.png")
    (src / "Vinegar.png.hints.json").write_text(json.dumps({"points": [{"x": 1, "y": 1, "color": "#ff0000"}]}))
    write_image(src / "C.PNG")  # and one whose suffix differs in case: ignored without a word too (a reviewer's test)
    (src / "C.Hints.json").write_text(json.dumps({"points": [{"x": 1, "y": 1, "color": "#ff0000"}]}))
    res = {r.input.name: r for r in vidcolor.colorize(src, tmp_path / "out", colorizer=colorizer)}
    assert res["Vinegar.png"].status == "done" and res["C.PNG"].status == "done"
    for name in ("Vinegar.png.hints.json", "C.Hints.json"):
        stray = res[name]
        assert stray.status == "skipped" and "a hints file beside no photo or video of its name" in stray.note
        assert "NAME.hints.json" in stray.note


def test_a_sidecar_in_another_case_that_the_disk_applies_is_no_stray(tmp_path, colorizer):
    """On a case-insensitive disk C.Hints.json is C.PNG's sidecar, applied, and was also reported as a
    stray (a reviewer's reading). The same file under both names stands in for such a disk here."""
    import json
    import os

    from vidcolor.io.formats import list_media
    from tests.media import write_image

    src = tmp_path / "in"
    write_image(src / "C.PNG")
    (src / "C.hints.json").write_text(json.dumps({"points": [{"x": 1, "y": 1, "color": "#ff0000"}]}))
    os.link(src / "C.hints.json", src / "C.Hints.json")
    assert list_media(src).stray_hints == []


def test_a_dry_run_fails_a_photo_whose_sidecar_point_is_outside_it_as_displayed(tmp_path, hinted):
    # the dry run said "would colorize with hints" and the real run then failed the photo; the header's size
    # (EXIF orientation applied) is enough to tell: 48x64 stored on its side is 48 wide as displayed
    src = _scans(tmp_path)
    ex = Image.Exif()
    ex[274] = 6
    Image.open(src / "a.png").save(src / "c.jpg", exif=ex)
    _sidecar(src / "c.hints.json", [{"x": 50, "y": 5, "color": "#c02020"}])
    _sidecar(src / "a.hints.json", [{"x": 90, "y": 5, "color": "#c02020"}])
    dry = _by_name(vidcolor.colorize(src, tmp_path / "out", colorizer=hinted, folder=vidcolor.FolderOptions(dry_run=True)))
    assert dry["a.png"].status == "failed" and "a.hints.json: points[0] at (90, 5) is outside the 64x48 image" in dry["a.png"].error
    assert dry["c.jpg"].status == "failed" and "c.hints.json: points[0] at (50, 5) is outside the 48x64 image" in dry["c.jpg"].error
    assert dry["b.png"].status == "planned" and not (tmp_path / "out").exists()
    real = _by_name(vidcolor.colorize(src, tmp_path / "out", colorizer=hinted))
    assert {n: r.status for n, r in real.items()} == {n: r.status.replace("planned", "done") for n, r in dry.items()}
    assert [real[n].error for n in ("a.png", "c.jpg")] == [dry[n].error for n in ("a.png", "c.jpg")]


def test_a_sidecar_that_is_a_link_to_a_missing_file_fails_its_photo(tmp_path, hinted):
    """A sidecar linked from a share that was not mounted: `is_file()` said there was none, and the photo
    was colorized without its hints, reported done and journalled so (a hints user's find). It fails its
    photo now, naming the sidecar, and the run goes on; a video's too."""
    src = _scans(tmp_path)
    (src / "a.hints.json").unlink()
    (src / "a.hints.json").symlink_to(tmp_path / "share" / "a.hints.json")
    write_video(src / "film.mp4", w=64, h=48, frames=4, audio=None)
    (src / "film.hints.json").symlink_to(tmp_path / "share" / "film.hints.json")
    res = _by_name(vidcolor.colorize(src, tmp_path / "out", colorizer=hinted))
    assert res["a.png"].status == "failed" and not (tmp_path / "out" / "a.png").exists()
    assert re.search(r"a.hints.json: hints file not found \(a link to .*share/a.hints.json, which is missing\)", res["a.png"].error)
    assert res["film.mp4"].status == "failed" and "film.hints.json: hints file not found" in res["film.mp4"].error
    assert res["b.png"].status == "done"
    (tmp_path / "share").mkdir()  # the share is back: the photo is done with its hints
    _sidecar(tmp_path / "share" / "a.hints.json", [{"x": 20, "y": 20, "color": "#c02020", "radius": 3}])
    again = _by_name(vidcolor.colorize(src, tmp_path / "out", colorizer=hinted))
    assert (again["a.png"].status, again["a.png"].note) == ("done", "with hints")
