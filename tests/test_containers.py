"""Output containers and timestamps (issue 12, cases 3 and 4): what cannot be written is refused with
one line before any decoding; everything else round-trips with its frames, duration and audio."""
import fractions
import random
import time
from pathlib import Path

import av
import numpy as np
import pytest

from tests.matrix import AUDIO, AUDIO_TOLERANCE_S, OUTPUTS, codecs, make_source, run_cell
from tests.media import audio_seconds, frame_pattern, mux_frames, probe, write_video
from vidcolor.errors import OutputError
from vidcolor.io.plan import plan_output
from vidcolor.io.video import VideoSource
from vidcolor.pipeline import VideoOptions, colorize_video

EXPECTED_AUDIO = {  # output container -> source audio codec -> audio codec in the output
    "mp4": {"aac": "aac", "mp3": "mp3", "ac3": "ac3", "opus": "opus", "pcm_s16le": "aac"},
    "mov": {"aac": "aac", "mp3": "mp3", "ac3": "ac3", "opus": "aac", "pcm_s16le": "pcm_s16le"},
    "mkv": {"aac": "aac", "mp3": "mp3", "ac3": "ac3", "opus": "opus", "pcm_s16le": "pcm_s16le"},
    "webm": {"aac": "opus", "mp3": "opus", "ac3": "opus", "opus": "opus", "pcm_s16le": "opus"},
    # AVI: this MKV's MP3 starts with its encoder's 69 ms of priming, which the MKV skips and AVI cannot
    "avi": {"aac": "pcm_s16le", "mp3": "pcm_s16le", "ac3": "ac3", "opus": "pcm_s16le", "pcm_s16le": "pcm_s16le"},
}


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    root = tmp_path_factory.mktemp("sources")
    return {a: make_source(root, a) for a in AUDIO}


@pytest.mark.parametrize("output", OUTPUTS)
def test_every_container_with_every_audio_codec_round_trips(tmp_path, colorizer, sources, output):
    for audio in AUDIO:
        cell = run_cell(sources[audio], output, colorizer, tmp_path)
        assert cell.outcome == "works", f"{output} with {audio}: {cell.detail}"
        assert cell.video == {"webm": "vp9", "avi": "mpeg4"}.get(output, "h264")
        assert cell.audio_out == (EXPECTED_AUDIO[output][audio] if audio else "-")


