"""`vidcolor eval GT --pred NAME=DIR`: other tools' colorizations scored with vidcolor's own metrics, beside
vidcolor and gray, matched to the truth by relative path and stem, checked before any model loads
(docs/quality.md, "Other tools")."""
import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from tests.media import write_colour_image
from vidcolor import cli
from vidcolor.errors import InputError, UsageError
from vidcolor.evaluate import eval_files, evaluate_folder, gray_baseline
from vidcolor.io.images import read_rgb8
from vidcolor.metrics import image_metrics
from vidcolor.predictions import check_predictions, fit, parse_pred

runner = CliRunner()


def truths(root: Path) -> Path:
    """Two photos at the top (a JPEG, a PNG) and one in a subfolder."""
    write_colour_image(root / "a.jpg", seed=1)
    write_colour_image(root / "b.png", seed=2)
    write_colour_image(root / "sub" / "c.png", seed=3)
    return root


def predictions(gt: Path, out: Path, make=lambda rgb, rel: rgb, ext: str = ".png") -> Path:
    """A folder of `make(truth, rel)` for each truth, under its relative path with extension `ext`."""
    for p in eval_files(gt, out / "nowhere"):
        rel = p.relative_to(gt)
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(make(read_rgb8(p), rel.as_posix())).save((out / rel).with_suffix(ext))
    return out


def score(colorizer, gt, tmp_path, *preds, name="ev"):
    sets = check_predictions(gt, eval_files(gt, tmp_path / name), list(preds))
    return evaluate_folder(colorizer, gt, tmp_path / name, semantic=False, predictions=sets)


def test_a_prediction_equal_to_the_truth_scores_perfect_and_a_gray_one_as_gray(tmp_path, colorizer):
    gt = truths(tmp_path / "gt")
    same = predictions(gt, tmp_path / "same")  # PNG for the JPEG truth: matched by stem
    gray_b = predictions(gt, tmp_path / "grayb", lambda rgb, rel: gray_baseline(rgb) if rel == "b.png" else rgb)
    report = score(colorizer, gt, tmp_path, ("same", same), ("grayb", gray_b))
    assert report["tools"] == ["ours", "same", "grayb", "gray"]
    for r in report["images"]:
        m = r["same"]
        assert math.isinf(m["psnr"]) and m["ssim"] == 1 and m["auc"] == 1 and m["ciede2000"] == 0 and m["wrong_vivid"] == 0
        assert m["colourfulness"] == m["gt_colourfulness"]
    b = next(r for r in report["images"] if r["image"] == "b.png")
    assert b["grayb"] == b["gray"] and b["notes"] == {"grayb": "black and white: scored as it is"}
    assert report["overall"]["same"]["ciede2000"] == 0 and report["groups"]["sub"]["same"]["auc"] == 1
    saved = json.loads((tmp_path / "ev" / "eval.json").read_text())  # strict JSON: the infinite PSNR is null
    assert saved["overall"]["same"]["psnr"] is None and saved["predictions"] == {"same": str(same), "grayb": str(gray_b)}
    page = (tmp_path / "ev" / "index.html").read_text()
    assert "<td>same</td>" in page and "<td>grayb</td>" in page and "<td>vidcolor</td>" in page
    assert len(list((tmp_path / "ev" / "thumbs").iterdir())) == 3 * 5  # gray, vidcolor, two tools, the truth

    alone = score(None, gt, tmp_path, ("same", same), name="ev2")  # --no-vidcolor: no network run
    assert alone["tools"] == ["same", "gray"] and alone["model"] is None and "ours" not in alone["images"][0]


def test_vidcolors_own_outputs_given_as_a_prediction_score_as_the_built_in_eval(tmp_path, colorizer):
    """One rule for every tool: a prediction is scored as written, as vidcolor's own output is."""
    gt = truths(tmp_path / "gt")
    mine = predictions(gt, tmp_path / "mine", lambda rgb, rel: colorizer.colorize_array(gray_baseline(rgb)))
    report = score(colorizer, gt, tmp_path, ("mine", mine))
    assert all(r["mine"] == r["ours"] for r in report["images"])
    assert report["overall"]["mine"] == report["overall"]["ours"]


def test_a_prediction_of_another_size_is_resized_to_the_truths_with_a_note(tmp_path, colorizer):
    gt = truths(tmp_path / "gt")
    big = predictions(gt, tmp_path / "big", lambda rgb, rel: np.asarray(Image.fromarray(rgb).resize((128, 96), Image.BICUBIC)))
    report = score(colorizer, gt, tmp_path, ("big", big))
    for r in report["images"]:
        assert r["notes"] == {"big": "resized from 128x96 to 64x48"}
        truth = read_rgb8(gt / r["image"])
        assert r["big"] == image_metrics(fit(read_rgb8(next((big / r["image"]).parent.glob(Path(r["image"]).stem + ".*"))), truth.shape), truth)
    r = runner.invoke(cli.app, ["eval", str(gt), "--pred", str(big), "--no-vidcolor", "--out", str(tmp_path / "ev3"), "-q"])
    assert r.exit_code == 0, r.output
    assert "big: 3 of 3 prediction(s) resized to the truth's size (bicubic): a.jpg, b.png, sub/c.png" in r.output
    assert "resized from 128x96 to 64x48" in (tmp_path / "ev3" / "index.html").read_text()


@pytest.fixture
def no_model(monkeypatch):
    monkeypatch.setattr("vidcolor.cli._load", lambda *a, **k: pytest.fail("the model was loaded"))
    monkeypatch.setattr("vidcolor.evaluate.evaluate_folder", lambda *a, **k: pytest.fail("the eval started"))


