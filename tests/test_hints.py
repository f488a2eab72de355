"""Colour hints: the file schema and its one-line errors, scaling to the working size, the network's
hint inputs (shapes; no hints is exactly the automatic path), and the certainty fallback."""
import json
import math

import numpy as np
import pytest
import torch
from skimage.color import rgb2lab

from vidcolor.color import AB_SCALE
from vidcolor.colorizer import Colorizer
from vidcolor.errors import InputError
from vidcolor.hints import HintPoint, Hints, hint_map, load_hints, load_video_hints, palette_vector, parse_colour
from vidcolor.models import create_model
from vidcolor.models.bins import ab_bins
from vidcolor.models.heads import certainty_weight


def _write(tmp_path, obj, name="h.json"):
    p = tmp_path / name
    p.write_text(obj if isinstance(obj, str) else json.dumps(obj))
    return p


def test_a_hints_file_is_parsed_to_ab(tmp_path):
    h = load_hints(_write(tmp_path, {"points": [{"x": 3, "y": 4, "color": "#ff0000", "radius": 2}], "palette": ["#00f"]}))
    (p,) = h.points
    assert (p.x, p.y, p.radius) == (3.0, 4.0, 2.0)
    assert p.ab[0] == pytest.approx(80.1, abs=0.2) and p.ab[1] == pytest.approx(67.2, abs=0.2)  # sRGB red in CIELAB
    assert h.palette[0][1] < -100  # blue: strongly negative b*
    assert parse_colour([255, 0, 0], "x") == pytest.approx(p.ab)


@pytest.mark.parametrize("content, message", [
    ("{bad json", "bad JSON at line 1"),
    ({"points": [{"x": 1, "y": 2}]}, r"points\[0\]: missing 'color'"),
    # the forms accepted, all of them: '#rgb' was left out (a hints user's find)
    ({"points": [{"x": 1, "y": 2, "color": "red"}]}, r"points\[0\]: bad colour 'red' \(use '#rrggbb', '#rgb' or \[r, g, b\] in 0-255\)$"),
    ({"points": [{"x": 1, "y": 2, "color": "#fff", "size": 3}]}, r"points\[0\]: unknown key 'size'"),
    ({"dots": []}, "unknown key 'dots'"),
    ({"points": [{"x": "1", "y": 2, "color": "#fff"}]}, r"points\[0\]: x must be a number"),
    ({"points": [{"x": 1, "y": 2, "color": "#fff", "radius": -1}]}, "radius must be >= 0"),
    ({"palette": ["#12345"]}, r"palette\[0\]: bad colour"),
    # "$" let a trailing newline through: '#abc\n' raised ValueError (a traceback), '#abcdef\n' was taken
    ({"points": [{"x": 1, "y": 2, "color": "#abc\n"}]}, r"points\[0\]: bad colour '#abc\\n'"),
    ({"palette": ["#abcdef\n"]}, r"palette\[0\]: bad colour '#abcdef\\n'"),
    # a 0-1 colour pinned its point to gray (new-user test)
    ({"points": [{"x": 1, "y": 2, "color": [1.0, 0.5, 0.0]}]}, r"points\[0\]: colour \[1.0, 0.5, 0.0\] looks like 0-1 values; "
                                                              r"\[r, g, b\] is in 0-255 \(that is \[255, 128, 0\]\)"),
    # [1.0, 0.0, 0.0] (0-1 red, whole numbers) was taken as 0-255 near-black and pinned the point to gray too
    ({"points": [{"x": 1, "y": 2, "color": [1.0, 0.0, 0.0]}]}, r"points\[0\]: colour \[1.0, 0.0, 0.0\] looks like 0-1 values; "
                                                              r"\[r, g, b\] is in 0-255 \(that is \[255, 0, 0\]\)"),
    ({"palette": [[0, 0, 1]]}, r"palette\[0\]: colour \[0, 0, 1\] looks like 0-1 values"),
    # a reviewer's: a 330-digit x raised OverflowError (a traceback that stopped a folder run); True read as 1
    ('{"points": [{"x": 1' + "0" * 329 + ', "y": 2, "color": "#fff"}]}', r"points\[0\]: x must be a number, got 1000"),
    ('{"points": [{"x": 1' + "0" * 5000 + ', "y": 2, "color": "#fff"}]}', r"cannot read hints \(Exceeds the limit"),
    ("[" * 100000 + "]" * 100000, r"cannot read hints \(nested too deeply\)"),
    ('{"points": [{"x": 1, "y": 2, "color": "#fff"}], "points": []}', "key 'points' appears twice in one object"),
    ({"points": [{"x": 1, "y": 2, "color": [True, False, False]}]}, r"points\[0\]: bad colour \[True, False, False\]"),
])
def test_a_bad_hints_file_gets_one_line_naming_the_file_and_entry(tmp_path, content, message):
    path = _write(tmp_path, content)
    with pytest.raises(InputError, match=message) as e:
        load_hints(path)
    assert str(path) in str(e.value) and "\n" not in str(e.value)