@pytest.fixture
def no_decoding(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a refused output must not decode a frame")

    monkeypatch.setattr(VideoSource, "frames", refuse)


@pytest.mark.parametrize("name, opts, reason", [
    ("out.gif", {}, "not a video container"),
    ("photo.jpg", {}, "cannot be written as an image"),
    ("noext", {}, "no file extension"),
    ("out.webm", {"codec": "libx264"}, "vidcolor does not write h264 video into WebM"),
    ("out.avi", {"codec": "libx264"}, "vidcolor does not write h264 video into AVI"),
    ("out.mp4", {"codec": "nonsense"}, "unknown video encoder"),
    ("out.mp4", {"codec": "aac"}, "not a video one"),
    ("out.mp4", {"codec": "mpeg4", "crf": 20}, "--crf does not apply to mpeg4"),
])
def test_impossible_outputs_are_refused_in_one_line_before_decoding(tmp_path, colorizer, no_decoding, name, opts, reason):
    src = write_video(tmp_path / "in.mp4", frames=30, audio="aac")
    dst = tmp_path / "out" / name
    t0 = time.perf_counter()
    with pytest.raises(OutputError) as e:
        colorize_video(src, dst, colorizer, VideoOptions(**opts))
    assert time.perf_counter() - t0 < 2.0
    msg = str(e.value)
    assert reason in msg and str(dst) in msg and "\n" not in msg
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").rglob("*.work")) == []
    assert not dst.exists()


def test_odd_size_with_an_encoder_that_needs_even_sizes_is_refused(tmp_path):
    from vidcolor.io.plan import plan_output

    src = write_video(tmp_path / "odd.mp4", w=75, h=51, frames=3, audio=None)
    with pytest.raises(OutputError, match=r"odd frame size 75x51: mpeg4 needs even sizes \(libx264 keeps them, as 4:4:4\)"):
        plan_output(src, tmp_path / "o.mp4", codec="mpeg4")


def test_an_odd_size_avi_is_written_with_mjpeg_which_keeps_it(tmp_path, colorizer):
    """A new user's 431x319 clip to AVI was told "libx264 keeps them", which AVI cannot hold, and --codec mjpeg
    failed with "Invalid argument" (MJPEG opens 4:4:4 only in JPEG's full range). Then a 321x241 AVI failed
    every nightly folder run, and --codec mjpeg, the advice, failed the folder's MP4s: with no --codec, AVI's
    other encoder, MJPEG, is taken, with a note; --codec mpeg4 asked for is still refused."""
    from vidcolor.io.plan import plan_output

    src = write_video(tmp_path / "odd.mp4", w=75, h=51, frames=3, audio=None)
    plan = plan_output(src, tmp_path / "o.avi")
    assert plan.encoder == "mjpeg" and plan.pix_fmt == "yuvj444p", plan
    assert "mpeg4 needs even frame sizes: written with mjpeg (--codec picks another)" in plan.notes
    with pytest.raises(OutputError, match=r"mpeg4 needs even sizes \(MJPEG keeps them, as 4:4:4: --codec mjpeg\)$"):
        plan_output(src, tmp_path / "o.avi", codec="mpeg4")
    assert plan_output(write_video(tmp_path / "even.mp4", w=76, h=52, frames=3, audio=None), tmp_path / "e.avi").encoder == "mpeg4"
    for codec in (None, "mjpeg"):
        res = colorize_video(src, tmp_path / f"o_{codec}.avi", colorizer, VideoOptions(codec=codec, temporal="off"))
        assert probe(res.output)["frames"] == 3 and (probe(res.output)["width"], probe(res.output)["height"]) == (75, 51)
        with av.open(str(res.output)) as c:
            assert c.streams.video[0].codec_context.name == "mjpeg"


def test_plan_picks_what_each_container_holds(tmp_path):
    from vidcolor.io.plan import plan_output

    src = write_video(tmp_path / "in.mkv", frames=3, audio="ac3")
    webm = plan_output(src, tmp_path / "o.webm")
    assert (webm.encoder, webm.options["crf"], webm.options["b"]) == ("libvpx-vp9", "32", "0")
    assert [(s.action, s.target, s.sample_rate) for s in webm.streams] == [("transcode", "libopus", 48000)]
    assert webm.notes == ["audio stream 1 (ac3) transcoded to Opus: WebM cannot hold ac3"]
    avi = plan_output(src, tmp_path / "o.avi")
    assert (avi.encoder, avi.options["flags"], avi.options["bf"]) == ("mpeg4", "+qscale", "0")
    assert [s.action for s in avi.streams] == ["copy"]
    mkv = plan_output(src, tmp_path / "o.mkv", codec="libx265", crf=23, preset="fast")
    assert (mkv.encoder, mkv.options) == ("libx265", {"crf": "23", "preset": "fast", "x265-params": "log-level=error"})


def test_the_user_chosen_vp9_into_webm_gets_opus_audio(tmp_path, colorizer):
    """The issue's `-o out.webm --codec libvpx-vp9` failed on the AAC audio after the whole encode."""
    src = write_video(tmp_path / "in.mp4", frames=10, audio="aac")
    res = colorize_video(src, tmp_path / "out.webm", colorizer, VideoOptions(codec="libvpx-vp9", temporal="off"))
    assert codecs(res.output) == ("vp9", ["opus"]) and probe(res.output)["frames"] == 10
    assert any("transcoded to Opus" in n for n in res.notes)


@pytest.mark.parametrize("ext", [".mkv", ".webm", ".mp4"])
def test_av1_is_joined_once_encoded(tmp_path, colorizer, ext):
    """A new user's `--codec libsvtav1` encoded the whole clip, then the join failed ("libdav1d": the segments'
    template names the AV1 decoder, which has no encoder), leaving a .work folder."""
    import av

    if "libsvtav1" not in av.codecs_available:
        pytest.skip("this FFmpeg build has no libsvtav1")
    src = write_video(tmp_path / "in.mp4", w=64, h=48, frames=6, audio=None)
    res = colorize_video(src, tmp_path / f"out{ext}", colorizer, VideoOptions(codec="libsvtav1", temporal="off"))
    assert res.status == "done" and codecs(res.output)[0] == "av1"
    with av.open(str(res.output)) as c:
        assert sum(1 for _ in c.decode(video=0)) == 6
    assert not list(tmp_path.glob("*.work"))


def test_vp8_and_a_bad_preset_are_refused_with_the_real_reason(tmp_path):
    """VP8 was refused for .webm because "'mp4' format does not support 'libvpx'" (the segments' format);
    an unknown --preset said only "Invalid argument"."""
    from vidcolor.io.plan import plan_output

    src = write_video(tmp_path / "in.mp4", w=64, h=48, frames=2, audio=None)
    for out in ("o.webm", "o.mkv"):  # and not listed as writable in either (new-user test, 2026-11-27)
        with pytest.raises(OutputError, match=r"does not write vp8 video into .*which cannot hold VP8\); it writes (h264, hevc, )?vp9, av1"):
            plan_output(src, tmp_path / out, codec="libvpx")
    with pytest.raises(OutputError, match=r"--preset bogus: libx264 presets are ultrafast, superfast, .*, placebo \(or 0 to 9\)$"):
        plan_output(src, tmp_path / "o.mp4", preset="bogus")  # before x264 prints its own line (new-user test)
    for ok in ("Medium", "VERYFAST", "5"):  # as x264 takes them (a review)
        assert plan_output(src, tmp_path / "o.mp4", preset=ok).options["preset"] == ok


def sparse_pts(n: int, seed: int) -> list[int]:
    """Frame times of a capture that dropped frames: the issue's 0, 11, 17, 24, 31, then random gaps."""
    rng = random.Random(seed)
    pts = [0, 11, 17, 24, 31]
    while len(pts) < n:
        pts.append(pts[-1] + rng.choice([1, 1, 2, 3, 6, 7, 11]))
    return pts


SPARSE_SOURCES = {
    # the file: Cinepak in AVI, time base 1/15, 68 frames with gaps
    "cinepak.avi": dict(codec="cinepak", frames=68, time_base=fractions.Fraction(1, 15), audio="pcm_s16le"),
    # H.264 with B-frames (decode order is not display order) and gaps, in MKV and in MP4 at 1/15
    "bframes.mkv": dict(codec="libx264", frames=40, time_base=fractions.Fraction(1, 15), audio="aac"),
    "bframes.mp4": dict(codec="libx264", frames=40, time_base=fractions.Fraction(1, 15), audio=None),
}


@pytest.mark.parametrize("source", list(SPARSE_SOURCES))
@pytest.mark.parametrize("output", ["mp4", "mkv", "mov"])
def test_sparse_timestamps_round_trip_with_their_frames_and_duration(tmp_path, colorizer, source, output):
    spec = SPARSE_SOURCES[source]
    pts = sparse_pts(spec["frames"], seed=len(source))
    src = write_video(tmp_path / source, w=64, h=48, pts=pts, **spec)
    a = probe(src)
    assert a["pts_s"] == pytest.approx([p / 15 for p in pts], abs=1e-3)  # the source is what it should be
    res = colorize_video(src, tmp_path / f"out.{output}", colorizer, VideoOptions(temporal="off", segment_seconds=1))
    b = probe(res.output)
    assert b["frames"] == a["frames"] == len(pts)
    assert not any("damaged data" in n for n in res.notes)  # a variable frame rate's jumps are no damage
    assert b["pts_s"] == pytest.approx(a["pts_s"], abs=1e-3)
    if spec["audio"] is None:  # the container's duration is the video's: exact
        assert b["duration_s"] == pytest.approx(a["duration_s"], abs=1e-3)
    else:  # or the audio's, whose end moves by the codec's priming where it is transcoded (PCM into MP4)
        assert b["duration_s"] == pytest.approx(a["duration_s"], abs=AUDIO_TOLERANCE_S)
        assert audio_seconds(res.output) == pytest.approx(audio_seconds(src), abs=AUDIO_TOLERANCE_S)
    assert [t for t, _ in b["others"]] == [t for t, _ in a["others"]]


def test_a_time_base_finer_than_mpeg4_takes_still_makes_an_avi(tmp_path, colorizer):
    """MPEG-4 Part 2 (AVI's default) takes no time base finer than 1/65535; MPEG-TS and many MOVs use 1/90000."""
    src = write_video(tmp_path / "in.mov", frames=12, time_base=fractions.Fraction(1, 90000), pts=[3600 * i for i in range(12)],
                      audio="aac")
    res = colorize_video(src, tmp_path / "out.avi", colorizer, VideoOptions(temporal="off", segment_seconds=0.2))
    a, b = probe(src), probe(res.output)
    assert b["frames"] == 12 and b["pts_s"] == pytest.approx(a["pts_s"], abs=1e-3)
    assert any("frame times held to multiples of 1/45000 s" in n for n in res.notes)


def test_a_film_over_1000_frames_a_second_is_refused_for_avi_before_any_work_and_1000_is_written(tmp_path, colorizer):
    """FFmpeg's AVI writer counts a video of more than 1000 frames a second in 1/600 s: a high-speed camera's
    1200 fps film into .avi met two frames on one tick and failed at the join ('Invalid argument'), after every
    frame was colorized, and at every re-run (a film restorer's find). It is refused in one line at the plan."""
    fast = write_video(tmp_path / "fast.mp4", frames=6, rate=fractions.Fraction(1200), audio=None)
    with pytest.raises(OutputError, match=r"out.avi: AVI holds at most 1000 frames a second, and this video runs at "
                                          r"1200; write .mkv, .mp4 or .mov$"):
        plan_output(fast, tmp_path / "out.avi")
    plan_output(fast, tmp_path / "out.mkv")
    src = write_video(tmp_path / "in.mp4", frames=6, rate=fractions.Fraction(1000), audio=None)
    res = colorize_video(src, tmp_path / "out.avi", colorizer, VideoOptions(temporal="off"))
    a, b = probe(src), probe(res.output)
    assert b["frames"] == 6 and b["pts_s"] == pytest.approx(a["pts_s"], abs=1e-6)


def test_a_capture_with_a_freeze_keeps_its_frame_times_in_an_avi(tmp_path, colorizer):
    """A new user's 30 fps capture (time base 1/90000) with a one-second freeze: the encoder's time base
    was the 20 fps average, and frames came out up to 0.48 s late against the audio. The 1/30 s grid holds
    every time exactly, so that is what the AVI gets."""
    pts = [3000 * i for i in range(15)] + [90000 + 3000 * i for i in range(15)]
    src = write_video(tmp_path / "in.mp4", frames=30, time_base=fractions.Fraction(1, 90000), pts=pts, audio="aac")
    res = colorize_video(src, tmp_path / "out.avi", colorizer, VideoOptions(temporal="off"))
    a, b = probe(src), probe(res.output)
    assert b["frames"] == 30 and b["pts_s"] == pytest.approx(a["pts_s"], abs=1e-6)


def test_subtitles_become_webvtt_in_webm_and_are_dropped_with_a_note_in_avi(tmp_path, colorizer):
    import av

    src = write_video(tmp_path / "sub.mkv", frames=20, audio=None, subtitles=[(100, "Hello"), (500, "World")])
    res = colorize_video(src, tmp_path / "out.webm", colorizer, VideoOptions(temporal="off"))
    with av.open(str(res.output)) as c:
        assert c.streams.subtitles[0].codec_context.codec.canonical_name == "webvtt"
        assert [bytes(p) for p in c.demux(c.streams.subtitles[0]) if p.size] == [b"Hello", b"World"]
    res = colorize_video(src, tmp_path / "out.avi", colorizer, VideoOptions(temporal="off"))
    assert probe(res.output)["others"] == []
    assert "subtitle stream 1 (subrip) not copied: AVI cannot hold subrip" in res.notes


def test_b_frames_stored_in_avi_come_out_in_order(tmp_path, colorizer):
    """H.264 with B-frames in AVI, which stores no presentation times: FFmpeg hands its frames out with
    shuffled pts (0.04, 0.16, 0.12, ...), which the encoder and the MP4 muxer refused ('Invalid argument')."""
    src = write_video(tmp_path / "bframes.avi", w=64, h=48, frames=30, audio="mp3")
    shuffled = probe(src)["pts_s"]
    assert shuffled != sorted(shuffled)  # the source is what it should be
    for output in ("mp4", "mkv", "mov"):
        res = colorize_video(src, tmp_path / f"out.{output}", colorizer, VideoOptions(temporal="off", segment_seconds=0.4))
        b = probe(res.output)
        assert b["frames"] == 30 and b["pts_s"] == pytest.approx(sorted(shuffled), abs=1e-3)


def write_camera_mjpeg(path, frames: int = 3):
    """An MJPEG AVI whose every JPEG carries EXIF, as camera clips do: FFmpeg 8 attaches it to each frame
    as side data of a kind (31) PyAV 18's enum does not know, and listing a frame's side data failed."""
    import io

    import av
    import numpy as np
    from PIL import Image

    ex = Image.Exif()
    ex[0x010F] = "OldCam"
    gray = Image.fromarray((np.arange(48 * 64).reshape(48, 64) % 251).astype(np.uint8))
    with av.open(str(path), "w") as out:
        s = out.add_stream("mjpeg", rate=15)
        s.width, s.height, s.pix_fmt = 64, 48, "yuvj420p"
        for n in range(frames):
            buf = io.BytesIO()
            gray.save(buf, "JPEG", exif=ex.tobytes())
            pkt = av.Packet(buf.getvalue())
            pkt.stream, pkt.pts, pkt.dts, pkt.time_base = s, n, n, fractions.Fraction(1, 15)
            out.mux(pkt)
    return path


def test_a_camera_mjpeg_clip_with_exif_in_every_frame_is_colorized(tmp_path, colorizer):
    """A new user's camera clip crashed vidcolor with a traceback (ValueError: 31 is not a valid Type)
    and stopped a folder run at that file on every rerun."""
    src = write_camera_mjpeg(tmp_path / "camera.avi")
    res = colorize_video(src, tmp_path / "out.mkv", colorizer, VideoOptions())
    assert res.status == "done" and probe(tmp_path / "out.mkv")["frames"] == 3


def test_a_defect_met_on_one_file_of_a_folder_fails_that_file_and_the_run_goes_on(tmp_path, colorizer, monkeypatch):
    import vidcolor
    from tests.media import write_image

    src = tmp_path / "in"
    src.mkdir()
    write_video(src / "a.mp4", w=64, h=48, frames=3, audio=None)
    write_video(src / "b.mp4", w=64, h=48, frames=3, audio=None)
    write_image(src / "c.png")
    import vidcolor.folder as folder
    real = folder.colorize_video

    def buggy(s, *a, **k):
        if s.name == "a.mp4":
            raise ValueError("31 is not a valid Type")
        return real(s, *a, **k)

    monkeypatch.setattr(folder, "colorize_video", buggy)
    res = {r.input.name: r for r in vidcolor.colorize(src, tmp_path / "out", colorizer=colorizer)}
    assert res["a.mp4"].status == "failed" and res["b.mp4"].status == "done" and res["c.png"].status == "done"
    assert res["a.mp4"].error.startswith(f"{src / 'a.mp4'}: unexpected error (ValueError: 31 is not a valid Type at folder.py:")
    assert "a vidcolor defect: please report it" in res["a.mp4"].error and "\n" not in res["a.mp4"].error


def test_out_of_memory_stops_a_folder_run_and_an_os_error_is_no_defect(tmp_path, colorizer, monkeypatch):
    """A review: the catch-all turned a MemoryError (or CUDA's out of memory) into one failed file after
    another, and called a full disk a vidcolor defect."""
    import vidcolor
    import vidcolor.folder as folder

    src = tmp_path / "in"
    src.mkdir()
    write_video(src / "a.mp4", w=64, h=48, frames=2, audio=None)
    for exc in (MemoryError(), RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")):
        monkeypatch.setattr(folder, "colorize_video", lambda *a, exc=exc, **k: (_ for _ in ()).throw(exc))
        with pytest.raises(type(exc)):
            vidcolor.colorize(src, tmp_path / "out", colorizer=colorizer)
    monkeypatch.setattr(folder, "colorize_video", lambda *a, **k: (_ for _ in ()).throw(OSError(28, "No space left on device")))
    [res] = vidcolor.colorize(src, tmp_path / "out", colorizer=colorizer)
    assert res.status == "failed" and res.error == f"{src / 'a.mp4'}: No space left on device"


def test_an_avi_is_written_in_bt601_which_players_read_it_in(tmp_path, colorizer):
    """MPEG-4 Part 2 (AVI's) and MJPEG carry no colour matrix and players read them as BT.601: written
    in BT.709, an AVI showed colours 8 levels off (film-user test). Decoded as a player does (the tagged
    H.264 as BT.709, the AVI and MJPEG as BT.601), the three agree."""
    import av
    import cv2
    import numpy as np

    from vidcolor.io.plan import plan_output

    src = write_video(tmp_path / "in.mp4", w=96, h=64, frames=4, audio=None)
    assert plan_output(src, tmp_path / "o.avi").matrix == "bt601" and plan_output(src, tmp_path / "o.mkv").matrix == "bt709"

    def ab(path, colorspace):
        with av.open(str(path)) as c:
            rgb = [f.reformat(format="rgb24", src_colorspace=colorspace).to_ndarray() for f in c.decode(video=0)]
        return np.stack([cv2.cvtColor(x.astype(np.float32) / 255, cv2.COLOR_RGB2Lab) for x in rgb])

    outs = {}
    for name, opts in (("h264.mkv", {}), ("mpeg4.avi", {}), ("mjpeg.mkv", {"codec": "mjpeg"})):
        colorize_video(src, tmp_path / name, colorizer.with_strength(3.0), VideoOptions(**opts))
        outs[name] = ab(tmp_path / name, "ITU709" if name == "h264.mkv" else "ITU601")
    with av.open(str(tmp_path / "mpeg4.avi")) as c:
        assert c.streams.video[0].codec_context.name == "mpeg4"
    for name in ("mpeg4.avi", "mjpeg.mkv"):
        diff = np.abs(outs[name][..., 1:] - outs["h264.mkv"][..., 1:]).mean()
        other = np.abs(ab(tmp_path / name, "ITU709")[..., 1:] - outs["h264.mkv"][..., 1:]).mean()  # the wrong matrix's
        # mismatch. Render 2 (colours clipped channel by channel): written in BT.709 2.41 (AVI) and 2.60 (MJPEG), in
        # BT.601 1.61 and 1.77. Render 3 (colours sRGB cannot show fitted at their lightness) leaves more colours at
        # the edge of what 8-bit Y'CbCr holds, where the codecs' rounding differs: 2.17 and 2.33, against 3.55 and
        # 3.89 decoded with the other matrix
        assert diff < 2.9 and diff < 0.75 * other, (name, diff, other)


def remux_packets(src, dst, edit):
    """Copy src's video packets to dst through `edit(k, packet)` (None drops the packet)."""
    import av

    with av.open(str(src)) as i, av.open(str(dst), "w") as o:
        s = i.streams.video[0]
        t = o.add_stream_from_template(s)
        for k, p in enumerate(i.demux(s)):
            if p.dts is None:
                continue
            if (p := edit(k, p)) is not None:
                p.stream = t
                o.mux(p)
    return dst


def test_damaged_data_inside_a_stream_is_skipped_and_said(tmp_path, colorizer):
    """A film-user test: a damaged packet failed a whole MP4 film, and a damaged MKV lost 16 of 60 frames
    without a word (exit 0, the jump taken for a scene cut). Intra-only MJPEG, so the damage is exact:
    one packet garbled (the decoder rejects it), or six lost (as a damaged container loses them)."""
    import av
    import numpy as np

    src = write_video(tmp_path / "src.mkv", w=64, h=48, frames=30, audio=None, codec="mjpeg", pix_fmt="yuvj420p")

    def garble(k, p):
        if k != 10:
            return p
        q = av.Packet(bytes(np.random.default_rng(0).integers(0, 256, p.size, dtype=np.uint8)))
        q.pts, q.dts, q.time_base = p.pts, p.dts, p.time_base
        return q

    garbled = remux_packets(src, tmp_path / "garbled.mkv", garble)
    lost = remux_packets(src, tmp_path / "lost.mkv", lambda k, p: None if 10 <= k < 16 else p)
    res = colorize_video(garbled, tmp_path / "g.mp4", colorizer, VideoOptions())
    assert res.status == "done" and res.frames == 29
    assert any("damaged data: 1 frame(s) missing inside the stream, at 0.36 s (1); 1 packet(s) could not be decoded" in n
               for n in res.notes), res.notes
    res = colorize_video(lost, tmp_path / "l.mp4", colorizer, VideoOptions())
    assert res.status == "done" and res.frames == 24 and probe(tmp_path / "l.mp4")["frames"] == 24
    assert any("damaged data: 6 frame(s) missing inside the stream, at 0.36 s (6); 0 packet(s) could not be decoded" in n
               for n in res.notes), res.notes
    clean = colorize_video(src, tmp_path / "c.mp4", colorizer, VideoOptions())
    assert not any("damaged" in n for n in clean.notes)


def _ramp_and_audio(o, audio: str, rate: int, layout: str):
    """A 64x48 H.264 stream in o holding 25 frames of a brightening gray, flushed, beside a new audio
    stream (the encoder `audio` at `rate`, `layout`), which is returned for the test's own packets."""
    import av
    import numpy as np

    v = o.add_stream("libx264", rate=25)
    v.width, v.height, v.pix_fmt = 64, 48, "yuv420p"
    a = o.add_stream(audio, rate=rate)
    a.layout = layout
    for i in range(25):
        f = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 10 * i, np.uint8), format="rgb24")
        f.pts = i
        o.mux(v.encode(f))
    o.mux(v.encode(None))
    return a


