"""Joining: the encoded segments' packets (never re-encoded) and the source's audio and subtitles, as
the OutputPlan says, muxed into the final container.

Timestamps are rebuilt here rather than trusted from the segment files. Every packet gets back the
exact pts of its source frame; dts is the sorted pts delayed by the stream's reorder depth, which is
strictly increasing and never after its pts however sparse the frame times are (a per-segment B-frame
delay does not fit a 1/15 s time base with dropped frames: issue 12, case 4); each packet lasts until
the next frame, the last one until the source's own end. AVI has no presentation timestamps: frames
are put on the coarsest grid that holds their times exactly, written in display order.
"""
from __future__ import annotations

import fractions
import math
from collections import Counter
from dataclasses import dataclass, field
from functools import reduce
from pathlib import Path

import av

from vidcolor.errors import OutputError, StorageError, out_of_space, write_failure
from vidcolor.io.base import VideoInfo
from vidcolor.io.plan import OutputPlan, add_audio_encoder
from vidcolor.io.subtitles import convert_packet
from vidcolor.io.video import _reason, main_video_stream, open_source

AUDIO_LEAD_S = 0.5  # copied packets are muxed up to this far ahead of the video, for interleaving
MAX_GRID_RATE = 240  # AVI: a finer exact grid than this many slots a second is rounded to the frame rate


@dataclass
class _Timing:
    time_base: fractions.Fraction
    pts: list[int]  # per packet, in decode order
    dts: list[int]
    duration: list[int]
    seconds: list[float]  # presentation time on the source's clock, for interleaving
    notes: list[str] = field(default_factory=list)


def _decoder_only(stream) -> bool:
    """Whether the codec PyAV opened to read `stream` has no encoder of that name (AV1 is read with
    libdav1d): its template is then copied as opaque codec parameters, which is all a remux needs (the
    template's encoder lookup failed after the whole film was encoded: `libsvtav1`)."""
    try:
        av.codec.Codec(stream.codec_context.name, "w")
    except (ValueError, av.error.FFmpegError):  # UnknownCodecError is a ValueError
        return True
    return False


def _muxer_options(muxer: str, video_time_base: fractions.Fraction, seconds: float) -> dict[str, str]:
    """Timestamps are exactly the source's: the muxer must not shift them because the first dts is
    negative (MP4 writes an edit list for that instead). MP4 and MOV write the edit lists that place
    each track's first sample in the movie's time scale, 1/1000 s by default: a film whose first frame
    is at 41.708 ms (a 1/11988 time base) came out 0.67 ms early, every frame. The time scale is the
    least common multiple of 1000 and the video's (the video's start exact, the audio's as exact as
    it was), else the video's own, as long as the movie's length (`seconds`) fits 31 bits in it: past
    that FFmpeg writes 64-bit (version 1) headers, which some older readers do not take."""
    options = {"avoid_negative_ts": "disabled"}
    if muxer in ("mp4", "mov"):
        den = video_time_base.denominator
        fits = [s for s in (math.lcm(1000, den), den) if s * (seconds + 1.0) < 2**31]
        if fits and fits[0] != 1000:
            options["movie_timescale"] = str(fits[0])
    return options


def _length_s(timing: _Timing, like: VideoInfo) -> float:
    """The movie's length in seconds, as far as the frames and the source's header say."""
    end = max(timing.seconds, default=0.0) + (float(timing.duration[-1] * timing.time_base) if timing.duration else 0.0)
    return max(end, float(like.duration_s or 0.0))


