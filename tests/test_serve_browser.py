"""The page of `vidcolor serve` in headless Chromium (Debian's `chromium`, driven by Playwright for
Python), against the real server under uvicorn on 127.0.0.1.

They skip, saying why, only where Chromium is not installed or cannot start (`.ci/run` installs it).
Set VIDCOLOR_SERVE_SCREENSHOT=docs/serve.png to keep the page's screenshot for the README.
"""
from __future__ import annotations

import json
import os

import numpy as np
import pytest
from PIL import Image
from skimage.color import rgb2lab

pytest.importorskip("fastapi", reason="the web extra is not installed: pip install -e '.[dev]'")
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed: pip install -e '.[dev]'")

from tests.media import probe, write_video  # noqa: E402
from tests.serve_util import LiveServer  # noqa: E402
from vidcolor.hints import load_hints, srgb_to_ab  # noqa: E402
from vidcolor.io.images import read_image, write_image  # noqa: E402
from vidcolor.serve import ServeConfig, create_app  # noqa: E402

CHROMIUM_PATHS = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
HINTS = [((120, 90), "#d02020"), ((330, 200), "#2040e0")]  # photo pixels, colours far from a cat's browns


def chromium_path() -> str:
    path = os.environ.get("VIDCOLOR_CHROMIUM") or next((p for p in CHROMIUM_PATHS if os.path.exists(p)), None)
    if path is None:
        pytest.skip("Chromium is not installed (apt-get install chromium); skipping the browser tests")
    return path


@pytest.fixture(scope="module")
def browser():
    path = chromium_path()
    with sync_api.sync_playwright() as p:
        try:
            b = p.chromium.launch(executable_path=path, args=["--no-sandbox"])
        except sync_api.Error as e:
            pytest.skip(f"Chromium at {path} cannot start: {str(e).splitlines()[0]}")
        yield b
        b.close()


@pytest.fixture(scope="module")
def hint_server():
    from vidcolor.weights import load_colorizer

    col = load_colorizer(device="cpu")  # the shipped weights: hint points spread with L as the guide
    with LiveServer(create_app(col, ServeConfig())) as server:
        server.colorizer = col
        yield server


@pytest.fixture
def page(browser):
    ctx = browser.new_context(accept_downloads=True, viewport={"width": 1100, "height": 760})
    pg = ctx.new_page()
    yield pg
    ctx.close()


def photo(tmp_path) -> str:
    """A gray JPEG of skimage's sample cat (CC0, shipped inside scikit-image)."""
    import skimage.data

    path = tmp_path / "cat.jpg"
    Image.fromarray(skimage.data.chelsea()).convert("L").save(path, quality=92)
    return str(path)


def open_photo(pg, url: str, tmp_path) -> tuple[str, tuple[int, int]]:
    """The page at `url`, once it knows its model, with the cat photo colorized: (its path, its size)."""
    src = photo(tmp_path)
    pg.goto(url)
    pg.wait_for_function("document.getElementById('model').textContent.includes('hints on')")
    pg.set_input_files("#file", src)
    wait_results(pg, 1)
    return src, Image.open(src).size


def place_hints(pg, size: tuple[int, int]) -> None:
    """A click at each of HINTS' points, each waited for (the picker keeps the network's colour)."""
    for n, (xy, _) in enumerate(HINTS):
        click_pixel(pg, *xy, size)
        wait_results(pg, 2 + n)


def wait_results(pg, n: int) -> None:
    pg.wait_for_function(f"Number(document.body.dataset.results || 0) >= {n}", timeout=60_000)
    assert "error" not in (pg.get_attribute("#status", "class") or ""), pg.text_content("#status")


def click_pixel(pg, x: int, y: int, size: tuple[int, int]) -> None:
    box = pg.locator("#viewer").bounding_box()
    pg.locator("#viewer").click(position={"x": (x + 0.5) * box["width"] / size[0], "y": (y + 0.5) * box["height"] / size[1]})


def download(pg, selector: str, dest) -> str:
    with pg.expect_download() as d:
        pg.click(selector)
    d.value.save_as(dest)
    return d.value.suggested_filename


def hint_distance(rgb: np.ndarray, xy: tuple[int, int], colour: str) -> float:
    want = np.array(srgb_to_ab(tuple(int(colour[i:i + 2], 16) for i in (1, 3, 5))))
    x, y = xy
    return float(np.linalg.norm(rgb2lab(rgb[y:y + 1, x:x + 1])[0, 0, 1:] - want))


