"""`vidcolor serve`: what a request must pass before its body is read, and the defects a review of the
server found (2026-11-26): the token checked only after a whole upload was spooled, cross-site form
posts, hints parsed on the event loop without a cap, failed jobs evicting good results, video frames
without a size limit, abandoned photo requests keeping their places, 127.0.0.2 refused, a truncated
multipart body answered 'Field required', and a restart reported as 'removed to make room'."""
from __future__ import annotations

import asyncio
import json
import os
import socket
import threading
import time
from concurrent.futures import Future

import pytest

pytest.importorskip("fastapi", reason="the web extra is not installed: pip install -e '.[dev]'")

from tests.media import gray_image, write_video  # noqa: E402
from tests.serve_util import LiveServer, hint_colorizer  # noqa: E402
from tests.test_serve import client, encode, one_line_error, post, wait_until  # noqa: E402
from vidcolor.serve import ServeConfig, create_app  # noqa: E402
from vidcolor.serve.jobs import FAILED_KEPT, Job  # noqa: E402
from vidcolor.serve.worker import ModelWorker  # noqa: E402


@pytest.fixture(scope="module")
def hint_col():
    return hint_colorizer()


def asgi_call(app, method: str, path: str, headers: dict[str, str], body: bytes | None = None) -> tuple[int, dict, int]:
    """One request straight to the ASGI app: (status, JSON answer, body bytes it read). With body None,
    the body must never be read."""
    sent, chunks = [], [body[i:i + 65536] for i in range(0, len(body), 65536)] if body is not None else None
    taken = 0

    async def receive():
        nonlocal taken
        if chunks is None:
            pytest.fail("the request body was read")
        chunk = chunks.pop(0) if chunks else b""
        taken += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path, "raw_path": path.encode(), "query_string": b"",
             "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()], "scheme": "http",
             "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 5000), "http_version": "1.1", "root_path": ""}
    asyncio.run(app(scope, receive, send))
    return sent[0]["status"], json.loads(b"".join(m.get("body", b"") for m in sent[1:])), taken


def test_without_the_token_an_upload_is_refused_before_its_form_is_parsed(hint_col, monkeypatch):
    """FastAPI parsed (and spooled to disk) the whole form before the token was checked. The refused
    body is read and dropped, so a client still sending gets the 401 rather than a reset connection."""
    import starlette.requests

    monkeypatch.setattr(starlette.requests.Request, "form", lambda *a, **k: pytest.fail("the form was parsed"))
    app = create_app(hint_col, ServeConfig(token="s3cret", max_video_mb=1))
    body = b"--xx\r\n" + b"x" * 300_000 + b"\r\n--xx--\r\n"
    multipart = {"host": "127.0.0.1:8000", "content-type": "multipart/form-data; boundary=xx"}
    try:
        for path in ("/api/jobs", "/api/colorize"):
            status, answer, taken = asgi_call(app, "POST", path, {**multipart, "content-length": str(len(body))}, body)
            assert status == 401 and "bearer token" in answer["detail"] and taken == len(body)
        # declared longer than any upload may be: closed unread
        status, _, _ = asgi_call(app, "POST", "/api/jobs", {**multipart, "content-length": "300000000"})
        assert status == 401
        status, _, _ = asgi_call(app, "POST", "/api/jobs", {"host": "127.0.0.1:8000", "authorization": "Bearer wrong"}, b"")
        assert status == 401
    finally:
        app.state.worker.stop()


def test_a_large_upload_without_the_token_gets_the_401_not_a_reset(hint_col):
    import http.client

    app = create_app(hint_col, ServeConfig(token="tok"))
    body = b"--xx\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.mp4\"\r\n\r\n" + bytes(8_000_000) + b"\r\n--xx--\r\n"
    with LiveServer(app) as srv:
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=60)
        conn.request("POST", "/api/jobs", body=body, headers={"Content-Type": "multipart/form-data; boundary=xx"})
        r = conn.getresponse()
        assert r.status == 401 and "bearer token" in json.loads(r.read())["detail"]


