"""The library's option objects as a developer fills them in: each flag in either object is the whole
run's, and values of the wrong type are refused at once, naming them."""
import json
import re

import pytest

import vidcolor
from tests.media import write_image, write_video
from vidcolor.errors import UsageError
from vidcolor.options import FolderOptions, VideoOptions


def test_a_dry_run_asked_in_either_options_object_writes_nothing(tmp_path, colorizer):
    """FolderOptions(dry_run=True) colorized and wrote a folder's videos in full (only the CLI set the
    VideoOptions' flag too), and a lone video; VideoOptions(dry_run=True) wrote a photo."""
    src = tmp_path / "in"
    write_image(src / "a.png")
    write_video(src / "v.mp4", frames=4, audio=None)
    res = vidcolor.colorize(src, tmp_path / "out", colorizer=colorizer, folder=FolderOptions(dry_run=True))
    assert sorted(r.status for r in res) == ["planned", "planned"]
    assert not (tmp_path / "out").exists()
    for one, opts in ((src / "v.mp4", dict(folder=FolderOptions(dry_run=True))),
                      (src / "a.png", dict(video=VideoOptions(dry_run=True)))):
        out = tmp_path / ("o" + one.suffix)
        assert [r.status for r in vidcolor.colorize(one, out, colorizer=colorizer, **opts)] == ["planned"]
        assert not out.exists() and not (tmp_path / ".vidcolor").exists()


def test_overwrite_in_folder_options_redoes_the_folders_videos_too(tmp_path, colorizer):
    src = tmp_path / "in"
    src.mkdir()
    write_video(src / "v.mp4", frames=4, audio=None)
    assert [r.status for r in vidcolor.colorize(src, tmp_path / "out", colorizer=colorizer)] == ["done"]
    assert [r.status for r in vidcolor.colorize(src, tmp_path / "out", colorizer=colorizer)] == ["skipped"]
    again = vidcolor.colorize(src, tmp_path / "out", colorizer=colorizer, folder=FolderOptions(overwrite=True))
    assert [(r.status, r.frames) for r in again] == [("done", 4)]


@pytest.mark.parametrize("make, message", [
    (lambda: FolderOptions(overwrite="no"), r"FolderOptions\(overwrite='no'\): takes True or False"),
    (lambda: FolderOptions(dry_run="no"), r"FolderOptions\(dry_run='no'\): takes True or False"),
    (lambda: FolderOptions(force=1), r"FolderOptions\(force=1\): takes True or False"),
    (lambda: VideoOptions(overwrite="false"), r"VideoOptions\(overwrite='false'\): takes True or False"),
    (lambda: VideoOptions(codec=5), r"VideoOptions\(codec=5\): takes an encoder name"),
    (lambda: VideoOptions(preset=5), r"VideoOptions\(preset=5\): takes a preset name"),
])
def test_options_of_the_wrong_type_are_usage_errors_naming_the_value(make, message):
    """overwrite='no' is a true string: it redid a finished photo (and would replace a file vidcolor did not
    write); codec=5 raised TypeError from PyAV and preset=5 an AttributeError, at the run."""
    with pytest.raises(UsageError, match=message):
        make()


def test_a_full_disk_under_the_front_door_raises_the_exported_storage_error(tmp_path, colorizer, monkeypatch):
    """The README listed the errors a call raises without StorageError (the CLI's exit 4), which a caller
    could only find in vidcolor.errors."""
    import errno

    import av

    from vidcolor.io import mux

    def full(self):
        raise av.error.OSError(errno.ENOSPC, "No space left on device")

    src = write_video(tmp_path / "film.mp4", frames=4, audio=None)
    monkeypatch.setattr(mux.Passthrough, "close", full)
    with pytest.raises(vidcolor.StorageError, match=r"No space left on device.*the run stops"):
        vidcolor.colorize(src, tmp_path / "out.mp4", colorizer=colorizer)
    assert issubclass(vidcolor.StorageError, vidcolor.VidcolorError) and "StorageError" in vidcolor.__all__


def test_the_lower_functions_take_a_dry_run_or_overwrite_from_either_object(tmp_path, colorizer):
    """colorize_folder (and colorize_on_ray, which calls it for a dry run) wrote a folder's videos in a dry
    run given in FolderOptions beside a VideoOptions of the caller's own (a review of the front door's fix)."""
    from vidcolor.folder import colorize_folder

    src = tmp_path / "in"
    src.mkdir()
    write_video(src / "v.mp4", frames=4, audio=None)
    res = colorize_folder(src, tmp_path / "out", colorizer, FolderOptions(dry_run=True), video=VideoOptions(temporal="off"))
    assert [r.status for r in res] == ["planned"] and not (tmp_path / "out").exists()


