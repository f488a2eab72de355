"""The "already in colour?" test (vidcolor.tone) on generated toned prints and colour photographs."""
import numpy as np
import pytest
from PIL import Image

from tests.toned_corpus import TONINGS, _caption, _mount, colourful_scene, corpus, procedural_scene, tone
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
    assert again["colour.png"].status == "skipped" and "copied unchanged" in again["colour.png"].note
    (tmp_path / "out" / "box" / "colour.png").unlink()  # a copy that went missing is made again
    assert {r.input.name: r.note for r in colorize_folder(src, tmp_path / "out", colorizer)}["colour.png"].endswith("to the output")
    assert (tmp_path / "out" / "box" / "colour.png").exists()
    res = colorize_folder(src, tmp_path / "out2", colorizer, FolderOptions(copy_skipped=False))
    assert not (tmp_path / "out2" / "box" / "colour.png").exists() and (tmp_path / "out2" / "box" / "sepia.jpg").exists()
