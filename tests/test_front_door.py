"""vidcolor.colorize, the one front door: dispatch, default outputs, refusals before the model loads,
outputs vidcolor did not write, broken metadata, videos in folders, and the array API."""
import re
import time
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

import vidcolor
from tests.media import probe, write_image, write_video
from vidcolor.errors import InputError, OutputError, UsageError, WeightsError
from vidcolor.options import FolderOptions, VideoOptions


@pytest.fixture
def no_model_load(monkeypatch):
    """Fails the test if the front door starts loading a model."""
    calls = []
    monkeypatch.setattr("vidcolor.api._load", lambda **kw: calls.append(kw) or pytest.fail("model loaded"))
    return calls


def test_colorize_array_takes_gray_and_read_only_arrays(colorizer):
    gray = np.random.default_rng(0).integers(0, 255, (40, 60), dtype=np.uint8)
    gray.setflags(write=False)
    out = colorizer.colorize_array(gray)
    assert out.shape == (40, 60, 3) and out.dtype == np.uint8
    assert np.array_equal(out, colorizer.colorize_array(np.repeat(gray[..., None], 3, axis=2)))
    rgb = np.repeat(gray[..., None], 3, axis=2)
    rgb.setflags(write=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # torch warns when it wraps a read-only array: it must not be handed one
        assert colorizer.colorize_array(rgb).shape == (40, 60, 3)
    assert colorizer.colorize_array((gray.astype(np.uint16) * 257)).dtype == np.uint16
    for bad, says in [([[1, 2]], "a numpy array, got list"), (np.zeros((4, 4, 5), np.uint8), "got shape"),
                      (np.zeros((4, 4), np.float32), "uint8 or uint16"),  # a list gave an AttributeError (new-user test)
                      (np.zeros((0, 5), np.uint8), r"empty image: shape \(0, 5\)")]:  # ZeroDivisionError (operator)
        with pytest.raises(UsageError, match=says):
            colorizer.colorize_array(bad)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_colorize_array_takes_one_channel_gray_and_keeps_an_alpha(colorizer, dtype):
    """(H, W, 1) gray and (H, W, 4) RGBA arrays were refused ("got shape"), where an image file's gray and
    alpha are read and kept (a library user's arrays, from their own reader, had them)."""
    rng = np.random.default_rng(0)
    gray = rng.integers(0, 255, (40, 60), dtype=np.uint8).astype(dtype) * (257 if dtype == np.uint16 else 1)
    alpha = rng.integers(0, 255, (40, 60), dtype=np.uint8).astype(dtype)
    as_gray = colorizer.colorize_array(gray)
    assert np.array_equal(colorizer.colorize_array(gray[..., None]), as_gray)
    rgba = np.dstack([np.repeat(gray[..., None], 3, axis=2), alpha])
    rgba.setflags(write=False)
    for four in (rgba, np.dstack([gray, alpha])):  # RGBA, and gray and alpha
        out = colorizer.colorize_array(four)
        assert out.shape == (40, 60, 4) and out.dtype == dtype
        assert np.array_equal(out[..., :3], as_gray) and np.array_equal(out[..., 3], alpha)
    outs = colorizer.colorize_arrays([gray, rgba])
    assert np.array_equal(outs[0], as_gray) and np.array_equal(outs[1][..., 3], alpha)


def test_one_front_door_for_a_photo_a_video_and_a_folder_with_default_outputs(tmp_path, colorizer):
    photo = write_image(tmp_path / "photo.jpg", h=40, w=56)
    film = write_video(tmp_path / "film.mp4", frames=6, audio=None)
    scans = tmp_path / "scans"
    write_image(scans / "a.png")
    seen = []
    [res] = vidcolor.colorize(photo, colorizer=colorizer, on_result=seen.append)
    assert res.status == "done" and res.output == tmp_path / "photo_color.jpg" and res.output.is_file()
    [res] = vidcolor.colorize(film, colorizer=colorizer)
    assert res.output == tmp_path / "film_color.mp4" and probe(res.output)["frames"] == 6
    [res] = vidcolor.colorize(scans, colorizer=colorizer)
    assert res.output == tmp_path / "scans_color" / "a.png" and res.output.is_file()
    assert [r.input for r in seen] == [photo]


@pytest.mark.parametrize("case", ["missing", "video_to_gif", "video_to_jpg", "photo_to_mp4", "folder_to_file",
                                  "unknown_codec", "audio_codec", "foreign_file", "output_is_input"])
def test_refused_at_once_before_the_model_loads(tmp_path, no_model_load, case):
    film = write_video(tmp_path / "film.mp4", frames=3, audio=None)
    photo = write_image(tmp_path / "p.png")
    (tmp_path / "scans").mkdir()
    (tmp_path / "taken.mp4").write_bytes(b"somebody's film")
    src, dst, opts = {
        "missing": (tmp_path / "nope.mp4", tmp_path / "o.mp4", {}),
        "video_to_gif": (film, tmp_path / "o.gif", {}),
        "video_to_jpg": (film, tmp_path / "o.jpg", {}),
        "photo_to_mp4": (photo, tmp_path / "o.mp4", {}),
        "folder_to_file": (tmp_path / "scans", photo, {}),
        "unknown_codec": (film, tmp_path / "o.mp4", {"codec": "libnope"}),
        "audio_codec": (film, tmp_path / "o.mp4", {"codec": "aac"}),
        "foreign_file": (film, tmp_path / "taken.mp4", {}),
        "output_is_input": (film, film, {}),
    }[case]
    t0 = time.monotonic()
    with pytest.raises(InputError if case == "missing" else UsageError) as e:
        vidcolor.colorize(src, dst, video=VideoOptions(**opts))
    assert time.monotonic() - t0 < 2.0 and "\n" not in str(e.value)
    assert (tmp_path / "taken.mp4").read_bytes() == b"somebody's film"
    assert not any(p.name.startswith(("o.", ".vidcolor")) for p in tmp_path.iterdir())


def test_a_file_vidcolor_did_not_write_is_never_replaced_without_overwrite(tmp_path, colorizer):
    photo = write_image(tmp_path / "p.jpg")
    film = write_video(tmp_path / "film.mp4", frames=4, audio=None)
    for src, dst in ((photo, tmp_path / "out.jpg"), (film, tmp_path / "out.mp4")):
        dst.write_bytes(b"not ours")
        with pytest.raises(UsageError, match="not written by vidcolor"):
            vidcolor.colorize(src, dst, colorizer=colorizer)
        assert dst.read_bytes() == b"not ours"
        [res] = vidcolor.colorize(src, dst, colorizer=colorizer, video=VideoOptions(overwrite=True),
                                  folder=FolderOptions(overwrite=True))
        assert res.status == "done" and dst.read_bytes() != b"not ours"
        [res] = vidcolor.colorize(src, dst, colorizer=colorizer)  # the journal knows it now: today's behaviour
        assert res.status == "skipped" and res.note == "already done"


def test_the_library_calls_refuse_a_file_vidcolor_did_not_write_too(tmp_path, colorizer):
    """colorize_video and colorize_image, called directly (not through the front door), refuse a file
    that no vidcolor run wrote, unless overwrite: the front door's check is not the only one."""
    from vidcolor.folder import colorize_image
    from vidcolor.pipeline import colorize_video

    photo = write_image(tmp_path / "p.jpg")
    film = write_video(tmp_path / "film.mp4", frames=4, audio=None)
    for src, dst, call, opts in ((film, tmp_path / "out" / "film.mp4", colorize_video, VideoOptions),
                                 (photo, tmp_path / "out" / "p.jpg", colorize_image, FolderOptions)):
        dst.parent.mkdir(exist_ok=True)
        dst.write_bytes(b"not ours")
        with pytest.raises(OutputError, match="not written by vidcolor"):
            call(src, dst, colorizer)
        assert dst.read_bytes() == b"not ours"
        assert call(src, dst, colorizer, opts(overwrite=True)).status == "done" and dst.read_bytes() != b"not ours"
        assert call(src, dst, colorizer).status == "skipped"  # journaled: vidcolor's own now


def test_a_video_killed_between_its_final_rename_and_the_journal_resumes_when_called_directly(tmp_path, colorizer,
                                                                                               monkeypatch):
    """The output exists but its "done" line was never written: it is vidcolor's (journal.touch), not a
    foreign file, so the next direct call finishes the run instead of refusing it."""
    from vidcolor.archive import Journal
    from vidcolor.pipeline import colorize_video

    film = write_video(tmp_path / "film.mp4", frames=6, audio=None)
    dst = tmp_path / "out" / "film.mp4"
    record = Journal.record

    def killed(self, src, key, status, *args, **kwargs):
        if status == "done":
            raise KeyboardInterrupt  # stands in for the kill: nothing after the rename runs
        return record(self, src, key, status, *args, **kwargs)

    monkeypatch.setattr(Journal, "record", killed)
    with pytest.raises(KeyboardInterrupt):
        colorize_video(film, dst, colorizer)
    assert dst.is_file()
    monkeypatch.setattr(Journal, "record", record)
    res = colorize_video(film, dst, colorizer)
    assert res.status == "done" and probe(dst)["frames"] == 6
    assert colorize_video(film, dst, colorizer).status == "skipped"


def test_in_a_folder_a_foreign_file_fails_that_input_only(tmp_path, colorizer):
    src = tmp_path / "scans"
    write_image(src / "a.png")
    write_image(src / "b.png", seed=1)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "b.png").write_bytes(b"a file of the user's")
    res = {r.input.name: r for r in vidcolor.colorize(src, tmp_path / "out", colorizer=colorizer)}
    assert res["a.png"].status == "done" and res["b.png"].status == "failed" and "not written by vidcolor" in res["b.png"].error
    assert (tmp_path / "out" / "b.png").read_bytes() == b"a file of the user's"


