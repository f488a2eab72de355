"""Every bad input gets a one-line error naming the file and the reason, and leaves nothing behind."""
import os

import pytest

from tests.media import write_audio_only, write_image, write_video
from vidcolor.errors import InputError, OutputError
from vidcolor.folder import colorize_folder, colorize_image
from vidcolor.pipeline import colorize_video


def no_leftovers(folder):
    return [p.name for p in folder.rglob("*") if "vidcolor-partial" in p.name]


@pytest.mark.parametrize("case", ["missing", "text", "empty", "truncated", "audio_only"])
def test_bad_video_inputs_raise_one_line_errors(tmp_path, colorizer, case):
    src = tmp_path / "in.mp4"
    if case == "text":
        src.write_text("this is not a video\n" * 50)
    elif case == "empty":
        src.write_bytes(b"")
    elif case == "truncated":
        write_video(src, frames=60, audio=None)
        data = src.read_bytes()
        src.write_bytes(data[: len(data) // 2])
    elif case == "audio_only":
        write_audio_only(tmp_path / "in.m4a")
        src = tmp_path / "in.m4a"
    out = tmp_path / "out" / "o.mp4"
    with pytest.raises(InputError) as e:
        colorize_video(src, out, colorizer)
    msg = str(e.value)
    assert str(src) in msg and "\n" not in msg
    assert not out.exists() and no_leftovers(tmp_path) == []


def test_a_video_that_may_not_be_read_says_so_and_is_not_called_unreadable(tmp_path, monkeypatch):
    """A film without read permission for this user failed as "not a readable video (Permission denied)",
    as a scan did (an archivist's test): the file was whole; its permission is what to fix."""
    import av

    from vidcolor.io.video import _open_input

    src = tmp_path / "locked.mp4"
    write_video(src, frames=4, audio=None)

    def refusing(path, *args, **kwargs):
        raise av.error.PermissionError(13, "Permission denied", str(path))
    monkeypatch.setattr(av, "open", refusing)
    with pytest.raises(InputError) as e:
        _open_input(src)
    assert str(e.value) == f"{src}: cannot read (Permission denied)"


def test_truncated_mp4_with_index_up_front_is_written_as_far_as_it_goes_with_a_note(tmp_path, colorizer):
    """moov before mdat: the header promises more video than the file holds. It failed with "truncated"
    after every frame it holds was done; a cut MKV was written with a note (new-user test, 2026-11-27)."""
    import av
    import numpy as np

    src = tmp_path / "fast.mp4"
    with av.open(str(src), "w", options={"movflags": "faststart"}) as c:
        v = c.add_stream("libx264", rate=25)
        v.width, v.height, v.pix_fmt = 64, 48, "yuv420p"
        rng = np.random.default_rng(0)
        for i in range(50):
            f = av.VideoFrame.from_ndarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8), format="rgb24")
            f.pts = i
            for p in v.encode(f):
                c.mux(p)
        for p in v.encode():
            c.mux(p)
    data = src.read_bytes()
    src.write_bytes(data[: int(len(data) * 0.6)])
    res = colorize_video(src, tmp_path / "o.mp4", colorizer)
    assert 0 < res.frames < 50 and res.note == f"the source ends early: {res.frames} of 50 frames (its header says 2.0 s)"
    with av.open(str(tmp_path / "o.mp4")) as c:
        assert sum(1 for _ in c.decode(video=0)) == res.frames
    with av.open(str(tmp_path / "o.mp4")) as c:
        # its last frame lasts one frame, not until the 2.0 s the header promised (it was held, frozen: a review)
        s = c.streams.video[0]
        last = max((p for p in c.demux(s) if p.pts is not None), key=lambda p: p.pts)
        assert float(last.duration * s.time_base) == pytest.approx(0.04), float(last.duration * s.time_base)
        assert c.duration / av.time_base < res.frames / 25 + 0.1
    assert no_leftovers(tmp_path) == [], no_leftovers(tmp_path)


@pytest.mark.parametrize("keep", [0.3, 0.8])
def test_a_cut_avi_says_how_many_frames_its_header_counts(tmp_path, keep):
    """An AVI's frame count is in its header; FFmpeg's duration is what a scan of the cut file found, so
    an AVI cut to 80% was a plain "done" and one cut to 30% said "its header says 1.2 s" of a 4 s
    file (new-user test, 2026-11-27)."""
    import av
    import numpy as np

    from vidcolor.io.video import VideoSource

    src = tmp_path / "g.avi"
    with av.open(str(src), "w") as c:
        v = c.add_stream("mpeg4", rate=25)
        v.width, v.height, v.pix_fmt = 64, 48, "yuv420p"
        rng = np.random.default_rng(0)
        for _ in range(100):
            for p in v.encode(av.VideoFrame.from_ndarray(rng.integers(0, 255, (48, 64, 3), dtype=np.uint8), format="rgb24")):
                c.mux(p)
        for p in v.encode():
            c.mux(p)
    with VideoSource(src) as whole:
        assert whole.ends_early(sum(1 for _ in whole.frames(luma=True))) is None
    data = src.read_bytes()
    src.write_bytes(data[: int(len(data) * keep)])
    with VideoSource(src) as cut:
        n = sum(1 for _ in cut.frames(luma=True))
        assert cut.ends_early(n) == f"the source ends early: {n} of 100 frames (its header says 4.0 s)"


