"""The FastAPI app behind ``vpstudio serve``: cloud-style speaker identification jobs, offline.

Every ``/v1`` route needs ``Authorization: Bearer <token>``; ``/docs`` and
``/openapi.json`` describe the API and hold no data. Errors are the engine's typed
errors as ``{"error": {"type", "message", "location", ...}}`` with the HTTP code of
:data:`STATUS_FOR_TYPE`. Long work (identify, voiceprint) is a job: the POST answers
202 with the job record at once, ``GET /v1/jobs/{id}`` follows it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from engine import __version__
from engine.audio import IDENTIFICATION_LIMITS, VOICEPRINT_LIMITS
from engine.errors import Conflict, NotFound, SizeLimitExceeded, ValidationError, VPError
from engine.server import inputs, tasks
from engine.server.auth import check_bearer, load_or_create_token
from engine.server.jobs_store import JobStore
from engine.server.pool import WorkerPool
from engine.server.webhooks import WebhookSender, check_webhook_url

STATUS_FOR_TYPE: dict[str, int] = {
    "request.validation-error": 400,
    "voiceprint.invalid": 400,
    "voiceprint.model-mismatch": 400,
    "auth.unauthorized": 401,
    "resource.not-found": 404,
    "resource.conflict": 409,
    "request.size-limit-exceeded": 413,
    "file.permission-denied": 403,
    "server.busy": 503,
    "library.busy": 503,
    "library.read-only": 503,
    "model.unavailable": 503,
    "library.disk-full": 507,
}
MAX_COMPARE_LIST = 50_000
MAX_COMPARE_PRODUCT = 1_000_000
# a JSON body may carry base64 media (4/3 of its bytes) plus a little else
MAX_BODY_BYTES = IDENTIFICATION_LIMITS.max_bytes * 4 // 3 + 16 * 1024 * 1024


def status_for(error: VPError) -> int:
    """The HTTP status of a typed error: 422 for unreadable media / no speech, else the table."""
    if error.type in STATUS_FOR_TYPE:
        return STATUS_FOR_TYPE[error.type]
    if error.type.startswith("media."):
        return 422
    return 500


@dataclass(frozen=True)
class ServerConfig:
    """How the server runs.

    Attributes:
        workers: job worker threads (identify and voiceprint jobs run at most this many at once).
        max_queued: jobs waiting for a worker beyond which a submit answers 503.
        allowed_webhook_hosts: webhook hosts allowed besides loopback (``"*"``: any).
        prune_after_s: ended jobs older than this are deleted (at start and on each submit).
        webhook_backoff_s: first retry delay of a failed webhook delivery (doubles each retry).
        token: the bearer token; default :func:`~engine.server.auth.load_or_create_token`.
    """

    workers: int = 1
    max_queued: int = 100
    allowed_webhook_hosts: tuple[str, ...] = ()
    prune_after_s: float = 7 * 24 * 3600.0
    webhook_backoff_s: float = 1.0
    token: str | None = None


@dataclass
class _State:
    config: ServerConfig
    token: str
    store: JobStore
    pool: WorkerPool
    webhooks: WebhookSender
    library: Any
    interrupted_at_start: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


# -- request bodies -------------------------------------------------------------------------
class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class VoiceprintItem(_Body):
    label: str = Field(min_length=1, max_length=200, description="name used in the output")
    voiceprint: str = Field(description="base64 voiceprint (as GET /v1/speakers or a "
                                        "voiceprint job gives)")


class IdentifyRequest(_Body):
    url: str | None = Field(None, description="local path or file:// URL of the recording")
    content: str | None = Field(None, description="the recording itself, base64")
    voiceprints: list[VoiceprintItem] | None = Field(
        None, description="speakers to look for; default: the whole local library")
    speakerIds: list[str] | None = Field(None, description="names of enrolled speakers")
    numSpeakers: int | None = Field(None, ge=1, le=100)
    minSpeakers: int | None = Field(None, ge=1, le=100)
    maxSpeakers: int | None = Field(None, ge=1, le=100)
    confidence: bool = Field(False, description="add the confidence track {score, resolution}")
    threshold: float | None = Field(None, ge=0, le=100, description="0-100 score to name "
                                                                    "a speaker")
    labelStyle: Literal["pyannote", "deepaffects"] = Field(
        "pyannote", description="deepaffects: unknown speakers are UserNotIdentified")
    channelMode: Literal["mix", "split"] = "mix"
    channels: list[Annotated[int, Field(ge=0)]] | None = None
    webhook: str | None = Field(None, description="URL POSTed the job record when it ends")


class VoiceprintRequest(_Body):
    url: str | None = None
    content: str | None = None
    channelMode: Literal["mix", "split"] = "mix"
    channels: list[Annotated[int, Field(ge=0)]] | None = None
    webhook: str | None = None


class CompareRequest(_Body):
    a: list[str | VoiceprintItem] = Field(description="base64 voiceprints (or {label, "
                                                      "voiceprint})")
    b: list[str | VoiceprintItem]


# -- helpers ----------------------------------------------------------------------------------
def _error_response(error: VPError, status: int | None = None) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if error.type == "auth.unauthorized" else None
    return JSONResponse({"error": error.to_dict()}, status_code=status or status_for(error),
                        headers=headers)


def _decode(items: list[str | VoiceprintItem], name: str) -> tuple[list[str], list[Any]]:
    from engine.voiceprint import Voiceprint

    labels: list[str] = []
    vps: list[Any] = []
    for i, item in enumerate(items):
        text = item if isinstance(item, str) else item.voiceprint
        try:
            vps.append(Voiceprint.from_base64(text))
        except VPError as exc:
            exc.location = f"{name}[{i}]"
            raise
        labels.append(str(i) if isinstance(item, str) else item.label)
    return labels, vps


def _check_channels(mode: str, channels: list[int] | None) -> None:
    if channels is not None and mode != "split":
        raise ValidationError("channels picks the channels of channelMode 'split'.",
                              location="channels")
    if channels is not None and not channels:
        raise ValidationError("channels is empty.", location="channels")


def _speaker_json(info: Any) -> dict[str, Any]:
    return dataclasses.asdict(info)


_bearer = HTTPBearer(auto_error=False)


def _authorized(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> _State:
    """The server state, once the request's bearer token checks out (else 401)."""
    st: _State = request.app.state.vp
    header = f"{credentials.scheme} {credentials.credentials}" if credentials else None
    check_bearer(header, st.token)
    return st