def test_two_hints_on_the_page_colour_their_points_and_the_downloads_reproduce_it(page, hint_server, tmp_path):
    src, size = open_photo(page, hint_server.url, tmp_path)
    download(page, "#download-image", tmp_path / "before.jpg")
    before = read_image(tmp_path / "before.jpg").pixels

    for i, (xy, colour) in enumerate(HINTS):
        click_pixel(page, *xy, size)
        wait_results(page, 2 + 2 * i)
        page.fill("#hint-color", colour)  # the picker of the hint just placed
        wait_results(page, 3 + 2 * i)
    assert page.locator("#hint-list li").count() == 2

    assert download(page, "#download-image", tmp_path / "after.jpg") == "cat_color.jpg"  # the CLI's default name (it was cat-color.jpg: new-user test)
    assert download(page, "#download-hints", tmp_path / "cat.hints.json") == "cat.hints.json"
    after = read_image(tmp_path / "after.jpg").pixels
    hints_json = json.loads((tmp_path / "cat.hints.json").read_text())
    placed = [((p["x"], p["y"]), p["color"]) for p in hints_json["points"]]
    assert [c for _, c in placed] == [c for _, c in HINTS]
    for ((x, y), _), ((want_x, want_y), _) in zip(placed, HINTS):  # a click lands within a pixel of where it aimed
        assert abs(x - want_x) <= 1 and abs(y - want_y) <= 1
    assert after.shape == before.shape == (size[1], size[0], 3)
    for xy, colour in placed:
        near, far = hint_distance(after, xy, colour), hint_distance(before, xy, colour)
        # a/b distance to the hint's colour; some of what is left is the sRGB gamut at the photo's own lightness
        assert near < 30 and near < 0.4 * far, (xy, colour, near, far)

    # The batch path with the downloaded hints file gives the same image.
    # The batch run's own steps (read_image, colorize_array with the hints file, write_image);
    # tests/test_hints.py::test_cli_hints_give_the_library_result shows `vidcolor PHOTO -o OUT --hints FILE`
    # gives exactly these steps' image.
    img = read_image(src)
    write_image(tmp_path / "batch.jpg", hint_server.colorizer.colorize_array(img.pixels, load_hints(tmp_path / "cat.hints.json")), img)
    np.testing.assert_array_equal(read_image(tmp_path / "batch.jpg").pixels, after)

    page.evaluate("v => { const s = document.getElementById('split'); s.value = v; s.dispatchEvent(new Event('input')); }", 15)
    shot = tmp_path / "serve.png"
    page.screenshot(path=str(shot))
    assert Image.open(shot).size == (1100, 760)
    if keep := os.environ.get("VIDCOLOR_SERVE_SCREENSHOT"):  # 256 colours, dithered: a README image under 300 KB
        rgb = Image.open(shot).convert("RGB")
        rgb.quantize(palette=rgb.quantize(256), dither=Image.Dither.FLOYDSTEINBERG).save(keep, optimize=True)


def test_undo_and_clear_remove_hints(page, hint_server, tmp_path):
    _, size = open_photo(page, hint_server.url, tmp_path)
    place_hints(page, size)
    assert page.locator("#hint-list li").count() == 2
    page.click("#undo")
    assert page.locator("#hint-list li").count() == 1
    page.click("#clear")
    assert page.locator("#hint-list li").count() == 0 and page.is_disabled("#undo")


def test_a_model_without_hint_inputs_takes_click_hints_too(page, colorizer, tmp_path):
    with LiveServer(create_app(colorizer, ServeConfig())) as server:
        page.goto(server.url)
        page.wait_for_function("document.getElementById('model').textContent.includes('hints on')")
        assert page.is_visible("#hint-color")
        src = photo(tmp_path)
        page.set_input_files("#file", src)
        wait_results(page, 1)
        click_pixel(page, *HINTS[0][0], Image.open(src).size)
        wait_results(page, 2)
        assert page.locator("#hint-list li").count() == 1


def test_a_short_clip_runs_as_a_job_with_progress_then_downloads(page, hint_server, tmp_path):
    clip = write_video(tmp_path / "reel.mp4", w=96, h=64, frames=12)
    page.goto(hint_server.url)
    page.set_input_files("#video-file", str(clip))
    page.wait_for_selector("#job-download:not([hidden])", timeout=120_000)
    assert page.eval_on_selector("#job-progress", "e => e.value") == 1
    assert "12 frames" in page.text_content("#job-status")
    assert download(page, "#job-download", tmp_path / "reel_color.mp4") == "reel_color.mp4"
    p = probe(tmp_path / "reel_color.mp4")
    assert p["frames"] == 12 and (p["width"], p["height"]) == (96, 64)


def test_a_clip_sent_by_mistake_is_cancelled_from_the_page(page, hint_server, tmp_path):
    clip = write_video(tmp_path / "long.mp4", w=64, h=48, frames=900, audio=None)
    page.goto(hint_server.url)
    page.set_input_files("#video-file", str(clip))
    # wait for a frame done, not just for the run to start: cancelled at "colorizing: 0 of 900" on a loaded
    # machine, the run had stopped before its first batch and `0 < done` failed (seen once under load 12)
    page.wait_for_function("/^colorizing: [1-9]/.test(document.getElementById('job-status').textContent)", timeout=60_000)
    page.click("#job-cancel")
    page.wait_for_function("document.getElementById('job-status').textContent.startsWith('cancelled after')", timeout=60_000)
    assert page.is_hidden("#job-cancel") and page.is_hidden("#job-download")
    done = int(page.text_content("#job-status").split()[2])
    assert 0 < done < 900


def test_a_second_clip_chosen_while_one_runs_takes_the_page_over(page, hint_server, tmp_path):
    """Two polling loops had shared the bar and the Cancel button: the first one's end hid the second's
    button (a review). Choosing another clip now cancels the one under way."""
    long_clip = write_video(tmp_path / "long2.mp4", w=64, h=48, frames=900, audio=None)
    short = write_video(tmp_path / "short2.mp4", w=96, h=64, frames=12)
    page.goto(hint_server.url)
    page.set_input_files("#video-file", str(long_clip))
    page.wait_for_function("document.getElementById('job-status').textContent.startsWith('colorizing')", timeout=60_000)
    page.set_input_files("#video-file", str(short))
    page.wait_for_selector("#job-download:not([hidden])", timeout=120_000)
    assert "12 frames" in page.text_content("#job-status") and page.is_hidden("#job-cancel")
    page.wait_for_timeout(1500)  # the first clip's loop, had it gone on, would have written over the page by now
    assert "12 frames" in page.text_content("#job-status")


