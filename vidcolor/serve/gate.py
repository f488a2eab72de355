"""What a request must pass before the app reads its body: ASGI middleware, outermost first.

- `LoopbackHostOnly`: on a loopback address, a Host that is not a loopback name is refused (400), so a
  page elsewhere cannot reach the server by rebinding its own name to 127.0.0.1.
- `SameOriginWrites`: without a token, a POST from a page of another origin is refused (403): the
  browser's `Sec-Fetch-Site` says so, or (where it sends none: http:// pages) an `Origin` that matches neither
  Host nor X-Forwarded-Host. A multipart form POST needs no CORS preflight, so without this any site
  the user visits could start work on a server that has no token (the default on loopback), fill its
  queues and evict the user's results.
- `BearerToken`: with --token, an /api request without it is refused (401) before the form is
  parsed. FastAPI parses a form before it resolves the router's dependencies, so a client without
  the token could make the server spool a whole upload (up to --max-video-mb) to disk first.
- `UploadSlots`: a clip sent while the job queue is full is refused (429) before its body is read; at most a
  few uploads stream in at once per endpoint, beyond what its queue holds (429 at once, as a full queue
  answers), so parallel uploads cannot fill the disk; an upload that sends
  nothing for UPLOAD_IDLE_S is ended with 408, so stalled clients cannot hold the slots (eleven held
  every slot for as long as they kept their sockets open, and kept a SIGTERMed server alive); so is one
  that, past its first UPLOAD_SLOW_AFTER_S, has sent less than UPLOAD_MIN_RATE a second on average (a
  byte every 4 s, never idle for long, held a slot for as long as its client liked).

Every refusal is one line of JSON, as the app's own refusals are; the body of a refused request is
read and dropped (nothing is written), so a client still sending gets the status, not a reset, at an
upload's pace (`Pace`): one that stops sending is not waited for past UPLOAD_IDLE_S.
"""
from __future__ import annotations

import asyncio
import ipaddress
import json
import secrets
import time
from typing import Callable
from urllib.parse import urlsplit

from starlette.datastructures import Headers

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
UPLOADS_BEYOND_QUEUE = 2  # uploads streaming in at once beyond the requests an endpoint's queue holds
UPLOAD_IDLE_S = 30.0  # an upload that sends nothing for this long is ended (408)
UPLOAD_MIN_RATE = 8 * 1024  # bytes a second: an upload slower than this on average is ended (408), once past
UPLOAD_SLOW_AFTER_S = 60.0  # its first this many seconds


class Pace:
    """The pace a request body must keep: no part waited for longer than `idle_s`, and, past its first
    `slow_after_s`, the body averaging `min_rate` bytes a second. An upload that falls behind is ended (408);
    a refused request's body, read and dropped, is dropped unread from there."""

    def __init__(self, idle_s: float, min_rate: float, slow_after_s: float):
        self.idle_s, self.min_rate, self.slow_after_s = idle_s, min_rate, slow_after_s
        self.t0, self.received, self.done = time.monotonic(), 0, False
        self.wait = idle_s  # how long the last `receive` waited at most

    async def receive(self, receive) -> dict | None:
        """The next message, or None where it did not come in time (`why` then says how)."""
        # the body must have come at min_rate on average by the time it is past slow_after_s
        slow_at = self.t0 + max(self.slow_after_s, self.received / self.min_rate)
        self.wait = self.idle_s if self.done else min(self.idle_s, slow_at - time.monotonic())
        try:
            message = await asyncio.wait_for(receive(), max(self.wait, 0.0))
        except asyncio.TimeoutError:
            return None
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            self.done = not message.get("more_body", False)
        return message

    def why(self) -> str:
        """Why the last `receive` gave up."""
        if self.wait >= self.idle_s:
            return f"upload stalled: no data for {self.idle_s:g} s"
        return (f"upload too slow: {self.received:,} bytes in {time.monotonic() - self.t0:.0f} s, under the "
                f"{self.min_rate / 1024:g} KB/s an upload must average past its first {self.slow_after_s:g} s")


def upload_pace() -> Pace:
    """The pace of UPLOAD_IDLE_S, UPLOAD_MIN_RATE and UPLOAD_SLOW_AFTER_S, as they are now."""
    return Pace(UPLOAD_IDLE_S, UPLOAD_MIN_RATE, UPLOAD_SLOW_AFTER_S)