Auth = Annotated[_State, Depends(_authorized)]


def create_app(config: ServerConfig | None = None) -> FastAPI:
    """The app; its jobs store, worker pool and library open when it starts (lifespan)."""
    config = config or ServerConfig()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from engine.encoder import ECAPA_MODEL_ID  # no torch import until a model loads
        from engine.library import Library

        token = config.token or load_or_create_token()
        store = JobStore()
        interrupted = store.interrupt_active()  # left over from a server that died
        shutil.rmtree(inputs.upload_dir(), ignore_errors=True)  # their uploads
        store.prune(config.prune_after_s)
        webhooks = WebhookSender(store, token, backoff_s=config.webhook_backoff_s)
        pool = WorkerPool(store, workers=config.workers, max_queued=config.max_queued,
                          on_finished=webhooks.send)
        library = Library(expected_model_id=ECAPA_MODEL_ID)
        app.state.vp = _State(config, token, store, pool, webhooks, library, interrupted)
        try:
            yield
        finally:
            store.interrupt_active()  # first: the cancels below must not read as "canceled"
            pool.shutdown()
            webhooks.close()
            library.close()
            store.close()

    app = FastAPI(
        title="Voiceprint Studio local API",
        version=__version__,
        description="Speaker identification jobs served from this machine: submit, poll or "
        "receive a webhook. Every /v1 route needs `Authorization: Bearer <token>` "
        "(`vpstudio serve --print-token`).",
        lifespan=lifespan,
    )
    @app.exception_handler(VPError)
    async def _vp_error(request: Request, exc: VPError) -> JSONResponse:
        return _error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {}
        loc = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        return _error_response(ValidationError(
            f"{first.get('msg', 'Invalid request')}" + (f" ({loc})" if loc else "") + ".",
            location=loc or None,
            context={"errors": [{"loc": [str(p) for p in e.get("loc", ())],
                                 "msg": str(e.get("msg", ""))} for e in errors[:20]]},
        ))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 404:
            err: VPError = NotFound(f"There is no route {request.url.path}.",
                                    location=request.url.path)
        else:
            err = VPError(str(exc.detail), type="request.invalid")
        return _error_response(err, exc.status_code)

    @app.middleware("http")
    async def _body_limit(request: Request, call_next: Any) -> Any:
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > MAX_BODY_BYTES:
            return _error_response(SizeLimitExceeded(
                f"The request body is {length} bytes; at most {MAX_BODY_BYTES} are allowed.",
                detail="media.too-large",
                context={"body_size": int(length), "max_body_size": MAX_BODY_BYTES},
            ))
        return await call_next(request)

    def _submit(st: _State, kind: str, fn: Any, media: inputs.MediaFile,
                webhook: str | None) -> JSONResponse:
        st.store.prune(st.config.prune_after_s)
        job_id = st.store.create(kind, webhook)
        try:
            st.pool.submit(job_id, fn, cleanup=media.cleanup)
        except VPError:
            st.store.delete(job_id)
            media.cleanup()
            raise
        return JSONResponse(st.store.get(job_id), status_code=202)

    # -- routes -----------------------------------------------------------------------------
    @app.post("/v1/identify", status_code=202, tags=["jobs"],
              summary="Diarize a recording and name its speakers (a job)")
    def post_identify(body: IdentifyRequest, st: Auth) -> JSONResponse:
        webhook = (check_webhook_url(body.webhook, st.config.allowed_webhook_hosts)
                   if body.webhook else None)
        _check_channels(body.channelMode, body.channels)
        if body.voiceprints is not None and body.speakerIds is not None:
            raise ValidationError("Give voiceprints or speakerIds, not both.",
                                  location="voiceprints")
        lo, hi, num = body.minSpeakers, body.maxSpeakers, body.numSpeakers
        if lo is not None and hi is not None and lo > hi:
            raise ValidationError("minSpeakers is larger than maxSpeakers.",
                                  location="minSpeakers")
        if num is not None and ((lo is not None and num < lo) or (hi is not None and num > hi)):
            raise ValidationError("numSpeakers is outside [minSpeakers, maxSpeakers].",
                                  location="numSpeakers")
        voiceprints = _identify_voiceprints(st, body)
        options = {k: v for k, v in (("num_speakers", num), ("min_speakers", lo),
                                     ("max_speakers", hi), ("threshold", body.threshold))
                   if v is not None}
        media = inputs.resolve(body.url, body.content, IDENTIFICATION_LIMITS)
        fn = tasks.identify_job(media.path, voiceprints, options=options,
                                confidence=body.confidence, label_style=body.labelStyle,
                                channel_mode=body.channelMode, channels=body.channels)
        return _submit(st, "identify", fn, media, webhook)

    @app.post("/v1/voiceprint", status_code=202, tags=["jobs"],
              summary="Extract a voiceprint (one per channel with split) (a job)")
    def post_voiceprint(body: VoiceprintRequest, st: Auth) -> JSONResponse:
        webhook = (check_webhook_url(body.webhook, st.config.allowed_webhook_hosts)
                   if body.webhook else None)
        _check_channels(body.channelMode, body.channels)
        media = inputs.resolve(body.url, body.content, VOICEPRINT_LIMITS)
        fn = tasks.voiceprint_job(media.path, channel_mode=body.channelMode,
                                  channels=body.channels)
        return _submit(st, "voiceprint", fn, media, webhook)

    @app.post("/v1/compare", tags=["voiceprints"], summary="Score two voiceprint lists")
    def post_compare(body: CompareRequest, st: Auth) -> dict[str, Any]:
        from engine.compare import compare

        for name, items in (("a", body.a), ("b", body.b)):
            if len(items) > MAX_COMPARE_LIST:  # before decoding any of them
                raise SizeLimitExceeded(
                    f"{name} holds {len(items)} voiceprints; at most {MAX_COMPARE_LIST}.",
                    location=name, context={"length": len(items),
                                            "max_length": MAX_COMPARE_LIST})
        if len(body.a) * len(body.b) > MAX_COMPARE_PRODUCT:
            raise SizeLimitExceeded(
                f"{len(body.a)} x {len(body.b)} scores are more than {MAX_COMPARE_PRODUCT}.",
                location="b", context={"product": len(body.a) * len(body.b),
                                       "max_product": MAX_COMPARE_PRODUCT})
        labels_a, a = _decode(body.a, "a")
        labels_b, b = _decode(body.b, "b")
        result = compare(a, b, max_list=MAX_COMPARE_LIST, max_product=MAX_COMPARE_PRODUCT)
        return {
            "a": labels_a,
            "b": labels_b,
            "modelId": a[0].model_id,
            "score": [[round(float(x), 3) for x in row] for row in result.score],
            "cosine": [[round(float(x), 6) for x in row] for row in result.cosine],
        }

    @app.get("/v1/jobs/{job_id}", tags=["jobs"], summary="A job: status, progress, output")
    def get_job(job_id: str, st: Auth) -> dict[str, Any]:
        record = st.store.get(job_id)
        if record is None:
            raise NotFound(f"There is no job {job_id}.", location="jobId")
        return record

    @app.get("/v1/jobs", tags=["jobs"], summary="Recent jobs, newest first (no outputs)")
    def list_jobs(st: Auth, limit: Annotated[int, Query(ge=1, le=100)] = 20,
                  offset: Annotated[int, Query(ge=0)] = 0) -> dict[str, Any]:
        items, total = st.store.recent(limit=limit, offset=offset)
        return {"items": items, "total": total, "limit": limit, "offset": offset}

    @app.delete("/v1/jobs/{job_id}", tags=["jobs"], summary="Cancel a pending or running job")
    def cancel_job(job_id: str, st: Auth) -> dict[str, Any]:
        record = st.store.get(job_id)
        if record is None:
            raise NotFound(f"There is no job {job_id}.", location="jobId")
        # the record says canceled at once; the worker stops at its next cancel check
        if not st.store.finish(job_id, "canceled", message="Canceled"):
            raise Conflict(f"Job {job_id} has already ended ({record['status']}).",
                           location="jobId", context={"status": record["status"]})
        st.pool.cancel(job_id)
        if record["status"] == "pending":
            st.webhooks.send(job_id)  # a pending job never reaches a worker's on_finished
        return st.store.get(job_id) or record

    @app.get("/v1/speakers", tags=["voiceprints"], summary="Enrolled speakers")
    def list_speakers(st: Auth, include: Annotated[str | None, Query(
            description="'voiceprints' adds each speaker's base64 voiceprint")] = None,
                      ) -> dict[str, Any]:
        if include not in (None, "voiceprints"):
            raise ValidationError("include can only be 'voiceprints'.", location="include")
        out = []
        for info in st.library.list_speakers():
            item = _speaker_json(info)
            if include == "voiceprints" and info.num_enrollments:
                item["voiceprint"] = st.library.voiceprint(info.id).to_base64()
            out.append(item)
        return {"speakers": out}

    return app