def test_a_page_on_another_site_cannot_post_work(hint_col):
    png = encode(gray_image(), "PNG")
    with client(hint_col) as c:
        for headers in ({"Origin": "http://evil.example"}, {"Sec-Fetch-Site": "cross-site"}, {"Origin": "null"},
                        {"Origin": "http://127.0.0.1:3000", "Sec-Fetch-Site": "same-site"}):  # another port: another origin
            r = c.post("/api/colorize", files={"file": ("a.png", png)}, headers=headers)
            one_line_error(r, 403, "cross-origin request refused")
            one_line_error(c.post("/api/jobs", files={"file": ("a.mp4", b"x")}, headers=headers), 403)
        # the server's own page (same origin), and clients that are not browsers (no Origin), are served
        same = {"Origin": "http://127.0.0.1:8000", "Sec-Fetch-Site": "same-origin"}
        assert c.post("/api/colorize", files={"file": ("a.png", png)}, headers=same).status_code == 200
        assert c.post("/api/colorize", files={"file": ("a.png", png)}).status_code == 200
        assert c.get("/api/health", headers={"Origin": "http://evil.example"}).status_code == 200  # reads are not work
        # its own page behind a reverse proxy (which sends its own Host), and a default port written out (a review)
        proxied = {"Origin": "https://colorize.example.org", "X-Forwarded-Host": "colorize.example.org"}
        assert c.post("/api/colorize", files={"file": ("a.png", png)}, headers=proxied).status_code == 200
        assert c.post("/api/colorize", files={"file": ("a.png", png)},
                      headers={"Origin": "http://localhost", "Host": "localhost:80"}).status_code == 200
    with client(hint_col, token="t") as c:  # with a token, the token keeps other pages out (they cannot send it)
        r = c.post("/api/colorize", files={"file": ("a.png", png)},
                   headers={"Origin": "https://colorize.example.org", "Authorization": "Bearer t"})
        assert r.status_code == 200


def test_the_page_behind_a_proxy_that_passes_the_servers_own_host_can_post(hint_col):
    """nginx's plain `proxy_pass http://127.0.0.1:8000/;` sends the server's own Host and no X-Forwarded-Host:
    the page at https://office/vidcolor/ had 403 on every photo and clip, its browser saying Sec-Fetch-Site:
    same-origin all along (an IT admin's test). The browser's word (a page cannot set it) is taken; without
    it an Origin that matches no Host is still refused, and a foreign page's word still refuses."""
    png = encode(gray_image(), "PNG")
    office = {"Origin": "https://office", "Host": "127.0.0.1:8000"}
    with client(hint_col) as c:
        r = c.post("/api/colorize", files={"file": ("a.png", png)}, headers={**office, "Sec-Fetch-Site": "same-origin"})
        assert r.status_code == 200, r.text
        r = c.post("/api/jobs", files={"file": ("a.mp4", b"")}, headers={**office, "Sec-Fetch-Site": "same-origin"})
        one_line_error(r, 400, "empty file")  # past the gate: the clip itself is looked at
        for headers in (office, {**office, "Sec-Fetch-Site": "cross-site"}, {**office, "Sec-Fetch-Site": "same-site"},
                        {"Origin": "null", "Sec-Fetch-Site": "same-origin"}):
            one_line_error(c.post("/api/colorize", files={"file": ("a.png", png)}, headers=headers), 403, "cross-origin")


def test_uploads_under_way_at_once_are_capped(hint_col):
    app = create_app(hint_col, ServeConfig(job_queue_size=1))
    slots = app.user_middleware  # outermost first
    try:
        gate = next(m for m in slots if m.cls.__name__ == "UploadSlots")
        assert gate.kwargs["slots"] == {"/api/colorize": 8 + 1 + 2, "/api/jobs": 1 + 2}
    finally:
        app.state.worker.stop()
    from vidcolor.serve.gate import UploadSlots

    entered, release = [], asyncio.Event

    async def scenario():
        hold = release()

        async def inner(scope, receive, send):
            entered.append(1)
            await hold.wait()
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b""})

        mw = UploadSlots(inner, {"/api/jobs": 2})
        answers = []

        async def one():
            sent = []

            async def send(m):
                sent.append(m)
            await mw({"type": "http", "method": "POST", "path": "/api/jobs", "headers": []}, None, send)
            answers.append(sent[0]["status"])

        tasks = [asyncio.create_task(one()) for _ in range(3)]
        while len(entered) + len(answers) < 3:
            await asyncio.sleep(0.01)
        assert answers == [429] and len(entered) == 2
        hold.set()
        await asyncio.gather(*tasks)
        return answers

    assert sorted(asyncio.run(scenario())) == [200, 200, 429]