def test_numpy_bools_are_taken_as_flags():
    import numpy as np

    opts = FolderOptions(overwrite=np.bool_(True), dry_run=np.bool_(False))
    assert opts.overwrite is True and opts.dry_run is False


def test_numpy_numbers_are_taken_as_options_and_stored_plain(tmp_path):
    """np.int64(128) and np.float32(1.5), as a caller computing them with numpy has them, were refused as
    "not a whole number from 64 to 2048" and "not a number from 0 to 3" (np.float64, a float, was taken)."""
    import numpy as np

    from vidcolor.weights import check_load_args

    check_load_args(np.int64(128), "guided", np.float32(1.5))
    opts = VideoOptions(temporal="ema", temporal_strength=np.float32(0.5), crf=np.int64(20), batch_size=np.uint8(8),
                        segment_seconds=np.float32(2))
    assert (opts.temporal_strength, opts.crf, opts.batch_size, opts.segment_seconds) == (0.5, 20, 8, 2.0)
    assert [type(v) for v in (opts.temporal_strength, opts.crf, opts.batch_size, opts.segment_seconds)] == [float, int, int, float]
    assert type(FolderOptions(batch_size=np.int32(2)).batch_size) is int
    assert VideoOptions(crf=20.0).crf == 20.0 and type(VideoOptions(crf=20.0).crf) is float  # a plain value is kept as given
    for bad in (np.float32(np.nan), np.int64(99), np.float64(2.5), np.bool_(True), True, "20", 10 ** 400):
        with pytest.raises(UsageError, match=r"--crf .*: not a whole number from 0 to 63"):
            VideoOptions(crf=bad)


def test_a_temporal_mode_given_as_the_enum_is_the_same_run_as_its_name(tmp_path, colorizer):
    """VideoOptions(temporal=Temporal.ema) ran, but journaled its video under 'temporal=Temporal.ema' (an
    enum's f-string), so the same film asked for with temporal="ema" was colorized again from the start."""
    from vidcolor.options import Temporal

    opts = VideoOptions(temporal=Temporal.ema)
    assert opts.temporal == "ema" and type(opts.temporal) is str
    src = write_video(tmp_path / "film.mp4", frames=4, audio=None)
    assert [r.status for r in vidcolor.colorize(src, tmp_path / "out.mp4", colorizer=colorizer, video=opts)] == ["done"]
    again = vidcolor.colorize(src, tmp_path / "out.mp4", colorizer=colorizer, video=VideoOptions(temporal="ema"))
    assert [r.status for r in again] == ["skipped"]


def test_the_lower_functions_refuse_arguments_of_the_wrong_kind_before_any_work(tmp_path, colorizer):
    """colorize_image, colorize_video and colorize_folder (for callers that wire the steps themselves) raised
    AttributeError or TypeError from deep inside for a model name as the colorizer, the other options
    object, a hints file's path (the front door takes one), and the front door's progress object; the last
    after the output folder was locked and a work folder made in it."""
    from vidcolor.folder import colorize_folder, colorize_image
    from vidcolor.pipeline import colorize_video

    class Log:  # the front door's progress= (vidcolor.api.Progress)
        def inputs(self, total): pass
        def video(self, path, frames, segment_frames): return None

    photo, film = write_image(tmp_path / "in" / "a.png"), write_video(tmp_path / "in" / "v.mp4", frames=4, audio=None)
    (tmp_path / "a.hints.json").write_text('{"points": []}')
    out = tmp_path / "out"
    for call, message in [
        (lambda: colorize_image(photo, out / "a.png", "effnet_unet"), r"colorizer takes a loaded Colorizer .*got str"),
        (lambda: colorize_image(photo, out / "a.png", colorizer, VideoOptions()), "opts takes a FolderOptions, got VideoOptions"),
        (lambda: colorize_image(photo, out / "a.png", colorizer, hints=tmp_path / "a.hints.json"),
         r"hints= takes a vidcolor.hints.Hints, got PosixPath; vidcolor.hints.load_hints\(path\) reads"),
        (lambda: colorize_video(film, out / "v.mp4", colorizer, FolderOptions()), "opts takes a VideoOptions, got FolderOptions"),
        (lambda: colorize_video(film, out / "v.mp4", colorizer, hints=str(tmp_path / "a.hints.json")),
         "hints= takes a vidcolor.hints.VideoHints, got str"),
        (lambda: colorize_video(film, out / "v.mp4", colorizer, progress=Log()), r"progress= takes a function, got Log; .*vidcolor.colorize"),
        (lambda: colorize_folder(tmp_path / "in", out, colorizer, on_result="print"), "on_result= takes a function, got str"),
        (lambda: colorize_folder(tmp_path / "in", out, colorizer, video=FolderOptions()), "video= takes a VideoOptions"),
    ]:
        with pytest.raises(UsageError, match=message):
            call()
        assert not out.exists()


