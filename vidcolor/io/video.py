"""PyAV video source: VideoSource decodes frames as RGB arrays with their pts (and can resume from a
pts), in the caller's thread or in a decoding thread it joins before its container closes.

How the output is written is decided in plan.py, encoded in segments.py and joined in mux.py.
"""
from __future__ import annotations

import fractions
import heapq
import os
from collections import deque
from pathlib import Path
from typing import Iterable, Iterator

import av
import numpy as np
from av.video.reformatter import ColorRange, VideoReformatter

from vidcolor.errors import InputError, StillImageError
from vidcolor.io.formats import IMAGE_EXTS, still_brand
from vidcolor.io.paths import input_problem, not_found
from vidcolor.io.base import Frame, ResumePoint, StreamInfo, VideoInfo
from vidcolor.io.prefetch import Prefetch

WARMUP_FRAMES = 8
# 8-bit YUV layouts whose first plane is the luma as stored: `luma_plane` takes it without a conversion
LUMA_FORMATS = frozenset({"yuv420p", "yuv422p", "yuv444p", "yuv440p", "yuv411p", "yuv410p", "nv12", "nv21"})
_JPEG_RANGE = 2  # AVCOL_RANGE_JPEG: full-range levels (yuvj*, some MJPEG), which the luma path does not take as they are
REORDER_WINDOW = 8  # decoded frames held back to put shuffled pts in order (see _in_order)


def open_source(path: str | os.PathLike) -> av.container.InputContainer:
    """A source file opened for reading, every time it is (probe, decode, the join's copied streams). Metadata that
    is not UTF-8 (a title in Latin-1 from an old camera or digitising tool) is read with U+FFFD where its bytes do
    not decode: PyAV's strict default raised UnicodeDecodeError, a traceback in the CLI and a 500 from
    `vidcolor serve` (an IT admin's test)."""
    return av.open(str(path), metadata_errors="replace")


def _open_input(path: Path) -> av.container.InputContainer:
    if not path.exists():
        raise InputError(f"{path}: {not_found(path)}")
    if path.is_dir():
        raise InputError(f"{path}: is a folder, not a video")
    if why := input_problem(path):
        raise InputError(f"{path}: {why}")
    try:
        return open_source(path)
    except PermissionError as e:  # (av's is one too) a whole film this user may not read was "not a readable video"
        raise InputError(f"{path}: cannot read ({e.strerror or e})") from e
    except av.error.FFmpegError as e:
        raise InputError(f"{path}: not a readable video ({_reason(e)})") from e


def _codec_name(stream) -> str:
    """The codec's canonical name ("mp3", not the decoder's "mp3float"): what containers are listed by."""
    return stream.codec_context.codec.canonical_name


def _channels(stream) -> int:
    layout = getattr(stream.codec_context, "layout", None)
    return layout.nb_channels if layout is not None else 0


def _reason(e: Exception) -> str:
    msg = getattr(e, "strerror", None) or str(e)
    return str(msg).splitlines()[0][:160]


def _tag_seconds(value: str | None) -> float | None:
    """A Matroska DURATION tag ("00:00:12.400000000") in seconds; None if absent or unreadable."""
    try:
        h, m, sec = (value or "").strip().split(":")
        seconds = int(h) * 3600 + int(m) * 60 + float(sec)
    except ValueError:
        return None
    return seconds if seconds > 0 else None


def _track_end(container: av.container.InputContainer, s: av.stream.Stream) -> int | None:
    """Where the video stream ends, in its time base, where its header says: the DURATION tag that
    Matroska/WebM muxers write per stream (the track's end, counted from time 0), else the stream's own
    start + duration. Never FFmpeg's duration of a Matroska stream, which is only an estimate: for a clip of
    a few frames it is the whole file's, and a 3-frame MKV with 2 s of sound had its last frame held 1.98 s
    (a film restorer's find)."""
    seconds = _tag_seconds(s.metadata.get("DURATION"))
    if seconds is not None:
        return round(seconds / s.time_base)
    if s.duration and not container.format.name.startswith("matroska"):
        return (s.start_time or 0) + s.duration
    return None