def test_a_gray_colour_of_zeros_or_ones_is_taken_as_0_to_255(tmp_path):
    h = load_hints(_write(tmp_path, {"points": [{"x": 1, "y": 2, "color": [0, 0, 0]}, {"x": 1, "y": 2, "color": [1.0, 1.0, 1.0]}]}))
    assert all(abs(a) < 0.01 and abs(b) < 0.01 for a, b in (p.ab for p in h.points))  # gray either way


def test_a_hints_file_saved_with_a_byte_order_mark_is_read(tmp_path):
    """Windows Notepad's UTF-8 starts with a BOM: it was 'bad JSON at line 1 column 1' (new-user test)."""
    p = tmp_path / "bom.json"
    p.write_bytes(b"\xef\xbb\xbf" + json.dumps({"points": [{"x": 1, "y": 2, "color": "#ff0000"}]}).encode())
    assert load_hints(p).points[0].x == 1.0


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-32"])
def test_a_hints_file_saved_as_utf_16_is_read(tmp_path, encoding):
    """PowerShell 5's `echo '{...}' > photo.hints.json` writes UTF-16 with a byte-order mark: it was refused
    with "'utf-8' codec can't decode byte 0xff in position 0" (a hints user's find). A file in another encoding
    is still refused, in one line naming it."""
    obj = {"points": [{"x": 1, "y": 2, "color": "#ff0000"}]}
    p = tmp_path / "ps.hints.json"
    p.write_bytes(json.dumps(obj).encode(encoding))
    assert load_hints(p) == load_hints(_write(tmp_path, obj))
    p.write_bytes('{"points": [], "palette": ["#ff0000"], "note": "caf\xe9"}'.encode("latin-1"))
    with pytest.raises(InputError, match=r"ps.hints.json: cannot read hints file \(not UTF-8 or UTF-16 text\)"):
        load_hints(p)


def test_a_point_outside_the_image_is_refused():
    h = Hints((HintPoint(5, 5, (10, 10)), HintPoint(120, 5, (10, 10))))
    h.check_inside(128, 64, "h.json")
    with pytest.raises(InputError, match=r"h.json: points\[1\] at \(120, 5\) is outside the 100x64 image"):
        h.check_inside(100, 64, "h.json")


def test_a_missing_hints_file_is_named(tmp_path):
    with pytest.raises(InputError, match="hints file not found"):
        load_hints(tmp_path / "nope.json")


def test_video_hints_need_frame_indices(tmp_path):
    v = load_video_hints(_write(tmp_path, {"frames": {"0": {"points": [{"x": 1, "y": 1, "color": "#fff"}]}, "12": {}}}))
    assert sorted(v.frames) == [0, 12] and v.key != "none"
    with pytest.raises(InputError, match="frames key 'one' is not a frame index"):
        load_video_hints(_write(tmp_path, {"frames": {"one": {}}}))


def test_coordinates_are_scaled_to_the_working_size():
    # a 400x200 photo seen at 200x100 (working size 100): pixel (301, 151) lands on (150, 75)
    hints = Hints((HintPoint(301, 151, (55.0, -22.0), 4),))
    m = hint_map(hints, (200, 400), (100, 200), (128, 224))
    assert m.shape == (1, 3, 128, 224)
    ys, xs = torch.nonzero(m[0, 2], as_tuple=True)
    assert (ys.min().item(), ys.max().item(), xs.min().item(), xs.max().item()) == (73, 77, 148, 152)  # radius 4 -> 2
    assert m[0, 0, 75, 150] * 110 == pytest.approx(55.0) and m[0, 1, 75, 150] * 110 == pytest.approx(-22.0)
    assert m[0, :, 100:].abs().sum() == 0  # nothing in the padding


def test_the_hints_key_changes_with_the_hints():
    a = Hints((HintPoint(1, 2, (3.0, 4.0)),))
    assert a.key == Hints((HintPoint(1, 2, (3.0, 4.0)),)).key != Hints((HintPoint(1, 2, (3.0, 5.0)),)).key
    assert Hints().key == "none"


def test_a_palette_is_a_distribution_over_the_bins():
    bins = ab_bins()
    v = palette_vector(Hints((), ((40.0, 40.0), (-30.0, 20.0))), bins)
    assert v.shape == (bins.shape[0],) and v.sum() == pytest.approx(1.0, abs=1e-5)
    assert palette_vector(Hints(), bins).abs().sum() == 0


