"""Video hints end to end (issue 13): the hints file checked against the video before any work, a hint
carried with what it was placed on through the front door and the CLI, the journal key, and a resumed
run giving the frames of an unbroken one."""
import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

import vidcolor
from tests.media import read_frames, write_frames, write_video
from tests.serve_util import hint_colorizer
from vidcolor.api import plan
from vidcolor.errors import UsageError, VidcolorError
from vidcolor.hints import HintPoint, Hints
from vidcolor.options import VideoOptions
from vidcolor.video_hints import displayed_to_stored

SQUARE = 30  # px, moving SPEED px a frame from x = X0
X0, Y0, SPEED = 16, 33, 3
RED = "#c02020"


def _texture(rng, shape, lo, span):
    t = cv2.GaussianBlur(rng.random(shape), (0, 0), 2)
    return lo + span * (t - t.min()) / (t.max() - t.min())


def square_clip(path, frames=12, w=128, h=96):
    """Gray frames: a smooth textured background and a brighter textured square moving right (the
    same texture every frame, so the flow has something to follow)."""
    rng = np.random.default_rng(0)
    bg, sq = _texture(rng, (h, w), 25, 100), _texture(rng, (SQUARE, SQUARE), 150, 80)
    out = []
    for t in range(frames):
        g = bg.copy()
        x = X0 + SPEED * t
        g[Y0:Y0 + SQUARE, x:x + SQUARE] = sq
        out.append(np.repeat(g.round().astype(np.uint8)[..., None], 3, axis=2))
    return write_frames(path, out)


def _hints_file(tmp_path, frames, name="film.hints.json"):
    p = tmp_path / name
    p.write_text(frames if isinstance(frames, str) else json.dumps({"frames": frames}))
    return p


def _point(x, y, color=RED, radius=6):
    return {"x": x, "y": y, "color": color, "radius": radius}


def _a_star(rgb, x, y, r=3):
    """Mean CIELAB a* of a (2r+1)^2 patch."""
    lab = cv2.cvtColor(rgb[y - r:y + r + 1, x - r:x + r + 1].astype(np.float32) / 255, cv2.COLOR_RGB2Lab)
    return float(lab[..., 1].mean())


@pytest.fixture(scope="module")
def hinted():
    return hint_colorizer(work_size=64)


@pytest.fixture(scope="module")
def tight():
    """The stand-in hint network painting each hint's colour on its own cells only. With its usual reach
    it also paints the background beside the square (a trained network stops at the object's edges),
    and the flow smoother then rightly keeps that static background's colour for a while."""
    col = hint_colorizer(work_size=64)
    col.model.reach = 0
    return col


@pytest.mark.parametrize("frames, message", [
    ("{bad", "bad JSON at line 1"),
    ({"0": {"points": [_point(10, 10)], "colour": "#fff"}}, r"frames\[0\]: unknown key 'colour'"),
    ({"0": {"points": [_point(10, 10, color="blue")]}}, r"frames\[0\]: points\[0\]: bad colour 'blue'"),
    ({"3": {"points": [_point(96, 10)]}}, r"frames\[3\]: points\[0\] at \(96, 10\) is outside the 96x64 image"),
    ({"12": {"points": [_point(10, 10)]}}, r"frames\[12\]: frame 12 is beyond the end of in.mp4 \(12 frames, 0 to 11\)"),
    ({"first": {"points": []}}, "frames key 'first' is not a frame index"),
])
def test_a_bad_video_hints_file_is_refused_in_one_line_before_any_work(tmp_path, frames, message):
    src = write_video(tmp_path / "in.mp4", w=96, h=64, frames=12, audio=None)
    path = _hints_file(tmp_path, frames)
    with pytest.raises(UsageError, match=message) as e:
        plan(src, tmp_path / "out.mp4", hints=path)
    assert str(path) in str(e.value) and "\n" not in str(e.value)


def test_the_cli_refuses_a_bad_video_hints_file_with_exit_2_and_writes_nothing(tmp_path, weights_file):
    src = write_video(tmp_path / "in.mp4", w=96, h=64, frames=12, audio=None)
    path = _hints_file(tmp_path, {"0": {"points": [_point(10, 70)]}})
    r = subprocess.run([sys.executable, "-m", "vidcolor", str(src), "-o", str(tmp_path / "out.mp4"), "--weights", str(weights_file),
                        "--hints", str(path)], capture_output=True, text=True)
    assert r.returncode == 2 and "frames[0]: points[0] at (10, 70) is outside the 96x64 image" in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["film.hints.json", "in.mp4"]