JUMP_BACK_FRAMES = 25  # a pts this many nominal frames before the latest is no B-frame's reordering


class TimestampsJumpBack(Exception):
    """The stream's clock jumps back (recordings joined end to end, `cat a.ts b.ts`): (latest pts, new pts)."""


def _in_order(decoded: Iterable[av.VideoFrame], step: int) -> Iterator[tuple[av.VideoFrame, int]]:
    """Decoded frames (display order) with strictly increasing pts: the k-th frame gets the k-th smallest
    pts seen. Decoders hand frames out in display order, but B-frames stored in AVI (which has no
    presentation timestamps) come out with their pts shuffled; holding REORDER_WINDOW frames back puts
    them right while the shuffle is shorter than that, and changes nothing for well-timed streams.
    A frame without pts (some AVI streams) continues the nominal frame grid."""
    held: deque[av.VideoFrame] = deque()
    pending: list[int] = []  # pts not yet handed out (a heap)
    top = last = None
    for frame in decoded:
        pts = frame.pts if frame.pts is not None else (0 if top is None else top + step)
        if top is not None and pts < top - JUMP_BACK_FRAMES * step:
            raise TimestampsJumpBack(top, pts)
        top = pts if top is None else max(top, pts)
        heapq.heappush(pending, pts)
        held.append(frame)
        if len(held) > REORDER_WINDOW:
            last = _next_pts(heapq.heappop(pending), last)
            yield held.popleft(), last
    while held:
        last = _next_pts(heapq.heappop(pending), last)
        yield held.popleft(), last


def _next_pts(pts: int, last: int | None) -> int:
    return pts if last is None else max(pts, last + 1)  # a repeated pts moves up one tick


def _is_cover_art(stream) -> bool:
    return bool(stream.disposition & av.stream.Disposition.attached_pic)


def main_video_stream(container: av.container.InputContainer):
    """The video stream to colorize, as FFmpeg's own tools pick it: the largest picture, cover art (an
    attached picture) left out; the first of equals. None where there is no such stream. The first video
    stream alone had been taken: an MKV whose cover art came first came out as that one 64x64 frame,
    reported done (a new user's test)."""
    pictures = [s for s in container.streams.video if not _is_cover_art(s)]
    return max(pictures, key=lambda s: (s.codec_context.width or 0) * (s.codec_context.height or 0), default=None)


def _describe_dropped(container, main) -> list[str]:
    out = []
    for s in container.streams.video:
        if s is main:
            continue
        cc = s.codec_context
        out.append(f"cover art (stream {s.index}, {_codec_name(s)})" if _is_cover_art(s) else
                   f"video stream {s.index} ({_codec_name(s)}, {cc.width}x{cc.height})")
    return out


STILL_IMAGE_DEMUXERS = {"image2", "image2pipe"}  # and FFmpeg's "png_pipe", "jpeg_pipe", ...: one picture, no clip


def still_image_format(path: Path, container, stream) -> str | None:
    """The format of a file FFmpeg reads as a single picture (a PNG or JPEG 2000 under another name, a
    one-frame GIF, a HEIC or AVIF photo), None for a video. Such a file given as a video became a one-frame
    MKV, "done", exit 0 (an operator's test)."""
    name = container.format.name
    if name.startswith("mov,"):  # the ISO-BMFF family: an image brand is a photo (the server's check, shared)
        with open(path, "rb") as f:
            return still_brand(f.read(12))
    if name in STILL_IMAGE_DEMUXERS or name.endswith("_pipe"):
        return name.removesuffix("_pipe").upper() if name.endswith("_pipe") else stream.codec_context.name.upper()
    if name == "gif" and (stream.frames or _count_packets(container, stream, 2)) <= 1:
        return "GIF"
    return None


def _count_packets(container, stream, most: int) -> int:
    """How many packets the stream has, counting up to `most`; the container is rewound to its start."""
    n = 0
    for packet in container.demux(stream):
        n += packet.size > 0
        if n >= most:
            break
    container.seek(0, stream=stream)
    return n