def _hint_model():
    torch.manual_seed(0)
    m = create_model("effnet_unet", hints=True).eval()
    for p in (m.hint_stem.weight, m.hint_dec[2].weight, m.hint_palette.weight):
        p.data.normal_(0, 0.05)  # as after training: the hint layers are no longer zero
    return m


def test_hint_inputs_have_the_documented_shapes():
    m = _hint_model()
    x = torch.rand(2, 1, 64, 96)
    hm = torch.zeros(2, 3, 64, 96)
    hm[:, :, 10, 20] = torch.tensor([0.3, -0.2, 1.0])
    with torch.no_grad():
        out = m(x, hm, torch.zeros(2, ab_bins().shape[0]))
    assert out["ab"].shape == (2, 2, 16, 24) and out["logits"].shape == (2, ab_bins().shape[0], 16, 24)


def test_no_hints_equals_the_automatic_path():
    m = _hint_model()
    x = torch.rand(1, 1, 64, 96)
    with torch.no_grad():
        auto = m.predict_ab(x)
        empty = m.predict_ab(x, torch.zeros(1, 3, 64, 96), torch.zeros(1, ab_bins().shape[0]))
        hinted = m.predict_ab(x, torch.nn.functional.pad(torch.ones(1, 3, 4, 4) * 0.5, [20, 72, 20, 40]), None)
    assert torch.equal(auto, empty)
    assert not torch.allclose(auto, hinted)
    col = Colorizer(m, work_size=64)
    img = np.random.default_rng(0).integers(0, 255, (70, 100, 3), dtype=np.uint8)
    assert np.array_equal(col.colorize_array(img), col.colorize_array(img, Hints()))


def test_hint_points_work_without_hint_inputs_but_a_palette_needs_them():
    col = Colorizer(create_model("effnet_unet").eval(), work_size=64)
    img = np.full((64, 64, 3), 128, np.uint8)
    out = col.colorize_array(img, Hints((HintPoint(30, 30, (0.0, -40.0), radius=2),)))  # blue
    lab = rgb2lab(out)
    assert lab[30, 30, 2] < -30 and abs(lab[30, 30, 1]) < 8  # the hint's colour at its point
    with pytest.raises(Exception, match="has no hint inputs"):
        col.colorize_array(img, Hints(palette=((20.0, 20.0),)))


def test_a_hint_spreads_over_its_region_and_stops_at_the_lightness_edge():
    from vidcolor.hint_spread import spread_hints

    l = torch.full((1, 1, 24, 40), 30.0)
    l[..., 20:] = 60.0  # two regions of even tone, an edge between them
    ab = torch.zeros(1, 2, 24, 40)
    hm = torch.zeros(1, 3, 24, 40)
    hm[0, :, 12, 5] = torch.tensor([40.0 / AB_SCALE, 20.0 / AB_SCALE, 1.0])
    out = spread_hints(ab, l, hm)
    assert torch.allclose(out[0, :, 12, 5], torch.tensor([40.0, 20.0]), atol=0.1)  # the user's colour at the point
    near, far_same, edge_in, across = out[0, 0, 12, 10], out[0, 0, 2, 18], out[0, 0, 12, 19], out[0, 0, 12, 20]
    assert near > 25 and far_same > 15  # carried over the region of the hint's tone (a* asked: +40)
    assert abs(across) < 0.01 * edge_in  # and stopped at the edge: the pixel past it keeps its own colour
    assert torch.equal(spread_hints(ab, l, torch.zeros(1, 3, 24, 40)), ab)  # no hints: unchanged


def test_at_strength_0_a_hints_colour_fades_with_distance_and_at_edges_as_docs_hints_md_says():
    """docs/hints.md said a photo with hints is "gray except where the hints reach" at strength 0: the correction
    fades gradually and is gray nowhere exactly. Its figures (a flat grid, the 3x3 cells a photo's hint holds)."""
    from vidcolor.hint_spread import spread_hints

    def spread(step_at=None, step=0.0):
        l = torch.full((1, 1, 201, 201), 50.0)
        if step_at is not None:
            l[..., step_at:] += step
        hm = torch.zeros(1, 3, 201, 201)
        hm[0, 1, 99:102, 99:102], hm[0, 2, 99:102, 99:102] = -30.0 / AB_SCALE, 1.0  # b* -30
        return spread_hints(torch.zeros(1, 2, 201, 201), l, hm)[0, 1] / -30.0  # strength 0: ab all zero

    kept = spread()
    assert [round(float(kept[100, 100 + d]), 2) for d in (0, 8, 24, 48)] == [1.0, 0.42, 0.14, 0.04]
    assert float(kept.min()) > 0  # gray nowhere exactly
    edge20, edge5 = spread(110, 20.0), spread(110, 5.0)
    assert float(edge20[100, 111]) < 0.01 * float(edge20[100, 108]) and float(edge5[100, 111]) > 0.5 * float(edge5[100, 108])