async def refuse(send, status: int, detail: str, headers: dict[str, str] | None = None, receive=None,
                 drain_limit: int = 0, pace: Pace | None = None) -> None:
    """Answer with one line of JSON and close the connection. With `receive`, a body still coming is read
    and dropped after the answer is written (up to `drain_limit` bytes, none of it kept): answered unread, a
    client still sending an upload got a reset connection instead of the status (a review), and the page
    could not ask for the token on a 401. The answer goes first, so a client that reads while it sends (curl)
    stops sending at once; one that asked `Expect: 100-continue` (curl, for a body over 1 MB) is never told
    to send it (the server says "100 Continue" only once the body is read) and nothing is read. The body is read at
    `pace` (an upload's, by default): a client that declared a body and stopped sending had held the connection,
    and a server task, for as long as it kept its socket open (a review)."""
    body = json.dumps({"detail": detail}).encode()
    extra = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close"), *extra]})
    await send({"type": "http.response.body", "body": body, "more_body": receive is not None})
    if receive is not None:
        await drain(receive, drain_limit, pace or upload_pace())
        await send({"type": "http.response.body", "body": b""})


async def drain(receive, limit: int, pace: Pace) -> None:
    """Read and drop up to `limit` bytes of the body still coming, while it keeps `pace`."""
    while pace.received <= limit:
        message = await pace.receive(receive)
        if message is None or message["type"] != "http.request" or pace.done:
            return


def declared_over(scope, limit: int) -> bool:
    """Whether the request declares a body longer than `limit` (then it is not drained: closed unread)."""
    n = Headers(scope=scope).get("content-length")
    return n is not None and n.isdigit() and int(n) > limit


def expects_continue(scope) -> bool:
    """Whether the client waits for "100 Continue" before it sends its body (RFC 9110, 10.1.1): then a refusal
    needs to read nothing."""
    return (Headers(scope=scope).get("expect") or "").strip().lower() == "100-continue"


def host_name(header: str | None) -> str:
    """The name of a Host header, without its port: "127.0.0.1:8000" -> "127.0.0.1", "[::1]:80" -> "[::1]"."""
    value = (header or "").strip().lower()
    if value.startswith("["):
        return value[: value.find("]") + 1] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


def host_names(host: str) -> set[str]:
    """The names a browser puts in the Host header for a server listening on `host`: an IPv6 address
    bracketed and compressed ("0:0:0:0:0:0:0:1" -> "[::1]"), anything else lower-cased."""
    name = host.strip("[]").lower()
    try:
        ip = ipaddress.ip_address(name)
    except ValueError:
        return {name}
    return {f"[{ip.compressed}]", ip.compressed} if ip.version == 6 else {ip.compressed}


class LoopbackHostOnly:
    def __init__(self, app, listen_host: str = "127.0.0.1"):
        self.app = app
        self.allowed = LOOPBACK_HOSTS | host_names(listen_host)  # --host 127.0.0.2 answered 400 to every request

    async def __call__(self, scope, receive, send):
        if scope["type"] in ("http", "websocket"):
            host = host_name(Headers(scope=scope).get("host"))
            if host not in self.allowed:
                return await refuse(send, 400, f"Host {host or '(none)'!r} is not a loopback name: this server listens on "
                                               f"a loopback address and answers only to {', '.join(sorted(self.allowed))}")
        await self.app(scope, receive, send)


def _host_port(netloc: str, scheme: str) -> tuple[str, int | None]:
    """("name", port) of a Host header or an origin's netloc, the scheme's default port filled in."""
    parts = urlsplit(f"//{netloc.strip().lower()}")
    try:
        port = parts.port
    except ValueError:
        port = None
    return parts.hostname or "", port or {"http": 80, "https": 443}.get(scheme)


