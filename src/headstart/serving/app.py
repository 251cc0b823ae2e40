"""create_app: a saved model directory as an HTTP service (FastAPI), a thin wrapper over Predictor.

Routes: ``POST /v1/predict``, ``POST /v1/generate`` (models that write; streamed as server-sent
events), ``POST /v1/embed``, ``GET /v1/model``, ``GET /healthz``, the page
at ``/`` and the OpenAPI docs at ``/docs``. Every error is JSON of one shape,
``{"error": {"code", "type", "message"}}``: 401 without the key, 413 past a limit, 422 for a
malformed body, 503 with ``Retry-After`` when the queue is full. One log line per request.

Example::

    app = create_app("model-dir", ServeConfig(api_key="s3cret"))
    # uvicorn.run(app)  -- or: headstart serve model-dir
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from headstart.artifacts import METRICS_FILE, versions
from headstart.errors import HeadstartError
from headstart.inference.embeddings import Embedder
from headstart.inference.predictor import Predictor
from headstart.serving.batcher import MicroBatcher, QueueFull
from headstart.serving.config import ServeConfig
from headstart.serving.page import page as render_page
from headstart.serving.schemas import (
    EmbedRequest,
    EmbedResponse,
    ErrorResponse,
    ModelResponse,
    generate_schema,
    predict_schemas,
)

logger = logging.getLogger("headstart.serve")
OPEN_PATHS = {"/", "/healthz", "/docs", "/openapi.json", "/docs/oauth2-redirect", "/redoc"}


class ApiError(Exception):
    def __init__(self, code: int, type: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.code, self.type, self.message, self.headers = code, type, message, headers


def _error(code: int, type: str, message: str, details: list[Any] | None = None, headers: Any = None) -> JSONResponse:
    body: dict[str, Any] = {"code": code, "type": type, "message": message}
    if details is not None:
        body["details"] = details
    return JSONResponse({"error": body}, status_code=code, headers=headers)


def create_app(model: str | Path | Predictor, config: ServeConfig | None = None) -> FastAPI:
    cfg = (config or ServeConfig()).validate()
    predictor = model if isinstance(model, Predictor) else Predictor.load(model)
    info = predictor.info
    spec = predictor.task.serving()  # the task's inputs, predictions and page view
    predict_request, predict_response = predict_schemas(spec.input_type, spec.prediction_type)
    page_html = render_page(spec.page_script)

    def run_predict(items: list[Any]) -> list[Any]:
        return spec.predict(predictor, items, cfg.max_batch)

    batcher = MicroBatcher(run_predict, max_batch=cfg.max_batch, wait=cfg.batch_wait_ms / 1000, max_queue=cfg.max_queue)
    embedders: dict[tuple[str, bool], MicroBatcher] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> Any:
        await batcher.start()
        logger.info("serving %s (%s, labels %s)", info.path, info.task, ", ".join(info.labels))
        yield
        for b in [batcher, *embedders.values()]:  # requests in flight finish first
            await b.stop()

    app = FastAPI(
        title="headstart",
        version=versions()["headstart"],
        description=f"A {info.task} model from {info.path.name}: predict, embed, and its facts.",
        lifespan=lifespan,
        responses={
            401: {"model": ErrorResponse},
            413: {"model": ErrorResponse},
            422: {"model": ErrorResponse},
            503: {"model": ErrorResponse},
        },
    )
    app.state.batcher = batcher
    app.add_middleware(_BodyLimit, max_bytes=cfg.max_body_bytes)  # type: ignore[arg-type]

    @app.middleware("http")
    async def auth_and_log(request: Request, call_next: Any) -> Any:
        started = time.perf_counter()
        if cfg.api_key and request.url.path not in OPEN_PATHS and not _authorized(request, cfg.api_key):
            response: Any = _error(
                401,
                "unauthorized",
                "expected an API key in 'Authorization: Bearer KEY' or 'X-API-Key: KEY'; "
                + ("found a wrong key" if _given_key(request) else "found none"),
                headers={"WWW-Authenticate": "Bearer"},
            )
        else:
            response = await call_next(request)
        n = getattr(request.state, "n_texts", None)
        logger.info(
            "%s %s %s %d%s %.1f ms",
            request.client.host if request.client else "-",
            request.method,
            request.url.path,
            response.status_code,
            f" {n} texts" if n is not None else "",
            (time.perf_counter() - started) * 1000,
        )
        return response

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return _error(exc.code, exc.type, exc.message, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        details = [{"loc": list(e.get("loc", [])), "msg": e.get("msg")} for e in exc.errors()][:20]
        return _error(422, "invalid_request", _validation_message(details, spec.input_help), details)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(exc.status_code, "http_error", str(exc.detail))

    @app.exception_handler(HeadstartError)
    async def headstart_error(request: Request, exc: HeadstartError) -> JSONResponse:
        return _error(422, "invalid_input", str(exc))

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page() -> HTMLResponse:
        return HTMLResponse(page_html)

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        return {
            "status": "ok",
            "task": info.task,
            "queued_texts": batcher.waiting,
            "batches": batcher.batches,
            "requires_key": bool(cfg.api_key),
        }

    @app.get("/v1/model", response_model=ModelResponse)
    async def model_facts() -> dict[str, Any]:
        metrics_file = info.path / METRICS_FILE
        metrics = None
        if metrics_file.is_file():
            import json

            metrics = {k: v for k, v in json.loads(metrics_file.read_text(encoding="utf-8")).items() if k != "mistakes"}
        return {
            "task": info.task,
            "labels": info.labels,
            **spec.facts(info),
            "max_length": info.max_length,
            "base_model": info.base_model,
            "created": info.created,
            "versions": {"trained": info.versions, "serving": versions()},
            "metrics": metrics,
            "limits": {
                k: getattr(cfg, k) for k in ("max_texts", "max_chars", "max_body_bytes", "max_queue", "max_batch")
            },
        }

    async def predict(body: Any, request: Request) -> dict[str, Any]:
        items = _inputs(body.inputs, spec, info)
        _check_limits(items, cfg, request)
        results = await _submit(batcher, items, cfg)
        return {"task": info.task, "predictions": spec.trim(results, body.all_scores)}

    predict.__annotations__["body"] = predict_request  # the task's schema, built above (not a module name)
    app.post("/v1/predict", response_model=predict_response, response_model_exclude_none=True)(predict)

    if hasattr(spec, "stream"):  # a model that writes: its text as it is written
        generate_request = generate_schema(spec.input_type, cfg.max_new_tokens)

        async def generate(body: Any, request: Request) -> Any:
            items = _inputs(body.inputs, spec, info)
            _check_limits(items, cfg, request)
            if not body.stream and body.max_new_tokens is None:
                return {"task": info.task, **(await _submit(batcher, items, cfg))[0]}
            pieces = spec.stream(predictor, items[0], body.max_new_tokens)
            if not body.stream:
                text = await asyncio.to_thread(lambda: "".join(pieces))
                return {"task": info.task, "generated_text": text}
            return StreamingResponse(_events(pieces, request), media_type="text/event-stream")

        generate.__annotations__["body"] = generate_request
        app.post("/v1/generate", response_model=None)(generate)

    @app.post("/v1/embed", response_model=EmbedResponse)
    async def embed(body: EmbedRequest, request: Request) -> dict[str, Any]:
        texts = [body.inputs] if isinstance(body.inputs, str) else list(body.inputs)
        _check_limits(texts, cfg, request)
        key = (body.pooling, body.normalize)
        if key not in embedders:  # one batcher per pooling choice: a batch shares its pooling
            embedder = Embedder.from_model(predictor.model, predictor.tokenizer, max_length=info.max_length)

            def run_embed(items: list[str], pooling: str = body.pooling, normalize: bool = body.normalize) -> Any:
                return embedder.encode(items, pooling=pooling, normalize=normalize, batch_size=cfg.max_batch).tolist()

            embedders[key] = MicroBatcher(
                run_embed, max_batch=cfg.max_batch, wait=cfg.batch_wait_ms / 1000, max_queue=cfg.max_queue
            )
            await embedders[key].start()
        vectors = await _submit(embedders[key], texts, cfg)
        return {"dim": len(vectors[0]) if vectors else 0, "pooling": body.pooling, "embeddings": vectors}

    return app


async def _events(pieces: Any, request: Request) -> Any:
    """Server-sent events of the pieces a writer yields (``{"token"}`` each, then ``{"done",
    "generated_text"}``); a client that goes away closes the writer, which stops generating."""
    import json

    written = []
    try:
        while True:
            piece = await asyncio.to_thread(next, pieces, None)
            if piece is None:
                break
            if await request.is_disconnected():
                logger.info("client gone: generation stopped after %d pieces", len(written))
                return
            written.append(piece)
            yield f"data: {json.dumps({'token': piece})}\n\n"
        yield f"data: {json.dumps({'done': True, 'generated_text': ''.join(written)})}\n\n"
    finally:
        pieces.close()


def _validation_message(details: list[dict[str, Any]], input_help: str) -> str:
    """One readable sentence for pydantic's list of errors (a union gives one per alternative)."""
    if not details:
        return "expected a JSON body as in /docs"
    first = details[0]
    loc = [str(p) for p in first["loc"][1:]]  # drop "body"
    if "JSON" in str(first["msg"]):
        return f"expected a JSON object; found invalid JSON ({first['msg']}); send a body as in /docs"
    if loc and loc[0] == "inputs":
        return f'expected "inputs": {input_help}, or a list of them; found something else ({first["msg"]}); see /docs'
    where = ".".join(loc) or "body"
    return f"{where}: {first['msg']}; see /docs for the request schema"