def test_a_videos_progress_ends_at_its_real_frame_count_where_the_header_guessed_another(tmp_path, colorizer):
    """An MKV of 6 frames (its audio a little longer) is estimated at 8 from its header: the caller's progress
    callback was told 4 / 8 and 6 / 8, and never that the video was done (the CLI's bar took the larger of
    the two, and stopped at 75%)."""
    calls = []

    class Log:
        def inputs(self, total): pass
        def video(self, path, frames, segment_frames): return lambda done, total: calls.append((done, total))

    src = write_video(tmp_path / "film.mkv", frames=6)
    (r,) = vidcolor.colorize(src, tmp_path / "out.mkv", colorizer=colorizer, progress=Log())
    assert r.status == "done" and r.frames == 6
    assert calls[-1] == (6, 6) and [d for d, _ in calls] == sorted(d for d, _ in calls)


def test_a_videos_progress_never_says_more_frames_done_than_its_total(tmp_path, colorizer):
    """A variable-rate MKV declared at 10 fps (10 frames at 10 fps, then 30 at 30 fps: 40 frames, estimated 20):
    the callback was told 40 / 20, which the CLI printed as 200%. Past the header's count the total is 0 (not known)."""
    import fractions

    calls = []

    class Log:
        def inputs(self, total): pass
        def video(self, path, frames, segment_frames): return lambda done, total: calls.append((done, total))

    pts = [i * 100 for i in range(10)] + [1000 + i * 33 for i in range(30)]
    src = write_video(tmp_path / "vfr.mkv", w=64, h=48, frames=len(pts), pts=pts, audio=None,
                      time_base=fractions.Fraction(1, 1000), rate=fractions.Fraction(10))
    (r,) = vidcolor.colorize(src, tmp_path / "out.mkv", colorizer=colorizer, progress=Log())
    assert r.frames == 40 and calls[-1] == (40, 40)
    assert (0 < calls[0][1] < 40) and any(total == 0 for _, total in calls), calls  # the estimate, then not known
    assert all(total == 0 or done <= total for done, total in calls), calls


def test_a_float_or_int_of_another_type_keeps_its_value_and_key_as_before():
    """np.float64 is a float, and crf=np.float64(20.0) was taken as it is before numpy's other numbers were:
    storing it back as the int 20 changed the film's key ("crf=20.0" to "crf=20", io.plan puts str(crf) in
    it), so a film finished with it was colorized again from the start."""
    import numpy as np

    opts = VideoOptions(crf=np.float64(20.0), temporal_strength=np.float64(0.3), segment_seconds=np.float64(2.5))
    assert [(type(v), str(v)) for v in (opts.crf, opts.temporal_strength, opts.segment_seconds)] == [
        (float, "20.0"), (float, "0.3"), (float, "2.5")]
    assert opts == VideoOptions(crf=20.0, temporal_strength=0.3, segment_seconds=2.5)