def _timeline_start(src: av.container.InputContainer, like: VideoInfo, plan: OutputPlan) -> fractions.Fraction:
    """Where the output's timeline starts on the source's clock, in seconds: the source's start (its
    earliest stream's) where that is after 0, so the output starts at 0 as FFmpeg's tools write it; else 0,
    so that a start before 0 (an encoder's priming) and the streams' offsets from each other are kept as
    they are. A broadcast recording's clock starts anywhere: one starting at 3600 s had come out as an MP4
    with an hour-long empty edit, an MKV of 1:00:01.6 (a review). Where the video itself starts before 0,
    at the earliest stream's start too: its frames before 0 are frames to show (a decoder hands out none
    that an edit list cuts), and an MPEG-TS recording begun a second before its 33-bit clock wrapped
    (FFmpeg reads that second as negative time) came out as an MP4 or MOV that played only the frames after
    0, half of a 2 s clip, and an MKV whose frames had no timestamps (a film restorer's find); the sound
    that leads its picture leads it still, as at any other clock. AVI (frames on a grid from the sound's
    start, `_on_grid`) is left as it was."""
    if plan.container.constant_rate:
        return fractions.Fraction(0)
    kept = {sp.index for sp in plan.streams if sp.action != "drop"}
    # the earliest of the streams written (not the container's start_time, which leaves out a text subtitle
    # that starts over 1 s before the rest: its cues came out early, or over the first frame; a review), the
    # video's from the first frame decoded
    starts = [fractions.Fraction(s.start_time) * s.time_base for s in src.streams if s.index in kept and s.start_time is not None]
    video = fractions.Fraction(like.start_pts) * like.time_base if like.start_pts is not None else fractions.Fraction(0)
    start = min(starts + [video])
    # a video before 0 is a clock that wrapped, read as negative: shifted as the same recording is at any other
    # clock, by its earliest stream's start; by the video's alone, the sound that led it stayed before 0, and an
    # MP4 or MOV cut it (0.3 s of a recording's sound, kept where its clock did not wrap: a reviewer's find)
    return start if start > 0 or video < 0 else fractions.Fraction(0)


def join_segments(parts: list[tuple[Path, int]], tmp: Path, like: VideoInfo, plan: OutputPlan, rotation: int,
                  mirror_matrix=None) -> list[str]:
    """Mux `parts` (each a segment file and the pts of its first frame) and the passthrough streams into
    tmp, with the source's display rotation (or its whole display matrix where that mirrors the
    picture); returns notes for the user. Raises OutputError naming plan.dst."""
    try:
        timing = _timing(parts, like, plan, _audio_origin(like) if plan.container.constant_rate else None)
        out = av.open(str(tmp), "w", format=plan.container.muxer, options=_muxer_options(plan.container.muxer, timing.time_base, _length_s(timing, like)))
    except av.error.FFmpegError as e:
        raise write_failure(e, f"{plan.dst}: cannot create the output ({_reason(e)})") from e
    try:
        with av.open(str(parts[0][0])) as first:
            ost = out.add_stream_from_template(first.streams.video[0], opaque=_decoder_only(first.streams.video[0]) or None)
            retime = _rate_filter(first.streams.video[0], ost, like.average_rate)
            hevc = first.streams.video[0].codec_context.name == "hevc"
        ost.time_base = timing.time_base
        if hevc and plan.container.muxer in ("mp4", "mov"):
            ost.codec_context.codec_tag = "hvc1"  # FFmpeg's default hev1 does not play in QuickTime, Safari or on iOS
        if like.average_rate:
            # The template's frame rate is the segments' codec's, which may be 1 / time base (x264's
            # timing info, below); the container declares the source's (the stream's average rate,
            # Matroska's default duration). Timestamps are set per packet and do not depend on it.
            ost.codec_context.framerate = like.average_rate
        if like.sample_aspect_ratio:  # the container's (MP4's pasp, Matroska's display size); segments written
            ost.codec_context.sample_aspect_ratio = like.sample_aspect_ratio  # before it was kept carry none
        if plan.container.muxer == "avi" and (rotation or mirror_matrix):  # a new user's phone clip played sideways
            timing.notes.append(f"AVI holds no display {'matrix' if mirror_matrix else 'rotation'}: the frames are as "
                                f"stored, which the source shows {'mirrored' if mirror_matrix else f'turned {rotation} degrees'}; "
                                "write .mp4, .mkv or .mov to keep that")
        elif mirror_matrix:
            ost.set_display_matrix(list(mirror_matrix))
        elif rotation:
            ost.set_display_rotation(rotation)
        passthrough = Passthrough(like, out, plan)
        start = passthrough.start
        shift = _rescale(1, start / timing.time_base) if start else 0  # the video's, in its time base
        passthrough.label(ost, out)
        i = 0
        for path, _ in parts:
            with av.open(str(path)) as c:
                for pkt in c.demux(c.streams.video[0]):
                    if pkt.pts is None:
                        continue  # the demuxer's flush packet
                    if i == 0 and plan.container.constant_rate and timing.dts[0] > 0:
                        _empty_slots_before(out, ost, timing.time_base)
                    pkt.time_base = timing.time_base
                    pkt.pts, pkt.dts, pkt.duration = timing.pts[i] - shift, timing.dts[i] - shift, timing.duration[i]
                    passthrough.mux_until(timing.seconds[i])
                    i += 1
                    for p in retime.filter(pkt) if retime is not None else (pkt,):
                        p.stream, p.time_base = ost, timing.time_base
                        out.mux(p)
        passthrough.close()
        out.close()
        timing.notes += passthrough.notes + passthrough.left_out(tmp) + passthrough.tags_left_out(tmp)
    except BaseException as e:
        try:
            out.close()
        except (av.error.FFmpegError, ValueError):
            pass  # the partial file is deleted either way
        tmp.unlink(missing_ok=True)
        if out_of_space(e):  # the run stops: the finished segments are kept for the next run (a review)
            raise StorageError(f"{plan.dst}: joining the encoded segments stopped: {_reason(e)}; the run stops "
                               "(the finished segments are kept: free space and run the same command again)") from e
        if isinstance(e, (av.error.FFmpegError, ValueError)):  # PyAV reports some muxer refusals as ValueError
            raise OutputError(f"{plan.dst}: joining the encoded segments failed: {_reason(e)}") from e
        raise
    return timing.notes