def test_a_photo_picked_while_another_colorizes_gets_its_own_result_and_download(page, hint_server, tmp_path):
    """A big photo picked, then a small one before the first answer came: the first photo's result was
    shown beside the second and downloaded under its name (new-user test)."""
    import skimage.data

    big = tmp_path / "big.jpg"
    Image.fromarray(np.tile(skimage.data.chelsea(), (6, 6, 1))).convert("L").save(big, quality=90)  # 2706x1800
    small = tmp_path / "small.png"
    Image.fromarray(skimage.data.camera()[::2, ::2]).save(small)  # 256x256
    page.goto(hint_server.url)
    page.set_input_files("#file", str(big))
    page.wait_for_timeout(300)
    page.set_input_files("#file", str(small))
    wait_results(page, 1)  # the first result the page takes is the small photo's (the big one's came first)
    assert page.evaluate("document.getElementById('after').naturalWidth") == 256
    with page.expect_download() as d:
        page.click("#download-image")
    assert d.value.suggested_filename == "small_color.png"
    assert Image.open(d.value.path()).size == (256, 256)


def test_a_file_that_is_no_photo_leaves_nothing_to_download_and_is_named(page, hint_server, tmp_path):
    bad = tmp_path / "notimage.jpg"
    bad.write_bytes(b"this is not a photo" * 50)
    page.goto(hint_server.url)
    page.set_input_files("#file", photo(tmp_path))
    wait_results(page, 1)
    page.set_input_files("#file", str(bad))
    page.wait_for_function("document.getElementById('status').className === 'error'", timeout=60_000)
    assert "notimage.jpg" in page.text_content("#status")
    assert page.is_disabled("#download-image") and page.is_disabled("#download-hints")
    assert not page.is_visible("#viewer")


def test_a_portrait_photo_fits_the_window(page, hint_server, tmp_path):
    import skimage.data

    tall = tmp_path / "tall.png"
    Image.fromarray(np.concatenate([skimage.data.camera()] * 2, axis=0)[:, ::2]).save(tall)  # 256x1024
    page.goto(hint_server.url)
    page.set_input_files("#file", str(tall))
    wait_results(page, 1)
    box = page.locator("#viewer").bounding_box()
    assert box["height"] <= 0.8 * 760 + 2, box


def test_a_tiff_then_another_photo_each_keep_their_own_before_and_download(page, hint_server, tmp_path):
    """A TIFF's "before" comes from the server (the browser cannot show a TIFF), and its download is
    fetched at the click: with another photo picked meanwhile, the TIFF's gray replaced the new photo's
    "before", and the TIFF's file was saved under the new photo's name (review)."""
    import skimage.data
    import tifffile

    tif = tmp_path / "A_scan.tif"
    tifffile.imwrite(tif, np.tile(skimage.data.camera(), (4, 4)).astype(np.uint16) * 257)  # 2048x2048, 16-bit
    page.goto(hint_server.url)
    page.set_input_files("#file", str(tif))
    wait_results(page, 1)
    with page.expect_download(timeout=120_000) as d:
        page.click("#download-image")  # a PNG preview is shown: the page fetches the TIFF
        page.wait_for_timeout(100)
        page.set_input_files("#file", photo(tmp_path))
    assert d.value.suggested_filename == "A_scan_color.tif"
    assert Image.open(d.value.path()).size == (2048, 2048)
    wait_results(page, 2)
    sizes = page.evaluate("[document.getElementById('before').naturalWidth, document.getElementById('after').naturalWidth]")
    assert sizes == [451, 451]


# -- a new user's visit (a tester's) --------------------------------------------------------------------------

def test_on_a_phone_the_picture_takes_the_width(browser, hint_server, tmp_path):
    """The 290 px sidebar left the picture a 37 px column on a 375 px screen."""
    ctx = browser.new_context(viewport={"width": 375, "height": 667}, is_mobile=True, has_touch=True)
    pg = ctx.new_page()
    try:
        pg.goto(hint_server.url)
        pg.set_input_files("#file", photo(tmp_path))
        wait_results(pg, 1)
        assert pg.locator("#viewer").bounding_box()["width"] > 300
    finally:
        ctx.close()


def test_a_refused_photo_shows_no_picture_and_its_refusal_in_view(page, hint_server, tmp_path):
    """A GIF kept the browser's own picture and a working slider, the refusal drawn below the window."""
    gif = tmp_path / "old.gif"
    Image.fromarray(np.full((600, 800), 120, np.uint8)).save(gif)
    page.goto(hint_server.url)
    page.set_input_files("#file", str(gif))
    page.wait_for_function("document.getElementById('status').className === 'error'", timeout=60_000)
    assert "old.gif: GIF images are not supported" in page.text_content("#status")
    assert not page.is_visible("#viewer") and page.is_hidden("#split-box")
    assert page.locator("#status").bounding_box()["y"] < 760


def test_a_clip_box_refusal_names_the_file_and_the_box_to_use(page, hint_server, tmp_path):
    """It named the upload's hash and pointed a page user at /api/colorize, the bar left showing."""
    page.goto(hint_server.url)
    page.set_input_files("#video-file", photo(tmp_path))
    page.wait_for_function("document.getElementById('job-status').className.includes('error')", timeout=60_000)
    text = page.text_content("#job-status")
    assert text.startswith("cat.jpg: not a video") and "use the photo box above" in text and "/api/" not in text
    assert page.is_hidden("#job-progress")


def test_reloading_the_page_cancels_its_clip(page, hint_server, tmp_path):
    """The job ran on unseen after a reload, its result kept by the server until it stopped."""
    import urllib.request

    clip = write_video(tmp_path / "long3.mp4", w=64, h=48, frames=900, audio=None)
    page.goto(hint_server.url)
    page.set_input_files("#video-file", str(clip))
    page.wait_for_function("document.getElementById('job-status').textContent.startsWith('colorizing')", timeout=60_000)
    job = page.evaluate("S.clipJob")
    page.reload()
    for _ in range(100):
        state = json.loads(urllib.request.urlopen(f"{hint_server.url}/api/jobs/{job}").read())["state"]
        if state in ("cancelled", "removed"):
            break
        page.wait_for_timeout(100)
    assert state in ("cancelled", "removed"), state