PROBE_PACKETS = 2000  # packets of all streams a plan reads, at most, looking for the video stream's first frame
PROBE_VIDEO_PACKETS = 64  # of which video packets decoded, at most (past a decoder's delay of threads and B-frames)


def refuse_frameless(source: "VideoSource") -> None:
    """InputError, naming the file, where the source's video stream holds no frame: no packet at all (a
    recording stopped before its first frame, an MKV of sound under an empty video track) or none that
    decodes. Such a film was refused only once the model had loaded (5 s here), by the decode. Reads
    from the start up to the first frame decoded, and at most PROBE_PACKETS packets (PROBE_VIDEO_PACKETS
    of video): a film is not read whole to plan it, and one the probe cannot judge within that is left to
    the decode. Consumes the source's packets: for a source opened to plan, not one to decode."""
    stream, packets, video = source.stream, 0, 0
    stream.thread_type = "SLICE"  # (before its decoder opens) frame threads would hold a frame per thread back
    try:
        for packet in source.container.demux():  # every stream: an empty video track beside long sound ends the
            packets += 1  # probe at the budget, not at the end of the file
            if packet.stream is stream:  # its end-of-stream packet (size 0) drains the decoder
                video += packet.size > 0
                try:
                    if packet.decode():
                        return
                except av.error.InvalidDataError:  # damaged: the decode skips it too
                    pass
            if packets >= PROBE_PACKETS or video >= PROBE_VIDEO_PACKETS:
                return
    except av.error.FFmpegError:  # what the decode makes of it, as before
        return
    raise InputError(f"{source.path}: " + ("no decodable video frames (corrupt or truncated)" if video else
                                           "its video stream holds no frames"))