def jpeg_with_corrupt_exif(path, h=48, w=64):
    """A JPEG whose APP1 EXIF block is not TIFF data: PIL decodes its pixels, but not its EXIF."""
    g = np.random.default_rng(0).integers(0, 255, (h, w), dtype=np.uint8)
    Image.fromarray(g).save(path, exif=b"Exif\x00\x00" + b"garbage-not-tiff" * 4)
    return path


def test_a_jpeg_with_a_corrupt_exif_block_is_colorized_and_the_exif_dropped_with_a_note(tmp_path, colorizer):
    src = jpeg_with_corrupt_exif(tmp_path / "scan.jpg")
    [res] = vidcolor.colorize(src, tmp_path / "out.jpg", colorizer=colorizer)
    assert res.status == "done" and any("corrupt EXIF block dropped" in n for n in res.notes)
    with Image.open(tmp_path / "out.jpg") as out:
        # the corrupt block is not carried: the only EXIF is vidcolor's own provenance mark (Software, and the
        # orientation and an empty Exif sub-IFD that Pillow writes with it)
        exif = out.getexif()
        assert out.size == (64, 48) and exif.get(0x0131) == colorizer.provenance
        assert set(exif) <= {0x0131, 0x0112, 0x8769} and not exif.get_ifd(0x8769)
    folder = tmp_path / "scans"
    folder.mkdir()
    jpeg_with_corrupt_exif(folder / "scan.jpg")
    [res] = vidcolor.colorize(folder, tmp_path / "scans_out", colorizer=colorizer)
    assert res.status == "done" and any("EXIF" in n for n in res.notes)


