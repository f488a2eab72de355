"""Colorized RGB frames -> the encoder's pixel format.

4:2:0 at even sizes (what H.264, VP9 and MPEG-4 outputs are written in) is converted by OpenCV the
way swscale does it: the BT.709 limited-range matrix on every pixel (rounding and saturating), then
Cb and Cr filtered as swscale's default bilinear scaler halves them: the mean of each horizontal pair,
then [1, 3, 3, 1] / 8 down the rows. At 720p that took 2.2 ms of CPU a frame where PyAV's
`from_ndarray(rgb24).reformat(...)` through swscale took 3.2 (measured back to back), on the encoder's
side of two cores; the planes are swscale's within one level (tests/test_yuv.py). Every other format
goes through swscale.

On a GPU the same planes are made by `yuv420_planes` in torch, batched, before the frames leave the
device: half the bytes cross to the host, and the encoder thread only wraps them (`video_frame` takes
such a packed (H * 3 / 2, W) array as it is).
"""
from __future__ import annotations

import av
import cv2
import numpy as np

def _rgb_to_yuv(kr: float, kb: float) -> np.ndarray:
    """R'G'B' in [0, 255] -> Y' in [16, 235], Cb/Cr in [16, 240] around 128 (limited range), as 3x4 affine."""
    kg = 1.0 - kr - kb
    return np.array([
        [kr * 219 / 255, kg * 219 / 255, kb * 219 / 255, 16.0],
        [-kr / (2 * (1 - kb)) * 224 / 255, -kg / (2 * (1 - kb)) * 224 / 255, 0.5 * 224 / 255, 128.0],
        [0.5 * 224 / 255, -kg / (2 * (1 - kr)) * 224 / 255, -kb / (2 * (1 - kr)) * 224 / 255, 128.0],
    ], np.float32)


RGB_TO_YUV709 = _rgb_to_yuv(0.2126, 0.0722)
RGB_TO_YUV601 = _rgb_to_yuv(0.299, 0.114)
# The matrix a stream is written with. H.264, HEVC, VP9 and AV1 carry it (tagged BT.709); MPEG-4 Part 2
# and MJPEG do not, and players read them as BT.601 (JPEG's own): written in BT.709 there, an AVI came
# out with its colours shifted by 8 levels in a player (film-user test).
MATRICES = {"bt709": RGB_TO_YUV709, "bt601": RGB_TO_YUV601}
SWS_COLORSPACE = {"bt709": "ITU709", "bt601": "ITU601"}
COLORSPACE_TAG = {"bt709": 1, "bt601": 6}  # FFmpeg's AVCOL_SPC_BT709, AVCOL_SPC_SMPTE170M
UNTAGGED_CODECS = {"mpeg4", "mjpeg"}


def matrix_for(codec: str) -> str:
    """The matrix a stream of `codec` (FFmpeg's canonical name) is written with."""
    return "bt601" if codec in UNTAGGED_CODECS else "bt709"


def _fixed(m: np.ndarray) -> np.ndarray:
    return np.round(m.astype(np.float64) * 1024).astype(np.float32) + np.array([0, 0, 0, 512], np.float32)
_HALVE_ROWS = (np.array([1, 3, 3, 1], np.float32) / 8).reshape(4, 1)  # swscale's bilinear 2:1, rows 2i-1 .. 2i+2


def video_frame(rgb: np.ndarray, pix_fmt: str, matrix: str = "bt709") -> av.VideoFrame:
    """(H, W, 3) uint8 RGB -> an av.VideoFrame in pix_fmt, with `matrix` (limited range, but for the
    full-range yuvj formats). A 2-D (H * 3 / 2, W) array is a frame already in PyAV's yuv420p layout
    (from `yuv420_planes` or `Colorizer.render_yuv420`, made with the same matrix), taken as it is."""
    if rgb.ndim == 2:
        if pix_fmt != "yuv420p":
            raise ValueError(f"a packed yuv420p frame given to a {pix_fmt} encoder")
        return av.VideoFrame.from_ndarray(rgb, format="yuv420p")
    h, w = rgb.shape[:2]
    if pix_fmt != "yuv420p" or h % 2 or w % 2:
        return av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format=pix_fmt, dst_colorspace=SWS_COLORSPACE[matrix])
    yuv = cv2.transform(np.ascontiguousarray(rgb), MATRICES[matrix])  # (H, W, 3) uint8 Y'CbCr
    # PyAV's yuv420p layout, one flat buffer: Y (H x W), then Cb and Cr (H/2 x W/2 each). The chroma
    # planes start at flat offsets, not at whole rows of W: with H/2 odd (480x270) they straddle rows.
    n = h * w
    flat = np.empty(n * 3 // 2, np.uint8)
    cv2.extractChannel(yuv, 0, flat[:n].reshape(h, w))
    pairs = cv2.resize(yuv, (w // 2, h), interpolation=cv2.INTER_LINEAR)  # exactly 2:1: the mean of each pair
    chroma = cv2.filter2D(pairs, -1, _HALVE_ROWS, anchor=(0, 1), borderType=cv2.BORDER_REPLICATE)[::2]
    cv2.extractChannel(chroma, 1, flat[n:n + n // 4].reshape(h // 2, w // 2))
    cv2.extractChannel(chroma, 2, flat[n + n // 4:].reshape(h // 2, w // 2))
    return av.VideoFrame.from_ndarray(flat.reshape(h * 3 // 2, w), format="yuv420p")  # copies the planes


def yuv420_planes(rgb: "torch.Tensor", matrix: str = "bt709") -> "torch.Tensor":
    """(B, 3, H, W) uint8 RGB, H and W even -> (B, H * 3 / 2, W) uint8, each frame in PyAV's yuv420p
    layout: the planes `video_frame` makes with OpenCV (same matrix, rounding and chroma filter), on
    whatever device the frames are."""
    import torch  # here: the CPU encoder path needs no torch
    import torch.nn.functional as F

    b, _, h, w = rgb.shape
    # OpenCV's transform of uint8 works in 10-bit fixed point: round(M * 1024), + 512, >> 10. Every term
    # is an integer below 2**24, so float32 holds them exactly and the floor is OpenCV's shift.
    m = torch.as_tensor(_fixed(MATRICES[matrix]), device=rgb.device)
    yuv = torch.einsum("ij,bjhw->bihw", m[:, :3], rgb.float()).add_(m[:, 3].view(1, 3, 1, 1)).div_(1024).floor_().clamp_(0, 255)
    c = yuv[:, 1:]
    pairs = torch.floor((c[..., 0::2] + c[..., 1::2] + 1) / 2)  # OpenCV's exact 2:1 linear resize of uint8 rounds half up
    p = F.pad(pairs, (0, 0, 1, 1), mode="replicate")  # rows -1 .. H
    chroma = ((p[:, :, 0:h:2] + 3 * p[:, :, 1:h + 1:2] + 3 * p[:, :, 2:h + 2:2] + p[:, :, 3:h + 3:2]) / 8).round_().clamp_(0, 255)
    n = h * w
    flat = torch.empty(b, n * 3 // 2, dtype=torch.uint8, device=rgb.device)
    flat[:, :n] = yuv[:, 0].reshape(b, n)
    flat[:, n:n + n // 4] = chroma[:, 0].reshape(b, n // 4)
    flat[:, n + n // 4:] = chroma[:, 1].reshape(b, n // 4)
    return flat.view(b, h * 3 // 2, w)
