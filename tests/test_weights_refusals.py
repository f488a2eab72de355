"""Shipped weights that are missing or damaged (a copied checkout without its weights/, a broken install, a
truncated download): refused at the start, in one line naming the file and how to get it back, before any
input is decoded or a model loaded, with nothing written (README, "Exit codes")."""
import shutil

import pytest
from typer.testing import CliRunner

import vidcolor
from tests.media import write_image, write_video
from vidcolor import cli
from vidcolor import weights as W
from vidcolor.errors import WeightsError

runner = CliRunner()


@pytest.fixture
def checkout(tmp_path, monkeypatch):
    """A copy of the shipped weights/ in a checkout of its own, where the package looks for them."""
    root = tmp_path / "checkout"
    (root / "weights").mkdir(parents=True)
    (root / "pyproject.toml").write_text("")
    shutil.copy(W.weights_dirs()[0] / "manifest.json", root / "weights")
    for entry in W.manifest().values():
        shutil.copy(entry["path"], root / "weights")
    monkeypatch.setattr(W, "_PKG", root / "vidcolor")
    assert W.weights_dirs() == [root / "weights"]
    return root / "weights"


def damage(path, how):
    if how == "missing":
        path.unlink()
    else:  # truncated, as an interrupted copy leaves it
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2])


@pytest.fixture
def no_work(monkeypatch):
    """Nothing may be decoded, and no model loaded."""
    monkeypatch.setattr("vidcolor.api._load", lambda **kw: pytest.fail("the model was loaded"))
    monkeypatch.setattr("vidcolor.api._read_ahead", lambda src: pytest.fail("the photo was decoded"))
    monkeypatch.setattr("vidcolor.cli._load", lambda *a, **kw: pytest.fail("the model was loaded"))


def refused(r, path, *words):
    lines = r.stderr.strip().splitlines()
    assert r.exit_code == 2 and len(lines) == 1 and lines[0].startswith(f"vidcolor: error: {path}: "), r.output
    assert "reinstall vidcolor" in lines[0] and all(w in lines[0] for w in words), lines[0]


@pytest.mark.parametrize("how", ["missing", "truncated"])
@pytest.mark.parametrize("kind", ["photo", "folder"])
def test_a_missing_or_truncated_detector_refuses_a_photo_run_before_decoding(tmp_path, checkout, no_work, how, kind):
    """The tester's case: without weights/tone_net.pt a run failed after decoding and loading the model."""
    damage(checkout / "tone_net.pt", how)
    src = write_image(tmp_path / "in" / "scan.png") if kind == "photo" else write_image(tmp_path / "in" / "scan.png").parent
    out = tmp_path / "out" / ("scan_color.png" if kind == "photo" else "album")
    r = runner.invoke(cli.app, ["colorize", str(src), "-o", str(out)])
    refused(r, checkout / "tone_net.pt", "colour-photo detector", "missing" if how == "missing" else "truncated")
    assert not (tmp_path / "out").exists() and sorted(p.name for p in (tmp_path / "in").iterdir()) == ["scan.png"]


def test_the_library_refuses_a_photo_without_the_detector_before_decoding(tmp_path, checkout, no_work):
    damage(checkout / "tone_net.pt", "missing")
    src = write_image(tmp_path / "scan.png")
    with pytest.raises(WeightsError, match="tone_net.pt: colour-photo detector weights file .* is missing"):
        vidcolor.colorize(src, tmp_path / "out.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkout", "scan.png"]


@pytest.mark.parametrize("args", [["clip.mp4"], ["album", "--force"]])
def test_runs_that_judge_no_photo_do_not_need_the_detector(tmp_path, checkout, monkeypatch, args):
    """A video, and a folder with --force, never ask whether a photo is in colour: they run without tone_net.pt."""
    damage(checkout / "tone_net.pt", "missing")
    write_video(tmp_path / "clip.mp4")
    write_image(tmp_path / "album" / "scan.png")
    started = []
    monkeypatch.setattr("vidcolor.api.colorize", lambda *a, **kw: started.append(a) or [])
    r = runner.invoke(cli.app, ["colorize", str(tmp_path / args[0]), *args[1:]])
    assert r.exit_code == 0 and started, r.output


def test_serve_refuses_a_missing_detector_before_loading_the_model(checkout, no_work):
    import socket

    damage(checkout / "tone_net.pt", "missing")
    with socket.socket() as s:  # a port free now
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = runner.invoke(cli.app, ["serve", "--port", str(port)])
    refused(r, checkout / "tone_net.pt", "colour-photo detector")


