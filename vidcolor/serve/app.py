"""The FastAPI app: the page at /, the JSON API under /api, its OpenAPI docs at /docs."""
from __future__ import annotations

import asyncio
import json
import os
import time
from contextlib import asynccontextmanager
from importlib.resources import files

from fastapi import APIRouter, Depends, FastAPI, File, Form, Request, UploadFile
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.security import HTTPBearer
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, UploadFile as FormFile
from starlette.exceptions import HTTPException

from vidcolor.colorizer import Colorizer
from vidcolor.errors import InputError, VidcolorError
from vidcolor.hints import decode_hints
from vidcolor.serve import PHOTO_GRACE_S, STOP_WAIT_S, ServeConfig
from vidcolor.serve.gate import UPLOADS_BEYOND_QUEUE, BearerToken, LoopbackHostOnly, SameOriginWrites, UploadSlots
from vidcolor.serve.jobs import JobStore
from vidcolor.serve.logs import RequestLog, note_file, sent_by
from vidcolor.serve.tasks import colorize_upload
from vidcolor.serve.uploads import (FORM_SLACK, BodyLimit, RequestError, check_strength, no_room, out_of_room, output_ext, parse_hints,
                                    sniff_image)
from vidcolor.serve.worker import Busy, ModelWorker, Stopped

SMALL_BODY = 64 * 1024
# What each refusal means, for the OpenAPI docs; each route lists the ones it answers with. Every route had the
# upload endpoints' list: GET /api/jobs/{id} promised 413, 415 and 429 and never named its 404, the result's 409
# was missing, and no route named 403, 408 or 503 (a new user's test).
REFUSALS = {400: "corrupt or truncated upload, a multipart body cut short, or no file in it; a hints palette given "
                 "to a model without hint inputs",
            401: "missing or wrong bearer token (only when the server has one)",
            403: "a POST or DELETE from a page of another origin (only when the server has no token)",
            404: "no such job: unknown, removed (by a DELETE, or to make room), or from before a restart",
            408: "the upload stalled, or came in too slowly",
            409: "the job is not done (queued, running, failed or cancelled)",
            416: "a Range that starts past the end of the result (its Content-Range, bytes */SIZE, gives the size)",
            413: "upload over the size, pixel or duration limit", 415: "not an image / not a video, or not multipart",
            422: "bad hints, strength or format, or a form field the endpoint does not take",
            429: "the model's queue is full, or too many uploads under way: try again after Retry-After",
            503: "the server is shutting down",
            507: "the server has no room to store the upload or its colorized copy (its temporary folder's disk is full)"}
UPLOAD_REFUSALS = (400, 403, 408, 413, 415, 422, 429, 503, 507)


def errors(*codes: int) -> dict:
    return {code: {"description": REFUSALS[code],
                   "content": {"application/json": {"example": {"detail": "one line saying why"}}}} for code in codes}


