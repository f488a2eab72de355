"""`vidcolor serve`'s JSON API through FastAPI's TestClient, on images and clips the tests make."""
from __future__ import annotations

import hashlib
import io
import json
import struct
import tempfile
import threading
import time
import zlib

import cv2
import numpy as np
import pytest
from PIL import Image, features
from skimage.color import rgb2lab

pytest.importorskip("fastapi", reason="the web extra is not installed: pip install -e '.[dev]'")
from fastapi.testclient import TestClient  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from tests.media import gray_image, probe, read_frames, write_video  # noqa: E402
from tests.serve_util import hint_colorizer  # noqa: E402
from vidcolor import cli  # noqa: E402
from vidcolor.errors import InputError  # noqa: E402
from vidcolor.hints import Hints, srgb_to_ab  # noqa: E402
from vidcolor.io.images import read_image, write_image  # noqa: E402
from vidcolor.serve import ServeConfig, create_app  # noqa: E402
from vidcolor.serve.worker import Busy, ModelWorker, Stopped  # noqa: E402

BASE = "http://127.0.0.1:8000"


@pytest.fixture(scope="module")
def hint_col():
    return hint_colorizer()


@pytest.fixture
def private_tmp(tmp_path, monkeypatch):
    """The server's temporary folders go here, so a test can see that none is left behind."""
    root = tmp_path / "servetmp"
    root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(root))
    return root


def client(col, **cfg) -> TestClient:
    return TestClient(create_app(col, ServeConfig(**cfg)), base_url=BASE)


def encode(rgb_or_gray: np.ndarray, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb_or_gray).save(buf, fmt, **kw)
    return buf.getvalue()


def post(c, data: bytes, name="photo.png", **fields):
    return c.post("/api/colorize", files={"file": (name, data, "application/octet-stream")},
                  data={k: (json.dumps(v) if k == "hints" and not isinstance(v, str) else str(v)) for k, v in fields.items()})


def library_colorize(col, data: bytes, ext: str, tmp_path, hints=None) -> np.ndarray:
    """What `vidcolor PHOTO -o OUT` does: read_image -> colorize_array -> write_image, read back."""
    src, dst = tmp_path / f"in{ext}", tmp_path / f"out{ext}"
    src.write_bytes(data)
    img = read_image(src)
    write_image(dst, col.colorize_array(img.pixels, hints), img)
    return read_image(dst).pixels


def one_line_error(r, status: int, *words: str) -> str:
    assert r.status_code == status, (r.status_code, r.text)
    detail = r.json()["detail"]
    assert isinstance(detail, str) and "\n" not in detail and "Traceback" not in detail
    for w in words:
        assert w in detail, detail
    return detail


# -- success -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt,ext,media", [("PNG", ".png", "image/png"), ("JPEG", ".jpg", "image/jpeg"),
                                           ("TIFF", ".tif", "image/tiff"), ("WEBP", ".webp", "image/webp"),
                                           ("BMP", ".bmp", "image/bmp")])
def test_colorize_answers_in_the_inputs_format_and_size_as_the_library_does(hint_col, tmp_path, private_tmp, fmt, ext, media):
    data = encode(gray_image(48, 70), fmt)
    with client(hint_col) as c:
        r = post(c, data, name="any-name.bin")  # the name is ignored: the format comes from the content
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == media
    out = read_image_bytes(r.content, ext, tmp_path)
    assert out.shape == (48, 70, 3)
    np.testing.assert_array_equal(out, library_colorize(hint_col, data, ext, tmp_path))
    assert list(private_tmp.iterdir()) == []  # the upload and the output were temporary files


def test_a_colour_photo_is_colorized_and_says_why_a_batch_run_would_skip_it(hint_col):
    """The web page colorizes what it is given, but tells that a batch run would skip the photo: the
    headers carry both numbers of the test (the score and ToneNet's logit), as a skip note does."""
    from training.toned_corpus import colourful_scene
    from vidcolor.tone import colour_photo_score

    rgb = colourful_scene(np.random.default_rng(5), 120, 160)
    with client(hint_col) as c:
        r = post(c, encode(rgb, "PNG"))
        gray = post(c, encode(gray_image(48, 70), "PNG"))
    assert r.status_code == gray.status_code == 200, r.text
    scores = colour_photo_score(rgb)
    assert r.headers["X-Vidcolor-Colour-Score"] == f"{scores.score:.1f}" and r.headers["X-Vidcolor-ToneNet"] == f"{scores.logit:.1f}"
    assert "X-Vidcolor-Colour-Score" not in gray.headers and "X-Vidcolor-ToneNet" not in gray.headers


def test_a_photo_answer_carries_the_notes_the_cli_prints(hint_col, tmp_path):
    """What the CLI notes after "done" (transparency dropped, float samples written as 16-bit) the server dropped:
    a PNG with alpha asked for as JPEG lost its transparency without a word (a web-studio tester's find)."""
    import tifffile

    from vidcolor.folder import colorize_image

    rgba = np.dstack([np.repeat(gray_image(40, 50)[..., None], 3, axis=2), np.full((40, 50), 128, np.uint8)])
    flt = tmp_path / "float.tif"
    tifffile.imwrite(flt, gray_image(40, 50).astype(np.float32) / 255)
    with client(hint_col) as c:
        r = post(c, encode(rgba, "PNG"), format="jpg")
        f = post(c, flt.read_bytes())
        plain = post(c, encode(gray_image(40, 50), "PNG"))
    assert r.status_code == f.status_code == plain.status_code == 200, (r.text, f.text, plain.text)
    (tmp_path / "rgba.png").write_bytes(encode(rgba, "PNG"))
    for answer, src, out in ((r, tmp_path / "rgba.png", tmp_path / "rgba.jpg"), (f, flt, tmp_path / "out.tif")):
        cli_notes = colorize_image(src, out, hint_col).notes
        assert cli_notes and json.loads(answer.headers["X-Vidcolor-Notes"]) == cli_notes, (answer.headers, cli_notes)
    assert json.loads(r.headers["X-Vidcolor-Notes"]) == ["transparency dropped: JPEG has no alpha channel"]
    assert "X-Vidcolor-Notes" not in plain.headers


def read_image_bytes(data: bytes, ext: str, tmp_path) -> np.ndarray:
    p = tmp_path / f"answer{ext}"
    p.write_bytes(data)
    return read_image(p).pixels


def test_sixteen_bit_png_stays_sixteen_bit(hint_col, tmp_path):
    src = tmp_path / "deep.png"
    cv2.imwrite(str(src), gray_image(40, 50).astype(np.uint16) * 257)
    with client(hint_col) as c:
        r = post(c, src.read_bytes())
    assert r.status_code == 200, r.text
    out = read_image_bytes(r.content, ".png", tmp_path)
    assert out.dtype == np.uint16 and out.shape == (40, 50, 3)


def ab_at(rgb: np.ndarray, x: int, y: int) -> np.ndarray:
    return rgb2lab(rgb[y:y + 1, x:x + 1])[0, 0, 1:]


def test_hints_move_the_output_toward_their_colours_at_their_points(hint_col, tmp_path):
    g = (110 + 8 * np.sin(np.arange(96) / 5.0))[None, :].repeat(64, 0).astype(np.uint8)  # mid-gray: hint colours in gamut
    data = encode(g, "PNG")
    hints = {"points": [{"x": 20, "y": 16, "color": "#d02020"}, {"x": 70, "y": 44, "color": "#2040e0", "radius": 2}]}
    with client(hint_col) as c:
        plain = read_image_bytes(post(c, data).content, ".png", tmp_path)
        r = post(c, data, hints=hints)
    assert r.status_code == 200, r.text
    hinted = read_image_bytes(r.content, ".png", tmp_path)
    for p in hints["points"]:
        want = np.array(srgb_to_ab(tuple(int(p["color"][i:i + 2], 16) for i in (1, 3, 5))))
        near, before = (np.linalg.norm(ab_at(a, p["x"], p["y"]) - want) for a in (hinted, plain))
        assert near < 15 and near < 0.5 * before, (p, near, before)
    expected = library_colorize(hint_col, data, ".png", tmp_path, Hints.from_obj(hints, "hints"))
    np.testing.assert_array_equal(hinted, expected)
    with client(hint_col) as c:  # the hints file as a file part (curl -F hints=@photo.hints.json) was a 422 (operator)
        r = c.post("/api/colorize", files={"file": ("photo.png", data, "application/octet-stream"),
                                           "hints": ("photo.hints.json", json.dumps(hints).encode(), "application/json")})
    assert r.status_code == 200, r.text
    np.testing.assert_array_equal(read_image_bytes(r.content, ".png", tmp_path), expected)


def test_a_hints_file_saved_with_a_byte_order_mark_is_read_as_the_text_field_too(hint_col, tmp_path):
    """--hints and the hints file part read a file Windows Notepad saved with a byte-order mark; its text sent as
    the field (a script's open(path).read(), curl -F 'hints=<file') was 422 "Unexpected UTF-8 BOM (decode using
    utf-8-sig)" (a web-studio tester's find)."""
    data = encode(gray_image(48, 64), "PNG")
    hints = {"points": [{"x": 20, "y": 16, "color": "#d02020"}]}
    path = tmp_path / "photo.hints.json"
    path.write_text(json.dumps(hints), encoding="utf-8-sig")
    with client(hint_col) as c:
        r = post(c, data, hints=path.read_text(encoding="utf-8"))  # the mark kept, as open(path).read() keeps it
        plain = post(c, data, hints=hints)
    assert r.status_code == plain.status_code == 200, r.text
    assert r.content == plain.content


def test_a_hints_file_part_saved_as_utf_16_is_read_as_hints_reads_it(hint_col, tmp_path):
    """PowerShell 5 writes UTF-16: the file part was 422 "the file is not UTF-8 text" (a hints user's find)."""
    data = encode(gray_image(48, 64), "PNG")
    hints = {"points": [{"x": 20, "y": 16, "color": "#d02020"}]}
    with client(hint_col) as c:
        r = c.post("/api/colorize", files={"file": ("photo.png", data, "application/octet-stream"),
                                           "hints": ("photo.hints.json", json.dumps(hints).encode("utf-16"), "application/json")})
        plain = post(c, data, hints=hints)
    assert r.status_code == plain.status_code == 200, r.text
    assert r.content == plain.content