def test_certainty_falls_back_where_the_distribution_is_spread():
    q = 262
    sure = torch.full((q,), -20.0)
    sure[7] = 20.0  # one bin: certainty ~1
    spread = torch.zeros(q)  # uniform: certainty 0
    bimodal = torch.full((q,), -20.0)
    bimodal[[7, 100]] = 20.0  # two equal modes: certainty 1 - log 2 / log 262, about 0.88
    logits = torch.stack([sure, spread, bimodal], 1)[None, :, None, :]  # (1, Q, 1, 3)
    w = certainty_weight(logits, 0.3, 0.6)[0, 0, 0]
    assert w[0] == pytest.approx(1.0) and w[1] == pytest.approx(0.0)
    assert 1 - math.log(2) / math.log(q) == pytest.approx(0.876, abs=1e-3) and w[2] == pytest.approx(1.0)
    w_strict = certainty_weight(logits, 0.9, 0.95)[0, 0, 0]
    assert w_strict[2] == 0.0  # a stricter ramp also rejects the two-mode guess


def test_decoding_uses_regression_where_the_classifier_is_unsure():
    head = create_model("effnet_unet").head
    q = head.bins.shape[0]
    logits = torch.zeros(1, q, 1, 2)
    logits[0, 50, 0, 0] = 40.0  # pixel 0: certain of bin 50; pixel 1: uniform
    reg = torch.tensor([0.1, -0.1])[None, :, None, None].expand(1, 2, 1, 2)
    out = {"ab": reg, "logits": logits}
    ab = head.decode(out, temperature=1.0, blend=1.0, confidence=(0.3, 0.6))
    assert torch.allclose(ab[0, :, 0, 0] * 110, head.bins[50], atol=1e-3)  # certain: the classifier's colour
    assert torch.allclose(ab[0, :, 0, 1], reg[0, :, 0, 1])  # unsure: the regression estimate
    plain = head.decode(out, temperature=1.0, blend=1.0, confidence=None)
    assert not torch.allclose(plain[0, :, 0, 1], reg[0, :, 0, 1])


def test_video_keyframes_written_twice_are_refused(tmp_path):
    """"0" and "00" are one frame: the first one's points were dropped without a word (a reviewer's test)."""
    with pytest.raises(InputError, match="frames keys '0' and '00' are the same frame"):
        load_video_hints(_write(tmp_path, {"frames": {"0": {"points": [{"x": 1, "y": 1, "color": "#f00"}]}, "00": {}}}))


@pytest.mark.parametrize("hints, message", [
    (Hints((HintPoint(3, 10, (float("nan"), 0.0)),)), r"points\[0\]: ab must be two finite numbers"),  # 98% of it came out white
    (Hints((HintPoint(3, 10, (5.0, 5.0), -1.0),)), r"points\[0\]: x, y and radius must be finite"),
    (Hints((), ((float("inf"), 0.0),)), r"palette\[0\] must be two finite numbers"),
    (Hints((HintPoint(100, 10, (50.0, 0.0)),)), r"points\[0\] at \(100, 10\) is outside the 64x48 image"),  # was moved to the edge
    ("h.json", "takes one Hints .* got str"),  # an AttributeError from deep inside
    ({"points": []}, "takes one Hints .* got dict"),
])
def test_colorize_array_checks_the_hints_it_is_given(colorizer, hints, message):
    from vidcolor.errors import UsageError

    gray = np.full((48, 64), 120, np.uint8)
    with pytest.raises(UsageError, match=message):
        colorizer.colorize_arrays([gray], [hints]) if not isinstance(hints, (str, dict)) else colorizer.colorize_arrays([gray], hints)
    if isinstance(hints, Hints):
        with pytest.raises(UsageError, match=message):
            colorizer.colorize_array(gray, hints)
    with pytest.raises(UsageError, match="2 image"):  # an IndexError
        colorizer.colorize_arrays([gray, gray], [Hints()])


def test_big_endian_uint16_arrays_are_colorized_as_native_ones(colorizer):
    g = (np.arange(48 * 64).reshape(48, 64) * 20).astype(np.uint16)
    assert np.array_equal(colorizer.colorize_array(g.astype(">u2")), colorizer.colorize_array(g))


