import fractions

import numpy as np
import pytest

from tests.media import probe, write_video
from vidcolor.color import rgb_to_l
from vidcolor.pipeline import VideoOptions, colorize_video

import torch


def run(tmp_path, src, colorizer, name="out.mp4", **opts):
    dst = tmp_path / name
    res = colorize_video(src, dst, colorizer, VideoOptions(**opts))
    assert res.status == "done"
    return res, probe(src), probe(dst)


def test_frames_size_pts_and_audio_survive_the_round_trip(tmp_path, colorizer):
    src = write_video(tmp_path / "in.mp4", w=96, h=64, frames=30, audio="aac")
    res, a, b = run(tmp_path, src, colorizer)
    assert res.frames == b["frames"] == a["frames"] == 30
    assert (b["width"], b["height"]) == (96, 64)
    assert b["pts_s"] == pytest.approx(a["pts_s"], abs=1e-6)
    assert b["others"] == [("audio", "aac")]
    assert b["audio_s"] == pytest.approx(a["audio_s"], abs=0.03)
    assert abs(b["duration_s"] - a["duration_s"]) <= 1 / 25


def test_audio_stream_is_copied_not_reencoded(tmp_path, colorizer):
    import av

    src = write_video(tmp_path / "in.mkv", frames=10, audio="mp3")
    run(tmp_path, src, colorizer, name="out.mkv")
    with av.open(str(src)) as c:
        before = [bytes(p) for p in c.demux(c.streams.audio[0]) if p.size]
    with av.open(str(tmp_path / "out.mkv")) as c:
        after = [bytes(p) for p in c.demux(c.streams.audio[0]) if p.size]
    assert before == after


def test_luminance_is_kept_from_the_input(tmp_path, colorizer):
    """A black-and-white source keeps its L*. (A colour source keeps its luma plane, which is its L*
    only where it is gray: tests/test_luma_path.py.)"""
    src = write_video(tmp_path / "in.mp4", w=128, h=96, frames=4, audio=None, gray=True)
    _, a, b = run(tmp_path, src, colorizer)
    l_in = rgb_to_l(torch.from_numpy(a["first_rgb"]).permute(2, 0, 1)[None].float() / 255)
    l_out = rgb_to_l(torch.from_numpy(b["first_rgb"]).permute(2, 0, 1)[None].float() / 255)
    # x264 at CRF 18 and 4:2:0 chroma cost a little; the network's ab must not move L.
    assert float((l_in - l_out).abs().mean()) < 1.5


def test_odd_frame_size_is_kept(tmp_path, colorizer):
    src = write_video(tmp_path / "odd.mp4", w=75, h=51, frames=6, audio=None)
    res, a, b = run(tmp_path, src, colorizer)
    assert (b["width"], b["height"], b["frames"]) == (75, 51, 6)
    assert any("yuv444p" in n for n in res.notes)


def test_ntsc_rate_is_not_rounded(tmp_path, colorizer):
    src = write_video(tmp_path / "ntsc.mp4", frames=10, rate=fractions.Fraction(30000, 1001), audio=None)
    _, a, b = run(tmp_path, src, colorizer)
    assert b["rate"] == fractions.Fraction(30000, 1001)
    assert b["pts_s"] == pytest.approx(a["pts_s"], abs=1e-6)


def test_variable_frame_rate_timestamps_are_carried_over(tmp_path, colorizer):
    pts = [0, 1, 2, 5, 6, 10, 11, 12, 20, 21]  # irregular gaps, in 1/30 s
    src = write_video(tmp_path / "vfr.mkv", frames=len(pts), pts=pts, time_base=fractions.Fraction(1, 30), audio=None)
    _, a, b = run(tmp_path, src, colorizer, name="vfr_out.mkv")
    assert a["pts_s"] == pytest.approx([p / 30 for p in pts], abs=2e-3)
    assert b["pts_s"] == pytest.approx(a["pts_s"], abs=2e-3)


def test_rotation_metadata_is_kept(tmp_path, colorizer):
    src = write_video(tmp_path / "rot.mp4", frames=5, rotation=90, audio=None)
    _, a, b = run(tmp_path, src, colorizer)
    assert a["rotation"] == b["rotation"] == 90
    assert (b["width"], b["height"]) == (a["width"], a["height"])


def test_an_avi_says_it_drops_the_rotation(tmp_path, colorizer):
    """A new user's phone clip written to AVI (which holds no display rotation) played sideways, without a note."""
    src = write_video(tmp_path / "rot.mp4", frames=3, rotation=90, audio=None)
    res = colorize_video(src, tmp_path / "out.avi", colorizer, VideoOptions(temporal="off"))
    assert any("AVI holds no display rotation" in n and "turned 90 degrees" in n for n in res.notes), res.notes


def _display_matrix(path):
    import av

    with av.open(str(path)) as c:
        frame = next(c.decode(video=0))
        return [list(np.frombuffer(bytes(sd), dtype=np.int32)) for sd in frame.side_data if sd.type.name == "DISPLAYMATRIX"]


