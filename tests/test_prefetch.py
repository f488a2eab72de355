"""The decoding thread stops and is joined before its container closes, on every way out of a run
(issue 12, case 2: `eval-video --max-frames 30` corrupted memory when it broke out of the frame loop)."""
import json
import subprocess
import sys
import threading
import time

import pytest

from tests.media import write_video
from vidcolor.errors import OutputError
from vidcolor.io import prefetch as prefetch_mod
from vidcolor.io.video import VideoSource


def decode_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name == "decode" and t.is_alive()]


@pytest.fixture
def threads_at_close(monkeypatch):
    """The decode threads still alive at the moment each VideoSource closes its container."""
    seen: list[list[str]] = []
    close = VideoSource.close

    def spy(self):
        container_close = self.container.close

        def record():
            seen.append(decode_threads())
            container_close()

        self.container = _Proxy(self.container, close=record)
        close(self)

    monkeypatch.setattr(VideoSource, "close", spy)
    return seen


class _Proxy:
    def __init__(self, inner, **overrides):
        self._inner, self._overrides = inner, overrides

    def __getattr__(self, name):
        return self._overrides.get(name) or getattr(self._inner, name)


def test_close_stops_and_joins_the_producer():
    finalized = []

    def endless():
        try:
            i = 0
            while True:
                time.sleep(0.001)
                yield i
                i += 1
        finally:
            finalized.append(threading.current_thread().name)

    p = prefetch_mod.Prefetch(endless(), depth=2, name="numbers")
    assert [next(p) for _ in range(3)] == [0, 1, 2]
    p.close()
    assert not p._thread.is_alive()
    assert finalized == ["numbers"]  # the generator's clean-up ran in its own thread, before close returned
    with pytest.raises(StopIteration):
        next(p)


def test_a_producer_failure_reraises_in_the_consumer_and_the_thread_is_gone():
    def broken():
        yield 1
        raise ValueError("bad frame")

    with prefetch_mod.Prefetch(broken(), depth=2) as p:
        assert next(p) == 1
        with pytest.raises(ValueError, match="bad frame"):
            next(p)
    assert not p._thread.is_alive()


def test_eval_video_early_exit_joins_the_decoder_before_the_container_closes(tmp_path, colorizer, threads_at_close):
    from vidcolor.evaluate_video import evaluate_video

    clip = write_video(tmp_path / "clip.mp4", w=96, h=64, frames=40, audio=None)
    res = evaluate_video(colorizer, clip, modes=("off",), max_frames=5)
    assert res["frames"] == 5
    # every container closed with no decoder thread left (two since ea932e2: the black-and-white check decodes first)
    assert threads_at_close and all(alive == [] for alive in threads_at_close), threads_at_close


def test_encoder_failure_joins_the_decoder_before_the_container_closes(tmp_path, colorizer, threads_at_close, encoder_fails_at):
    from vidcolor.pipeline import VideoOptions, colorize_video

    encoder_fails_at(6, OutputError("disk full (simulated)"))
    clip = write_video(tmp_path / "clip.mp4", w=96, h=64, frames=60, audio=None)
    with pytest.raises(OutputError, match="disk full"):
        colorize_video(clip, tmp_path / "out.mp4", colorizer, VideoOptions(temporal="off", batch_size=2))
    assert threads_at_close and all(t == [] for t in threads_at_close)


def test_source_close_joins_a_reader_left_open(tmp_path):
    clip = write_video(tmp_path / "clip.mp4", w=96, h=64, frames=40, audio=None)
    with VideoSource(clip) as src:
        frames = src.frames_ahead(depth=8)
        next(frames)
    assert decode_threads() == []
    with pytest.raises(StopIteration):
        next(frames)


def test_breaking_out_early_again_and_again_never_crashes(tmp_path):
    """In a fresh interpreter, as `vidcolor eval-video CLIP --max-frames N` is: a crash kills the process."""
    clip = write_video(tmp_path / "clip.mp4", w=320, h=240, frames=60, audio=None)
    code = f"""
import torch
from vidcolor.colorizer import Colorizer
from vidcolor.evaluate_video import evaluate_video
from vidcolor.io.video import VideoSource
from vidcolor.models import create_model
col = Colorizer(create_model("effnet_unet"), work_size=64)
for i in range(20):
    evaluate_video(col, {str(clip)!r}, modes=("off",), max_frames=2 + i % 3)
    with VideoSource({str(clip)!r}) as src:
        for k, f in enumerate(src.frames_ahead(depth=8)):
            if k == i % 5:
                break
print("ok")
"""
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr[-2000:]


def test_the_eval_video_command_with_max_frames_runs_again_and_again(tmp_path, weights_file):
    """The issue's own command, each run a fresh process; benchmarks/eval_video_repeat.py runs it 50 times."""
    clip = write_video(tmp_path / "clip.mp4", w=160, h=120, frames=90, audio="aac")
    cmd = [sys.executable, "-m", "vidcolor", "eval-video", str(clip), "--max-frames", "30", "--weights", str(weights_file),
           "--device", "cpu", "--json", str(tmp_path / "ev.json")]
    for _ in range(3):
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stderr[-2000:]
        assert json.loads((tmp_path / "ev.json").read_text())[0]["frames"] == 30
