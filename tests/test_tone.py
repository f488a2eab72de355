"""The "already in colour?" test (vidcolor.tone) on generated toned prints and colour photographs."""
import numpy as np
import pytest
from PIL import Image

from training.toned_corpus import TONINGS, _caption, _mount, colourful_scene, corpus, procedural_scene, tone
from vidcolor.tone import colour_score, crop_border, is_colour_image, thumbnail_lab


def test_generated_corpus_no_toned_print_is_skipped_and_colour_photos_are():
    """A slice of the corpus of benchmarks/colour_detector.py: every toned print (with mounts, captions,
    stamps, foxing, fading and casts drawn at random) is colorized; every colour photo is skipped."""
    items = list(corpus(np.random.default_rng(3), n_toned=72, n_colour=24))
    false_skips = [(name, round(colour_score(img), 2)) for name, img, colour in items if not colour and is_colour_image(img)]
    colorized = [(name, round(colour_score(img), 2)) for name, img, colour in items if colour and not is_colour_image(img)]
    assert false_skips == [] and colorized == []


def sepia_on_blue_gray_card(seed=0):
    """The case the issue reports: a brown print on a card of another tint, with a caption in blue ink."""
    rng = np.random.default_rng(seed)
    print_rgb = tone(procedural_scene(rng, 300, 220), "sepia", rng)
    card = _mount(rng, print_rgb, "gray_blue")
    _caption(rng, card, "blue")
    return (np.clip(card, 0, 1) * 255 + 0.5).astype(np.uint8)


@pytest.mark.parametrize("seed", range(4))
def test_toned_print_on_a_card_of_another_tint_is_judged_by_the_print(seed):
    img = sepia_on_blue_gray_card(seed)
    assert not is_colour_image(img)
    lab = thumbnail_lab(img)
    assert crop_border(lab).shape[0] < 0.9 * lab.shape[0]  # the card was cut away


@pytest.mark.parametrize("toning", sorted(TONINGS))
def test_every_toning_is_monochrome_and_gray_scores_zero(toning):
    rng = np.random.default_rng(1)
    gray = procedural_scene(rng, 120, 160)
    toned = (tone(gray, toning, rng) * 255 + 0.5).astype(np.uint8)
    assert not is_colour_image(toned)
    g8 = (gray * 255).astype(np.uint8)
    assert colour_score(np.repeat(g8[..., None], 3, axis=2)) < 0.05  # float rounding in the Lab conversion


def test_colour_and_16_bit_inputs():
    rgb = colourful_scene(np.random.default_rng(5), 120, 160)
    assert is_colour_image(rgb) and is_colour_image(rgb.astype(np.uint16) * 257)


def test_a_colour_photo_on_a_white_border_is_still_colour():
    rng = np.random.default_rng(7)
    img = _mount(rng, colourful_scene(rng, 120, 160).astype(np.float32) / 255, "white_border")
    assert is_colour_image((img * 255 + 0.5).astype(np.uint8))


def test_a_skipped_colour_photo_is_copied_so_the_output_tree_is_complete(tmp_path, colorizer):
    from vidcolor.folder import colorize_folder
    from vidcolor.options import FolderOptions

    src = tmp_path / "scans"
    (src / "box").mkdir(parents=True)
    Image.fromarray(colourful_scene(np.random.default_rng(2), 60, 80)).save(src / "box" / "colour.png")
    Image.fromarray(sepia_on_blue_gray_card()).save(src / "box" / "sepia.jpg", quality=90)
    res = {r.input.name: r for r in colorize_folder(src, tmp_path / "out", colorizer)}
    assert res["sepia.jpg"].status == "done"
    assert res["colour.png"].status == "skipped" and "copied unchanged" in res["colour.png"].note
    assert (tmp_path / "out" / "box" / "colour.png").read_bytes() == (src / "box" / "colour.png").read_bytes()
    again = {r.input.name: r for r in colorize_folder(src, tmp_path / "out", colorizer)}
    assert again["colour.png"].status == "skipped" and again["colour.png"].note.endswith("its unchanged copy is in the output")
    (tmp_path / "out" / "box" / "colour.png").unlink()  # a copy that went missing is made again
    assert {r.input.name: r.note for r in colorize_folder(src, tmp_path / "out", colorizer)}["colour.png"].endswith("to the output")
    assert (tmp_path / "out" / "box" / "colour.png").exists()
    res = colorize_folder(src, tmp_path / "out2", colorizer, FolderOptions(copy_skipped=False))
    assert not (tmp_path / "out2" / "box" / "colour.png").exists() and (tmp_path / "out2" / "box" / "sepia.jpg").exists()
    # a run that copies (the default) completes a tree an earlier --no-copy-skipped run left without them (a new
    # user's second run said "already in colour" and copied nothing)
    again = {r.input.name: r for r in colorize_folder(src, tmp_path / "out2", colorizer)}
    assert again["colour.png"].note.endswith("copied unchanged to the output") and again["sepia.jpg"].status == "skipped"
    assert (tmp_path / "out2" / "box" / "colour.png").read_bytes() == (src / "box" / "colour.png").read_bytes()