def test_a_transient_refusal_then_a_result_shows_the_picture(page, hint_server, tmp_path):
    """A 429 on a photo's first request hid the picture for good: the next result came in (status, download)
    and the picture and slider stayed hidden (a reviewer's test). A 429 is now asked again by itself; the
    refusal here is the volunteer's own Stop while the page waits, which leaves no result to show."""
    calls = {"n": 0}

    def handle(route):
        calls["n"] += 1
        if calls["n"] == 1:
            route.fulfill(status=429, content_type="application/json", headers={"Retry-After": "30"},
                          body='{"detail": "busy: 8 photo requests are already waiting for the model; try again shortly"}')
        else:
            route.continue_()

    page.route("**/api/colorize", handle)
    page.goto(hint_server.url)
    page.wait_for_function("document.getElementById('model').textContent.includes('hints on')")
    page.set_input_files("#file", photo(tmp_path))
    page.wait_for_selector("#photo-stop:not([hidden])", timeout=60_000)
    page.click("#photo-stop")
    page.wait_for_function("document.getElementById('status').textContent.includes('stopped trying')")
    assert page.is_hidden("#photo-stop") and page.is_hidden("#viewer") and calls["n"] == 1
    page.locator("#strength").fill("1.5")
    page.locator("#strength").dispatch_event("change")
    wait_results(page, 1)
    assert page.is_visible("#viewer") and not page.is_hidden("#split-box")


def busy_then_served(refusals: int, log: list):
    """A route handler: the server's own 429 (Retry-After: 1) `refusals` times, then the request goes through."""
    import time

    def handle(route):
        log.append(time.monotonic())
        if len(log) <= refusals:
            route.fulfill(status=429, content_type="application/json", headers={"Retry-After": "1"},
                          body=json.dumps({"detail": "busy: 8 photo requests are already waiting for the model; try again shortly"}))
        else:
            route.continue_()
    return handle


def test_a_busy_server_is_asked_again_after_its_retry_after_and_the_photo_comes(page, hint_server, tmp_path):
    """A full queue (429 with Retry-After) showed "busy ... try again shortly" and the volunteer had to pick the
    photo again (an operator's test): the page says it waits, with a Stop button, and sends it again by itself."""
    calls: list = []
    page.route("**/api/colorize", busy_then_served(2, calls))
    page.goto(hint_server.url)
    page.wait_for_function("document.getElementById('model').textContent.includes('hints on')")
    page.set_input_files("#file", photo(tmp_path))
    page.wait_for_function("document.getElementById('status').textContent.includes('trying again by itself')", timeout=60_000)
    said = page.text_content("#status")
    assert said.startswith("cat.jpg: busy: 8 photo requests are already waiting for the model; waiting 1 s"), said
    assert "(retry 1 of 4)" in said and "try again shortly" not in said and page.get_attribute("#status", "class") == "waiting"
    assert page.is_visible("#photo-stop")
    wait_results(page, 1)
    assert len(calls) == 3 and page.is_hidden("#photo-stop") and page.is_visible("#viewer")
    assert page.text_content("#status").startswith("colorized in")
    # after Retry-After, and longer each time: 1 s, then 2 s
    assert calls[1] - calls[0] >= 0.9 and calls[2] - calls[1] >= 1.9, calls


def test_a_server_still_busy_after_the_last_retry_is_said_so(page, hint_server, tmp_path):
    calls: list = []
    page.route("**/api/colorize", busy_then_served(99, calls))
    page.goto(hint_server.url)
    page.wait_for_function("document.getElementById('model').textContent.includes('hints on')")
    page.evaluate("BUSY.tries = 1")  # one retry, not four: the test need not wait 15 s
    page.set_input_files("#file", photo(tmp_path))
    page.wait_for_function("document.getElementById('status').className === 'error'", timeout=60_000)
    assert page.text_content("#status") == ("cat.jpg: busy: 8 photo requests are already waiting for the model; still busy "
                                            "after 2 tries: try again in a while")
    assert len(calls) == 2 and page.is_hidden("#photo-stop") and page.is_hidden("#viewer")


def busy_on(numbers: set, log: list, retry_after: str = "1"):
    """A route handler: the server's own 429 on the requests whose 1-based numbers are in `numbers`."""
    def handle(route):
        log.append(route.request.post_data_buffer)
        if len(log) in numbers:
            route.fulfill(status=429, content_type="application/json", headers={"Retry-After": retry_after},
                          body=json.dumps({"detail": "busy: 8 photo requests are already waiting for the model; try again shortly"}))
        else:
            route.continue_()
    return handle


def tiff_photo(tmp_path) -> str:
    """The cat as a TIFF, which the browser cannot show: its download is a request of its own (format kept)."""
    path = tmp_path / "scan.tif"
    Image.open(photo(tmp_path)).save(path)
    return str(path)


def test_a_download_sent_again_after_a_busy_server_leaves_the_status_as_it_was(page, hint_server, tmp_path):
    """A download refused with a 429 and sent again by itself came down, and the status line said
    "colorizing… (try 2)" for good, as if a result were still coming (a review): it says what it said before."""
    calls: list = []
    page.route("**/api/colorize", busy_on({3}, calls))  # the gray "before", the PNG preview, then the download
    page.goto(hint_server.url)
    page.wait_for_function("document.getElementById('model').textContent.includes('hints on')")
    page.set_input_files("#file", tiff_photo(tmp_path))
    wait_results(page, 1)
    said = page.text_content("#status")
    assert said.startswith("colorized in"), said
    assert download(page, "#download-image", tmp_path / "scan_color.tif") == "scan_color.tif"
    assert len(calls) == 4
    assert page.text_content("#status") == said and page.get_attribute("#status", "class") == ""