def _rescale(ts: int, scale: fractions.Fraction) -> int:
    """ts * scale rounded as FFmpeg's av_rescale_q rounds (to nearest, halves away from zero)."""
    x = ts * scale
    return int(math.floor(x + fractions.Fraction(1, 2))) if x >= 0 else -int(math.floor(-x + fractions.Fraction(1, 2)))


def _rate_filter(template: av.stream.Stream, ost: av.stream.Stream,
                 rate: fractions.Fraction | None) -> av.bitstream.BitStreamFilterContext | None:
    """For H.264, a filter that rewrites the timing info of the sequence header (in ost's extradata and
    in the packets) to the source's frame rate; else None. x264 writes its time base there, the
    source's (1/14848 s, say), which decoders and probes read as 14848 frames a second. The encoded
    pictures are untouched; the fixed-frame-rate flag stays as x264 set it (off: timing may vary)."""
    if not rate or template.codec_context.name != "h264" or "h264_metadata" not in av.bitstream.bitstream_filters_available:
        return None
    # H.264 counts ticks of half a frame: time_scale / num_units_in_tick is twice the frame rate
    bsf = av.bitstream.BitStreamFilterContext(f"h264_metadata=tick_rate={2 * rate}", template, ost)
    ost.codec_context.codec_tag = "\0\0\0\0"  # as add_stream_from_template leaves it: the muxer picks its own
    return bsf


def _audio_origin(like: VideoInfo) -> int | None:
    """AVI: where its audio starts, in the video's time base (None without audio). AVI has no timestamps, only slots from the start: the audio plays from its first sample,
    so frames are placed from the audio's start, not from the first frame. Megamind.avi's first frame
    (41.7 ms after its AC-3) came out at 0, one frame early against the sound, in the AVI only."""
    try:
        with open_source(like.path) as src:
            starts = [s.start_time * s.time_base for s in src.streams.audio if s.start_time is not None]
    except (av.error.FFmpegError, OSError):
        return None
    return math.floor(min(starts) / like.time_base) if starts else None  # (_on_grid: only where before the first frame)