def test_output_equal_to_input_is_refused(tmp_path, colorizer):
    src = write_video(tmp_path / "in.mp4", frames=3, audio=None)
    before = src.read_bytes()
    with pytest.raises(OutputError, match="output is the input"):
        colorize_video(src, tmp_path / "." / "in.mp4", colorizer)
    assert src.read_bytes() == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_output_folder_is_reported(tmp_path, colorizer):
    src = write_video(tmp_path / "in.mp4", frames=3, audio=None)
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    with pytest.raises(OutputError, match="not writable"):
        colorize_video(src, ro / "o.mp4", colorizer)


def test_output_under_a_file_is_reported(tmp_path, colorizer):
    """Works as root too: a path whose 'folder' is a regular file cannot be created."""
    src = write_video(tmp_path / "in.mp4", frames=3, audio=None)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OutputError, match="cannot create the output folder"):
        colorize_video(src, blocker / "o.mp4", colorizer)


@pytest.mark.parametrize("case", ["text", "empty", "truncated"])
def test_bad_images_raise_one_line_errors(tmp_path, colorizer, case):
    src = tmp_path / "bad.jpg"
    if case == "text":
        src.write_text("hello, I am text")
    elif case == "empty":
        src.write_bytes(b"")
    else:
        write_image(src, h=200, w=300)
        src.write_bytes(src.read_bytes()[:300])
    with pytest.raises(InputError) as e:
        colorize_image(src, tmp_path / "out.jpg", colorizer)
    assert str(src) in str(e.value) and "\n" not in str(e.value)
    assert not (tmp_path / "out.jpg").exists() and no_leftovers(tmp_path) == []


def test_folder_run_skips_bad_files_and_does_the_rest(tmp_path, colorizer):
    src = tmp_path / "scans"
    write_image(src / "good1.png")
    (src / "bad.jpg").write_text("not an image")
    (src / "empty.png").write_bytes(b"")
    write_image(src / "sub" / "good2.jpg")
    results = {r.input.name: r for r in colorize_folder(src, tmp_path / "out", colorizer)}
    assert {k: r.status for k, r in results.items()} == {"good1.png": "done", "bad.jpg": "failed", "empty.png": "failed", "good2.jpg": "done"}
    assert "bad.jpg" in results["bad.jpg"].error
    assert (tmp_path / "out" / "good1.png").exists() and (tmp_path / "out" / "sub" / "good2.jpg").exists()
    assert not (tmp_path / "out" / "bad.jpg").exists()
    assert no_leftovers(tmp_path) == []


def test_an_installed_package_looks_for_weights_only_in_its_own_folder(tmp_path, monkeypatch):
    """Installed, the source checkout's fallback weights/ became site-packages/weights, a folder nobody
    owns, and the error named it (a wheel user's test). Only a checkout (a pyproject.toml beside the
    package) has that fallback."""
    from vidcolor import weights as W
    from vidcolor.errors import WeightsError

    site = tmp_path / "site-packages"
    (site / "vidcolor" / "_weights").mkdir(parents=True)
    (site / "weights").mkdir()
    (site / "weights" / "manifest.json").write_text('{"effnet_unet": {"file": "x.pt", "sha256": "0"}}')
    monkeypatch.setattr(W, "_PKG", site / "vidcolor")
    assert W.weights_dirs() == []
    with pytest.raises(WeightsError) as e:
        W.shipped_file("cunet", "model")
    assert str(site / "weights") not in str(e.value) and str(site / "vidcolor" / "_weights") in str(e.value)
    (site / "pyproject.toml").write_text("")  # a checkout: its weights/ is found
    assert W.weights_dirs() == [site / "weights"]


@pytest.mark.parametrize("name", ["scan", "scan.jp2", "scan.ppm", "still.gif", "photo.avif"])
def test_a_still_image_given_as_a_video_is_refused_not_written_as_a_one_frame_video(tmp_path, colorizer, name):
    """A photo without a photo's extension (a PNG named `scan`, JPEG 2000, PPM, a one-frame GIF) became a
    one-frame MKV, "done", exit 0 (an operator's test). An animated GIF is still a clip."""
    from PIL import Image

    import numpy as np

    g = Image.fromarray(np.tile(np.arange(48, dtype=np.uint8) * 5, (32, 1)), "L")
    src = tmp_path / name
    if name == "scan":
        g.save(src, format="PNG")
    elif name == "still.gif":
        g.convert("P").save(src)
    elif name == "photo.avif":  # FFmpeg reads it as a one-frame MP4; its ftyp brand says it is a photo
        from PIL import features

        if not features.check("avif"):
            pytest.skip("this Pillow writes no AVIF")
        g.convert("RGB").save(src)
    else:
        g.save(src)
    with pytest.raises(InputError, match=r"a still image \(.*\), not a video; vidcolor reads photos named") as e:
        colorize_video(src, tmp_path / "out.mkv", colorizer)
    assert str(src) in str(e.value) and "\n" not in str(e.value)
    assert not (tmp_path / "out.mkv").exists()
    anim = tmp_path / "anim.gif"
    g.save(anim, save_all=True, append_images=[g.rotate(180)], duration=100)
    assert colorize_video(anim, tmp_path / "anim.mkv", colorizer).frames == 2