def test_a_photo_picked_while_another_photos_download_waits_is_not_told_of_that_wait(page, hint_server, tmp_path):
    """Photo A's download waited for a busy server; the volunteer picked photo B meanwhile. A's wait then ended
    as "scan.tif: busy ...; stopped trying" in red over B's status, as if B had been refused (a review). B's
    status says only B's own news."""
    calls: list = []
    page.route("**/api/colorize", busy_on({3}, calls, retry_after="30"))
    page.goto(hint_server.url)
    page.wait_for_function("document.getElementById('model').textContent.includes('hints on')")
    page.set_input_files("#file", tiff_photo(tmp_path))
    wait_results(page, 1)
    page.click("#download-image")
    page.wait_for_function("document.getElementById('status').textContent.includes('trying again by itself')", timeout=60_000)
    page.evaluate("""() => { window.seen = [];
        new MutationObserver(() => window.seen.push(document.getElementById('status').textContent))
          .observe(document.getElementById('status'), { childList: true, characterData: true, subtree: true }); }""")
    page.set_input_files("#file", photo(tmp_path))
    wait_results(page, 2)
    page.wait_for_timeout(500)  # past the earlier wait's next look (every 200 ms)
    seen = page.evaluate("window.seen")
    assert not [t for t in seen if "scan.tif" in t], seen
    assert page.text_content("#status").startswith("colorized in") and page.is_hidden("#photo-stop")
    assert len(calls) == 4  # A's download was not sent again


def test_a_clip_refused_by_a_busy_server_is_sent_again_by_itself_and_can_be_stopped(page, hint_server, tmp_path):
    """The clip box's 429 (the job queue full) ended the clip as the photo's did."""
    clip = write_video(tmp_path / "queued.mp4", w=88, h=48, frames=6, audio=None)
    calls: list = []
    page.route("**/api/jobs", busy_then_served(1, calls))
    page.goto(hint_server.url)
    page.set_input_files("#video-file", str(clip))
    page.wait_for_function("document.getElementById('job-status').textContent.includes('trying again by itself')", timeout=60_000)
    assert page.text_content("#job-status").startswith("queued.mp4: busy: ") and page.is_visible("#job-cancel")
    page.wait_for_selector("#job-download:not([hidden])", timeout=120_000)
    assert "6 frames" in page.text_content("#job-status") and len(calls) == 2

    calls.clear()
    page.unroute("**/api/jobs")
    page.route("**/api/jobs", busy_then_served(99, calls))
    page.set_input_files("#video-file", str(clip))
    page.wait_for_selector("#job-cancel:not([hidden])", timeout=60_000)
    page.click("#job-cancel")
    page.wait_for_function("document.getElementById('job-status').textContent.includes('stopped trying')")
    assert page.get_attribute("#job-status", "class") == "small" and page.is_hidden("#job-cancel") and len(calls) == 1


def test_a_hint_chosen_from_the_keyboard_keeps_the_focus(page, hint_server, tmp_path):
    _, size = open_photo(page, hint_server.url, tmp_path)
    place_hints(page, size)
    page.focus("#hint-list li:nth-child(1)")
    page.keyboard.press("Enter")
    assert page.evaluate("S.selected") == 0
    assert page.evaluate("document.activeElement === document.querySelector('#hint-list li:nth-child(1)')")


def test_a_photo_turned_by_metadata_the_browser_ignores_gets_the_servers_before_and_hints_land(page, hint_server, tmp_path):
    """A WebP with EXIF orientation 6: Chromium shows it unturned, the server turns it. The "before" stayed
    unturned beside a turned "after", and a click on the picture became a hint outside the server's photo,
    refused with a 422 (a new user's test). The page now takes the server's frame and gray rendering."""
    import skimage.data

    src = tmp_path / "turned.webp"
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(skimage.data.chelsea()).convert("L").save(src, exif=exif, lossless=True)  # 451x300 as stored
    page.goto(hint_server.url)
    page.wait_for_function("document.getElementById('model').textContent.includes('hints on')")
    page.set_input_files("#file", str(src))
    wait_results(page, 1)
    page.wait_for_function("document.getElementById('before').naturalWidth === 300")
    assert page.evaluate("[document.getElementById('before').naturalHeight, document.getElementById('after').naturalWidth,"
                         " document.getElementById('after').naturalHeight]") == [451, 300, 451]
    click_pixel(page, 250, 400, (300, 451))  # inside the turned photo only
    wait_results(page, 2)
    (x, y), = page.evaluate("S.hints.map((h) => [h.x, h.y])")
    assert abs(x - 250) <= 1 and abs(y - 400) <= 1, (x, y)  # the box's sub-pixel rounding


def test_picking_the_same_photo_again_colorizes_it_again(page, hint_server, tmp_path):
    """The browser fires no change for the same file: a photo edited on disk, or a clip cancelled, could not be
    sent again (a new user's test). The picker is emptied once read."""
    src, _ = open_photo(page, hint_server.url, tmp_path)
    page.set_input_files("#file", src)
    wait_results(page, 2)


