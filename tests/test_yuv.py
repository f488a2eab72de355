import av
import numpy as np
import pytest

from media import frame_pattern
import torch

from vidcolor.io.yuv import video_frame, yuv420_planes


def swscale(rgb: np.ndarray, pix_fmt: str) -> np.ndarray:
    return av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format=pix_fmt, dst_colorspace="ITU709").to_ndarray()


def colourful(h: int, w: int) -> np.ndarray:
    """A colour gradient with saturated rectangles (sharp chroma edges at odd and even rows)."""
    rgb = frame_pattern(3, w, h).copy()
    rng = np.random.default_rng(0)
    for _ in range(12):
        y, x = rng.integers(0, h - 9), rng.integers(0, w - 9)
        rgb[y:y + rng.integers(3, 9), x:x + rng.integers(3, 9)] = rng.integers(0, 256, 3)
    return rgb


@pytest.mark.parametrize("h,w", [(96, 128), (270, 480), (54, 98)])  # also half-heights that are odd (the example clip: 480x270)
def test_yuv420p_from_opencv_is_swscales_within_the_stated_tolerance(h, w):
    """The encoder's fast 4:2:0 conversion (docs/performance.md, "Where the CPU time goes now") gives
    swscale's planes within one level, also at sharp colour edges (which a plain 2x2 mean of the chroma
    missed by up to 24). At 480x270 the chroma planes straddle rows of the flat buffer: the first version
    crashed there."""
    rgb = colourful(h, w)
    ours, ref = video_frame(rgb, "yuv420p").to_ndarray().astype(int), swscale(rgb, "yuv420p").astype(int)
    assert ours.shape == ref.shape == (h * 3 // 2, w)
    d = np.abs(ours - ref)
    assert d[:h].max() <= 1 and d[:h].mean() < 0.1, (d[:h].max(), d[:h].mean())
    assert d[h:].max() <= 1 and d[h:].mean() < 0.4, (d[h:].max(), d[h:].mean())


def test_gray_stays_gray_in_yuv420p():
    rgb = np.repeat(np.arange(256, dtype=np.uint8).reshape(16, 16, 1), 3, axis=2)
    yuv = video_frame(rgb, "yuv420p").to_ndarray()
    assert (yuv[16:] == 128).all()  # no colour cast in the chroma planes
    assert np.abs(yuv[:16].astype(int) - swscale(rgb, "yuv420p")[:16]).max() <= 1


@pytest.mark.parametrize("pix_fmt,size", [("yuv444p", (64, 96)), ("yuv444p", (63, 95)), ("yuvj420p", (64, 96))])
def test_other_formats_and_odd_sizes_go_through_swscale(pix_fmt, size):
    rgb = colourful(*size)
    frame = video_frame(rgb, pix_fmt)
    assert frame.format.name == pix_fmt
    assert np.array_equal(frame.to_ndarray(), swscale(rgb, pix_fmt))


@pytest.mark.parametrize("h,w", [(96, 128), (270, 480), (54, 98), (10, 12)])
def test_the_gpus_yuv420p_planes_are_the_encoders_exactly(h, w):
    """`yuv420_planes` (torch, run on the GPU before the frames leave it) makes the very planes the
    encoder thread's OpenCV conversion makes: same fixed-point matrix, rounding and chroma filter."""
    frames = np.stack([colourful(h, w), np.random.default_rng(1).integers(0, 256, (h, w, 3), dtype=np.uint8)])
    planes = yuv420_planes(torch.from_numpy(frames).permute(0, 3, 1, 2)).numpy()
    assert planes.shape == (2, h * 3 // 2, w) and planes.dtype == np.uint8
    for rgb, packed in zip(frames, planes):
        assert np.array_equal(packed, video_frame(rgb, "yuv420p").to_ndarray())


def test_a_packed_yuv420p_frame_is_taken_as_it_is_and_only_by_a_yuv420p_encoder():
    packed = yuv420_planes(torch.from_numpy(colourful(96, 128)).permute(2, 0, 1)[None]).numpy()[0]
    frame = video_frame(packed, "yuv420p")
    assert frame.format.name == "yuv420p" and (frame.width, frame.height) == (128, 96)
    assert np.array_equal(frame.to_ndarray(), packed)
    with pytest.raises(ValueError, match="yuv444p"):
        video_frame(packed, "yuv444p")