class _DrainingGate:
    """A gate whose refusals read and drop the body still coming (up to `drain_limit` bytes), unless the
    request declares more than that: then it is closed unread."""

    drain_limit: int = 0

    def pace(self) -> Pace:
        return upload_pace()

    async def refuse(self, scope, receive, send, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
        unread = declared_over(scope, self.drain_limit) or expects_continue(scope)
        await refuse(send, status, detail, headers, receive=None if unread else receive, drain_limit=self.drain_limit,
                     pace=self.pace())


class SameOriginWrites(_DrainingGate):
    """Without a token only: a page on another origin cannot add an Authorization header without a CORS
    preflight, which this server does not answer, so with --token the token already keeps it out, and
    the origin check would only refuse the server's own page behind a reverse proxy (which sends its
    own Host)."""

    def __init__(self, app, token: str | None = None, drain_limit: int = 0):
        self.app, self.token, self.drain_limit = app, token, drain_limit

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["method"] not in SAFE_METHODS and self.token is None:
            h = Headers(scope=scope)
            origin, site = h.get("origin"), (h.get("sec-fetch-site") or "").lower()
            # Sec-Fetch-Site "same-site" is another port of the same host: another origin all the same. "same-origin"
            # is the browser's own word (a page cannot set it) and stands whatever Host says: behind nginx's plain
            # proxy_pass the Host is the server's own 127.0.0.1:8000, and the page at https://office/vidcolor/ had
            # 403 on every photo (an IT admin's test). Where there is none (http:// pages) Origin is matched to Host.
            foreign = site in ("cross-site", "same-site") or (origin is not None and site != "same-origin"
                                                              and not self.same_origin(origin, h)) or origin == "null"
            if foreign:
                return await self.refuse(scope, receive, send, 403,
                                         f"cross-origin request refused: a page at {origin or 'another site'} cannot send "
                                         "work to this server (use its own page, or a client that is not a browser)")
        await self.app(scope, receive, send)

    @staticmethod
    def same_origin(origin: str, h: Headers) -> bool:
        if origin == "null":
            return False
        scheme = urlsplit(origin).scheme.lower()
        mine = _host_port(urlsplit(origin).netloc, scheme)
        hosts = [h.get("host") or ""] + [x.split(",")[0] for x in (h.get("x-forwarded-host"),) if x]
        return any(_host_port(x, scheme) == mine for x in hosts)


class BearerToken(_DrainingGate):
    def __init__(self, app, token: str | None, prefix: str = "/api/", drain_limit: int = 0):
        self.app, self.token, self.prefix, self.drain_limit = app, token, prefix, drain_limit

    async def __call__(self, scope, receive, send):
        if self.token is not None and scope["type"] == "http" and scope["path"].startswith(self.prefix):
            scheme, _, given = (Headers(scope=scope).get("authorization") or "").partition(" ")
            if scheme.lower() != "bearer" or not secrets.compare_digest(given.strip().encode(), self.token.encode()):
                return await self.refuse(scope, receive, send, 401, "missing or wrong bearer token (Authorization: Bearer TOKEN)",
                                         {"WWW-Authenticate": "Bearer"})
        await self.app(scope, receive, send)


class UploadSlots(_DrainingGate):
    def __init__(self, app, slots: dict[str, int], drain_limit: int = 0, idle_s: float | None = None,
                 min_rate: float | None = None, slow_after_s: float | None = None,
                 queue_full: dict[str, Callable[[], str | None]] | None = None):
        self.app, self.slots, self.drain_limit = app, slots, drain_limit  # path -> uploads allowed at once
        self.queue_full = queue_full or {}  # path -> why its queue takes no more work now (None: it does)
        self.idle_s = UPLOAD_IDLE_S if idle_s is None else idle_s
        self.min_rate = UPLOAD_MIN_RATE if min_rate is None else min_rate
        self.slow_after_s = UPLOAD_SLOW_AFTER_S if slow_after_s is None else slow_after_s
        self.busy = dict.fromkeys(slots, 0)

    def pace(self) -> Pace:
        return Pace(self.idle_s, self.min_rate, self.slow_after_s)

    async def __call__(self, scope, receive, send):
        path = scope.get("path") if scope["type"] == "http" and scope.get("method") == "POST" else None
        if path not in self.slots:
            return await self.app(scope, receive, send)
        # FastAPI parses the form (spooling the file) before a route's dependencies run, so a full queue is asked here:
        # a 500 MB clip sent to a full job queue was refused only once it had all come in (a deployer's test)
        if why := self.queue_full.get(path, lambda: None)():
            return await self.refuse(scope, receive, send, 429, why, {"Retry-After": "1"})
        if self.busy[path] >= self.slots[path]:
            return await self.refuse(scope, receive, send, 429, f"busy: {self.busy[path]} requests to {path} are already "
                                     "under way; try again shortly", {"Retry-After": "1"})
        self.busy[path] += 1  # one event loop: no lock needed between the check and the count
        stalled, started = None, False  # stalled: why the upload was ended
        pace = self.pace()

        async def receive_or_give_up():
            nonlocal stalled
            message = await pace.receive(receive)
            if message is None:
                stalled = pace.why()
                return {"type": "http.disconnect"}  # the app stops reading, as for a client that went away
            return message

        async def send_tracked(message):
            nonlocal started
            if stalled:  # the app's own answer to the disconnect (FastAPI: 400 "error parsing the body") is dropped
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive_or_give_up, send_tracked)
        finally:
            self.busy[path] -= 1
        if stalled and not started:
            await refuse(send, 408, stalled)