def create_app(colorizer: Colorizer, config: ServeConfig) -> FastAPI:
    worker = ModelWorker(config.queue_size, config.job_queue_size)
    jobs = JobStore(worker, colorizer, config)
    page = files("vidcolor.serve").joinpath("static/index.html").read_text(encoding="utf-8")

    @asynccontextmanager
    async def lifespan(app):
        yield
        # a photo the model still runs then is not waited for (the thread ends with the process); its temporary
        # folder, like the jobs', is under jobs.root, which close() removes
        await run_in_threadpool(worker.stop, STOP_WAIT_S)  # (STOP_WAIT_S counted from begin_shutdown)
        jobs.close()

    app = FastAPI(title="vidcolor", version=_version(), lifespan=lifespan,
                  description="Colorize black-and-white photos and short clips. Errors are `{\"detail\": \"one line\"}`.")
    app.state.worker, app.state.jobs, app.state.colorizer = worker, jobs, colorizer
    # The token itself is checked by the BearerToken middleware, before a body is read (gate.py); this only
    # describes the scheme in the OpenAPI docs.
    bearer = HTTPBearer(auto_error=False, description="Only when the server was started with --token.")

    api = APIRouter(prefix="/api", dependencies=[Depends(bearer)], responses=errors(401))

    @api.get("/health", summary="Health check, the model and the server's limits")
    def health() -> dict:
        return {"status": "ok", "model": colorizer.model_id, "arch": colorizer.model.arch_name,
                "accepts_hints": True, "hint_inputs": colorizer.accepts_hints, "work_size": colorizer.work_size,
                "strength": colorizer.strength, "device": str(colorizer.device), "waiting": worker.waiting(),
                "limits": {"max_image_mb": config.max_image_mb, "max_megapixels": config.max_megapixels,
                           "max_video_mb": config.max_video_mb, "max_video_seconds": config.max_video_seconds,
                           "max_video_frames": config.max_video_frames,
                           "queue_size": config.queue_size, "job_queue_size": config.job_queue_size}}

    @api.post("/colorize", summary="Colorize one photo", response_class=Response,
              dependencies=[noted_file(), only_fields("file", "hints", "strength", "format")],
              responses={200: {"content": {"image/jpeg": {}, "image/png": {}, "image/tiff": {}, "image/webp": {}, "image/bmp": {}},
                               "description": "the colorized photo: the input's format, size and bit depth"},
                         **errors(*UPLOAD_REFUSALS)})
    async def colorize(
        request: Request,
        file: UploadFile = File(..., description="JPEG, PNG, TIFF, WebP or BMP"),
        # a text field or a file part (curl -F hints=@photo.hints.json), as a --hints file is sent either way
        hints: str | UploadFile | None = Form(None, description='hints JSON, as a --hints file: {"points": [{"x": 10, "y": 20, "color": "#3a6ea5"}]}'),
        strength: float | None = Form(None, description="colour strength, 0 (gray) to 3, as --strength; 1 is as trained"),
        format: str | None = Form(None, description="answer in this format instead of the input's (png, jpg, ...)"),
    ) -> Response:
        if hints is not None and not isinstance(hints, str):  # a file part: the body limit bounds its size
            try:
                hints = decode_hints(await hints.read())  # as a --hints file is read
            except UnicodeDecodeError:
                raise RequestError(422, "hints: the file is not UTF-8 or UTF-16 text") from None
        parsed = await run_in_threadpool(parse_hints, hints)
        if parsed and parsed.palette and not colorizer.accepts_hints:  # hint points work with any network
            raise RequestError(400, f"hints: model {colorizer.model.arch_name} has no hint inputs for a palette; "
                                    "start the server with weights trained with hints (--weights)")
        s = check_strength(strength, colorizer.strength)
        data = await file.read()
        if len(data) > config.max_image_bytes:  # the file itself, the form's other fields not counted
            raise RequestError(413, f"file is {len(data):,} bytes, over the limit of {config.max_image_bytes:,} bytes "
                                    f"({config.max_image_mb:g} MB, --max-image-mb)")
        up = await run_in_threadpool(sniff_image, data, config.max_megapixels * 1e6)
        ext = output_ext(format, up)
        if parsed:  # before it takes a place in the queue
            try:
                parsed.check_inside(*up.displayed, "hints")
            except InputError as e:
                raise RequestError(422, str(e)) from None
        res = await unless_gone(request, worker.submit_photo(lambda: colorize_upload(colorizer, up, parsed, s, ext, jobs.root)),
                                worker)
        headers = {"X-Vidcolor-Sha256": up.sha256, "X-Vidcolor-Seconds": f"{res.seconds:.3f}",
                   "X-Vidcolor-Orientation": str(up.orientation),  # the page's "before" is the server's when not 1
                   "Content-Disposition": f'inline; filename="colorized-{up.sha256[:12]}{ext}"'}
        if res.notes:  # JSON, so that a note's every character reaches the client (a header carries only ASCII safely)
            headers["X-Vidcolor-Notes"] = json.dumps(res.notes)
        if res.colour is not None:  # both numbers, as a batch run's skip note gives them
            headers["X-Vidcolor-Colour-Score"] = f"{res.colour.score:.1f}"
            headers["X-Vidcolor-ToneNet"] = f"{res.colour.logit:.1f}"
        return Response(res.data, media_type=res.media_type, headers=headers)

    @api.post("/jobs", summary="Start colorizing a short clip", status_code=202,
              dependencies=[noted_file(), only_fields("file", "strength")], responses=errors(*UPLOAD_REFUSALS))
    async def create_job(
        request: Request,
        file: UploadFile = File(..., description="a short video clip"),
        strength: float | None = Form(None, description="colour strength, 0 (gray) to 3, as --strength; 1 is as trained"),
    ) -> dict:
        s = check_strength(strength, colorizer.strength)
        return await run_in_threadpool(jobs.create, file.file, s, str(sent_by(request.scope)))

    @api.get("/jobs/{job_id}", summary="A job's state and progress", responses=errors(404))
    def job_state(job_id: str) -> dict:
        return jobs.view(job_id)

    @api.delete("/jobs/{job_id}", summary="Cancel a job, or remove a finished job's result", responses=errors(403, 404))
    async def cancel_job(job_id: str) -> dict:
        return await run_in_threadpool(jobs.cancel, job_id)

    @api.get("/jobs/{job_id}/result", summary="A finished job's video", response_class=FileResponse,
             responses={200: {"content": {"video/mp4": {}, "video/x-matroska": {}},
                              "description": "the colorized clip: MP4 for an MP4 upload, Matroska for any other"},
                        **errors(404, 409, 416)})
    def job_result(job_id: str) -> FileResponse:
        path, media, name = jobs.result(job_id)
        return ResultFile(path, media_type=media, filename=name, stat_result=os.stat(path))

    @app.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
    def index() -> HTMLResponse:
        return HTMLResponse(page)

    # HEAD as GET answers it, headers only (uvicorn sends no body; a result's file is not read): every HEAD was
    # 405, so `curl -I`, a download manager's size check and an uptime monitor's HEAD / all failed (a new user's test)
    for path, endpoint in (("/health", health), ("/jobs/{job_id}", job_state), ("/jobs/{job_id}/result", job_result)):
        api.add_api_route(path, endpoint, methods=["HEAD"], include_in_schema=False)
    app.include_router(api)
    _add_error_handlers(app)
    # Middleware, innermost first (vidcolor/serve/gate.py): every check here comes before the body is read.
    # BodyLimit measures the whole multipart form, so its refusal says so: it had said "upload of 50.1 MB is over the
    # limit of 50 MB" of a body under 50 MB of file plus FORM_SLACK, and "upload is over the limit" of a file it never
    # measured (a deployer's test); the file alone is measured by the route (photos) and JobStore (clips)
    limits = {"/api/colorize": form_limit(config.max_image_bytes, f"{config.max_image_mb:g} MB (--max-image-mb)"),
              "/api/jobs": form_limit(config.max_video_bytes, f"{config.max_video_mb:g} MB (--max-video-mb)")}
    # A route's slash form (/api/colorize/) has the route's limit: FastAPI redirects it (307) to the route, and a
    # photo over 64 KB was refused as over the limit of "64 KB" instead (a new user's test)
    app.add_middleware(BodyLimit, limit_for=lambda path: limits.get(path.rstrip("/"), (SMALL_BODY, "this endpoint takes no upload")))
    drain = max(limit for limit, _ in limits.values())  # a refused body is read and dropped up to this
    app.add_middleware(UploadSlots, slots={"/api/colorize": config.queue_size + 1 + UPLOADS_BEYOND_QUEUE,
                                           "/api/jobs": config.job_queue_size + UPLOADS_BEYOND_QUEUE}, drain_limit=drain,
                       # photos are not refused so: the photo queue drains in a second or two, often before an upload is in
                       queue_full={"/api/jobs": worker.jobs_full})
    app.add_middleware(BearerToken, token=config.token, drain_limit=drain)
    app.add_middleware(SameOriginWrites, token=config.token, drain_limit=drain)
    if config.is_loopback:  # a page on another site cannot reach us by rebinding its name to 127.0.0.1
        app.add_middleware(LoopbackHostOnly, listen_host=config.host)
    app.add_middleware(RequestLog)  # outermost: it sees every refusal above, and every exception none answered
    return app