def test_create_app_refuses_a_truncated_detector(checkout, colorizer):
    from vidcolor.serve import create_app

    damage(checkout / "tone_net.pt", "truncated")
    with pytest.raises(WeightsError, match="tone_net.pt: the colour-photo detector weights file is corrupt or truncated"):
        create_app(colorizer)


@pytest.mark.parametrize("how", ["missing", "truncated"])
@pytest.mark.parametrize("kind", ["photo", "video"])
def test_missing_or_truncated_shipped_network_is_refused_before_decoding(tmp_path, checkout, no_work, how, kind):
    damage(checkout / "effnet_unet.pt", how)
    src = write_image(tmp_path / "scan.png") if kind == "photo" else write_video(tmp_path / "clip.mp4")
    r = runner.invoke(cli.app, ["colorize", str(src), "-o", str(tmp_path / f"out{src.suffix}")])
    refused(r, checkout / "effnet_unet.pt", "model weights")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkout", src.name]
    with pytest.raises(WeightsError, match="effnet_unet.pt: .*reinstall vidcolor"):
        vidcolor.colorize(src, tmp_path / f"out{src.suffix}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkout", src.name]


def _cunet_checkpoint(path):
    from vidcolor.models import create_model, save_checkpoint

    save_checkpoint(create_model("cunet"), path, half=True)
    return path