def _empty_slots_before(out: av.container.OutputContainer, ost: av.stream.Stream, tb: fractions.Fraction) -> None:
    """An empty video chunk at slot 0 (no new picture), so that FFmpeg's AVI muxer, which fills gaps only
    after a stream's first packet, puts the first frame at its own slot rather than at 0."""
    empty = av.Packet(b"")
    empty.stream, empty.time_base = ost, tb
    empty.pts = empty.dts = 0
    out.mux_one(empty)


def _timing(parts: list[tuple[Path, int]], like: VideoInfo, plan: OutputPlan, origin: int | None = None) -> _Timing:
    """First pass over the segments (packet headers only): every packet's pts, then dts and duration.
    `origin`: AVI's grid starts there (`_audio_origin`), else at the first frame."""
    pts: list[int] = []
    for path, first_pts in parts:
        with av.open(str(path)) as c:
            st = c.streams.video[0]
            ratio = st.time_base / like.time_base  # MP4 may pick a finer timescale than the source's
            seg = [round(p.pts * ratio) for p in c.demux(st) if p.pts is not None]
        shift = first_pts - min(seg)  # segments have no edit list: their first frame may sit at 0
        pts += [p + shift for p in seg]
    if len(set(pts)) != len(pts):
        raise OutputError(f"{plan.dst}: two encoded frames share a timestamp; cannot join")
    tb, notes = like.time_base, []
    seconds = [float(p * tb) for p in pts]
    end = like.end_pts if like.end_pts is not None and like.end_pts > max(pts) else None  # the video stream's own end
    if plan.container.constant_rate:
        pts, tb, end, note = _on_grid(pts, like, end, origin)
        notes += [note] if note else []
    order = sorted(pts)
    rank = {p: k for k, p in enumerate(order)}
    delay = max(i - rank[p] for i, p in enumerate(pts))  # reorder depth: B-frames come after their references
    step = _frame_step(like, tb)
    gaps = {a: b - a for a, b in zip(order, order[1:])}
    lead = gaps.get(order[0]) or step or 1  # the first packets' dts step back from the first pts by whole frames
    dts = [order[i - delay] if i >= delay else order[0] - (delay - i) * lead for i in range(len(pts))]
    # the last frame lasts until the stream's end where the header says, else one nominal frame
    tail = end - order[-1] if end is not None else step or (gaps[order[-2]] if len(order) > 1 else 1)
    return _Timing(tb, pts, dts, [gaps.get(p, tail) for p in pts], seconds, notes)


def _frame_step(like: VideoInfo, tb: fractions.Fraction) -> int | None:
    return max(1, round(1 / (like.average_rate * tb))) if like.average_rate else None