def test_the_shipped_test_is_tone_net_sure_or_score_and_tone_net(monkeypatch):
    """colour_photo_score skips a photo when ToneNet is sure (logit >= NET_SURE), or when the hand-made
    score reaches SCORE_FLOOR and the logit reaches NET_THRESHOLD; otherwise it is colorized."""
    from vidcolor import tone

    assert tone.is_colour(0.0, tone.NET_SURE)  # colour that follows lightness: the score misses it
    assert not tone.is_colour(tone.SCORE_FLOOR - 0.01, tone.NET_SURE - 0.01)
    assert tone.is_colour(tone.SCORE_FLOOR, tone.NET_THRESHOLD)
    assert not tone.is_colour(tone.SCORE_FLOOR + 10, tone.NET_THRESHOLD - 0.01)
    assert not tone.is_colour(float("nan"), 99.0) and not tone.is_colour(99.0, float("nan"))
    rgb = colourful_scene(np.random.default_rng(5), 120, 160)
    score, logit = tone.detector_scores(rgb)
    assert score == tone.colour_score(rgb) and tone.is_colour(score, logit)
    assert tone.colour_photo_score(rgb) == pytest.approx((score, logit))
    assert str(tone.colour_photo_score(rgb)) == f"colour score {score:.1f}, ToneNet {logit:.1f}"  # what notes say
    monkeypatch.setattr(tone, "_net_logit", lambda x: tone.NET_THRESHOLD - 0.01)  # the network says monochrome
    assert tone.colour_photo_score(rgb) is None
    monkeypatch.undo()
    gray = np.repeat((procedural_scene(np.random.default_rng(1), 120, 160)[..., None] * 255).astype(np.uint8), 3, axis=2)
    assert tone.colour_photo_score(gray) is None
    monkeypatch.setattr(tone, "_net_logit", lambda x: tone.NET_SURE)  # a sure network overrides a low score
    assert tone.colour_photo_score(gray) is not None


def test_tone_net_input_is_lab_and_residual_of_the_picture_without_its_mount():
    from vidcolor.models.tone_net import SIDE
    from vidcolor.tone import tone_net_input

    img = sepia_on_blue_gray_card()
    x = tone_net_input(img)
    assert x.shape == (SIDE, SIDE, 4) and x.dtype == np.float16
    assert 0 <= x[..., 0].min() and x[..., 0].max() <= 100 and x[..., 3].min() >= 0
    # the blue-gray card is cut away: what is left is the sepia print (b* > 0 on average), not the card (b* < 0)
    assert float(x[..., 2].astype(np.float32).mean()) > 3


def tone_net_load_fails(monkeypatch, path, match: str) -> None:
    """Loading ToneNet, with the manifest's entry pointing at `path`, raises a WeightsError matching `match`."""
    from vidcolor import tone, weights
    from vidcolor.errors import WeightsError

    entry = weights.manifest()["tone_net"]
    with monkeypatch.context() as m:
        m.setattr(weights, "manifest", lambda: {"tone_net": {**entry, "path": str(path)}})
        tone.load_tone_net.cache_clear()
        try:
            with pytest.raises(WeightsError, match=match):
                tone.load_tone_net()
        finally:
            tone.load_tone_net.cache_clear()


