"""The FrameSource / FrameSink seam and the sink's own resume state (issue 12: structure)."""
import fractions
from pathlib import Path

import numpy as np
import pytest

from tests.media import write_video
from vidcolor.io.base import Frame, FrameSink, FrameSource, ResumePoint, VideoInfo
from vidcolor.io.plan import plan_output
from vidcolor.io.prefetch import Prefetch
from vidcolor.io.segments import SegmentedSink
from vidcolor.io.video import VideoSource
from vidcolor.pipeline import VideoOptions, _encode_segments


class ListSource:
    """Any list of frames is a FrameSource."""

    def __init__(self, frames: list[np.ndarray], fps: int = 25):
        self.rgb = frames
        h, w = frames[0].shape[:2]
        self.info = VideoInfo(Path("list"), w, h, len(frames), fractions.Fraction(1, fps), fractions.Fraction(fps), 0,
                              "rawvideo", len(frames) / fps, 0)

    def frames(self, resume: ResumePoint | None = None):
        start = resume.frames if resume else 0
        return (Frame(rgb, i, i) for i, rgb in enumerate(self.rgb) if i >= start)

    def frames_ahead(self, resume=None, depth=8, luma=False):  # RGB frames only: a source may have no luma planes
        return Prefetch(self.frames(resume), depth)

    def close(self):
        pass


class MemorySink:
    """A FrameSink that keeps what it is given."""

    segment_frames = 4
    pix_fmt = "rgb24"  # takes RGB frames only
    matrix = "bt709"

    def __init__(self):
        self.pts, self.ends, self.completed = [], [], False

    def resume_point(self):
        return ResumePoint()

    def write(self, rgb, pts):
        assert rgb.dtype == np.uint8 and rgb.shape[0] == len(pts)
        self.pts += list(pts)

    def end_segment(self, smoother_state, final=False):
        self.ends.append((len(self.pts), final, sorted(smoother_state)))

    def complete(self):
        self.completed = True

    def abort(self):
        pass

    def discard(self):
        pass


def test_the_pipeline_runs_on_any_frame_source_and_sink(colorizer):
    rng = np.random.default_rng(0)
    source, sink = ListSource([rng.integers(0, 255, (32, 48, 3), np.uint8) for _ in range(10)]), MemorySink()
    assert isinstance(source, FrameSource) and isinstance(sink, FrameSink)
    enc = _encode_segments(source, sink, colorizer, VideoOptions(temporal="flow", batch_size=3), None)
    assert (enc.total, enc.resumed) == (10, 0) and sink.pts == list(range(10))
    # a segment ends at every 4th frame, with the flow smoother's state after it, and after the last
    assert sink.ends == [(4, False, ["count", "prev_ab", "prev_l"]), (8, False, ["count", "prev_ab", "prev_l"]),
                         (10, True, ["count", "prev_ab", "prev_l"])]


def test_the_segmented_sink_hands_back_its_resume_point(tmp_path):
    src = write_video(tmp_path / "in.mp4", w=64, h=48, frames=10, audio=None)
    plan = plan_output(src, tmp_path / "out.mp4")
    with VideoSource(src) as s:
        info = s.info
    sink = SegmentedSink(tmp_path / "out.mp4", tmp_path / "work", info, "key", plan, segment_seconds=0.2)
    assert isinstance(sink, FrameSink) and isinstance(VideoSource(src), FrameSource)
    assert sink.resume_point() == ResumePoint()
    rgb = np.zeros((5, 48, 64, 3), np.uint8)
    sink.write(rgb, [0, 512, 1024, 1536, 2048])
    sink.end_segment({"ema": np.ones((1, 2, 3, 4), np.float32)})
    sink.write(rgb[:2], [2560, 3072])  # a segment left open: lost at a kill
    sink.abort()
    again = SegmentedSink(tmp_path / "out.mp4", tmp_path / "work", info, "key", plan, segment_seconds=0.2)
    point = again.resume_point()
    assert (point.frames, point.last_pts, point.complete) == (5, 2048, False)
    assert point.smoother_state["ema"].shape == (1, 2, 3, 4)
    other = SegmentedSink(tmp_path / "out.mp4", tmp_path / "work", info, "another key", plan, segment_seconds=0.2)
    assert other.resume_point() == ResumePoint()  # work of other settings is discarded


def test_a_segment_that_fails_to_finish_is_reported_and_nothing_is_left(tmp_path, monkeypatch):
    """Segments are finished in a thread of their own while the next is encoded; a review found that
    a finish that failed (a full disk) left its part file, and those of the segments queued behind it,
    in the work folder, their encoders open."""
    import av

    from vidcolor.errors import StorageError
    from vidcolor.io import segments

    src = write_video(tmp_path / "in.mp4", w=64, h=48, frames=10, audio=None)
    plan = plan_output(src, tmp_path / "out.mp4")
    with VideoSource(src) as s:
        info = s.info
    real = segments.SegmentEncoder.finish

    def full_disk(self):
        if self.path.name == "seg000000.mp4":
            raise av.error.OSError(28, "No space left on device")
        return real(self)

    monkeypatch.setattr(segments.SegmentEncoder, "finish", full_disk)
    sink = SegmentedSink(tmp_path / "out.mp4", tmp_path / "work", info, "key", plan, segment_seconds=0.2)
    rgb = np.zeros((5, 48, 64, 3), np.uint8)
    with pytest.raises(StorageError, match="No space left.*the run stops"):  # a full disk stops the run (exit 4)
        for k in range(4):
            sink.write(rgb, [2560 * k + 512 * i for i in range(5)])
            sink.end_segment({}, final=k == 3)
    sink.abort()
    assert sorted(p.name for p in (tmp_path / "work").rglob("*") if p.is_file()) == []