def test_a_phone_jpeg_turned_by_exif_needs_no_second_request_for_its_before(page, hint_server, tmp_path):
    """Browsers turn a JPEG by its EXIF as the server does: its "before" is right as shown, and fetching the
    server's gray one cost every phone portrait a second run of the model (a review)."""
    import skimage.data

    src = tmp_path / "phone.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(skimage.data.chelsea()).convert("L").save(src, exif=exif, quality=92)
    posts = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    page.goto(hint_server.url)
    page.wait_for_function("document.getElementById('model').textContent.includes('hints on')")
    page.set_input_files("#file", str(src))
    wait_results(page, 1)
    page.wait_for_timeout(500)
    assert page.evaluate("[document.getElementById('before').naturalWidth, document.getElementById('after').naturalWidth]") == [300, 300]
    assert len(posts) == 1, posts


def test_a_server_that_does_not_answer_is_said_so_not_failed_to_fetch(page, hint_server, tmp_path):
    """A stopped server left the page saying the browser's "Failed to fetch" (a new user's test)."""
    page.goto(hint_server.url)
    page.wait_for_function("document.getElementById('model').textContent.includes('hints on')")
    page.route("**/api/colorize", lambda route: route.abort())
    page.set_input_files("#file", photo(tmp_path))
    page.wait_for_function("document.getElementById('status').className === 'error'", timeout=60_000)
    assert page.text_content("#status").startswith("cat.jpg: no answer from the vidcolor server (stopped, restarting")


def test_a_clip_is_followed_through_a_few_seconds_without_answers(page, hint_server, tmp_path):
    """One poll that got no answer (a network blip, a restart) ended the page's clip with "Failed to fetch"
    while its job ran on unseen; the page now asks again, and the clip downloads."""
    clip = write_video(tmp_path / "blip.mp4", w=64, h=48, frames=300, audio=None)
    page.goto(hint_server.url)
    page.set_input_files("#video-file", str(clip))
    page.wait_for_function("document.getElementById('job-status').textContent.startsWith('colorizing')", timeout=60_000)
    page.route("**/api/jobs/*", lambda route: route.abort())
    page.wait_for_function("document.getElementById('job-status').textContent.includes('asking again')", timeout=10_000)
    page.unroute("**/api/jobs/*")
    page.wait_for_selector("#job-download:not([hidden])", timeout=120_000)
    assert "300 frames" in page.text_content("#job-status")


def test_a_clip_is_followed_through_a_proxys_bad_gateway_and_a_refusal_ends_it_at_once(page, hint_server, tmp_path):
    """Behind a reverse proxy a restarting server is the proxy's 502 or 504, not a failed fetch: the page
    took it for a refusal and ended the clip while its job ran on (a review). A real refusal still ends it."""
    # sizes no other test of this module's server uses: the same clip at the same strength is the same (done) job
    clip = write_video(tmp_path / "proxied.mp4", w=72, h=48, frames=300, audio=None)
    page.goto(hint_server.url)
    page.set_input_files("#video-file", str(clip))
    page.wait_for_function("document.getElementById('job-status').textContent.startsWith('colorizing')", timeout=60_000)
    page.route("**/api/jobs/*", lambda route: route.fulfill(status=502, content_type="text/html", body="<h1>502 Bad Gateway</h1>"))
    page.wait_for_function("document.getElementById('job-status').textContent.includes('asking again')", timeout=10_000)
    page.unroute("**/api/jobs/*")
    page.wait_for_selector("#job-download:not([hidden])", timeout=120_000)
    assert "300 frames" in page.text_content("#job-status")

    other = write_video(tmp_path / "refused.mp4", w=80, h=48, frames=300, audio=None)
    page.set_input_files("#video-file", str(other))
    page.wait_for_function("document.getElementById('job-status').textContent.startsWith('colorizing')", timeout=60_000)
    page.route("**/api/jobs/*", lambda route: route.fulfill(status=404, content_type="application/json",
                                                             body=json.dumps({"detail": "no job: unknown id"})))
    page.wait_for_function("document.getElementById('job-status').textContent.includes('unknown id')", timeout=5_000)
    assert "asking again" not in page.text_content("#job-status")


def test_a_download_is_named_by_the_format_the_server_answers_in(page, hint_server, tmp_path):
    """A JPEG named scan.png came back as a JPEG (the server reads the content) and was saved as
    scan_color.png (a new user's test); a name that says the format already is kept as it is."""
    jpeg = Image.open(photo(tmp_path))
    misnamed, upper = tmp_path / "scan.png", tmp_path / "Scan.JPEG"
    jpeg.save(misnamed, "JPEG")
    jpeg.save(upper, "JPEG")
    page.goto(hint_server.url)
    page.wait_for_function("document.getElementById('model').textContent.includes('hints on')")
    for n, (path, want) in enumerate([(misnamed, "scan_color.jpg"), (upper, "Scan_color.JPEG")]):
        page.set_input_files("#file", str(path))
        wait_results(page, n + 1)
        assert download(page, "#download-image", tmp_path / want) == want
        assert Image.open(tmp_path / want).format == "JPEG"


def test_the_page_works_behind_a_proxy_that_serves_it_under_a_folder(page, hint_server, tmp_path):
    """Behind a reverse proxy at https://office/vidcolor/, the page asked the proxy's /api/... and every
    request failed (a new user's test). Here the browser's routes play the proxy: /vidcolor/X is the
    server's /X, and nothing else answers."""
    base = hint_server.url + "/vidcolor/"
    outside = []

    def proxy(route):
        url = route.request.url
        if url.startswith(base):
            route.continue_(url=hint_server.url + "/" + url[len(base):])  # (route.fetch drops an upload's body)
        else:
            outside.append(url)
            route.fulfill(status=404, body="not found")

    page.route(hint_server.url + "/**", proxy)
    page.goto(base)
    page.wait_for_function("document.getElementById('model').textContent.includes('hints on')", timeout=30_000)
    page.set_input_files("#file", photo(tmp_path))
    wait_results(page, 1)
    assert outside == []