@pytest.mark.parametrize("frames, message", [
    ({-1: Hints((HintPoint(4, 4, (0.0, -50.0), 1),))}, "keyframe -1 is not a frame index"),  # reported applied, never was
    ({"0": Hints()}, "keyframe '0' is not a frame index"),  # a TypeError
    ({0: {"points": []}}, r"frames\[0\] must be a Hints, got dict"),  # an AttributeError
])
def test_library_video_hints_are_checked_like_a_file(tmp_path, frames, message):
    import vidcolor
    from tests.media import write_video
    from vidcolor.errors import UsageError
    from vidcolor.hints import VideoHints

    clip = write_video(tmp_path / "v.mp4", frames=6)
    with pytest.raises(UsageError, match=message):
        vidcolor.colorize(clip, tmp_path / "o.mp4", hints=VideoHints(frames))
    assert not (tmp_path / "o.mp4").exists()


@pytest.mark.parametrize("src, dst, message", [(123, None, "src= takes a path"), (None, None, "src= takes a path"),
                                               ("x.png", 5, "dst= takes a path")])
def test_the_front_door_refuses_what_is_no_path(src, dst, message):
    import vidcolor
    from vidcolor.errors import UsageError

    with pytest.raises(UsageError, match=message):
        vidcolor.colorize(src, dst)


def test_device_none_is_a_usage_error():
    from vidcolor.errors import UsageError
    from vidcolor.weights import load_colorizer

    with pytest.raises(UsageError, match="device= takes a string"):
        load_colorizer(device=None)


def test_a_tiff_stored_on_its_side_takes_hints_in_its_displayed_pixels(tmp_path):
    """Pillow (13) gives such a TIFF its displayed size already; turned once more, a point inside the photo
    was refused and one outside it let through to fail after the model loaded (a reviewer's test)."""
    import tifffile

    from vidcolor.hints import displayed_size
    from vidcolor.io.images import read_image

    stored = np.full((24, 32), 90, np.uint8)
    for compression in (None, "zlib"):
        path = tmp_path / f"side_{compression}.tif"
        tifffile.imwrite(path, stored, extratags=[(274, "H", 1, 6, True)], compression=compression)
        assert read_image(path).pixels.shape[:2] == (32, 24)
        assert displayed_size(path) == (24, 32)


def test_a_16_bit_png_whose_exif_follows_its_pixels_is_read_upright(tmp_path):
    """Its eXIf chunk after IDAT (which PIL reads only on decoding): the photo was written on its side
    and its hints checked against another size (a reviewer's test)."""
    import struct
    import zlib

    from PIL import Image

    from vidcolor.hints import displayed_size
    from vidcolor.io.images import read_image

    g = (np.arange(24 * 32).reshape(24, 32) * 80).astype(np.uint16)
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(g).save(tmp_path / "early.png", exif=exif.tobytes())
    data = (tmp_path / "early.png").read_bytes()
    chunks, pos = [], 8
    while pos < len(data):
        n = struct.unpack(">I", data[pos:pos + 4])[0]
        chunks.append(data[pos:pos + 12 + n])
        pos += 12 + n
    exif_chunk = next(c for c in chunks if c[4:8] == b"eXIf")
    rest = [c for c in chunks if c is not exif_chunk]
    late = data[:8] + b"".join(rest[:-1]) + exif_chunk + rest[-1]  # just before IEND
    (tmp_path / "late.png").write_bytes(late)
    assert zlib.crc32(exif_chunk[4:-4]) & 0xFFFFFFFF == struct.unpack(">I", exif_chunk[-4:])[0]
    early, later = read_image(tmp_path / "early.png"), read_image(tmp_path / "late.png")
    assert later.pixels.shape[:2] == (32, 24) and np.array_equal(later.pixels, early.pixels)
    assert displayed_size(tmp_path / "late.png") == (24, 32)


