"""The server's own log (the `vidcolor.serve` logger): why each request was refused or failed.

uvicorn's access log gives a status line per request ("POST /api/colorize 413") and no reason, so an operator
told "it refused my photo" could not see why (an operator's test). `RequestLog`, the outermost middleware, adds
one line to every answer of 400 or more: the reason the client was given, the client's address, and the file
name as sent (escaped: a name is the client's text, and a newline in it would forge a log line of its own) with
its size. An exception nothing answered is logged once, with its traceback, and its client gets one line of
JSON (it got Starlette's plain-text "Internal Server Error").

`LOG_CONFIG` is uvicorn's own logging set-up with a timestamp on every line, uvicorn's access lines and this
logger's on stderr alike (uvicorn sent its access lines to stdout), so that a journal or a file holds them in
order; `serve.run` hands it to uvicorn. Tests and apps that create the app themselves keep their own logging.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from urllib.parse import quote

from vidcolor.serve import PHOTO_GRACE_S, SHUTDOWN_S

log = logging.getLogger("vidcolor.serve")
SENT = "vidcolor.sent"  # the scope key of a request's `Sent`
NAME_SHOWN = 120  # characters of a client's file name a log line repeats
REASON_BYTES = 4096  # of a refusal's body, read for its reason

FORMAT = "%(asctime)s %(levelprefix)s %(message)s"
DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
LOG_CONFIG = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "default": {"()": "uvicorn.logging.DefaultFormatter", "fmt": FORMAT, "datefmt": DATE_FORMAT, "use_colors": None},
        "access": {"()": "uvicorn.logging.AccessFormatter", "datefmt": DATE_FORMAT,
                   "fmt": FORMAT.replace("%(message)s", '%(client_addr)s - "%(request_line)s" %(status_code)s')},
    },
    "handlers": {
        "default": {"formatter": "default", "class": "logging.StreamHandler", "stream": "ext://sys.stderr"},
        "access": {"formatter": "access", "class": "logging.StreamHandler", "stream": "ext://sys.stderr"},
    },
    "loggers": {
        "uvicorn": {"handlers": ["default"], "level": "INFO", "propagate": False},
        "uvicorn.error": {"level": "INFO"},
        "uvicorn.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
        # its own handler and no propagation: a root handler set up elsewhere would print each line twice
        "vidcolor.serve": {"handlers": ["default"], "level": "INFO", "propagate": False},
    },
}


def quoted(text: str | None, most: int = NAME_SHOWN) -> str:
    """A client's text (a file name) for a log line: quoted as Python does, every character that is not
    printable escaped (newlines, terminal escapes, bidi overrides), and cut past `most` characters."""
    if text is None:
        return "(none)"
    cut = f"... ({len(text):,} characters)" if len(text) > most else ""
    return repr(text[:most]) + cut


def one_line(text: str) -> str:
    """A reason for a log line: what is not printable escaped (a refusal may repeat what the client sent)."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


def client_of(scope) -> str:
    """The client's address as uvicorn gives it (behind a proxy, X-Forwarded-For where uvicorn trusts it)."""
    client = scope.get("client")
    if not client:
        return "an unknown client"
    host, port = client[0], client[1]
    return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"


@dataclass
class Sent:
    """What a request sent, as far as the server has read it: filled in by the app once the form is parsed."""

    client: str
    declared: int | None = None  # the body's Content-Length
    received: int = 0  # body bytes read so far
    name: str | None = None  # the file's name as sent (None: no file seen yet)
    size: int | None = None  # the file's own size

    def __str__(self) -> str:
        if self.size is not None:
            return f"from {self.client}, file {quoted(self.name)} ({self.size:,} bytes)"
        if self.declared is not None:
            read = "" if self.received == self.declared else f", {self.received:,} read"
            return f"from {self.client}, body of {self.declared:,} bytes{read}"
        return f"from {self.client}" + (f", body of {self.received:,} bytes" if self.received else "")


def note_file(scope, name: str | None, size: int | None) -> None:
    """Record the uploaded file's name and size for the request's log line."""
    sent = scope.get(SENT)
    if sent is not None:
        sent.name, sent.size = name, size