def test_the_page_says_what_the_cli_notes_about_a_photo(page, hint_server, tmp_path):
    """A gray scan's GRAY ICC profile is dropped from the colour output, as the CLI notes; the page said nothing
    of it (nor of any other note: the server sent none; a web-studio tester's find)."""
    import skimage.data
    from PIL import ImageCms

    header = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes())
    header[16:20] = b"GRAY"  # a stand-in with a non-RGB space, as tests/test_images.py makes one
    src = tmp_path / "scan.jpg"
    Image.fromarray(skimage.data.chelsea()).convert("L").save(src, quality=92, icc_profile=bytes(header))
    page.goto(hint_server.url)
    page.wait_for_function("document.getElementById('model').textContent.includes('hints on')")
    page.set_input_files("#file", str(src))
    wait_results(page, 1)
    assert "its GRAY ICC profile dropped: it does not describe the colour output" in page.text_content("#status")


# -- a keyboard and screen-reader user's visit (an accessibility audit) -----------------------------------------

def test_every_control_has_a_name_a_screen_reader_can_say(page, hint_server, tmp_path):
    """Both file pickers were read as "Choose File", the strength slider as a bare "slider, 1", and the clip's
    progress bar had no name: a screen-reader user could not tell the photo picker from the clip's, nor what
    the slider set (an accessibility audit). Each control now has its visible label as its name."""
    open_photo(page, hint_server.url, tmp_path)
    page.evaluate("document.getElementById('job-progress').hidden = false")
    for role, name in [("button", "Drop a black-and-white photo here, or pick one:"), ("button", "A video to colorize:"),
                       ("slider", "Colour strength"), ("slider", "before/after split"), ("progressbar", "clip progress"),
                       ("button", "Image"), ("button", "Hints JSON")]:
        assert page.get_by_role(role, name=name, exact=True).count() == 1, (role, name)
    unnamed = page.evaluate("""[...document.querySelectorAll('input, button, select, textarea, progress')]
        .filter((e) => !e.labels?.length && !e.getAttribute('aria-label') && !e.textContent.trim()).map((e) => e.id)""")
    assert unnamed == []


def tab_to(pg, selector: str, most: int = 15) -> None:
    """Tab (only) until `selector` has the focus, as a keyboard user gets there."""
    for _ in range(most):
        pg.keyboard.press("Tab")
        if pg.evaluate(f"document.activeElement === document.querySelector({selector!r})"):
            return
    raise AssertionError(f"{selector} not reached in {most} Tabs")


