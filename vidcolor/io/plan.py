"""How a video will be written, decided before the film is decoded (its first frame only, to know it has one):
`plan_output(src, dst, codec)`.

The output container comes from dst's extension. Each container has a video encoder used when none
is asked for (H.264, or VP9 for WebM), the audio codecs it holds as they are (copied packet for
packet) and the one it transcodes the others to, and the subtitle codec text subtitles are re-framed
into. The plan is then tried for real: the encoder is opened and the container's header written to
memory, for the final container and for the MP4 segments the frames are first encoded into, so that
an impossible combination is refused here, with one line, instead of after the whole encode.
"""
from __future__ import annotations

import fractions
import functools
import io
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import av

from vidcolor.errors import OutputError
from vidcolor.io.formats import IMAGE_FORMAT
from vidcolor.io.base import StreamInfo, VideoInfo
from vidcolor.io.subtitles import TEXT_CODECS
from vidcolor.io.video import VideoSource, _reason, _tag, open_source, refuse_frameless
from vidcolor.io.yuv import COLORSPACE_TAG, matrix_for

SEGMENT_MUXER = "mp4"  # resumable segments; see segments.py
QSCALE = 3  # fixed quantiser (1 best .. 31) for encoders without a constant-quality mode: MPEG-4 Part 2, MJPEG
FF_QP2LAMBDA = 118


@dataclass(frozen=True)
class Container:
    muxer: str  # FFmpeg muxer name
    label: str
    video: tuple[str, ...]  # video codecs it holds (canonical names)
    video_encoder: str  # used when no --codec is given
    audio: tuple[str, ...]  # audio codecs copied as they are; "pcm_*" stands for every PCM variant
    audio_encoder: str  # what the other audio codecs are transcoded to
    subtitles: tuple[str, ...]  # subtitle codecs it holds; text subtitles of other codecs are re-framed into the first
    constant_rate: bool = False  # no per-frame timestamps: frames sit on a fixed grid, no B-frames (AVI)


_MP4 = Container("mp4", "MP4", ("h264", "hevc", "vp9", "av1", "mpeg4"), "libx264",
                 # PCM would mux, but few MP4 players read it (the 'ipcm' entry is from 2019): AAC instead
                 ("aac", "mp3", "ac3", "eac3", "opus", "flac", "alac"), "aac", ("mov_text",))
CONTAINERS = {
    ".mp4": _MP4, ".m4v": _MP4,
    # QuickTime holds Opus and FLAC only in its MP4 flavour: FFmpeg's mov muxer refuses them
    ".mov": Container("mov", "QuickTime (MOV)", ("h264", "hevc", "vp9", "av1", "mpeg4", "mjpeg"), "libx264",
                      ("aac", "mp3", "ac3", "eac3", "alac", "pcm_*"), "aac", ("mov_text",)),
    # No VP8 anywhere: the resumable segments are MP4, which FFmpeg does not let hold it (refused by name,
    # with VP9 offered, by _video_encoder; the lists named it as writable, a new user found)
    ".mkv": Container("matroska", "Matroska (MKV)", ("h264", "hevc", "vp9", "av1", "mpeg4", "mjpeg"), "libx264",
                      ("aac", "mp3", "mp2", "ac3", "eac3", "dts", "opus", "vorbis", "flac", "alac", "pcm_*"), "aac",
                      ("subrip", "ass", "webvtt", "dvd_subtitle", "hdmv_pgs_subtitle", "dvb_subtitle")),
    ".webm": Container("webm", "WebM", ("vp9", "av1"), "libvpx-vp9", ("opus", "vorbis"), "libopus", ("webvtt",)),
    # MPEG-4 Part 2 is what AVI files usually hold. Not H.264: AVI has no timestamps of its own, and
    # FFmpeg reads H.264 back from AVI one frame late (measured), which puts it out of step with the audio
    # Nor AAC, nor MP3 or AAC made here: AVI cannot mark an encoder's delay (AAC's 1024 priming samples),
    # so such audio plays late (a click 64 ms late at 16 kHz, film-user test); PCM has none
    ".avi": Container("avi", "AVI", ("mpeg4", "mjpeg"), "mpeg4",
                      ("mp3", "mp2", "ac3", "pcm_*", "adpcm_ima_wav", "adpcm_ms"), "pcm_s16le", (),
                      constant_rate=True),
}
VIDEO_EXTS = tuple(CONTAINERS)
_IMAGE_EXTS = set(IMAGE_FORMAT) | {".heic", ".jxl"}
_MAX_CHANNELS = {"libmp3lame": 2, "ac3": 6}
# the layout a transcoded stream of that many channels is written in: Vorbis's channel orders, which Opus
# takes (not 2.1 or 4.0) and AAC and PCM too. PyAV takes no channel count for a layout: a 5.1 master's
# audio into MP4 or WebM failed with a TypeError traceback (a film restorer's test)
ENCODED_LAYOUTS = {1: "mono", 2: "stereo", 3: "3.0", 4: "quad", 5: "5.0", 6: "5.1", 7: "6.1", 8: "7.1"}
_AUDIO_LABELS = {"aac": "AAC", "opus": "Opus", "mp3": "MP3", "pcm_s16le": "PCM"}
_MAX_TIME_BASE_DEN = {"mpeg4": 65535}  # the MPEG-4 Part 2 standard's limit
# FFmpeg's AVI writer counts a video stream of more than 1000 frames a second in 1/600 s (avienc.c), so two
# frames of a 1200 fps film met on one tick and the join failed with "Invalid argument", after every frame
MAX_GRID_FRAME_RATE = 1000


