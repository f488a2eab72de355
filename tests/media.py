"""Media the tests make for themselves with PyAV and numpy: no binary fixtures (after PyAV's tests)."""
from __future__ import annotations

import fractions
import struct
from pathlib import Path

import av
import numpy as np
from PIL import Image


def frame_pattern(i: int, w: int, h: int, scene: int = 0) -> np.ndarray:
    """A moving colour gradient; `scene` changes the picture completely (for scene-cut tests)."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    rng = np.random.default_rng(scene)
    fx, fy, phase = rng.uniform(0.02, 0.12), rng.uniform(0.02, 0.12), rng.uniform(0, 6)
    base = 0.5 + 0.5 * np.sin(x * fx + y * fy + phase + i * 0.2)
    rgb = np.stack([base, np.roll(base, w // 3, axis=1), 1 - base], axis=-1)
    if scene % 2:
        rgb = 1 - rgb
    return (rgb * 255).astype(np.uint8)


def write_video(path: Path, w: int = 96, h: int = 64, frames: int = 12, rate=fractions.Fraction(25),
                codec: str = "libx264", audio: str | None = "aac", pts: list[int] | None = None,
                time_base: fractions.Fraction | None = None, rotation: int = 0, subtitles: list[tuple[int, str]] | None = None,
                scenes: list[int] | None = None, pix_fmt: str | None = None, gray: bool = False,
                options: dict[str, str] | None = None, sar: fractions.Fraction | None = None) -> Path:
    """Write a test clip. `pts` (in `time_base`) gives variable frame timing; `scenes[i]` picks frame i's
    picture; `pix_fmt` overrides the encoder's; `gray` writes black-and-white frames; `options` go to the muxer;
    `sar` marks non-square pixels (an anamorphic DVD's 32/27)."""
    with av.open(str(path), "w", options=options or {}) as c:
        v = c.add_stream(codec, rate=rate)
        v.width, v.height = w, h
        v.pix_fmt = "yuv444p" if (w % 2 or h % 2) and codec == "libx264" else "yuv420p"
        v.pix_fmt = pix_fmt or v.pix_fmt
        formats = [f.name for f in v.codec_context.codec.video_formats or []]
        if formats and v.pix_fmt not in formats:
            v.pix_fmt = formats[0]  # e.g. Cinepak codes rgb24
        if time_base is not None:
            v.time_base = time_base
            v.codec_context.time_base = time_base
        if rotation:
            v.set_display_rotation(rotation)
        if sar:
            v.codec_context.sample_aspect_ratio = sar
        a = None
        if audio:
            rates = av.codec.Codec(audio, "w").audio_rates
            sample_rate = 16000 if not rates or 16000 in rates else 48000  # AC-3 and Opus take 48 kHz, not 16
            a = c.add_stream(audio, rate=sample_rate)
            a.layout = "mono"
        s = c.add_mux_stream("subrip" if path.suffix == ".mkv" else "mov_text") if subtitles else None
        for i in range(frames):
            picture = frame_pattern(i, w, h, scenes[i] if scenes else 0)
            if gray:
                picture = np.repeat(picture.mean(axis=-1, keepdims=True).round().astype(np.uint8), 3, axis=-1)
            f = av.VideoFrame.from_ndarray(picture, format="rgb24")
            f.pts = pts[i] if pts is not None else i
            if time_base is not None:
                f.time_base = time_base
            for p in v.encode(f):
                c.mux(p)
        for p in v.encode():
            c.mux(p)
        if a is not None:
            duration_s = float(frames / rate) if pts is None else float((pts[-1] + 1) * (time_base or 1 / rate))
            n = int(sample_rate * duration_s)
            t = np.arange(n) / sample_rate
            samples = (0.3 * np.sin(2 * np.pi * 440 * t) * 32767).astype(np.int16)[None]
            for k in range(0, n, 1024):
                af = av.AudioFrame.from_ndarray(samples[:, k:k + 1024], format="s16", layout="mono")
                af.sample_rate = sample_rate
                af.pts = k
                for p in a.encode(af):
                    c.mux(p)
            for p in a.encode():
                c.mux(p)
        for ms, text in subtitles or []:
            body = text.encode()
            pkt = av.Packet(body if path.suffix == ".mkv" else struct.pack(">H", len(body)) + body)
            pkt.stream, pkt.time_base = s, fractions.Fraction(1, 1000)
            pkt.pts = pkt.dts = ms
            pkt.duration = 200
            c.mux(pkt)
    return path


def write_audio_only(path: Path) -> Path:
    with av.open(str(path), "w") as c:
        a = c.add_stream("aac", rate=16000)
        a.layout = "mono"
        samples = np.zeros((1, 1024), np.int16)
        for k in range(8):
            af = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
            af.sample_rate, af.pts = 16000, k * 1024
            for p in a.encode(af):
                c.mux(p)
        for p in a.encode():
            c.mux(p)
    return path


def probe(path: Path) -> dict:
    """Frame count, size, pts list, rate, time base, rotation and the other streams of a video."""
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        frames = list(c.decode(v))
        others = [(s.type, s.codec_context.name) for s in c.streams if s.type != "video"]
        audio_s = [float(s.duration * s.time_base) for s in c.streams.audio if s.duration]
        return {
            "frames": len(frames), "width": frames[0].width, "height": frames[0].height,
            "pts_s": [float(f.pts * f.time_base) for f in frames], "rate": v.average_rate, "time_base": v.time_base,
            "rotation": frames[0].rotation, "others": others, "audio_s": audio_s,
            "duration_s": c.duration / 1e6 if c.duration else None,
            "first_rgb": frames[0].to_ndarray(format="rgb24"),
        }


def audio_seconds(path: Path) -> float:
    """Decoded length of the first audio stream: samples / rate (what a player plays)."""
    with av.open(str(path)) as c:
        a = c.streams.audio[0]
        return sum(f.samples for f in c.decode(a)) / a.codec_context.sample_rate


def video_differences(out: Path, ref: Path) -> list[str]:
    """How `out` differs from `ref`, a video it should equal in frames, frame times, duration and streams."""
    a, b = probe(out), probe(ref)
    found = []
    if a["frames"] != b["frames"]:
        found.append(f"{a['frames']} frames, expected {b['frames']}")
    elif max(abs(x - y) for x, y in zip(a["pts_s"], b["pts_s"])) > 1e-6:
        found.append("frame times differ")
    if abs((a["duration_s"] or 0) - (b["duration_s"] or 0)) > 1e-3:
        found.append(f"duration {a['duration_s']} s, expected {b['duration_s']} s")
    if a["others"] != b["others"]:
        found.append(f"streams {a['others']}, expected {b['others']}")
    elif any(t == "audio" for t, _ in b["others"]) and abs(audio_seconds(out) - audio_seconds(ref)) > 1e-3:
        found.append(f"audio {audio_seconds(out):.3f} s, expected {audio_seconds(ref):.3f} s")
    return found


def gray_image(h: int = 48, w: int = 64, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    g = (127 + 100 * np.sin(x / 7.0 + seed) * np.cos(y / 5.0)).astype(np.uint8)
    return np.clip(g.astype(int) + rng.integers(-5, 5, g.shape), 0, 255).astype(np.uint8)


def write_image(path: Path, h: int = 48, w: int = 64, seed: int = 0, mode: str = "L") -> Path:
    g = gray_image(h, w, seed)
    im = Image.fromarray(g, "L")
    if mode != "L":
        im = im.convert(mode)
    path.parent.mkdir(parents=True, exist_ok=True)
    im.save(path)
    return path


def write_colour_image(path: Path, h: int = 48, w: int = 64, seed: int = 0) -> Path:
    """A colour photo (ground truth for `vidcolor eval`, which leaves out black-and-white ones): the
    gray test image with a warm-to-cool tint across it."""
    g = gray_image(h, w, seed).astype(np.int16)
    tint = np.linspace(-30, 30, w, dtype=np.int16)[None, :]
    rgb = np.stack([g + tint, g, g - tint], axis=2).clip(0, 255).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgb, "RGB").save(path)
    return path


def mux_frames(c: av.container.OutputContainer, v: av.video.stream.VideoStream, frames) -> None:
    """Encode (H, W, 3) uint8 RGB frames on `v` with pts 0, 1, 2, ..., mux them into `c`, and flush the encoder
    (a test that adds other streams to `c` writes its video with this)."""
    for i, rgb in enumerate(frames):
        f = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        f.pts = i
        for p in v.encode(f):
            c.mux(p)
    for p in v.encode():
        c.mux(p)


def write_frames(path: Path, frames: list[np.ndarray], rate: int = 25) -> Path:
    """Write (H, W, 3) uint8 frames as an H.264 clip (yuv444p, so colour edges stay where they are)."""
    h, w = frames[0].shape[:2]
    with av.open(str(path), "w") as c:
        v = c.add_stream("libx264", rate=rate)
        v.width, v.height, v.pix_fmt = w, h, "yuv444p"
        mux_frames(c, v, frames)
    return path


def read_frames(path: Path) -> np.ndarray:
    """Every frame of a video, (N, H, W, 3) uint8 RGB as stored."""
    with av.open(str(path)) as c:
        return np.stack([f.to_ndarray(format="rgb24") for f in c.decode(c.streams.video[0])])


def _icc_tag_xyz(x: float, y: float, z: float) -> bytes:
    return b"XYZ " + bytes(4) + b"".join(struct.pack(">i", round(v * 65536)) for v in (x, y, z))


def icc_profile(space: str, gamma: float, primaries=None, name: str = "test profile") -> bytes:
    """A matrix/TRC ICC v2 profile, as Photoshop's working spaces are: `space` "GRAY" (a gamma curve: Gray
    Gamma 2.2) or "RGB" with `primaries` ((X, Y, Z) of red, green, blue, adapted to D50). Adobe RGB (1998):
    `icc_profile("RGB", 563 / 256, ADOBE_RGB_D50)`."""
    curve = b"curv" + bytes(4) + struct.pack(">IH", 1, round(gamma * 256)) + bytes(2)
    text = name.encode() + b"\x00"
    tags = [(b"desc", b"desc" + bytes(4) + struct.pack(">I", len(text)) + text + bytes(4 + 4 + 2 + 1 + 67)),
            (b"cprt", b"text" + bytes(4) + b"none\x00"), (b"wtpt", _icc_tag_xyz(0.9642, 1.0, 0.8249))]
    if space == "GRAY":
        tags.append((b"kTRC", curve))
    else:
        tags += [(sig, _icc_tag_xyz(*p)) for sig, p in zip((b"rXYZ", b"gXYZ", b"bXYZ"), primaries)]
        tags += [(sig, curve) for sig in (b"rTRC", b"gTRC", b"bTRC")]
    table, data, offset = b"", b"", 128 + 4 + 12 * len(tags)
    for sig, body in tags:
        body += bytes(-len(body) % 4)
        table += struct.pack(">4sII", sig, offset + len(data), len(body))
        data += body
    header = (struct.pack(">I", offset + len(data)) + b"lcms" + bytes([2, 0x10, 0, 0]) + b"mntr"
              + space.ljust(4).encode() + b"XYZ " + bytes(12) + b"acsp" + bytes(24) + bytes(4)  # to the rendering intent
              + _icc_tag_xyz(0.9642, 1.0, 0.8249)[8:])
    return header.ljust(128, b"\x00") + struct.pack(">I", len(tags)) + table + data


ADOBE_RGB_D50 = ((0.6097, 0.3111, 0.0195), (0.2053, 0.6257, 0.0609), (0.1492, 0.0632, 0.7446))
PROPHOTO_D50 = ((0.7977, 0.2880, 0.0), (0.1352, 0.7119, 0.0), (0.0313, 0.0001, 0.8249))