def test_a_clip_sent_to_a_full_job_queue_is_refused_before_its_body_is_read(hint_col, tmp_path):
    """A full job queue answered 429 only once the whole clip had come in and been stored (a 500 MB film waited for
    its upload to be refused; a deployer's test): FastAPI parses the form before a route or its dependencies run.
    Now the gate asks the queue as the request arrives: a client that waits for 100 Continue sends nothing, and one
    that sends at once has the 429 written before a byte of its body is read (the rest is read and dropped)."""
    gate = threading.Event()
    app = create_app(hint_col, ServeConfig(job_queue_size=1))
    worker = app.state.worker
    try:
        worker.submit_job(gate.wait)  # runs
        wait_until(lambda: worker.waiting()["jobs"] == 0)
        worker.submit_job(lambda: None)  # waits: the queue is full
        body = b"--xx\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.mp4\"\r\n\r\n" + bytes(300_000) + b"\r\n--xx--\r\n"
        multipart = {"host": "127.0.0.1:8000", "content-type": "multipart/form-data; boundary=xx", "content-length": str(len(body))}
        status, answer, _ = asgi_call(app, "POST", "/api/jobs", {**multipart, "expect": "100-continue"})  # never read
        assert status == 429 and answer["detail"].startswith("busy: 1 video job requests are already waiting"), answer
        events = []

        async def receive():
            events.append("read")
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message):
            events.append(message["type"])
            if message["type"] == "http.response.start":
                events.append(message["status"])
        scope = {"type": "http", "method": "POST", "path": "/api/jobs", "raw_path": b"/api/jobs", "query_string": b"",
                 "headers": [(k.encode(), v.encode()) for k, v in multipart.items()], "http_version": "1.1",
                 "scheme": "http", "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 5000), "root_path": ""}
        asyncio.run(app(scope, receive, send))
        assert events[:3] == ["http.response.start", 429, "http.response.body"] and "read" in events, events
        gate.set()
        wait_until(lambda: worker.waiting()["jobs"] == 0)
        clip = write_video(tmp_path / "clip.mp4", w=64, h=48, frames=4, audio=None)
        with client_of(app) as c:  # room again: the clip is taken
            assert c.post("/api/jobs", files={"file": ("clip.mp4", clip.read_bytes())}).status_code == 202
    finally:
        gate.set()
        worker.stop()


def client_of(app):
    from fastapi.testclient import TestClient

    return TestClient(app, base_url="http://127.0.0.1:8000")


def test_hints_are_capped_and_checked_against_the_photo_before_queueing(hint_col):
    png = encode(gray_image(h=40, w=60), "PNG")
    many = {"points": [{"x": 1, "y": 1, "color": "#ff0000"}] * 1001}
    gate = threading.Event()
    with client(hint_col) as c:
        t0 = time.perf_counter()
        one_line_error(post(c, png, hints=many), 422, "1001 points entries, over this server's limit of 1000")
        assert time.perf_counter() - t0 < 5
        blocker = c.app.state.worker.submit_photo(gate.wait)  # the model thread is busy: a queued request would wait
        wait_until(lambda: c.app.state.worker.waiting()["photos"] == 0)
        outside = {"points": [{"x": 80, "y": 10, "color": "#ff0000"}]}
        one_line_error(post(c, png, hints=outside), 422, "points[0] at (80, 10) is outside the 60x40 image")
        gate.set()
        blocker.result(10)


def test_failed_jobs_do_not_evict_a_done_one(hint_col, tmp_path):
    with client(hint_col, keep_jobs=1) as c:
        jobs = c.app.state.jobs

        def ended(i: int, error: Exception | None) -> Job:
            folder = tmp_path / f"job{i}"
            folder.mkdir()
            job = Job(jobs.epoch + f"{i:012x}", f"{i:064x}", 1.0, folder, folder / "a.mp4", folder / "b.mp4", 10)
            jobs._add(job)
            fut = Future()
            fut.set_exception(error) if error else fut.set_result(None)
            jobs._finish(job, fut)
            return job

        good = ended(0, None)
        for i in range(1, FAILED_KEPT + 3):
            ended(i, RuntimeError("garbled"))
        assert c.get(f"/api/jobs/{good.id}").json()["state"] == "done" and good.folder.is_dir()
        one_line_error(c.get(f"/api/jobs/{jobs.epoch}{1:012x}"), 404, "removed to make room")  # the oldest failure's record
        assert c.get(f"/api/jobs/{jobs.epoch}{FAILED_KEPT + 2:012x}").json()["error"] == "garbled"
        newer = ended(999, None)
        assert not good.folder.exists() and c.get(f"/api/jobs/{newer.id}").status_code == 200
        one_line_error(c.get(f"/api/jobs/{good.id}"), 404, "removed to make room", "last 1 done jobs")


def test_a_job_id_from_before_a_restart_is_named_so(hint_col):
    with client(hint_col) as c:
        other = "0000" if c.app.state.jobs.epoch != "0000" else "ffff"
        one_line_error(c.get(f"/api/jobs/{other}0123456789ab"), 404, "before the server restarted")
        one_line_error(c.get(f"/api/jobs/{other}0123456789ab/result"), 404, "before the server restarted")
        one_line_error(c.get("/api/jobs/nonsense"), 404, "unknown id")


def test_a_404_repeats_at_most_the_start_of_a_long_id(hint_col):
    """A 5,000-character id came back whole in its 404 (GET, result and DELETE alike)."""
    long_id = "a" * 5000
    with client(hint_col) as c:
        for r in (c.get(f"/api/jobs/{long_id}"), c.get(f"/api/jobs/{long_id}/result"), c.delete(f"/api/jobs/{long_id}")):
            detail = one_line_error(r, 404, f"no job {'a' * 40!r}... (5,000 characters): unknown id")
            assert len(detail) < 120, detail
        one_line_error(c.get("/api/jobs/" + "b" * 40), 404, f"no job {'b' * 40!r}: unknown id")  # short enough: whole


def test_video_frames_over_the_pixel_limit_are_refused_from_the_header(hint_col, tmp_path):
    clip = write_video(tmp_path / "clip.mp4", w=64, h=48, frames=4, audio=None)
    with client(hint_col, max_megapixels=0.003) as c:  # 3,000 pixels; the clip has 3,072
        r = c.post("/api/jobs", files={"file": ("a.mp4", clip.read_bytes())})
        one_line_error(r, 413, "frames are 64x48, 3,072 pixels, over the limit", "--max-megapixels")


def test_a_server_on_another_loopback_address_answers_to_it(hint_col):
    with client(hint_col, host="127.0.0.2") as c:
        assert c.get("/api/health", headers={"host": "127.0.0.2:8000"}).status_code == 200
        one_line_error(c.get("/api/health", headers={"host": "evil.example"}), 400, "not a loopback name")
    with client(hint_col, host="0:0:0:0:0:0:0:1") as c:  # the browser writes it compressed, in brackets
        assert c.get("/api/health", headers={"host": "[::1]:8000"}).status_code == 200


def test_a_truncated_multipart_body_is_a_truncated_upload(hint_col):
    png = encode(gray_image(), "PNG")
    cut = b'--xx\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\n' + png[:60]
    with client(hint_col) as c:
        for path in ("/api/colorize", "/api/jobs"):
            r = c.post(path, content=cut, headers={"Content-Type": "multipart/form-data; boundary=xx"})
            one_line_error(r, 400, "truncated upload")
        whole = cut[:-60] + png + b"\r\n--xx--\r\n"
        assert c.post("/api/colorize", content=whole, headers={"Content-Type": "multipart/form-data; boundary=xx"}).status_code == 200
        epilogue = whole + b"an epilogue after the closing delimiter, which the standard allows" * 3  # (a review)
        assert c.post("/api/colorize", content=epilogue, headers={"Content-Type": "multipart/form-data; boundary=xx"}).status_code == 200


def test_a_cancelled_waiting_task_holds_no_place_and_never_runs():
    w = ModelWorker(photo_slots=1, job_slots=1)
    gate, ran = threading.Event(), []
    try:
        w.submit_photo(gate.wait)
        wait_until(lambda: w.waiting()["photos"] == 0)
        fut = w.submit_photo(lambda: ran.append("abandoned"))
        assert w.waiting()["photos"] == 1 and fut.cancel()
        assert w.waiting()["photos"] == 0
        later = w.submit_photo(lambda: ran.append("later"))  # was Busy: the abandoned one kept its place
        gate.set()
        later.result(10)
        assert ran == ["later"]
    finally:
        gate.set()
        w.stop()


def test_a_photo_request_whose_client_left_is_dropped_from_the_queue(hint_col):
    png = encode(gray_image(), "PNG")
    app = create_app(hint_col, ServeConfig())
    worker, gate = app.state.worker, threading.Event()
    with LiveServer(app) as srv:
        blocker = worker.submit_photo(gate.wait)
        wait_until(lambda: worker.waiting()["photos"] == 0)
        body = b'--xx\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\n' + png + b"\r\n--xx--\r\n"
        with socket.create_connection(("127.0.0.1", srv.port)) as s:
            s.sendall(b"POST /api/colorize HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=xx\r\n"
                      + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
            wait_until(lambda: worker.waiting()["photos"] == 1)
        wait_until(lambda: worker.waiting()["photos"] == 0, timeout=10)  # the client left: its place is freed
        gate.set()
        blocker.result(10)


def test_a_stalled_upload_is_ended_and_frees_its_slot():
    """Eleven uploads declaring more than they sent held every /api/colorize slot (429 for everyone) and
    kept a SIGTERMed server alive for as long as their clients kept the sockets open (an operator's
    test, 2026-11-27). An upload silent for the idle time gets 408 and its slot back."""
    from vidcolor.serve.gate import UploadSlots

    async def reader(scope, receive, send):  # reads the body as Starlette does; gives up on a disconnect
        while True:
            m = await receive()
            if m["type"] == "http.disconnect" or not m.get("more_body"):
                return

    mw = UploadSlots(reader, {"/api/colorize": 1}, idle_s=0.2)
    sent, calls = [], 0

    async def receive():
        nonlocal calls
        calls += 1
        if calls == 1:
            return {"type": "http.request", "body": b"x" * 100, "more_body": True}
        await asyncio.sleep(3600)  # the client sends nothing more

    async def send(m):
        sent.append(m)

    t0 = time.monotonic()
    asyncio.run(mw({"type": "http", "method": "POST", "path": "/api/colorize", "headers": []}, receive, send))
    assert time.monotonic() - t0 < 5 and mw.busy["/api/colorize"] == 0
    assert sent[0]["status"] == 408 and b"upload stalled: no data for 0.2 s" in sent[1]["body"], sent


def test_a_killed_servers_job_folder_is_removed_by_the_next_server(tmp_path):
    """A SIGKILLed server left its job folder (the upload, the work, the result) in the temporary
    directory for good; a restart did not clean it (an operator's test, 2026-11-27)."""
    import subprocess
    import sys

    from vidcolor.serve.jobs import OWNER_FILE, remove_abandoned_job_folders
    from vidcolor.serve.tasks import TEMP_PREFIX

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    folders = {}
    here = os.readlink("/proc/self/ns/pid")
    for name, owner in (("dead", f"{dead.stdout.strip()} {here}"), ("alive", f"{os.getpid()} {here}"), ("nopid", None),
                        ("elsewhere", f"{dead.stdout.strip()} pid:[1]")):  # another container's: its pids mean nothing here
        f = tmp_path / f"{TEMP_PREFIX}jobs-{name}"
        (f / "job-1").mkdir(parents=True)
        if owner is not None:
            (f / OWNER_FILE).write_text(owner)
        folders[name] = f
    assert remove_abandoned_job_folders(tmp_path) == [folders["dead"]]
    assert not folders["dead"].exists() and all(folders[n].exists() for n in ("alive", "nopid", "elsewhere"))


def test_a_stalled_upload_to_the_real_app_gets_the_408(hint_col, monkeypatch):
    """FastAPI answered the stall's disconnect with its own 400 "There was an error parsing the body",
    so the 408 never went (a review of the fix)."""
    from vidcolor.serve import gate

    monkeypatch.setattr(gate, "UPLOAD_IDLE_S", 0.3)
    app = create_app(hint_col, ServeConfig())
    head = (b'--XX\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n'
            b"Content-Type: image/png\r\n\r\n" + b"\x89PNG" + b"0" * 1000)
    sent, calls = [], 0

    async def receive():
        nonlocal calls
        calls += 1
        if calls == 1:
            return {"type": "http.request", "body": head, "more_body": True}
        await asyncio.sleep(3600)

    async def send(m):
        sent.append(m)

    scope = {"type": "http", "method": "POST", "path": "/api/colorize", "raw_path": b"/api/colorize", "query_string": b"",
             "headers": [(b"host", b"127.0.0.1:8000"), (b"content-type", b"multipart/form-data; boundary=XX"),
                         (b"content-length", str(len(head) + 100000).encode())],
             "scheme": "http", "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 5000), "http_version": "1.1", "root_path": ""}
    try:
        asyncio.run(asyncio.wait_for(app(scope, receive, send), 20))
    finally:
        app.state.worker.stop()
    assert sent[0]["status"] == 408 and b"upload stalled: no data for 0.3 s" in sent[1]["body"], sent[:2]


def test_an_upload_dripping_in_is_ended_once_it_falls_under_the_least_rate(hint_col, monkeypatch):
    """Two clients sending one byte every 4 s, never idle for the 30 s the stall check waits, held their
    upload slots (429 for everyone else) for as long as they liked (a new user's test, --queue-size 1).
    Past its first UPLOAD_SLOW_AFTER_S, an upload must average UPLOAD_MIN_RATE (here 0.5 s and 10 kB/s)."""
    from vidcolor.serve import gate

    monkeypatch.setattr(gate, "UPLOAD_IDLE_S", 0.3)
    monkeypatch.setattr(gate, "UPLOAD_SLOW_AFTER_S", 0.5)
    monkeypatch.setattr(gate, "UPLOAD_MIN_RATE", 10_000)
    app = create_app(hint_col, ServeConfig(queue_size=1))
    head = b'--XX\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\nContent-Type: image/png\r\n\r\n'

    def run(chunk: bytes, every: float, count: int) -> tuple[list, float]:
        sent, calls = [], 0

        async def receive():  # `chunk` every `every` seconds: never idle for UPLOAD_IDLE_S
            nonlocal calls
            calls += 1
            if calls > 1:
                await asyncio.sleep(every)
            if calls > count:
                await asyncio.sleep(3600)
            body = head if calls == 1 else chunk
            return {"type": "http.request", "body": body + (b"\r\n--XX--\r\n" if calls == count else b""),
                    "more_body": calls < count}

        async def send(m):
            sent.append(m)

        scope = {"type": "http", "method": "POST", "path": "/api/colorize", "raw_path": b"/api/colorize", "query_string": b"",
                 "headers": [(b"host", b"127.0.0.1:8000"), (b"content-type", b"multipart/form-data; boundary=XX")],
                 "scheme": "http", "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 5000), "http_version": "1.1", "root_path": ""}
        t0 = time.monotonic()
        asyncio.run(asyncio.wait_for(app(scope, receive, send), 20))
        return sent, time.monotonic() - t0

    try:
        sent, took = run(b"x" * 10, 0.1, 10_000)  # 100 bytes a second, for ever
        assert sent[0]["status"] == 408 and b"upload too slow" in sent[1]["body"] and b"past its first 0.5 s" in sent[1]["body"], sent[:2]
        assert took < 2
        sent, _ = run(b"x" * 5000, 0.1, 15)  # 50 kB/s for 1.5 s, past the first 0.5 s: read whole, and answered
        assert sent[0]["status"] == 415 and b"not an image" in sent[1]["body"], sent[:2]
    finally:
        app.state.worker.stop()


@pytest.mark.parametrize("refused", ["token", "cross-site", "busy"])
def test_a_refused_client_that_stops_sending_its_body_is_not_waited_for(hint_col, monkeypatch, refused):
    """A refused request's body is read and dropped, so that a client still sending gets the status; that read
    had no time limit (the stall check covers only requests past the gates), so a client that declared a body
    under the limit and stopped sending held its connection and a server task for as long as it liked (a review).
    The drain keeps an upload's pace now: UPLOAD_IDLE_S without data (here 0.3 s) ends it, and the connection."""
    from vidcolor.serve import gate

    monkeypatch.setattr(gate, "UPLOAD_IDLE_S", 0.3)
    if refused == "busy":
        monkeypatch.setattr(ModelWorker, "jobs_full", lambda self: "the job queue is full")
    app = create_app(hint_col, ServeConfig(token="tok" if refused == "token" else None))
    headers = {"token": "", "cross-site": "Sec-Fetch-Site: cross-site\r\n", "busy": ""}[refused]
    status = {"token": 401, "cross-site": 403, "busy": 429}[refused]
    try:
        with LiveServer(app) as srv, socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
            s.sendall(f"POST /api/jobs HTTP/1.1\r\nHost: 127.0.0.1:{srv.port}\r\n{headers}"
                      "Content-Type: multipart/form-data; boundary=XX\r\nContent-Length: 100000\r\n\r\n".encode()
                      + b"--XX\r\n" + b"x" * 1000)  # then nothing more
            t0, answer = time.monotonic(), b""
            while chunk := s.recv(65536):  # until the server closes the connection (a timeout fails the test)
                answer += chunk
            assert time.monotonic() - t0 < 5
        assert answer.startswith(f"HTTP/1.1 {status} ".encode()), answer[:200]
    finally:
        app.state.worker.stop()
