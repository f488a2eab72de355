"""`vidcolor serve`: a local web page and JSON API over one Colorizer.

    from vidcolor.serve import ServeConfig, create_app
    app = create_app(load_colorizer(), ServeConfig())   # an ASGI app; `serve` runs it with uvicorn

FastAPI and uvicorn come with the optional extra `web` (pip install 'vidcolor[web]'); importing this
package does not need them, creating the app does.
"""
from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass

LOOPBACK_NAMES = {"localhost", "localhost.localdomain"}
LIMIT_MAX = 1e6  # the most any size or time limit takes (1 TB, a terapixel, 11.6 days): "no limit" in practice


@dataclass
class ServeConfig:
    """Everything `vidcolor serve` can be told; the CLI's defaults come from here."""

    host: str = "127.0.0.1"
    port: int = 8000
    token: str | None = None  # when set, every /api call needs `Authorization: Bearer <token>`
    max_image_mb: float = 50.0  # one photo upload
    max_megapixels: float = 100.0  # decoded size of one photo, checked from its header before decoding
    max_video_mb: float = 500.0  # one clip upload
    max_video_seconds: float = 120.0  # the page's video jobs are for short clips
    # frames of one clip, from its header before any decoding, and counted while it runs: 120 s at 60 fps. Seconds
    # alone let a clip of 120 s at 1000 fps (or one whose header lies) hold the one model thread for hours
    max_video_frames: int = 7200
    queue_size: int = 8  # photo requests waiting for the model; one more is answered 429
    job_queue_size: int = 2  # video jobs waiting for the model; one more is answered 429
    keep_jobs: int = 8  # finished jobs kept for download; the oldest's files are removed first

    def __post_init__(self):
        # a limit of inf was taken, and the server it made crashed: max_image_mb or max_video_mb inf with a traceback
        # at start (int(inf) bytes), max_video_seconds inf with a plain 500 on every clip (a web-studio tester's find);
        # and so did a finite one whose bytes or frames overflow (--max-image-mb 1e303: 1e309 bytes is inf)
        for name in ("max_image_mb", "max_megapixels", "max_video_mb", "max_video_seconds"):
            if not (math.isfinite(getattr(self, name)) and 0 < getattr(self, name) <= LIMIT_MAX):
                raise ValueError(f"{name} must be a finite number > 0 and at most {LIMIT_MAX:g}, got {getattr(self, name)}")
        for name in ("queue_size", "job_queue_size", "keep_jobs"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 1 <= self.max_video_frames <= LIMIT_MAX:
            raise ValueError(f"max_video_frames must be from 1 to {LIMIT_MAX:g}, got {self.max_video_frames}")

    @property
    def max_image_bytes(self) -> int:
        return int(self.max_image_mb * 1e6)

    @property
    def max_video_bytes(self) -> int:
        return int(self.max_video_mb * 1e6)

    @property
    def is_loopback(self) -> bool:
        return is_loopback(self.host)


def is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def create_app(colorizer, config: ServeConfig | None = None):
    """The FastAPI app serving `colorizer` (any vidcolor Colorizer: tests pass their own). WeightsError when
    the colour-photo detector, which judges every photo, is missing or corrupt (vidcolor.tone.check_tone_net);
    ModuleNotFoundError naming the `web` extra when FastAPI, uvicorn or python-multipart is not installed."""
    if missing := missing_web_modules():  # it was a bare "No module named 'fastapi'", which named no extra
        raise ModuleNotFoundError(f"vidcolor.serve.create_app needs {', '.join(missing)}: pip install 'vidcolor[web]'")
    from vidcolor.serve.app import create_app as _create
    from vidcolor.tone import check_tone_net

    check_tone_net()

    return _create(colorizer, config or ServeConfig())


# module -> the package that installs it: python-multipart's module is python_multipart, and `vidcolor serve` without it
# said "needs python_multipart", a name pip does not know (a web tester's find)
WEB_MODULES = {"fastapi": "fastapi", "uvicorn": "uvicorn", "python_multipart": "python-multipart"}
SHUTDOWN_S = 10  # how long SIGTERM waits for requests under way (uploads; the jobs' work is not a request)
PHOTO_GRACE_S = 5  # after SIGTERM, a photo the model is running has this long to finish, then its client gets 503
STOP_WAIT_S = 8  # the model thread is waited for until this long after SIGTERM (a job stops at its next batch); a
# photo still running then is left to end with the process


ALL_ADDRESSES = ("0.0.0.0", "::")


def token_problem(token: str | None) -> str | None:
    """Why `token` would make a server that refuses every request (one line), or None. HTTP drops white space
    around a header's value, and the server compares the bytes it gets: a token of non-ASCII characters came
    through neither from curl (UTF-8) nor from the page (Latin-1, and the browser throws on anything beyond it),
    so its server answered 401 to its own #token= link (a review)."""
    if token is None:
        return None
    if not token.strip():
        return "--token is empty or only white space (or VIDCOLOR_TOKEN is set to nothing); give a token, or leave it out"
    if token != token.strip():
        return ("--token (or VIDCOLOR_TOKEN) starts or ends with white space, which no Authorization header can "
                "carry (every request would be refused); remove it")
    if bad := next((c for c in token if not " " <= c <= "~"), None):
        return (f"--token (or VIDCOLOR_TOKEN) has the character {bad!r} (U+{ord(bad):04X}), which an Authorization "
                "header does not carry as typed (every request would be refused); use ASCII letters, digits and punctuation")
    return None


def page_links(host: str, port: int, token: str | None = None) -> list[str]:
    """The page's addresses to print, each with its #token= (percent-encoded: the page decodes it). On every
    address (0.0.0.0, ::) only the 127.0.0.1 link was printed, which colleagues on other machines cannot
    open (a new user's test): the machine's own name's comes second."""
    import socket
    from urllib.parse import quote

    tail = f":{port}/" + (f"#token={quote(token, safe='')}" if token else "")
    if host not in ALL_ADDRESSES:
        return [f"http://{f'[{host}]' if ':' in host and not host.startswith('[') else host}{tail}"]
    return [f"http://127.0.0.1{tail} (this machine)", f"http://{socket.gethostname()}{tail} (other machines)"]


def missing_web_modules() -> list[str]:
    """The packages of the `web` extra (as pip names them) whose modules are not installed (checked before the
    model loads)."""
    from importlib.util import find_spec

    return [package for module, package in WEB_MODULES.items() if find_spec(module) is None]


def listen_error(host: str, port: int) -> str | None:
    """Why uvicorn could not listen on host:port (taken, or not an address of this machine), found
    before the model loads; None if it can. Bound with SO_REUSEADDR, as uvicorn binds."""
    import socket

    name = host.strip("[]")
    try:
        family = socket.getaddrinfo(name, port, type=socket.SOCK_STREAM)[0][0]
        with socket.socket(family, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((name, port))
    except OSError as e:
        return f"{host}:{port}: cannot listen there ({e.strerror or e})"
    return None


def run(colorizer, config: ServeConfig) -> None:
    """Serve until interrupted (uvicorn on config.host:config.port)."""
    import copy
    import os
    import sys

    import uvicorn
    from uvicorn.main import STARTUP_FAILURE

    from vidcolor.serve.app import begin_shutdown
    from vidcolor.serve.logs import LOG_CONFIG, log, startup_lines

    app = create_app(colorizer, config)

    class Server(uvicorn.Server):
        async def shutdown(self, sockets=None) -> None:
            # uvicorn waits for the requests under way before it tells the app (lifespan): photos waiting for
            # the model were answered only once it gave up, with a plain-text 500 each (a new user's test)
            await begin_shutdown(app)
            await super().shutdown(sockets)

        async def startup(self, sockets=None) -> None:
            await super().startup(sockets)
            if self.started:  # after uvicorn's "Uvicorn running on ...": not said by a server that could not listen
                for line in startup_lines(colorizer, config, os.getpid()):
                    log.info("%s", line)

    # a bounded shutdown: SIGTERM waited for as long as any client kept a request open (an operator's test). The
    # log config (made here, as uvicorn makes its own) puts a time on every line, and the app's own lines beside
    # uvicorn's: they had gone to Python's last-resort handler, and refusals gave no reason at all (an operator's test)
    server = Server(uvicorn.Config(app, host=config.host, port=config.port, log_level="info",
                                   timeout_graceful_shutdown=SHUTDOWN_S, log_config=copy.deepcopy(LOG_CONFIG)))
    try:
        server.run()
    except KeyboardInterrupt:  # Ctrl-C, re-raised by uvicorn once it has shut down: stopped as asked (as uvicorn.run)
        pass
    if not server.started:  # as uvicorn.run ends
        sys.exit(STARTUP_FAILURE)


__all__ = ["ServeConfig", "create_app", "is_loopback", "missing_web_modules", "page_links", "run", "token_problem"]
