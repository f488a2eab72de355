"""The CPU video path decodes luma planes and writes yuv420p with the source's luma kept bit for bit
(`VideoSource.frames(luma=True)`, `Colorizer.render_yuv420`), and the `flow` smoother lets the network
skip frames between its stride (`network_frames`)."""
import av
import numpy as np
import pytest
import torch

from tests.media import write_video
from vidcolor.color import luma8_to_l, rgb8_to_l
from vidcolor.colorizer import Colorizer
from vidcolor.io.base import Frame
from vidcolor.io.video import VideoSource, luma_plane
from vidcolor.io.yuv import video_frame
from vidcolor.pipeline import batched, colorize_frames, luma_path, network_frames, stride_batches
from vidcolor.temporal import FlowSmoother, SceneCuts, make_smoother


def test_luma_to_l_is_the_l_of_the_gray_it_stands_for():
    y = np.arange(256, dtype=np.uint8).reshape(1, 16, 16)
    l = luma8_to_l(y)
    assert float(l[0, 0].flatten()[16]) == 0.0 and float(l[0, 0].flatten()[235]) == pytest.approx(100.0, abs=1e-4)
    assert float(l.min()) == 0.0 and float(l.max()) == pytest.approx(100.0, abs=1e-4)  # foot- and headroom clip
    # the RGB a decoder makes of that gray (rounded to 8 bits) has the same L* within that rounding
    gray = np.clip(np.round((np.arange(256) - 16) * 255 / 219), 0, 255).astype(np.uint8).reshape(1, 16, 16)
    from_rgb = rgb8_to_l(torch.from_numpy(np.repeat(gray[..., None], 3, axis=-1)))
    assert float((l - from_rgb).abs().max()) < 0.3


@pytest.mark.parametrize("pix_fmt", ["yuv420p", "yuv444p"])
def test_luma_plane_is_the_stored_plane(tmp_path, pix_fmt):
    clip = write_video(tmp_path / "c.mp4", w=96, h=64, frames=3, audio=None, pix_fmt=pix_fmt)
    with av.open(str(clip)) as c:
        for frame in c.decode(video=0):
            assert frame.format.name == pix_fmt
            y = luma_plane(frame)
            assert y.shape == (64, 96) and y.flags["C_CONTIGUOUS"]
            assert np.array_equal(y, frame.to_ndarray(format="yuv420p")[:64])