@pytest.mark.parametrize("source,encoder,codec", [("click.mkv", "aac", "AAC"), ("click.mp4", "libmp3lame", "MP3")])
def test_aac_into_avi_keeps_its_timing(tmp_path, colorizer, source, encoder, codec):
    """AVI cannot mark AAC's encoder delay: copied, a click at 0.500 s played at 0.564 s (16 kHz,
    film-user test). It is written as PCM, which has none. So is an MP4's MP3, whose priming the MP4
    skips (cockatoo.mp4's played 69 ms late in an AVI: a new user's test); MP3 that starts clean is copied."""
    import av
    import numpy as np

    src = tmp_path / source
    rate = 16000
    with av.open(str(src), "w") as o:
        a = _ramp_and_audio(o, encoder, rate, "mono")
        sound = np.zeros(rate, np.float32)
        sound[rate // 2:rate // 2 + 8] = 0.9  # a click at 0.500 s
        for k in range(0, rate, 1024):
            af = av.AudioFrame.from_ndarray(sound[None, k:k + 1024], format="fltp", layout="mono")
            af.sample_rate, af.pts = rate, k
            o.mux(a.encode(af))
        o.mux(a.encode(None))

    def click(path):
        with av.open(str(path)) as c:
            s = c.streams.audio[0]
            x = np.concatenate([f.to_ndarray()[0] for f in c.decode(s)])
            return np.argmax(np.abs(x)) / s.rate, s.codec_context.name

    res = colorize_video(src, tmp_path / "out.avi", colorizer, VideoOptions())
    at, out_codec = click(tmp_path / "out.avi")
    assert out_codec == "pcm_s16le" and at == pytest.approx(click(src)[0], abs=0.002)
    assert any(f"transcoded to PCM: AVI cannot mark {codec}'s encoder delay" in n for n in res.notes), res.notes


def test_stream_languages_and_titles_and_the_title_are_kept(tmp_path, colorizer):
    """Every stream came out with language and title None, and the container without its title: a
    restoration with several languages could not tell its tracks apart (film-user test)."""
    import av
    import numpy as np

    src = tmp_path / "multi.mkv"
    with av.open(str(src), "w") as o:
        o.metadata["title"] = "Operation Crossroads (1952)"
        v = o.add_stream("libx264", rate=25)
        v.width, v.height, v.pix_fmt = 64, 48, "yuv420p"
        v.metadata.update({"language": "eng", "title": "picture"})
        tracks = []
        for lang, title in (("eng", "English mono"), ("fra", "French")):
            a = o.add_stream("aac", rate=16000)
            a.layout = "mono"
            a.metadata.update({"language": lang, "title": title})
            tracks.append(a)
        for i in range(5):
            f = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 30 * i, np.uint8), format="rgb24")
            f.pts = i
            o.mux(v.encode(f))
        o.mux(v.encode(None))
        for a in tracks:
            for k in range(0, 3200, 1024):
                af = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
                af.sample_rate, af.pts = 16000, k
                o.mux(a.encode(af))
            o.mux(a.encode(None))
    for ext, title_key in (("mkv", "title"), ("mp4", "handler_name")):
        colorize_video(src, tmp_path / f"out.{ext}", colorizer, VideoOptions())
        with av.open(str(tmp_path / f"out.{ext}")) as c:
            assert c.metadata.get("title") == "Operation Crossroads (1952)"
            got = [(s.metadata.get("language"), s.metadata.get(title_key)) for s in c.streams]
        assert got == [("eng", "picture"), ("eng", "English mono"), ("fra", "French")], (ext, got)
    # an MP4 source's track names (its handler names) are its titles; a stock one is not (a review)
    colorize_video(tmp_path / "out.mp4", tmp_path / "again.mkv", colorizer, VideoOptions())
    with av.open(str(tmp_path / "again.mkv")) as c:
        assert [s.metadata.get("title") for s in c.streams] == ["picture", "English mono", "French"]


def test_a_ten_bit_source_written_as_eight_bit_says_so(tmp_path, colorizer):
    """A restorer's 10-bit master came out 8-bit without a word (film-user test)."""
    src = write_video(tmp_path / "ten.mkv", w=64, h=48, frames=3, audio=None, pix_fmt="yuv420p10le")
    res = colorize_video(src, tmp_path / "out.mkv", colorizer, VideoOptions())
    assert "the source is 10-bit: written as 8-bit (vidcolor writes 8-bit video)" in res.notes
    res = colorize_video(write_video(tmp_path / "eight.mkv", w=64, h=48, frames=3, audio=None), tmp_path / "o8.mkv",
                         colorizer, VideoOptions())
    assert not any("bit" in n for n in res.notes)


@pytest.mark.parametrize("ext,tb", [("mov", fractions.Fraction(1, 600)), ("mkv", fractions.Fraction(1, 1000))])
def test_a_phone_clip_holding_a_frame_now_and_then_is_no_damage(tmp_path, ext, tb):
    """A review: a 30 fps clip whose every 60th frame is held twice as long (as phones and screen
    recorders do), on a coarse time base, was called damaged (frames missing) though none was."""
    import av
    import numpy as np

    from vidcolor.io.video import VideoSource

    path = tmp_path / f"vfr.{ext}"
    with av.open(str(path), "w") as o:
        v = o.add_stream("mjpeg", rate=30)
        v.width, v.height, v.pix_fmt, v.time_base = 64, 48, "yuvj420p", tb
        t = fractions.Fraction(0)
        for i in range(180):
            f = av.VideoFrame.from_ndarray(np.full((48, 64, 3), i % 255, np.uint8), format="rgb24")
            f.pts, f.time_base = int(round(t / tb)), tb
            for p in v.encode(f):
                o.mux(p)
            t += fractions.Fraction(2 if i % 60 == 59 else 1, 30)
        for p in v.encode(None):
            o.mux(p)
    with VideoSource(path) as s:
        n = sum(1 for _ in s.frames())
        assert n == 180 and s.damage(n) is None