def test_shipped_tone_net_is_checked_against_the_manifest(tmp_path, monkeypatch):
    from vidcolor import weights

    bad = tmp_path / "tone_net.pt"
    bad.write_bytes(open(weights.manifest()["tone_net"]["path"], "rb").read()[:-10])  # truncated
    tone_net_load_fails(monkeypatch, bad, "sha256")


def test_detector_recipe_builds_examples_and_trains(tmp_path):
    """python -m training detector build / train on a small generated tree: two examples a photo (its
    colour scan and a toned print of its gray), generated scenes beside them, and a checkpoint that
    ToneNet loads."""
    import torch

    from training.__main__ import main as training_main
    from vidcolor.models.tone_net import SIDE, ToneNet

    rng = np.random.default_rng(0)
    for src in ("ade20k", "clothing"):
        for i in range(4):
            d = tmp_path / "v2" / "street" / src
            d.mkdir(parents=True, exist_ok=True)
            Image.fromarray(colourful_scene(rng, 90, 120)).save(d / f"{i}.jpg")
    out = tmp_path / "ex.npz"
    training_main(["detector", "build", "--data", str(tmp_path / "v2"), "--sources", "ade20k,clothing", "--per-source", "4",
                   "--workers", "1", "--out", str(out)])
    d = np.load(out)
    n_photo_examples = int((d["y"] == 1).sum()) - 1  # one colour scene from the generator (8 photos // 8 = 1 scene)
    assert n_photo_examples == 8 and d["X"].shape[1:] == (SIDE, SIDE, 4)
    assert int((d["y"] == 0).sum()) >= 8 + 2  # a toned print of each photo (some also a gray scan), two toned scenes
    again = tmp_path / "again.npz"
    training_main(["detector", "build", "--data", str(tmp_path / "v2"), "--sources", "ade20k,clothing", "--per-source", "4",
                   "--workers", "1", "--out", str(again)])
    assert np.array_equal(d["X"], np.load(again)["X"])  # seeded per photo, kept in order: the same examples
    ckpt = tmp_path / "net.pt"
    training_main(["detector", "train", str(out), "--out", str(ckpt), "--epochs", "1", "--batch-size", "4",
                   "--width", "8", "--chroma-scale", "0.5", "1.2"])
    saved = torch.load(ckpt, weights_only=True)
    assert saved["width"] == 8 and saved["meta"]["chroma_scale"] == [0.5, 1.2]
    assert ToneNet.from_checkpoint(saved).score(torch.zeros(2, 4, SIDE, SIDE)).shape == (2,)


def test_a_missing_detector_file_is_a_weights_error_and_a_sliver_is_colorized(tmp_path, monkeypatch):
    from vidcolor import tone

    tone_net_load_fails(monkeypatch, tmp_path / "gone.pt", "missing")
    sliver = colourful_scene(np.random.default_rng(0), 2, 1000)  # 2 px tall: no tone curve to fit
    monkeypatch.setattr(tone, "_net_logit", lambda x: 99.0)  # nothing to judge: not even a sure network is asked
    assert tone.colour_photo_score(sliver) is None


def test_the_recipe_s_procedural_examples_cover_every_toning(monkeypatch):
    from training import detector

    seen = []
    real = detector.toned_print
    monkeypatch.setattr(detector, "tone_net_input", lambda img: np.zeros(1))
    monkeypatch.setattr(detector, "toned_print", lambda rng, gray, toning=None: seen.append(toning) or real(rng, gray[:40, :40], toning))
    monkeypatch.setattr(detector, "procedural_scene", lambda rng, h, w: procedural_scene(rng, 40, 40))
    monkeypatch.setattr(detector, "colourful_scene", lambda rng, h, w: colourful_scene(rng, 40, 40))
    for i in range(len(TONINGS)):
        detector._generated_examples((i, 0))
    assert sorted(set(seen)) == sorted(TONINGS)