async def _submit(batcher: MicroBatcher, items: list[Any], cfg: ServeConfig) -> list[Any]:
    try:
        return await batcher.submit(items)
    except QueueFull as exc:
        raise ApiError(
            503,
            "overloaded",
            f"expected room in the queue; found {exc}; retry after {cfg.retry_after} s",
            headers={"Retry-After": str(cfg.retry_after)},
        ) from None


def _inputs(raw: Any, spec: Any, info: Any) -> list[Any]:
    """The request's inputs as the task validates them (a 422 saying what this model takes)."""
    try:
        return spec.inputs(raw if isinstance(raw, list) else [raw], info)
    except ValueError as exc:
        raise ApiError(422, "invalid_request", str(exc)) from None


def _check_limits(items: list[Any], cfg: ServeConfig, request: Request) -> None:
    request.state.n_texts = len(items)
    if len(items) > cfg.max_texts:
        raise ApiError(
            413, "too_many_texts", f"expected at most {cfg.max_texts} texts; found {len(items)}; split the request"
        )
    chars = sum(_chars(x) for x in items)
    if chars > cfg.max_chars:
        raise ApiError(
            413,
            "too_much_text",
            f"expected at most {cfg.max_chars} characters in all; found {chars}; split the request",
        )


def _chars(item: Any) -> int:
    """Characters of text in one input, whatever its shape (a text, a pair, an object of texts)."""
    if isinstance(item, str):
        return len(item)
    values = item.values() if isinstance(item, dict) else item if isinstance(item, (list, tuple)) else ()
    return sum(_chars(v) for v in values)


def _given_key(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return request.headers.get("x-api-key")


def _authorized(request: Request, key: str) -> bool:
    given = _given_key(request)
    return given is not None and hmac.compare_digest(given.encode(), key.encode())


class _BodyLimit:
    """413 for a body over ``max_bytes``: by Content-Length at once, else while it streams in."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            await self._refuse(scope, receive, send, int(length))
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLarge(seen)
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge as exc:
            await self._refuse(scope, receive, send, exc.seen)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, size: int) -> None:
        response = _error(
            413,
            "body_too_large",
            f"expected a request body of at most {self.max_bytes} bytes; found {size}+; split the request",
        )
        await response(scope, receive, send)


class _TooLarge(Exception):
    def __init__(self, seen: int) -> None:
        self.seen = seen