def test_copied_audio_whose_timestamps_repeat_is_joined_into_mp4(tmp_path, colorizer):
    """A stream-copied AVI's AC-3 came with repeated timestamps (0, 0, 0, 1, ...): MP4 and MOV refuse a
    dts that does not increase, and the join failed with "Invalid argument" after every frame was
    colorized (new-user test, 2026-11-27). Each such packet moves to just after the one before, as
    FFmpeg's tools do, and the note says how many."""
    import av
    import numpy as np

    src = tmp_path / "dup.mkv"
    with av.open(str(src), "w") as o:
        a = _ramp_and_audio(o, "ac3", 48000, "stereo")
        packets = []
        for k in range(0, 48000, 1536):
            af = av.AudioFrame.from_ndarray(np.zeros((2, 1536), np.float32), format="fltp", layout="stereo")
            af.sample_rate, af.pts = 48000, k
            packets += a.encode(af)
        packets += a.encode(None)
        for n, p in enumerate(packets):  # pairs share a timestamp, as the bad remux's did
            p.pts = p.dts = (n // 2) * 1536
            o.mux(p)
    with av.open(str(src)) as c:
        ts = [p.dts for p in c.demux(audio=0) if p.size]
        assert len(ts) > len(set(ts))  # the source really repeats them
    for out in ("out.mp4", "out.mov", "out.avi"):  # AVI, an AVI input's default output, refuses them too (a review)
        res = colorize_video(src, tmp_path / out, colorizer, VideoOptions())
        assert res.status == "done" and any("copied packet(s) did not increase" in n for n in res.notes), res.notes
        with av.open(str(tmp_path / out)) as c:
            got = [p.dts for p in c.demux(audio=0) if p.size]
            assert len(got) == len(ts) and got == sorted(set(got)), got[:8]


@pytest.mark.parametrize("output", ["mp4", "mov"])
def test_a_first_frame_off_the_millisecond_grid_keeps_its_time_in_mp4_and_mov(tmp_path, colorizer, output):
    """Megamind.avi's first frame is at 125/2997 s (41.708 ms); its MP4 came out with every frame 0.67 ms
    early, the edit list that places the first frame being written in the movie's 1/1000 s."""
    tb = fractions.Fraction(1001, 24000)
    src = write_video(tmp_path / "ntsc.mp4", w=64, h=48, frames=12, pts=list(range(1, 13)), time_base=tb,
                      options={"movie_timescale": "24000"})  # the source itself exact
    a = probe(src)
    assert a["pts_s"][0] == pytest.approx(float(tb), abs=1e-9)
    res = colorize_video(src, tmp_path / f"out.{output}", colorizer, VideoOptions(temporal="off"))
    b = probe(res.output)
    assert b["pts_s"] == pytest.approx(a["pts_s"], abs=1e-6)
    assert audio_seconds(res.output) == pytest.approx(audio_seconds(src), abs=AUDIO_TOLERANCE_S)


def test_the_movie_time_scale_stays_within_32_bit_headers():
    """A film past about 12 minutes at lcm(1000, 11988) = 2,997,000 ticks a second got FFmpeg's 64-bit
    (version 1) mvhd, tkhd and elst, which some older readers do not take (a review): the video's own
    time scale is used then, and 1/1000 s (FFmpeg's default) where even that would not fit."""
    from vidcolor.io.mux import _muxer_options

    ntsc = fractions.Fraction(125, 11988)
    assert _muxer_options("mp4", ntsc, 60.0)["movie_timescale"] == "2997000"
    assert _muxer_options("mov", ntsc, 3 * 3600.0)["movie_timescale"] == "11988"
    assert _muxer_options("mp4", fractions.Fraction(1, 90000), 3 * 3600.0)["movie_timescale"] == "90000"
    assert "movie_timescale" not in _muxer_options("mp4", fractions.Fraction(1, 1000), 60.0)
    assert "movie_timescale" not in _muxer_options("mp4", fractions.Fraction(1, 10**6), 3 * 3600.0)  # 1000 then
    assert "movie_timescale" not in _muxer_options("matroska", ntsc, 60.0)


def test_an_avi_keeps_the_first_frame_where_it_was_against_the_sound(tmp_path, colorizer):
    """AVI has slots, not timestamps, and its audio plays from its first sample: Megamind.avi's first
    frame, 41.7 ms after its sound starts, came out at 0 in an AVI (in MP4, MKV and MOV it was right),
    one frame early against the sound (a new user's test). An empty first slot now holds its place."""
    tb = fractions.Fraction(1, 24)
    src = write_video(tmp_path / "late.mkv", w=64, h=48, frames=12, rate=fractions.Fraction(24), pts=list(range(1, 13)),
                      time_base=tb, audio="pcm_s16le")  # frames from 41.7 ms, the sound from 0
    a = probe(src)
    assert a["pts_s"][0] == pytest.approx(1 / 24, abs=1e-3)
    res = colorize_video(src, tmp_path / "out.avi", colorizer, VideoOptions(temporal="off"))
    b = probe(res.output)
    assert b["frames"] == 12 and b["pts_s"] == pytest.approx(a["pts_s"], abs=1e-3), (a["pts_s"][:3], b["pts_s"][:3])
    assert audio_seconds(res.output) == pytest.approx(audio_seconds(src), abs=AUDIO_TOLERANCE_S)


def test_the_avi_grid_is_the_frames_own_and_the_sound_only_sets_where_it_starts():
    """An origin in the grid's choice made a 25 fps film whose sound starts 10 ms ahead a 100 fps AVI,
    most of its chunks empty (a review of the fix above)."""
    from vidcolor.io.base import VideoInfo
    from vidcolor.io.mux import _on_grid

    like = VideoInfo(Path("x.mkv"), 64, 48, 10, fractions.Fraction(1, 1000), fractions.Fraction(25), 0, "h264", 0.4, 50)
    pts = [50 + 40 * i for i in range(10)]
    for origin, first_slot in ((None, 0), (40, 0), (10, 1), (-30, 0), (90, 0)):  # 10 ms ahead: under half a slot
        slots, tick, _, note = _on_grid(pts, like, None, origin)
        assert tick == fractions.Fraction(1, 25) and note is None and slots == list(range(first_slot, first_slot + 10)), origin


@pytest.mark.parametrize("ext, cover_first", [(".mkv", True), (".mp4", False)])
def test_the_largest_video_stream_is_colorized_and_the_others_are_named_as_not_written(tmp_path, colorizer, ext, cover_first):
    """An MKV whose cover art (a 64x64 picture) came first was colorized as that one frame and reported
    done; an MP4's cover art was dropped without the note other dropped streams get (a new user's test)."""
    import av
    import numpy as np

    src = tmp_path / f"film{ext}"
    with av.open(str(src), "w") as out:
        def add(codec, rate, w, h, pix_fmt):
            s = out.add_stream(codec, rate=rate)
            s.width, s.height, s.pix_fmt = w, h, pix_fmt
            return s

        if cover_first:
            art, main = add("mjpeg", 1, 64, 64, "yuvj420p"), add("libx264", 24, 160, 96, "yuv420p")
        else:
            main, art = add("libx264", 24, 160, 96, "yuv420p"), add("mjpeg", 1, 64, 64, "yuvj420p")
        art.disposition = av.stream.Disposition.attached_pic  # (Matroska keeps no such flag: there it is a second stream)
        cover = av.VideoFrame.from_ndarray(np.full((64, 64, 3), 200, np.uint8), format="rgb24").reformat(format="yuvj420p")
        cover.pts = 0
        out.mux(art.encode(cover))
        out.mux(art.encode())
        for i in range(12):
            f = av.VideoFrame.from_ndarray(np.full((96, 160, 3), 20 * i, np.uint8), format="rgb24").reformat(format="yuv420p")
            f.pts = i
            out.mux(main.encode(f))
        out.mux(main.encode())
    res = colorize_video(src, tmp_path / f"out{ext}", colorizer)
    p = probe(tmp_path / f"out{ext}")
    assert (p["width"], p["height"], p["frames"]) == (160, 96, 12), p
    stream = 0 if cover_first else 1
    assert any(n.startswith((f"cover art (stream {stream}, mjpeg)", f"video stream {stream} (mjpeg, 64x64)")) and "not written" in n
               for n in res.notes), res.notes


def test_a_damaged_audio_packet_is_skipped_where_the_audio_is_transcoded(tmp_path, colorizer):
    """Two AAC packets of random bytes failed a whole film at its join, after every frame was done, and
    again on every re-run, where the audio is transcoded (WebM, AVI); the video's are skipped (a review)."""
    import av
    import numpy as np

    clip = write_video(tmp_path / "clip.mp4", w=64, h=48, frames=24, audio="aac")
    rng = np.random.default_rng(1)
    bad = tmp_path / "bad.mkv"
    with av.open(str(clip)) as src, av.open(str(bad), "w") as out:
        streams = {s.index: out.add_stream_from_template(s) for s in src.streams}
        n = 0
        for p in src.demux():
            if p.dts is None:
                continue
            ost = streams[p.stream.index]
            if p.stream.type == "audio":
                n += 1
                if n in (5, 6):
                    q = av.Packet(rng.integers(0, 256, p.size, dtype=np.uint8).tobytes())
                    q.pts, q.dts, q.duration, q.time_base = p.pts, p.dts, p.duration, p.time_base
                    p = q
            p.stream = ost
            out.mux(p)
    res = colorize_video(bad, tmp_path / "out.webm", colorizer)
    assert res.status == "done" and probe(tmp_path / "out.webm")["frames"] == 24
    assert any("audio stream 1: damaged data: 2 packet(s) could not be decoded and were skipped" in n for n in res.notes), res.notes


@pytest.mark.parametrize("ext", [".mp4", ".mov"])
def test_hevc_in_mp4_and_mov_is_tagged_hvc1_for_apple_players(tmp_path, colorizer, ext):
    """FFmpeg tags HEVC in MP4 as hev1, which QuickTime, Safari and iOS do not play; hvc1 is what they need."""
    import av

    clip = write_video(tmp_path / "clip.mp4", w=64, h=48, frames=6, audio=None)
    colorize_video(clip, tmp_path / f"out{ext}", colorizer, VideoOptions(codec="libx265"))
    with av.open(str(tmp_path / f"out{ext}")) as c:
        assert c.streams.video[0].codec_context.codec_tag == "hvc1"
        assert sum(1 for _ in c.decode(video=0)) == 6


@pytest.mark.parametrize("ext", [".mp4", ".mkv"])
def test_a_source_whose_clock_starts_late_starts_at_zero_in_the_output(tmp_path, colorizer, ext):
    """A broadcast recording's clock starts anywhere: one starting at 3600 s came out as an MP4 with an hour
    of empty edit before its 1.6 s, an MKV of 1:00:01.6 (a review). The output starts at 0, as FFmpeg's."""
    import av

    tb = fractions.Fraction(1, 90000)
    src = write_video(tmp_path / "rec.ts", w=64, h=48, frames=20, audio=None, time_base=tb,
                      pts=[3600 * 90000 + i * 3600 for i in range(20)])
    colorize_video(src, tmp_path / f"out{ext}", colorizer)
    with av.open(str(tmp_path / f"out{ext}")) as c:
        assert c.duration / av.time_base < 2, c.duration
        s = c.streams.video[0]
        pts = sorted(p.pts for p in c.demux(s) if p.pts is not None)
        assert float(pts[0] * s.time_base) < 0.05 and [b - a for a, b in zip(pts, pts[1:])] == [pts[1] - pts[0]] * 19


def ts_recording(path: Path, base: int, frames: int, sound_lead: int, samples: int) -> Path:
    """An MPEG-TS of `frames` frames at 25 fps whose clock (1/90000 s) starts at `base`, with mono MP2 sound of
    `samples` samples at 48 kHz starting `sound_lead` ticks before the first frame."""
    tb = fractions.Fraction(1, 90000)
    with av.open(str(path), "w") as c:
        v = c.add_stream("libx264", rate=25)
        v.width, v.height, v.pix_fmt = 64, 48, "yuv420p"
        a = c.add_stream("mp2", rate=48000)
        a.layout = "mono"
        for i in range(frames):
            f = av.VideoFrame.from_ndarray(frame_pattern(i, 64, 48), format="rgb24")
            f.pts, f.time_base = base + 3600 * i, tb
            c.mux(v.encode(f))
        c.mux(v.encode())
        for k in range(0, samples, 1152):
            af = av.AudioFrame.from_ndarray(np.full((1, 1152), 3000, np.int16), format="s16", layout="mono")
            af.sample_rate, af.pts, af.time_base = 48000, base - sound_lead + k * 90000 // 48000, tb
            c.mux(a.encode(af))
        c.mux(a.encode())
    return path


@pytest.mark.parametrize("ext", [".mp4", ".mov", ".mkv"])
def test_a_recording_begun_just_before_its_clock_wrapped_keeps_every_frame_on_show(tmp_path, colorizer, ext):
    """An MPEG-TS clock wraps at 2^33 ticks (26.5 h); FFmpeg reads a recording begun a second before that as
    starting at -1 s. Its MP4 and MOV played only the frames after 0 (25 of 50), its MKV's frames had no
    timestamps (a film restorer's find). The output's timeline starts at the first frame now, the sound in step."""
    tb = fractions.Fraction(1, 90000)
    src = ts_recording(tmp_path / "rec.ts", 2**33 - 90000, frames=50, sound_lead=0, samples=96000)  # 2 s, from the first frame
    with av.open(str(src)) as c:
        assert c.streams.video[0].start_time < 0  # FFmpeg's reading of the wrap
        # the sound's start as FFmpeg reads it, 12 ms before the picture's: it leads it in the output too, as it
        # does for the same recording at any other clock (a reviewer's find)
        lead = float((c.streams.video[0].start_time - c.streams.audio[0].start_time) * tb)
    res = colorize_video(src, tmp_path / f"out{ext}", colorizer, VideoOptions(temporal="off"))
    b = probe(res.output)
    assert res.frames == b["frames"] == 50  # what a player shows: an edit list cut the frames before 0
    assert 0 <= lead < 0.02 and b["pts_s"] == pytest.approx([lead + i * 0.04 for i in range(50)], abs=1e-3)
    assert audio_seconds(res.output) == pytest.approx(2.0, abs=0.03)
    with av.open(str(res.output)) as c:
        assert abs(c.streams.audio[0].start_time * c.streams.audio[0].time_base) < 0.02  # in step with the picture


@pytest.mark.parametrize("ext", [".mp4", ".mkv"])
def test_a_recording_whose_sound_leads_its_picture_across_the_clock_wrap_keeps_it_as_at_any_other_clock(tmp_path, colorizer, ext):
    """The wrap fix shifted the timeline by the video's start alone: a recording begun half a second before its
    clock wrapped, its sound starting 0.3 s before its picture, had that 0.3 s left before 0, and an MP4 cut it;
    the same recording at a clock of 10 s keeps it, its picture 0.3 s in (a reviewer's find). Both come out alike."""
    tb = fractions.Fraction(1, 90000)

    def recording(name, base):  # its sound from 0.3 s before the first frame to the picture's end
        return ts_recording(tmp_path / name, base, frames=25, sound_lead=27000, samples=48000 + 14400)

    for src in (recording("wrapped.ts", 2**33 - 45000), recording("plain.ts", 900000)):
        with av.open(str(src)) as c:
            v, a = c.streams.video[0], c.streams.audio[0]
            lead = float((v.start_time - a.start_time) * tb)  # as FFmpeg reads it: 0.29 s wrapped, 0.31 s plain
            assert (v.start_time < 0) == (src.stem == "wrapped") and lead > 0.25
        out = colorize_video(src, tmp_path / f"{src.stem}{ext}", colorizer, VideoOptions(temporal="off")).output
        b = probe(out)
        assert b["frames"] == 25
        assert b["pts_s"] == pytest.approx([lead + i * 0.04 for i in range(25)], abs=2e-3)  # 0, 0.04, ... before, wrapped
        assert audio_seconds(out) == pytest.approx(1.31, abs=0.03)  # its 1.3 s of sound: 0.3 s short in the wrapped MP4 before
        with av.open(str(out)) as c:
            assert abs(c.streams.audio[0].start_time * c.streams.audio[0].time_base) < 0.025  # an AAC's priming at most


@pytest.mark.parametrize("ext", [".mp4", ".mkv"])
def test_a_late_clock_keeps_its_streams_in_step_subtitles_before_the_picture_included(tmp_path, colorizer, ext):
    """The shift to 0 took the container's start, which leaves out a subtitle starting over 1 s before the
    rest: its cues came out early, or over the first frame (a review). Every stream keeps its place against
    the picture: audio 0.5 s before it, a cue 2 s before it and one 0.5 s after it."""
    import av
    import numpy as np

    from tests.media import frame_pattern

    ms = fractions.Fraction(1, 1000)
    src = tmp_path / "rec.mkv"
    with av.open(str(src), "w") as c:
        v = c.add_stream("libx264", rate=25)
        v.width, v.height, v.pix_fmt = 64, 48, "yuv420p"
        v.time_base = v.codec_context.time_base = ms
        a = c.add_stream("aac", rate=16000)
        a.layout = "mono"
        sub = c.add_mux_stream("subrip")
        for i in range(25):
            f = av.VideoFrame.from_ndarray(frame_pattern(i, 64, 48, 0), format="rgb24")
            f.pts, f.time_base = 3_600_000 + i * 40, ms
            c.mux(v.encode(f))
        c.mux(v.encode())
        samples = (0.3 * np.sin(np.arange(24000) / 16000 * 2 * np.pi * 440) * 32767).astype(np.int16)[None]
        for k in range(0, 24000, 1024):
            af = av.AudioFrame.from_ndarray(samples[:, k:k + 1024], format="s16", layout="mono")
            af.sample_rate, af.pts = 16000, int(3599.5 * 16000) + k
            c.mux(a.encode(af))
        c.mux(a.encode())
        for at in (3_598_000, 3_600_500):
            pkt = av.Packet(f"line at {at}".encode())
            pkt.stream, pkt.time_base, pkt.pts, pkt.dts, pkt.duration = sub, ms, at, at, 500
            c.mux(pkt)
    colorize_video(src, tmp_path / f"out{ext}", colorizer)
    firsts: dict[str, list[float]] = {}
    with av.open(str(tmp_path / f"out{ext}")) as c:
        assert c.duration / av.time_base < 10
        for p in c.demux():
            if p.pts is not None:
                firsts.setdefault(p.stream.type, []).append(float(p.pts * p.time_base))
    video, audio, cues = min(firsts["video"]), min(firsts["audio"]), sorted(t for t in firsts["subtitle"])
    assert video - audio == pytest.approx(0.5, abs=0.07), (video, audio)  # (AAC's priming moves the first packet)
    # (MP4's mov_text adds an empty sample for the gap between the two cues)
    assert (round(cues[0] - video, 3), round(cues[-1] - video, 3)) == (-2.0, 0.5), (video, cues)


def test_timestamps_that_jump_back_fail_the_video_in_one_line_not_a_scrambled_output(tmp_path, colorizer):
    """`cat a.ts b.ts`: every frame after the join was put a tick after the one before, so the second half
    played in an instant and the sound drifted 4 s off, reported done (a review)."""
    from vidcolor.errors import InputError

    part = write_video(tmp_path / "part.ts", w=64, h=48, frames=40, audio=None)
    joined = tmp_path / "joined.ts"
    joined.write_bytes(part.read_bytes() * 2)
    with pytest.raises(InputError, match=r"joined\.ts: the timestamps jump back by 1\.\d+ s .*recordings joined end to end"):
        colorize_video(joined, tmp_path / "out.mp4", colorizer)
    assert not (tmp_path / "out.mp4").exists()


def test_an_odd_size_h264_output_says_where_it_will_not_play(tmp_path):
    """Odd sizes are kept as 4:4:4 H.264, which browsers, QuickTime and most phones do not play; the note
    said only "encoded as yuv444p" (a new user's test)."""
    from vidcolor.io.plan import plan_output

    src = write_video(tmp_path / "odd.mkv", w=75, h=51, frames=2, audio=None)
    plan = plan_output(src, tmp_path / "out.mp4")
    assert plan.pix_fmt == "yuv444p"
    assert any("odd frame size 75x51: encoded as yuv444p" in n and "not in browsers" in n for n in plan.notes), plan.notes


def test_audio_that_starts_after_the_picture_is_said_to_play_early_in_an_avi(tmp_path):
    """AVI plays each audio stream from the file's start: one starting 1 s after the picture played 1 s early
    there, without a word (a review). The plan says so, and where to write instead."""
    import av
    import numpy as np

    from vidcolor.io.plan import plan_output

    src = tmp_path / "late.mkv"
    with av.open(str(src), "w") as c:
        a = _ramp_and_audio(c, "pcm_s16le", 16000, "mono")
        for k in range(0, 8000, 1000):
            af = av.AudioFrame.from_ndarray(np.zeros((1, 1000), np.int16), format="s16", layout="mono")
            af.sample_rate, af.pts = 16000, 16000 + k  # from 1 s
            c.mux(a.encode(af))
        c.mux(a.encode())
    notes = plan_output(src, tmp_path / "out.avi").notes
    assert any(n.startswith("audio stream 1 starts 1.00 s after the picture") and "plays 1.00 s early" in n for n in notes), notes
    assert not any("after the picture" in n for n in plan_output(src, tmp_path / "out.mkv").notes)


def _clip_with(path: Path, chapters: bool = False, languages: tuple[str, ...] = (), titles=("Opening", "Second"),
               extra_chapters: tuple = ()) -> Path:
    """A 2 s clip with two chapters (and `extra_chapters`, (start ms, end ms, title)) and/or a mono AAC track per language."""
    import numpy as np

    with av.open(str(path), "w") as o:
        v = o.add_stream("libx264", rate=25)
        v.width, v.height, v.pix_fmt = 64, 48, "yuv420p"
        tracks = []
        for lang in languages:
            a = o.add_stream("aac", rate=48000)
            a.layout = "mono"
            a.metadata["language"] = lang
            tracks.append(a)
        if chapters:
            ms = fractions.Fraction(1, 1000)
            o.set_chapters([dict(id=1, start=0, end=1000, time_base=ms, metadata={"title": titles[0]}),
                            dict(id=2, start=1000, end=2000, time_base=ms, metadata={"title": titles[1]})]
                           + [dict(id=3 + i, start=a, end=b, time_base=ms, metadata={"title": t})
                              for i, (a, b, t) in enumerate(extra_chapters)])
        for i in range(50):
            for p in v.encode(av.VideoFrame.from_ndarray(np.full((48, 64, 3), i * 4, np.uint8), format="rgb24")):
                o.mux(p)
        for a in tracks:
            for k in range(94):
                f = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
                f.sample_rate, f.pts = 48000, k * 1024
                for p in a.encode(f):
                    o.mux(p)
            for p in a.encode(None):
                o.mux(p)
        for p in v.encode(None):
            o.mux(p)
    return path


@pytest.mark.parametrize("ext", [".mkv", ".mp4", ".mov", ".webm", ".avi"])
def test_chapters_are_carried_over_or_their_loss_said(tmp_path, colorizer, ext):
    """They were dropped from every output without a word (a film restorer's test)."""
    src = _clip_with(tmp_path / "film.mkv", chapters=True)
    res = colorize_video(src, tmp_path / f"out{ext}", colorizer)
    with av.open(str(tmp_path / f"out{ext}")) as c:
        got = [(float(ch["start"] * ch["time_base"]), float(ch["end"] * ch["time_base"]), ch["metadata"].get("title"))
               for ch in c.chapters()]
    if ext == ".avi":
        assert got == [] and any("2 chapter(s) dropped: AVI holds none" in n for n in res.notes), res.notes
    else:
        assert got == [(0.0, 1.0, "Opening"), (1.0, 2.0, "Second")], got


def test_a_mov_keeps_each_tracks_language_in_the_spelling_its_muxer_knows(tmp_path, colorizer):
    """A German track ("deu") came out of a MOV with no language, where MP4 and MKV kept it (a film restorer's test)."""
    src = _clip_with(tmp_path / "film.mkv", languages=("deu", "fre", "eng"))
    colorize_video(src, tmp_path / "out.mov", colorizer)
    with av.open(str(tmp_path / "out.mov")) as c:
        assert [s.metadata.get("language") for s in c.streams.audio] == ["ger", "fra", "eng"]


def test_an_h264_output_says_its_primaries_and_transfer(tmp_path, colorizer):
    """They were left "unspecified" (2), beside a BT.709 matrix (a film restorer's test): the network's colours
    are sRGB's, whose primaries are BT.709's."""
    src = _clip_with(tmp_path / "film.mkv")
    colorize_video(src, tmp_path / "out.mp4", colorizer)
    with av.open(str(tmp_path / "out.mp4")) as c:
        cc = c.streams.video[0].codec_context
        assert (cc.colorspace, cc.color_primaries, cc.color_trc) == (1, 1, 1)


@pytest.mark.parametrize("ext", ["mp4", "mkv", "mov", "avi"])
def test_an_anamorphic_source_keeps_its_pixel_shape(tmp_path, colorizer, ext):
    """A DVD transfer's 32:27 pixels (a 16:9 picture stored 720x480) were written square, and the output
    showed the picture squeezed (a film restorer's test)."""
    sar = fractions.Fraction(32, 27)
    src = write_video(tmp_path / "dvd.mp4", w=96, h=64, frames=4, audio=None, sar=sar)
    res = colorize_video(src, tmp_path / f"out.{ext}", colorizer)
    with av.open(str(tmp_path / f"out.{ext}")) as c:
        v = c.streams.video[0]
        assert (v.sample_aspect_ratio, v.display_aspect_ratio) == (sar, fractions.Fraction(96 * 32, 64 * 27))
        assert len(list(c.decode(v))) == 4
    assert not any("square" in n for n in res.notes)


def test_anamorphic_into_webm_vp9_says_the_pixel_shape_is_lost(tmp_path):
    """Matroska takes it here only from the codec's header, which VP9 has no room for: said, not silent."""
    src = write_video(tmp_path / "dvd.mp4", w=96, h=64, frames=2, audio=None, sar=fractions.Fraction(32, 27))
    plan = plan_output(src, tmp_path / "out.webm")
    assert any(n.startswith("the source's pixels are not square (32:27, a 1.78:1 picture)") for n in plan.notes)
    assert not any("square" in n for n in plan_output(src, tmp_path / "out.mkv").notes)


def test_chapters_past_the_end_are_cut_and_unreadable_ones_cost_only_themselves(tmp_path, colorizer):
    """A chapter title not in UTF-8 (an old MOV's Mac Roman, say) failed the join, after every frame was colorized,
    and every re-run the same way; chapters after the film's end were kept, stretching the one before in an MP4
    (a review)."""
    src = _clip_with(tmp_path / "film.mkv", chapters=True, extra_chapters=((1500, 9000, "Long"), (5000, 9000, "After")))
    colorize_video(src, tmp_path / "out.mkv", colorizer)
    with av.open(str(tmp_path / "out.mkv")) as c:
        got = [(float(ch["start"] * ch["time_base"]), round(float(ch["end"] * ch["time_base"]), 2), ch["metadata"].get("title"))
               for ch in c.chapters()]
    assert [g[2] for g in got] == ["Opening", "Second", "Long"] and got[2][1] <= 2.05, got
    bad = _clip_with(tmp_path / "bad.mkv", chapters=True, titles=("CafeQ", "Second"))
    bad.write_bytes(bad.read_bytes().replace(b"CafeQ", b"Caf\xe9Q"))
    res = colorize_video(bad, tmp_path / "bad_out.mkv", colorizer)
    # since open_source reads metadata with errors="replace", such a title is kept, its bad byte as U+FFFD, where
    # all the chapters had been dropped with a note ("chapters dropped: they could not be read")
    assert res.status == "done" and not any(n.startswith("chapters dropped") for n in res.notes), res.notes
    with av.open(str(tmp_path / "bad_out.mkv")) as c:
        assert [ch["metadata"].get("title") for ch in c.chapters()] == ["Caf\ufffdQ", "Second"]


def _restorers_master(path: Path) -> Path:
    """An MKV with a default, a dubbed and a commentary audio track, a forced subtitle, a font attachment and
    a start timecode (on the video stream, as FFmpeg reads MOV's timecode track and Matroska's tag)."""
    D = av.stream.Disposition
    with av.open(str(path), "w") as c:
        v = c.add_stream("libx264", rate=25)
        v.width, v.height, v.pix_fmt = 64, 48, "yuv420p"
        v.metadata["timecode"] = "01:00:00:00"
        audio = []
        for disposition in (D.default, D.dub, D.comment):
            a = c.add_stream("aac", rate=16000)
            a.layout, a.disposition = "mono", disposition
            audio.append(a)
        s = c.add_mux_stream("subrip")
        s.disposition = D.forced
        c.add_attachment("font.ttf", "font/ttf", b"\0" * 64)
        mux_frames(c, v, (np.zeros((48, 64, 3), np.uint8) for i in range(3)))
        for a in audio:
            f = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.int16), format="s16", layout="mono")
            f.sample_rate, f.pts = 16000, 0
            for p in [*a.encode(f), *a.encode()]:
                c.mux(p)
        pkt = av.Packet(b"Bonjour")
        pkt.stream, pkt.time_base, pkt.pts, pkt.dts, pkt.duration = s, fractions.Fraction(1, 1000), 0, 0, 100
        c.mux(pkt)
    return path