def test_luma_plane_of_other_formats_is_converted_to_limited_range():
    rgb = np.zeros((32, 48, 3), np.uint8)
    rgb[:, 24:] = 255
    y = luma_plane(av.VideoFrame.from_ndarray(rgb, format="rgb24"))
    assert y.shape == (32, 48) and y[0, 0] == 16 and y[0, -1] == 235
    full = av.VideoFrame.from_ndarray(np.full((32 * 3 // 2, 48), 255, np.uint8), format="yuvj420p")
    assert luma_plane(full)[0, 0] == 235  # full-range white is limited-range white


def frames_of(tmp_path, luma, n=8, **kw):
    with VideoSource(write_video(tmp_path / "clip.mp4", w=128, h=96, frames=n, audio=None, **kw)) as src:
        return list(src.frames(luma=luma))


def test_the_luma_path_keeps_the_luma_and_agrees_with_the_rgb_path(tmp_path, colorizer):
    """Gray source: the packed frames hold its luma exactly, and chroma within a level or two of what
    rendering RGB and converting it gives."""
    luma, rgb = frames_of(tmp_path, True, gray=True), frames_of(tmp_path, False, gray=True)
    assert luma[0].rgb is None and luma[0].luma.shape == (96, 128)
    assert float((luma8_to_l(np.stack([f.luma for f in luma])) - rgb8_to_l(torch.from_numpy(np.stack([f.rgb for f in rgb])))).abs().max()) < 0.5
    col = Colorizer(colorizer.model, work_size=64)
    col.strength = 3.0  # an untrained network is nearly gray: make the chroma visible

    def run(frames):
        smoother, cuts = make_smoother("flow"), SceneCuts(25.0)
        return np.concatenate([colorize_frames(col, b, smoother, cuts) for b in batched(frames, 3)])

    packed, frames_rgb = run(luma), run(rgb)
    assert packed.shape == (8, 96 * 3 // 2, 128) and packed.dtype == np.uint8
    n = 96 * 128
    for p, f, r in zip(packed, luma, frames_rgb):
        assert np.array_equal(p[:96], f.luma)
        ref = video_frame(r, "yuv420p").to_ndarray()
        chroma, ref_chroma = p.reshape(-1)[n:].astype(int), ref.reshape(-1)[n:].astype(int)
        assert np.abs(chroma - 128).max() > 3  # there is colour to compare
        assert np.abs(chroma - ref_chroma).mean() < 1.5


def test_luma_path_is_for_the_cpu_and_even_yuv420p(colorizer):
    class Info:
        width, height = 128, 96

    odd = Info()
    odd.width = 127
    assert luma_path(colorizer, "yuv420p", Info())
    assert not luma_path(colorizer, "yuv444p", Info()) and not luma_path(colorizer, "yuv420p", odd)


def test_the_cli_keeps_a_colour_sources_luma(tmp_path, weights_file):
    """A colour source's luma planes come through the CLI as they were (x264 at CRF 0 is lossless), where
    the RGB round trip moved them by the colour it changed."""
    from typer.testing import CliRunner

    from vidcolor.cli import app

    src = write_video(tmp_path / "in.mp4", w=128, h=96, frames=6, audio=None)
    out = tmp_path / "out.mp4"
    res = CliRunner().invoke(app, ["colorize", str(src), "-o", str(out), "--weights", str(weights_file), "--crf", "0", "--device", "cpu"])
    assert res.exit_code == 0, res.output
    with av.open(str(src)) as a, av.open(str(out)) as b:
        for fa, fb in zip(a.decode(video=0), b.decode(video=0)):
            assert np.array_equal(luma_plane(fa), luma_plane(fb))


class Recorder(FlowSmoother):
    def __init__(self, **kw):
        super().__init__(**kw)
        self.given = []  # per frame: "p" its own prediction, "f" carried and filled from the next, "c" carried only

    def __call__(self, l_guide, ab_small, next_l=None, next_ab=None):
        self.given.append("p" if ab_small is not None else "f" if next_ab is not None else "c")
        return super().__call__(l_guide, ab_small, next_l, next_ab)


def fake_frames(indices):
    return [Frame(None, i, i, luma=np.zeros((4, 4), np.uint8)) for i in indices]


def test_network_frames_follow_the_stride_within_the_batch():
    s = FlowSmoother(network_stride=2)
    # a fresh smoother (a run's start, or a Ray range's) runs its first frame
    assert network_frames(s, fake_frames(range(0, 4)), [False] * 4, False) == [0, 1, 3]
    s.prev_l = np.zeros((4, 4), np.uint8)  # carries colour now: odd frames by index, and the batch's last
    assert network_frames(s, fake_frames(range(4, 8)), [False] * 4, False) == [1, 3]
    assert network_frames(s, fake_frames(range(5, 10)), [False] * 5, False) == [0, 2, 4]  # a Ray range's first batch
    assert network_frames(s, fake_frames(range(4, 7)), [False] * 3, False) == [1, 2]  # a segment's or the video's end
    # a cut runs, and so does the frame before it (it has no successor to fill it from)
    assert network_frames(s, fake_frames(range(4, 8)), [False, False, True, False], False) == [1, 2, 3]
    assert network_frames(s, fake_frames(range(4, 8)), [False, False, False, True], False) == [1, 2, 3]
    assert network_frames(s, fake_frames(range(5, 9)), [False] * 4, True) == [0, 1, 2, 3]  # hints: every frame
    assert network_frames(FlowSmoother(network_stride=1), fake_frames(range(4)), [False] * 4, False) == [0, 1, 2, 3]
    assert network_frames(make_smoother("ema"), fake_frames(range(5, 9)), [False] * 4, False) == [0, 1, 2, 3]
    assert make_smoother("flow").network_stride == 2  # the default
    assert make_smoother("flow", device="cpu").network_stride == 2
    assert make_smoother("flow", 0.9, device="cuda").network_stride == 1  # on a GPU the network runs on every frame
    assert make_smoother("flow", 0.9, device="cuda").strength == 0.9
    assert make_smoother("ema", 0.5, device="cuda").strength == 0.5
    with pytest.raises(ValueError, match="stride"):
        FlowSmoother(network_stride=0)


def test_a_skipped_frame_carries_the_previous_colour_without_averaging():
    s = FlowSmoother()
    l = torch.rand(1, 1, 32, 32) * 100
    with pytest.raises(ValueError, match="previous"):
        s(l, None)
    first = s(l, torch.full((1, 2, 8, 8), 10.0))
    count = s.count.copy()
    carried = s(l, None)  # a still picture: the warp is the identity
    assert torch.allclose(carried, first, atol=1e-3)
    assert np.all(s.count <= count + 1e-6)  # no new sample was counted
    s(l, torch.full((1, 2, 8, 8), 30.0))
    assert float(s.prev_ab.mean()) == pytest.approx((30 + 1 * 10) / 2, abs=0.5)  # one earlier sample, not two


def test_a_skipped_frame_takes_what_the_previous_did_not_show_from_the_next_prediction():
    """The fill: where the carried colour is not trusted (here a patch that changed brightness, as new
    content does) the next frame's prediction, carried back, is what the frame gets; where it is trusted
    the next prediction is averaged in as the frame's own would be. The flows it computed for the next
    frame are the ones that frame uses."""
    torch.manual_seed(0)
    l0 = torch.rand(1, 1, 32, 32) * 40 + 30
    l1 = l0.clone()
    l1[..., 8:24, 8:24] = 95.0  # new content in the middle (a bright patch the previous frame did not have)
    s = FlowSmoother()
    s(l0, torch.full((1, 2, 8, 8), 10.0))
    out = s(l1, None, l1, torch.full((1, 2, 8, 8), 50.0))[0, 0].numpy()
    assert out[3:5, 3:5].mean() == pytest.approx(50.0, abs=2.0)  # inside the patch: the next prediction
    assert out[0, 0] == pytest.approx(30.0, abs=3.0)  # outside: one earlier sample and the next, evenly
    assert s.count.max() <= 1.0 + 1e-6 and float(s.prev_ab[0, 0, 0]) == pytest.approx(10.0, abs=1.0)  # only shown:
    # the state carried on is the carried colour, so the next frame averages its prediction in once
    calls = []
    real = s.dis
    s.dis = lambda a, b: calls.append(1) or real(a, b)
    s(l1, torch.full((1, 2, 8, 8), 50.0))
    assert calls == []  # the fill's flows were kept for this frame
    plain = FlowSmoother()
    plain(l0, torch.full((1, 2, 8, 8), 10.0))
    assert plain(l1, None)[0, 0, 3:5, 3:5].mean() < 40  # without the fill the patch keeps the old colour


def test_a_stride_of_2_runs_the_network_on_every_other_frame(tmp_path, colorizer, monkeypatch):
    frames = frames_of(tmp_path, True, n=10)
    col = Colorizer(colorizer.model, work_size=64)
    seen = []
    real = col.predict_ab_small
    monkeypatch.setattr(col, "predict_ab_small", lambda l, **kw: seen.append(l.shape[0]) or real(l, **kw))
    smoother = Recorder()  # the default `flow`: stride 2
    out = np.concatenate([colorize_frames(col, b, smoother, SceneCuts(25.0)) for b in batched(frames, 4)])
    assert out.shape[0] == 10
    assert "".join(smoother.given) == "ppfp" "fpfp" "fp" and sum(seen) == 6
    assert [len(b) for b in stride_batches(frames, 4, 2)] == [4, 4, 2]
    assert [[f.index for f in b] for b in stride_batches(frames[3:], 4, 2)] == [[3, 4, 5, 6, 7], [8, 9]]  # ends on odd frames
    seen.clear()
    every = Recorder(network_stride=1)
    for b in batched(frames, 4):
        colorize_frames(col, b, every, SceneCuts(25.0))
    assert every.given == ["p"] * 10 and sum(seen) == 10


def ramp_frame(fmt: str, color_range: int) -> av.VideoFrame:
    f = av.VideoFrame(64, 32, fmt)
    f.planes[0].update(np.tile(np.arange(64, dtype=np.uint8) * 4, (32, 1)).tobytes())
    for p in f.planes[1:]:
        p.update(np.full(p.buffer_size, 128, np.uint8).tobytes())
    f.color_range = color_range
    return f


@pytest.mark.parametrize("fmt", ["yuvj420p", "yuv420p"])
def test_a_full_range_frame_is_brought_to_limited_range(fmt):
    """A review found MJPEG and full-range H.264/HEVC/VP9 sources taken as limited range (PyAV's
    `reformat` keeps the range): shadows crushed, highlights clipped, colours shifted."""
    y = luma_plane(ramp_frame(fmt, 2))  # 2: full range (AVCOL_RANGE_JPEG)
    full = np.arange(64) * 4
    assert np.abs(y[0].astype(int) - np.round(16 + full * 219 / 255)).max() <= 1
    assert np.array_equal(luma_plane(ramp_frame("yuv420p", 1))[0], full)  # limited range: the plane as stored


def test_a_full_range_source_keeps_its_tones_through_the_cli(tmp_path, weights_file):
    from typer.testing import CliRunner

    from vidcolor.cli import app

    src = write_video(tmp_path / "in.avi", w=128, h=96, frames=4, audio=None, codec="mjpeg", gray=True, pix_fmt="yuvj420p")
    with av.open(str(src)) as c:
        first = next(c.decode(video=0))
        assert first.format.name == "yuvj420p"
        gray = first.to_ndarray(format="gray").astype(float)  # full-range levels 0-255
    out = tmp_path / "out.mp4"
    res = CliRunner().invoke(app, ["colorize", str(src), "-o", str(out), "--weights", str(weights_file), "--crf", "0", "--device", "cpu"])
    assert res.exit_code == 0, res.output
    with av.open(str(out)) as c:
        y = luma_plane(next(c.decode(video=0))).astype(float)
    assert np.abs(y - (16 + gray * 219 / 255)).mean() < 1.0


def test_segments_rendered_another_way_are_not_spliced_in(tmp_path, colorizer, encoder_fails_at, monkeypatch):
    """A review resumed an older version's interrupted run (RGB path) with the luma path: frames 0-86 came
    from the one, the rest from the other, with a step in brightness. The render is part of the segments' key."""
    import vidcolor.pipeline as pipeline
    from vidcolor.options import VideoOptions

    src = write_video(tmp_path / "in.mp4", w=64, h=48, frames=30, audio=None, gray=True)
    opts = VideoOptions(segment_seconds=0.4, batch_size=2, crf=0)  # segments of 10 frames, lossless
    out = tmp_path / "out" / "out.mp4"
    monkeypatch.setattr(pipeline, "luma_path", lambda *a: False)  # as a GPU or an older version renders
    restore = encoder_fails_at(25, KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        pipeline.colorize_video(src, out, colorizer, opts)
    restore()
    monkeypatch.undo()
    res = pipeline.colorize_video(src, out, colorizer, opts)
    assert res.frames == 30 and res.frames_resumed == 0 and not any("resumed" in n for n in res.notes)
    with av.open(str(src)) as a, av.open(str(out)) as b:  # every frame from the luma path: the luma as decoded
        for fa, fb in zip(a.decode(video=0), b.decode(video=0)):
            assert np.array_equal(luma_plane(fa), luma_plane(fb))


def write_ts(path, frames, start, gop=None):
    with av.open(str(path), "w", format="mpegts") as oc:
        s = oc.add_stream("libx264", rate=25)
        s.height, s.width = frames[0].shape[:2]
        s.pix_fmt = "yuv420p"
        if gop:
            s.codec_context.gop_size = gop
        for i, rgb in enumerate(frames):
            f = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            f.pts = start + i
            for p in s.encode(f):
                oc.mux(p)
        for p in s.encode():
            oc.mux(p)


def test_a_frame_size_change_mid_stream_is_scaled_with_a_note(tmp_path, colorizer):
    """A broadcast capture whose size changes mid-stream (two MPEG-TS pieces, as a review made) failed
    with scenedetect's bare AssertionError; its later frames are now scaled to the stream's size, as
    FFmpeg's tools do, and the run says so."""
    from tests.media import frame_pattern
    from vidcolor.options import VideoOptions
    from vidcolor.pipeline import colorize_video

    write_ts(tmp_path / "a.ts", [frame_pattern(i, 96, 64) for i in range(10)], 0)
    write_ts(tmp_path / "b.ts", [frame_pattern(i, 64, 48) for i in range(10, 20)], 10)
    src = tmp_path / "changes.ts"
    src.write_bytes((tmp_path / "a.ts").read_bytes() + (tmp_path / "b.ts").read_bytes())
    res = colorize_video(src, tmp_path / "out.mp4", colorizer, VideoOptions())
    assert res.status == "done" and res.frames == 20
    assert any("frame size changes at frame 10 (to 64x48)" in n and "96x64" in n for n in res.notes), res.notes
    with av.open(str(tmp_path / "out.mp4")) as c:
        sizes = {(f.width, f.height) for f in c.decode(video=0)}
    assert sizes == {(96, 64)}


def test_a_resumed_mpeg_ts_loses_no_frames(tmp_path, colorizer, encoder_fails_at):
    """A review resumed an MPEG-TS run and got 145 of 150 frames with no word: the seek to the keyframe
    before the resume point landed after it (TS seeks are by byte position), and the frames between
    were skipped. Such a resume now decodes from the start, counting frames."""
    from tests.media import frame_pattern
    from vidcolor.options import VideoOptions
    from vidcolor.pipeline import colorize_video

    src = tmp_path / "in.ts"
    write_ts(src, [frame_pattern(i, 96, 64) for i in range(60)], 0, gop=10)
    opts = VideoOptions(segment_seconds=0.4, batch_size=2, crf=0)  # segments of 10 frames
    ref = colorize_video(src, tmp_path / "ref" / "out.mp4", colorizer, opts)
    restore = encoder_fails_at(35, KeyboardInterrupt())
    out = tmp_path / "out" / "out.mp4"
    with pytest.raises(KeyboardInterrupt):
        colorize_video(src, out, colorizer, opts)
    restore()
    res = colorize_video(src, out, colorizer, opts)
    assert res.frames == 60 and res.frames_resumed == 30, (res.frames, res.frames_resumed, res.notes)
    with av.open(str(ref.output)) as a, av.open(str(out)) as b:
        fa = [f.to_ndarray() for f in a.decode(video=0)]
        fb = [f.to_ndarray() for f in b.decode(video=0)]
    assert len(fa) == len(fb) == 60
    assert all(np.abs(x.astype(int) - y).mean() < 0.5 for x, y in zip(fa, fb))


def test_a_1_bit_frame_comes_out_in_limited_range():
    """A review's 1-bit PNG in a MOV came out with black 0 and white 255 (swscale keeps monob's range)."""
    rgb = np.zeros((8, 16, 3), np.uint8)
    rgb[:, 8:] = 255
    mono = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="monob")
    y = luma_plane(mono)
    assert (int(y[0, 0]), int(y[0, 15])) == (16, 235)


def gray_frame(fmt: str, levels: np.ndarray, color_range: int) -> av.VideoFrame:
    """A gray frame of `fmt` holding 8-bit `levels` at its own bit depth (10-bit black: 16 << 2 = 64)."""
    bits = av.VideoFormat(fmt).components[0].bits
    f = av.VideoFrame(levels.shape[1], levels.shape[0], fmt)
    dtype = np.uint8 if bits <= 8 else np.dtype(">u2" if fmt.endswith("be") else "<u2")
    stored = (levels.astype(np.uint16) << (bits - 8)).astype(dtype)
    f.planes[0].update(np.pad(stored, ((0, 0), (0, f.planes[0].line_size // stored.itemsize - levels.shape[1]))).tobytes())
    f.color_range = color_range
    return f


@pytest.mark.parametrize("fmt", ["gray", "gray10le", "gray12be", "gray16le"])
def test_a_limited_range_gray_frame_keeps_its_black_and_white(fmt):
    """A monochrome (4:0:0) HEVC or AV1 film decodes as gray marked limited range; swscale takes any gray as
    full range, so its black came out at 30 and its white at 218 (of 16-235), the RGB path's at 16 and 235
    (of 0-255): a film restorer's test. A gray frame not marked limited (PNG's, FFV1's) is full range, as before."""
    from vidcolor.io.video import rgb_picture

    levels = np.tile(np.array([16, 16, 126, 235, 235, 240], np.uint8), (4, 1))
    frame = gray_frame(fmt, levels, 1)  # 1: limited range (AVCOL_RANGE_MPEG)
    assert np.array_equal(luma_plane(frame), levels)
    assert rgb_picture(frame)[0, :, 0].tolist() == [0, 0, 128, 255, 255, 255]
    assert (rgb_picture(frame)[..., 0] == rgb_picture(frame)[..., 2]).all()
    full = gray_frame("gray", levels, 2)
    assert luma_plane(full)[0].tolist() == [30, 30, 124, 218, 218, 222] and rgb_picture(full)[0, 0, 0] == 16


def test_a_monochrome_hevc_film_keeps_its_tones(tmp_path, colorizer):
    from vidcolor.options import VideoOptions
    from vidcolor.pipeline import colorize_video

    src = tmp_path / "mono.mkv"
    ramp = np.tile(np.linspace(16, 235, 64).round().astype(np.uint8), (64, 1))  # limited-range black to white
    try:
        with av.open(str(src), "w") as c:
            v = c.add_stream("libx265", rate=25)
            v.width, v.height, v.pix_fmt = 64, 64, "gray"
            v.options = {"x265-params": "log-level=error"}
            for i in range(3):
                f = av.VideoFrame.from_ndarray(ramp, format="gray")
                f.pts, f.color_range = i, 1
                for p in v.encode(f):
                    c.mux(p)
            for p in v.encode():
                c.mux(p)
    except (av.error.FFmpegError, ValueError) as e:
        pytest.skip(f"this FFmpeg cannot write monochrome HEVC ({e})")
    with av.open(str(src)) as c:
        first = next(c.decode(video=0))
        assert (first.format.name, first.color_range) == ("gray", 1)
    for ext in ("mp4", "avi"):  # the luma path, and the RGB path (an AVI is written in BT.601 from RGB)
        out = tmp_path / f"out.{ext}"
        colorize_video(src, out, colorizer, VideoOptions(temporal="off"))
        with av.open(str(out)) as c:
            y = luma_plane(next(c.decode(video=0))).astype(int)
        assert np.abs(y - ramp).mean() < 1.5, ext
        assert y[:, 0].mean() < 24 and y[:, -1].mean() > 226, ext  # (MPEG-4's quantiser moves them a little)