def test_progress_is_told_the_segment_length_the_sink_uses(tmp_path):
    """Segments are a whole number of `flow`'s network stride (2): at 0.2 s and 25 fps, 6 frames, not 5;
    a review found the progress told 5, so its line a segment came at frames 6, 10, 16, 20."""
    from vidcolor.api import _video_progress
    from vidcolor.io.segments import segment_frames

    src = write_video(tmp_path / "in.mp4", w=64, h=48, frames=10, audio=None)
    told = []

    class P:
        def video(self, path, frames, seg):
            told.append(seg)

    for temporal, want in (("flow", 6), ("off", 5)):
        _video_progress(P(), src, VideoOptions(segment_seconds=0.2, temporal=temporal))
        plan = plan_output(src, tmp_path / "out.mp4")
        with VideoSource(src) as s:
            sink = SegmentedSink(tmp_path / "out.mp4", tmp_path / "work", s.info, "k", plan, 0.2, 2 if temporal == "flow" else 1)
        assert told[-1] == sink.segment_frames == want == segment_frames(0.2, 25, 2 if temporal == "flow" else 1)


def test_a_resumed_run_finds_a_scene_cut_just_after_its_resume_point(tmp_path, colorizer, encoder_fails_at):
    """A resume sought to the keyframe at or before its last finished frame: in an all-intra source (MJPEG,
    DV, ProRes: archive film) that frame alone was shown to a fresh cut detector, which ignores cuts in its
    first frames, so a cut 2 frames after the resume point was lost and the colours from there differed
    from an unbroken run's by up to 27 levels (a review). It now seeks back to the last WARMUP_FRAMES."""
    import av

    from vidcolor.options import VideoOptions
    from vidcolor.pipeline import colorize_video

    src = write_video(tmp_path / "reel.mov", w=64, h=48, frames=40, codec="mjpeg", pix_fmt="yuvj420p", audio=None,
                      scenes=[0] * 26 + [1] * 14)
    # 12-frame segments: the cut is 2 frames into the third. Lossless (crf 0), as the Ray range test: at
    # the default crf 18 libx264 itself gave other bits run to run in one process (up to 17 levels on
    # this 64x48 clip), for the very same frames written in the same order (2026-11-28, PyAV 18.1), so
    # the comparison is of what vidcolor computed, not of the encoder's choices
    opts = VideoOptions(segment_seconds=12 / 25, crf=0)
    whole = colorize_video(src, tmp_path / "whole.mov", colorizer, opts)
    assert "scene cut at frame 26" in whole.notes
    restore = encoder_fails_at(30, KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        colorize_video(src, tmp_path / "resumed.mov", colorizer, opts)
    restore()
    resumed = colorize_video(src, tmp_path / "resumed.mov", colorizer, opts)
    assert resumed.frames_resumed == 24 and "scene cut at frame 26" in resumed.notes, resumed.notes

    def frames(path):
        with av.open(str(path)) as c:
            return np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)])

    assert np.array_equal(frames(tmp_path / "whole.mov"), frames(tmp_path / "resumed.mov"))


def test_x264_is_told_the_cpus_features_without_avx512_where_the_cpu_has_it(tmp_path):
    """libx264's AVX-512 code wrote other bits from run to run for the same frames once the network had run (a
    film's two runs differed by up to 33 levels: a film restorer's test). Only what the CPU lists is named."""
    from vidcolor.io.plan import x264_cpu_list

    with_512 = tmp_path / "a"
    with_512.write_text("processor : 0\nflags\t\t: fpu sse sse2 pni ssse3 sse4_1 sse4_2 abm avx fma bmi1 bmi2 avx2 avx512f avx512bw\n")
    assert x264_cpu_list.__wrapped__(str(with_512)) == "MMX2,SSE,SSE2,SSE2Fast,SSE3,SSSE3,SSE4.1,SSE4.2,LZCNT,AVX,FMA3,BMI1,BMI2,AVX2"
    old = tmp_path / "b"
    old.write_text("flags : fpu sse sse2 pni ssse3 avx512f\n")  # no AVX: none of it named
    assert x264_cpu_list.__wrapped__(str(old)) == "MMX2,SSE,SSE2,SSE2Fast,SSE3,SSSE3"
    plain = tmp_path / "c"
    plain.write_text("flags : fpu sse sse2 avx avx2\n")
    assert x264_cpu_list.__wrapped__(str(plain)) is None  # x264 detects them itself
    assert x264_cpu_list.__wrapped__(str(tmp_path / "none")) is None