def test_stream_flags_attachments_and_the_timecode_are_kept(tmp_path, colorizer):
    """A forced subtitle, a commentary track, an ASS font and the start timecode were dropped without a
    word (a film restorer's test): the player no longer showed the forced subtitle, nor told the tracks apart."""
    D = av.stream.Disposition
    src = _restorers_master(tmp_path / "master.mkv")
    res = colorize_video(src, tmp_path / "out.mkv", colorizer)
    with av.open(str(tmp_path / "out.mkv")) as c:
        assert [s.disposition for s in c.streams.audio] == [D.default, D.dub, D.comment]
        assert c.streams.subtitles[0].disposition == D.forced
        assert [(s.name, s.data) for s in c.streams if s.type == "attachment"] == [("font.ttf", b"\0" * 64)]
        assert {k.lower(): v for k, v in c.streams.video[0].metadata.items()}["timecode"] == "01:00:00:00"
    assert not any("not written" in n for n in res.notes)


@pytest.mark.parametrize("ext", ["mov", "mp4"])
def test_the_timecode_becomes_a_timecode_track_in_mov_and_mp4(tmp_path, colorizer, ext):
    src = _restorers_master(tmp_path / "master.mkv")
    res = colorize_video(src, tmp_path / f"out.{ext}", colorizer)
    with av.open(str(tmp_path / f"out.{ext}")) as c:
        assert [s.metadata.get("timecode") for s in c.streams.data] == ["01:00:00:00"]
    assert "1 attachment(s) (stream 5) not written: " in "".join(res.notes)