@pytest.mark.parametrize("value", [0, 9, 65535])
def test_an_orientation_that_turns_nothing_is_answered_as_1(hint_col, tmp_path, value):
    """An EXIF orientation outside 1-8 turns nothing, in read_image as in browsers, but X-Vidcolor-Orientation said
    it (9, 65535), and the page then ran the model again for a "before" of the server's (a web-studio tester's find)."""
    exif = Image.Exif()
    exif[0x0112] = value
    buf = io.BytesIO()
    Image.fromarray(gray_image(48, 64)).save(buf, "JPEG", exif=exif.tobytes())
    with client(hint_col) as c:
        r = post(c, buf.getvalue(), hints={"points": [{"x": 60, "y": 10, "color": "#d02020"}]})  # stored (and shown) 64 wide
    assert r.status_code == 200, r.text
    assert r.headers["X-Vidcolor-Orientation"] == "1"
    assert read_image_bytes(r.content, ".jpg", tmp_path).shape == (48, 64, 3)


def test_hint_coordinates_are_those_of_the_photo_as_displayed_after_exif_rotation(hint_col, tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # stored 64 wide x 48 high, displayed rotated: 48 wide x 64 high
    buf = io.BytesIO()
    Image.fromarray(gray_image(48, 64)).save(buf, "JPEG", exif=exif.tobytes())
    hints = {"points": [{"x": 10, "y": 60, "color": "#d02020"}]}  # y = 60 exists only in the displayed photo
    with client(hint_col) as c:
        r = post(c, buf.getvalue(), hints=hints)
        one_line_error(post(c, buf.getvalue(), hints={"points": [{"x": 60, "y": 10, "color": "#d02020"}]}),
                       422, "outside the 48x64 image")
    assert r.status_code == 200, r.text
    assert read_image_bytes(r.content, ".jpg", tmp_path).shape == (64, 48, 3)
    # the orientation applied, for the page: browsers ignore some (a WebP's EXIF, XMP), and its "before" is then the server's
    assert r.headers["x-vidcolor-orientation"] == "6"
    with client(hint_col) as c:
        assert post(c, encode(gray_image(), "PNG")).headers["x-vidcolor-orientation"] == "1"


def test_the_client_file_name_never_reaches_the_filesystem(hint_col, tmp_path, private_tmp):
    with client(hint_col) as c:
        r = post(c, encode(gray_image(), "PNG"), name="../../../outside.png")
    assert r.status_code == 200
    assert r.headers["content-disposition"] == f'inline; filename="colorized-{r.headers["x-vidcolor-sha256"][:12]}.png"'
    assert not any(p.name == "outside.png" for p in tmp_path.parent.rglob("outside.png"))
    assert list(private_tmp.iterdir()) == []


def test_strength_zero_gives_gray_and_strength_changes_the_output(hint_col, tmp_path):
    data = encode(gray_image(48, 64), "PNG")
    with client(hint_col) as c:
        gray = read_image_bytes(post(c, data, strength=0).content, ".png", tmp_path).astype(int)
        one = read_image_bytes(post(c, data, strength=1).content, ".png", tmp_path).astype(int)
        two = read_image_bytes(post(c, data, strength=2).content, ".png", tmp_path).astype(int)
    assert np.abs(gray - gray.mean(axis=2, keepdims=True)).max() <= 1
    spread = lambda a: np.abs(a - a.mean(axis=2, keepdims=True)).mean()  # noqa: E731
    assert spread(two) > spread(one) > spread(gray)


def test_health_names_the_model_and_whether_it_takes_hints(hint_col, colorizer):
    with client(hint_col, queue_size=3) as c:
        h = c.get("/api/health").json()
    assert h["status"] == "ok" and h["accepts_hints"] is True and h["hint_inputs"] is True and h["work_size"] == 64
    assert h["limits"]["queue_size"] == 3 and h["waiting"] == {"photos": 0, "jobs": 0}
    with client(colorizer) as c:  # hint points work with any network; only the trained one takes them as inputs
        h = c.get("/api/health").json()
        assert h["accepts_hints"] is True and h["hint_inputs"] is False


def test_page_and_openapi_docs_are_served(hint_col):
    with client(hint_col) as c:
        page = c.get("/")
        schema = c.get("/openapi.json").json()
        docs = c.get("/docs")
    assert page.status_code == 200 and 'id="hint-color"' in page.text
    assert docs.status_code == 200
    assert {"/api/colorize", "/api/jobs", "/api/jobs/{job_id}", "/api/jobs/{job_id}/result", "/api/health"} <= set(schema["paths"])


def test_the_pages_strength_slider_and_the_docs_span_the_range_the_api_takes(hint_col):
    """The API takes --strength's range (0 to 3); the page's slider and the OpenAPI text must say the same, or
    the page cannot ask for what a batch run does (the slider stopped at 2). Checked without a browser, which
    the page's own tests skip where Chromium is missing."""
    import re

    from vidcolor.options import STRENGTH

    with client(hint_col) as c:
        page = c.get("/").text
        form = c.get("/openapi.json").json()["components"]["schemas"]
    slider = re.search(r'<input type="range" id="strength"[^>]*>', page).group(0)
    assert (float(re.search(r'min="([^"]+)"', slider).group(1)), float(re.search(r'max="([^"]+)"', slider).group(1))) == STRENGTH
    descriptions = [f["properties"]["strength"]["description"] for f in form.values() if "strength" in f.get("properties", {})]
    assert len(descriptions) == 2 and all(f"0 (gray) to {STRENGTH[1]:g}" in d for d in descriptions), descriptions
    # the page's requests are relative to it, so a proxy may serve it under a folder (https://office/vidcolor/)
    assert not re.search(r"""[`'"]/api/""", page)


def test_openapi_docs_list_each_endpoints_own_refusals(hint_col):
    """Every route listed the upload endpoints' refusals: GET /api/jobs/{id} promised 413, 415 and 429 but
    not its 404, the result's 409 was missing and its video had no media type (a new user's test)."""
    with client(hint_col) as c:
        paths = c.get("/openapi.json").json()["paths"]

    def codes(path, method):
        return {int(k) for k in paths[path][method]["responses"]} - {200, 202, 422}

    uploads = {400, 401, 403, 408, 413, 415, 429, 503, 507}
    assert codes("/api/colorize", "post") == uploads and codes("/api/jobs", "post") == uploads
    assert {"422"} <= set(paths["/api/colorize"]["post"]["responses"])  # bad hints, strength or format
    assert codes("/api/health", "get") == {401}
    assert codes("/api/jobs/{job_id}", "get") == {401, 404}
    assert codes("/api/jobs/{job_id}", "delete") == {401, 403, 404}
    assert codes("/api/jobs/{job_id}/result", "get") == {401, 404, 409, 416}
    assert set(paths["/api/jobs/{job_id}/result"]["get"]["responses"]["200"]["content"]) == {"video/mp4", "video/x-matroska"}


# -- refusals ----------------------------------------------------------------------------------------

def test_not_an_image_is_415(hint_col, tmp_path):
    with client(hint_col) as c:
        one_line_error(post(c, b"this is a text file, not a photo\n" * 10, name="photo.jpg"), 415, "not an image")
        one_line_error(post(c, encode(gray_image(), "GIF")), 415, "GIF images are not supported")
        # a video sent as a photo is pointed to the endpoint that takes it (new-user test)
        clip = write_video(tmp_path / "clip.mp4", w=64, h=48, frames=5, audio=None).read_bytes()
        one_line_error(post(c, clip, name="clip.mp4"), 415, "not an image (a video: videos go to /api/jobs)")


def tiff_bytes(samples: np.ndarray, **kw) -> bytes:
    import tifffile

    buf = io.BytesIO()
    tifffile.imwrite(buf, samples, **kw)
    return buf.getvalue()


@pytest.mark.parametrize("dtype,channels", [(np.float16, 1), (np.float32, 3)])
def test_float_tiffs_the_cli_reads_are_colorized_not_refused(hint_col, tmp_path, dtype, channels):
    """A float16 TIFF and a float32 RGB one were 415 "not an image (unrecognised format)" (Pillow opens
    neither), though the CLI colorizes them (a new user's test): the upload's header is read as read_image reads it."""
    g = gray_image(40, 56) / 255
    data = tiff_bytes((g if channels == 1 else np.dstack([g] * 3)).astype(dtype), photometric="minisblack" if channels == 1 else "rgb")
    with client(hint_col) as c:
        r = post(c, data)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/tiff"
    out = read_image_bytes(r.content, ".tif", tmp_path)
    assert out.dtype == np.uint16 and out.shape == (40, 56, 3)
    np.testing.assert_array_equal(out, library_colorize(hint_col, data, ".tif", tmp_path))


def test_a_signed_16_bit_tiff_is_415_naming_its_samples_and_the_cli_names_the_file(hint_col, tmp_path, weights_file):
    """int16 samples reached the network: the API answered 500 "expected a uint8 or uint16 image, got int16",
    and the CLI said so naming no file (a new user's test)."""
    data = tiff_bytes(gray_image(40, 56).astype(np.int16) - 100)
    with client(hint_col) as c:
        one_line_error(post(c, data), 415, "upload ", "16-bit signed integer samples are not read")
    src = tmp_path / "signed.tif"
    src.write_bytes(data)
    with pytest.raises(InputError, match=f"^{src}: 16-bit signed integer samples"):
        read_image(src)
    r = CliRunner().invoke(cli.app, ["colorize", str(src), "-o", str(tmp_path / "out.tif"), "--weights", str(weights_file), "--device", "cpu"])
    assert f"{src.name}: 16-bit signed integer samples" in r.output and "expected a uint8" not in r.output, r.output


def animated(fmt: str) -> bytes:
    g = Image.fromarray(gray_image(40, 56))
    buf = io.BytesIO()
    g.save(buf, fmt, save_all=True, append_images=[g.rotate(180)])
    return buf.getvalue()


def test_an_animation_or_a_multi_page_tiff_is_415_before_it_takes_a_place_in_the_queue(hint_col):
    """An animated PNG or WebP was 400 (the README's word for corrupt) "has 2 frames/pages", decided by the
    model thread after a wait in the queue (a new user's test); a multi-page TIFF likewise. With the
    queue full, each is now refused as a file of a kind not taken (415), not as busy (429)."""
    gate = threading.Event()
    with client(hint_col, queue_size=1) as c:
        worker = c.app.state.worker
        blocker = worker.submit_photo(gate.wait)  # holds the model thread
        wait_until(lambda: worker.waiting()["photos"] == 0)
        queued = worker.submit_photo(lambda: None)  # and the queue's one place
        try:
            for fmt in ("PNG", "WEBP"):
                one_line_error(post(c, animated(fmt)), 415, "has 2 frames/pages; only single-image files are supported")
            pages = np.stack([gray_image(40, 56)] * 3)
            one_line_error(post(c, tiff_bytes(pages, photometric="minisblack")), 415, "multi-page TIFF (3 pages); only single-page TIFFs are supported")
            one_line_error(post(c, encode(gray_image(), "PNG")), 429, "busy")  # the queue was full all along
        finally:
            gate.set()
        assert blocker.result(10) is True and queued.result(10) is None


def test_a_tiff_whose_tags_tifffile_cannot_name_is_refused_in_one_line_as_the_cli_refuses_it(hint_col, tmp_path):
    """A TIFF with a photometric of 99 (tifffile hands back the bare number, not a name) raised AttributeError in
    the header check: a plain-text 500 "Internal Server Error" and a traceback in the server's log, where
    `vidcolor PHOTO` refuses the same file in one line (an IT admin's fuzzing of the upload)."""
    import struct

    import tifffile

    data = bytearray(tiff_bytes(np.zeros((8, 8), np.float32), photometric="minisblack"))
    with tifffile.TiffFile(io.BytesIO(bytes(data))) as tif:
        at = tif.pages[0].tags[262].valueoffset  # PhotometricInterpretation
    data[at:at + 2] = struct.pack("<H", 99)
    with client(hint_col) as c:
        one_line_error(post(c, bytes(data), "scan.tif"), 400, "corrupt or unsupported TIFF (its tags hold what this reader cannot use")
    (tmp_path / "scan.tif").write_bytes(data)
    with pytest.raises(InputError, match="corrupt or unsupported TIFF"):
        read_image(tmp_path / "scan.tif")


def test_a_request_without_an_upload_says_how_to_send_one(hint_col):
    """A JSON or raw image/jpeg body got 422 "file: Field required", and a urlencoded form leaked pydantic's
    "Expected UploadFile, received: <class 'str'>" (a new user's test)."""
    data = encode(gray_image(), "JPEG")
    with client(hint_col) as c:
        for path in ("/api/colorize", "/api/jobs"):
            one_line_error(c.post(path, content=data, headers={"content-type": "image/jpeg"}), 415,
                           "the body is image/jpeg", "multipart/form-data", "'file'")
            one_line_error(c.post(path, json={"file": "photo.jpg"}), 415, "the body is application/json")
            one_line_error(c.post(path, data={"file": "photo.jpg"}), 415, "application/x-www-form-urlencoded")
            # a urlencoded body with another field: 422 "unknown field x" where `file=...` got 415 (a new user's test)
            one_line_error(c.post(path, data={"x": "1"}), 415, "application/x-www-form-urlencoded")
            one_line_error(c.post(path, files={"strength": (None, "1.0")}), 400, "file: no file uploaded")
        # a media type in another case is the same type (the check above once compared it exactly: a review)
        png = encode(gray_image(), "PNG")
        body = (b"--xyz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"p.png\"\r\n"
                b"Content-Type: image/png\r\n\r\n" + png + b"\r\n--xyz--\r\n")
        r = c.post("/api/colorize", content=body, headers={"content-type": "Multipart/Form-Data; boundary=xyz"})
        assert r.status_code == 200 and r.content[:8] == b"\x89PNG\r\n\x1a\n", (r.status_code, r.text[:200])


def test_truncated_image_is_400_and_names_the_upload_not_a_temp_path(hint_col, private_tmp):
    data = encode(gray_image(120, 160, seed=3), "JPEG", quality=90)
    with client(hint_col) as c:
        detail = one_line_error(post(c, data[: len(data) // 2]), 400, "truncated", "upload ")
    assert str(private_tmp) not in detail and "/tmp" not in detail
    assert list(private_tmp.iterdir()) == []


def test_a_broken_tiff_is_one_line_to_its_client_and_none_in_the_servers_log(hint_col, caplog):
    """tifffile logged each tag and strip it read past at ERROR, eleven lines in the server's log for one upload of a
    TIFF with its tags overwritten (a deployer's test), and as many on the CLI's stderr for the same file."""
    import logging

    bad = bytearray(encode(gray_image(40, 50), "TIFF"))
    bad[30:200] = b"\xff" * 170  # its tags' types and offsets
    with caplog.at_level(logging.DEBUG), client(hint_col) as c:
        one_line_error(post(c, bytes(bad), name="a.tif"), 400, "corrupt or unsupported TIFF")
    assert [r.getMessage() for r in caplog.records if r.name.startswith("tifffile")] == []


def test_empty_upload_is_400(hint_col):
    with client(hint_col) as c:
        one_line_error(post(c, b""), 400, "empty file")


def test_upload_over_the_size_limit_is_413(hint_col):
    data = encode(np.random.default_rng(0).integers(0, 255, (200, 200), dtype=np.uint8), "PNG")  # ~40 kB
    with client(hint_col, max_image_mb=0.01) as c:
        one_line_error(post(c, data), 413, "(0.01 MB, --max-image-mb)")

        def chunks():  # no Content-Length: the limit is enforced as the body streams in
            body, boundary = multipart_body(data)
            for i in range(0, len(body), 4096):
                yield body[i:i + 4096]
        _, boundary = multipart_body(data)
        r = c.post("/api/colorize", content=chunks(), headers={"content-type": f"multipart/form-data; boundary={boundary}"})
        one_line_error(r, 413, "over the limit")


def test_a_413_says_what_it_measured_and_what_the_limit_is(hint_col, tmp_path):
    """The 413 said "upload of 50.1 MB is over the limit of 50 MB" where it had measured the whole multipart form
    against the file's limit plus 64 KB for the form, and "upload is over the limit" where it had measured the file
    (a deployer's test). Each now names what it measured, in bytes, and the limit it was held to."""
    small = encode(np.random.default_rng(0).integers(0, 255, (200, 200), dtype=np.uint8), "PNG")  # ~40 kB
    large = encode(np.random.default_rng(0).integers(0, 255, (320, 320), dtype=np.uint8), "PNG")  # ~100 kB
    body, boundary = multipart_body(large)
    form = "75,536 bytes: 0.01 MB (--max-image-mb) for the file plus 64 KB for the rest of the form"
    with client(hint_col, max_image_mb=0.01, max_video_mb=0.01) as c:
        assert one_line_error(post(c, small), 413) == (f"file is {len(small):,} bytes, over the limit of 10,000 bytes "
                                                       "(0.01 MB, --max-image-mb)")
        r = c.post("/api/colorize", content=body, headers={"content-type": f"multipart/form-data; boundary={boundary}"})
        assert one_line_error(r, 413) == f"request body of {len(body):,} bytes (Content-Length) is over the limit of {form}"
        r = c.post("/api/colorize", content=(body[i:i + 4096] for i in range(0, len(body), 4096)),  # streamed, no length
                   headers={"content-type": f"multipart/form-data; boundary={boundary}"})
        assert one_line_error(r, 413) == f"request body passed the limit of {form}"
        clip = write_video(tmp_path / "clip.mkv", w=64, h=48, frames=12, codec="rawvideo", audio=None).read_bytes()
        assert 10_000 < len(clip) < 75_536
        r = c.post("/api/jobs", files={"file": ("clip.mkv", clip)})
        assert one_line_error(r, 413) == "file is over the limit of 10,000 bytes (0.01 MB, --max-video-mb)"
        r = c.post("/api/health", content=bytes(70_000))
        one_line_error(r, 413, "request body of 70,000 bytes", "65,536 bytes: this endpoint takes no upload")


def test_a_routes_slash_form_is_redirected_to_it_whatever_the_uploads_size(hint_col, tmp_path):
    """POST /api/colorize/ with a 0.1 MB photo was 413 "over the limit of 64 KB" (the limit of paths with no
    upload), where a small one was redirected (307) to /api/colorize (a new user's test). The slash form now
    has its route's limit, so the redirect, which a client follows with the body again, comes at any size."""
    photo = encode(np.random.default_rng(0).integers(0, 255, (320, 320), dtype=np.uint8), "PNG")
    clip = write_video(tmp_path / "clip.mkv", w=160, h=120, frames=12, codec="rawvideo", audio=None).read_bytes()
    assert len(photo) > 64 * 1024 and len(clip) > 64 * 1024
    with client(hint_col) as c:
        for path, data in (("/api/colorize", photo), ("/api/jobs", clip)):
            r = c.post(path + "/", files={"file": ("f", data)}, follow_redirects=False)
            assert r.status_code == 307 and r.headers["location"] == BASE + path, (path, r.status_code, r.text)
        assert post(c, photo).status_code == 200
        r = c.post("/api/colorize/", files={"file": ("f", photo)})  # followed, as curl -L follows it
        assert r.status_code == 200 and r.content[:8] == b"\x89PNG\r\n\x1a\n", (r.status_code, r.text)
        assert c.post("/api/jobs/", files={"file": ("f", clip)}).status_code == 202
    with client(hint_col, max_image_mb=0.01) as c:  # and over the route's own limit, it is the route's refusal
        one_line_error(c.post("/api/colorize/", files={"file": ("f", photo)}), 413, "0.01 MB (--max-image-mb) for the file")


def multipart_body(data: bytes) -> tuple[bytes, str]:
    boundary = "vidcolortestboundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"p.png\"\r\n"
            f"Content-Type: image/png\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return body, boundary


def test_image_over_the_pixel_limit_is_refused_from_its_header(hint_col):
    data = encode(np.zeros((1000, 1200), np.uint8), "PNG")  # tiny file, 1.2 Mpx
    with client(hint_col, max_megapixels=1.0) as c:
        one_line_error(post(c, data), 413, "1200x1000", "--max-megapixels")
        one_line_error(post(c, data), 413, "; send a copy scaled down to fit")


def test_a_decompression_bomb_is_refused_with_its_pixel_count_and_the_limit(hint_col):
    """A PNG whose header declares 100,000 x 100,000 pixels (74 bytes) was refused as "image has too many pixels",
    with neither the count nor the limit, nor what to do (a web tester's find)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    bomb = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 100_000, 100_000, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\0" * 100)) + chunk(b"IEND", b""))
    with client(hint_col, max_megapixels=0.5) as c:
        assert one_line_error(post(c, bomb), 413) == (
            f"upload {hashlib.sha256(bomb).hexdigest()[:12]}: image has 10,000,000,000 pixels, over the limit of 0.5 Mpx "
            "(500,000 pixels; --max-megapixels); send a copy scaled down to fit")


@pytest.mark.parametrize("hints,words", [
    ("{not json", ["bad JSON", "line 1"]),
    ({"points": [{"x": 1, "y": 2, "colour": "#ff0000"}]}, ["points[0]", "unknown key 'colour'"]),
    ({"points": [{"x": 1, "y": 2, "color": "red"}]}, ["points[0]", "bad colour"]),
    ({"points": [{"x": 500, "y": 2, "color": "#ff0000"}]}, ["points[0]", "outside the 64x48 image"]),
    ({"dots": []}, ["unknown key 'dots'"]),
])
def test_bad_hints_are_422_naming_the_entry(hint_col, hints, words):
    with client(hint_col) as c:
        one_line_error(post(c, encode(gray_image(48, 64), "PNG"), hints=hints), 422, "hints", *words)


def test_a_model_without_hint_inputs_takes_points_and_refuses_a_palette_not_ignoring_it(colorizer):
    with client(colorizer) as c:
        assert post(c, encode(gray_image(), "PNG"), hints={"points": [{"x": 1, "y": 1, "color": "#ff0000"}]}).status_code == 200
        one_line_error(post(c, encode(gray_image(), "PNG"), hints={"palette": ["#ff0000"]}), 400, "no hint inputs")
        assert post(c, encode(gray_image(), "PNG"), hints={"points": []}).status_code == 200  # no hints: fine


def test_a_strength_the_cli_takes_the_api_takes_too(hint_col, tmp_path):
    """--strength takes 0 to 3; the API refused 2.5 (422, "between 0 and 2"), so a batch setting could not be
    tried on the page or through the API (a new user's test). It gives what the library gives at 2.5."""
    data = encode(gray_image(), "PNG")
    with client(hint_col) as c:
        r = post(c, data, strength="2.5")
    assert r.status_code == 200, r.text
    want = library_colorize(hint_col.with_strength(2.5), data, ".png", tmp_path)
    assert np.array_equal(read_image_bytes(r.content, ".png", tmp_path), want)


@pytest.mark.parametrize("field,value,words", [("strength", "3.0000001", ["strength must be between 0 and 3 (as --strength), got 3.0000001"]),
                                               ("strength", "strong", ["strength"]),
                                               ("format", "gif", ["unknown format"])])
def test_bad_fields_are_422(hint_col, field, value, words):
    with client(hint_col) as c:
        one_line_error(post(c, encode(gray_image(), "PNG"), **{field: value}), 422, *words)


def test_another_sites_host_name_is_refused(hint_col):
    with client(hint_col) as c:
        one_line_error(c.get("/api/health", headers={"host": "attacker.example"}), 400, "'attacker.example' is not a loopback name")
        one_line_error(c.get("/api/health", headers={"host": "attacker.example:8000"}), 400, "'attacker.example'")
        for ok in ("127.0.0.1:8000", "localhost", "[::1]:8000", "LOCALHOST:1"):
            assert c.get("/api/health", headers={"host": ok}).status_code == 200, ok


def test_unknown_form_fields_are_refused_not_ignored(hint_col, private_tmp):
    """A new user's `strenght=2` gave the default strength, and hints sent with a clip were dropped."""
    with client(hint_col) as c:
        one_line_error(post(c, encode(gray_image(), "PNG"), strenght="2"), 422, "unknown field strenght",
                       "/api/colorize takes file, hints, strength, format")
        r = c.post("/api/jobs", files={"file": ("a.mp4", b"x" * 100)}, data={"hints": "{}"})
        one_line_error(r, 422, "unknown field hints", "/api/jobs takes file, strength")
        assert post(c, encode(gray_image(), "PNG"), strength="1.5").status_code == 200
        # two files (the first had been dropped) and an empty field (taken as the default): refused (helper test)
        png = encode(gray_image(), "PNG")
        r = c.post("/api/colorize", files=[("file", ("a.png", png)), ("file", ("b.png", png))])
        one_line_error(r, 422, "field file given more than once")
        one_line_error(post(c, png, strength=""), 422, "field strength empty; leave it out for the default")


def test_a_photo_posted_as_a_job_is_not_a_video(hint_col, private_tmp):
    """A new user's photo sent to /api/jobs was refused with 'cannot tell the clip's duration'."""
    with client(hint_col) as c:
        for fmt in ("PNG", "JPEG"):
            r = c.post("/api/jobs", files={"file": ("photo.bin", encode(gray_image(), fmt))})
            one_line_error(r, 415, "not a video (a still image: photos go to /api/colorize)")


HEIC_HEAD = b"\0\0\0\x18ftypheic" + b"0" * 100  # an iPhone photo's first box (its pictures do not matter here)


@pytest.mark.parametrize("fmt", ["AVIF", "GIF", "JPEG2000", "PPM", "HEIC"])
def test_a_still_image_in_a_format_not_read_is_refused_by_both_endpoints_naming_it(hint_col, private_tmp, fmt):
    """A still AVIF and a one-frame GIF sent to /api/jobs became one-frame clips (202); a JPEG 2000 or PPM
    was sent to /api/colorize, which refused its format; a HEIC photo was "a video: videos go to /api/jobs"
    there and a "corrupt or truncated video" at /api/jobs (a new user's test). Both now name the format."""
    if fmt == "AVIF" and not features.check("avif"):
        pytest.skip("this Pillow writes no AVIF")
    data = HEIC_HEAD if fmt == "HEIC" else encode(gray_image(), fmt)
    with client(hint_col) as c:
        one_line_error(c.post("/api/jobs", files={"file": ("clip.mp4", data)}), 415,
                       f"not a video (a still image in a format vidcolor does not read: {fmt})")
        detail = one_line_error(post(c, data), 415, f"{fmt} images are not supported")
    assert "/api/jobs" not in detail
    assert list(private_tmp.glob("*jobs-*/job-*")) == []


def test_an_animation_goes_as_a_clip_where_ffmpeg_reads_its_frames_and_is_refused_where_it_reads_one(hint_col):
    """An animated GIF is a clip (FFmpeg reads its frames); an animated WebP, of which FFmpeg reads one
    picture, is refused by both endpoints without sending it from one to the other."""
    with client(hint_col) as c:
        r = c.post("/api/jobs", files={"file": ("a.gif", animated("GIF"))})
        assert r.status_code == 202 and r.json()["frames_total"] == 2, r.text
        detail = one_line_error(c.post("/api/jobs", files={"file": ("a.webp", animated("WEBP"))}), 415,
                                "not a video (a WEBP of 2 frames/pages, which vidcolor reads neither as a clip nor as a photo)")
        assert "/api/colorize" not in detail
        one_line_error(post(c, animated("WEBP")), 415, "has 2 frames/pages")


def test_an_animated_png_is_a_clip_as_the_cli_reads_it(hint_col, tmp_path, private_tmp):
    """FFmpeg finds no duration and no frame count in an animated PNG's header: /api/jobs refused it (415 "cannot
    tell the clip's duration"), although the docs call it a clip and `vidcolor anim.apng -o out.mkv` colorizes it
    (a web-studio tester's find). Its frames are counted from its header, and the job gives the CLI's video."""
    from vidcolor.pipeline import colorize_video

    frames = [Image.fromarray(np.roll(gray_image(40, 56), 3 * i, axis=1)) for i in range(6)]
    buf = io.BytesIO()
    frames[0].save(buf, "PNG", save_all=True, append_images=frames[1:], duration=100, loop=0)
    with client(hint_col) as c:
        r = c.post("/api/jobs", files={"file": ("anim.png", buf.getvalue())})
        assert r.status_code == 202 and r.json()["frames_total"] == 6, r.text
        job = wait_for(c, r.json()["id"])
        assert job["state"] == "done" and job["frames_done"] == 6, job
        answer = c.get(f"/api/jobs/{job['id']}/result")
        assert answer.headers["content-type"] == "video/x-matroska"
        mine = tmp_path / "mine.mkv"
        mine.write_bytes(answer.content)
    (tmp_path / "anim.apng").write_bytes(buf.getvalue())
    colorize_video(tmp_path / "anim.apng", tmp_path / "cli.mkv", hint_col)
    np.testing.assert_array_equal(read_frames(mine), read_frames(tmp_path / "cli.mkv"))
    with client(hint_col, max_video_seconds=0.3) as c:  # its length counts against the limit, as a video's does
        one_line_error(c.post("/api/jobs", files={"file": ("anim.png", buf.getvalue())}), 413, "clip is 0.6 s long")


def test_a_phone_jpeg_with_a_second_picture_is_a_jpeg_as_the_cli_reads_it(hint_col, tmp_path, private_tmp):
    """A phone camera's JPEG with a second picture after the first (a depth map or a preview: Multi-Picture
    Format, "MPO" to Pillow) was refused, "MPO images are not supported (JPEG, PNG, TIFF, WebP, BMP)", and sent
    to /api/jobs was "an MPO of 2 frames/pages"; `vidcolor PHOTO -o OUT` colorizes its first picture (a
    web-studio tester's find)."""
    from vidcolor.folder import colorize_image

    first = Image.fromarray(gray_image(48, 64)).convert("RGB")
    src = tmp_path / "phone.jpg"
    first.save(src, "MPO", save_all=True, append_images=[first.resize((32, 24))])
    assert Image.open(src).format == "MPO"
    with client(hint_col) as c:
        r = post(c, src.read_bytes(), name="IMG_0001.JPG")
        assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg", r.text
        assert r.headers["content-disposition"].endswith('.jpg"')
        one_line_error(c.post("/api/jobs", files={"file": ("IMG_0001.JPG", src.read_bytes())}), 415,
                       "not a video (a still image: photos go to /api/colorize)")
    colorize_image(src, tmp_path / "cli.jpg", hint_col)
    assert r.content == (tmp_path / "cli.jpg").read_bytes()


def test_token_is_required_when_set_and_the_page_itself_is_open(hint_col):
    with client(hint_col, token="s3cret") as c:
        one_line_error(c.get("/api/health"), 401, "bearer token")
        one_line_error(c.get("/api/health", headers={"Authorization": "Bearer wrong"}), 401)
        one_line_error(post(c, encode(gray_image(), "PNG")), 401)
        assert c.get("/api/health", headers={"Authorization": "Bearer s3cret"}).status_code == 200
        assert c.get("/").status_code == 200  # holds no data; it asks for the token


# -- the queue ---------------------------------------------------------------------------------------

def test_full_queue_answers_429_and_the_waiting_requests_still_finish(hint_col):
    gate = threading.Event()
    data = encode(gray_image(), "PNG")
    with client(hint_col, queue_size=2) as c:
        worker = c.app.state.worker
        blocker = worker.submit_photo(gate.wait)  # holds the model thread
        wait_until(lambda: worker.waiting()["photos"] == 0)
        answers = {}
        threads = [threading.Thread(target=lambda i=i: answers.__setitem__(i, post(c, data))) for i in range(2)]
        for t in threads:
            t.start()
        wait_until(lambda: worker.waiting()["photos"] == 2)
        r = post(c, data)
        one_line_error(r, 429, "busy")
        assert r.headers["retry-after"] == "1"
        gate.set()
        for t in threads:
            t.join(60)
        assert blocker.result(10) is True
    assert [answers[i].status_code for i in range(2)] == [200, 200]


def file_sha(path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def wait_until(cond, timeout=30.0):
    deadline = time.time() + timeout
    while not cond():
        assert time.time() < deadline, "timed out"
        time.sleep(0.01)


def test_worker_serves_waiting_photos_between_a_jobs_batches():
    w = ModelWorker(photo_slots=2, job_slots=1)
    order = []
    photo_queued = threading.Event()

    def job():
        order.append("job starts")
        photo_queued.wait(10)
        w.serve_waiting_photos()  # what a job's progress callback does after each batch
        order.append("job ends")

    j = w.submit_job(job)
    wait_until(lambda: order == ["job starts"])
    p = w.submit_photo(lambda: order.append("photo"))
    photo_queued.set()
    j.result(10), p.result(10)
    assert order == ["job starts", "photo", "job ends"]
    w.submit_photo(lambda: None).result(10)
    w.submit_job(threading.Event().wait)  # runs and blocks
    wait_until(lambda: w.waiting()["jobs"] == 0)
    w.submit_job(lambda: None)
    with pytest.raises(Busy):
        w.submit_job(lambda: None)


def test_stopping_the_worker_with_a_cancelled_task_in_its_queue_resolves_the_rest():
    """A job cancelled while it waited stayed in the queue until the worker next looked, and stop() then
    set an exception on its future: InvalidStateError, the queued tasks after it never resolved, and
    the server's shutdown skipped removing its job folders (a review)."""
    w = ModelWorker(photo_slots=2, job_slots=3)
    gate = threading.Event()
    running = w.submit_job(gate.wait)
    wait_until(lambda: w.waiting()["jobs"] == 0)
    cancelled, queued = w.submit_job(lambda: None), w.submit_job(lambda: None)
    assert cancelled.cancel()
    stopper = threading.Thread(target=w.stop)
    stopper.start()
    gate.set()
    stopper.join(30)
    assert not stopper.is_alive() and running.result(10) is True
    with pytest.raises(Stopped):
        queued.result(10)


# -- video jobs --------------------------------------------------------------------------------------

def wait_for(c, job_id, cond=lambda job: job["state"] not in ("queued", "running"), timeout=120.0) -> dict:
    """Poll GET /api/jobs/ID until `cond` holds of the job (by default: it has ended); the job then."""
    deadline = time.time() + timeout
    while not cond(job := c.get(f"/api/jobs/{job_id}").json()):
        assert time.time() < deadline, job
        time.sleep(0.01)
    return job


def test_head_is_answered_as_get_is(hint_col, tmp_path, private_tmp):
    """Every HEAD was 405: `curl -I` on a result, a download manager's size check, an uptime monitor's
    HEAD / (a new user's test). It now has GET's status and headers."""
    clip = write_video(tmp_path / "clip.mp4", w=64, h=48, frames=6, audio=None)
    with client(hint_col) as c:
        job = c.post("/api/jobs", files={"file": ("clip.mp4", clip.read_bytes())}).json()
        assert wait_for(c, job["id"])["state"] == "done"
        for path in ("/", "/api/health", f"/api/jobs/{job['id']}", f"/api/jobs/{job['id']}/result"):
            head, get = c.head(path), c.get(path)
            assert head.status_code == get.status_code == 200, (path, head.status_code, head.text)
            assert head.headers["content-type"] == get.headers["content-type"], path
        result = c.head(f"/api/jobs/{job['id']}/result")
        assert result.content == b"" and int(result.headers["content-length"]) == len(c.get(f"/api/jobs/{job['id']}/result").content)
        assert result.headers["content-disposition"].startswith("attachment; filename=")
        assert c.head("/api/jobs/0123456789abcdef").status_code == 404


def test_a_jobs_progress_past_its_headers_frame_count_is_not_known_rather_than_full():
    """A clip whose header counts fewer frames than it holds (a variable-rate MKV: 70 frames, estimated 30) showed
    "colorizing: 36 of 30 frames" with the page's bar full while it went on: past the estimate, null."""
    from pathlib import Path

    from vidcolor.serve.jobs import Job

    job = Job("j", "0" * 64, 1.0, Path("f"), Path("f/a.mkv"), Path("f/b.mkv"), frames=30, state="running")
    shown = []
    for done in (24, 30, 36):
        job.done = done
        shown.append((job.public()["frames_done"], job.public()["frames_total"], job.public()["progress"]))
    job.done, job.state = 70, "done"
    shown.append((job.public()["frames_done"], job.public()["frames_total"], job.public()["progress"]))
    assert shown == [(24, 30, 0.8), (30, 30, 1.0), (36, None, None), (70, 70, 1.0)]


def test_video_job_reports_progress_and_gives_the_colorized_clip(hint_col, tmp_path, private_tmp):
    clip = write_video(tmp_path / "clip.mp4", w=64, h=48, frames=10, audio="aac")
    with client(hint_col) as c:
        r = c.post("/api/jobs", files={"file": ("whatever.bin", clip.read_bytes())})
        assert r.status_code == 202, r.text
        job = r.json()
        assert job["state"] in ("queued", "running", "done") and job["frames_total"] == 10
        again = c.post("/api/jobs", files={"file": ("other-name.mp4", clip.read_bytes())}).json()
        assert again["id"] != job["id"]  # an id for each upload, for its own DELETE
        assert len(list(private_tmp.glob("*jobs-*/job-*"))) == 1  # but the same content is one job, colorized once
        job = wait_for(c, job["id"])
        assert job["state"] == "done" and job["progress"] == 1.0 and job["frames_done"] == 10, job
        assert c.get(f"/api/jobs/{again['id']}").json()["state"] == "done"
        res = c.get(f"/api/jobs/{job['id']}/result")
        assert res.status_code == 200 and res.headers["content-type"] == "video/mp4"
        out = tmp_path / "out.mp4"
        out.write_bytes(res.content)
        p = probe(out)
        assert p["frames"] == 10 and (p["width"], p["height"]) == (64, 48) and ("audio", "aac") in p["others"]
        assert list(private_tmp.iterdir())  # the finished job is kept for download until the server stops
    assert list(private_tmp.iterdir()) == []


def test_a_done_job_keeps_its_result_but_not_the_upload_it_was_made_from(hint_col, tmp_path, private_tmp):
    """The upload stayed in a done job's folder beside its result for as long as the result was kept (the last 8
    done jobs: up to 8 clips of --max-video-mb the disk held for nothing; an IT admin's test). The same clip sent
    again is still the same job."""
    clip = write_video(tmp_path / "clip.mp4", w=64, h=48, frames=6)
    with client(hint_col) as c:
        job = wait_for(c, c.post("/api/jobs", files={"file": ("a.mp4", clip.read_bytes())}).json()["id"])
        assert job["state"] == "done", job
        files = [p for p in private_tmp.glob("*jobs-*/job-*/*") if p.is_file()]
        assert [p.name for p in files] == [f"{file_sha(clip)}.colorized.mp4"], files
        again = c.post("/api/jobs", files={"file": ("b.mp4", clip.read_bytes())}).json()
        assert again["state"] == "done" and c.get(f"/api/jobs/{again['id']}/result").status_code == 200


def test_video_jobs_are_cancelled_queued_or_running_and_a_result_is_removed(hint_col, tmp_path, private_tmp):
    """DELETE /api/jobs/ID: a clip sent by mistake no longer holds the one model thread until it is done
    (there was no way to stop a job), and a finished result can be removed at once."""
    long_clip = write_video(tmp_path / "long.mp4", w=64, h=48, frames=900, audio=None)
    short = write_video(tmp_path / "short.mp4", w=64, h=48, frames=6, audio=None)
    other = write_video(tmp_path / "other.mp4", w=48, h=32, frames=6, audio=None)

    def folders() -> list:
        return [p for root in private_tmp.glob("*jobs-*") for p in root.glob("job-*")]

    with client(hint_col) as c:
        running = c.post("/api/jobs", files={"file": ("long.mp4", long_clip.read_bytes())}).json()
        queued = c.post("/api/jobs", files={"file": ("short.mp4", short.read_bytes())}).json()
        wait_for(c, running["id"], lambda j: j["frames_done"] > 0)
        assert c.get(f"/api/jobs/{queued['id']}").json()["state"] == "queued" and len(folders()) == 2
        r = c.delete(f"/api/jobs/{queued['id']}")  # waiting: it never runs
        assert r.status_code == 200 and r.json()["state"] == "cancelled" and r.json()["frames_done"] == 0, r.text
        assert len(folders()) == 1
        twin = c.post("/api/jobs", files={"file": ("copy.mp4", long_clip.read_bytes())}).json()  # the same clip, sent again
        r = c.delete(f"/api/jobs/{twin['id']}")  # one sender's cancel does not stop the other's job
        assert r.json()["state"] == "cancelled" and c.get(f"/api/jobs/{running['id']}").json()["state"] == "running"
        r = c.delete(f"/api/jobs/{running['id']}")  # the last one wanting it: it stops at its next batch
        assert r.status_code == 200 and r.json()["state"] == "cancelled", r.text
        assert 0 < r.json()["frames_done"] < 900 and folders() == []
        one_line_error(c.get(f"/api/jobs/{running['id']}/result"), 409, "is cancelled")
        assert c.delete(f"/api/jobs/{running['id']}").json()["state"] == "cancelled"  # again: nothing changes
        # the model thread is free for the next job; the same clip sent again is a new job, not the cancelled one
        again = c.post("/api/jobs", files={"file": ("short.mp4", short.read_bytes())}).json()
        assert again["id"] != queued["id"]
        assert wait_for(c, again["id"], lambda j: j["state"] not in ("queued", "running"))["state"] == "done"
        done = c.post("/api/jobs", files={"file": ("other.mp4", other.read_bytes())}).json()
        wait_for(c, done["id"], lambda j: j["state"] == "done")
        assert len(folders()) == 2
        twin = c.post("/api/jobs", files={"file": ("o.mp4", other.read_bytes())}).json()  # a second sender of that clip
        assert twin["state"] == "done" and len(folders()) == 2
        assert c.delete(f"/api/jobs/{twin['id']}").json()["state"] == "removed"
        assert c.get(f"/api/jobs/{done['id']}/result").status_code == 200  # still held by the first sender
        r = c.delete(f"/api/jobs/{done['id']}")  # finished, and no one else holds it: its result is removed
        assert r.status_code == 200 and r.json()["state"] == "removed" and len(folders()) == 1
        one_line_error(c.get(f"/api/jobs/{done['id']}"), 404, "removed by a DELETE request")
        one_line_error(c.get(f"/api/jobs/{done['id']}/result"), 404)
        one_line_error(c.delete("/api/jobs/0123456789abcdef"), 404, "no job")
        # a page on another site cannot cancel what this server's page started
        one_line_error(c.delete(f"/api/jobs/{again['id']}", headers={"Origin": "https://evil.example"}), 403, "cross-origin")
        assert c.get(f"/api/jobs/{again['id']}").json()["state"] == "done"
    assert list(private_tmp.iterdir()) == []


def test_a_clip_cut_short_says_so_in_its_job(hint_col, tmp_path, private_tmp):
    """A truncated clip's job ended "done" with 130 of 270 frames and no word, where the CLI says "the
    source ends early" (a new user's test, Megamind.avi cut with head -c)."""
    clip = write_video(tmp_path / "clip.avi", w=64, h=48, frames=120, codec="mpeg4", audio=None)
    short = tmp_path / "short.avi"
    short.write_bytes(clip.read_bytes()[: clip.stat().st_size * 6 // 10])  # its header still says 120 frames
    with client(hint_col) as c:
        r = c.post("/api/jobs", files={"file": ("short.avi", short.read_bytes())})
        assert r.status_code == 202, r.text
        job = r.json()
        job = wait_for(c, job["id"])
        assert job["state"] == "done" and 0 < job["frames_done"] < 120, job
        assert any("ends early" in n for n in job["notes"]), job
        assert not any(str(private_tmp) in n for n in job["notes"])  # named as the upload, not by the server's folder


def test_a_range_the_result_cannot_serve_is_refused_in_json_as_every_refusal_is(hint_col, tmp_path, private_tmp):
    """A Range past the end of a result got an empty text/plain 416, and a malformed one a plain-text 400 (a
    deployer's test): both are one line of JSON now, the 416 still with Content-Range: bytes */SIZE (RFC 9110)."""
    clip = write_video(tmp_path / "clip.mp4", w=64, h=48, frames=6, audio=None)
    with client(hint_col) as c:
        job = wait_for(c, c.post("/api/jobs", files={"file": ("clip.mp4", clip.read_bytes())}).json()["id"])
        url = f"/api/jobs/{job['id']}/result"
        size = len(c.get(url).content)
        r = c.get(url, headers={"Range": f"bytes={size}-"})
        one_line_error(r, 416, "past the end of the result", f"({size:,} bytes)")
        assert r.headers["content-range"] == f"bytes */{size}" and r.headers["content-type"] == "application/json"
        one_line_error(c.get(url, headers={"Range": "bytes=abc"}), 400, "bad Range header 'bytes=abc'")
        assert c.head(url, headers={"Range": f"bytes={size + 5}-"}).status_code == 416
        # what it can serve it serves as before: a part, and the whole file where If-Range no longer matches
        part = c.get(url, headers={"Range": "bytes=0-9"})
        assert part.status_code == 206 and part.headers["content-range"] == f"bytes 0-9/{size}" and len(part.content) == 10
        stale = c.get(url, headers={"Range": f"bytes={size}-", "If-Range": '"not-its-etag"'})
        assert stale.status_code == 200 and len(stale.content) == size


def test_video_job_refusals(hint_col, tmp_path):
    clip = write_video(tmp_path / "clip.mp4", w=64, h=48, frames=30, audio=None)
    with client(hint_col, max_video_seconds=0.5) as c:
        one_line_error(c.post("/api/jobs", files={"file": ("a.mp4", b"not a video at all" * 100)}), 415, "not a readable video")
        one_line_error(c.post("/api/jobs", files={"file": ("a.mp4", b"")}), 400, "empty file (0 bytes)")  # as /api/colorize
        # a video cut short is a bad upload (400), as a truncated photo is, not a format we do not take
        # (it was 415 "not a readable video", where the README says 400: second new-user test)
        cut = clip.read_bytes()[: clip.stat().st_size // 2]
        one_line_error(c.post("/api/jobs", files={"file": ("a.mp4", cut)}), 400, "corrupt or truncated video", "upload ")
        one_line_error(c.post("/api/jobs", files={"file": ("a.mp4", clip.read_bytes())}), 413, "1.2 s", "--max-video-seconds")
        one_line_error(c.get("/api/jobs/0123456789abcdef"), 404, "no job")
        one_line_error(c.get("/api/jobs/0123456789abcdef/result"), 404)


def test_a_clip_longer_than_its_header_says_is_stopped_at_the_length_limit(hint_col, tmp_path, private_tmp):
    """--max-video-seconds was checked against the header alone: an MKV whose Duration said 1 s ran all its
    20 s through a 5 s limit (a review). The job now stops once it passes the limit."""
    import struct

    clip = write_video(tmp_path / "clip.mkv", w=64, h=48, frames=60, rate=12, audio=None)  # 5 s
    data = bytearray(clip.read_bytes())
    at = data.find(b"\x44\x89")  # the Segment's Duration element
    size = data[at + 2] & 0x7F
    data[at + 3:at + 3 + size] = struct.pack(">d" if size == 8 else ">f", 500.0)  # 0.5 s, in ms
    # and the track's DURATION tag, which the length is read from first since 0f136cd (a lie in the Segment's
    # Duration alone is refused at the upload now, by the tag's true 5 s)
    tag = data.find(b"00:00:05.000000000")
    assert tag > 0
    with client(hint_col, max_video_seconds=2) as c:
        r = c.post("/api/jobs", files={"file": ("lying.mkv", bytes(data))})
        assert r.status_code == 413 and "clip is 5.0 s long" in r.text, r.text
    data[tag:tag + 18] = b"00:00:00.500000000"
    with client(hint_col, max_video_seconds=2) as c:
        r = c.post("/api/jobs", files={"file": ("lying.mkv", bytes(data))})
        assert r.status_code == 202, r.text  # its header says 0.5 s
        job = r.json()
        job = wait_for(c, job["id"])
        assert job["state"] == "failed" and job["frames_done"] < 60, job
        assert "runs on past 2 s" in job["error"] and "--max-video-seconds" in job["error"], job
        assert list(private_tmp.rglob("*.mkv")) == []  # a failed job's files are removed


def lying_mkv(clip, seconds_said: float) -> bytes:
    """The MKV `clip` with its Segment Duration and its track's DURATION tag both saying `seconds_said` (under 10 s)."""
    import struct

    data = bytearray(clip.read_bytes())
    at = data.find(b"\x44\x89")  # the Segment's Duration element, in ms
    size = data[at + 2] & 0x7F
    data[at + 3:at + 3 + size] = struct.pack(">d" if size == 8 else ">f", seconds_said * 1000)
    tag = data.find(b"00:00:0")
    data[tag:tag + 18] = f"00:00:{seconds_said:012.9f}".encode()
    return bytes(data)


def test_a_clips_frames_are_capped_from_its_header_and_as_it_runs(hint_col, tmp_path, private_tmp):
    """No limit held a clip's frames: 120 s at a high rate (or a header's lie) held the one model thread for as long
    as it ran. --max-video-frames is checked from the header before any decoding (413) and counted as the job runs."""
    clip = write_video(tmp_path / "clip.mkv", w=64, h=48, frames=60, rate=12, audio=None)  # 5 s
    mp4 = write_video(tmp_path / "clip.mp4", w=64, h=48, frames=30, rate=12, audio=None)  # its header counts them
    with client(hint_col, max_video_frames=20) as c:
        one_line_error(c.post("/api/jobs", files={"file": ("a.mp4", mp4.read_bytes())}), 413,
                       "clip has 30 frames, over the limit of 20 (--max-video-frames)")
        one_line_error(c.post("/api/jobs", files={"file": ("a.mkv", clip.read_bytes())}), 413,  # 5 s x 12 fps
                       "clip has 60 frames, over the limit of 20 (--max-video-frames)")
        assert c.get("/api/health").json()["limits"]["max_video_frames"] == 20
        r = c.post("/api/jobs", files={"file": ("lying.mkv", lying_mkv(clip, 1.0))})  # says 12 frames, holds 60
        assert r.status_code == 202, r.text
        job = wait_for(c, r.json()["id"])
        assert job["state"] == "failed" and 20 < job["frames_done"] < 60, job
        assert "runs on past 20 frames" in job["error"] and "--max-video-frames" in job["error"], job
        assert list(private_tmp.rglob("*.mkv")) == []
    assert ServeConfig().max_video_frames == 7200  # 120 s at 60 fps: at 30 fps the 120 s come first
    for bad in (0, 10 ** 7):
        with pytest.raises(ValueError, match="max_video_frames"):
            ServeConfig(max_video_frames=bad)


# -- the command ---------------------------------------------------------------------------------------

def test_serve_command_binds_loopback_quietly_and_warns_for_another_host(weights_file, monkeypatch):
    import vidcolor.serve as serve

    calls = []
    monkeypatch.setattr(serve, "run", lambda col, config: calls.append(config))
    monkeypatch.setattr(serve, "listen_error", lambda host, port: None)  # whatever this machine has on its ports
    r = CliRunner().invoke(cli.app, ["serve", "--weights", str(weights_file), "--port", "8123", "--max-image-mb", "5",
                                     "--max-video-frames", "900"])
    assert r.exit_code == 0, r.output
    assert calls[-1].host == "127.0.0.1" and calls[-1].port == 8123 and calls[-1].max_image_mb == 5 and calls[-1].max_video_frames == 900
    assert "warning" not in r.output and "http://127.0.0.1:8123/" in r.output
    r = CliRunner().invoke(cli.app, ["serve", "--weights", str(weights_file), "--host", "0.0.0.0"])
    assert r.exit_code == 0, r.output
    assert "warning: --host 0.0.0.0 opens the page" in r.output and "pass --token" in r.output
    r = CliRunner().invoke(cli.app, ["serve", "--weights", str(weights_file), "--host", "0.0.0.0", "--token", "t0k"])
    assert calls[-1].token == "t0k" and "pass --token" not in r.output and "#token=t0k" in r.output
    # on every address, colleagues need the machine's name: only the 127.0.0.1 link was printed (a new user's test)
    import socket

    assert f"http://{socket.gethostname()}:8000/#token=t0k (other machines)" in r.output
    assert "http://127.0.0.1:8000/#token=t0k (this machine)" in r.output
    r = CliRunner().invoke(cli.app, ["serve", "--weights", str(weights_file), "--host", "::1"])
    assert "vidcolor serve: http://[::1]:8000/\n" in r.output and "other machines" not in r.output  # was http://::1:8000/
    # the page's link carries the token percent-encoded (a&b c#d was cut at the &), and an empty token,
    # which made a server that refused every call, is refused (helper test)
    r = CliRunner().invoke(cli.app, ["serve", "--weights", str(weights_file), "--token", "a&b c#d%"])
    assert calls[-1].token == "a&b c#d%" and "#token=a%26b%20c%23d%25" in r.output
    n = len(calls)
    r = CliRunner().invoke(cli.app, ["serve", "--weights", str(weights_file), "--token", ""])
    assert r.exit_code == 2 and "--token is empty" in r.output and len(calls) == n
    # a token ending in a space (an env file's line) made a server that refused every call, its own page's included
    r = CliRunner().invoke(cli.app, ["serve", "--weights", str(weights_file)], env={"VIDCOLOR_TOKEN": "abc "})
    assert r.exit_code == 2 and "starts or ends with white space" in r.output and len(calls) == n


@pytest.mark.parametrize("option", ["--max-image-mb", "--max-megapixels", "--max-video-mb", "--max-video-seconds"])
@pytest.mark.parametrize("value", ["inf", "nan", "0", "1e303", "1000001"])
def test_a_limit_that_is_not_a_finite_number_is_refused_in_one_line_before_the_model_loads(monkeypatch, option, value):
    """`--max-image-mb inf` (or --max-video-mb inf) loaded the model, then crashed with a traceback (int(inf)
    bytes), and `--max-video-seconds inf` served a plain-text 500 to every clip (a web-studio tester's find).
    A finite one did the same where its bytes overflowed (`--max-image-mb 1e303`: 1e309 bytes): limits go
    up to 1e6 (1 TB, a terapixel, 11.6 days)."""
    import vidcolor.serve as serve

    monkeypatch.setattr(serve, "listen_error", lambda host, port: None)
    monkeypatch.setattr(cli, "_load", lambda *a, **k: pytest.fail("model loaded"))
    r = CliRunner().invoke(cli.app, ["serve", option, value])
    assert r.exit_code == 2, r.output
    assert f"{value} is not a number from 0.001 to 1e+06" in r.output and "Traceback" not in r.output, r.output
    with pytest.raises(ValueError, match="must be a finite number > 0 and at most 1e"):  # the library's way in
        ServeConfig(**{option.lstrip("-").replace("-", "_"): float(value)})


def test_the_largest_limits_are_taken_and_make_a_server(monkeypatch):
    big = ServeConfig(max_image_mb=1e6, max_megapixels=1e6, max_video_mb=1e6, max_video_seconds=1e6)
    assert big.max_image_bytes == big.max_video_bytes == 10**12
    create_app(None, big)  # its upload limits are worked out here: int(inf) had crashed it


@pytest.mark.parametrize("how", ["--token", "VIDCOLOR_TOKEN"])
@pytest.mark.parametrize("token,words", [("   ", "--token is empty or only white space"),
                                         ("\tabc", "starts or ends with white space"),
                                         ("p\u00e4ss", "has the character '\u00e4' (U+00E4)"),
                                         ("\u20acuro", "(U+20AC)"), ("a\x01b", "(U+0001)")])
def test_a_token_no_header_carries_is_refused_in_one_line_before_the_model_loads(monkeypatch, how, token, words):
    """A non-ASCII token made a server that answered 401 to everyone, its own #token= page included: curl
    sends it as UTF-8, the page as Latin-1 (or not at all), and neither matched (a review). A token of only
    white space was called empty."""
    import vidcolor.serve as serve

    monkeypatch.setattr(serve, "listen_error", lambda host, port: None)
    monkeypatch.setattr(cli, "_load", lambda *a, **k: pytest.fail("model loaded"))
    args, env = (["serve", "--token", token], {}) if how == "--token" else (["serve"], {"VIDCOLOR_TOKEN": token})
    r = CliRunner().invoke(cli.app, args, env=env)
    assert r.exit_code == 2, r.output
    assert words in r.output and len(r.output.strip().splitlines()) == 1, r.output


def test_a_port_in_use_is_one_line_before_the_model_loads(monkeypatch):
    """A new user's second `vidcolor serve` loaded the model, then printed uvicorn's traceback and exited 3."""
    import socket

    monkeypatch.setattr(cli, "_load", lambda *a, **k: pytest.fail("model loaded"))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        r = CliRunner().invoke(cli.app, ["serve", "--port", str(port)])
    assert r.exit_code == 2 and f"127.0.0.1:{port}: cannot listen there (Address already in use)" in r.output
    assert len(r.output.strip().splitlines()) == 1


def test_serve_command_without_the_web_extra_says_how_to_get_it(monkeypatch):
    import vidcolor.serve as serve

    monkeypatch.setattr(serve, "missing_web_modules", lambda: ["fastapi", "uvicorn"])
    r = CliRunner().invoke(cli.app, ["serve"])
    assert r.exit_code == 2 and "pip install 'vidcolor[web]'" in r.output


def test_a_missing_web_package_is_named_as_pip_names_it(monkeypatch):
    """Without python-multipart, `vidcolor serve` said "needs python_multipart" (its module's name), which pip
    does not know (a web tester's find)."""
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "python_multipart" else find_spec(name, *a))
    r = CliRunner().invoke(cli.app, ["serve"])
    assert r.exit_code == 2, r.output
    assert "vidcolor serve needs python-multipart: pip install 'vidcolor[web]'" in r.output and "python_multipart" not in r.output




# -- the server's own storage ------------------------------------------------------------------------------

def no_space(*args, **kwargs):
    import errno

    raise OSError(errno.ENOSPC, "No space left on device")


def test_an_upload_the_server_has_no_room_to_spool_is_507_not_the_clients_fault(hint_col, monkeypatch, private_tmp):
    """With the temporary folder full, the form parser's failed write was answered 400 "There was an error
    parsing the body", blaming the client (a new user's test, under `ulimit -f`)."""
    from starlette.datastructures import UploadFile

    monkeypatch.setattr(UploadFile, "write", no_space)
    with client(hint_col) as c:
        one_line_error(post(c, encode(gray_image(), "PNG")), 507, "upload: the server has no room to store it (No space left on device)")


def test_a_photo_the_server_has_no_room_to_colorize_is_507_naming_the_upload(hint_col, monkeypatch, private_tmp):
    """A photo whose colorized copy could not be written was a 500 naming the server's temporary file."""
    import errno

    import vidcolor.serve.tasks as tasks
    from vidcolor.errors import OutputError

    monkeypatch.setattr(tasks, "write_image", no_space)
    with client(hint_col) as c:
        detail = one_line_error(post(c, encode(gray_image(), "PNG")), 507, "the server has no room to store it")
    assert detail.startswith("upload ") and str(private_tmp) not in detail and "/tmp" not in detail

    def too_large(path, *args):  # as write_image raises a file-size limit's EFBIG, which is no StorageError to the CLI
        raise OutputError(f"{path}: cannot write (File too large)") from OSError(errno.EFBIG, "File too large")

    monkeypatch.setattr(tasks, "write_image", too_large)
    with client(hint_col) as c:
        detail = one_line_error(post(c, encode(gray_image(), "PNG")), 507, "no room to store it (File too large)")
    assert detail.startswith("upload ") and "/tmp" not in detail
    assert not any(private_tmp.rglob("*.png"))  # the upload's temporary copy is gone


def test_a_clip_the_server_has_no_room_to_store_is_507_and_leaves_no_folder(hint_col, tmp_path, monkeypatch, private_tmp):
    """The job's folder is made before the upload is copied into it: on a full disk that mkdtemp was a 500
    and a traceback, not the 507 the copy gets (a review)."""
    import vidcolor.serve.jobs as jobs

    class FullFile(io.BytesIO):
        def write(self, data):
            no_space()

    clip = write_video(tmp_path / "clip.mp4", w=64, h=48, frames=4, audio=None).read_bytes()
    with client(hint_col) as c:  # (its jobs' root folder made before the disk fills)
        with monkeypatch.context() as m:
            m.setattr(tempfile, "mkdtemp", no_space)
            one_line_error(c.post("/api/jobs", files={"file": ("clip.mp4", clip)}), 507,
                           "upload: the server has no room to store it (No space left on device)")
        with monkeypatch.context() as m:  # the copy of the upload, into its folder
            m.setattr(jobs, "open", lambda *a, **k: FullFile(), raising=False)
            one_line_error(c.post("/api/jobs", files={"file": ("clip.mp4", clip)}), 507,
                           "upload: the server has no room to store it (No space left on device)")
        assert not list(private_tmp.glob("*/job-*"))  # the job's folder went with it
        assert wait_for(c, c.post("/api/jobs", files={"file": ("clip.mp4", clip)}).json()["id"])["state"] == "done"


def test_a_job_that_fails_names_the_upload_not_the_servers_files(hint_col, tmp_path, monkeypatch, private_tmp):
    """A clip whose colorized copy could not be joined failed with the server's temporary path in its error
    (/tmp/vidcolor-serve-jobs-.../job-.../SHA.colorized.mp4: joining the encoded segments failed: File too large)."""
    import errno

    import vidcolor.serve.jobs as jobs
    from vidcolor.errors import OutputError

    def too_large(src, dst, *args, **kwargs):  # as io/mux.py raises it
        raise OutputError(f"{dst}: joining the encoded segments failed: File too large") from OSError(errno.EFBIG, "File too large")

    def broken(src, dst, *args, **kwargs):
        raise RuntimeError(f"{dst}: the muxer broke; see {dst.parent / '.vidcolor' / 'x.work'}")

    clip = write_video(tmp_path / "clip.mp4", w=64, h=48, frames=4, audio=None)
    for fake, words in ((too_large, "the server has no room to store it"), (broken, "(its colorized copy): the muxer broke")):
        monkeypatch.setattr(jobs, "colorize_video", fake)
        with client(hint_col) as c:
            job = wait_for(c, c.post("/api/jobs", files={"file": ("clip.mp4", clip.read_bytes())}).json()["id"])
        assert job["state"] == "failed" and words in job["error"], job
        assert job["error"].startswith("upload ") and str(private_tmp) not in job["error"], job


# -- the server's log ----------------------------------------------------------------------------------

def serve_log(caplog) -> list:
    return [r for r in caplog.records if r.name == "vidcolor.serve"]


def test_a_refusal_is_logged_with_its_reason_the_file_name_as_sent_its_size_and_the_client(hint_col, caplog):
    """Each request printed only its status line ("POST /api/colorize 415"): an operator told "it refused my photo"
    could not see why (an operator's test). A file name is the client's text: a newline in it must not forge a line."""
    import logging

    # sent raw: httpx percent-encodes a newline in a file name, as browsers do (and the parser refuses a bare CR); NEL and
    # U+2028 (line breaks to many log viewers) and a terminal's escapes come through it as they are
    name = "evil\x85INFO:     127.0.0.1 - 'POST /api/colorize HTTP/1.1' 200 OK\u2028\x1b[2J.jpg"
    body = (b"--b0undary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"" + name.encode() + b"\"\r\n"
            b"Content-Type: image/jpeg\r\n\r\nnot an image at all\r\n--b0undary--\r\n")
    with caplog.at_level(logging.INFO, logger="vidcolor.serve"), client(hint_col) as c:
        one_line_error(c.post("/api/colorize", content=body, headers={"Content-Type": "multipart/form-data; boundary=b0undary"}),
                       415, "not an image")
        one_line_error(post(c, encode(gray_image(), "PNG"), strenght="2"), 422, "unknown field strenght")
    (refused, unknown) = serve_log(caplog)
    line = refused.getMessage()
    assert refused.levelname == "WARNING" and not any(c in line for c in "\x85\x1b\u2028"), line
    assert line.startswith("refused 415 POST /api/colorize from testclient:50000, file "), line
    assert '"evil\\x85INFO:     127.0.0.1' in line and "200 OK\\u2028\\x1b[2J.jpg\" (19 bytes): " in line, line
    assert line.endswith("not an image (unrecognised format)"), line
    # a refusal by a check that runs before the route names the file all the same
    assert "file 'photo.png'" in unknown.getMessage() and "unknown field strenght" in unknown.getMessage()


def test_a_refusal_before_the_body_is_read_is_logged_with_the_size_the_client_declared(hint_col, caplog):
    import logging

    big = b"x" * 2_000_000
    with caplog.at_level(logging.INFO, logger="vidcolor.serve"), client(hint_col, max_image_mb=1, token="s3cret") as c:
        one_line_error(post(c, big), 401, "bearer token")
        one_line_error(c.post("/api/colorize", files={"file": ("huge.png", big)}, headers={"Authorization": "Bearer s3cret"}),
                       413, "over the limit")
        one_line_error(c.get("/api/jobs/0123456789abcdef", headers={"Authorization": "Bearer s3cret"}), 404, "no job")
    token, size, unknown = (r.getMessage() for r in serve_log(caplog))
    assert token.startswith("refused 401 POST /api/colorize from testclient:50000, body of 2,000,") and "bytes" in token, token
    assert token.endswith(": missing or wrong bearer token (Authorization: Bearer TOKEN)"), token
    assert "s3cret" not in size and size.startswith("refused 413 POST /api/colorize from testclient:50000, body of "), size
    assert unknown == "refused 404 GET /api/jobs/0123456789abcdef from testclient:50000: no job '0123456789abcdef': " + \
        "not one of this server's: mistyped, or made before the server restarted (jobs live only as long as the server)"


def test_a_crash_while_colorizing_is_a_json_500_and_one_traceback_in_the_log(hint_col, caplog, monkeypatch):
    """An exception no handler answered was Starlette's plain-text "Internal Server Error"; its traceback is logged
    once, server side, and the client gets one line naming neither the exception's text nor the server's files."""
    import logging

    def crash(*args, **kwargs):
        raise RuntimeError("CUDA error: out of memory at /opt/secret/kernel.cu")

    monkeypatch.setattr(hint_col, "colorize_array", crash)
    with caplog.at_level(logging.INFO), client(hint_col) as c:
        r = post(c, encode(gray_image(), "PNG"), name="grandma.png")
        ok = c.get("/api/health")  # the server goes on
    detail = one_line_error(r, 500, "internal error while answering POST /api/colorize (RuntimeError)", "server's log")
    assert "secret" not in detail and "out of memory" not in detail and ok.status_code == 200
    failed = [rec for rec in caplog.records if rec.exc_info]
    assert len(failed) == 1 and failed[0].name == "vidcolor.serve" and failed[0].levelname == "ERROR", caplog.text
    assert failed[0].getMessage() == "failed POST /api/colorize from testclient:50000, file 'grandma.png' " + \
        f"({len(encode(gray_image(), 'PNG')):,} bytes): RuntimeError"
    assert "out of memory at /opt/secret/kernel.cu" in caplog.text  # the operator sees the traceback


def test_a_job_that_fails_or_is_cancelled_is_logged_naming_the_file_it_came_from(hint_col, tmp_path, monkeypatch, caplog):
    """A clip fails or is cancelled while no request is under way: its status line had been a 202 long before."""
    import logging

    import vidcolor.serve.jobs as jobs
    from vidcolor.errors import InputError

    clip = write_video(tmp_path / "clip.mp4", w=64, h=48, frames=4, audio=None)
    long_clip = write_video(tmp_path / "long.mp4", w=64, h=48, frames=600, audio=None)
    real = jobs.colorize_video

    def damaged(src, dst, *args, **kwargs):
        raise InputError(f"{src}: frame 3 (pts 0.1 s) could not be decoded")

    with caplog.at_level(logging.INFO, logger="vidcolor.serve"), client(hint_col) as c:
        monkeypatch.setattr(jobs, "colorize_video", damaged)
        failed = wait_for(c, c.post("/api/jobs", files={"file": ("Hochzeit 1962.mp4", clip.read_bytes())}).json()["id"])
        monkeypatch.setattr(jobs, "colorize_video", real)
        job = c.post("/api/jobs", files={"file": ("long.mp4", long_clip.read_bytes())}).json()
        wait_for(c, job["id"], lambda j: j["frames_done"] > 0)
        assert c.delete(f"/api/jobs/{job['id']}").json()["state"] == "cancelled"
    assert failed["state"] == "failed"
    lines = [r.getMessage() for r in serve_log(caplog)]
    label = failed["error"].split(":")[0]  # upload 3fa2c1d09e4b
    assert (f"failed job {failed['id']} ({label}) from testclient:50000, file 'Hochzeit 1962.mp4' "
            f"({clip.stat().st_size:,} bytes) after 0 frames: {label}: frame 3 (pts 0.1 s) could not be decoded") in lines, lines
    assert any(line.startswith(f"cancelled job {job['id']} (upload ") and "file 'long.mp4'" in line
               and "no upload wants it any more" in line for line in lines), lines


def test_the_start_up_lines_name_the_model_its_weights_the_device_the_limits_and_how_to_stop(hint_col):
    """The server said where it listens and nothing else: an operator reading its journal could not tell which
    weights it served, on which device, with which limits, nor how to stop it under systemd."""
    from vidcolor.serve.logs import startup_lines

    model, limits, stop = startup_lines(hint_col, ServeConfig(token="t0k", max_image_mb=5, max_video_frames=900), 4321)
    assert model.startswith("model effnet_unet-painted-hints, untrained weights, on cpu, work size 64, hint inputs yes; "
                            f"model id {hint_col.model_id}"), model
    assert limits == ("limits: photos 5 MB and 100 Mpx, 8 waiting at most; clips 500 MB, 120 s and 900 frames, 2 waiting "
                      "at most, the last 8 results kept; token required"), limits
    assert "t0k" not in limits and stop.startswith("to stop: Ctrl-C, or SIGTERM (kill 4321; systemctl stop)"), stop