def _on_grid(pts: list[int], like: VideoInfo, end: int | None,
             origin: int | None = None) -> tuple[list[int], fractions.Fraction, int | None, str | None]:
    """AVI: frame times as slot numbers on a fixed grid, and the grid's time base. The coarsest grid that
    holds every frame time exactly when it is at most MAX_GRID_RATE slots a second (empty slots repeat
    the previous frame); else the frame-rate grid, rounded. The grid is chosen from the frames alone;
    the first frame then sits as many whole slots after `origin` (where the sound starts) as it came
    after it, where that is at least half a slot (an origin in the grid's choice made a 25 fps film with
    its sound 10 ms ahead a 100 fps AVI of empty chunks: a review)."""
    first = min(pts)
    rel = [p - first for p in pts]
    g = reduce(math.gcd, rel, 0) or 1
    tick = like.time_base * g
    lead = 0 if origin is None or origin >= first or origin < 0 else (first - origin)  # negative: an encoder's priming
    if 1 / tick <= MAX_GRID_RATE:
        off = round(lead * like.time_base / tick)
        return [r // g + off for r in rel], tick, None if end is None else (end - first) // g + off, None
    tick = 1 / (like.average_rate or fractions.Fraction(25))
    off = round(lead * like.time_base / tick)
    slots, last = [], off - 1
    for r in rel:  # display order: AVI output has no B-frames
        last = max(round(r * like.time_base / tick) + off, last + 1)
        slots.append(last)
    note = f"AVI holds frames on a fixed grid: timestamps rounded to 1/{float(1 / tick):g} s"
    return slots, tick, None, note


# the file's tags carried over: what describes the work and its recording, not the file (not ENCODER or brands);
# an archive's copyright and comment were dropped without a word (a film restorer's test). creation_time, location,
# make and model too: on a camera original (a phone's or a camcorder's clip) they are the only record of when,
# where and with what it was filmed, and an archivist's clips lost all four without a word. (A source that was
# itself remuxed may hold its muxing time there: it is kept as it is, as FFmpeg's tools keep it.)
FILE_TAGS = {"title", "comment", "description", "synopsis", "copyright", "artist", "director", "composer", "date",
             "genre", "album", "show", "episode_id", "network", "keywords", "creation_time", "location", "make", "model"}
TAG_READ_BACK = {"product": "album"}  # a tag as a container's demuxer names it back (AVI's IPRD), where not by its own name
KEPT_TAGS = {"language", "title"}  # a stream's tags carried over; not DURATION, ENCODER and the like
# ISO 639-2 has two codes for some languages; FFmpeg's MOV muxer (its QuickTime language table) writes only one
# of each pair, and a German track ("deu") came out with no language at all (a film restorer's test). Measured
# with PyAV 18.1: these are the spellings it drops, and the twin it keeps ("mri"/"mao" it drops both ways).
MOV_LANGUAGE = {"sqi": "alb", "hye": "arm", "eus": "baq", "mya": "bur", "zho": "chi", "nld": "dut", "kat": "geo",
                "deu": "ger", "ell": "gre", "isl": "ice", "mkd": "mac", "msa": "may", "fas": "per", "bod": "tib",
                "cym": "wel", "cze": "ces", "fre": "fra", "rum": "ron", "slo": "slk"}


def kept_tags(tags: dict, out: av.container.OutputContainer) -> dict:
    """A stream's language and title, as `out` writes them: MP4 and MOV keep a title as the track's
    handler name (FFmpeg reads it back so), and an MP4 source's handler name is its title, unless it
    is a muxer's stock one ("SoundHandler", "Core Media Audio")."""
    kept = {k.lower(): v for k, v in tags.items() if k.lower() in KEPT_TAGS}
    handler = next((v for k, v in tags.items() if k.lower() == "handler_name"), None)
    if "title" not in kept and handler and not _stock_handler(handler):
        kept["title"] = handler
    if "title" in kept and out.format.name in ("mp4", "mov"):
        kept["handler_name"] = kept.pop("title")
    if out.format.name == "mov" and "language" in kept:
        kept["language"] = MOV_LANGUAGE.get(kept["language"].lower(), kept["language"])
    return kept


def _stock_handler(name: str) -> bool:
    return name.endswith("Handler") or name.startswith(("Core Media", "Apple ", "Mainconcept", "GPAC", "L-SMASH"))


class Passthrough:
    """Carries the source's audio and subtitle streams into the output as the plan says: copied packet
    for packet (a second demuxer reads them alongside the video, so memory stays flat), re-framed
    between text subtitle codecs, or transcoded."""

    def __init__(self, like: VideoInfo, out: av.container.OutputContainer, plan: OutputPlan):
        self.src = open_source(like.path)
        self.out = out
        self.plan = plan
        self.start = _timeline_start(self.src, like, plan)  # where the output's timeline starts on the source's clock
        self.map: dict[int, tuple[av.stream.Stream, str, str | None]] = {}  # input index -> (stream, action, target)
        for sp in plan.streams:
            s = self.src.streams[sp.index]
            if sp.action == "copy":
                ost = out.add_stream_from_template(s)
            elif sp.action == "transcode":
                ost = add_audio_encoder(out, sp)
            elif sp.action == "reframe":
                ost = out.add_mux_stream(sp.target)
            else:
                continue
            ost.metadata.update(kept_tags(s.metadata, out))
            ost.disposition = s.disposition  # default, forced, commentary, ...: a forced subtitle had lost its flag
            self.map[sp.index] = (ost, sp.action, sp.target)
        if out.format.name == "matroska":  # an ASS subtitle's fonts; other containers hold none (a plan note)
            for index in like.attachments:
                a = self.src.streams[index]
                out.add_attachment(a.name, a.mimetype, a.data)
        streams = [s for s in self.src.streams if s.index in self.map]
        self.packets = self.src.demux(*streams) if streams else iter(())
        self.pending = None
        self.done = not streams
        self.last_dts: dict[int, int] = {}  # input index -> the last copied packet's dts, in its output stream's time base
        self.last_end: dict[int, int] = {}  # and its dts + duration
        self.repaired: dict[str, int] = {}  # 'audio stream 1' -> packets whose dts did not increase
        self.damaged: dict[str, int] = {}  # 'audio stream 1' -> packets the decoder rejected (transcoded streams)
        self.chapter_note: str | None = None
        self.muxed = dict.fromkeys(self.map, 0)  # input index -> packets muxed into its output stream (`left_out`)
        self.length = like.duration_s  # the output's length in seconds, where the source's header gives it
        self.file_tags: dict[str, str] = {}  # the source's tags of the work, as `label` gives them to the output

    def _monotonic(self, pkt: av.Packet, ost: av.stream.Stream) -> None:
        """A copied packet's dts made to increase in the output's time base, as FFmpeg's own tools do for
        a stream copy (dts = previous + 1 with a warning; here, where the previous packet ends when it
        gives its duration, so that repeated timestamps of audio frames become consecutive frames): MP4, MOV and AVI refuse a dts that does not,
        and a stream-copied AVI's AC-3 came with repeated ones (0, 0, 0, 1, ...), so the join failed with
        "Invalid argument" after every frame was colorized (new-user test). Compared after rescaling:
        AVI's audio time base is a packet long, so distinct input times can meet there. Matroska takes
        equal ones as they are."""
        last = self.last_dts.get(pkt.stream.index)
        if last is None or not ost.time_base or self.out.format.name in ("matroska", "webm"):
            return
        scale = pkt.time_base / ost.time_base
        dts = pkt.dts if pkt.dts is not None else pkt.pts
        if _rescale(dts, scale) > last:
            return
        pts = None if pkt.pts is None else _rescale(pkt.pts, scale)
        new = max(last + 1, self.last_end.get(pkt.stream.index, 0))  # where the previous packet ends, if it says
        pkt.time_base, pkt.dts = ost.time_base, new
        pkt.pts = None if pts is None else max(pts, new)
        what = f"{pkt.stream.type} stream {pkt.stream.index}"
        self.repaired[what] = self.repaired.get(what, 0) + 1

    def _shift(self, pkt: av.Packet) -> None:
        """A packet moved onto the output's timeline (`self.start` earlier), in its own time base."""
        if self.start:
            d = _rescale(1, self.start / pkt.time_base)
            pkt.pts = None if pkt.pts is None else pkt.pts - d
            pkt.dts = None if pkt.dts is None else pkt.dts - d

    @property
    def notes(self) -> list[str]:
        return [f"{what}: the timestamps of {n} copied packet(s) did not increase; each was moved to just after "
                "the one before (as FFmpeg does)" for what, n in self.repaired.items()] + [
                f"{what}: damaged data: {n} packet(s) could not be decoded and were skipped" for what, n in self.damaged.items()] + (
                [self.chapter_note] if self.chapter_note else [])

    def label(self, video: av.stream.Stream, out: av.container.OutputContainer) -> None:
        """The source's title and other tags of the work (FILE_TAGS) on the output, and its video stream's
        language and title on `video`: a restoration with several languages could not tell its tracks apart
        (film-user test)."""
        self.file_tags = {k.lower(): v for k, v in self.src.metadata.items() if k.lower() in FILE_TAGS}
        out.metadata.update(self.file_tags)
        main = main_video_stream(self.src)
        video.metadata.update(kept_tags(main.metadata, out))
        video.disposition = main.disposition
        if made_by := self.plan.made_by:  # that it was colorized, and by what: MP4 and MOV keep a track's encoder as its
            # 31-character compressor name, which the weights' id does not fit; MP4 the whole as the file's encoding tool
            short = made_by.split(";")[0] + ")" if out.format.name in ("mp4", "mov") else made_by
            video.metadata["encoder"] = short
            if out.format.name == "mp4":
                out.metadata["encoding_tool"] = made_by
        if self.plan.timecode:  # MOV and MP4 write it as a timecode track, Matroska as a tag
            video.metadata["timecode"] = self.plan.timecode
        self._chapters(out)

    def _chapters(self, out: av.container.OutputContainer) -> None:
        """The source's chapters on the output's timeline (moved with it where it starts later than 0, and cut at
        its end), or a note where the container holds none: they were dropped from every output without a word
        (a film restorer's test). Chapters never cost a film: read at the join, after every frame is done, ones
        that cannot be read or written are dropped with a note (a title not in UTF-8 had failed the join: a review; since
        open_source reads metadata with errors="replace", such a title is kept with U+FFFD in it)."""
        try:
            source = self.src.chapters()
        except (ValueError, av.error.FFmpegError) as e:
            self.chapter_note = f"chapters dropped: they could not be read ({_reason(e)})"
            return
        length = self.length
        chapters = []
        for ch in source:
            tb = ch["time_base"]
            d = _rescale(1, self.start / tb) if self.start else 0
            start, end = ch["start"] - d, ch["end"] - d
            cap = None if length is None else _rescale(1, length / tb)
            if end < start or (d and end <= 0) or (cap is not None and start >= cap):
                continue  # before the output's start, or after its end
            chapters.append({**ch, "start": max(0, start), "end": end if cap is None else min(end, cap),
                             "metadata": dict(ch.get("metadata") or {})})
        if not chapters:
            return
        if out.format.name == "avi":
            self.chapter_note = f"{len(chapters)} chapter(s) dropped: AVI holds none; write .mkv, .mp4 or .mov to keep them"
            return
        try:
            out.set_chapters(chapters)
        except (ValueError, av.error.FFmpegError) as e:
            self.chapter_note = f"{len(chapters)} chapter(s) dropped: the {out.format.name} muxer did not take them ({_reason(e)})"

    def mux_until(self, t: float | None) -> None:
        """Mux the packets whose time is at most t seconds (all of them when t is None)."""
        while not self.done:
            pkt = self.pending or next(self.packets, None)
            self.pending = None
            if pkt is None:
                self.done = True
                break
            if pkt.dts is None and pkt.pts is None:
                continue  # demuxer flush packet
            ts = pkt.dts if pkt.dts is not None else pkt.pts
            if t is not None and ts * pkt.time_base > t + AUDIO_LEAD_S:
                self.pending = pkt
                return
            ost, action, target = self.map[pkt.stream.index]
            if action == "transcode":
                try:
                    frames = pkt.decode()  # keeps its pts: the encoder's priming then sits before 0, and MP4 trims it
                except av.error.InvalidDataError:  # with an edit list (PyAV resamples to the encoder's rate)
                    # a damaged packet is skipped, as the video's are: one had failed a whole film at its join,
                    # after every frame was done, and again on every re-run (a review)
                    what = f"{pkt.stream.type} stream {pkt.stream.index}"
                    self.damaged[what] = self.damaged.get(what, 0) + 1
                    continue
                for frame in frames:
                    if self.start and frame.pts is not None:
                        frame.pts -= _rescale(1, self.start / frame.time_base)
                    for p in ost.encode(frame):
                        self.out.mux(p)
                        self.muxed[pkt.stream.index] += 1
            elif action == "copy":
                index = pkt.stream.index
                self._shift(pkt)
                self._monotonic(pkt, ost)
                pkt.stream = ost
                self.out.mux(pkt)  # which rebases the packet to ost's time base
                self.last_dts[index] = pkt.dts if pkt.dts is not None else pkt.pts
                self.last_end[index] = self.last_dts[index] + (pkt.duration or 0)
                self.muxed[index] += 1
            else:
                new = av.Packet(convert_packet(bytes(pkt), pkt.stream.codec_context.name, target))
                new.stream, new.time_base = ost, pkt.time_base
                new.pts, new.dts, new.duration = pkt.pts, pkt.dts, pkt.duration
                self._shift(new)
                self.out.mux(new)
                self.muxed[pkt.stream.index] += 1

    def close(self) -> None:
        self.mux_until(None)
        for index, (ost, action, _) in self.map.items():
            if action == "transcode":
                for p in ost.encode(None):
                    self.out.mux(p)
                    self.muxed[index] += 1
        self.src.close()

    def tags_left_out(self, written: Path) -> list[str]:
        """A note naming the source's tags of the work (FILE_TAGS) that `written` (the closed output) does not hold:
        a muxer writes those its container has a field for and skips the rest without an error (MOV no description,
        director or keywords, MP4 no director, AVI no creation time), and they were lost without a word (an
        archivist's test). The output is read back rather than each muxer's table copied here."""
        if not self.file_tags:
            return []
        with av.open(str(written)) as back:
            held = {TAG_READ_BACK.get(k.lower(), k.lower()) for k in back.metadata}
        if not (lost := sorted(k for k in self.file_tags if k not in held)):
            return []
        label = self.plan.container.label
        return [f"tag{'s' if len(lost) > 1 else ''} {', '.join(lost)} not kept: {label} has no field for "
                f"{'them' if len(lost) > 1 else 'it'}; write .mkv to keep every tag"]

    def left_out(self, written: Path) -> list[str]:
        """Notes for the streams that got no packet and that the muxer then left out of `written` (the closed
        output): MP4's and MOV's write no track without samples, so an MKV's empty AAC track, planned as copied,
        was missing from the MP4 without a word (a review). Matroska keeps an empty track, and MP4 an empty
        mov_text one: the output is read back rather than the muxers' ways assumed, and its tracks counted by
        type (a muxer leaves out none that holds packets)."""
        empty = [i for i, n in self.muxed.items() if n == 0]
        if not empty:
            return []
        made = Counter(ost.type for ost, _, _ in self.map.values())
        with av.open(str(written)) as back:
            kept = Counter(s.type for s in back.streams)
        notes = []
        for what in dict.fromkeys(self.map[i][0].type for i in empty):
            lost, plans = made[what] - kept[what], [sp for sp in self.plan.streams if sp.index in empty and sp.type == what]
            if lost <= 0:
                continue
            label = self.plan.container.label
            names = ", ".join(f"{sp.type} stream {sp.index} ({sp.codec})" for sp in plans)
            if lost == len(plans):
                holds = "it holds" if len(plans) == 1 else "they hold"
                notes.append(f"{names} not written: {holds} no packets, and {label} keeps no empty track")
            else:  # not met: a muxer that keeps some empty tracks of one type and not others
                notes.append(f"{names} hold no packets: {label} kept {len(plans) - lost} of these {len(plans)} empty tracks")
        return notes