def _identify_voiceprints(st: _State, body: IdentifyRequest) -> dict[str, Any]:
    """label -> Voiceprint: the request's own, the named library speakers, or the library."""
    from engine.encoder import ECAPA_MODEL_ID

    out: dict[str, Any] = {}
    if body.voiceprints is not None:
        labels, vps = _decode(list(body.voiceprints), "voiceprints")
        for i, (label, vp) in enumerate(zip(labels, vps, strict=True)):
            if label in out:
                raise ValidationError(f"The label {label!r} is given twice.",
                                      location=f"voiceprints[{i}].label")
            out[label] = vp
    elif body.speakerIds is not None:
        for i, name in enumerate(body.speakerIds):
            try:
                info = st.library.find(name)
            except NotFound as exc:
                exc.location = f"speakerIds[{i}]"
                raise
            if not info.num_enrollments:
                raise ValidationError(f"{info.name!r} has no enrollments.",
                                      location=f"speakerIds[{i}]")
            out[info.name] = st.library.voiceprint(info.id)
    else:
        # keyed by name, in library order, as `vpstudio identify` (ids renamed to names)
        vps = st.library.voiceprints(ECAPA_MODEL_ID)
        names = st.library.names(vps)
        out = {names.get(k, k): v for k, v in vps.items()}
    for label, vp in out.items():
        if vp.model_id != ECAPA_MODEL_ID:
            from engine.errors import ModelMismatch

            raise ModelMismatch(
                f"Voiceprint {label!r} was made with model {vp.model_id!r}; this server "
                f"identifies with {ECAPA_MODEL_ID!r}.", location="voiceprints")
    return out