def test_points_are_checked_against_the_displayed_frame_of_a_rotated_video(tmp_path):
    src = write_video(tmp_path / "in.mp4", w=96, h=64, frames=4, audio=None, rotation=90)
    # stored 96x64, displayed 64x96: (10, 80) is inside the displayed frame, (80, 10) is not
    ok = plan(src, tmp_path / "out.mp4", hints=_hints_file(tmp_path, {"0": {"points": [_point(10, 80)]}})).hints
    (p,) = ok.frames[0].points
    assert (p.x, p.y) == (95 - 80, 10)  # turned back onto the stored frame
    with pytest.raises(UsageError, match=r"points\[0\] at \(80, 10\) is outside the 64x96 image"):
        plan(src, tmp_path / "out.mp4", hints=_hints_file(tmp_path, {"0": {"points": [_point(80, 10)]}}, "b.json"))


@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_displayed_points_land_on_the_same_stored_pixel(rotation):
    stored = np.arange(5 * 7).reshape(5, 7)  # h 5, w 7
    shown = np.rot90(stored, rotation // 90)  # the stored frame turned counter-clockwise, as displayed
    for yd in range(shown.shape[0]):
        for xd in range(shown.shape[1]):
            (p,) = displayed_to_stored(Hints((HintPoint(xd, yd, (1.0, 2.0)),)), rotation, 7, 5).points
            assert stored[int(p.y), int(p.x)] == shown[yd, xd]


def test_a_hint_follows_the_moving_square_through_the_front_door(tmp_path, tight):
    """Issue 13: a hint on a keyframe stays on the thing it was placed on as it moves, and does not stay
    behind on the background; frames before the keyframe are untouched."""
    src = square_clip(tmp_path / "film.mp4")
    hints = _hints_file(tmp_path, {"2": {"points": [_point(X0 + 2 * SPEED + 15, Y0 + 15)]}})
    res = vidcolor.colorize(src, tmp_path / "hinted.mp4", colorizer=tight, hints=hints)  # default temporal: flow
    vidcolor.colorize(src, tmp_path / "auto.mp4", colorizer=tight)
    assert res[0].status == "done" and any("with hints on 1 keyframe" in n for n in res[0].notes)
    out, ref = read_frames(tmp_path / "hinted.mp4"), read_frames(tmp_path / "auto.mp4")
    assert len(out) == 12
    # before the keyframe: the automatic colours (up to x264's rate control, which looks ahead at later frames)
    assert np.abs(out[:2].astype(int) - ref[:2]).mean() < 1.5
    assert abs(_a_star(out[1], X0 + SPEED + 15, Y0 + 15) - _a_star(ref[1], X0 + SPEED + 15, Y0 + 15)) < 2
    last = 11
    centre_now, centre_then = X0 + SPEED * last + 15, X0 + 2 * SPEED + 15
    # the square (now 27 px further right) is red; where it was, now background, has the automatic colour.
    # (+15: the square is bright, up to L* 90, and a hint asks only for what its cells can show at their
    # lightness, `color.in_gamut_ab`: +19 measured, +27 before that limit)
    assert _a_star(out[last], centre_now, Y0 + 15) > _a_star(ref[last], centre_now, Y0 + 15) + 15
    assert abs(_a_star(out[last], centre_then - 6, Y0 + 15) - _a_star(ref[last], centre_then - 6, Y0 + 15)) < 3


def test_a_later_keyframe_shows_its_hint_on_that_frame_with_the_default_flow_smoother(tmp_path, tight):
    """A new user's blue hint on keyframe 10 came out red on frame 10 with the default --temporal flow and
    turned blue only over the next 30 frames (with --temporal off it was blue at once): the smoother's
    memory held the colours from before the hint. It restarts at a keyframe now, as at a cut."""
    src = square_clip(tmp_path / "film.mp4", frames=12)
    key = 8
    x, y = X0 + SPEED * key + 15, Y0 + 15
    hints = _hints_file(tmp_path, {str(key): {"points": [_point(x, y)]}})
    outs = {}
    for mode in ("flow", "off"):
        vidcolor.colorize(src, tmp_path / f"{mode}.mp4", colorizer=tight, hints=hints, video=VideoOptions(temporal=mode))
        outs[mode] = read_frames(tmp_path / f"{mode}.mp4")
    vidcolor.colorize(src, tmp_path / "auto.mp4", colorizer=tight)
    auto = read_frames(tmp_path / "auto.mp4")
    hinted_flow, hinted_off = _a_star(outs["flow"][key], x, y), _a_star(outs["off"][key], x, y)
    assert hinted_off > _a_star(auto[key], x, y) + 20  # the hint shows without the smoother
    assert hinted_flow > hinted_off - 3  # and on the keyframe itself with it


def test_a_keyframe_past_the_last_frame_is_said_not_applied(tmp_path, tight):
    """A new user's MKV header estimated 59 frames where it held 58, so keyframe 58 passed the check, was
    counted in "with hints on 2 keyframe(s)" and never applied."""
    from vidcolor.hints import VideoHints
    from vidcolor.pipeline import colorize_video

    src = square_clip(tmp_path / "film.mp4", frames=6)
    point = Hints((HintPoint(X0 + 15, Y0 + 15, (80.0, 67.0), 6),))
    res = colorize_video(src, tmp_path / "o.mp4", tight, hints=VideoHints({0: point, 3: Hints(), 6: point, 9: point}))
    assert "with hints on 1 keyframe(s)" in res.notes  # not 2: an empty keyframe only ends the hints (a reviewer's test)
    assert "hints keyframes 6, 9 past the last frame (5): not applied" in res.notes


def test_a_keyframe_past_an_mkv_s_estimated_length_is_taken_where_the_film_has_it(tmp_path, tight):
    """An MKV counts no frames: its length was estimated as duration x its declared rate, so a variable-rate
    film declared at 10 fps (10 frames at 10 fps, then 30 at 30 fps: 40 frames, estimated 20) had a keyframe
    on frame 30 refused as 'beyond the end' (a film restorer's find). Only a container's own count refuses."""
    import fractions

    pts = [i * 100 for i in range(10)] + [1000 + i * 33 for i in range(30)]
    src = write_video(tmp_path / "vfr.mkv", w=96, h=64, frames=len(pts), pts=pts, audio=None,
                      time_base=fractions.Fraction(1, 1000), rate=fractions.Fraction(10))
    hints = _hints_file(tmp_path, {"30": {"points": [_point(40, 30)]}})
    assert plan(src, tmp_path / "o.mkv", hints=hints).hints.frames[30].points  # refused before
    (res,) = vidcolor.colorize(src, tmp_path / "o.mkv", colorizer=tight, hints=hints)
    assert res.frames == 40 and "with hints on 1 keyframe(s)" in res.notes
    assert not any("past the last frame" in n for n in res.notes)


def test_the_cli_gives_the_library_result_with_video_hints(tmp_path):
    from tests.test_hints import _hint_model
    from vidcolor.models import save_checkpoint
    from vidcolor.weights import load_colorizer

    ckpt = tmp_path / "hinted.pt"
    save_checkpoint(_hint_model(), ckpt, meta={"work_size": 64})
    src = square_clip(tmp_path / "film.mp4", frames=6)
    hints = _hints_file(tmp_path, {"0": {"points": [_point(X0 + 15, Y0 + 15)]}})
    r = subprocess.run([sys.executable, "-m", "vidcolor", str(src), "-o", str(tmp_path / "cli.mp4"), "--weights", str(ckpt),
                        "--hints", str(hints), "--device", "cpu"], capture_output=True, text=True)  # as the library below
    assert r.returncode == 0, r.stderr
    col = load_colorizer(weights=ckpt, device="cpu")
    vidcolor.colorize(src, tmp_path / "lib.mp4", colorizer=col, hints=hints)
    vidcolor.colorize(src, tmp_path / "auto.mp4", colorizer=col)
    cli, lib = read_frames(tmp_path / "cli.mp4"), read_frames(tmp_path / "lib.mp4")
    assert np.array_equal(cli, lib) and not np.array_equal(lib, read_frames(tmp_path / "auto.mp4"))


def test_a_model_without_hint_inputs_takes_video_points_and_refuses_a_palette_before_any_work(tmp_path, colorizer):
    src = write_video(tmp_path / "in.mp4", w=96, h=64, frames=6, audio=None)
    hints = _hints_file(tmp_path, {"0": {"points": [_point(10, 10)], "palette": ["#2040c0"]}})
    with pytest.raises(VidcolorError, match=r"film.hints.json: model effnet_unet has no hint inputs for a palette"):
        vidcolor.colorize(src, tmp_path / "out.mp4", colorizer=colorizer, hints=hints)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["film.hints.json", "in.mp4"]
    hints = _hints_file(tmp_path, {"0": {"points": [_point(10, 10)]}})  # points: spread with L as the guide
    assert vidcolor.colorize(src, tmp_path / "out.mp4", colorizer=colorizer, hints=hints)[0].status == "done"


def test_video_hints_are_in_the_journal_key(tmp_path, hinted):
    src = square_clip(tmp_path / "film.mp4", frames=6)
    hints = _hints_file(tmp_path, {"0": {"points": [_point(X0 + 15, Y0 + 15)]}})
    dst = tmp_path / "out" / "film.mp4"
    assert vidcolor.colorize(src, dst, colorizer=hinted, hints=hints)[0].status == "done"
    assert vidcolor.colorize(src, dst, colorizer=hinted, hints=hints)[0].status == "skipped"
    hints.write_text(json.dumps({"frames": {"0": {"points": [_point(X0 + 15, Y0 + 15, color="#2040c0")]}}}))
    assert vidcolor.colorize(src, dst, colorizer=hinted, hints=hints)[0].status == "done"  # edited: redone
    assert vidcolor.colorize(src, dst, colorizer=hinted)[0].status == "done"  # without hints: another output


def test_a_resumed_run_with_hints_gives_the_frames_of_an_unbroken_one(tmp_path, hinted, encoder_fails_at):
    """The tracker's state (carried points, last L) is saved with each segment: a run killed after a
    segment boundary goes on carrying the hint exactly where the unbroken run has it."""
    src = square_clip(tmp_path / "film.mp4", frames=12)
    hints = _hints_file(tmp_path, {"1": {"points": [_point(X0 + SPEED + 15, Y0 + 15)]}})
    # segments of 6 frames (5, made a whole number of `flow`'s network stride of 2): the kill lands mid-shot
    opts = VideoOptions(segment_seconds=0.2, batch_size=2)
    vidcolor.colorize(src, tmp_path / "whole" / "out.mp4", colorizer=hinted, hints=hints, video=opts)

    restore = encoder_fails_at(8, KeyboardInterrupt())  # as Ctrl-C would
    out = tmp_path / "resumed" / "out.mp4"
    with pytest.raises(KeyboardInterrupt):
        vidcolor.colorize(src, out, colorizer=hinted, hints=hints, video=opts)
    restore()
    res = vidcolor.colorize(src, out, colorizer=hinted, hints=hints, video=opts)[0]
    assert res.frames_resumed == 6
    a, b = read_frames(out), read_frames(tmp_path / "whole" / "out.mp4")
    assert np.array_equal(a, b)
    assert _a_star(a[-1], X0 + SPEED * 11 + 15, Y0 + 15) > 20  # the hint did reach the last frame


def test_video_hints_with_ray_are_refused_before_the_model_loads(tmp_path, weights_file, monkeypatch):
    from vidcolor.cluster.runtime import RayOptions

    # (a real weights file: colorize() now refuses a missing one before anything else)
    monkeypatch.setattr("vidcolor.api._load", lambda **kw: pytest.fail("the model was loaded"))
    src = write_video(tmp_path / "in.mp4", w=96, h=64, frames=4, audio=None)
    hints = _hints_file(tmp_path, {"0": {"points": [_point(10, 10)]}})
    with pytest.raises(UsageError, match="video hints are not supported with --ray"):
        vidcolor.colorize(src, tmp_path / "out.mp4", weights=weights_file, hints=hints, ray=RayOptions())
    assert not (tmp_path / "out.mp4").exists()


def test_a_hint_point_the_motion_loses_is_said_to_be_lost(tmp_path, tight):
    """A new user's hint on the sky of a grainy 1952 film faded after 8 frames, and nothing said that the
    tracked point had been dropped. Here the hinted square vanishes at frame 6 (no cut: the rest of the
    picture stays): its point is dropped there, and the result says so."""
    rng = np.random.default_rng(0)
    bg, sq = _texture(rng, (96, 128), 25, 100), _texture(rng, (SQUARE, SQUARE), 150, 80)
    frames = []
    for t in range(12):
        g = bg.copy()
        if t < 6:
            x = X0 + SPEED * t
            g[Y0:Y0 + SQUARE, x:x + SQUARE] = sq
        frames.append(np.repeat(g.round().astype(np.uint8)[..., None], 3, axis=2))
    src = write_frames(tmp_path / "film.mp4", frames)
    hints = _hints_file(tmp_path, {"2": {"points": [_point(X0 + 2 * SPEED + 15, Y0 + 15)]}})
    res = vidcolor.colorize(src, tmp_path / "out.mp4", colorizer=tight, hints=hints)
    assert res[0].status == "done"
    lost = [n for n in res[0].notes if n.startswith("hints of keyframe 2:")]
    assert lost and "1 of 1 point lost from frame 6 on" in lost[0], res[0].notes
    kept = vidcolor.colorize(square_clip(tmp_path / "kept.mp4"), tmp_path / "kept_out.mp4", colorizer=tight, hints=hints)
    assert not any(n.startswith("hints of keyframe") for n in kept[0].notes), kept[0].notes  # followed to the end