@pytest.mark.parametrize("ext", [".mp4", ".mkv"])
def test_a_mirrored_video_stays_mirrored(tmp_path, colorizer, ext):
    """A new user's horizontally flipped clip (display matrix [-1 0; 0 1]) came out turned 180 degrees:
    the rotation angle read back is 180, and only that was written."""
    import av

    from vidcolor.errors import InputError
    from vidcolor.video_hints import probe_display

    src = tmp_path / "hflip.mp4"
    with av.open(str(src), "w") as c:
        v = c.add_stream("libx264", rate=25)
        v.width, v.height, v.pix_fmt = 64, 48, "yuv420p"
        v.set_display_rotation(0, hflip=True)
        for i in range(5):
            f = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 40 * i, np.uint8), format="rgb24")
            f.pts = i
            c.mux(v.encode(f))
        c.mux(v.encode())
    want = _display_matrix(src)
    assert want and want[0][0] < 0 and want[0][4] > 0  # mirrored, not turned
    out = tmp_path / f"out{ext}"
    colorize_video(src, out, colorizer)
    assert _display_matrix(out) == want
    with pytest.raises(InputError, match="mirrored"):  # hints are in displayed pixels, mapped for rotations only
        probe_display(src)


def test_an_interlaced_source_is_said_to_be_written_progressive(tmp_path, colorizer):
    """A new user's interlaced MPEG-2 and x264 sources came out progressive, without a note."""
    import av

    src = tmp_path / "il.mkv"
    with av.open(str(src), "w") as c:
        v = c.add_stream("libx264", rate=25)
        v.width, v.height, v.pix_fmt, v.options = 64, 48, "yuv420p", {"x264-params": "interlaced=1"}
        for i in range(4):
            f = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 40 * i, np.uint8), format="rgb24")
            f.pts = i
            c.mux(v.encode(f))
        c.mux(v.encode())
    res = colorize_video(src, tmp_path / "o.mkv", colorizer)
    assert any("the source is interlaced" in n for n in res.notes), res.notes
    plain = colorize_video(write_video(tmp_path / "p.mp4", frames=3, audio=None), tmp_path / "p_out.mp4", colorizer)
    assert not any("interlaced" in n for n in plain.notes)


def test_subtitles_are_copied(tmp_path, colorizer):
    import av

    src = write_video(tmp_path / "sub.mkv", frames=20, audio=None, subtitles=[(100, "Hello"), (500, "World")])
    run(tmp_path, src, colorizer, name="sub_out.mkv")
    with av.open(str(tmp_path / "sub_out.mkv")) as c:
        texts = [bytes(p) for p in c.demux(c.streams.subtitles[0]) if p.size]
    assert texts == [b"Hello", b"World"]


def test_subtitles_are_reframed_for_mp4_and_the_note_says_so(tmp_path, colorizer):
    import av

    src = write_video(tmp_path / "sub.mkv", frames=20, audio=None, subtitles=[(100, "Hello")])
    res, _, b = run(tmp_path, src, colorizer, name="sub_out.mp4")
    assert ("subtitle", "mov_text") in b["others"]
    assert any("converted to mov_text" in n for n in res.notes)
    with av.open(str(tmp_path / "sub_out.mp4")) as c:
        payloads = [bytes(p) for p in c.demux(c.streams.subtitles[0]) if p.size > 2]
    assert payloads == [b"\x00\x05Hello"]


def test_audio_the_container_cannot_hold_is_transcoded_to_aac(tmp_path, colorizer):
    src = write_video(tmp_path / "in.mov", frames=10, audio="pcm_mulaw")
    res, a, b = run(tmp_path, src, colorizer, name="out.mp4")
    assert b["others"] == [("audio", "aac")]
    assert any("transcoded to AAC" in n for n in res.notes)


def test_mpeg4_avi_input_to_mp4(tmp_path, colorizer):
    src = write_video(tmp_path / "in.avi", frames=8, codec="mpeg4", audio="mp3")
    _, a, b = run(tmp_path, src, colorizer)
    assert b["frames"] == a["frames"] == 8
    assert [(t, n[:3]) for t, n in b["others"]] == [("audio", "mp3")]


@pytest.mark.parametrize("temporal", ["off", "ema", "flow"])
def test_temporal_modes_give_every_frame(tmp_path, colorizer, temporal):
    src = write_video(tmp_path / "in.mp4", frames=9, audio=None)
    _, a, b = run(tmp_path, src, colorizer, temporal=temporal, batch_size=4)
    assert b["frames"] == 9


