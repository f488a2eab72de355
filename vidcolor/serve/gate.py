"""What a request must pass before the app reads its body: ASGI middleware, outermost first.

- `LoopbackHostOnly`: on a loopback address, a Host that is not a loopback name is refused (400), so a
  page elsewhere cannot reach the server by rebinding its own name to 127.0.0.1.
- `SameOriginWrites`: a POST from a page of another origin is refused (403). A multipart form POST
  needs no CORS preflight, so without this any site the user visits could start work on a server
  that has no token (the default on loopback), fill its queues and evict the user's results.
- `BearerToken`: with --token, an /api request without it is refused (401) before its body is read.
  FastAPI parses a form before it resolves the router's dependencies, so a client without the token
  could make the server spool a whole upload (up to --max-video-mb) to disk first.
- `UploadSlots`: at most a few uploads stream in at once per endpoint, beyond what its queue holds
  (429 at once, as a full queue answers), so parallel uploads cannot fill the disk.

Every refusal is one line of JSON, as the app's own refusals are.
"""
from __future__ import annotations

import ipaddress
import json
import secrets
from urllib.parse import urlsplit

from starlette.datastructures import Headers

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
UPLOADS_BEYOND_QUEUE = 2  # uploads streaming in at once beyond the requests an endpoint's queue holds


async def refuse(send, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
    """Answer with one line of JSON and close the connection (the body may be left unread)."""
    body = json.dumps({"detail": detail}).encode()
    extra = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close"), *extra]})
    await send({"type": "http.response.body", "body": body})


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


class SameOriginWrites:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["method"] not in SAFE_METHODS:
            h = Headers(scope=scope)
            origin, site = h.get("origin"), (h.get("sec-fetch-site") or "").lower()
            # Sec-Fetch-Site "same-site" is another port of the same host: another origin all the same
            foreign_site = site in ("cross-site", "same-site")
            foreign_origin = origin is not None and (origin == "null" or urlsplit(origin).netloc.lower() != (h.get("host") or "").lower())
            if foreign_site or foreign_origin:
                return await refuse(send, 403, f"cross-origin request refused: a page at {origin or 'another site'} cannot "
                                               "send work to this server (use its own page, or a client that is not a browser)")
        await self.app(scope, receive, send)


class BearerToken:
    def __init__(self, app, token: str | None, prefix: str = "/api/"):
        self.app, self.token, self.prefix = app, token, prefix

    async def __call__(self, scope, receive, send):
        if self.token is not None and scope["type"] == "http" and scope["path"].startswith(self.prefix):
            scheme, _, given = (Headers(scope=scope).get("authorization") or "").partition(" ")
            if scheme.lower() != "bearer" or not secrets.compare_digest(given.strip().encode(), self.token.encode()):
                return await refuse(send, 401, "missing or wrong bearer token (Authorization: Bearer TOKEN)",
                                    {"WWW-Authenticate": "Bearer"})
        await self.app(scope, receive, send)


class UploadSlots:
    def __init__(self, app, slots: dict[str, int]):
        self.app, self.slots = app, slots  # path -> uploads allowed at once
        self.busy = dict.fromkeys(slots, 0)

    async def __call__(self, scope, receive, send):
        path = scope.get("path") if scope["type"] == "http" and scope.get("method") == "POST" else None
        if path not in self.slots:
            return await self.app(scope, receive, send)
        if self.busy[path] >= self.slots[path]:
            return await refuse(send, 429, f"busy: {self.busy[path]} requests to {path} are already under way; "
                                           "try again shortly", {"Retry-After": "1"})
        self.busy[path] += 1  # one event loop: no lock needed between the check and the count
        try:
            await self.app(scope, receive, send)
        finally:
            self.busy[path] -= 1