def test_a_hint_is_placed_and_moved_from_the_keyboard_alone(page, hint_server, tmp_path):
    """A hint could only be placed by a click on the picture: nothing a keyboard or screen-reader user could
    reach (an accessibility audit). The point is typed and added, then moved with arrow keys in the list."""
    _, size = open_photo(page, hint_server.url, tmp_path)
    page.focus("#file")
    tab_to(page, "#hint-x")
    assert page.input_value("#hint-x") == str(size[0] // 2) and page.input_value("#hint-y") == str(size[1] // 2)
    page.keyboard.press("Control+A")
    page.keyboard.type("120")
    page.keyboard.press("Control+Z")  # the field's own undo, not the page's "undo the last hint"
    page.keyboard.press("Control+A")
    page.keyboard.type("120")
    page.keyboard.press("Tab")
    page.keyboard.press("Control+A")
    page.keyboard.type("90")
    page.keyboard.press("Enter")
    wait_results(page, 2)
    assert page.evaluate("S.hints.map((h) => [h.x, h.y])") == [[120, 90]]

    tab_to(page, "#hint-list li:nth-child(1)")
    for key in ["ArrowRight", "ArrowRight", "ArrowRight", "Shift+ArrowDown", "ArrowUp"]:
        page.keyboard.press(key)
    assert page.evaluate("S.hints.map((h) => [h.x, h.y])") == [[123, 99]]
    li = page.locator("#hint-list li:nth-child(1)")
    assert "at 123, 99" in li.text_content() and li.get_attribute("aria-current") == "true"
    assert page.evaluate("document.activeElement === document.querySelector('#hint-list li:nth-child(1)')")
    wait_results(page, 3)
    page.wait_for_function("!S.busy && !S.again")
    assert json.loads(page.evaluate("S.outHints"))["points"][0]["x"] == 123  # the shown result is the moved hint's

    page.fill("#hint-x", str(size[0]))  # one past the right edge: refused by the form, not moved onto the photo
    page.focus("#hint-x")
    page.keyboard.press("Enter")
    page.wait_for_timeout(300)
    assert page.evaluate("S.hints.length") == 1 and page.evaluate("document.getElementById('hint-x').validity.rangeOverflow")


def test_a_clips_states_are_announced_and_its_frame_counts_are_not(page, hint_server, tmp_path):
    """The clip's status was no live region: a screen reader heard neither its end nor a refusal (an accessibility
    audit). It is one now; while the frame count changes it is marked busy, so not every count is read out."""
    page.goto(hint_server.url)
    assert page.get_attribute("#job-status", "role") == "status" and page.get_attribute("#model", "role") == "status"
    page.set_input_files("#video-file", photo(tmp_path))
    page.wait_for_function("document.getElementById('job-status').className.includes('error')", timeout=60_000)
    assert page.get_attribute("#job-status", "aria-busy") is None  # the refusal is read out

    # a size no other test of this module's server uses: the same clip at the same strength is the same (done) job
    clip = write_video(tmp_path / "spoken.mp4", w=88, h=48, frames=300, audio=None)
    page.set_input_files("#video-file", str(clip))
    # busy while colorizing, not while queued: a repeated "waiting for the model…" (a loaded machine) is marked busy
    # too, and waiting for the mark alone then found the clip still queued (seen once under load)
    page.wait_for_function("(e => e.getAttribute('aria-busy') === 'true' && e.textContent.startsWith('colorizing: '))"
                           "(document.getElementById('job-status'))", timeout=60_000)
    assert page.text_content("#job-status").startswith("colorizing: ")
    page.wait_for_selector("#job-download:not([hidden])", timeout=120_000)
    assert page.text_content("#job-status").startswith("done: 300 frames")
    assert page.get_attribute("#job-status", "aria-busy") is None


def test_cancelling_a_clip_from_the_keyboard_keeps_the_focus_in_the_clip_box(page, hint_server, tmp_path):
    """Enter on Cancel hid the focused button and dropped the focus to the page's top: the next Tab began again
    at the photo picker (an accessibility audit). It goes to the clip picker, which the download link follows."""
    clip = write_video(tmp_path / "long4.mp4", w=64, h=40, frames=900, audio=None)
    page.goto(hint_server.url)
    page.set_input_files("#video-file", str(clip))
    page.wait_for_function("document.getElementById('job-status').textContent.startsWith('colorizing')", timeout=60_000)
    tab_to(page, "#job-cancel")
    page.keyboard.press("Enter")
    page.wait_for_function("document.getElementById('job-status').textContent.startsWith('cancelled after')", timeout=60_000)
    assert page.evaluate("document.activeElement.id") == "video-file"


# -- a volunteer's refusals (a web tester's) -------------------------------------------------------------------

def test_a_file_over_the_size_limit_is_refused_before_it_is_sent_in_mb_and_named(page, colorizer, tmp_path):
    """A photo over --max-image-mb (by more than the form's 64 KB) was sent whole and refused with "request body of
    481,548 bytes (Content-Length) is over the limit ... (--max-image-mb)", one a little over with "file is 361,130
    bytes, over the limit of 300,000 bytes", and a clip with "file is over the limit of 50,000 bytes": none named
    the file, and they spoke of bytes and bodies (a web tester's find). The page knows the limits (/api/health)."""
    rng = np.random.default_rng(0)
    big, little_over = tmp_path / "big scan.png", tmp_path / "scan.png"
    Image.fromarray(rng.integers(0, 255, (400, 400), dtype=np.uint8)).save(big)  # 160 KB: over the form's limit too
    Image.fromarray(rng.integers(0, 255, (110, 110), dtype=np.uint8)).save(little_over)  # 12 KB
    clip = write_video(tmp_path / "reel.mkv", w=64, h=48, frames=12, codec="rawvideo", audio=None)  # 56 KB
    assert big.stat().st_size > 10_000 + 64 * 1024 and 10_000 < little_over.stat().st_size < 20_000
    posts = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    with LiveServer(create_app(colorizer, ServeConfig(max_image_mb=0.01, max_video_mb=0.01))) as server:
        page.goto(server.url)
        page.wait_for_function("document.getElementById('model').textContent.includes('hints on')")
        for path in (big, little_over):
            page.evaluate("document.getElementById('status').textContent = ''")
            page.set_input_files("#file", str(path))
            page.wait_for_function("document.getElementById('status').textContent !== ''")
            mb = f"{path.stat().st_size / 1e6:.{2 if path is big else 3}f}"
            assert page.text_content("#status") == (
                f"{path.name} is {mb} MB, over this server's limit of 0.01 MB for a photo (its operator sets it with "
                "--max-image-mb): use a smaller copy of it (saved as JPEG, or with fewer pixels), or ask the operator "
                "to raise the limit")
            assert page.get_attribute("#status", "class") == "error" and not page.is_visible("#viewer")
        page.set_input_files("#video-file", str(clip))
        page.wait_for_function("document.getElementById('job-status').className.includes('error')")
        assert page.text_content("#job-status") == (
            f"reel.mkv is {clip.stat().st_size / 1e6:.3f} MB, over this server's limit of 0.01 MB for a clip (its operator "
            "sets it with --max-video-mb): use a shorter or smaller copy of it, or ask the operator to raise the limit")
        assert page.is_hidden("#job-progress")
    assert posts == []  # refused without sending a byte


def test_a_refusal_that_names_no_upload_is_put_under_the_files_name(page, hint_server, tmp_path):
    """The server's refusals that come before it has read the file (shutting down, busy) name no upload, and the
    page showed them bare: "the server is shutting down", of which photo?"""
    page.route("**/api/colorize", lambda route: route.fulfill(status=503, content_type="application/json",
                                                               body='{"detail": "the server is shutting down"}'))
    page.goto(hint_server.url)
    page.wait_for_function("document.getElementById('model').textContent.includes('hints on')")
    page.set_input_files("#file", photo(tmp_path))
    page.wait_for_function("document.getElementById('status').className === 'error'", timeout=60_000)
    assert page.text_content("#status").startswith("cat.jpg: the server is shutting down")


def test_a_colour_photo_is_said_to_have_its_colours_replaced_in_plain_words(page, hint_server, tmp_path):
    """The note on a photo already in colour was "this photo is already in colour: a batch run skips it unless
    --force": a command and an option a page user never meets, and not a word that the result had replaced
    the photo's own colours (a web tester's find)."""
    import skimage.data

    colour = tmp_path / "family.jpg"
    Image.fromarray(skimage.data.chelsea()).save(colour, quality=92)
    page.goto(hint_server.url)
    page.set_input_files("#file", str(colour))
    wait_results(page, 1)
    assert page.text_content("#status").endswith(
        " · family.jpg already looks like a colour photo: the result replaces its colours with vidcolor's guesses, so "
        "keep the original if its colours were right (a batch run leaves such photos alone unless --force)")