def test_what_an_avi_cannot_hold_besides_is_said(tmp_path):
    notes = plan_output(_restorers_master(tmp_path / "master.mkv"), tmp_path / "out.avi").notes
    assert "the source's timecode 01:00:00:00 not written: AVI holds none; write .mov, .mp4 or .mkv to keep it" in notes
    assert any(n.startswith("1 attachment(s) (stream 5) not written: AVI holds none") for n in notes)


def test_a_timecode_the_muxer_refuses_is_said_not_a_failed_join(tmp_path):
    """At a rate the MP4 muxer's timecode track cannot take (60000 frames a second, as a raw DV file's rate
    read), the join failed with "Invalid argument" once every frame was done; now the plan says so at once."""
    with VideoSource(_restorers_master(tmp_path / "master.mkv")) as source:
        info = source.info
    info.average_rate = fractions.Fraction(60000)
    plan = plan_output(info, tmp_path / "out.mp4")
    assert plan.timecode is None
    assert "the source's timecode 01:00:00:00 not written: the mp4 muxer did not take it (Invalid argument)" in plan.notes


def test_a_recording_cut_mid_way_says_the_frames_before_its_first_keyframe_are_lost(tmp_path, colorizer):
    """A broadcast capture cut at a byte, not at a keyframe: the frames before its first keyframe cannot be
    decoded (FFmpeg's tools leave them out too), and the picture started 0.28 s into the output without a
    word (a film restorer's test). Now the result says how many and where the picture starts."""
    whole = tmp_path / "whole.ts"
    with av.open(str(whole), "w") as c:  # headers at every keyframe, as broadcast streams repeat them
        v = c.add_stream("libx264", rate=25, options={"x264-params": "keyint=10:bframes=0:repeat-headers=1"})
        v.width, v.height, v.pix_fmt = 64, 48, "yuv420p"
        mux_frames(c, v, (frame_pattern(i, 64, 48) for i in range(20)))
    cut = tmp_path / "cut.ts"
    with av.open(str(whole)) as src, av.open(str(cut), "w") as out:
        ost = out.add_stream_from_template(src.streams.video[0])
        for pkt in list(src.demux(src.streams.video[0]))[3:]:  # from frame 3: its keyframe (0) is cut away
            if pkt.pts is not None:
                pkt.stream = ost
                out.mux(pkt)
    res = colorize_video(cut, tmp_path / "out.mkv", colorizer, VideoOptions(temporal="off"))
    assert res.frames == 10  # frames 10-19, from the keyframe at 10
    assert ("the stream starts mid-way (cut from a longer recording?): its first 7 frame(s) cannot be decoded "
            "without the frames before them and are left out; the picture starts 0.28 s in, as in the source") in res.notes
    with av.open(str(tmp_path / "out.mkv")) as c:
        assert float(next(c.decode(video=0)).pts * c.streams.video[0].time_base) == pytest.approx(0.28, abs=0.002)
    whole_res = colorize_video(whole, tmp_path / "whole_out.mkv", colorizer, VideoOptions(temporal="off"))
    assert not any("mid-way" in n for n in whole_res.notes)