def form_limit(file_bytes: int, file_limit: str) -> tuple[int, str]:
    """(bytes, what they are) of an upload endpoint's whole request body: the file's limit and room for the form."""
    return file_bytes + FORM_SLACK, f"{file_limit} for the file plus {FORM_SLACK // 1024} KB for the rest of the form"


async def unless_gone(request: Request, fut, worker: ModelWorker, poll: float = 0.5):
    """The result of a queued task, or, once the client has gone, the task cancelled: a photo still
    waiting is dropped (abandoned requests kept their places and ran, and real ones got 429 meanwhile);
    one the model runs already finishes. Once the server is stopping, a waiting photo is answered 503 at
    once (worker.stop fails it) and a running one after PHOTO_GRACE_S, before uvicorn's graceful wait
    (SHUTDOWN_S) runs out and it cancels the request."""
    waiting = asyncio.wrap_future(fut)
    deadline = None
    try:
        while True:
            done, _ = await asyncio.wait({waiting}, timeout=poll)
            if done:
                return waiting.result()
            if await request.is_disconnected():
                raise RequestError(499, "the client closed the connection")
            if worker.stopping:
                deadline = deadline or time.monotonic() + PHOTO_GRACE_S
                if time.monotonic() > deadline:
                    raise Stopped("the server is shutting down")
    except asyncio.CancelledError:  # uvicorn gave up waiting all the same: answered as above, not a 500 and a traceback
        if not worker.stopping:  # a cancellation for another reason is not called a shutdown (a review)
            raise
        raise Stopped("the server is shutting down") from None
    finally:  # (no-ops once it is done) a photo still waiting leaves the queue; a later result or error is dropped
        fut.cancel()
        waiting.cancel()


