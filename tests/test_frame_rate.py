"""The output declares the source's frame rate, not 1 / its time base (vidcolor keeps the source's
time base, e.g. 1/12800 s for 25 fps MP4, and x264 wrote that as its frame rate: 12800 fps)."""
import fractions

import av
import numpy as np
import pytest

from tests.media import frame_pattern, mux_frames, probe, write_video
from vidcolor.io.video import VideoSource
from vidcolor.pipeline import VideoOptions, colorize_video

F = fractions.Fraction


def rates(path):
    """What probes show: the stream's average, real-base (ffprobe's r_frame_rate) and guessed rates, and
    the frame rate the decoder reads from the bitstream (H.264: the sequence header's timing info)."""
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        return {"average": s.average_rate, "base": s.base_rate, "guessed": s.guessed_rate,
                "codec": s.codec_context.framerate}


def colorize(tmp_path, colorizer, src, ext):
    dst = tmp_path / f"out{ext}"
    res = colorize_video(src, dst, colorizer, VideoOptions(temporal="off"))
    assert res.status == "done"
    return dst


@pytest.mark.parametrize("ext", [".mp4", ".mkv"])
@pytest.mark.parametrize("rate", [F(25), F(30000, 1001)], ids=["25", "ntsc"])
def test_output_declares_the_source_frame_rate(tmp_path, colorizer, rate, ext):
    # A time base much finer than a frame, as MP4 sources have (1/12800 at 25 fps, 1/30000 for NTSC)
    tb = F(1, 12800) if rate == 25 else F(1, 30000)
    step = int(1 / (rate * tb))
    src = write_video(tmp_path / "in.mp4", frames=12, rate=rate, audio=None, time_base=tb,
                      pts=[i * step for i in range(12)])
    assert probe(src)["rate"] == rate
    dst = colorize(tmp_path, colorizer, src, ext)
    got = rates(dst)
    assert got == {"average": rate, "base": rate, "guessed": rate, "codec": rate}
    a, b = probe(src), probe(dst)
    assert b["frames"] == a["frames"] == 12
    if ext == ".mp4":  # the source's time base and timestamps, exactly
        assert b["time_base"] == a["time_base"] == tb
        assert b["pts_s"] == pytest.approx(a["pts_s"], abs=1e-9)
    else:  # Matroska counts milliseconds
        assert b["pts_s"] == pytest.approx(a["pts_s"], abs=5e-4)
    assert b["duration_s"] == pytest.approx(a["duration_s"], abs=1e-3)


def test_variable_frame_rate_output_declares_the_source_average(tmp_path, colorizer):
    pts = [0, 1, 2, 5, 6, 10, 11, 12, 20, 21]  # irregular gaps, in 1/30 s
    src = write_video(tmp_path / "vfr.mkv", frames=len(pts), pts=pts, time_base=F(1, 30), audio=None)
    declared = probe(src)["rate"]
    dst = colorize(tmp_path, colorizer, src, ".mkv")
    got = rates(dst)
    assert got["average"] == got["codec"] == declared  # not 1000 (1 / Matroska's millisecond time base)
    assert probe(dst)["pts_s"] == pytest.approx(probe(src)["pts_s"], abs=1e-9)


def _raw_dv(path, frames=3):
    """A raw DV file (NTSC, 8:9 pixels), whose average frame rate FFmpeg reads as 60000, its time base's."""
    with av.open(str(path), "w", format="dv") as c:
        v = c.add_stream("dvvideo", rate=F(30000, 1001))
        v.width, v.height, v.pix_fmt = 720, 480, "yuv411p"
        v.codec_context.sample_aspect_ratio = F(8, 9)
        mux_frames(c, v, (frame_pattern(i, 720, 480) for i in range(frames)))
    return path


def test_a_raw_dv_file_keeps_its_frame_rate_and_is_not_said_to_end_early(tmp_path, colorizer):
    """A raw .dv tape capture came out as an MKV declaring 30000 frames a second, with the note "the source
    ends early: 8 of 16016 frames", and its MP4 failed at the join after every frame was colorized (a film
    restorer's test): the average rate read was the time base's (60000), not the frames' (29.97)."""
    src = _raw_dv(tmp_path / "tape.dv")
    with av.open(str(src)) as c:
        assert c.streams.video[0].average_rate == 60000  # what FFmpeg reads: the defect's cause
    for ext in (".mkv", ".mp4"):
        res = colorize_video(src, tmp_path / f"out{ext}", colorizer, VideoOptions(temporal="off"))
        assert res.status == "done" and res.frames == 3
        assert not any("ends early" in n for n in [*res.notes, res.error or ""])
        assert rates(tmp_path / f"out{ext}")["average"] == F(30000, 1001)


@pytest.mark.parametrize("ext", [".mkv", ".mp4"])
def test_a_high_speed_clip_keeps_its_average_over_1000_frames_a_second(tmp_path, ext):
    """A 1200 frames a second MKV (a high-speed camera's, remuxed) reads its average right, and FFmpeg guesses
    1000, its millisecond time base's: the raw DV rule took that guess, declaring 1000 frames a second."""
    src = write_video(tmp_path / f"fast{ext}", frames=24, rate=F(1200), audio=None)
    with VideoSource(src) as source:
        assert source.info.average_rate == 1200


def test_a_few_frames_in_mkv_with_longer_sound_last_as_long_as_the_source(tmp_path, colorizer):
    # FFmpeg estimates the video stream's duration of an MKV of a few frames from the whole file (here the
    # sound's 2 s), while the track's DURATION tag says 0.12 s; the estimate had the last frame held 1.98 s
    src = tmp_path / "short.mkv"
    with av.open(str(src), "w") as c:
        v = c.add_stream("libx264", rate=25)
        v.width, v.height, v.pix_fmt = 96, 64, "yuv420p"
        a = c.add_stream("aac", rate=16000)
        a.layout = "mono"
        mux_frames(c, v, [frame_pattern(i, 96, 64) for i in range(3)])
        for k in range(0, 32000, 1024):
            af = av.AudioFrame.from_ndarray(np.full((1, 1024), 1000, np.int16), format="s16", layout="mono")
            af.sample_rate, af.pts = 16000, k
            for p in a.encode(af):
                c.mux(p)
        for p in a.encode():
            c.mux(p)
    with av.open(str(src)) as c:
        assert c.streams.video[0].duration * c.streams.video[0].time_base > 2  # FFmpeg's estimate
    dst = colorize(tmp_path, colorizer, src, ".mkv")
    with av.open(str(dst)) as c:
        s = c.streams.video[0]
        packets = sorted((p.pts, p.duration) for p in c.demux(s) if p.pts is not None)
        assert [(float(p * s.time_base), float(d * s.time_base)) for p, d in packets] == [
            (0.0, 0.04), (0.04, 0.04), (0.08, 0.04)]
        assert s.metadata["DURATION"].startswith("00:00:00.12")
    assert probe(dst)["frames"] == 3
