"""Flicker metrics on known inputs, and `vidcolor eval-video` on a generated colour clip."""
import json

import numpy as np
import pytest
from typer.testing import CliRunner

from tests.media import frame_pattern, write_video
from vidcolor import cli
from vidcolor.evaluate_video import evaluate_video
from vidcolor.metrics import CDC, WarpError, non_occluded


def moving_scene(t: int, h=64, w=96) -> np.ndarray:
    """A textured picture sliding right by 2 px per frame."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    g = 0.5 + 0.4 * np.sin((x - 2 * t) / 5.0) * np.cos(y / 7.0)
    return (np.stack([g, g, g], -1) * 255).astype(np.uint8)


def tint(rgb: np.ndarray, shift) -> np.ndarray:
    return np.clip(rgb.astype(int) + np.array(shift), 0, 255).astype(np.uint8)


def test_warp_error_is_zero_for_a_steady_picture_and_grows_with_flicker():
    w = WarpError()
    for t in range(6):
        ref = moving_scene(t)
        flicker = tint(ref, (30, 0, 0) if t % 2 else (0, 0, 30))
        w.update(ref, {"steady": ref, "tinted": tint(ref, (20, 0, 0)), "flicker": flicker})
    r = w.result()
    assert r["steady"] < 1e-3 and r["tinted"] < 1e-3  # motion alone, followed by the flow, costs ~nothing
    assert r["flicker"] > 20 * max(r["steady"], 1e-5)


def test_non_occluded_drops_inconsistent_flow_motion_boundaries_and_outside_sources():
    h, w = 20, 30
    zero = np.zeros((h, w, 2), np.float32)
    assert non_occluded(zero, zero).all()
    bad_back = zero.copy()
    bad_back[..., 1] = 3.0  # the backward flow does not undo the forward one
    assert not non_occluded(zero, bad_back).any()
    split = zero.copy()
    split[:, 15:, 0] = 1.0  # right half moves 1 px: a motion boundary at column 14/15
    back = -split
    m = non_occluded(split, back)
    assert not m[:, 14].any() and m[:, :13].all() and m[:, 16:-1].all()
    assert not m[:, -1].any()  # sampled at x + 1: outside the previous frame


def test_warp_error_skips_pairs_across_a_scene_cut():
    w = WarpError()
    a, b = moving_scene(0), 255 - moving_scene(5)
    w.update(a, {"x": a})
    w.update(b, {"x": b}, scene_cut=True)
    assert w.result() == {}  # the only pair straddles the cut


def test_cdc_is_zero_for_a_constant_colour_distribution_and_positive_for_flicker():
    c = CDC()
    for t in range(8):
        ref = moving_scene(0)
        c.update({"same": ref, "flicker": tint(ref, (60, 0, 0) if t % 2 else (0, 0, 60))})
    r = c.result()
    assert r["same"] < 1e-9 and r["flicker"] > 0.02


def test_evaluate_video_reports_every_mode_beside_the_ground_truth(tmp_path, colorizer):
    clip = write_video(tmp_path / "colour.mp4", w=96, h=64, frames=10, scenes=[0] * 5 + [1] * 5)
    res = evaluate_video(colorizer, clip)
    assert res["frames"] == 10 and res["size"] == [96, 64]
    assert set(res["modes"]) == {"off", "ema", "flow", "gt"}
    for m in ("off", "ema", "flow"):
        row = res["modes"][m]
        assert np.isfinite([row["warp_error"], row["cdc"], row["psnr"], row["colourfulness"]]).all() and row["fps"] > 0
    assert res["modes"]["gt"]["colourfulness"] > 0
    a = res["against_off"]["flow"]
    assert a["warp_vs_off"] == pytest.approx(res["modes"]["flow"]["warp_error"] / res["modes"]["off"]["warp_error"])
    assert a["warp_vs_gt"] == pytest.approx(res["modes"]["flow"]["warp_error"] / res["modes"]["gt"]["warp_error"])
    assert set(res["against_off"]) == {"ema", "flow"}


def test_eval_video_cli_writes_json(tmp_path, weights_file):
    clip = write_video(tmp_path / "c.mp4", w=64, h=48, frames=6)
    out = tmp_path / "ev.json"
    r = CliRunner().invoke(cli.app, ["eval-video", str(clip), "--weights", str(weights_file), "--device", "cpu", "--json", str(out)])
    assert r.exit_code == 0, r.output
    text = out.read_text()
    assert json.loads(text)[0]["frames"] == 6
    # strict JSON (jq, JavaScript): the ground truth's PSNR was written as a bare Infinity (film-user test)
    assert "Infinity" not in text and "NaN" not in text and json.loads(text)[0]["modes"]["gt"]["psnr"] is None
    one = write_video(tmp_path / "one.mp4", w=64, h=48, frames=1)
    r = CliRunner().invoke(cli.app, ["eval-video", str(one), "--weights", str(weights_file), "--device", "cpu"])
    assert r.exit_code == 1 and "one.mp4: 1 frame; flicker is measured between frames, so eval-video needs at least 2" in r.output


def test_eval_video_refuses_a_black_and_white_clip_and_measures_the_others(tmp_path, weights_file):
    """A B&W film was scored against itself ("1.76x ground truth", exit 0), where eval refuses a gray
    ground truth; and one clip that failed stopped the measuring of the rest (a new user's test)."""
    bw = write_video(tmp_path / "bw.mp4", w=64, h=48, frames=4, gray=True, audio=None)
    colour = write_video(tmp_path / "c.mp4", w=64, h=48, frames=4, audio=None)
    out = tmp_path / "ev.json"
    r = CliRunner().invoke(cli.app, ["eval-video", str(bw), str(colour), "--weights", str(weights_file), "--device", "cpu",
                                     "--json", str(out)])
    assert r.exit_code == 1, r.output
    assert "bw.mp4: black and white: no colours to score against" in r.output
    assert [row["clip"] for row in json.loads(out.read_text())] == [str(colour)]


def test_eval_video_refuses_a_black_and_white_clip_before_the_model_loads(tmp_path, weights_file, colorizer, monkeypatch):
    """A B&W clip was colorized in all three modes before it was refused: 65 s for the 100-frame example
    clip on the CPU, just to say "black and white" (a new user's test). It is now found by decoding alone:
    the command never loads the model for it, and the library colorizes none of its frames."""
    import vidcolor.evaluate_video as ev
    from vidcolor.errors import InputError

    bw = write_video(tmp_path / "bw.mp4", w=64, h=48, frames=6, gray=True, audio=None)
    monkeypatch.setattr(cli, "_load", lambda *a, **k: pytest.fail("the model was loaded for a black-and-white clip"))
    r = CliRunner().invoke(cli.app, ["eval-video", str(bw), "--weights", str(weights_file), "--device", "cpu"])
    assert r.exit_code == 1, r.output
    assert "bw.mp4: black and white: no colours to score against" in r.output
    r = CliRunner().invoke(cli.app, ["eval-video", str(bw), "--max-frames", "3", "--weights", str(weights_file)])
    assert r.exit_code == 1 and "bw.mp4: its first 3 frames (--max-frames) hold no colour" in r.output, r.output
    monkeypatch.setattr(ev, "colorize_frames", lambda *a, **k: pytest.fail("a black-and-white clip was colorized"))
    with pytest.raises(InputError, match="black and white"):
        evaluate_video(colorizer, bw)


def test_eval_video_times_no_mode_with_the_networks_first_call(tmp_path, colorizer, monkeypatch):
    """`off`, timed first, took the network's first call at the clip's shape: fps_vs_off read 2.1x for a
    clip's first copy and 1.2x for its second in one command (a new user's test). An untimed call comes
    first, and each batch starts at another mode."""
    import vidcolor.evaluate_video as ev

    calls = []
    real = ev.colorize_frames
    monkeypatch.setattr(ev, "colorize_frames", lambda col, frames, smoother, cuts, **kw: calls.append(type(smoother).__name__ if cuts is not None else "warm-up") or real(col, frames, smoother, cuts, **kw))
    clip = write_video(tmp_path / "c.mp4", w=64, h=48, frames=12, audio=None)
    evaluate_video(colorizer, clip)
    assert calls[0] == "warm-up" and calls.count("warm-up") == 1
    firsts = [calls[i] for i in range(1, len(calls), 3)]  # the first mode timed in each batch
    assert len(set(firsts)) > 1, calls


def test_evaluate_video_takes_named_smoother_factories(tmp_path, colorizer):
    from vidcolor.temporal import FlowSmoother, make_smoother

    clip = write_video(tmp_path / "colour.mp4", w=96, h=64, frames=6)
    res = evaluate_video(colorizer, clip, smoothers={"off": lambda: make_smoother("off"), "nofb": lambda: FlowSmoother(0.9, fb_tolerance=float("inf"))})
    assert set(res["modes"]) == {"off", "nofb", "gt"} and set(res["against_off"]) == {"nofb"}


def test_evaluate_video_leaves_exactly_reproduced_black_frames_out_of_psnr(tmp_path, colorizer):
    """Megamind's black frames came out exactly as the truth: one infinite frame made every mode's PSNR inf
    and its change against `off` nan (measured 2026-11-28). They are left out of every mode's mean, and counted."""
    import av

    clip = tmp_path / "fade.mp4"
    with av.open(str(clip), "w") as c:
        v = c.add_stream("libx264", rate=25)
        v.width, v.height, v.pix_fmt, v.options = 96, 64, "yuv420p", {"qp": "0"}  # lossless: black decodes to 0, 0, 0
        for i in range(10):
            rgb = frame_pattern(i, 96, 64) if i < 6 else np.zeros((64, 96, 3), np.uint8)  # a cut to black
            c.mux(v.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        c.mux(v.encode())
    res = evaluate_video(colorizer.with_strength(0.0), clip)  # no colour: the black frames come out exactly as the truth
    assert res["exact_frames"] == 4
    for m in ("off", "ema", "flow"):
        assert np.isfinite(res["modes"][m]["psnr"])
    assert np.isfinite(res["against_off"]["flow"]["psnr_change_db"])