@dataclass(frozen=True)
class EncoderSettings:
    """Per-encoder defaults, and which of --crf / --preset it understands."""
    crf: int | None = None
    preset: str | None = None
    fixed: tuple[tuple[str, str], ...] = ()  # options always set
    qscale: bool = False  # no CRF: a fixed quantiser


X26X_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow", "placebo")
PRESETS = {"libx264": X26X_PRESETS, "libx265": X26X_PRESETS}  # others: the encoder's own trial says

def _known_preset(preset: str, known: tuple[str, ...], encoder: str) -> bool:
    """As the encoder takes it: a name (x264 in any case, x265 in lower case) or its number, 0 to 9."""
    return (preset.lower() if encoder == "libx264" else preset) in known or preset in {str(i) for i in range(10)}


# x265 corrupts the heap (glibc aborts: "free(): invalid next size", exit 134) when a second encoder opens in
# one process, as each segment's does, on frames under 64 pixels on a side with its cu-tree on: 40x64, 48x64,
# 48x48, 34x18 and 36x20 failed in most tries, plain PyAV too, and never with cutree=0 (30 tries); 64 and
# more never failed (a film restorer's test). The cu-tree's bit redistribution is worth nothing at such sizes.
X265_CUTREE_MIN = 64

ENCODERS = {
    "libx264": EncoderSettings(crf=18, preset="medium"),
    # x265 and SVT-AV1 print a banner each time an encoder opens, once a segment: errors only
    "libx265": EncoderSettings(crf=18, preset="medium", fixed=(("x265-params", "log-level=error"),)),
    # VP9's constant-quality mode needs a zero bitrate; row-mt and cpu-used 4 keep it usable on a CPU
    "libvpx-vp9": EncoderSettings(crf=32, fixed=(("b", "0"), ("row-mt", "1"), ("deadline", "good"), ("cpu-used", "4"))),
    "libvpx": EncoderSettings(crf=10, fixed=(("b", "8M"),)),  # VP8: CRF caps at a bitrate
    "libsvtav1": EncoderSettings(crf=35, preset="8"),
    "mpeg4": EncoderSettings(qscale=True),
    "mjpeg": EncoderSettings(qscale=True),
}


@dataclass
class StreamPlan:
    """What happens to one audio or subtitle stream of the source."""
    index: int
    type: str
    codec: str  # the source's codec
    action: str  # "copy", "transcode" (audio), "reframe" (text subtitles) or "drop"
    target: str | None = None  # encoder (transcode) or subtitle codec (reframe)
    sample_rate: int = 0
    channels: int = 0