def test_a_clip_holding_every_frame_its_header_counts_is_not_said_to_end_early(tmp_path, monkeypatch):
    """A clip with broken timestamps (its header's duration far shorter than its frames' span) was told
    "the source ends early: 60 of 60 frames"."""
    from vidcolor.io.video import VideoSource

    src = write_video(tmp_path / "a.mp4", frames=6, audio=None)
    with VideoSource(src) as s:
        n = sum(1 for _ in s.frames())
        monkeypatch.setattr(s, "header_length", lambda: (n, 0.001))
        s._decoded_end = 0.0001
        assert s.ends_early(n) is None
        monkeypatch.setattr(s, "header_length", lambda: (n + 30, None))
        assert "the source ends early" in s.ends_early(n)


@pytest.mark.parametrize("rotation", [90, 270])
def test_a_rotated_video_is_colorized_upright(tmp_path, colorizer, rotation, monkeypatch):
    """A phone's portrait clip is stored on its side with a rotation tag: the network saw it on its side
    (a new user's sky came out beige, b* -1, instead of blue, -18). Now it sees the frames as displayed:
    the rotated clip's output, turned upright, is the upright clip's output."""
    import av

    rng = np.random.default_rng(3)
    upright = [np.repeat(rng.integers(0, 255, (96, 64), dtype=np.uint8)[..., None], 3, axis=2) for _ in range(3)]
    k = rotation // 90

    def write(path, frames, rot):
        with av.open(str(path), "w") as c:
            v = c.add_stream("libx264", rate=25, options={"crf": "0"})
            v.width, v.height, v.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
            if rot:
                v.set_display_rotation(rot)
            for f in frames:
                c.mux(v.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")))
            c.mux(v.encode(None))
        return path

    real = colorizer.model.predict_ab

    def top_to_bottom(x, hm=None, pal=None):  # a network whose colour runs from top to bottom of what it sees
        out = real(x, hm, pal)
        ramp = torch.linspace(-0.4, 0.4, out.shape[-2], device=out.device)[None, None, :, None].expand_as(out[:, :1])
        return torch.cat([ramp, torch.zeros_like(ramp)], 1).to(out.dtype)

    monkeypatch.setattr(colorizer.model, "predict_ab", top_to_bottom)
    a = write(tmp_path / "upright.mp4", upright, 0)
    b = write(tmp_path / "stored.mp4", [np.rot90(f, -k) for f in upright], rotation)  # displayed = rot90(stored, k)
    opts = dict(temporal="off", crf=0)
    run(tmp_path, a, colorizer, "a.mp4", **opts)
    run(tmp_path, b, colorizer, "b.mp4", **opts)

    def frames(p):
        with av.open(str(p)) as c:
            return [f.to_ndarray(format="rgb24").astype(int) for f in c.decode(video=0)]

    for fa, fb in zip(frames(tmp_path / "a.mp4"), frames(tmp_path / "b.mp4")):
        assert np.abs(np.rot90(fb, k) - fa).mean() < 1.0


def test_display_rotations_are_taken_to_the_nearest_quarter_turn():
    from vidcolor.io.video import quarter_turns

    assert [quarter_turns(r) for r in (0, 90, -90, 180, 270, -10, -45 + 1, 135 - 1, None)] == [0, 1, 3, 2, 3, 0, 0, 1, 0]


def _one_keyframe_clip(path, frames=40):
    """H.264 with a single keyframe (the encoder's GOP longer than the clip), in `path`'s container."""
    import av as _av

    with _av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = 128, 96, "yuv420p"
        s.options = {"g": "1000", "bf": "0", "crf": "10"}
        yy, xx = np.mgrid[0:96, 0:128]
        for i in range(frames):  # a large keyframe, then small frames of a moving square
            img = np.stack([60 + yy, 120 + yy // 2, 220 - xx], -1).astype(np.uint8)
            img[40:56, (3 * i) % 112:(3 * i) % 112 + 16] = (200, 60, 40)
            f = _av.VideoFrame.from_ndarray(img, format="rgb24")
            f.pts = i
            c.mux(s.encode(f))
        c.mux(s.encode(None))
    return path


@pytest.mark.parametrize("name", ["one_key.ts", "raw.h264"])
def test_resume_where_a_seek_fails_or_finds_nothing_decodes_from_the_start(tmp_path, name):
    """A tester's killed runs could never be resumed: in an MPEG-TS with one keyframe every seek decoded
    nothing ("no decodable video frames" on every rerun), and a raw .h264 stream cannot seek at all (a
    PermissionError traceback). Both now decode from the start and count frames."""
    from vidcolor.io.base import ResumePoint
    from vidcolor.io.video import VideoSource

    path = _one_keyframe_clip(tmp_path / name)
    with VideoSource(path) as src:
        whole = [(f.index, f.pts) for f in src.frames(luma=True)]
    assert len(whole) == 40
    for at in (1, 20, 39):
        with VideoSource(path) as src:
            resumed = [(f.index, f.pts) for f in src.frames(ResumePoint(at, whole[at - 1][1]), luma=True) if not f.warmup]
        assert resumed == whole[at:], (name, at)
