"""The video path on each device (`device` fixture: the CPU, and CUDA where present): frames through
the network, flow smoothing and render come back as frames that keep their lightness, and on CUDA
they agree with the CPU's."""
import numpy as np
import pytest
import torch

from tests.media import write_video
from vidcolor.color import rgb8_to_l
from vidcolor.colorizer import Colorizer
from vidcolor.io.video import VideoSource
from vidcolor.io.yuv import video_frame
from vidcolor.pipeline import batched, colorize_frames
from vidcolor.temporal import SceneCuts, make_smoother


def frames_of(tmp_path, n=8):
    with VideoSource(write_video(tmp_path / "clip.mp4", w=128, h=96, frames=n, audio=None)) as src:
        return list(src)


def run(col, frames):
    smoother, cuts = make_smoother("flow"), SceneCuts(25.0)
    return np.concatenate([colorize_frames(col, b, smoother, cuts) for b in batched(frames, 3)])


def test_video_frames_keep_their_lightness_on_each_device(tmp_path, colorizer, device):
    frames = frames_of(tmp_path)
    out = run(Colorizer(colorizer.model, device=device, work_size=64), frames)
    assert out.shape == (8, 96, 128, 3) and out.dtype == np.uint8
    l_in = rgb8_to_l(torch.from_numpy(np.stack([f.rgb for f in frames])))
    l_out = rgb8_to_l(torch.from_numpy(out))
    assert float((l_in - l_out).abs().mean()) < 1.0  # only out-of-gamut clipping and uint8 rounding move L


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_frames_match_the_cpu_in_fp32(tmp_path, colorizer):
    frames = frames_of(tmp_path)
    outs = []
    for dev in ("cpu", "cuda"):
        col = Colorizer(colorizer.model, device=dev, work_size=64)
        col.amp_dtype = None  # the same maths on both: what is left is kernels and rounding
        outs.append(run(col, frames).astype(int))
    assert np.abs(outs[0] - outs[1]).mean() < 1.0


def test_frames_come_back_in_the_encoders_format_where_asked(tmp_path, colorizer, device):
    """`pix_fmt="yuv420p"`: a GPU hands the encoder packed yuv420p planes, the ones the encoder thread
    would have made from the RGB frames; the CPU keeps RGB (its encoder thread converts)."""
    frames = frames_of(tmp_path, n=3)
    col = Colorizer(colorizer.model, device=device, work_size=64)
    rgb = colorize_frames(col, frames, make_smoother("flow"), SceneCuts(25.0))
    out = colorize_frames(col, frames, make_smoother("flow"), SceneCuts(25.0), pix_fmt="yuv420p")
    if col.device.type == "cpu":
        assert np.array_equal(out, rgb)
        return
    assert out.shape == (3, 96 * 3 // 2, 128)
    for packed, frame in zip(out, rgb):
        assert np.array_equal(packed, video_frame(frame, "yuv420p").to_ndarray())


def test_a_short_batch_is_padded_to_one_already_run_and_its_output_is_unchanged(colorizer):
    """On a GPU a new batch size costs seconds of kernel choice (4.7 s on an H100), and a video's last
    batch is short: it is padded to the batch already run at that size. Checked here on the CPU with
    the padding switched on: the network sees the full batch, the short batch's frames come out as
    they do unpadded, and another working size is not padded to it."""
    col = Colorizer(colorizer.model, device="cpu", work_size=64)
    seen = []
    hook = col.model.register_forward_hook(lambda m, args, out: seen.append(args[0].shape[0]))
    try:
        l4, l2 = torch.rand(4, 1, 48, 64) * 100, torch.rand(2, 1, 48, 64) * 100
        plain = col.predict_ab_small(l2)
        col.pad_batches = True
        col.predict_ab_small(l4)
        padded = col.predict_ab_small(l2)
        col.predict_ab_small(torch.rand(1, 1, 64, 48) * 100)  # another working size: its own batches
        col.predict_ab_small(torch.rand(16, 1, 48, 64) * 100)
        col.predict_ab_small(torch.rand(3, 1, 48, 64) * 100)  # padded to 4, the smallest run that fits
        col.predict_ab_small(torch.rand(1, 1, 48, 64) * 100)  # to 4 as well: never to more than 4x
    finally:
        hook.remove()
    assert seen == [2, 4, 4, 1, 16, 4, 4]
    assert padded.shape == plain.shape and torch.allclose(padded, plain, atol=1e-4)