@dataclass
class OutputPlan:
    dst: Path
    container: Container
    encoder: str  # video encoder name, e.g. "libx264"
    codec: str  # its codec, e.g. "h264"
    pix_fmt: str
    options: dict[str, str]
    time_base: fractions.Fraction | None = None  # the encoder's, where it cannot take the source's
    streams: list[StreamPlan] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    sample_aspect_ratio: fractions.Fraction | None = None  # the source's, where its pixels are not square and it is written
    timecode: str | None = None  # the source's start timecode, where the output takes it
    made_by: str | None = None  # what the output names as its encoder (`Colorizer.provenance`); not part of `key`

    @property
    def matrix(self) -> str:
        """The Y'CbCr matrix the frames are written with (vidcolor.io.yuv.matrix_for)."""
        return matrix_for(self.codec)  # the codec's: mjpeg_qsv writes MJPEG too

    @property
    def key(self) -> str:
        """Everything in the plan that changes the encoded frames: part of a video's resume key."""
        # the matrix only where it is not BT.709: keys (and the outputs they journal as done) unchanged there;
        # an MPEG-4 or MJPEG output written in BT.709 before is redone
        matrix = "" if self.matrix == "bt709" else f"{self.matrix}:"
        sar = f":sar={self.sample_aspect_ratio}" if self.sample_aspect_ratio else ""  # in H.264's VUI: unchanged keys for square pixels
        return (f"{self.encoder}:{self.pix_fmt}:{matrix}{self.time_base or ''}:"
                + ",".join(f"{k}={v}" for k, v in sorted(self.options.items())) + sar)


def container_for(dst: Path) -> Container:
    ext = dst.suffix.lower()
    if ext in CONTAINERS:
        return CONTAINERS[ext]
    choices = ", ".join(e for e in CONTAINERS if e != ".m4v")
    if ext in _IMAGE_EXTS:
        raise OutputError(f"{dst}: a video cannot be written as an image ({ext}); name a video file ({choices})")
    what = f"{ext} is not a video container vidcolor writes" if ext else "no file extension to choose the container by"
    raise OutputError(f"{dst}: {what}; use {choices}")


# codecs whose own header holds a sample aspect ratio (H.264's and HEVC's VUI, MPEG-4's VOL, JFIF's density)
_SAR_IN_CODEC = {"h264", "hevc", "mpeg4", "mjpeg"}
CRF_MAX = {"libx264": 51, "libx265": 51}  # the --crf option's own bound (63) is VP9's and AV1's


def plan_output(src: str | os.PathLike | VideoInfo, dst: str | os.PathLike, codec: str | None = None,
                crf: int | None = None, preset: str | None = None) -> OutputPlan:
    """Decide container, video encoder, audio and subtitle handling for writing `src` (a path, or the
    VideoInfo of an open source) to `dst`, and try it; raises OutputError (one line naming dst) when it
    cannot work, InputError when src cannot be read or its video stream holds no frame. Reads the source's header and
    its first frame (`refuse_frameless`): well under a second."""
    dst = Path(dst)
    box = container_for(dst)
    if isinstance(src, VideoInfo):
        info = src
    else:
        with VideoSource(src) as source:
            info = source.info
            refuse_frameless(source)
    if box.constant_rate and info.average_rate and info.average_rate > MAX_GRID_FRAME_RATE:
        # refused before any work: a high-speed camera's 1200 fps film into AVI failed at its join, after every
        # frame was colorized, and again at every re-run (a film restorer's find)
        raise OutputError(f"{dst}: {box.label} holds at most {MAX_GRID_FRAME_RATE} frames a second, and this video "
                          f"runs at {float(info.average_rate):g}; write .mkv, .mp4 or .mov")
    encoder, options = _video_encoder(dst, box, codec, crf, preset)
    fallback = None
    if codec is None and (info.width % 2 or info.height % 2) and not _keeps_odd_sizes(encoder):
        # the container's own encoder cannot keep an odd size, and none was asked for: another it holds that
        # can (AVI: MJPEG for mpeg4). A 321x241 AVI failed every nightly folder run, and --codec mjpeg, the
        # advice given, then failed the folder's MP4s (a new user's test)
        for name in box.video:
            try:
                alt, alt_options = _video_encoder(dst, box, name, crf, preset)
            except OutputError:
                continue
            if _keeps_odd_sizes(alt):
                fallback = f"{encoder.name} needs even frame sizes: written with {alt.name} (--codec picks another)"
                encoder, options = alt, alt_options
                break
    plan = OutputPlan(dst, box, encoder.name, encoder.canonical_name, "yuv420p", options)
    if fallback:
        plan.notes.append(fallback)
    _choose_pix_fmt(plan, encoder, info)
    _keep_pixel_shape(plan, info)
    if encoder.name in _MAX_TIME_BASE_DEN and info.time_base.denominator > _MAX_TIME_BASE_DEN[encoder.name]:
        plan.time_base = _coarser_time_base(info, _MAX_TIME_BASE_DEN[encoder.name])
        plan.notes.append(f"{encoder.name} takes no time base finer than 1/{_MAX_TIME_BASE_DEN[encoder.name]}: "
                          f"frame times held to multiples of {plan.time_base} s")
    primed, starts = _audio_starts(info.path) if box.constant_rate else (set(), {})
    plan.streams = [_stream_plan(box, s, plan.notes, s.index in primed) for s in info.streams]
    plan.notes += _late_audio_notes(info, plan, starts)
    plan.notes += [f"{what} not written: vidcolor writes one video stream, the largest picture" for what in info.dropped_video]
    plan.notes += _dropped_extras(info, box)
    _try(plan, info)
    _keep_timecode(plan, info)
    return plan


