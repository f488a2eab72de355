"""Colorizer: a batch of frames -> L at the network's working resolution -> ab -> full-resolution output.

The network sees L resized with its aspect ratio kept (short side = work_size) and padded to a
multiple of its size constraint; the predicted ab is cropped, brought to full resolution and joined
with the *original* L, so luminance is never resampled.
"""
from __future__ import annotations

import contextlib
import copy
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import replace

import cv2
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from vidcolor.color import AB_SCALE, L_SCALE, fit_chroma_planes, fit_dark_chroma, gray_levels_l, luma_table, merge_l_ab, resize_ab, rgb8_to_l, rgb_to_l, to_uint8
from vidcolor.device import autocast_dtype, resolve_device
from vidcolor.errors import InputError, UsageError
from vidcolor.hint_spread import spread_hints
from vidcolor.hints import Hints, check_built, hint_map, palette_vector, refuse_palette
from vidcolor.options import BATCH_SIZE, STRENGTH, WORK_SIZE, in_range
from vidcolor.upsample import BilinearUpsampler

DEFAULT_WORK_SIZE = 256
STRIP_PIXELS = 1 << 22  # full-resolution work on big images goes in strips of about 4 Mpx


MAX_ASPECT = 8  # the working size's long side is at most this many times work_size


def working_size(h: int, w: int, work_size: int) -> tuple[int, int]:
    """Size (h', w') with short side work_size and the aspect ratio of (h, w); for a strip longer than
    MAX_ASPECT:1, long side MAX_ASPECT * work_size instead (a 4000x12 scan was seen at 64000x192:
    20 s and 3.4 GB for 48,000 pixels)."""
    s = min(work_size / min(h, w), MAX_ASPECT * work_size / max(h, w))
    return max(1, round(h * s)), max(1, round(w * s))


def _strength(s) -> float:
    """A colour strength from 0 to 3, as `--strength` and the front door take it, else UsageError (nan gave
    a white picture; with_strength(10) was taken where load_colorizer(strength=3.5) was refused: a library
    user's test)."""
    return in_range("--strength", s, STRENGTH)


ARRAYS_BATCH = 16  # colorize_arrays' default network batch: a list of frames or photos of one size runs 16 at a time

RENDER_VERSION = 3  # in model_id, so finished outputs and segments rendered otherwise are redone (2: dark cells fitted into sRGB,
# color.fit_dark_chroma; 3: every pixel's colour fitted into sRGB at its L*, color.fit_chroma, not clipped channel by channel)