def test_cli_hints_and_strength_reach_the_photo(tmp_path, weights_file):
    import subprocess
    import sys

    from PIL import Image

    img = np.tile(np.linspace(100, 160, 64), (48, 1)).astype(np.uint8)  # a smooth gray ramp
    Image.fromarray(img).save(tmp_path / "p.png")
    bad = _write(tmp_path, {"points": [{"x": 100, "y": 5, "color": "#ff0000"}]}, "bad.json")
    r = subprocess.run([sys.executable, "-m", "vidcolor", str(tmp_path / "p.png"), "-o", str(tmp_path / "o.png"),
                        "--weights", str(weights_file), "--hints", str(bad)], capture_output=True, text=True)
    assert r.returncode == 2 and "points[0] at (100, 5) is outside the 64x48 image" in r.stderr
    assert not (tmp_path / "o.png").exists()
    # hint points work with a network without hint inputs (spread with L as the guide) ...
    good = _write(tmp_path, {"points": [{"x": 10, "y": 5, "color": "#ff0000", "radius": 1}]}, "good.json")
    r = subprocess.run([sys.executable, "-m", "vidcolor", str(tmp_path / "p.png"), "-o", str(tmp_path / "o.png"),
                        "--weights", str(weights_file), "--hints", str(good)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert rgb2lab(np.asarray(Image.open(tmp_path / "o.png")))[5, 10, 1] > 30  # red at the point
    # ... a palette needs a network that takes hints, and says so rather than ignoring it
    pal = _write(tmp_path, {"palette": ["#ff0000"]}, "pal.json")
    r = subprocess.run([sys.executable, "-m", "vidcolor", str(tmp_path / "p.png"), "-o", str(tmp_path / "o2.png"),
                        "--weights", str(weights_file), "--hints", str(pal)], capture_output=True, text=True)
    assert r.returncode == 2 and "has no hint inputs" in r.stderr + r.stdout  # a usage error: the run is refused


def test_cli_hints_give_the_library_result(tmp_path):
    import subprocess
    import sys

    from PIL import Image

    from vidcolor.models import save_checkpoint
    from vidcolor.weights import load_colorizer

    ckpt = tmp_path / "hinted.pt"
    save_checkpoint(_hint_model(), ckpt, meta={"work_size": 64})
    img = (np.random.default_rng(1).random((48, 64)) * 255).astype(np.uint8)
    Image.fromarray(img).save(tmp_path / "p.png")
    hints_path = _write(tmp_path, {"points": [{"x": 10, "y": 5, "color": "#ff0000", "radius": 2}]}, "h.json")
    r = subprocess.run([sys.executable, "-m", "vidcolor", str(tmp_path / "p.png"), "-o", str(tmp_path / "o.png"),
                        "--weights", str(ckpt), "--hints", str(hints_path), "--strength", "1.2", "--device", "cpu"],
                       capture_output=True, text=True)  # the library below runs on the CPU (a GPU machine's CLI picks CUDA)
    assert r.returncode == 0, r.stderr
    col = load_colorizer(weights=ckpt, device="cpu", strength=1.2)
    want = col.colorize_array(np.repeat(img[..., None], 3, -1), load_hints(hints_path))
    assert np.array_equal(np.asarray(Image.open(tmp_path / "o.png").convert("RGB")), want)
    assert not np.array_equal(want, col.colorize_array(np.repeat(img[..., None], 3, -1)))


def test_a_bad_hints_file_is_refused_without_loading_torch(tmp_path):
    """The refusal took 1.9 s, 1.35 of them importing torch to convert colours (new-user test)."""
    import subprocess
    import sys

    (tmp_path / "bad.json").write_text('{"points": [{"x": 1, "y": 1, "color": "#ff0000"}, {"x": 2, "y": 2, "color": "red"}]}')
    (tmp_path / "v.json").write_text('{"frames": {"0": {"points": [{"x": 1, "y": 1, "color": "#ff0000"}]}, "9": {"dots": []}}}')
    code = ("import sys\nfrom vidcolor.errors import InputError\nfrom vidcolor.hints import load_hints, load_video_hints\n"
            "for load, f, says in ((load_hints, 'bad.json', \"points[1]: bad colour 'red'\"), "
            "(load_video_hints, 'v.json', \"frames[9]: unknown key 'dots'\")):\n"
            "    try:\n        load(f)\n    except InputError as e:\n        assert says in str(e), e\n"
            "    else:\n        raise SystemExit('not refused')\n"
            "assert 'torch' not in sys.modules, 'torch was imported'\n")
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def refused_without_torch(cwd, *args: str):
    """`vidcolor ARGS` run in `cwd`, in a process of its own, asserted to end with exit 2 (a refusal) before torch
    was imported; its CompletedProcess, for the refusal's words in stderr."""
    import subprocess
    import sys

    code = (f"import runpy, sys\nsys.argv = ['vidcolor', *{list(args)!r}]\n"
            "try:\n    runpy.run_module('vidcolor', run_name='__main__')\nexcept SystemExit as e:\n    code = e.code\n"
            "assert code == 2, code\nassert 'torch' not in sys.modules, 'torch was imported'\n")
    r = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return r


def test_valid_video_hints_that_do_not_fit_the_video_are_refused_without_loading_torch(tmp_path):
    """A keyframe past the end took 5.5 s and 300 MB to refuse, torch loading to convert one colour
    (new-user test, 2026-11-27)."""
    from tests.media import write_video

    write_video(tmp_path / "v.mp4", frames=6)
    (tmp_path / "h.json").write_text('{"frames": {"100": {"points": [{"x": 1, "y": 1, "color": "#00ff00"}]}}}')
    r = refused_without_torch(tmp_path, "v.mp4", "-o", "o.mp4", "--hints", "h.json")
    assert "frame 100 is beyond the end of v.mp4" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not (tmp_path / "o.mp4").exists()


def test_a_photo_hint_outside_the_photo_is_refused_without_loading_torch(tmp_path):
    """The photo's counterpart of the test above: a point outside the photo was found only after its colour had
    been converted, which imports torch (3.4 s to the refusal on the 2-core host, against 0.5 s for a bad file)."""
    from tests.media import write_image

    write_image(tmp_path / "p.png", 48, 64)
    (tmp_path / "h.json").write_text('{"points": [{"x": 5, "y": 5, "color": "#00ff00"}, {"x": 500, "y": 1, "color": "#ff0000"}]}')
    r = refused_without_torch(tmp_path, "p.png", "-o", "o.png", "--hints", "h.json")
    assert r.stderr.strip().splitlines() == ["vidcolor: error: h.json: points[1] at (500, 1) is outside the 64x48 image"], r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["h.json", "p.png"]


def test_hinted_outputs_keep_their_journal_keys():
    """The a*b* of a hint colour are part of a hinted output's journal key: a plain-Python conversion,
    tried on 2026-11-27, moved them in the last digits and every finished hinted photo and video would
    have been colorized again (a review). Pinned to the values the shipped code has always given."""
    h = Hints.from_obj({"points": [{"x": 1, "y": 2, "color": "#3a6ea5"}]}, "hints")
    from vidcolor.hints import VideoHints

    assert h.points[0].ab == (0.4653036594390869, -34.72053909301758)
    assert VideoHints({0: h}).key == VideoHints({0: Hints.from_obj({"points": [{"x": 1, "y": 2, "color": [58, 110, 165]}]}, "h")}).key


def test_a_hint_asks_only_for_what_its_point_can_show_at_its_lightness():
    """A saturated blue hint on a white dress (L* 98) asked for a correction no white can show: clipped
    there, it was spread in full onto the skin beside it, which turned purple, more strongly than the
    dress, and changed lightness (a new user's test on Audrey Hepburn.jpg: 24% of the pixels moved by more
    than 10 a*b* units; 7% now)."""
    import cv2
    import torch

    from vidcolor.color import _lab_to_linear_rgb, in_gamut_ab
    from vidcolor.hint_spread import spread_hints

    l = np.array([98.0, 50.0, 9.0, 60.0])
    ab = np.array([[15.0, -60.0], [10.0, 10.0], [60.0, 40.0], [0.0, 0.0]])
    got = in_gamut_ab(l, ab)
    assert np.allclose(got[1], ab[1]) and np.allclose(got[3], 0)  # in gamut already: kept
    for (L, want), (a, b) in zip(zip(l, ab), got):
        assert np.allclose(np.cross(want, (a, b)), 0, atol=1e-3) and np.hypot(a, b) <= np.hypot(*want) + 1e-6  # hue kept
        rgb = cv2.cvtColor(np.array([[[L, a, b]]], np.float32), cv2.COLOR_Lab2RGB)
        assert rgb.min() > -2e-3 and rgb.max() < 1 + 2e-3
        more = _lab_to_linear_rgb(np.array([L]), np.array([[a * 1.05, b * 1.05]]))  # (OpenCV's clips)
        assert np.allclose((a, b), want) or more.min() < 0 or more.max() > 1  # as far out as fits
    # spread: a white patch beside a mid-gray one, a blue hint on the white one
    h, w = 12, 24
    lum = torch.full((1, 1, h, w), 98.0)
    lum[..., 12:] = 60.0
    hint = torch.zeros(1, 3, h, w)
    hint[0, 0, 6, 3], hint[0, 1, 6, 3], hint[0, 2, 6, 3] = 15 / 110, -60 / 110, 1
    out = spread_hints(torch.zeros(1, 2, h, w), lum, hint, edge_cost=1e3)  # no edge between them: the leak at its widest
    assert abs(float(out[0, 1, 6, 3])) < 4  # the white shows what a white can: b* -3
    assert abs(float(out[0, 1, 6, 14])) < 4  # and the gray beside it is not turned blue by a -60 it never showed


def test_hints_built_from_numpy_numbers_are_taken(colorizer):
    """check_built refused np.int64 coordinates with "must be finite numbers" and let np.float32 a*b*
    through to a TypeError (a reviewer's test): numpy numbers are numbers."""
    gray = np.full((48, 64), 120, np.uint8)
    plain = colorizer.colorize_array(gray, Hints((HintPoint(20.0, 30.0, (30.0, 10.0), 2.0),)))
    for point in (HintPoint(np.int64(20), np.int64(30), (np.int64(30), np.int64(10)), 2),
                  HintPoint(np.float32(20), np.float32(30), (np.float32(30), np.float32(10)), np.float32(2)),
                  HintPoint(20, 30, np.array([30.0, 10.0]), 2)):
        assert np.array_equal(colorizer.colorize_array(gray, Hints((point,))), plain)
    assert colorizer.colorize_arrays([gray], [])[0].shape == (48, 64, 3)  # [] is no hints, as before
    from vidcolor.errors import UsageError
    with pytest.raises(UsageError, match="ab must be two finite numbers"):  # a set would swap a* and b* unsaid
        colorizer.colorize_array(gray, Hints((HintPoint(20, 30, {30.0, 10.0}, 2),)))


def test_a_torch_device_is_a_device():
    from vidcolor.device import resolve_device

    assert resolve_device(torch.device("cpu")) == torch.device("cpu")


def test_a_big_8_bit_tiff_is_read_under_a_strict_host_limit(tmp_path, monkeypatch):
    """Pillow checks its limit again as a TIFF loads: with the limit given back after the open, a TIFF over
    it warned, and one over twice it was refused as "larger than 1000000000 pixels" (a reviewer's test)."""
    import warnings

    import tifffile
    from PIL import Image

    from vidcolor.io.images import read_image

    tifffile.imwrite(tmp_path / "big.tif", np.full((40, 60), 90, np.uint8), compression="zlib")  # 2,400 pixels
    for limit in (2000, 1000):  # over the host's limit (a warning there), over twice it (an error there)
        monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", limit)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert read_image(tmp_path / "big.tif").pixels.shape == (40, 60, 3)
        assert Image.MAX_IMAGE_PIXELS == limit


def test_serve_takes_a_sideways_tiffs_displayed_size_and_bad_hints_json_is_422(tmp_path):
    import io

    import tifffile

    pytest.importorskip("fastapi", reason="the web extra is not installed: pip install -e '.[dev]'")  # uploads.py: starlette
    from vidcolor.serve.uploads import RequestError, parse_hints, sniff_image

    buf = io.BytesIO()
    tifffile.imwrite(buf, np.full((24, 32), 90, np.uint8), extratags=[(274, "H", 1, 6, True)])
    up = sniff_image(buf.getvalue(), 1e6)
    assert up.displayed == (24, 32)  # stored 32 wide, 24 high, shown on its side (it was turned twice)
    for text, says in (('{"points": [{"x": 1' + "0" * 5000 + ', "y": 1, "color": "#fff"}]}', "cannot read hints"),
                       ("[" * 100000 + "]" * 100000, "nested too deeply"),
                       ('{"points": [{"x": 1, "y": 1, "color": "#fff"}], "points": []}', "appears twice")):
        with pytest.raises(RequestError, match=says):  # a ValueError or RecursionError: a 500
            parse_hints(text)


def test_a_hints_file_with_too_many_points_is_refused_before_any_colour_is_converted(tmp_path, monkeypatch):
    """A file of a million points (37 MB) held the run for minutes, converting each colour, before it said
    anything; such a file is refused in one line, as are hints built in code with as many."""
    from vidcolor.hints import MAX_POINTS, MAX_VIDEO_POINTS, VideoHints, check_built

    monkeypatch.setattr("vidcolor.hints.srgb_to_ab", lambda rgb: pytest.fail("a colour was converted"))
    point = {"x": 1, "y": 1, "color": "#3a6ea5"}
    photo = tmp_path / "p.hints.json"
    photo.write_text(json.dumps({"points": [point] * (MAX_POINTS + 1)}))
    with pytest.raises(InputError, match=rf"p\.hints\.json: 10,001 points; at most 10,000 are taken$"):
        load_hints(photo)
    video = tmp_path / "v.hints.json"
    video.write_text(json.dumps({"frames": {str(k): {"points": [point] * MAX_POINTS} for k in range(11)}}))
    with pytest.raises(InputError, match=r"v\.hints\.json: 110,000 points and palette colours on its keyframes; at most 100,000 are taken$"):
        load_video_hints(video)
    # palettes count in a video's total too (a review: 101 keyframes of 10,000 palette colours were taken)
    video.write_text(json.dumps({"frames": {str(k): {"palette": ["#3a6ea5"] * MAX_POINTS} for k in range(11)}}))
    with pytest.raises(InputError, match=r"110,000 points and palette colours on its keyframes"):
        load_video_hints(video)
    assert MAX_VIDEO_POINTS == 100_000
    one = HintPoint(1.0, 1.0, (0.0, 0.0))
    with pytest.raises(InputError, match=r"hints: 10,001 points; at most 10,000 are taken$"):
        check_built(Hints((one,) * (MAX_POINTS + 1)))
    with pytest.raises(InputError, match=r"hints: 110,000 points and palette colours on its keyframes"):
        check_built(VideoHints({k: Hints((one,) * MAX_POINTS) for k in range(11)}))
    assert check_built(Hints(one for _ in range(3))).points == (one,) * 3  # a generator of points is taken