def refused(tmp_path, gt, *args, words=()):
    r = runner.invoke(cli.app, ["eval", str(gt), "--out", str(tmp_path / "ev"), *map(str, args)])
    lines = r.stderr.strip().splitlines()
    assert r.exit_code == 2 and len(lines) == 1 and lines[0].startswith("vidcolor: error: "), r.output
    assert all(w in lines[0] for w in words), lines[0]
    assert not (tmp_path / "ev").exists()


def test_a_missing_ambiguous_unreadable_or_misshapen_prediction_is_refused_before_the_model_loads(tmp_path, no_model):
    gt = truths(tmp_path / "gt")
    missing = predictions(gt, tmp_path / "missing")
    (missing / "sub" / "c.png").rename(missing / "sub" / "c_colorized.png")  # a tool's suffix: not this truth's
    refused(tmp_path, gt, "--pred", f"deoldify={missing}",
            words=(f"{missing / 'sub' / 'c'}.*: --pred deoldify has no prediction for sub/c.png",))
    two = predictions(gt, tmp_path / "two")
    Image.open(two / "b.png").save(two / "b.jpg")
    refused(tmp_path, gt, "--pred", two, words=("--pred two has 2 files for b.png (b.jpg, b.png); keep one",))
    cut = predictions(gt, tmp_path / "cut")
    (cut / "a.png").write_bytes((cut / "a.png").read_bytes()[:200])
    refused(tmp_path, gt, "--pred", cut, words=(str(cut / "a.png"), "(--pred cut's prediction for a.jpg)"))
    square = predictions(gt, tmp_path / "square", lambda rgb, rel: np.asarray(Image.fromarray(rgb).resize((64, 64))))
    refused(tmp_path, gt, "--pred", square, words=(f"{square / 'a.png'}: 64x64 against the truth's 64x48 (a.jpg): another shape",))
    grays = predictions(gt, tmp_path / "grays", lambda rgb, rel: gray_baseline(rgb))
    refused(tmp_path, gt, "--pred", grays, words=("all 3 prediction(s) of --pred grays are black and white",))
    same = predictions(gt, tmp_path / "same")
    refused(tmp_path, gt, "--pred", same, "--pred", same, words=("the name 'same' is given twice",))
    refused(tmp_path, gt, "--pred", f"gray={same}", words=("the name 'gray' is taken",))
    refused(tmp_path, gt, "--pred", tmp_path / "nosuch", words=("nosuch: --pred nosuch: folder not found",))
    refused(tmp_path, gt, "--pred", gt / "sub", words=("is (inside) the ground-truth folder",))
    refused(tmp_path, gt, "--pred", same, "--no-gt", words=("not with --no-gt",))
    refused(tmp_path, gt, "--no-vidcolor", words=("give --pred folders",))


def test_only_the_photos_eval_scores_need_a_prediction(tmp_path, colorizer):
    """A gray or unreadable truth is left out of the scores, so no tool is asked for its colorization;
    --limit asks only for the first N."""
    gt = truths(tmp_path / "gt")
    preds = predictions(gt, tmp_path / "p")
    Image.fromarray(gray_baseline(read_rgb8(gt / "b.png"))).save(gt / "gray.png")
    (gt / "broken.png").write_bytes(b"not a png")
    (preds / "b.png").unlink()
    with pytest.raises(InputError, match="has no prediction for b.png"):
        score(colorizer, gt, tmp_path, ("p", preds))
    [s] = check_predictions(gt, eval_files(gt, tmp_path / "ev", limit=1), [("p", preds)])
    assert list(s.files) == ["a.jpg"]
    report = evaluate_folder(colorizer, gt, tmp_path / "ev", semantic=False, limit=1, predictions=[s])
    assert [r["image"] for r in report["images"]] == ["a.jpg"] and "p" in report["images"][0]


def test_pred_names(tmp_path):
    assert parse_pred(f"ddcolor={tmp_path}") == ("ddcolor", tmp_path)
    assert parse_pred(str(tmp_path / "zhang2016")) == ("zhang2016", tmp_path / "zhang2016")
    assert parse_pred(str(tmp_path / "x=y")) == ("x=y", tmp_path / "x=y")  # a folder's path that holds '='
    assert parse_pred(f"DeOldify 1.2={tmp_path}") == ("DeOldify 1.2", tmp_path)  # the table's label, as given
    with pytest.raises(UsageError, match="the name 'thumbs' is taken"):
        parse_pred(f"thumbs={tmp_path}")


def test_truths_of_one_stem_each_need_a_prediction_of_their_own_extension(tmp_path):
    """GT a.jpg and a.png: by stem alone, a tool's a.png was taken as the colorization of both (the JPEG truth
    scored against another photo's colours), and a folder holding both predictions was refused as ambiguous."""
    gt = tmp_path / "gt"
    write_colour_image(gt / "a.jpg", seed=1)
    write_colour_image(gt / "a.png", seed=2)
    write_colour_image(gt / "b.png", seed=3)
    preds = predictions(gt, tmp_path / "p", ext=".png")  # a.png (a.jpg's written over by a.png's), b.png
    with pytest.raises(InputError, match=r"has no prediction for a\.jpg, whose name less the extension another truth "
                                         r"shares: its prediction must keep the extension \.jpg"):
        check_predictions(gt, eval_files(gt, tmp_path / "ev"), [("p", preds)])
    with pytest.raises(InputError, match=r"has no prediction for a\.jpg"):  # --limit 1: a.png is still a truth
        check_predictions(gt, eval_files(gt, tmp_path / "ev", limit=1), [("p", preds)])
    Image.open(gt / "a.jpg").save(preds / "a.JPG")
    [s] = check_predictions(gt, eval_files(gt, tmp_path / "ev"), [("p", preds)])
    assert s.files == {"a.jpg": preds / "a.JPG", "a.png": preds / "a.png", "b.png": preds / "b.png"}