def test_a_film_journaled_with_the_temporal_mode_as_the_enum_is_not_redone(tmp_path, colorizer):
    """VideoOptions(temporal=Temporal.ema) put "temporal=Temporal.ema" in the key (Python 3.11's f-string of
    the enum) until the mode was stored as its name: read as "ema", a library user's finished films and their
    resumable segments would have been thrown away and redone."""
    from vidcolor.options import same_key

    src = write_video(tmp_path / "film.mp4", frames=4, audio=None)
    assert [r.status for r in vidcolor.colorize(src, tmp_path / "out.mp4", colorizer=colorizer, video=VideoOptions(temporal="ema"))] == ["done"]
    journal = tmp_path / ".vidcolor" / "journal.jsonl"
    text = journal.read_text()
    assert "|temporal=ema:" in text
    journal.write_text(text.replace("|temporal=ema:", "|temporal=Temporal.ema:"))  # as the run before wrote it
    again = vidcolor.colorize(src, tmp_path / "out.mp4", colorizer=colorizer, video=VideoOptions(temporal="ema"))
    assert [r.status for r in again] == ["skipped"]
    # a -y run of then, stopped before it replaced the film: the next run without -y carries the redo out
    from vidcolor.archive import Journal

    old_key = json.loads(journal.read_text().splitlines()[-1])["key"]
    assert "|temporal=Temporal.ema:" in old_key
    Journal(tmp_path).touch(tmp_path / "out.mp4", redo_key=old_key)
    redone = vidcolor.colorize(src, tmp_path / "out.mp4", colorizer=colorizer, video=VideoOptions(temporal="ema"))
    assert [r.status for r in redone] == ["done"]
    # the segments' key (read with same_key too), with a --segment-seconds of the time
    assert same_key("m:r2|temporal=Temporal.flow:None:v3|mp4|seg2.0|render=luma|10|20", "m:r2|temporal=flow:None:v3|mp4|render=luma|10|20")
    assert not same_key("m:r2|temporal=Temporal.flow:None:v3|mp4", "m:r2|temporal=ema:None:v3|mp4")


def test_a_colorizer_built_directly_checks_its_device_and_working_size(monkeypatch):
    """`Colorizer(model, device="cuda")` on a machine without CUDA raised torch's AssertionError from inside the
    model's move, and `work_size=0` took the default without a word (a library user's test): the front door's checks."""
    import torch

    from vidcolor.colorizer import Colorizer
    from vidcolor.errors import UsageError
    from vidcolor.models import create_model

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    model = create_model("effnet_unet")
    for kw, says in (({"device": "cuda"}, "--device cuda: CUDA is not available on this machine"),
                     ({"work_size": 0}, "--work-size 0: not a whole number from 64 to 2048"),
                     ({"work_size": 100.5}, "--work-size 100.5: not a whole number")):
        with pytest.raises(UsageError, match=re.escape(says)):
            Colorizer(model, **kw)
    assert Colorizer(model, device=torch.device("cpu"), work_size=64).work_size == 64
    with pytest.raises(UsageError, match=r"^Colorizer takes a network \(a torch.nn.Module\), got str; vidcolor.load_colorizer"):
        Colorizer("effnet_unet")  # AttributeError: 'str' object has no attribute 'eval' (a library user's test)


def test_colorize_arrays_names_the_bad_image_and_refuses_one_array_given_for_a_list():
    """One (H, W) array given to colorize_arrays had its rows taken as images ("got shape (60,)"), and a bad
    image among many was not said to be which (a library user's test)."""
    import numpy as np

    from vidcolor.colorizer import Colorizer
    from vidcolor.models import create_model

    col = Colorizer(create_model("effnet_unet"), work_size=64)
    with pytest.raises(UsageError, match=re.escape("takes a list of images, got one array of shape (60, 80)")):
        col.colorize_arrays(np.zeros((60, 80), np.uint8))
    with pytest.raises(UsageError, match=re.escape("image 1 of 2: expected a uint8 or uint16 image, got float32")):
        col.colorize_arrays([np.zeros((8, 8), np.uint8), np.zeros((8, 8), np.float32)])
    with pytest.raises(ValueError, match="^expected a uint8 or uint16 image, got float32$"):  # one image: as before
        col.colorize_array(np.zeros((8, 8), np.float32))


def test_colorize_arrays_takes_a_generator_of_images_as_it_did():
    """9573ee4 asked for len(images) to number a bad one, so a generator (`(read(p) for p in paths)`), which
    colorize_arrays had taken, raised "object of type 'generator' has no len()" (a reviewer's find)."""
    import numpy as np

    from vidcolor.colorizer import Colorizer
    from vidcolor.models import create_model

    col = Colorizer(create_model("effnet_unet"), work_size=64)
    images = [np.full((8, 10), 40 * i, np.uint8) for i in range(3)]
    outs = col.colorize_arrays(img for img in images)
    assert [o.shape for o in outs] == [(8, 10, 3)] * 3
    assert all(np.array_equal(a, b) for a, b in zip(outs, col.colorize_arrays(images)))
    with pytest.raises(UsageError, match=re.escape("image 1 of 2: expected a uint8 or uint16 image, got float32")):
        col.colorize_arrays(img for img in (images[0], np.zeros((8, 8), np.float32)))
    with pytest.raises(UsageError, match="^colorize_arrays takes a list of images, got int$"):
        col.colorize_arrays(5)