class Colorizer:
    """Runs a ColorNet on a device. `colorize_l` is the core; the other methods wrap it."""

    def __init__(self, model: nn.Module, device: torch.device | str = "cpu", work_size: int | None = None, upsampler=None,
                 strength: float = 1.0):
        # the checks the front door makes, for a library user building one: device="cuda" on a machine without CUDA
        # raised torch's AssertionError from inside the model's move, and work_size=0 took the default without a word;
        # Colorizer("effnet_unet") raised AttributeError "'str' object has no attribute 'eval'" (a library user's test)
        if not isinstance(model, nn.Module):
            raise UsageError(f"Colorizer takes a network (a torch.nn.Module), got {type(model).__name__}; "
                             "vidcolor.load_colorizer(model=NAME) loads one by name, with its weights")
        self.device = resolve_device(device)
        if work_size is not None:
            work_size = in_range("--work-size", work_size, WORK_SIZE, integer=True)
        self.strength = _strength(strength)  # a/b scale, like DeOldify's render factor: < 1 paler, > 1 more vivid
        self.flip = False  # photos: also predict the mirror image and average (twice the network time)
        # float32 whatever torch's default dtype: a network built while a service had set
        # torch.set_default_dtype(torch.float64) held float64 weights, and every call failed with "Input type
        # (float) and bias type (double) should be the same" (a library user's test)
        self.model = model.eval().to(self.device, torch.float32)
        meta = getattr(model, "checkpoint_meta", {}) or {}
        self.work_size = int(work_size or meta.get("work_size", DEFAULT_WORK_SIZE))
        self.upsampler = upsampler or BilinearUpsampler()
        self.amp_dtype = autocast_dtype(self.device)
        # channels_last on the CPU: measured 1.2-2x faster on the 2-core CPU at batch 2-4 (benchmarks/model_speed.py).
        # Not on a GPU: there cuDNN took 4.7 s choosing kernels at each new input shape in channels_last
        # against 0.5 s in NCHW, for the same steady rate (442 and 440 frames/s at a 1080p frame's
        # working size, batch 4, bf16; H100, benchmarks/gpu_first_call.py), and photos of many sizes
        # meet many shapes
        self.memory_format = torch.channels_last if self.device.type == "cpu" else torch.contiguous_format
        self.model = self.model.to(memory_format=self.memory_format)
        # On a GPU the first network call at a new (batch, height, width) took 4.7 s on an H100 (cuDNN
        # choosing kernels for every convolution), and a video's last batch and each segment's are
        # short: such a batch is padded up to one already run at its size (`_network`).
        self.pad_batches = self.device.type == "cuda"
        self._batches_at: dict[tuple[int, int], set[int]] = {}

    @property
    def model_id(self) -> str:
        """Identifies the weights and every setting that changes the output (for resume journals)."""
        sha = getattr(self.model, "weights_sha256", None) or "untrained"
        dec = self.model.decode_settings()
        conf = "" if dec.get("confidence") is None else ":c{:.2f}-{:.2f}".format(*dec["confidence"])
        strength = ("" if self.strength == 1.0 else f":s{self.strength:.3f}") + (":flip" if self.flip else "")
        return (f"{self.model.arch_name}:{sha[:16]}:ws{self.work_size}:t{dec['temperature']:.3f}:b{dec['blend']:.3f}"
                f"{conf}:{self.upsampler.name}:r{RENDER_VERSION}{strength}")

    @property
    def provenance(self) -> str:
        """What an output names as the software that made it (EXIF and TIFF Software, a video's encoder tag): that it
        was colorized, by which vidcolor and which weights, so that a colorized photo is not taken for a colour
        original (an archivist's test). Fixed for a given network: a redone output is the same file."""
        from vidcolor import __version__

        sha = getattr(self.model, "weights_sha256", None)
        return f"vidcolor {__version__} (colorized; {self.model.arch_name} weights {sha[:16] if sha else 'untrained'})"

    def with_strength(self, strength: float) -> "Colorizer":
        """A colorizer sharing this one's network, at another colour strength (a shallow copy)."""
        other = copy.copy(self)
        other.strength = _strength(strength)
        return other

    @property
    def accepts_hints(self) -> bool:
        """Whether the network itself takes hints as inputs (learnt spreading, and palettes). Hint points
        work with any network: `spread_hints` carries them over their objects after it."""
        return bool(getattr(self.model, "accepts_hints", False))

    def require_hints(self, hints, what: str | None = None) -> None:
        """Refuse a palette in `hints` (`what` names them) for a network without hint inputs."""
        if not self.accepts_hints:
            refuse_palette(hints, what, self.model.arch_name)

    def ab_grid(self, full_hw: tuple[int, int]) -> tuple[int, int]:
        """(h, w) of the ab a frame of full_hw gets at the working resolution (`predict_ab_small`'s output)."""
        wh, ww = working_size(*full_hw, self.work_size)
        return math.ceil(wh / self.model.stride), math.ceil(ww / self.model.stride)

    def _autocast(self):
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def network_input(self, l_full: torch.Tensor) -> torch.Tensor:
        """(B, 1, H, W) L* -> (B, 1, h, w) l_norm at working resolution, replicate-padded to the size multiple."""
        h, w = l_full.shape[-2:]
        wh, ww = working_size(h, w, self.work_size)
        l_small = F.interpolate(l_full.float() / L_SCALE, size=(wh, ww), mode="bilinear", align_corners=False, antialias=True)
        m = self.model.size_multiple
        ph, pw = math.ceil(wh / m) * m - wh, math.ceil(ww / m) * m - ww
        if ph or pw:  # pad rather than stretch the frame to the size the network needs
            l_small = F.pad(l_small, [0, pw, 0, ph], mode="replicate")
        return l_small.contiguous(memory_format=self.memory_format)

    def crop_prediction(self, ab_norm: torch.Tensor, full_hw: tuple[int, int]) -> torch.Tensor:
        """Network output (B, 2, h, w) ab / AB_SCALE on the padded input -> unscaled ab without the
        padding, scaled by the colour strength."""
        wh, ww = working_size(*full_hw, self.work_size)
        s = self.model.stride
        return ab_norm[..., : math.ceil(wh / s), : math.ceil(ww / s)].float() * (AB_SCALE * self.strength)

    def hint_inputs(self, hints: list[Hints | None] | None, full_hws: list[tuple[int, int]],
                    padded_hw: tuple[int, int]) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """Per-image hints (each in its image's full-resolution pixels) -> the network's (B, 3, Hp, Wp)
        hint map and (B, Q) palette on the device; (None, None) when no image has any, so the
        automatic path runs as is."""
        if not hints or not any(hints):
            return None, None
        if not self.accepts_hints:
            self.require_hints(list(hints))
            return None, None
        maps = torch.cat([hint_map(h, hw, working_size(*hw, self.work_size), padded_hw) for h, hw in zip(hints, full_hws)])
        pals = torch.stack([palette_vector(h, self.model.head.bins) for h in hints])
        return (maps.to(self.device).contiguous(memory_format=self.memory_format), pals.to(self.device))

    def hint_map_for(self, hints: Hints | None, full_hw: tuple[int, int]) -> torch.Tensor:
        """(1, 3, h, w) hint map of one image at the working resolution, unpadded (for tracking in video)."""
        work_hw = working_size(*full_hw, self.work_size)
        return hint_map(hints, full_hw, work_hw, work_hw)

    @torch.inference_mode()
    def predict_ab_small(self, l_full: torch.Tensor, hints: list[Hints | None] | None = None,
                         hint_maps: torch.Tensor | None = None, palettes: list[Hints | None] | None = None,
                         turn: int = 0) -> torch.Tensor:
        """(B, 1, H, W) L* -> (B, 2, h, w) unscaled ab at working resolution (aspect kept, unpadded).

        `hints` gives each image's Hints in full-resolution pixels; `hint_maps` instead gives ready
        (B, 3, h', w') maps at the working resolution (unpadded, h' and w' at least the working size's),
        as the video hint tracker makes, with each frame's palette (if any) in `palettes`. `turn`:
        quarter turns counter-clockwise (numpy's rot90) that show the frames upright (a phone video's
        rotation): the network sees them so, and the ab come back on the stored frames' grid (a portrait
        clip's sky came out beige, b* -1, on its side, and blue, -18, upright; a new user's test)."""
        if turn % 4:
            if hints is not None:
                raise ValueError("turn is for video frames (hint_maps), not photos' hints")
            k = turn % 4
            if hint_maps is not None:  # their spare rows and columns (bottom, right) would turn to the top or left
                wh, ww = working_size(*l_full.shape[-2:], self.work_size)
                hint_maps = torch.rot90(hint_maps[..., :wh, :ww], k, dims=(-2, -1))
            up = self.predict_ab_small(torch.rot90(l_full, k, dims=(-2, -1)), None, hint_maps, palettes)
            return torch.rot90(up, -k, dims=(-2, -1)).contiguous()
        l_small = self.network_input(l_full)
        padded_hw = tuple(l_small.shape[-2:])
        if hint_maps is not None and not self.accepts_hints:
            self.require_hints(palettes)
            hm = pal = None
        elif hint_maps is not None:
            hm = F.pad(hint_maps, [0, padded_hw[1] - hint_maps.shape[-1], 0, padded_hw[0] - hint_maps.shape[-2]])
            bins = self.model.head.bins.cpu()
            pal = torch.stack([palette_vector(p, bins) for p in palettes]) if palettes else torch.zeros(hm.shape[0], bins.shape[0])
            hm, pal = hm.to(self.device).contiguous(memory_format=self.memory_format), pal.to(self.device)
        else:
            hm, pal = self.hint_inputs(hints, [tuple(l_full.shape[-2:])] * l_full.shape[0], padded_hw)
        ab_norm = self._network(l_small, hm, pal)
        return self.spread(self.crop_prediction(ab_norm, tuple(l_full.shape[-2:])), l_full, hints, hint_maps)

    def _network(self, x: torch.Tensor, hm: torch.Tensor | None, pal: torch.Tensor | None) -> torch.Tensor:
        """The network on a batch. With `pad_batches`, a batch of b is padded up to the smallest batch
        already run at the same working size that is at most 4b (so one photo is never run as 16), by
        repeating its last item (each item is computed on its own: the padding changes no output), so
        the kernels already chosen for that shape serve it."""
        b = x.shape[0]
        if self.pad_batches:
            seen = self._batches_at.setdefault(tuple(x.shape[-2:]), set())
            full = min((n for n in seen if b <= n <= 4 * b), default=b)
            seen.add(full)
            if full > b:
                x, hm, pal = (None if t is None else torch.cat([t, t[-1:].expand(full - b, *t.shape[1:])]) for t in (x, hm, pal))
        with self._autocast():
            return self.model.predict_ab(x, hm, pal)[:b]

    def spread(self, ab: torch.Tensor, l_full: torch.Tensor, hints: list[Hints | None] | None = None,
               hint_maps: torch.Tensor | None = None) -> torch.Tensor:
        """(B, 2, h, w) predicted ab -> the same with the hint points spread over their objects (L as the
        guide; vidcolor.hint_spread). `hints` in full-resolution pixels, or `hint_maps` at the working
        resolution; unchanged without any."""
        ab_hw = tuple(ab.shape[-2:])
        if hint_maps is not None:  # video: each tracked hint holds its own cell only (photos below hold 3x3: held
            # that wide in a film, the cells beside a moving object are painted too and the flow smoother carries that
            # colour on over the background; tests/test_video_hints.py, the moving square)
            m = hint_maps[:, 2:3]
            pooled = F.interpolate(torch.cat([hint_maps[:, :2] * m, m], 1).float(), size=ab_hw, mode="area")
            mask = (pooled[:, 2:3] > 0).float()
            hm = torch.cat([pooled[:, :2] / pooled[:, 2:3].clamp_min(1e-6) * mask, mask], 1)
        elif hints and any(h and h.points for h in hints):
            full_hw = tuple(l_full.shape[-2:])
            cell = max(full_hw[0] / ab_hw[0], full_hw[1] / ab_hw[1])  # one output-grid cell, in input pixels
            # each hint holds at least the 3x3 cells around its point: the guided upsampler blends a pixel
            # with its grid neighbours, so a single held cell would come out diluted at the point itself
            hm = torch.cat([hint_map(h and Hints(tuple(replace(p, radius=max(p.radius, cell)) for p in h.points)),
                                     full_hw, ab_hw, ab_hw) for h in hints])
        else:
            return ab
        l_ab = F.interpolate(l_full.float(), size=ab_hw, mode="area")
        return spread_hints(ab, l_ab.to(ab.device), hm.to(ab.device))

    def upsample_terms(self, l_full: torch.Tensor, ab_small: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The upsampler's low-resolution terms for (B, 2, h, w) ab, with L area-averaged to the ab grid."""
        l_small = F.interpolate(l_full, size=ab_small.shape[-2:], mode="area").to(ab_small.device)
        return self.upsampler.prepare(l_small, fit_dark_chroma(l_small, ab_small))

    def upsample(self, l_full: torch.Tensor, ab_small: torch.Tensor) -> torch.Tensor:
        """(B, 2, h, w) unscaled ab -> (B, 2, H, W), with the full-resolution L as guide."""
        terms = self.upsample_terms(l_full, ab_small)
        return self.upsampler.combine(tuple(resize_ab(t, tuple(l_full.shape[-2:])) for t in terms), l_full)

    @torch.inference_mode()
    def render(self, l_full: torch.Tensor, ab_small: torch.Tensor, pix_fmt: str | None = None, matrix: str = "bt709") -> np.ndarray:
        """(B, 1, H, W) L* and (B, 2, h, w) ab at working resolution -> (B, H, W, 3) uint8 RGB frames.

        On a GPU: `upsample` and the merge, batched in torch. With `pix_fmt="yuv420p"` (what the video
        encoder takes) and even H and W, the frames also leave the GPU already in that format, as
        (B, H * 3 / 2, W) packed planes (`io.yuv.yuv420_planes`, the planes the encoder thread would make
        from the RGB): half the bytes to copy, and none of the conversion on the encoder's CPU. On the
        CPU the full-resolution part goes frame by frame through OpenCV (resize, Lab -> RGB, saturating
        cast), about 3x less time than torch there: on two cores that time is taken from the video
        encoder; `pix_fmt` is ignored there (the encoder thread converts, beside this one).
        """
        if self.device.type != "cpu":
            rgb = to_uint8(merge_l_ab(l_full, self.upsample(l_full, ab_small)))
            if pix_fmt == "yuv420p" and rgb.shape[-2] % 2 == 0 and rgb.shape[-1] % 2 == 0:
                from vidcolor.io.yuv import yuv420_planes  # here: photo-only paths need no PyAV

                return yuv420_planes(rgb, matrix).cpu().numpy()
            return rgb.permute(0, 2, 3, 1).contiguous().cpu().numpy()  # contiguous: OpenCV and PyAV copy strided frames slowly
        b, _, h, w = l_full.shape
        up = self.upsampler
        terms = self.upsample_terms(l_full, ab_small.float())
        out = np.empty((b, h, w, 3), np.uint8)
        lab = np.empty((h, w, 3), np.float32)  # reused frame to frame: fresh full-size buffers cost page faults
        full: list[np.ndarray] | None = None
        for i in range(b):
            l = np.ascontiguousarray(l_full[i, 0].numpy())
            planes = up.low_res_planes(terms, i)
            full = full or [np.empty((h, w), np.float32) for _ in planes]
            for p, dst in zip(planes, full):
                cv2.resize(p, (w, h), dst=dst, interpolation=cv2.INTER_LINEAR)
            a, b = up.combine_np(full, l)
            fit_chroma_planes(l, a, b)  # a colour sRGB cannot show: less chroma, not clipped channels (which move L*)
            cv2.merge([l, a, b], lab)
            cv2.cvtColor(lab, cv2.COLOR_Lab2RGB, dst=lab)
            cv2.convertScaleAbs(lab, out[i], alpha=255.0)  # so this rounds and saturates
        return out

    @torch.inference_mode()
    def render_yuv420(self, luma: Sequence[np.ndarray], ab_small: torch.Tensor, matrix: str = "bt709") -> np.ndarray:
        """B (H, W) uint8 planes of limited-range Y' as decoded (H and W even) and (B, 2, h, w) ab at working
        resolution -> (B, H * 3 / 2, W) packed yuv420p frames (`io.yuv.video_frame` takes
        them as they are): the source's own luma plane, untouched, with chroma planes made at chroma
        resolution from L* (of the 2x2-averaged luma), the upsampled ab, Lab -> R'G'B' (rounded to 8 bits,
        as `render` does) and the BT.709 matrix that `video_frame` uses.

        The video path on the CPU. Rendering full-size RGB and converting it back to 4:2:0 spent 9.5 ms of
        CPU a 720p frame here, plus 5 ms decoding to RGB, 5 for L* and 2 for 4:2:0, on two cores the
        video encoder also needs; this takes about 2 ms (`benchmarks/stage_cost.py`). What changes: the
        luma is kept bit for bit (the RGB round trip lost up to a level), and where the output is
        coloured its L* follows the kept luma rather than the source's L* (the non-constant-luminance
        of Y'CbCr: within a few L* units at the chroma the network gives)."""
        from vidcolor.io.yuv import MATRICES  # here: photo-only paths need no PyAV

        to_yuv = MATRICES[matrix]  # the encoder's (BT.601 for MPEG-4 Part 2 and MJPEG, which carry no tag)

        b, (h, w) = len(luma), luma[0].shape
        h2, w2, n = h // 2, w // 2, h * w
        up, table = self.upsampler, luma_table()
        # the luma at chroma resolution (exactly 2:1: each 2x2 mean) and its L*, from which the
        # upsampler's L on the ab grid is pooled too (pooling the full-size L cost 0.75 ms a frame)
        l_chroma = np.stack([cv2.LUT(cv2.resize(y, (w2, h2), interpolation=cv2.INTER_AREA), table) for y in luma])
        l_small = F.interpolate(torch.from_numpy(l_chroma)[:, None], size=ab_small.shape[-2:], mode="area")
        terms = up.prepare(l_small, fit_dark_chroma(l_small, ab_small.float().cpu()))
        out = np.empty((b, h * 3 // 2, w), np.uint8)
        lab = np.empty((h2, w2, 3), np.float32)
        rgb = np.empty((h2, w2, 3), np.uint8)
        full: list[np.ndarray] | None = None
        for i in range(b):
            flat = out[i].reshape(-1)
            flat[:n] = luma[i].reshape(-1)
            planes = up.low_res_planes(terms, i)
            full = full or [np.empty((h2, w2), np.float32) for _ in planes]
            for p, dst in zip(planes, full):
                cv2.resize(p, (w2, h2), dst=dst, interpolation=cv2.INTER_LINEAR)
            a, b = up.combine_np(full, l_chroma[i])
            fit_chroma_planes(l_chroma[i], a, b)  # as `render` does
            cv2.merge([l_chroma[i], a, b], lab)
            cv2.cvtColor(lab, cv2.COLOR_Lab2RGB, dst=lab)
            cv2.convertScaleAbs(lab, rgb, alpha=255.0)  # rounds and saturates, as `render` does
            yuv = cv2.transform(rgb, to_yuv)  # video_frame's matrix (3x4 on uint8 is OpenCV's fixed-point path:
            cv2.extractChannel(yuv, 1, flat[n:n + n // 4].reshape(h2, w2))  # 0.1 ms, where its Cb and Cr rows alone took 0.9)
            cv2.extractChannel(yuv, 2, flat[n + n // 4:].reshape(h2, w2))
        return out

    @torch.inference_mode()
    def colorize_l(self, l_full: torch.Tensor) -> torch.Tensor:
        """(B, 1, H, W) L* on self.device -> (B, 2, H, W) unscaled ab at full resolution."""
        return self.upsample(l_full, self.predict_ab_small(l_full))

    @torch.inference_mode()
    def colorize_rgb(self, rgb_u8: torch.Tensor) -> torch.Tensor:
        """(B, H, W, 3) uint8 RGB (any colour is reduced to L first) -> (B, H, W, 3) uint8 RGB."""
        l_full = rgb8_to_l(rgb_u8.to(self.device, non_blocking=True))
        ab_full = self.colorize_l(l_full)
        return to_uint8(merge_l_ab(l_full, ab_full)).permute(0, 2, 3, 1)

    @torch.inference_mode()
    def colorize_arrays(self, images: list[np.ndarray], hints: list[Hints | None] | None = None,
                        batch_size: int = ARRAYS_BATCH) -> list[np.ndarray]:
        """(H, W, 3) RGB, (H, W) or (H, W, 1) gray images, uint8 or uint16, read-only or not -> colorized (H, W, 3)
        RGB images of the same size and dtype; `hints[i]` (or None) steers image i. An (H, W, 4) RGBA or
        (H, W, 2) gray and alpha image comes back (H, W, 4), its alpha as it was.

        Images whose working resolution matches share network batches of up to `batch_size` (1 to 256;
        on the CPU the outputs do not depend on it; a GPU's kernels may differ by batch, untested). Full-resolution work (L, the ab upsampling and the merge) runs
        in horizontal strips, so memory stays near the size of the input and output arrays even for
        100-megapixel scans, and for any number of images.
        """
        batch_size = in_range("batch_size", batch_size, BATCH_SIZE, integer=True)
        if isinstance(images, np.ndarray):  # one image: its rows were taken as images ("got shape (60,)")
            raise _ArrayError(f"colorize_arrays takes a list of images, got one array of shape {images.shape}; "
                              "colorize_array takes one image")
        if not isinstance(images, Iterable):
            raise _ArrayError(f"colorize_arrays takes a list of images, got {type(images).__name__}")
        images = list(images)  # a generator too, as before its length was asked for (a TypeError: a reviewer's find)
        split = [_numbered(_split_alpha, i, img, len(images)) for i, img in enumerate(images)]
        images, alphas = [rgb for rgb, _ in split], [alpha for _, alpha in split]
        hints = _checked_hints(images, hints)
        l_fulls = [self.full_l(rgb) for rgb in images]
        ab_smalls: list[torch.Tensor | None] = [None] * len(images)
        groups: dict[tuple[int, int], list[int]] = {}
        for i, l_full in enumerate(l_fulls):
            groups.setdefault(working_size(*l_full.shape[-2:], self.work_size), []).append(i)
        # one batch for all 64 same-size photos of a list took 880 MB of activations beyond 3 MB of pixels (14 MB
        # a 256x192 image on the CPU: 1,000 video frames would need 14 GB; a library user's test)
        for idx in (ids[k:k + batch_size] for ids in groups.values() for k in range(0, len(ids), batch_size)):
            abs_ = self._predict_group([l_fulls[i] for i in idx], [hints[i] for i in idx])
            if self.flip:  # the mirror image's prediction, mirrored back, averaged in
                mirrored = self._predict_group([l_fulls[i].flip(-1) for i in idx],
                                               [h and h.flipped(l_fulls[i].shape[-1]) for i, h in zip(idx, (hints[i] for i in idx))])
                abs_ = [(a + m.flip(-1)) / 2 for a, m in zip(abs_, mirrored)]
            for i, ab in zip(idx, abs_):
                ab_smalls[i] = ab
        return [self.merge_image(rgb, l_full, ab) if alpha is None else np.dstack([self.merge_image(rgb, l_full, ab), alpha])
                for rgb, alpha, l_full, ab in zip(images, alphas, l_fulls, ab_smalls)]

    def _predict_group(self, l_fulls: list[torch.Tensor], hints: list[Hints | None]) -> list[torch.Tensor]:
        """Images of one working size -> each one's (1, 2, h, w) ab at the working resolution, one batch."""
        batch = torch.cat([self.network_input(l.to(self.device)) for l in l_fulls])
        hm, pal = self.hint_inputs(hints, [tuple(l.shape[-2:]) for l in l_fulls], tuple(batch.shape[-2:]))
        ab_norm = self._network(batch, hm, pal)
        return [self.spread(self.crop_prediction(ab_norm[k:k + 1], tuple(l.shape[-2:])), l, [h])
                for k, (l, h) in enumerate(zip(l_fulls, hints))]

    def colorize_array(self, rgb: np.ndarray, hints: Hints | None = None) -> np.ndarray:
        """One (H, W, 3) RGB or (H, W) or (H, W, 1) gray image, uint8 or uint16 -> the colorized (H, W, 3) RGB
        image; an (H, W, 4) RGBA (or (H, W, 2) gray and alpha) one -> (H, W, 4), its alpha kept. `hints` (vidcolor.hints.Hints, in this image's pixels) steer the colours where given."""
        return self.colorize_arrays([rgb], None if hints is None else [hints])[0]

    @staticmethod
    def _rows(w: int) -> int:
        return max(1, STRIP_PIXELS // max(1, w))

    def full_l(self, rgb: np.ndarray) -> torch.Tensor:
        """(1, 1, H, W) float32 L* on the CPU, computed strip by strip."""
        h, w = rgb.shape[:2]
        peak = 65535.0 if rgb.dtype == np.uint16 else 255.0
        rows = self._rows(w)
        l_full = torch.empty((1, 1, h, w), dtype=torch.float32)
        gray_l = gray_levels_l(16 if rgb.dtype == np.uint16 else 8) if self.device.type == "cpu" else None
        for y in range(0, h, rows):
            rgb_strip = rgb[y:y + rows]
            if gray_l is not None and _is_gray(rgb_strip):  # (per pixel, a 12 Mpx gray scan took 2.0 s; looked up, 0.1 s)
                l_full[0, 0, y:y + rows] = torch.from_numpy(gray_l.take(rgb_strip[..., 0], mode="clip"))
                continue
            # np.require copies a strip only when torch cannot wrap it (read-only or strided input)
            strip = torch.from_numpy(np.require(rgb_strip, requirements=["C", "W"])).to(self.device).permute(2, 0, 1)[None].float() / peak
            l_full[..., y:y + rows, :] = rgb_to_l(strip).cpu()
        return l_full

    def merge_image(self, rgb: np.ndarray, l_full: torch.Tensor, ab_small: torch.Tensor) -> np.ndarray:
        """ab at the working resolution, brought to full size with the upsampler and joined with the
        image's own full-resolution L, in strips -> the output image in rgb's dtype (16-bit through
        `lab_to_rgb(exact=True)`: where the a*b* is 0, a gray photo's levels come back as they were)."""
        h, w = rgb.shape[:2]
        peak = 65535.0 if rgb.dtype == np.uint16 else 255.0
        rows = self._rows(w)
        terms = self.upsample_terms(l_full, ab_small)
        out = np.empty_like(rgb)
        for y in range(0, h, rows):
            l_strip = l_full[..., y:y + rows, :].to(self.device)
            n = l_strip.shape[-2]
            ab_strip = self.upsampler.combine(tuple(bilinear_rows(t, (h, w), y, n) for t in terms), l_strip)
            res = merge_l_ab(l_strip, ab_strip, exact=rgb.dtype == np.uint16)[0].permute(1, 2, 0)
            out[y:y + rows] = (res * peak + 0.5).clamp_(0, peak).cpu().numpy().astype(rgb.dtype)
        return out


def check_call(colorizer, opts, options_type: type, hints=None, hints_type: type = Hints, **callbacks) -> None:
    """UsageError, before anything is opened, locked or journaled, for an argument of the wrong kind given to
    colorize_image, colorize_video or colorize_folder (the callers that wire the steps themselves), as the
    front door refuses them: a model name for the colorizer, a VideoOptions for a photo, a hints file's path
    and the front door's progress object raised AttributeError or TypeError from deep inside, the last after
    the output's folder was locked and its work folder made (a library user's test). `callbacks`: name ->
    a function or None."""
    if not isinstance(colorizer, Colorizer):
        raise UsageError(f"colorizer takes a loaded Colorizer (vidcolor.load_colorizer()), got {type(colorizer).__name__}")
    if opts is not None and not isinstance(opts, options_type):
        raise UsageError(f"opts takes a {options_type.__name__}, got {type(opts).__name__}")
    if hints is not None and not isinstance(hints, hints_type):
        raise UsageError(f"hints= takes a vidcolor.hints.{hints_type.__name__}, got {type(hints).__name__}"
                         + ("; vidcolor.hints.load_hints(path) reads a photo's hints file, and load_video_hints(path) a video's"
                            " (or give the path to vidcolor.colorize)" if isinstance(hints, (str, os.PathLike)) else ""))
    for name, fn in callbacks.items():
        if fn is not None and not callable(fn):
            raise UsageError(f"{name}= takes a function, got {type(fn).__name__}"
                             + ("; an object with inputs() and video() methods is vidcolor.colorize's progress="
                                if name == "progress" else ""))


def _checked_hints(images: list[np.ndarray], hints) -> list[Hints | None]:
    """One Hints (or None) per image, each checked as a hints file is and against its image: UsageError.
    A path or a dict gave an AttributeError, a NaN a* a white photo, a point outside the image was
    moved to its edge without a word, and a list shorter than the images an IndexError (a reviewer's tests)."""
    if hints is None or (isinstance(hints, (list, tuple)) and not hints):  # [] was taken as no hints
        return [None] * len(images)
    if not isinstance(hints, (list, tuple)) or len(hints) != len(images):
        raise UsageError(f"hints= takes one Hints (or None) per image: {len(images)} image(s), got "
                         + (f"{len(hints)} hints" if isinstance(hints, (list, tuple)) else type(hints).__name__))
    out = []
    for i, (img, h) in enumerate(zip(images, hints)):
        where = "hints" if len(images) == 1 else f"hints[{i}]"
        try:
            h = None if h is None else check_built(h, where)
            if h is not None:
                h.check_inside(img.shape[1], img.shape[0], where)
        except InputError as e:
            raise UsageError(str(e)) from None
        out.append(h)
    return out


def _is_gray(rgb: np.ndarray) -> bool:
    """(H, W, 3): R = G = B everywhere."""
    return bool(np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 1], rgb[..., 2]))


def _split_alpha(img: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """(H, W, 3) RGB of a uint8/uint16 gray, gray + alpha, RGB or RGBA array, and its (H, W) alpha (None
    without one), as an image file's channels are read (`io.images`); UsageError (a ValueError too, as
    before) for anything else: a list gave an AttributeError from deep inside. (H, W, 1) and RGBA arrays
    were refused ("got shape"), where a library user had one of each from their own reader."""
    if not isinstance(img, np.ndarray):
        raise _ArrayError(f"expected a numpy array, got {type(img).__name__}")
    if img.dtype.kind == "u" and img.dtype.itemsize in (1, 2) and not img.dtype.isnative:  # ">u2", a TIFF's big-endian
        img = img.astype(img.dtype.newbyteorder("="))
    if img.dtype not in (np.uint8, np.uint16):
        raise _ArrayError(f"expected a uint8 or uint16 image, got {img.dtype}")
    if img.ndim in (2, 3) and 0 in img.shape[:2]:  # a ZeroDivisionError from deep inside (an operator's test)
        raise _ArrayError(f"empty image: shape {img.shape}")
    if img.ndim == 2:
        return np.repeat(img[..., None], 3, axis=2), None
    if img.ndim == 3 and img.shape[2] in (1, 2):
        return np.repeat(img[..., :1], 3, axis=2), (img[..., 1].copy() if img.shape[2] == 2 else None)
    if img.ndim == 3 and img.shape[2] == 3:
        return img, None
    if img.ndim == 3 and img.shape[2] == 4:
        return img[..., :3], img[..., 3].copy()  # a strided view: full_l and merge_image copy it a strip at a time
    raise _ArrayError(f"expected an (H, W) or (H, W, 1) gray, (H, W, 2) gray and alpha, (H, W, 3) RGB or (H, W, 4) "
                      f"RGBA image, got shape {img.shape}")


def _numbered(check, i: int, img, n: int):
    """`check(img)`, its _ArrayError naming the image's place in a list of more than one (a library user's test:
    which of 500 arrays was the bad one was not said)."""
    try:
        return check(img)
    except _ArrayError as e:
        if n == 1:
            raise
        raise _ArrayError(f"image {i} of {n}: {e}") from None


class _ArrayError(UsageError, ValueError):
    """A bad image array: the library's UsageError, and the ValueError it always was."""


def bilinear_rows(ab_small: torch.Tensor, full_hw: tuple[int, int], y0: int, n: int) -> torch.Tensor:
    """Rows y0 .. y0 + n of F.interpolate(ab_small, full_hw, bilinear, align_corners=False), computed
    without materialising the whole upsampled image."""
    h_full, w_full = full_hw
    h_small = ab_small.shape[-2]
    ab_x = F.interpolate(ab_small, size=(h_small, w_full), mode="bilinear", align_corners=False)
    ys = (torch.arange(y0, y0 + n, device=ab_small.device, dtype=torch.float32) + 0.5) * (h_small / h_full) - 0.5
    ys = ys.clamp(0, h_small - 1)
    y_lo = ys.floor().long()
    y_hi = (y_lo + 1).clamp(max=h_small - 1)
    t = (ys - y_lo.float())[None, None, :, None]
    return ab_x[:, :, y_lo] * (1 - t) + ab_x[:, :, y_hi] * t