async def begin_shutdown(app: FastAPI) -> None:
    """What SIGTERM does first, before uvicorn waits for the requests under way: new work is refused and
    the photos and jobs waiting for the model are failed (503 to their clients at once); a running job
    stops at its next batch."""
    await run_in_threadpool(app.state.worker.stop, 0)


class ResultFile(FileResponse):
    """A finished job's video, whose Range requests are refused as every other request is, in one line of JSON:
    Starlette answered a range past the end with an empty text/plain 416 and a malformed one with a plain-text
    400 (a deployer's test). The 416 keeps its `Content-Range: bytes */SIZE` (RFC 9110, 15.5.17).

    FileResponse decides (Range on GET or HEAD, If-Range, the parse) and its refusal is rewritten on the way
    out, through ASGI's messages alone: its private helpers changed signature between Starlette releases, and
    a Starlette before 0.39 (which `fastapi>=0.110` allows) serves no Range at all, so it never refuses one."""

    async def __call__(self, scope, receive, send):
        asked = Headers(scope=scope).get("range") or ""
        refused: dict | None = None  # FileResponse's 400 or 416 start, held back
        said = b""

        async def as_json(message) -> None:
            nonlocal refused, said
            if message["type"] == "http.response.start" and message["status"] in (400, 416):
                refused = message
                return
            if refused is None:
                return await send(message)
            said += message.get("body", b"")
            if message.get("more_body"):
                return
            # the size as FileResponse gave it, in its 416's Content-Range (bytes */SIZE), not from its attributes
            ranges = [v.decode("latin-1") for k, v in refused.get("headers", []) if k.lower() == b"content-range"]
            size = next((int(r.rsplit("/", 1)[1]) for r in ranges if r.rsplit("/", 1)[-1].isdigit()), None)
            if refused["status"] == 416:
                sized = size is not None
                answer = JSONResponse({"detail": f"Range {asked[:40]!r} starts past the end of the result"
                                                 + (f" ({size:,} bytes)" if sized else "")},
                                      416, headers={"Content-Range": f"bytes */{size}"} if sized else None)
            else:  # a malformed Range
                why = said.decode("utf-8", "replace").strip() or "malformed"
                answer = JSONResponse({"detail": f"bad Range header {asked[:40]!r}: {why}"}, 400)
            await answer(scope, receive, send)

        await super().__call__(scope, receive, as_json)