@pytest.mark.parametrize("what, words", [
    ("truncated", "the file is truncated or corrupt"),
    ("tone_net", "it is ToneNet, the colour-photo detector"),
    ("bare", "it looks like a bare state dict"),
    ("tensor", "it holds one object"),
    ("other_model", "holds the network 'cunet', not 'effnet_unet'"),
])
@pytest.mark.parametrize("kind", ["photo", "video"])
def test_a_weights_file_that_cannot_be_the_network_is_refused_before_decoding(tmp_path, weights_file, no_work, what, words, kind):
    """Each was found only by the load, after the input's decoding (8.5 s into a 48 Mpx photo's run)."""
    import torch

    w = tmp_path / "w.pt"
    extra = []
    if what == "truncated":  # an interrupted copy of a real checkpoint
        data = weights_file.read_bytes()
        w.write_bytes(data[: len(data) * 2 // 3])
    elif what == "tone_net":
        shutil.copy(W.manifest()["tone_net"]["path"], w)
    elif what == "bare":
        torch.save(torch.load(weights_file, weights_only=True)["state_dict"], w)
    elif what == "tensor":
        torch.save(torch.zeros(3), w)
    else:
        _cunet_checkpoint(w)
        extra = ["--model", "effnet_unet"]
    src = write_image(tmp_path / "scan.png") if kind == "photo" else write_video(tmp_path / "clip.mp4")
    r = runner.invoke(cli.app, ["colorize", str(src), "-o", str(tmp_path / f"out{src.suffix}"), "--weights", str(w), *extra])
    lines = r.stderr.strip().splitlines()
    assert r.exit_code == 2 and lines == [f"vidcolor: error: {w}: {lines[0].split(': ', 3)[-1]}"] and words in lines[0], r.output
    with pytest.raises(WeightsError, match=words):
        vidcolor.colorize(src, tmp_path / f"out{src.suffix}", weights=w, model="effnet_unet" if extra else None)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([src.name, "w.pt"])


def test_a_good_checkpoint_of_the_asked_network_passes_the_check(tmp_path, weights_file):
    W.check_weights_source("effnet_unet", weights_file)
    W.check_weights_source("cunet", _cunet_checkpoint(tmp_path / "c.pt"))


@pytest.fixture
def truncated(tmp_path, weights_file):
    w = tmp_path / "w.pt"
    data = weights_file.read_bytes()
    w.write_bytes(data[: len(data) // 2])
    return w


@pytest.fixture
def nothing_opened(monkeypatch):
    """No command may decode its clips or photos, or load the model."""
    monkeypatch.setattr("vidcolor.cli._load", lambda *a, **kw: pytest.fail("the model was loaded"))
    monkeypatch.setattr("vidcolor.evaluate_video.refuse_gray_clip", lambda *a, **kw: pytest.fail("a clip was decoded"))
    monkeypatch.setattr("vidcolor.cli._eval_predictions", lambda *a, **kw: pytest.fail("the predictions were read"))


def _command(name, tmp_path):
    clip = write_video(tmp_path / "clip.mp4")
    gt = write_image(tmp_path / "gt" / "a.png").parent
    return {"eval": ["eval", str(gt), "--out", str(tmp_path / "ev")], "eval-video": ["eval-video", str(clip)],
            "bench": ["bench", str(clip)], "serve": ["serve", "--port", "1"]}[name]


@pytest.mark.parametrize("name", ["eval", "eval-video", "bench", "serve"])
def test_every_command_refuses_a_truncated_weights_file_before_opening_its_inputs(tmp_path, truncated, nothing_opened, monkeypatch, name):
    """eval-video decoded its clips, and eval its --pred photos, before the model's load found the file truncated."""
    monkeypatch.setattr("vidcolor.serve.listen_error", lambda host, port: None)
    r = runner.invoke(cli.app, [*_command(name, tmp_path), "--weights", str(truncated)])
    lines = r.stderr.strip().splitlines()
    assert r.exit_code == 2 and lines == [f"vidcolor: error: {truncated}: cannot read weights: the file is truncated or "
                                          "corrupt (its zip archive is incomplete)"], r.output
    assert not (tmp_path / "ev").exists()


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="needs a machine without CUDA")
@pytest.mark.parametrize("name", ["eval", "eval-video", "bench", "serve"])
def test_every_command_refuses_a_missing_cuda_device_before_opening_its_inputs(tmp_path, nothing_opened, monkeypatch, name):
    monkeypatch.setattr("vidcolor.serve.listen_error", lambda host, port: None)
    r = runner.invoke(cli.app, [*_command(name, tmp_path), "--device", "cuda"])
    assert r.exit_code == 2 and r.stderr.strip().splitlines() == ["vidcolor: error: --device cuda: CUDA is not available on this machine"], r.output


def _with_data_pkl(src, dst, data: bytes):
    """A copy of the torch.save zip `src` whose data.pkl is `data` (its CRC-32 right: the zip itself is whole)."""
    import zipfile

    with zipfile.ZipFile(src) as zi, zipfile.ZipFile(dst, "w") as zo:
        for n in zi.namelist():
            zo.writestr(n, data if n.endswith("/data.pkl") else zi.read(n))
    return dst


@pytest.mark.parametrize("pkl", [
    b"\x80\x02K\x01)R.",  # calls the int 1: TypeError
    b"\x80\x02]}b.",  # BUILD on a list: AttributeError
    b"\x80\x02cos\nsystem\n\x8c\x0ctouch pwned\x85R.",  # os.system("touch pwned"): never imported, never run
])
def test_a_damaged_or_hostile_pickle_is_refused_in_one_line_and_runs_nothing(tmp_path, weights_file, monkeypatch, pkl):
    """The check reads data.pkl without torch: a bit-flipped or crafted pickle raised TypeError or AttributeError
    from it, a traceback at the run's start where the load had said 'cannot read weights'."""
    monkeypatch.chdir(tmp_path)
    w = _with_data_pkl(weights_file, tmp_path / "w.pt", pkl)
    try:
        W.check_weights_source(None, w)
    except WeightsError as e:
        assert str(e).startswith(f"{w}: ") and ("cannot read weights: the file is corrupt" in str(e)
                                                or "not a vidcolor checkpoint" in str(e)), e
    else:
        pytest.fail("accepted")
    assert not (tmp_path / "pwned").exists()


def test_a_bit_flipped_pickle_is_found_by_the_zips_crc(tmp_path, weights_file):
    """data.pkl's CRC-32 is checked as the pickle is read to its end: a flipped bit in the architecture's name is
    a damaged file, not "holds the network 'effnet_uneu', not 'effnet_unet'"."""
    import zipfile

    data = bytearray(weights_file.read_bytes())
    with zipfile.ZipFile(weights_file) as z:
        info = z.getinfo(next(n for n in z.namelist() if n.endswith("/data.pkl")))
    assert info.compress_type == zipfile.ZIP_STORED  # torch stores its records: the file's bytes are the pickle's
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    at = data.index(b"effnet_unet", start, start + info.file_size) + len("effnet_une")
    data[at] ^= 0x01  # effnet_unet -> effnet_uneu
    (w := tmp_path / "w.pt").write_bytes(data)
    with pytest.raises(WeightsError, match="the file is truncated or corrupt"):
        W.check_weights_source("effnet_unet", w)