@pytest.mark.parametrize("layout, ext, codec", [("5.1(side)", "mp4", "aac"), ("5.1(side)", "webm", "opus"),
                                                ("quad", "webm", "opus"), ("3.0", "mp4", "aac")])
def test_surround_audio_is_transcoded_with_all_its_channels(tmp_path, colorizer, layout, ext, codec):
    """A 5.1 PCM master's sound into MP4 or WebM failed with a TypeError traceback (PyAV takes no channel
    count for a layout; a film restorer's test); a layout is now named in an order Opus takes too."""
    src = tmp_path / "master.mkv"
    channels = av.AudioLayout(layout).nb_channels
    with av.open(str(src), "w") as c:
        v = c.add_stream("libx264", rate=25)
        v.width, v.height, v.pix_fmt = 64, 48, "yuv420p"
        a = c.add_stream("pcm_s16le", rate=48000)
        a.layout = layout
        mux_frames(c, v, (frame_pattern(i, 64, 48) for i in range(3)))
        f = av.AudioFrame.from_ndarray(np.zeros((1, channels * 5760), np.int16), format="s16", layout=layout)
        f.sample_rate, f.pts = 48000, 0
        for p in [*a.encode(f), *a.encode()]:
            c.mux(p)
    res = colorize_video(src, tmp_path / f"out.{ext}", colorizer, VideoOptions(temporal="off"))
    assert res.status == "done"
    with av.open(str(tmp_path / f"out.{ext}")) as c:
        cc = c.streams.audio[0].codec_context
        assert (cc.name, cc.layout.nb_channels) == (codec, channels)


def test_a_data_stream_left_out_is_said_and_a_quicktime_chapter_track_is_no_data_stream(tmp_path, colorizer):
    """A TS's KLV data stream was dropped without a word; a MOV's chapter track, a data stream FFmpeg reads as
    the chapters and sets aside, is carried as chapters, not said to be dropped (nor, as a first version of
    that note did, failing the plan on its missing codec)."""
    ts = tmp_path / "drone.ts"
    with av.open(str(ts), "w") as c:
        v = c.add_stream("libx264", rate=25)
        v.width, v.height, v.pix_fmt = 64, 48, "yuv420p"
        d = c.add_data_stream("klv")
        mux_frames(c, v, (frame_pattern(i, 64, 48) for i in range(3)))
        pkt = av.Packet(b"\x06\x0e\x2b\x34 telemetry")
        pkt.stream, pkt.time_base, pkt.pts, pkt.dts = d, fractions.Fraction(1, 90000), 0, 0
        c.mux(pkt)
    notes = plan_output(ts, tmp_path / "out.mkv").notes
    assert notes == ["data stream 1 not written: vidcolor carries video, audio, subtitles, attachments and the timecode"]
    mov = tmp_path / "chapters.mov"
    with av.open(str(mov), "w") as c:
        v = c.add_stream("libx264", rate=25)
        v.width, v.height, v.pix_fmt = 64, 48, "yuv420p"
        c.set_chapters([{"id": 1, "start": 0, "end": 3, "time_base": fractions.Fraction(1, 25), "metadata": {"title": "One"}}])
        mux_frames(c, v, (frame_pattern(i, 64, 48) for i in range(3)))
    with av.open(str(mov)) as c:
        assert [s.type for s in c.streams] == ["video", "data"]  # the chapter track
    res = colorize_video(mov, tmp_path / "out.mov", colorizer, VideoOptions(temporal="off"))
    assert res.status == "done" and not any("not written" in n for n in res.notes)
    with av.open(str(tmp_path / "out.mov")) as c:
        assert [ch["metadata"]["title"] for ch in c.chapters()] == ["One"]


@pytest.mark.parametrize("trc, says", [(16, "the source is HDR (PQ): its lightness is written as coded, tagged as SDR "
                                             "(BT.709): players show it dark and flat; convert it to SDR first"),
                                       (18, "the source is HDR (HLG): its lightness is written as coded, tagged as SDR "
                                             "(BT.709): players show HLG's SDR-compatible picture, without its highlights")])
def test_an_hdr_source_written_with_sdr_tags_says_so(tmp_path, trc, says):
    """An HDR10 (PQ) scan came out with its PQ-coded lightness under BT.709 tags, shown dark and flat, with only
    the 10-bit note (a film restorer's test)."""
    src = tmp_path / "hdr.mkv"
    with av.open(str(src), "w") as c:
        v = c.add_stream("libx264", rate=25)
        v.width, v.height, v.pix_fmt = 64, 48, "yuv420p10le"
        v.codec_context.color_primaries, v.codec_context.color_trc, v.codec_context.colorspace = 9, trc, 9
        mux_frames(c, v, (frame_pattern(i, 64, 48) for i in range(2)))
    assert says in plan_output(src, tmp_path / "out.mp4").notes
    assert not any("HDR" in n for n in plan_output(write_video(tmp_path / "sdr.mkv", frames=2, audio=None,
                                                               pix_fmt="yuv420p10le"), tmp_path / "o.mp4").notes)


def tagged_master(tmp_path: Path) -> Path:
    """A two-frame MKV master with a title, a comment and a copyright (the work's tags)."""
    src = write_video(tmp_path / "master.mkv", frames=2, audio=None)
    with av.open(str(src)) as c, av.open(str(tmp_path / "tagged.mkv"), "w") as out:
        out.metadata.update({"title": "Reel 1", "comment": "restored 2026", "copyright": "Archive"})
        ost = out.add_stream_from_template(c.streams.video[0])
        for pkt in c.demux(c.streams.video[0]):
            if pkt.pts is not None:
                pkt.stream = ost
                out.mux(pkt)
    return tmp_path / "tagged.mkv"


@pytest.mark.parametrize("ext", ["mkv", "mp4", "mov", "avi"])
def test_the_works_tags_are_kept_beside_its_title(tmp_path, colorizer, ext):
    """An archive master's copyright and comment were dropped, only its title kept (a film restorer's test)."""
    colorize_video(tagged_master(tmp_path), tmp_path / f"out.{ext}", colorizer, VideoOptions(temporal="off"))
    with av.open(str(tmp_path / f"out.{ext}")) as c:
        tags = {k.lower(): v for k, v in c.metadata.items()}
    assert (tags["title"], tags["comment"], tags["copyright"]) == ("Reel 1", "restored 2026", "Archive")


def test_audio_mixed_down_to_the_encoders_channels_is_said(tmp_path):
    src = tmp_path / "sixteen.mkv"
    with av.open(str(src), "w") as c:
        v = c.add_stream("libx264", rate=25)
        v.width, v.height, v.pix_fmt = 64, 48, "yuv420p"
        a = c.add_stream("pcm_s16le", rate=48000)
        a.layout = "hexadecagonal"
        f = av.VideoFrame.from_ndarray(frame_pattern(0, 64, 48), format="rgb24")
        for p in [*v.encode(f), *v.encode()]:
            c.mux(p)
        f = av.AudioFrame.from_ndarray(np.zeros((1, 16 * 1024), np.int16), format="s16", layout="hexadecagonal")
        f.sample_rate, f.pts = 48000, 0
        for p in [*a.encode(f), *a.encode()]:
            c.mux(p)
    assert ("audio stream 1 (pcm_s16le) transcoded to AAC, mixed down from 16 channels to 8: MP4 cannot hold pcm_s16le"
            in plan_output(src, tmp_path / "out.mp4").notes)


@pytest.mark.parametrize("ext", ["mov", "mp4"])
def test_a_drop_frame_timecode_the_rate_cannot_have_is_said_not_dropped_unsaid(tmp_path, ext):
    """A drop-frame timecode ("01:00:00;00") on a 25 frames a second MKV: FFmpeg's MOV muxer skips it with only a
    log line, so the output had no timecode and the plan, which had tried it, said nothing."""
    src = tmp_path / "pal.mkv"
    with av.open(str(src), "w") as c:
        v = c.add_stream("libx264", rate=25)
        v.width, v.height, v.pix_fmt = 64, 48, "yuv420p"
        v.metadata["timecode"] = "01:00:00;00"
        for p in [*v.encode(av.VideoFrame.from_ndarray(frame_pattern(0, 64, 48), format="rgb24")), *v.encode()]:
            c.mux(p)
    plan = plan_output(src, tmp_path / f"out.{ext}")
    assert plan.timecode is None
    assert (f"the source's timecode 01:00:00;00 not written: the {ext} muxer did not take it (not a timecode at 25 "
            "frames a second)") in plan.notes
    assert plan_output(src, tmp_path / "out.mkv").timecode == "01:00:00;00"  # a Matroska tag takes any


def test_a_pixel_shape_not_written_leaves_the_resume_key_as_it_was(tmp_path):
    """Where VP9 or AV1 in WebM/MKV cannot carry non-square pixels, the output is what it was before they were
    kept; its key had changed all the same, so a finished or half-done anamorphic WebM was redone from frame 0."""
    square = write_video(tmp_path / "square.mp4", w=96, h=64, frames=2, audio=None)
    dvd = write_video(tmp_path / "dvd.mp4", w=96, h=64, frames=2, audio=None, sar=fractions.Fraction(32, 27))
    assert plan_output(dvd, tmp_path / "out.webm").key == plan_output(square, tmp_path / "out.webm").key
    assert plan_output(dvd, tmp_path / "out.mp4").key != plan_output(square, tmp_path / "out.mp4").key  # written there