def sent_by(scope) -> Sent:
    """The request's `Sent` (one made up where RequestLog is not in front: a test's own app)."""
    return scope.get(SENT) or Sent(client_of(scope))


def internal_error(method: str, path: str, e: BaseException) -> str:
    """What the client of a request that failed unexpectedly is told: no traceback, no server paths."""
    return f"internal error while answering {method} {path} ({type(e).__name__}); the server's log has the details"


class RequestLog:
    """ASGI middleware, outermost: one log line for each answer of 400 or more, and a JSON 500 for an
    exception no handler answered (its traceback logged once: it is not passed on, so uvicorn does not log it too)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = next((v for k, v in scope.get("headers", []) if k == b"content-length"), b"").decode("latin-1")
        sent = scope[SENT] = Sent(client_of(scope), int(declared) if declared.isdigit() else None)
        status, said = None, b""

        async def counted():
            message = await receive()
            if message["type"] == "http.request":
                sent.received += len(message.get("body", b""))
            return message

        async def watched(message):
            nonlocal status, said
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and status >= 400 and len(said) < REASON_BYTES:
                said += message.get("body", b"")
            await send(message)

        request = f"{scope['method']} {quote(scope.get('root_path', '') + scope['path'])}"  # as uvicorn's access log
        try:
            await self.app(scope, counted, watched)
        except Exception as e:
            try:
                if status is None:  # nothing answered yet
                    body = json.dumps({"detail": internal_error(scope["method"], scope["path"], e)}).encode()
                    await send({"type": "http.response.start", "status": 500,
                                "headers": [(b"content-type", b"application/json"),
                                            (b"content-length", str(len(body)).encode()), (b"connection", b"close")]})
                    await send({"type": "http.response.body", "body": body})
            finally:  # after the answer, as a refusal's line follows its access line
                log.error("failed %s %s: %s", request, sent, type(e).__name__, exc_info=e)
            return
        if status is not None and status >= 400:
            log_refusal(request, status, sent, reason(said))


def reason(body: bytes) -> str:
    """The one-line reason of a refusal's body ({"detail": "..."}), or its text."""
    text = body[:REASON_BYTES].decode("utf-8", "replace")
    try:
        detail = json.loads(text).get("detail")
    except (ValueError, AttributeError):
        detail = None
    return one_line(str(detail) if detail is not None else text.strip() or "(no reason given)")


def log_refusal(request: str, status: int, sent: Sent, why: str) -> None:
    if status == 499:  # the client went away: nothing was refused
        log.info("gone %s %s: the client closed the connection before its answer", request, sent)
    elif status >= 500 and status != 503:  # the server's own failure (507: its disk is full); 503: it is stopping
        log.error("failed %d %s %s: %s", status, request, sent, why)
    else:
        log.warning("refused %d %s %s: %s", status, request, sent, why)


def startup_lines(colorizer, config, pid: int) -> list[str]:
    """What the server says once at start, for an operator reading its log: the model and the weights it
    serves, the device, the limits it holds requests to, and how to stop it (uvicorn says where it listens)."""
    model = colorizer.model
    sha = getattr(model, "weights_sha256", None)
    weights = f"weights {sha[:16]} ({getattr(model, 'weights_path', 'path not known')})" if sha else "untrained weights"
    c = config
    return [f"model {model.arch_name}, {weights}, on {colorizer.device}, work size {colorizer.work_size}, "
            f"hint inputs {'yes' if colorizer.accepts_hints else 'no'}; model id {colorizer.model_id}",
            f"limits: photos {c.max_image_mb:g} MB and {c.max_megapixels:g} Mpx, {c.queue_size} waiting at most; clips "
            f"{c.max_video_mb:g} MB, {c.max_video_seconds:g} s and {c.max_video_frames:,} frames, {c.job_queue_size} "
            f"waiting at most, the last {c.keep_jobs} results kept; token {'required' if c.token else 'not required'}",
            f"to stop: Ctrl-C, or SIGTERM (kill {pid}; systemctl stop): waiting work is answered 503, a running photo "
            f"has {PHOTO_GRACE_S:g} s and a running clip stops at its next batch, and the process exits within about "
            f"{SHUTDOWN_S:g} s"]