def _coarser_time_base(info: VideoInfo, max_den: int) -> fractions.Fraction:
    """A time base an encoder capped at 1/max_den can take, for a source whose own is finer: 1/d for the
    largest divisor d of the source's denominator within the cap, so every time on a grid of den/d of
    the source's ticks stays exact (1/90000 -> 1/45000: a 30 fps capture with a one-second freeze keeps
    its 1/30 s steps). Where that leaves no better than a frame at the nominal rate (a prime
    denominator), that frame step, as before: it held such a capture to its 20 fps average instead,
    up to 0.48 s off."""
    den = info.time_base.denominator
    d = max((k for i in range(1, math.isqrt(den) + 1) if den % i == 0 for k in (i, den // i) if k <= max_den), default=1)
    step = max(1, round(1 / (info.fps * info.time_base)))  # one frame at the nominal rate
    nominal = (info.time_base * step).limit_denominator(max_den)
    fine = fractions.Fraction(info.time_base.numerator, d) if d > 1 else None
    return fine if fine is not None and fine < nominal else nominal


def check_encoder_settings(dst: Path, codec: str | None, crf: int | None, preset: str | None) -> None:
    """The encoder settings a run into `dst` would use, checked without a source (`vidcolor bench`, whose
    phases write MP4): UsageError naming the option."""
    from vidcolor.errors import UsageError

    try:
        _video_encoder(dst, container_for(dst), codec, crf, preset)
    except OutputError as e:
        raise UsageError(str(e).removeprefix(f"{dst}: ")) from None


def _video_encoder(dst: Path, box: Container, codec: str | None, crf: int | None, preset: str | None):
    name = codec or box.video_encoder
    try:
        encoder = av.codec.Codec(name, "w")
    except (av.error.FFmpegError, ValueError):  # PyAV raises UnknownCodecError, a ValueError
        raise OutputError(f"{dst}: unknown video encoder {name!r} (try libx264, libx265, libvpx-vp9 or mpeg4)") from None
    if encoder.type != "video":
        raise OutputError(f"{dst}: {name!r} is a {encoder.type} encoder, not a video one")
    if encoder.canonical_name not in box.video:
        holds = ", ".join(box.video)
        why = " (its resumable segments are MP4, which cannot hold VP8)" if encoder.canonical_name == "vp8" else ""
        raise OutputError(f"{dst}: vidcolor does not write {encoder.canonical_name} video into {box.label} (--codec {name}){why}; "
                          f"it writes {holds} there (leave --codec out for {box.video_encoder})")
    settings = ENCODERS.get(encoder.name, EncoderSettings())
    if crf is not None and settings.crf is None:
        raise OutputError(f"{dst}: --crf does not apply to {encoder.name} (it applies to {_with('crf')})")
    if crf is not None and crf > CRF_MAX.get(encoder.name, crf):  # x264 and x265 would clamp it without a word
        raise OutputError(f"{dst}: --crf {crf}: {encoder.name} takes 0 to {CRF_MAX[encoder.name]}")
    if preset is not None and settings.preset is None:
        raise OutputError(f"{dst}: --preset does not apply to {encoder.name} (it applies to {_with('preset')})")
    if preset is not None and (known := PRESETS.get(encoder.name)) and not _known_preset(preset, known, encoder.name):
        # x264 printed its own "x264 [error]: invalid preset" line on stderr before vidcolor's, which could only guess
        raise OutputError(f"{dst}: --preset {preset}: {encoder.name} presets are {', '.join(known)} (or 0 to 9)")
    options = dict(settings.fixed)
    if settings.crf is not None:
        options["crf"] = str(settings.crf if crf is None else crf)
    if settings.preset is not None:
        options["preset"] = preset or settings.preset
    if settings.qscale:
        options.update({"flags": "+qscale", "global_quality": str(QSCALE * FF_QP2LAMBDA)})
    if box.constant_rate:
        options["bf"] = "0"  # AVI stores no presentation timestamps, so frames must come in display order
    if encoder.name == "libx264" and (cpus := x264_cpu_list()):
        options["x264-params"] = f"asm={cpus}"
    return encoder, options


# x264's names of the CPU features it uses, and the Linux /proc/cpuinfo flag that says the CPU has each
X264_CPU_NAMES = (("sse", "MMX2"), ("sse", "SSE"), ("sse2", "SSE2"), ("ssse3", "SSE2Fast"), ("pni", "SSE3"), ("ssse3", "SSSE3"),
                  ("sse4_1", "SSE4.1"), ("sse4_2", "SSE4.2"), ("abm", "LZCNT"), ("avx", "AVX"), ("fma", "FMA3"),
                  ("bmi1", "BMI1"), ("bmi2", "BMI2"), ("avx2", "AVX2"))


@functools.lru_cache(maxsize=1)
def x264_cpu_list(cpuinfo: str = "/proc/cpuinfo") -> str | None:
    """The CPU features x264 may use, without AVX-512, where this CPU has AVX-512 (Linux), else None (x264 detects
    them itself). With its AVX-512 code, libx264 (PyAV 18.1's) wrote other bits from run to run for the very
    same frames once the network had run in the process: a film's two runs of one command differed by up to 33
    levels, and a resumed film could not be told from an interrupted one's damage (a film restorer's test). Without
    it every run was the same, at about the same speed (0.64-0.81 s against 0.68-0.70 s for 60 720p frames). Only
    features this CPU lists are named: x264 would crash on one it lacks."""
    try:
        with open(cpuinfo) as f:
            line = next(ln for ln in f if ln.startswith("flags"))
    except (OSError, StopIteration):
        return None
    flags = set(line.split(":", 1)[1].split())
    if "avx512f" not in flags:
        return None
    return ",".join(name for flag, name in X264_CPU_NAMES if flag in flags)


def _with(setting: str) -> str:
    """The encoders that take `setting` and that some container holds ("libvpx", VP8, is written into none:
    it was named as one to use: a film restorer's test)."""
    held = {c for box in CONTAINERS.values() for c in box.video}
    return ", ".join(n for n, s in ENCODERS.items() if getattr(s, setting) is not None and _codec_of(n) in held)


def _codec_of(encoder: str) -> str | None:
    try:
        return av.codec.Codec(encoder, "w").canonical_name
    except (av.error.FFmpegError, ValueError):  # not in this FFmpeg build
        return None


def _keeps_odd_sizes(encoder: av.codec.Codec) -> bool:
    """Whether the encoder takes 4:4:4 (yuv444p, or MJPEG's yuvj444p), which keeps an odd frame size."""
    return bool({"yuv444p", "yuvj444p"} & {f.name for f in encoder.video_formats or []})


def _choose_pix_fmt(plan: OutputPlan, encoder: av.codec.Codec, info: VideoInfo) -> None:
    formats = [f.name for f in encoder.video_formats or []]
    plan.pix_fmt = "yuvj420p" if encoder.name == "mjpeg" else "yuv420p"
    if info.bit_depth > 8:  # a restorer's 10-bit master came out 8-bit without a word (film-user test)
        plan.notes.append(f"the source is {info.bit_depth}-bit: written as 8-bit (vidcolor writes 8-bit video)")
    if info.alpha:  # a graphics or titles master's transparency was dropped without a word (an archivist's test)
        plan.notes.append(f"the source has an alpha channel ({info.alpha}): written without it, as opaque video "
                          "(vidcolor writes no transparency); where the source is transparent, the colour stored there shows")
    if info.hdr:  # its luma is kept as coded, in the HDR transfer, under SDR tags: it was said nowhere (film-user test)
        shows = ("players show it dark and flat; convert it to SDR first" if info.hdr == "PQ" else
                 "players show HLG's SDR-compatible picture, without its highlights")
        plan.notes.append(f"the source is HDR ({info.hdr}): its lightness is written as coded, tagged as SDR (BT.709): {shows}")
    if info.width % 2 or info.height % 2:
        full = "yuvj444p" if encoder.name == "mjpeg" else "yuv444p"  # MJPEG opens only in JPEG's full range
        if full not in formats:
            where = ("libx264 keeps them, as 4:4:4" if "h264" in plan.container.video else
                     "MJPEG keeps them, as 4:4:4: --codec mjpeg" if "mjpeg" in plan.container.video else
                     "write .mp4 or .mkv, where libx264 keeps them as 4:4:4")
            raise OutputError(f"{plan.dst}: odd frame size {info.width}x{info.height}: {encoder.name} needs even sizes ({where})")
        plan.pix_fmt = full  # 4:2:0 needs even dimensions; 4:4:4 keeps the exact size
        plays = ("; 4:4:4 H.264 plays in VLC, mpv and FFmpeg's tools but not in browsers, QuickTime or most phones "
                 "and TVs: crop a column or row first for those" if encoder.name == "libx264" else "")
        plan.notes.append(f"odd frame size {info.width}x{info.height}: encoded as {full} (4:2:0 needs even sizes){plays}")


def _dropped_extras(info: VideoInfo, box: Container) -> list[str]:
    """Notes for what the output does not take besides video, audio and subtitles: attachments outside
    Matroska, a timecode in AVI, data streams (a timecode track's time is carried as the timecode)."""
    notes = [f"{what} not written: vidcolor carries video, audio, subtitles, attachments and the timecode"
             for what in info.dropped_data]
    if info.attachments and box.muxer != "matroska":
        notes.append(f"{len(info.attachments)} attachment(s) (stream {', '.join(map(str, info.attachments))}) not written: "
                     f"{box.label} holds none; write .mkv to keep them")
    return notes


def _keep_timecode(plan: OutputPlan, info: VideoInfo) -> None:
    """The source's start timecode, where the output's muxer takes it (tried in memory, as `_try`): one it
    refuses is said, rather than failing the join once every frame is done. The MOV muxer also skips one it
    cannot read at the rate (a drop-frame "01:00:00;00" at 25 frames a second) without an error: it is read back."""
    if not info.timecode:
        return
    why = "AVI holds none; write .mov, .mp4 or .mkv to keep it" if plan.container.muxer == "avi" else None
    if why is None:
        trial = io.BytesIO()
        try:
            with av.open(trial, "w", format=plan.container.muxer) as out:
                add_video_stream(out, plan, info).metadata["timecode"] = info.timecode
                out.start_encoding()
            if plan.container.muxer in ("mov", "mp4"):  # as a timecode track (Matroska's tag takes any text)
                trial.seek(0)
                with av.open(trial) as back:
                    if not any(_tag(s.metadata, "timecode") for s in back.streams):
                        rate = f"{float(info.average_rate):g} frames a second" if info.average_rate else "its rate"
                        why = f"the {plan.container.muxer} muxer did not take it (not a timecode at {rate})"
        except (av.error.FFmpegError, ValueError) as e:
            why = f"the {plan.container.muxer} muxer did not take it ({_reason(e)})"
    if why:
        plan.notes.append(f"the source's timecode {info.timecode} not written: {why}")
    else:
        plan.timecode = info.timecode


def _keep_pixel_shape(plan: OutputPlan, info: VideoInfo) -> None:
    """Non-square pixels (an anamorphic DVD's 32:27) are written back; Matroska and WebM take them here only
    from the codec's own header, which VP9 and AV1 have no room for, so there it is said."""
    sar = plan.sample_aspect_ratio = info.sample_aspect_ratio
    if sar and plan.container.muxer in ("matroska", "webm") and plan.codec not in _SAR_IN_CODEC:
        shown = info.width * sar / info.height
        plan.notes.append(f"the source's pixels are not square ({sar.numerator}:{sar.denominator}, a {float(shown):.2f}:1 "
                          f"picture): {plan.container.label} with {plan.codec} cannot mark that here, so it shows "
                          f"{info.width}x{info.height} as stored; write .mp4, or .mkv with H.264, to keep it")
        plan.sample_aspect_ratio = None  # not written: the key, and a half-done VP9 film's segments, as before


def _holds_audio(box: Container, codec: str) -> bool:
    listed = codec in box.audio or ("pcm_*" in box.audio and codec.startswith("pcm_"))
    return listed and codec in _muxer_codecs(box.muxer)


@functools.lru_cache(maxsize=None)
def _muxer_codecs(muxer: str) -> frozenset[str]:
    """What FFmpeg's muxer accepts at all (our tables narrow it to what plays back well)."""
    with av.open(io.BytesIO(), "w", format=muxer) as c:
        return frozenset(c.supported_codecs)


PRIMING_COPIED_S = 0.010  # an encoder delay up to this is copied into AVI all the same (AC-3's 256 samples: 5 ms)


def _audio_starts(path) -> tuple[set[int], dict[int, fractions.Fraction]]:
    """For an AVI output, which holds no timestamps: the audio streams whose first packet comes more than
    PRIMING_COPIED_S before the stream's start (an encoder's priming, which the source's container skips:
    an MP4's MP3 starts at -1105 samples; AVI cannot mark that, so such a stream copied there played its
    priming first, late against the picture: 69 ms on cockatoo.mp4), and each audio stream's start in
    seconds (`_late_audio_notes`)."""
    found, primed, starts = set(), set(), {}
    try:
        with open_source(path) as src:
            audio = {a.index: a for a in src.streams.audio}
            starts = {k: a.start_time * a.time_base for k, a in audio.items() if a.start_time is not None}
            for i, pkt in enumerate(src.demux(*audio.values()) if audio else ()):
                k = pkt.stream.index
                if k not in found and pkt.pts is not None:
                    found.add(k)
                    if (audio[k].start_time or 0) - pkt.pts > PRIMING_COPIED_S / audio[k].time_base:
                        primed.add(k)
                if len(found) == len(audio) or i > 1000:
                    break
    except (av.error.FFmpegError, OSError):
        pass
    return primed, starts


def _late_audio_notes(info: VideoInfo, plan: OutputPlan, starts: dict[int, fractions.Fraction]) -> list[str]:
    """AVI: each audio stream plays from the file's start, so one that starts after the picture plays that
    much early there; said, where it is a frame or more (a review found a 1 s early sound without a word).
    `starts`: the audio streams' starts in seconds (`_audio_starts`)."""
    if info.start_pts is None:
        return []
    video = info.start_pts * info.time_base
    late = {sp.index: float(starts[sp.index] - video) for sp in plan.streams if sp.action != "drop" and sp.index in starts}
    return [f"audio stream {k} starts {s:.2f} s after the picture: AVI holds no such offset, so it plays {s:.2f} s "
            "early there; write .mkv or .mp4 to keep it" for k, s in late.items() if s >= 1 / info.fps]


def _stream_plan(box: Container, s: StreamInfo, notes: list[str], primed: bool = False) -> StreamPlan:
    if s.type == "audio":
        if _holds_audio(box, s.codec) and not primed:
            return StreamPlan(s.index, s.type, s.codec, "copy")
        enc = av.codec.Codec(box.audio_encoder, "w")
        rates = sorted(enc.audio_rates or [s.sample_rate or 48000])
        rate = s.sample_rate if s.sample_rate in rates else next((r for r in rates if r >= s.sample_rate), rates[-1])
        channels = min(s.channels or 2, _MAX_CHANNELS.get(enc.name, 8))
        label = _AUDIO_LABELS.get(enc.canonical_name, enc.canonical_name)
        why = (f"cannot mark {s.codec.upper() if s.codec in ('aac', 'mp3') else s.codec}'s encoder delay (copied, it played late)"
               if box.muxer == "avi" and (s.codec == "aac" or primed) else f"cannot hold {s.codec}")
        mix = f", mixed down from {s.channels} channels to {channels}" if s.channels > channels else ""  # (was unsaid)
        notes.append(f"audio stream {s.index} ({s.codec}) transcoded to {label}{mix}: {box.label} {why}")
        return StreamPlan(s.index, s.type, s.codec, "transcode", enc.name, rate, channels)
    if s.codec in box.subtitles:
        return StreamPlan(s.index, s.type, s.codec, "copy")
    if box.subtitles and s.codec in TEXT_CODECS:
        target = box.subtitles[0]
        notes.append(f"subtitle stream {s.index} ({s.codec}) converted to {target}: {box.label} cannot hold {s.codec}")
        return StreamPlan(s.index, s.type, s.codec, "reframe", target)
    notes.append(f"subtitle stream {s.index} ({s.codec}) not copied: {box.label} cannot hold {s.codec}")
    return StreamPlan(s.index, s.type, s.codec, "drop")


def add_video_stream(out: av.container.OutputContainer, plan: OutputPlan, like: VideoInfo):
    """The video encoder of the plan, at the source's size and time base."""
    if plan.encoder == "libsvtav1":  # SVT-AV1 logs at its "info" level to stderr (pages of lines) unless told
        os.environ.setdefault("SVT_LOG", "1")  # errors only; a user's own SVT_LOG wins
    s = out.add_stream(plan.encoder, rate=like.average_rate or fractions.Fraction(25))
    s.width, s.height, s.pix_fmt = like.width, like.height, plan.pix_fmt
    s.time_base = plan.time_base or like.time_base
    s.codec_context.time_base = plan.time_base or like.time_base
    s.codec_context.colorspace = COLORSPACE_TAG[plan.matrix]  # matching the conversion in SegmentEncoder.write
    if plan.matrix == "bt709":  # the network's colours are sRGB's, whose primaries are BT.709's: said, not left
        s.codec_context.color_primaries = s.codec_context.color_trc = 1  # "unspecified" (a film restorer's test)
    s.codec_context.color_range = 2 if plan.pix_fmt.startswith("yuvj") else 1  # JPEG ("full") or MPEG ("limited") range
    if like.sample_aspect_ratio:  # in the encoded stream too (H.264's VUI), for players that read only that
        s.codec_context.sample_aspect_ratio = like.sample_aspect_ratio
    s.options = dict(plan.options)
    if plan.encoder == "libx265" and min(like.width, like.height) < X265_CUTREE_MIN:
        s.options["x265-params"] = ":".join(filter(None, (s.options.get("x265-params"), "cutree=0")))
    return s


def add_audio_encoder(out: av.container.OutputContainer, sp: StreamPlan):
    a = out.add_stream(sp.target, rate=sp.sample_rate)
    a.layout = ENCODED_LAYOUTS[sp.channels]
    if sp.target == "libopus" and sp.channels > 2:
        a.options = {"mapping_family": "1"}  # Opus needs a channel mapping beyond stereo
    return a


def _try(plan: OutputPlan, info: VideoInfo) -> None:
    """Open the encoders and write the headers of the segment and output containers, in memory."""
    what = f"{plan.container.label} with {plan.encoder} video"
    try:
        with av.open(io.BytesIO(), "w", format=SEGMENT_MUXER) as seg:
            add_video_stream(seg, plan, info)
            seg.start_encoding()
    except (av.error.FFmpegError, ValueError) as e:
        reason = _reason(e)
        if "does not support" in reason:  # a new user read "'mp4' format" for a .webm output (VP8, now refused earlier)
            raise OutputError(f"{plan.dst}: vidcolor encodes a video in resumable MP4 segments, which cannot hold "
                              f"{plan.codec} (--codec {plan.encoder})") from e
        if "preset" in plan.options:  # x264 says "invalid preset" only on stderr; FFmpeg says Invalid argument
            reason += f"; is --preset {plan.options['preset']} one {plan.encoder} knows?"
        raise OutputError(f"{plan.dst}: cannot encode {plan.encoder} video at {info.width}x{info.height}, time base "
                          f"{info.time_base} ({reason})") from e
    try:
        with open_source(info.path) as src, av.open(io.BytesIO(), "w", format=plan.container.muxer) as out:
            add_video_stream(out, plan, info)
            for sp in plan.streams:
                if sp.action == "copy":
                    out.add_stream_from_template(src.streams[sp.index])
                elif sp.action == "transcode":
                    add_audio_encoder(out, sp)
                elif sp.action == "reframe":
                    out.add_mux_stream(sp.target)
            out.start_encoding()
    except (av.error.FFmpegError, ValueError) as e:
        raise OutputError(f"{plan.dst}: cannot write {what} and the source's other streams ({_reason(e)})") from e