def _add_error_handlers(app: FastAPI) -> None:
    def one_line(status: int, detail: str, headers: dict | None = None) -> JSONResponse:
        return JSONResponse({"detail": detail}, status_code=status, headers=headers)

    @app.exception_handler(RequestError)
    async def _request(request: Request, e: RequestError):
        return one_line(e.status, str(e))

    @app.exception_handler(HTTPException)
    async def _http(request: Request, e: HTTPException):
        if out_of_room(e.__cause__):  # FastAPI's 400 "There was an error parsing the body": the spool had no room
            return await _request(request, no_room("upload", e.__cause__))
        return await http_exception_handler(request, e)

    @app.exception_handler(Busy)
    async def _busy(request: Request, e: Busy):
        return one_line(429, str(e), {"Retry-After": "1"})

    @app.exception_handler(Stopped)
    async def _stopped(request: Request, e: Stopped):
        return one_line(503, str(e))

    @app.exception_handler(VidcolorError)
    async def _vidcolor(request: Request, e: VidcolorError):
        return one_line(400 if isinstance(e, InputError) else 500, str(e))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, e: RequestValidationError):
        first = e.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path"))
        if where == "file":  # no upload: a JSON or raw image body got 422 "file: Field required", and a form
            # without a file leaked pydantic's "Expected UploadFile, received: <class 'str'>" (a new user's test)
            if kind := not_multipart(request):
                return one_line(415, f"the body is {kind}: {SEND_MULTIPART}")
            return one_line(400, "file: no file uploaded; send it in a multipart field named 'file' (curl -F file=@photo.jpg ...)")
        return one_line(422, f"{where}: {first.get('msg', 'invalid')}" if where else first.get("msg", "invalid request"))


def _version() -> str:
    from vidcolor import __version__

    return __version__


SEND_MULTIPART = "send the file as multipart/form-data in a field named 'file' (curl -F file=@photo.jpg ...)"


def not_multipart(request: Request) -> str | None:
    """The request body's content type where it is not a multipart form (else None)."""
    kind = request.headers.get("content-type", "").split(";")[0].strip() or "no content type"
    return None if kind.lower() == "multipart/form-data" else kind  # (media types ignore case)


def noted_file():
    """The uploaded file's name (as sent) and size, for the request's log line (vidcolor/serve/logs.py); first among
    an upload endpoint's dependencies, so that a refusal by those after it names the file too."""
    async def note(request: Request) -> None:
        if not_multipart(request) is None:
            upload = (await request.form()).get("file")  # parsed already, before any dependency runs
            if isinstance(upload, FormFile):  # (Starlette's: FastAPI's UploadFile is a subclass the form never holds)
                note_file(request.scope, upload.filename, upload.size)
    return Depends(note)


def only_fields(*names: str):
    """A form field the endpoint does not take is refused (422, one line naming it) rather than ignored:
    a misspelt `strenght=2` gave the default strength without a word, and hints sent to /api/jobs
    were dropped. So is a field given twice, or empty."""
    async def check(request: Request) -> None:
        if kind := not_multipart(request):  # 415 whatever the fields: a urlencoded `x=1` got 422 "unknown field x",
            raise RequestError(415, f"the body is {kind}: {SEND_MULTIPART}")  # and `file=abc` 415 (a new user's test)
        form = await request.form()
        unknown = sorted(set(form.keys()) - set(names))
        if unknown:
            raise RequestError(422, f"unknown field{'s' * (len(unknown) > 1)} {', '.join(unknown)}; "
                                    f"{request.url.path} takes {', '.join(names)}")
        # two files (the first was dropped and the second colorized) or an empty value (taken as the default)
        if twice := sorted({k for k in form.keys() if len(form.getlist(k)) > 1}):
            raise RequestError(422, f"field{'s' * (len(twice) > 1)} {', '.join(twice)} given more than once; "
                                    f"{request.url.path} takes one of each")
        if empty := sorted(k for k, v in form.multi_items() if isinstance(v, str) and not v.strip()):
            raise RequestError(422, f"field{'s' * (len(empty) > 1)} {', '.join(empty)} empty; leave it out for the default")
    return Depends(check)