def test_hevc_of_frames_under_64_pixels_does_not_crash_the_process(tmp_path, weights_file):
    """`--codec libx265` on a 40x64 clip aborted the whole process in 4 runs of 5 with glibc's "free(): invalid
    next size (fast)" (exit 134), sometimes after its "done" line: x265's cu-tree corrupts the heap on frames
    under 64 pixels on a side once a second encoder opens in the process, as each segment's does (plain PyAV
    too; a film restorer's test). Such frames are encoded with cutree=0, larger ones as before."""
    import subprocess
    import sys

    from vidcolor.io.base import VideoInfo
    from vidcolor.io.plan import add_video_stream

    clip = write_video(tmp_path / "tiny.mp4", w=40, h=64, frames=30, audio=None)
    for i in range(2):
        out = tmp_path / f"out{i}.mp4"
        r = subprocess.run([sys.executable, "-m", "vidcolor", str(clip), "-o", str(out), "--codec", "libx265", "-q",
                            "--weights", str(weights_file)], capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr[-500:]
        assert probe(out)["frames"] == 30
    plan = plan_output(clip, tmp_path / "o.mkv", codec="libx265")
    for (w, h), params in (((40, 64), "log-level=error:cutree=0"), ((64, 64), "log-level=error")):
        with av.open(str(tmp_path / "x.mkv"), "w") as c:
            info = VideoInfo(path=clip, width=w, height=h, frames=1, time_base=fractions.Fraction(1, 25),
                             average_rate=fractions.Fraction(25), rotation=0, codec="h264", duration_s=None, start_pts=None)
            s = add_video_stream(c, plan, info)
            assert s.options["x265-params"] == params


def test_a_source_whose_metadata_is_not_utf_8_is_colorized(tmp_path, colorizer):
    """A title written in Latin-1 (old cameras and digitising tools do) made PyAV's av.open raise
    UnicodeDecodeError: a traceback in the CLI and a 500 from vidcolor serve's /api/jobs (an IT admin's test).
    Sources are opened with metadata_errors="replace": the bytes that do not decode become U+FFFD."""
    src = write_video(tmp_path / "a.mp4", w=64, h=48, frames=6, audio="aac")
    with av.open(str(src)) as c, av.open(str(tmp_path / "b.mp4"), "w") as out:
        out.metadata["title"] = "QQQQZZZZ"
        streams = {s.index: out.add_stream_from_template(s) for s in c.streams}
        for pkt in c.demux():
            if pkt.dts is not None:
                pkt.stream = streams[pkt.stream.index]
                out.mux(pkt)
    data = bytearray((tmp_path / "b.mp4").read_bytes())
    at = data.find(b"QQQQZZZZ")
    data[at:at + 2] = b"\x9d\xe9"  # "Qu" in Latin-1 would be 0x51 0x75; these are no UTF-8
    (tmp_path / "latin1.mp4").write_bytes(bytes(data))
    with pytest.raises(UnicodeDecodeError):
        av.open(str(tmp_path / "latin1.mp4")).close()
    res = colorize_video(tmp_path / "latin1.mp4", tmp_path / "out.mp4", colorizer)
    assert res.status == "done" and probe(tmp_path / "out.mp4")["frames"] == 6
    with av.open(str(tmp_path / "out.mp4")) as c:
        assert c.metadata.get("title") == "\ufffd\ufffdQQZZZZ"


def _with_empty_streams(path: Path, audio: bool = True, subtitles: bool = False) -> Path:
    """An MKV whose AAC track and SubRip track are declared but hold no packet, beside 10 frames of video."""
    with av.open(str(path), "w") as c:
        v = c.add_stream("libx264", rate=25)
        v.width, v.height, v.pix_fmt = 64, 48, "yuv420p"
        if audio:
            c.add_stream("aac", rate=16000).layout = "mono"
        if subtitles:
            c.add_mux_stream("subrip")
        mux_frames(c, v, [frame_pattern(i, 64, 48) for i in range(10)])
    return path


@pytest.mark.parametrize("ext, kept", [("mp4", []), ("mov", []), ("mkv", [("audio", "aac"), ("subtitle", "subrip")])])
def test_an_empty_audio_track_the_output_leaves_out_is_said(tmp_path, colorizer, ext, kept):
    """MP4 and MOV write no track without samples: an MKV's empty AAC track, planned as copied, was missing from
    the MP4 with no note. An empty subtitle track is kept there (as mov_text), and MKV keeps both: no note."""
    src = _with_empty_streams(tmp_path / "in.mkv", audio=True, subtitles=ext == "mkv")
    res = colorize_video(src, tmp_path / f"out.{ext}", colorizer, VideoOptions(temporal="off"))
    with av.open(str(res.output)) as c:
        assert [(s.type, s.codec_context.codec.canonical_name) for s in c.streams if s.type != "video"] == kept
    label = {"mp4": "MP4", "mov": "QuickTime (MOV)"}.get(ext)
    assert res.notes == ([f"audio stream 1 (aac) not written: it holds no packets, and {label} keeps no empty track"]
                         if label else [])


def test_an_empty_subtitle_track_is_kept_in_mp4_without_a_note(tmp_path, colorizer):
    src = _with_empty_streams(tmp_path / "in.mkv", audio=False, subtitles=True)
    res = colorize_video(src, tmp_path / "out.mp4", colorizer, VideoOptions(temporal="off"))
    with av.open(str(res.output)) as c:
        assert [s.type for s in c.streams] == ["video", "subtitle"]
    assert res.notes == ["subtitle stream 1 (subrip) converted to mov_text: MP4 cannot hold subrip"]


def _encoder_takes(codec: str, pix_fmt: str) -> bool:
    try:
        return pix_fmt in [f.name for f in av.codec.Codec(codec, "w").video_formats or []]
    except (ValueError, av.error.FFmpegError):  # not in this FFmpeg build
        return False


@pytest.mark.parametrize("codec, pix_fmt, ext, says", [("png", "rgba", "mov", "rgba"),
                                                       ("prores_ks", "yuva444p10le", "mov", "yuva444p"),
                                                       ("libvpx-vp9", "yuva420p", "webm", "VP8/VP9 alpha")])
def test_an_alpha_channel_the_output_cannot_hold_is_said(tmp_path, colorizer, codec, pix_fmt, ext, says):
    """A titles master with transparency (ProRes 4444, PNG or QuickTime Animation in a MOV, VP9 alpha in WebM)
    came out opaque without a word (an archivist's test). WebM's VP9 alpha is stored beside the picture, and
    FFmpeg's own VP9 decoder leaves it out: its stream's alpha_mode tag says it is there."""
    if not _encoder_takes(codec, pix_fmt):
        pytest.skip(f"this FFmpeg's {codec} does not write {pix_fmt}")
    src = write_video(tmp_path / f"titles.{ext}", frames=3, audio=None, codec=codec, pix_fmt=pix_fmt)
    res = colorize_video(src, tmp_path / "out.mp4", colorizer, VideoOptions(temporal="off"))
    assert res.frames == 3
    alpha = [n for n in res.notes if "alpha" in n]
    assert len(alpha) == 1 and alpha[0].startswith(f"the source has an alpha channel ({says}") and "written without it" in alpha[0]
    opaque = write_video(tmp_path / "opaque.mov", frames=2, audio=None, codec="png", pix_fmt="rgb24")
    assert not any("alpha" in n for n in plan_output(opaque, tmp_path / "out2.mp4").notes)


@pytest.mark.parametrize("ext", ["mkv", "mp4", "mov", "avi"])
def test_a_camera_originals_date_place_and_camera_are_kept_and_tags_a_container_cannot_hold_are_said(tmp_path, colorizer, ext):
    """A camcorder's clip lost its recording date (creation_time), place and camera, and MOV and AVI outputs lost
    a description and director, all without a word (an archivist's test): they are kept where the container has a
    field, and named in a note where it has none."""
    src = write_video(tmp_path / "master.mkv", frames=2, audio=None)
    recorded = {"creation_time": "1998-07-04T12:00:00.000000Z", "location": "+52.3700+004.8900/", "make": "Sony",
                "model": "DCR-VX1000"}
    with av.open(str(src)) as c, av.open(str(tmp_path / "tagged.mkv"), "w") as out:
        out.metadata.update({**recorded, "title": "Reel 1", "description": "Harbour, 1998", "director": "J. Doe"})
        ost = out.add_stream_from_template(c.streams.video[0])
        for pkt in c.demux(c.streams.video[0]):
            if pkt.pts is not None:
                pkt.stream = ost
                out.mux(pkt)
    res = colorize_video(tmp_path / "tagged.mkv", tmp_path / f"out.{ext}", colorizer, VideoOptions(temporal="off"))
    with av.open(str(tmp_path / f"out.{ext}")) as c:
        tags = {k.lower(): v for k, v in c.metadata.items()}
    held = {"mkv": set(recorded) | {"description", "director"}, "mp4": {"creation_time", "location", "description"},
            "mov": set(recorded), "avi": set()}[ext]
    assert {k: tags.get(k) for k in held} == {k: v for k, v in {**recorded, "description": "Harbour, 1998",
                                                                "director": "J. Doe"}.items() if k in held}
    lost = [k for k in ("creation_time", "location", "make", "model", "description", "director") if k not in held]
    said = [n for n in res.notes if "not kept" in n]
    if lost:
        assert len(said) == 1 and said[0].startswith(f"tags {', '.join(sorted(lost))} not kept: "), said
    else:
        assert not said, said


@pytest.mark.parametrize("ext", ["mkv", "mp4", "mov"])
def test_a_colorized_video_names_vidcolor_as_its_encoder_beside_the_sources_tags(tmp_path, colorizer, ext):
    """Nothing in a colorized film's metadata said it was colorized, or by what (an archivist's test): its video
    stream's encoder tag names vidcolor and that it was colorized (MP4 and MOV keep 31 characters there), MP4's
    encoding tool the whole with the weights; the source's own tags are left as they were."""
    colorize_video(tagged_master(tmp_path), tmp_path / f"out.{ext}", colorizer, VideoOptions(temporal="off"))
    made_by = colorizer.provenance
    with av.open(str(tmp_path / f"out.{ext}")) as c:
        tags = {k.lower(): v for k, v in c.metadata.items()}
        encoder = {k.lower(): v for k, v in c.streams.video[0].metadata.items()}["encoder"]
    assert (tags["title"], tags["comment"], tags["copyright"]) == ("Reel 1", "restored 2026", "Archive")
    if ext == "mkv":
        assert encoder == made_by
    else:
        assert encoder == made_by.split(";")[0] + ")" and encoder.endswith("(colorized)")
    if ext == "mp4":
        assert tags["encoder"] == made_by  # the file's encoding tool (©too)