class VideoSource:
    """Iterate the frames of a video's main video stream (`main_video_stream`): `for frame in VideoSource(path)`."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.container = _open_input(self.path)
        self.stream = main_video_stream(self.container)
        if self.stream is None:
            covers = bool(self.container.streams.video)
            self.container.close()
            raise InputError(f"{self.path}: no video stream" + (" (only cover art)" if covers else ""))
        if (still := still_image_format(self.path, self.container, self.stream)) is not None:
            self.container.close()
            raise StillImageError(f"{self.path}: a still image ({still}), not a video; vidcolor reads photos named "
                                  f"{', '.join(sorted(IMAGE_EXTS))}", still)
        self.stream.thread_type = "AUTO"
        s, cc = self.stream, self.stream.codec_context
        if not cc.width or not cc.height:
            self.container.close()
            raise InputError(f"{self.path}: video stream has no frame size (corrupt header)")
        streams = [StreamInfo(x.index, x.type, _codec_name(x), getattr(x.codec_context, "sample_rate", 0) or 0,
                              _channels(x)) for x in self.container.streams if x.type in ("audio", "subtitle")]
        end = _track_end(self.container, s)
        duration = float((end - (s.start_time or 0)) * s.time_base) if end is not None else (
            self.container.duration / av.time_base if self.container.duration else None)
        self.info = VideoInfo(
            path=self.path, width=cc.width, height=cc.height, frames=int(s.frames or 0), time_base=s.time_base,
            average_rate=_frame_rate(s), rotation=0, codec=cc.name, duration_s=duration,
            start_pts=s.start_time, streams=streams, end_pts=end,
            bit_depth=_bit_depth(cc.format), dropped_video=_describe_dropped(self.container, self.stream),
            sample_aspect_ratio=_pixel_shape(s), timecode=_timecode(self.container, s),
            attachments=[x.index for x in self.container.streams if x.type == "attachment"],
            dropped_data=_describe_data(self.container),
            hdr=HDR_TRANSFERS.get(cc.color_trc), alpha=_alpha(s),
        )
        if not self.info.frames and duration and self.info.average_rate:
            self.info.frames = int(round(duration * float(self.info.average_rate)))
        self._readers: list[Prefetch[Frame]] = []
        self._decoded_end: float | None = None  # seconds from the start to the end of the last frame decoded
        self._reset_damage_counts()

    def __enter__(self) -> "VideoSource":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Join every decoding thread started by frames_ahead, then close the container."""
        for reader in self._readers:
            reader.close()
        self._readers.clear()
        self.container.close()

    def frames_ahead(self, resume: ResumePoint | None = None, depth: int = 8, luma: bool = False,
                     with_rgb: bool = False) -> Prefetch[Frame]:
        """`frames(resume, luma, with_rgb)` decoded in a background thread, `depth` frames ahead. Close it
        (or use it as a context manager) where the consumer may stop early; close() of the source joins it too."""
        reader = Prefetch(self.frames(resume, luma, with_rgb), depth, name="decode")
        self._readers.append(reader)
        return reader

    def __iter__(self) -> Iterator[Frame]:
        return self.frames()

    def frames(self, resume: ResumePoint | None = None, luma: bool = False, with_rgb: bool = False) -> Iterator[Frame]:
        """Decode frames in order, as RGB, or with `luma` as their luma plane only (`Frame.luma`,
        `luma_plane`; `with_rgb` adds the RGB too, as `eval-video` compares). To resume, give the resume point (the number of frames done and the pts
        of the last): the source seeks to the keyframe before it and decodes forward. The last few
        frames before the resume point come first, marked `warmup`, so scene-cut state can be rebuilt."""
        def picture(frame: av.VideoFrame, pts: int, index: int, warmup: bool = False) -> Frame:
            rgb = rgb_picture(frame) if with_rgb or not luma else None
            return Frame(rgb, pts, index, warmup, luma=luma_plane(frame) if luma else None)

        start_index, after_pts = (resume.frames, resume.last_pts) if resume else (0, None)
        index, last_pts, step = 0, None, None
        if self.info.average_rate:
            step = max(1, round(1 / (self.info.average_rate * self.info.time_base)))
        seeking = start_index > 0 and after_pts is not None
        if seeking:  # back to the frames the cut detector saw last before the resume point, where the log says
            target = resume.seek_pts if resume.seek_pts is not None and resume.seek_pts <= after_pts else after_pts
            try:
                self.container.seek(target, stream=self.stream, backward=True, any_frame=False)
            except (av.error.FFmpegError, OSError):
                # a raw .h264/.hevc stream cannot seek (EPERM): every rerun of a killed run ended in that
                # traceback (a tester's); decode from the start instead, counting frames
                yield from self._from_start(resume, luma, with_rgb)
                return
        recent: list[Frame] = []
        decoded, overshot = 0, False
        try:
            for frame, pts in _in_order(self._decode_skipping_damage(from_start=not seeking), step or 1):
                decoded += 1
                if step and last_pts is not None:
                    if pts - last_pts > 1.5 * step:
                        self._gaps.append((last_pts, round((pts - last_pts) / step) - 1))
                    self._regular += abs(pts - last_pts - step) <= max(1, step // 100)  # 90 kHz rounds 1/29 s either way
                    self._steps += 1
                if frame.pts is None and seeking:
                    raise InputError(f"{self.path}: cannot resume: frames have no timestamps")
                if seeking and decoded == 1 and pts > after_pts:
                    # the seek landed after the resume point (MPEG-TS seeks by byte position): the frames
                    # between would be skipped without a word (a review got 145 of 150), so decode from
                    # the start instead, counting frames
                    overshot = True
                    break
                if not self.info.rotation:
                    self.info.rotation = int(frame.rotation or 0)
                    self.info.mirror_matrix = self.info.mirror_matrix or mirror_matrix(frame)
                last_pts = pts
                self.info.interlaced = self.info.interlaced or bool(frame.interlaced_frame)
                done_already = pts <= after_pts if seeking else index < start_index
                if (frame.width, frame.height) != (self.info.width, self.info.height):
                    # a frame before the resume point reached by a seek has no known index (None)
                    at = None if seeking and done_already else index
                    self.info.size_change = self.info.size_change or (at, frame.width, frame.height)
                    frame = frame.reformat(width=self.info.width, height=self.info.height)
                if done_already:
                    recent = recent[-(WARMUP_FRAMES - 1):] + [picture(frame, pts, -1, True)]
                    index += 0 if seeking else 1
                    continue
                if recent:
                    yield from recent
                    recent = []
                if seeking:
                    seeking, index = False, start_index
                yield picture(frame, pts, index)
                index += 1
        except av.error.FFmpegError as e:
            raise InputError(f"{self.path}: decoding failed at frame {index} (after pts {last_pts}): {_reason(e)}") from e
        except TimestampsJumpBack as e:
            # every later frame had been put a tick after the one before: the rest of the picture played in an
            # instant and the sound drifted seconds off, reported done (a review's `cat f.ts f.ts`)
            top, new = e.args
            tb = self.info.time_base
            raise InputError(f"{self.path}: the timestamps jump back by {float((top - new) * tb):.2f} s after "
                             f"{float((top - (self.stream.start_time or 0)) * tb):.2f} s (at about frame {index}): recordings "
                             "joined end to end? vidcolor cannot keep picture and sound together across that; remux it "
                             "so that they run on (an MPEG-TS recording: ffmpeg -i INPUT -c copy OUTPUT.mkv)") from None
        if overshot or (seeking and decoded == 0):
            # the seek landed after the resume point (overshot), or past the last frame: an MPEG-TS with
            # one keyframe decoded nothing after any seek, and every rerun said "no decodable video
            # frames" (a tester's). Decode from the start instead, counting frames
            yield from self._from_start(resume, luma, with_rgb)
            return
        if decoded == 0:
            raise InputError(f"{self.path}: no decodable video frames (corrupt or truncated)")
        if step is not None:  # a file cut short decodes up to the cut: what it holds is written, and
            # `ends_early` says so (this failed some cut files after all their frames were done, new user)
            self._decoded_end = float((last_pts + step - (self.stream.start_time or 0)) * self.info.time_base)

    def _decode_skipping_damage(self, from_start: bool = True) -> Iterator[av.VideoFrame]:
        """The stream's frames, a packet the decoder rejects as invalid data skipped and counted (FFmpeg's
        tools go on the same way): one damaged packet failed a whole MP4 film (film-user test). `from_start`:
        count the frames before the first one decoded that never come (`_lost_at_start`)."""
        leading: list[int] | None = [] if from_start else None  # pts of the packets before the first frame out
        for packet in self.container.demux(self.stream):
            try:
                frames = packet.decode()
            except av.error.InvalidDataError:
                self._bad_packets += 1
                continue
            if leading is not None:
                if packet.size and packet.pts is not None and not packet.is_discard:  # not one an edit list cuts
                    leading.append(packet.pts)
                first = next((f.pts for f in frames if f.pts is not None), None)
                if first is not None:
                    # a recording cut mid-way (a broadcast capture, a TS cut at a byte): the frames before its
                    # first keyframe cannot be decoded, and the picture started 1.3 s into the output unsaid
                    self._lost_at_start = (sum(p < first for p in leading), first)
                    leading = None
            yield from frames

    def damage(self, decoded: int) -> str | None:
        """A note where frames went missing inside the stream (damaged data): packets the decoder rejected,
        or a container whose damage lost packets (a damaged MKV lost 16 of 60 frames without a word, the
        jump then taken for a scene cut), seen as jumps in the timestamps. Phones and screen recorders
        hold a frame now and then, so a jump is damage only where a packet was rejected, where an MP4 or
        MOV index counts more frames than were decoded, or, in a container that counts none (MKV, TS,
        AVI), where an otherwise even stream jumps by MIN_LOST_BLOCK frames or more. The frames beside
        a gap keep their times, so a player holds the last one. A resumed run reports what it decoded."""
        # an exact count: an MP4/MOV index's. Duration x nominal rate overcounts a variable rate, and an AVI
        # counts the empty chunks that stand for its gaps
        indexed = self.container.format.name.startswith("mov,mp4")
        want = int(self.stream.frames or 0) if indexed else 0
        short = want and want - decoded > 2 + 0.02 * want
        regular = self._regular >= 0.9 * max(1, self._steps)  # a few jumps in a stream of even steps
        lost_block = not indexed and regular and any(n >= MIN_LOST_BLOCK for _, n in self._gaps)
        missing = sum(n for _, n in self._gaps)
        tb, start = self.info.time_base, self.stream.start_time or 0
        lost, first = self._lost_at_start
        head = (f"the stream starts mid-way (cut from a longer recording?): its first {lost} frame(s) cannot be decoded "
                f"without the frames before them and are left out; the picture starts {float((first - start) * tb):.2f} s "
                "in, as in the source" if lost else None)
        if not self._gaps or not (self._bad_packets or short or lost_block):
            body = f"damaged data: {self._bad_packets} packet(s) could not be decoded and were skipped" if self._bad_packets else None
            return "; ".join(filter(None, [head, body])) or None
        where = ", ".join(f"{float((p - start) * tb):.2f} s ({n})" for p, n in self._gaps[:5]) + (", ..." if len(self._gaps) > 5 else "")
        return "; ".join(filter(None, [head, f"damaged data: {missing} frame(s) missing inside the stream, at {where}; "
                     f"{self._bad_packets} packet(s) could not be decoded. The frames beside each gap keep their times"]))

    def _from_start(self, resume: ResumePoint, luma: bool, with_rgb: bool) -> Iterator[Frame]:
        """`frames` from a resume point, found by decoding from the first frame and counting (where a seek
        fails or lands in the wrong place)."""
        self._reopen()
        self._reset_damage_counts()  # counted again from the start
        yield from self.frames(ResumePoint(resume.frames, None, resume.smoother_state), luma, with_rgb)

    def _reset_damage_counts(self) -> None:
        """What `damage` judges from, counted afresh for a decoding pass."""
        self._bad_packets = 0  # packets the decoder rejected (damaged data), skipped
        self._gaps: list[tuple[int, int]] = []  # (pts before, frames missing) where the timestamps jump
        self._regular = 0  # steps of one frame (within rounding)
        self._steps = 0  # steps measured (this pass: a resumed run measures from where it resumed)
        self._lost_at_start = (0, 0)  # (frames before the first decodable one, that one's pts), decoding from the start

    def _reopen(self) -> None:
        """The container opened afresh, to decode from the start (see `frames`)."""
        self.container.close()
        self.container = _open_input(self.path)
        self.stream = main_video_stream(self.container)
        self.stream.thread_type = "AUTO"

    def header_length(self) -> tuple[int, float | None]:
        """(frames, seconds) of the video stream as its header gives them, (0, None) where it says nothing:
        the stream's frame count, else its duration x rate. The duration is `_track_end`'s less the
        stream's start (the DURATION tag is the track's end, counted from time 0, so a stream starting
        later is not short by its start). Never the container's: that may be a longer audio stream's."""
        s, rate = self.stream, self.info.average_rate
        end = _track_end(self.container, s)
        seconds = max(0.0, float((end - (s.start_time or 0)) * s.time_base)) if end is not None else None
        if self.container.format.name == "avi" and s.frames and rate:
            # an AVI's frame count is its header's (dwLength); FFmpeg's duration is what its index, or a
            # scan of a file without one, found: a cut AVI's own length, so a cut went unsaid (new user)
            seconds = max(seconds or 0.0, float(s.frames / rate))
        frames = int(s.frames or 0) or (int(round(seconds * float(rate))) if seconds and rate else 0)
        return frames, seconds

    def ends_early(self, decoded: int) -> str | None:
        """A note when the stream ended well before its header says (a file cut short, which still decodes
        up to the cut), after `decoded` frames in all; None when it did not or the header says nothing.
        Measured in time where the last frame's time is known (with a variable frame rate, or the gaps
        of an AVI, duration x rate is no frame count), else in frames. Headers are approximate: a
        shortfall within two frames plus 2% is not one."""
        want, seconds = self.header_length()
        if not want or decoded >= want:  # every frame the header counts is there (a clip with broken timestamps
            return None                  # was told "the source ends early: 60 of 60 frames")
        fps = float(self.info.average_rate) if self.info.average_rate else 0.0
        if seconds and fps and self._decoded_end is not None:
            short = seconds - self._decoded_end > 2 / fps + 0.02 * seconds
        else:
            short = want - decoded > 2 + 0.02 * want
        if not short:
            return None
        says = f"{seconds:.1f} s" if seconds else f"{want} frames"
        return f"the source ends early: {decoded} of {want} frames (its header says {says})"


HDR_TRANSFERS = {16: "PQ", 18: "HLG"}  # FFmpeg's AVCOL_TRC_SMPTE2084 and AVCOL_TRC_ARIB_STD_B67
MAX_FRAME_RATE = 1000  # frames a second: an average above it is a time base's, not a rate


def _frame_rate(stream) -> fractions.Fraction | None:
    """The stream's average frame rate, else FFmpeg's guess. A raw DV file's average reads 60000, its time
    base's: the MKV written from it declared 30000 frames a second, and the result said 16016 frames were
    missing of its 8 (a film restorer's test). Not where the guess is itself the time base's: a 1200 frames a
    second MKV (a high-speed camera's, its time base Matroska's millisecond) guesses 1000, and its average is right."""
    average, guess = stream.average_rate, stream.guessed_rate
    if (average and average > MAX_FRAME_RATE and guess and guess <= MAX_FRAME_RATE
            and guess != 1 / stream.time_base):
        return guess
    return average or guess


def _tag(tags: dict, name: str) -> str | None:
    return next((v for k, v in tags.items() if k.lower() == name), None)


_DISCARD_ALL = 48  # FFmpeg's AVDISCARD_ALL: a stream its demuxer sets aside


def _describe_data(container) -> list[str]:
    """The data streams that are not written: not a timecode track (its time is carried as the timecode), nor
    one the demuxer itself sets aside (AVDISCARD_ALL: a QuickTime chapter track, read as the chapters)."""
    out = []
    for x in container.streams:
        if x.type == "data" and not _tag(x.metadata, "timecode") and x.discard != _DISCARD_ALL:
            what = x.codec_context.name if x.codec_context else _tag(x.metadata, "handler_name")  # PyAV names no data codec
            out.append(f"data stream {x.index}" + (f" ({what})" if what else ""))
    return out


def _timecode(container, video) -> str | None:
    """The source's start timecode: on its video stream, a timecode track (MOV's tmcd), or the file."""
    data = [x.metadata for x in container.streams if x.type == "data"]
    return next(filter(None, (_tag(tags, "timecode") for tags in [video.metadata, *data, container.metadata])), None)


def _alpha(stream) -> str | None:
    """What holds the stream's alpha channel, where it has one (`VideoInfo.alpha`): its pixel format (ProRes 4444,
    PNG, QuickTime Animation, FFV1 with transparency), or WebM's alpha_mode tag (VP8/VP9 alpha, stored beside the
    picture)."""
    fmt = stream.codec_context.format
    if fmt is not None and any(c.is_alpha for c in fmt.components):
        return fmt.name
    return "VP8/VP9 alpha" if _tag(stream.metadata, "alpha_mode") == "1" else None


def _pixel_shape(stream) -> fractions.Fraction | None:
    """The stream's sample aspect ratio where its pixels are not square (the container's, else the codec's)."""
    sar = stream.sample_aspect_ratio or stream.codec_context.sample_aspect_ratio
    return sar if sar and sar > 0 and sar != 1 else None


def quarter_turns(rotation: float) -> int:
    """A display rotation in degrees (`VideoInfo.rotation`) as quarter turns counter-clockwise (0-3), to
    the nearest: a tilted -10 degrees is upright, not a quarter turn (a review). The network's input
    (`pipeline.colorize_frames`) and the hints' mapping (`video_hints.probe_display`) both take it so."""
    return round(float(rotation or 0) / 90) % 4


def rgb_picture(frame: av.VideoFrame) -> np.ndarray:
    """(H, W, 3) uint8 RGB, converted by swscale (a limited-range gray frame by `_limited_gray`)."""
    if (levels := _limited_gray(frame)) is not None:
        gray = np.clip(np.round((levels - 16) * (255 / 219)), 0, 255).astype(np.uint8)
        return np.repeat(gray[..., None], 3, axis=-1)
    return frame.to_ndarray(format="rgb24")


_MPEG_RANGE = 1  # AVCOL_RANGE_MPEG: limited-range levels (16 black, 235 white at 8 bits)


def _limited_gray(frame: av.VideoFrame) -> np.ndarray | None:
    """(H, W) float32 levels of a gray frame marked limited range, scaled to 8 bits (16 black, 235 white);
    None for any other frame. swscale takes every gray format as full range whatever the frame says, so a
    monochrome (4:0:0) HEVC or AV1 film, which its decoder hands out as gray marked limited range, came out
    with black at 30 and white at 218 of the output's 16-235: lifted and flat (a film restorer's test)."""
    fmt = frame.format
    if frame.color_range != _MPEG_RANGE or not fmt.name.startswith("gray") or fmt.name.startswith("grayf"):
        return None
    bits = fmt.components[0].bits
    dtype = np.dtype(np.uint8) if bits <= 8 else np.dtype(">u2" if fmt.is_big_endian else "<u2")
    plane = frame.planes[0]
    values = np.frombuffer(plane, dtype).reshape(plane.height, plane.line_size // dtype.itemsize)[:, :frame.width]
    return values.astype(np.float32) / (1 << max(0, bits - 8))  # limited range is 8-bit levels shifted up


def luma_plane(frame: av.VideoFrame) -> np.ndarray:
    """(H, W) uint8 limited-range Y' (16 black, 235 white): the frame's own luma plane, copied as stored
    where it is 8-bit limited-range YUV (a hundredth of a millisecond at 720p, where converting it to
    RGB took 5 ms of CPU), a limited-range gray frame's plane at 8 bits (`_limited_gray`), else swscale's
    conversion to limited-range yuv420p (full-range, 10-bit and RGB sources). The range is asked for:
    PyAV's `frame.reformat` keeps a full-range frame's range, so an MJPEG or full-range H.264, HEVC or
    VP9 source came through full range, shadows crushed and highlights clipped (found by a review)."""
    name = frame.format.name
    if (levels := _limited_gray(frame)) is not None:  # already Y' in limited range, at its own bit depth
        return np.clip(np.round(levels), 0, 255).astype(np.uint8)
    if name.startswith("mono"):  # 1-bit: swscale keeps its full range on the way to yuv420p; through gray it does not
        frame, name = frame.reformat(format="gray"), "gray"
    full = name.startswith("yuvj") or (frame.color_range == _JPEG_RANGE and name.startswith(("yuv", "nv")))
    if name not in LUMA_FORMATS or full:
        frame = VideoReformatter().reformat(frame, format="yuv420p", src_color_range=ColorRange.JPEG if full else None,
                                            dst_color_range=ColorRange.MPEG)
    plane = frame.planes[0]
    return np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)[:, :frame.width].copy()


MIN_LOST_BLOCK = 3  # frames: a jump this long in an even stream without an index is damage, not a held frame


def _bit_depth(fmt) -> int:
    """Bits per sample of a pixel format (8 where it is not known)."""
    try:
        return max((c.bits for c in fmt.components), default=8) if fmt is not None else 8
    except (AttributeError, ValueError):
        return 8


def mirror_matrix(frame) -> tuple[int, ...] | None:
    """A decoded frame's display matrix where it mirrors the picture (its 2x2 part has a negative
    determinant), else None."""
    try:
        side_data = list(frame.side_data)
    except ValueError:  # a kind PyAV does not know (FFmpeg 8's EXIF, 31, on every MJPEG camera frame) fails them all;
        # frame.rotation (read below the enum) still gives a turn; only a mirror from such a file goes unseen
        return None
    for sd in side_data:
        if sd.type.name == "DISPLAYMATRIX":
            m = np.frombuffer(bytes(sd), dtype=np.int32)
            if m.size == 9 and int(m[0]) * int(m[4]) - int(m[1]) * int(m[3]) < 0:
                return tuple(int(v) for v in m)
    return None