def test_a_jpeg_with_damaged_exif_entries_keeps_the_rest_says_so_and_warns_nothing(tmp_path, colorizer, weights_file):
    """A new user's JPEG with a cut-short EXIF block: PIL's "Truncated File Read" warnings went to the log
    (two raw lines per photo) and no note said anything was dropped."""
    import subprocess
    import sys

    ex = Image.Exif()
    ex[0x010F], ex[0x0110] = "Cam", "Model X"  # make, and a model whose value the cut loses
    g = np.random.default_rng(0).integers(0, 255, (48, 64), dtype=np.uint8)
    Image.fromarray(g).convert("RGB").save(tmp_path / "scan.jpg", exif=ex.tobytes()[:-6])
    [res] = vidcolor.colorize(tmp_path / "scan.jpg", tmp_path / "out.jpg", colorizer=colorizer)
    assert res.status == "done" and any("damaged EXIF entries dropped" in n for n in res.notes), res.notes
    with Image.open(tmp_path / "out.jpg") as out:
        assert out.size == (64, 48) and out.getexif().get(0x010F) == "Cam"  # the make kept
    # the CLI's log: one line and its note, no warning (a fresh process: warnings show once per place)
    r = subprocess.run([sys.executable, "-m", "vidcolor", str(tmp_path / "scan.jpg"), "-o", str(tmp_path / "cli.jpg"),
                        "--weights", str(weights_file), "--device", "cpu"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stderr.splitlines() == [
        f"done {tmp_path / 'scan.jpg'} -> {tmp_path / 'cli.jpg'} ({r.stderr.split('(')[1].split(')')[0]})",
        "  note: damaged EXIF entries dropped (Truncated File Read); the rest is kept"], r.stderr


def test_a_folder_run_colorizes_its_videos_mirrored_with_journal_resume_and_report(tmp_path, colorizer):
    src = tmp_path / "archive"
    write_image(src / "photos" / "a.png")
    (src / "reels").mkdir()
    write_video(src / "reels" / "reel1.mkv", frames=30, audio="aac")
    write_video(src / "film.mov", frames=5, audio=None)
    opts = VideoOptions(segment_seconds=0.4, batch_size=2)  # 10 frames a segment

    class StopAt:
        def inputs(self, total):
            assert total == 3

        def video(self, path, frames, segment_frames):
            assert segment_frames == 10

            def progress(done, total):
                if path.name == "reel1.mkv" and done >= 15:
                    raise KeyboardInterrupt
            return progress

    with pytest.raises(KeyboardInterrupt):
        vidcolor.colorize(src, tmp_path / "out", colorizer=colorizer, video=opts, progress=StopAt())
    res = {r.input.name: r for r in vidcolor.colorize(src, tmp_path / "out", colorizer=colorizer, video=opts)}
    # film.mov sorts before reels/ and was finished before the interruption
    assert {k: r.status for k, r in res.items()} == {"a.png": "skipped", "film.mov": "skipped", "reel1.mkv": "done"}
    assert res["reel1.mkv"].frames_resumed == 10 and any("resumed at frame 10" in n for n in res["reel1.mkv"].notes)
    assert probe(tmp_path / "out" / "reels" / "reel1.mkv")["frames"] == 30
    assert probe(tmp_path / "out" / "film.mov")["others"] == []
    again = vidcolor.colorize(src, tmp_path / "out", colorizer=colorizer, video=opts)
    assert sorted(r.status for r in again) == ["skipped"] * 3


def test_weights_that_are_not_a_checkpoint_are_named_plainly(tmp_path):
    from vidcolor.models import create_model
    from vidcolor.models.checkpoint import checkpoint_dict, save_checkpoint

    good = tmp_path / "good.pt"
    save_checkpoint(create_model("effnet_unet"), good, half=True)
    files = {
        "truncated": (good.read_bytes()[: good.stat().st_size // 2], "truncated or corrupt"),
        "garbage": (b"garbage" * 100, "not a PyTorch checkpoint"),
        "empty": (b"", "empty weights file"),
    }
    for name, (data, _) in files.items():
        (tmp_path / f"{name}.pt").write_bytes(data)
    torch.save(torch.nn.Linear(2, 2), tmp_path / "pickled.pt")
    torch.save(create_model("effnet_unet").state_dict(), tmp_path / "bare.pt")
    wrong = checkpoint_dict(create_model("effnet_unet", head="reg"))
    wrong["model_args"] = {}
    torch.save(wrong, tmp_path / "wrong_arch.pt")
    expect = {**{k: v[1] for k, v in files.items()}, "pickled": "pickled Python objects (torch.nn.modules.linear.Linear)",
              "bare": "bare state dict", "wrong_arch": "do not fit the 'effnet_unet' architecture"}
    for name, words in expect.items():
        with pytest.raises(WeightsError) as e:
            vidcolor.load_colorizer(weights=tmp_path / f"{name}.pt", device="cpu")
        msg = str(e.value)
        assert words in msg and str(tmp_path / f"{name}.pt") in msg, msg
        assert "weights_only" not in msg and "\n" not in msg


def test_one_opencv_in_the_dependency_tree():
    """scenedetect >= 0.7 requires opencv-python, which with opencv-python-headless gives two cv2 packages
    and a cv2 that needs libGL; the dependencies must pull only the headless build."""
    import re
    from importlib.metadata import PackageNotFoundError, requires

    try:
        requires("vidcolor")
    except PackageNotFoundError:  # run from a checkout on PYTHONPATH (the lent GPU machine): no metadata to walk
        pytest.skip("vidcolor is not installed as a distribution here")
    seen, todo, found = set(), ["vidcolor"], set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            reqs = requires(name) or []
        except PackageNotFoundError:
            continue
        for r in reqs:
            if "extra ==" in r:
                continue
            dep = re.match(r"[A-Za-z0-9_.\-]+", r).group(0).lower().replace("_", "-")
            found.add(dep)
            todo.append(dep)
    assert "opencv-python-headless" in found and "opencv-python" not in found


def test_the_web_front_door_without_the_web_extra_names_the_extra(monkeypatch):
    """vidcolor.serve.create_app without FastAPI raised a bare "No module named 'fastapi'" (a packager's find);
    importing vidcolor.serve needs none of the extra."""
    import sys

    import vidcolor.serve as serve

    monkeypatch.setitem(sys.modules, "fastapi", None)  # as if not installed
    monkeypatch.delitem(sys.modules, "vidcolor.serve.app", raising=False)
    with pytest.raises(ModuleNotFoundError, match=r"^vidcolor.serve.create_app needs fastapi: pip install 'vidcolor\[web\]'$"):
        serve.create_app(None, serve.ServeConfig())


def test_two_inputs_written_to_one_output_both_fail_and_the_rest_goes_on(tmp_path, colorizer):
    """A new user's folder held a.jpg and a.png: with --format png both were 'done' into out/a.png, the
    second replacing the first, and every re-run redid one of them. Same for a.ts and a.mkv (both a.mkv).
    Refusing the whole run for it (exit 2) then stopped a nightly job every night over one stray file
    (another new user): the pair fails, named, and the rest is done."""
    import re

    src = tmp_path / "coll"
    write_image(src / "a.jpg", seed=1)
    write_image(src / "a.png", seed=2)
    write_image(src / "sub" / "b.png")
    out = tmp_path / "out"
    res = {r.input.name: r for r in vidcolor.colorize(src, out, colorizer=colorizer, folder=FolderOptions(fmt_ext=".png"))}
    assert res["a.jpg"].status == res["a.png"].status == "failed" and res["b.png"].status == "done"
    assert re.search(r"a\.jpg and .*a\.png would both be written to .*out/a\.png; rename one of them or leave out --format$",
                     res["a.png"].error), res["a.png"].error
    assert not (out / "a.png").exists() and (out / "sub" / "b.png").is_file()
    films = tmp_path / "films"
    films.mkdir()
    write_video(films / "a.ts", frames=2, audio=None)
    write_video(films / "a.mkv", frames=2, audio=None)
    res = vidcolor.colorize(films, tmp_path / "out2", colorizer=colorizer, folder=FolderOptions(dry_run=True))
    assert [r.status for r in res] == ["failed", "failed"] and all("would both be written to" in r.error for r in res)
    assert not (tmp_path / "out2").exists()


def test_two_videos_written_to_one_output_are_not_told_to_leave_out_format(tmp_path, colorizer):
    """a.ts and a.mkv both go to a.mkv with or without --format, which renames photos only; their line
    said 'or leave out --format' whenever --format was given (a docs review). A photo pair that --format
    made keeps that advice."""
    src = tmp_path / "mixed"
    write_image(src / "b.jpg", seed=1)
    write_image(src / "b.png", seed=2)
    write_video(src / "a.ts", frames=2, audio=None)
    write_video(src / "a.mkv", frames=2, audio=None)
    res = {r.input.name: r for r in vidcolor.colorize(src, tmp_path / "out", colorizer=colorizer,
                                                              folder=FolderOptions(fmt_ext=".png", dry_run=True))}
    assert {n: r.status for n, r in res.items()} == dict.fromkeys(("a.mkv", "a.ts", "b.jpg", "b.png"), "failed")
    for name in ("a.mkv", "a.ts"):
        assert res[name].error.endswith("out/a.mkv; rename one of them"), res[name].error
    for name in ("b.jpg", "b.png"):
        assert res[name].error.endswith("out/b.png; rename one of them or leave out --format"), res[name].error


def test_an_output_over_an_input_is_refused_even_with_overwrite(tmp_path, no_model_load):
    """A new user ran `vidcolor par/sub -o par`: par/sub/sub/a.png's output is par/sub/a.png, an input. The
    per-file refusal said to use -y, and -y replaced the original photo."""
    write_image(tmp_path / "par" / "sub" / "a.png", seed=1)
    write_image(tmp_path / "par" / "sub" / "sub" / "a.png", seed=2)
    before = (tmp_path / "par" / "sub" / "a.png").read_bytes()
    for opts in (FolderOptions(), FolderOptions(overwrite=True), FolderOptions(dry_run=True)):
        with pytest.raises(UsageError, match=r"par: output folder holds the input folder .*par/sub; choose one outside it"):
            vidcolor.colorize(tmp_path / "par" / "sub", tmp_path / "par", folder=opts)
    assert (tmp_path / "par" / "sub" / "a.png").read_bytes() == before and not no_model_load
    assert not (tmp_path / "par" / ".vidcolor").exists()


def test_inputs_differing_in_extension_alone_keep_their_own_outputs(tmp_path, colorizer):
    src = tmp_path / "coll"
    write_image(src / "a.jpg", seed=1)
    write_image(src / "a.png", seed=2)
    res = vidcolor.colorize(src, tmp_path / "out", colorizer=colorizer, folder=FolderOptions(force=True))
    assert sorted(r.output.name for r in res) == ["a.jpg", "a.png"] and {r.status for r in res} == {"done"}


def test_the_library_refuses_a_format_that_contradicts_the_output_and_keeps_equivalent_names(tmp_path, colorizer):
    """A review: the library wrote lib3.png for dst='lib3.jpg' with fmt_ext '.png' (the CLI refused it),
    ignored fmt_ext for a video, and wrote o2.jpg for dst='o2.jpeg' with the JPEG format."""
    photo = write_image(tmp_path / "p.png")
    with pytest.raises(UsageError, match=r"lib3\.jpg: --format png contradicts the output's extension \.jpg"):
        vidcolor.colorize(photo, tmp_path / "lib3.jpg", colorizer=colorizer, folder=FolderOptions(fmt_ext=".png"))
    clip = write_video(tmp_path / "v.mp4", frames=2, audio=None)
    with pytest.raises(UsageError, match="is for photos, and this input is a video"):
        vidcolor.colorize(clip, tmp_path / "o.mp4", colorizer=colorizer, folder=FolderOptions(fmt_ext=".png"))
    for name in ("o2.jpeg", "O3.JPG", "o4"):
        [res] = vidcolor.colorize(photo, tmp_path / name, colorizer=colorizer, folder=FolderOptions(fmt_ext=".jpg", force=True))
        assert res.status == "done" and res.output.name == (name if "." in name else "o4.jpg")
    assert not (tmp_path / "lib3.png").exists() and not (tmp_path / "o2.jpg").exists()


def test_the_library_refuses_what_the_cli_refuses_as_usage_errors(tmp_path):
    """A new user's library calls: strength nan wrote a pure white photo with status done; strength 5,
    work_size 0, batch_size 0 and temporal "foo" were taken; colorize("") colorized the current folder.
    Each is now the CLI's UsageError, before anything is loaded or opened."""
    import math

    from vidcolor.options import FolderOptions, VideoOptions

    photo = write_image(tmp_path / "p.png")
    for kw, says in [({"strength": math.nan}, "--strength nan"), ({"strength": 5}, "--strength 5"),
                     ({"strength": "1.2"}, "--strength '1.2'"), ({"work_size": 0}, "--work-size 0"),
                     ({"upsample": "nearest"}, "--upsample 'nearest'"), ({"video": FolderOptions()}, "VideoOptions")]:
        with pytest.raises(UsageError, match=re.escape(says)):
            vidcolor.colorize(photo, tmp_path / "o.png", **kw)
    for make, says in [(lambda: VideoOptions(batch_size=0), "--batch-size 0"), (lambda: VideoOptions(segment_seconds=0), "--segment-seconds 0"),
                       (lambda: VideoOptions(temporal="foo"), "--temporal 'foo'"), (lambda: VideoOptions(crf=-5), "--crf -5"),
                       (lambda: FolderOptions(batch_size=0), "--batch-size 0"),
                       (lambda: VideoOptions(temporal="off", temporal_strength=0.5), "applies to --temporal ema and flow, not off")]:
        with pytest.raises(UsageError, match=re.escape(says)):
            make()
    with pytest.raises(UsageError, match="input path is empty"):
        vidcolor.colorize("")
    with pytest.raises(UsageError, match="output path is empty"):
        vidcolor.colorize(photo, "")
    with pytest.raises(UsageError, match="--device tpu"):
        vidcolor.load_colorizer(device="tpu")
    with pytest.raises(UsageError, match="strength nan"):
        vidcolor.load_colorizer().with_strength(math.nan)
    # beside a loaded colorizer, the loading arguments were ignored without a word (a new user's strength=1.5)
    with pytest.raises(UsageError, match=re.escape("strength=1.5: for loading a colorizer, and colorizer= is given; pass it to "
                                                   "load_colorizer() instead (or use colorizer.with_strength())")):
        vidcolor.colorize(photo, tmp_path / "o.png", colorizer=object(), strength=1.5)
    with pytest.raises(UsageError, match=r"^device='cuda', work_size=96: .* pass them to load_colorizer\(\) instead$"):
        vidcolor.colorize(photo, tmp_path / "o.png", colorizer=object(), device="cuda", work_size=96)
    assert not (tmp_path / "o.png").exists() and sorted(p.name for p in tmp_path.iterdir()) == ["p.png"]


def test_a_folder_is_walked_once_for_the_whole_run(tmp_path, colorizer, monkeypatch):
    """The check of the outputs, the progress count and the run each walked the tree: three walks of
    0.4 s for 50,000 scans on a local disk, more on a network share."""
    from vidcolor.api import Progress
    from vidcolor.io import formats

    src = tmp_path / "scans"
    for name in ("a.png", "sub/b.png"):
        write_image(src / name)
    (src / "link").symlink_to(tmp_path, target_is_directory=True)
    walks, real_walk = [], formats.walk  # (vidcolor's own walk since 4a8eab9: os.walk recursed in a deep tree)
    monkeypatch.setattr(formats, "walk", lambda root, *a, **k: walks.append(root) or real_walk(root, *a, **k))

    class Count(Progress):
        def inputs(self, n: int) -> None:
            self.n = n

    progress = Count()
    res = vidcolor.colorize(src, tmp_path / "out", colorizer=colorizer, progress=progress)
    assert [w for w in walks if str(w).startswith(str(src))] == [src]  # (the output's cleanup walks too)
    assert progress.n == 3  # two photos and the link, reported as skipped
    assert sorted(r.status for r in res) == ["done", "done", "skipped"]


def test_a_photo_that_is_no_photo_is_refused_before_the_model_loads(tmp_path, no_model_load):
    """A review: a corrupt photo was opened only once the model had loaded (5 s with a slow load),
    and left a .vidcolor journal folder in the output's folder; a corrupt video was refused at once."""
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a png at all" * 10)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(InputError, match=r"bad\.png: not an image \(unrecognised format\)"):
        vidcolor.colorize(bad, out / "x.png")
    tif = tmp_path / "bad.tif"
    tif.write_bytes(b"II*\x00" + b"\xff" * 20)
    with pytest.raises(InputError, match=r"bad\.tif: corrupt or truncated image"):
        vidcolor.colorize(tif, out / "x.tif")
    assert list(out.iterdir()) == []


def test_arguments_of_the_wrong_kind_are_usage_errors_before_any_work(tmp_path, colorizer, no_model_load):
    photo = write_image(tmp_path / "a.png")
    for kwargs, says in [({"on_result": "oops"}, "on_result= takes a function of one Result, got str"),
                         ({"progress": object()}, "progress= takes an object with inputs() and video() methods"),
                         ({"ray": "ray://x"}, "ray= takes a vidcolor.cluster.RayOptions, got str; for an address: ray=RayOptions('ray://x')")]:
        with pytest.raises(UsageError, match=re.escape(says)):
            vidcolor.colorize(photo, tmp_path / "o.png", colorizer=colorizer, **kwargs)
    with pytest.raises(UsageError, match=re.escape("colorizer= takes a loaded Colorizer (vidcolor.load_colorizer()), got str; "
                                                   "to choose a model by name, pass model='effnet_unet'")):
        vidcolor.colorize(photo, tmp_path / "o.png", colorizer="effnet_unet")
    assert not (tmp_path / "o.png").exists()


def test_colorize_arrays_runs_many_images_of_one_size_in_bounded_batches(colorizer, monkeypatch):
    """A list of 64 same-size images ran as one network batch: 880 MB of activations for 3 MB of pixels on
    the CPU (14 MB an image), so a list of 1,000 video frames needed 14 GB. Batches are now at most
    `batch_size` (16 by default), with the same outputs; with flip, each batch's mirror image is the same
    images' (a folder run's lists are at most its --batch-size long already: they run as before)."""
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 255, (40, 60), dtype=np.uint8) for _ in range(17)] + [rng.integers(0, 255, (30, 90), dtype=np.uint8)]
    whole = colorizer.colorize_arrays(images, batch_size=256)
    seen = []
    network = colorizer._network
    monkeypatch.setattr(colorizer, "_network", lambda x, hm, pal: seen.append(x.shape[0]) or network(x, hm, pal))
    for batch_size, batches in ((None, [16, 1, 1]), (5, [5, 5, 5, 2, 1])):
        seen.clear()
        outs = colorizer.colorize_arrays(images) if batch_size is None else colorizer.colorize_arrays(images, batch_size=batch_size)
        assert seen == batches and all(np.array_equal(a, b) for a, b in zip(outs, whole))
    monkeypatch.setattr(colorizer, "flip", True)
    flipped = colorizer.colorize_arrays(images[:5], batch_size=256)
    seen.clear()
    assert all(np.array_equal(a, b) for a, b in zip(colorizer.colorize_arrays(images[:5], batch_size=2), flipped))
    assert seen == [2, 2, 2, 2, 1, 1] and not all(np.array_equal(a, b) for a, b in zip(flipped, whole))
    for bad in (0, 257, 2.5):
        with pytest.raises(UsageError, match="batch_size .*: not a whole number from 1 to 256"):
            colorizer.colorize_arrays(images, batch_size=bad)


def test_an_empty_or_wrong_kind_of_weights_hints_or_model_is_refused_not_read_as_something_else(tmp_path, no_model_load):
    """weights=123 raised a TypeError from the loader thread after the input was opened; weights="" said
    ".: weights file not found" and hints="" ".: cannot read hints file (Is a directory)" (Path("") is the
    current folder); model="" loaded the default model without a word."""
    photo = write_image(tmp_path / "a.png")
    for kwargs, says in [({"weights": 123}, "weights= takes a checkpoint file's path (str or os.PathLike), got int"),
                         ({"weights": ""}, "weights path is empty"), ({"hints": ""}, "hints path is empty")]:
        with pytest.raises(UsageError, match=re.escape(says)):
            vidcolor.colorize(photo, tmp_path / "o.png", **kwargs)
        with pytest.raises(UsageError, match=re.escape(says)):
            vidcolor.plan(photo, tmp_path / "o.png", hints=kwargs["hints"]) if "hints" in kwargs else vidcolor.load_colorizer(**kwargs)
    with pytest.raises(WeightsError, match="unknown model ''; known models: "):
        vidcolor.load_colorizer(model="")
    assert not (tmp_path / "o.png").exists()


def test_a_palette_for_a_model_without_hint_inputs_names_the_hints_not_their_repr(tmp_path, colorizer):
    from vidcolor.hints import Hints

    photo = write_image(tmp_path / "a.png")
    with pytest.raises(UsageError, match=r"^hints: model effnet_unet has no hint inputs for a palette"):
        vidcolor.colorize(photo, tmp_path / "o.png", colorizer=colorizer, hints=Hints.from_obj({"palette": ["#ff0000"]}, "h"))


def test_the_root_folder_without_an_output_is_one_line(no_model_load):
    """`vidcolor /` raised ValueError ("has an empty name") with a traceback (new-user test)."""
    with pytest.raises(UsageError, match="the root folder has no name to put NAME_color beside; give the output with -o"):
        vidcolor.colorize("/")


def test_a_palette_for_the_shipped_weights_is_refused_before_they_load(tmp_path, no_model_load):
    """The shipped weights have no hint inputs (weights/manifest.json says so, checked below): a palette
    was refused only once the model had loaded."""
    import json as _json

    photo = write_image(tmp_path / "a.png")
    (tmp_path / "pal.json").write_text(_json.dumps({"palette": ["#ff0000"]}))
    with pytest.raises(UsageError, match=r"pal\.json: model effnet_unet has no hint inputs for a palette"):
        vidcolor.colorize(photo, tmp_path / "o.png", hints=tmp_path / "pal.json")


def test_the_manifest_says_which_shipped_weights_take_hint_inputs():
    from vidcolor.models import load_checkpoint
    from vidcolor.weights import manifest, shipped_weights

    for name, entry in manifest().items():
        if "hint_inputs" in entry:
            net = load_checkpoint(*shipped_weights(name))
            assert entry["hint_inputs"] == net.accepts_hints, name


def test_an_on_result_that_raises_leaves_no_thread_behind(tmp_path, colorizer):
    """The folder's read-ahead thread was still alive 10 s after a caller's on_result raised (an
    operator's test, 2026-11-27)."""
    import threading

    import vidcolor

    for i in range(12):
        write_image(tmp_path / "in" / f"p{i:02d}.png", seed=i)

    def boom(res):
        raise RuntimeError("caller's bug")

    with pytest.raises(RuntimeError, match="caller's bug"):
        vidcolor.colorize(tmp_path / "in", tmp_path / "out", colorizer=colorizer, on_result=boom)
    assert [t.name for t in threading.enumerate() if t.name in ("read", "write")] == []


def test_hints_of_the_wrong_kind_are_a_usage_error_not_a_type_error(tmp_path, colorizer):
    """A photo's Hints given for a video, or a VideoHints for a photo, raised TypeError from deep inside
    (`expected str, bytes or os.PathLike object, not Hints`; new-user test)."""
    import json

    from tests.media import write_image, write_video
    from vidcolor.errors import UsageError
    from vidcolor.hints import Hints, VideoHints, load_hints

    photo = write_image(tmp_path / "p.png", h=40, w=60)
    clip = write_video(tmp_path / "c.mp4", w=64, h=48, frames=4, audio=None)
    (tmp_path / "p.hints.json").write_text(json.dumps({"points": [{"x": 5, "y": 5, "color": "#ff0000"}]}))
    photo_hints = load_hints(tmp_path / "p.hints.json")
    assert isinstance(photo_hints, Hints)
    with pytest.raises(UsageError, match="a photo's Hints given for a video"):
        vidcolor.colorize(clip, tmp_path / "o.mp4", colorizer=colorizer, hints=photo_hints)
    with pytest.raises(UsageError, match="a video's VideoHints given for a photo"):
        vidcolor.colorize(photo, tmp_path / "o.png", colorizer=colorizer, hints=VideoHints({0: photo_hints}))
    with pytest.raises(UsageError, match="hints= takes"):
        vidcolor.colorize(photo, tmp_path / "o.png", colorizer=colorizer, hints={"points": []})
    video_file = tmp_path / "v.hints.json"
    video_file.write_text(json.dumps({"frames": {"0": {"points": [{"x": 5, "y": 5, "color": "#ff0000"}]}}}))
    with pytest.raises(UsageError, match="a video's hints file"):  # it said "unknown key 'frames'"
        vidcolor.colorize(photo, tmp_path / "o.png", colorizer=colorizer, hints=video_file)
    assert not (tmp_path / "o.png").exists() and not (tmp_path / "o.mp4").exists()


def test_video_options_for_a_photo_are_refused_as_the_cli_refuses_them(tmp_path, colorizer):
    from tests.media import write_image
    from vidcolor.errors import UsageError

    photo = write_image(tmp_path / "p.png", h=40, w=60)
    for opts in (VideoOptions(crf=20), VideoOptions(temporal="ema")):
        with pytest.raises(UsageError, match="applies to videos, and this input is a photo"):
            vidcolor.colorize(photo, tmp_path / "o.png", colorizer=colorizer, video=opts)
    assert not (tmp_path / "o.png").exists()
    # what a photo run does use (overwrite, dry run, batch size) is no video option
    assert [r.status for r in vidcolor.colorize(photo, tmp_path / "o.png", colorizer=colorizer,
                                                video=VideoOptions(batch_size=2, dry_run=False))] == ["done"]


def test_an_output_folder_holding_the_input_folder_is_refused_even_without_a_clash(tmp_path, no_model_load):
    """`vidcolor scans/misc -o scans` wrote its outputs and a journal among the archive's own photos, and the
    next `vidcolor scans` took them for inputs (new-user test)."""
    write_image(tmp_path / "scans" / "misc" / "a.png", seed=1)
    with pytest.raises(UsageError, match=r"scans: output folder holds the input folder .*scans/misc"):
        vidcolor.colorize(tmp_path / "scans" / "misc", tmp_path / "scans")
    assert sorted(p.name for p in (tmp_path / "scans").iterdir()) == ["misc"] and not no_model_load


def test_a_video_in_a_container_vidcolor_does_not_write_defaults_to_mkv(tmp_path, colorizer):
    """`vidcolor clip.ts` was refused for "clip_color.ts", a name the user never typed; a folder run
    writes the same clip as MKV."""
    import av

    clip = tmp_path / "clip.ts"
    with av.open(str(clip), "w") as c:
        s = c.add_stream("mpeg2video", rate=25)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        for i in range(6):
            c.mux(s.encode(av.VideoFrame.from_ndarray(np.full((48, 64, 3), 20 * i, np.uint8), format="rgb24")))
        c.mux(s.encode(None))
    res = vidcolor.colorize(clip, colorizer=colorizer)
    assert [(r.status, r.output.name) for r in res] == [("done", "clip_color.mkv")]


# -- a long-running service using the library (a tester's) -------------------------------------------------

def test_each_run_resolves_a_re_pointed_link_afresh(tmp_path, colorizer):
    """A service writing through `current -> A`, then `current -> B`: the second run's journal in B keyed
    the output under A's path (folder realpaths were cached for the process), so the next process refused
    B's output as one vidcolor did not write."""
    import vidcolor
    from tests.media import write_image
    from vidcolor import archive

    photo = write_image(tmp_path / "p.png")
    (tmp_path / "A").mkdir()
    (tmp_path / "B").mkdir()
    cur = tmp_path / "cur"
    cur.symlink_to("A")
    assert vidcolor.colorize(photo, cur / "p.png", colorizer=colorizer)[0].status == "done"
    cur.unlink()
    cur.symlink_to("B")
    assert vidcolor.colorize(photo, cur / "p.png", colorizer=colorizer)[0].status == "done"
    archive._real_folder.cache_clear()  # as a fresh process starts
    (res,) = vidcolor.colorize(photo, cur / "p.png", colorizer=colorizer)
    assert res.status == "skipped" and "already done" in res.note


def test_the_library_leaves_pillows_bomb_limit_to_the_host(tmp_path, monkeypatch, colorizer):
    """Importing vidcolor's reader set Image.MAX_IMAGE_PIXELS to a gigapixel for good and silenced
    DecompressionBombWarning process-wide: a host's own uploads lost Pillow's protection. It is raised only
    while vidcolor opens a photo (a scan above the host's limit is still read), then given back."""
    import warnings

    from PIL import Image

    import vidcolor
    from tests.media import write_image

    photo = write_image(tmp_path / "p.png", h=48, w=64)  # 3,072 pixels
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 2000)  # a strict host: 3,072 pixels warn there
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any DecompressionBombWarning of vidcolor's own reads would raise here
        (res,) = vidcolor.colorize(photo, tmp_path / "o.png", colorizer=colorizer)
    assert res.status == "done"
    assert Image.MAX_IMAGE_PIXELS == 2000
    with pytest.warns(Image.DecompressionBombWarning):  # the host's own open is still guarded
        Image.open(photo).close()


def test_a_folder_run_lets_an_exception_from_the_callers_progress_through(tmp_path, colorizer):
    """It failed each video as "a vidcolor defect: please report it" and went on, calling the failing
    callback again; from on_result, and in a single-video run, the caller's exception came through."""
    import vidcolor
    from tests.media import write_video

    (tmp_path / "in").mkdir()
    write_video(tmp_path / "in" / "v0.mp4", frames=6, audio=None)
    write_video(tmp_path / "in" / "v1.mp4", frames=6, audio=None)

    class Boom(Exception):
        pass

    class Progress:
        def inputs(self, total):
            pass

        def video(self, path, frames, segment_frames):
            def frame(done, total):
                raise Boom("the service cancels")
            return frame

    with pytest.raises(Boom, match="the service cancels"):
        vidcolor.colorize(tmp_path / "in", tmp_path / "out", colorizer=colorizer, progress=Progress())


def test_a_lock_held_by_another_thread_names_this_process():
    """"locked by another thread of this process (unknown pid)" (a tester's): the pid is this one."""
    import os
    from pathlib import Path

    from vidcolor.archive import OutputLock

    assert OutputLock._holder(Path("/nonexistent/owner.json"), "another thread of this process") == f"pid {os.getpid()}"
    assert OutputLock._holder(Path("/nonexistent/owner.json"), "another run") == "unknown pid"


def test_folder_options_take_a_format_as_the_cli_does_and_refuse_others_at_once(tmp_path, colorizer):
    """FolderOptions(fmt_ext="png") raised pathlib's "Invalid suffix" from deep in the plan, and ".gif" made the
    output folder and journal, then failed every photo (a library user's test)."""
    for given, kept in (("png", ".png"), (".PNG", ".png"), ("jpeg", ".jpeg"), ("TIFF", ".tiff"), (".webp", ".webp")):
        assert FolderOptions(fmt_ext=given).fmt_ext == kept
    for bad in (".gif", "txt", ".mp4", ""):
        with pytest.raises(UsageError, match="not an image format vidcolor writes"):
            FolderOptions(fmt_ext=bad)
    write_image(tmp_path / "in" / "a.jpg")
    (r,) = vidcolor.colorize(tmp_path / "in", tmp_path / "out", colorizer=colorizer, folder=FolderOptions(fmt_ext="png"))
    assert r.status == "done" and r.output == tmp_path / "out" / "a.png"
    for name, fmt in (("b.jpeg", "jpeg"), ("c.jpg", "jpeg"), ("d.tif", "tiff"), ("e.TIFF", "tif")):  # either spelling
        (r,) = vidcolor.colorize(tmp_path / "in" / "a.jpg", tmp_path / name, colorizer=colorizer, folder=FolderOptions(fmt_ext=fmt))
        assert r.status == "done" and r.output == tmp_path / name, (name, fmt, r)


def test_with_strength_takes_what_the_front_door_takes(colorizer):
    """load_colorizer(strength=3.5) was refused and with_strength(10) taken; with_strength(-1) said "0 to inf"."""
    assert colorizer.with_strength(3).strength == 3.0
    for bad in (10, 3.01, -1):
        with pytest.raises(UsageError, match="not a number from 0 to 3"):
            colorizer.with_strength(bad)


class _StopAtInputs:
    """A caller's progress that stops the run (as Ctrl-C would) as soon as a folder run counts its inputs."""

    def inputs(self, total):
        raise KeyboardInterrupt

    def video(self, path, frames, segment_frames):
        return None


def test_a_run_stopped_while_the_model_loads_waits_for_the_loader_before_it_stops(tmp_path, monkeypatch):
    """A SIGTERM 1.39 s into a folder run ended in 'terminate called without an active exception', exit 134
    (1 of 30 tries): the interpreter exited while the loader thread was inside torch. The stop now waits for
    the loader to end. Here the loader is slow and the caller's progress stops the run while it loads."""
    import threading

    import vidcolor.api as api

    loaded = threading.Event()

    def slow_load(**kwargs):
        time.sleep(1.0)
        loaded.set()
        return None

    monkeypatch.setattr(api, "_load", slow_load)
    write_image(tmp_path / "in" / "a.png")
    with pytest.raises(KeyboardInterrupt):
        vidcolor.colorize(tmp_path / "in", tmp_path / "out", progress=_StopAtInputs())
    assert loaded.is_set()


def test_a_run_stopped_while_the_model_load_hangs_stops_after_a_bounded_wait(tmp_path, monkeypatch):
    """A loader that never returns (a hung CUDA init, a weights file on a dead mount) kept a SIGTERMed run
    alive until SIGKILL: the stop waited for it without end, and the CLI ignores a second SIGTERM. The wait
    is bounded (LOADER_STOP_WAIT_S); before the wait, the same run stopped at once with exit 143."""
    import threading

    import vidcolor.api as api

    release = threading.Event()

    def hung_load(**kwargs):
        release.wait(30)

    monkeypatch.setattr(api, "_load", hung_load)
    monkeypatch.setattr(api, "LOADER_STOP_WAIT_S", 0.5)
    write_image(tmp_path / "in" / "a.png")
    raised: list[BaseException] = []

    def run():
        try:
            vidcolor.colorize(tmp_path / "in", tmp_path / "out", progress=_StopAtInputs())
        except BaseException as e:  # noqa: BLE001  (the KeyboardInterrupt, handed to the test's thread)
            raised.append(e)

    t = threading.Thread(target=run, daemon=True)
    try:
        t.start()
        t.join(10)
        assert not t.is_alive(), "the stop still waits for a loader that hangs"
        assert len(raised) == 1 and type(raised[0]) is KeyboardInterrupt
    finally:
        release.set()


def test_a_colorizer_loaded_while_torch_defaults_to_float64_colorizes_as_under_float32(weights_file):
    """A service that had called torch.set_default_dtype(torch.float64) (for its own numerics) got networks built
    with float64 weights: every photo, video and array then failed with torch's RuntimeError "Input type (float)
    and bias type (double) should be the same", and so did the colour-photo detector of a folder run."""
    from vidcolor.models.checkpoint import read_checkpoint_file
    from vidcolor.models.tone_net import ToneNet
    from vidcolor.weights import shipped_file

    gray = np.random.default_rng(0).integers(0, 255, (40, 56), dtype=np.uint8)
    expected = vidcolor.load_colorizer(weights=weights_file, device="cpu").colorize_array(gray)
    x = torch.rand(1, 4, 64, 64)
    ckpt = read_checkpoint_file(*shipped_file("tone_net", "the colour-photo detector"))[0]
    expected_score = ToneNet.from_checkpoint(ckpt).score(x)
    torch.set_default_dtype(torch.float64)
    try:
        col = vidcolor.load_colorizer(weights=weights_file, device="cpu")
        assert np.array_equal(col.colorize_array(gray), expected)
        assert torch.equal(ToneNet.from_checkpoint(ckpt).score(x), expected_score)
    finally:
        torch.set_default_dtype(torch.float32)


def test_a_folder_runs_on_result_is_called_on_the_callers_thread_one_at_a_time(tmp_path, colorizer):
    """Photos written were reported from vidcolor's write thread, and photos failed from the caller's, at the
    same time: a service recording each result in SQLite stopped at the first photo with "SQLite objects created
    in a thread can only be used in that same thread" (a library user's test). Videos were reported on the
    caller's thread already."""
    import sqlite3
    import threading

    for i in range(9):
        write_image(tmp_path / "in" / f"p{i}.png", seed=i)
    (tmp_path / "in" / "bad.jpg").write_bytes(b"not a photo")
    write_video(tmp_path / "in" / "v.mp4", frames=4, audio=None)
    db = sqlite3.connect(":memory:")
    db.execute("create table results (input text, status text)")
    threads, inside = set(), []

    def record(res):
        inside.append(1)
        assert len(inside) == 1, "on_result called while another call runs"
        threads.add(threading.get_ident())
        db.execute("insert into results values (?, ?)", (res.input.name, res.status))
        inside.pop()

    results = vidcolor.colorize(tmp_path / "in", tmp_path / "out", colorizer=colorizer, on_result=record,
                                folder=FolderOptions(batch_size=2))
    assert threads == {threading.get_ident()}
    assert sorted(db.execute("select input, status from results")) == sorted((r.input.name, r.status) for r in results)
    assert sorted(r.status for r in results) == ["done"] * 10 + ["failed"]


def test_outputs_named_near_the_limit_are_written_and_longer_ones_refused_at_once(tmp_path, colorizer):
    """A photo or video whose output's name is legal but within 26 bytes of the 255-byte limit failed only once
    written (vidcolor's hidden temporary name and a video's work folder add to it; `paths.fit_name` shortens
    those), and a name over the limit was a bare OSError "File name too long" from the library (a traceback in
    the CLI) once a video's frames were all encoded: it is refused before any work (a library user's find)."""
    from vidcolor.io.paths import NAME_MAX

    stem = "n" * (NAME_MAX - 6)  # "nnn....png": 2 bytes short of the limit
    photo = write_image(tmp_path / "in" / f"{stem}.png")
    film = write_video(tmp_path / "in" / f"{stem}.mp4", frames=4, audio=None)
    for src in (photo, film):
        [res] = vidcolor.colorize(src, tmp_path / "one" / src.name, colorizer=colorizer)
        assert res.status == "done" and res.output.is_file(), res.error
    results = vidcolor.colorize(tmp_path / "in", tmp_path / "all", colorizer=colorizer)
    assert [(r.status, r.error) for r in results] == [("done", None), ("done", None)]
    for out in (tmp_path / "one", tmp_path / "all"):
        assert sorted(p.name for p in out.iterdir()) == sorted([".vidcolor", photo.name, film.name])
    too_long = "x" * (NAME_MAX + 1)
    for src, dst in ((photo, tmp_path / f"{too_long}.png"), (film, tmp_path / f"{too_long}.mp4"),
                     (photo, tmp_path / too_long / "a.png"), (tmp_path / "in", tmp_path / too_long)):
        with pytest.raises(UsageError, match=r"file name too long \(\d+ bytes, where a file system takes 255\)"):
            vidcolor.colorize(src, dst, colorizer=colorizer)


def test_a_ctrl_c_that_lands_while_a_result_is_reported_still_reports_every_photo_written(tmp_path, colorizer):
    """A folder run hands each photo written to on_result on the caller's thread, where Ctrl-C arrives: one that
    came while a result was being reported (the CLI printing its line, or writing --report) was taken for the
    caller's on_result raising, and no photo written after it reached on_result, so the stopped run's --report
    left them out although they were written and journaled (a review of afacc6a). KeyboardInterrupt stops the
    run; the results already written are still handed over."""
    for i in range(6):
        write_image(tmp_path / "in" / f"p{i}.png", seed=i)
    reported = []

    def on_result(res):
        reported.append((res.input.name, res.status))
        if len(reported) == 1:
            raise KeyboardInterrupt  # as a Ctrl-C landing inside the CLI's on_result

    with pytest.raises(KeyboardInterrupt):
        vidcolor.colorize(tmp_path / "in", tmp_path / "out", colorizer=colorizer, on_result=on_result,
                          folder=FolderOptions(batch_size=2))
    written = sorted(p.name for p in (tmp_path / "out").glob("*.png"))
    assert len(written) >= 2
    assert sorted(name for name, status in reported if status == "done") == written


def test_a_ctrl_c_that_lands_as_a_photo_is_journaled_still_reports_that_photo(tmp_path, colorizer, monkeypatch):
    """The caller's thread waits for the write thread's results; a Ctrl-C that reached the write thread (a process's
    signal goes to any of its threads) just as it journaled a photo was raised in the caller's thread once its wait
    returned, after the wait had taken that photo's result off the queue: the result was dropped, and the stopped
    run's --report had one "done" fewer than the journal (a tester's SIGINT). The result is waited for, not taken,
    and handed over on the way out. Deterministic: the write thread sends itself SIGINT after the journal's line."""
    import signal
    import threading
    import time as time_

    import vidcolor.folder as folder
    from vidcolor.archive import Journal

    for i in range(3):
        write_image(tmp_path / "in" / f"p{i}.png", seed=i)
    record, write, sent = Journal.record, folder.write_image, []

    def record_then_ctrl_c(self, src, key, status, *args, **kwargs):
        record(self, src, key, status, *args, **kwargs)
        if status == "done" and not sent:  # (on the write thread) the caller's thread is waiting for this result
            sent.append(src.name)
            signal.pthread_kill(threading.get_ident(), signal.SIGINT)

    def slow_write(*args, **kwargs):  # the caller's thread is past its batches, waiting for the writes
        time_.sleep(0.3)
        return write(*args, **kwargs)

    monkeypatch.setattr(Journal, "record", record_then_ctrl_c)
    monkeypatch.setattr(folder, "write_image", slow_write)
    reported = []
    # a Ctrl-C as Python's own handler makes it, whatever an earlier test in this process left installed (in the
    # whole suite, once, the run went on past the signal: "DID NOT RAISE")
    previous, stopped = signal.signal(signal.SIGINT, signal.default_int_handler), False
    try:
        vidcolor.colorize(tmp_path / "in", tmp_path / "out", colorizer=colorizer, folder=FolderOptions(batch_size=4),
                          on_result=lambda res: reported.append((res.input.name, res.status)))
    except KeyboardInterrupt:
        stopped = True
    finally:
        signal.signal(signal.SIGINT, previous)
    assert stopped, (previous, sent, reported)  # (what to look at, should it go on past the signal again)
    journaled = [e["input"] for e in Journal(tmp_path / "out").entries.values() if e["status"] == "done"]
    assert sent and len(journaled) == 3
    assert sorted(name for name, status in reported if status == "done") == sorted(p.rsplit("/", 1)[-1] for p in journaled)


class Interrupt310(KeyboardInterrupt):
    """A Ctrl-C as Python 3.10 raises it: its exceptions have no add_note."""

    @property
    def add_note(self):
        raise AttributeError("'Interrupt310' object has no attribute 'add_note'")


@pytest.mark.parametrize("interrupt", [KeyboardInterrupt, Interrupt310], ids=["python3.11+", "python3.10"])
def test_an_on_result_that_raises_while_the_run_stops_does_not_hide_why_it_stopped(tmp_path, colorizer, monkeypatch, interrupt):
    """A folder run that stops (here a Ctrl-C in the network's second batch) still hands the photos written to
    on_result; a service's on_result that raised then (its log on the same full disk, say) replaced the reason:
    the caller got the callback's RuntimeError and never the KeyboardInterrupt. The reason is raised now, the
    callback's error noted on it, and the callback not called again.
    vidcolor supports Python 3.10 (requires-python), whose exceptions have no add_note: the note was added with
    `add_note`, whose AttributeError then replaced the KeyboardInterrupt, the very reason the note was there to
    keep (Interrupt310 emulates it)."""
    import time as time_

    import vidcolor.folder as folder
    from vidcolor.colorizer import Colorizer

    for i in range(4):
        write_image(tmp_path / "in" / f"p{i}.png", seed=i)
    batches, calls = [], []
    colorize_arrays, write = Colorizer.colorize_arrays, folder.write_image

    def network(self, *args, **kwargs):
        batches.append(1)
        if len(batches) == 2:
            raise interrupt
        return colorize_arrays(self, *args, **kwargs)

    def slow_write(*args, **kwargs):  # the first batch is written after the second has stopped the run
        time_.sleep(0.3)
        return write(*args, **kwargs)

    def on_result(res):
        calls.append(res.input.name)
        raise RuntimeError("the service's log is full")

    monkeypatch.setattr(Colorizer, "colorize_arrays", network)
    monkeypatch.setattr(folder, "write_image", slow_write)
    with pytest.raises(interrupt) as e:
        vidcolor.colorize(tmp_path / "in", tmp_path / "out", colorizer=colorizer, on_result=on_result,
                          folder=FolderOptions(batch_size=2))
    assert e.value.__notes__ == ["on_result raised while the run stopped: RuntimeError: the service's log is full"]
    assert calls == ["p0.png"] and sorted(p.name for p in (tmp_path / "out").glob("*.png")) == ["p0.png", "p1.png"]


def test_a_write_that_fails_while_the_run_stops_does_not_hide_why_it_stopped(tmp_path, colorizer, monkeypatch):
    """A Ctrl-C in the network's second batch, while the write thread still writes the first: a write that then
    failed (the disk full) re-raised at the writer's close and replaced the KeyboardInterrupt, so the caller was
    told of a full disk and never that the run was interrupted. The reason is raised now, the write's error noted
    on it; a write that fails on its own still stops the run with its own error."""
    import time as time_

    import vidcolor.folder as folder
    from vidcolor.colorizer import Colorizer
    from vidcolor.errors import StorageError

    for i in range(4):
        write_image(tmp_path / "in" / f"p{i}.png", seed=i)
    batches = []
    colorize_arrays = Colorizer.colorize_arrays

    def network(self, *args, **kwargs):
        batches.append(1)
        if len(batches) == 2:
            raise KeyboardInterrupt
        return colorize_arrays(self, *args, **kwargs)

    def full(*args, **kwargs):  # the first batch's write fails after the second has stopped the run
        time_.sleep(0.3)
        raise StorageError("out/p0.png: no space left on device; the run stops")

    monkeypatch.setattr(Colorizer, "colorize_arrays", network)
    monkeypatch.setattr(folder, "write_image", full)
    with pytest.raises(KeyboardInterrupt) as e:
        vidcolor.colorize(tmp_path / "in", tmp_path / "out", colorizer=colorizer, folder=FolderOptions(batch_size=2))
    assert e.value.__notes__ == ["writing failed while the run stopped: StorageError: out/p0.png: no space left on "
                                 "device; the run stops"]

    monkeypatch.setattr(Colorizer, "colorize_arrays", colorize_arrays)  # the write's own failure: its error
    with pytest.raises(StorageError, match="no space left") as e:
        vidcolor.colorize(tmp_path / "in", tmp_path / "out2", colorizer=colorizer, folder=FolderOptions(batch_size=4))
    assert not hasattr(e.value, "__notes__")


def test_a_default_output_name_too_long_says_it_is_the_default(tmp_path, colorizer):
    """A 250-byte scan name is legal, and its default output (NAME_color.png beside it) is not: the refusal said
    "choose a shorter output name" to someone who had given none (a review). It now says the name is the default
    one and that -o gives another; with -o, the photo is colorized."""
    photo = write_image(tmp_path / f"{'n' * 250}.png")
    with pytest.raises(UsageError, match=r"file name too long \(260 bytes, where a file system takes 255\): the default "
                                         r"output name, NAME_color beside the input; give a shorter one with -o"):
        vidcolor.colorize(photo, colorizer=colorizer)
    [res] = vidcolor.colorize(photo, tmp_path / "short.png", colorizer=colorizer)
    assert res.status == "done"


@pytest.mark.parametrize("already_colour", [False, True], ids=["colorized", "kept-as-colour"])
@pytest.mark.parametrize("copy_skipped", [True, False], ids=["copied", "not-copied"])
def test_a_ctrl_c_inside_a_single_photos_journal_line_still_reports_that_photo(tmp_path, colorizer, monkeypatch,
                                                                               already_colour, copy_skipped):
    """A stop that lands inside the journal's own line (its fsync) once the photo is journaled as finished is
    reported with the photo, as the journal and the next run have it (reported_if_journaled). A photo kept as
    already in colour made its result only after the journal's line: the stopped run reported nothing for it."""
    import vidcolor.folder as folder
    from vidcolor.archive import Journal
    from vidcolor.tone import ColourScores

    src = write_image(tmp_path / "scan.png")
    if already_colour:
        monkeypatch.setattr(folder, "colour_photo_score", lambda px: ColourScores(9.0, 9.0))
    record = Journal.record

    def record_then_ctrl_c(self, src, key, status, *args, **kwargs):
        record(self, src, key, status, *args, **kwargs)
        raise KeyboardInterrupt  # as a Ctrl-C landing in the journal's fsync, the line already on disk

    monkeypatch.setattr(Journal, "record", record_then_ctrl_c)
    reported = []
    with pytest.raises(KeyboardInterrupt):
        vidcolor.colorize(src, tmp_path / "out.png", colorizer=colorizer, folder=FolderOptions(copy_skipped=copy_skipped),
                          on_result=lambda res: reported.append(res.status))
    status = Journal(tmp_path).last(tmp_path / "out.png")["status"]
    assert status == ("colour" if already_colour else "done")
    assert reported == ["skipped" if already_colour else "done"]
