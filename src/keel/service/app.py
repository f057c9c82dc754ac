"""The ``keel serve`` application (FastAPI): REST with an OpenAPI schema, a WebSocket, the dashboard, metrics.

Read-only without a token.  ``POST /api/runs/{run_id}/kill|pause|resume`` need
``Authorization: Bearer TOKEN``; without it (or with a wrong one) the answer is 401 and nothing
changes.  A run executing in this service is controlled at once (200); a run another process executes
and records in the store gets the request written there (202), and that process applies it at its next
block boundary.  Every 4xx body is ``{"detail": "one line"}``; bad path or query values are 422, an
unknown run 404, a request body over :data:`MAX_BODY_BYTES` 413, a URL over :data:`MAX_URL_BYTES` 414.
"""

from __future__ import annotations

import asyncio
import hmac
import importlib.resources
from functools import lru_cache
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from keel import __version__
from keel.service.hub import RunHub
from keel.service.metrics import ServiceMetrics
from keel.service.models import (
    AlertOut,
    ChartsOut,
    ControlOut,
    ErrorOut,
    FillOut,
    GreeksOut,
    HealthOut,
    IntentOut,
    MarginOut,
    OracleOut,
    PnlOut,
    PositionOut,
    RunDetailOut,
    RunOut,
    TransactionOut,
)
from keel.service.source import RunSource, UnknownRun

__all__ = ["MAX_BODY_BYTES", "MAX_URL_BYTES", "RUN_ID_PATTERN", "create_app"]

MAX_BODY_BYTES = 16 * 1024
MAX_URL_BYTES = 4096
RUN_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,79}$"
RUN_STATUSES = ("running", "paused", "finished", "failed", "killed")

RunId = Annotated[str, Path(pattern=RUN_ID_PATTERN, max_length=80, description="run id (GET /api/runs lists them)")]
Limit = Annotated[int, Query(ge=1, le=1000, description="rows to return, newest first")]
Offset = Annotated[int, Query(ge=0, le=1_000_000, description="rows to skip")]

_BEARER = HTTPBearer(auto_error=False, description="KEEL_SERVE_TOKEN (printed by keel serve at start)")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)]

_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorOut, "description": "unknown run"},
    413: {"model": ErrorOut, "description": "request body too large"},
    414: {"model": ErrorOut, "description": "URL too long"},
    422: {"model": ErrorOut, "description": "a path or query value is not valid"},
}
_CONTROL_ERRORS: dict[int | str, dict[str, Any]] = {
    **_ERRORS,
    202: {
        "model": ControlOut,
        "description": "the run executes in another process: the request is written to the store and applied "
        "there at its next block boundary",
    },
    401: {"model": ErrorOut, "description": "missing or wrong bearer token (nothing changed)"},
    409: {"model": ErrorOut, "description": "the run is not controllable in this state"},
}


class _Limits:
    """ASGI middleware: refuse oversized URLs (414) and bodies (413) before any route sees them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        url_len = len(scope.get("raw_path") or scope["path"].encode()) + len(scope.get("query_string", b""))
        if url_len > MAX_URL_BYTES:
            await _reject(send, 414, f"URL of {url_len} bytes is over the limit of {MAX_URL_BYTES} bytes")
            return
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None:
            try:
                size = int(length)
            except ValueError:
                await _reject(send, 400, "Content-Length is not a number")
                return
            if size > MAX_BODY_BYTES:
                await _reject(send, 413, f"request body of {size} bytes is over the limit of {MAX_BODY_BYTES} bytes")
                return
        seen = 0

        async def limited() -> Any:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > MAX_BODY_BYTES:
                    raise _TooLarge()
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await _reject(send, 413, f"request body is over the limit of {MAX_BODY_BYTES} bytes")


class _TooLarge(Exception):
    pass


async def _reject(send: Send, status: int, detail: str) -> None:
    body = JSONResponse({"detail": detail}).body
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


@lru_cache(maxsize=1)
def _plotly_js() -> str:
    from plotly.offline import get_plotlyjs

    return str(get_plotlyjs())


def _asset(name: str) -> str:
    return importlib.resources.files("keel.service").joinpath("static", name).read_text(encoding="utf-8")


def create_app(hub: RunHub | None = None, store: Any | None = None, *, token: str) -> FastAPI:
    """The service over ``hub`` (runs in this process) and ``store`` (a ``keel.store.Store`` or None).

    ``token``: the bearer token that control endpoints require (must be non-empty)."""
    if not token:
        raise ValueError("the control token must not be empty")
    hub = hub if hub is not None else RunHub()
    source = RunSource(hub, store)
    metrics = ServiceMetrics(hub, source.store_block if store is not None else None)
    app = FastAPI(
        title="Keel operator API",
        version=__version__,
        description="Runs, positions, Greeks, margin, PnL attribution, oracle, intents, transactions, alerts; "
        "control (kill, pause, resume) with a bearer token.",
    )
    app.state.hub, app.state.source, app.state.metrics = hub, source, metrics
    app.add_middleware(_Limits)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for err in exc.errors()[:3]:
            loc = ".".join(str(p) for p in err.get("loc", ()))
            value = err.get("input")
            shown = repr(value)[:60] if value is not None else ""
            parts.append(f"{loc}={shown}: {err.get('msg', 'invalid')}" if shown else f"{loc}: {err.get('msg')}")
        return JSONResponse({"detail": "; ".join(parts) or "invalid request"}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no such path {request.url.path[:200]!r} (the API is under /api/; its schema at /docs)"
        elif exc.status_code == 405:
            detail = f"method {request.method} not allowed on {request.url.path[:200]!r}"
        return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(UnknownRun)
    async def _unknown(request: Request, exc: UnknownRun) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    def authorized(creds: Credentials) -> None:
        given = creds.credentials if creds is not None else ""
        if not given or not hmac.compare_digest(given.encode(), token.encode()):
            raise StarletteHTTPException(
                401,
                "control needs 'Authorization: Bearer TOKEN' with the token keel serve printed (or KEEL_SERVE_TOKEN)",
                headers={"WWW-Authenticate": "Bearer"},
            )

    api = APIRouter(prefix="/api", responses=_ERRORS)

    @api.get("/health", response_model=HealthOut, tags=["service"])
    def health() -> dict[str, Any]:
        return {"status": "ok", "store": getattr(store, "url", None), "live_runs": len(hub.runs())}

    @api.get("/runs", response_model=list[RunOut], tags=["runs"])
    def runs(
        limit: Limit = 100,
        status: Annotated[str | None, Query(pattern="^(running|paused|finished|failed|killed)$")] = None,
    ) -> list[dict[str, Any]]:
        return source.runs(limit, status)

    @api.get("/runs/{run_id}", response_model=RunDetailOut, tags=["runs"])
    def run(run_id: RunId) -> dict[str, Any]:
        return source.run(run_id)

    @api.get("/runs/{run_id}/positions", response_model=list[PositionOut], tags=["state"])
    def positions(run_id: RunId) -> list[dict[str, Any]]:
        return source.positions(run_id)

    @api.get("/runs/{run_id}/greeks", response_model=GreeksOut, tags=["state"])
    def greeks(run_id: RunId) -> dict[str, Any]:
        return source.greeks(run_id)

    @api.get("/runs/{run_id}/margin", response_model=MarginOut, tags=["state"])
    def margin(run_id: RunId) -> dict[str, Any]:
        return source.margin(run_id)

    @api.get("/runs/{run_id}/pnl", response_model=PnlOut, tags=["state"])
    def pnl(
        run_id: RunId, points: Annotated[int, Query(ge=1, le=5000, description="history rows at most")] = 200
    ) -> dict[str, Any]:
        return source.pnl(run_id, points)

    @api.get("/runs/{run_id}/oracle", response_model=OracleOut, tags=["state"])
    def oracle(run_id: RunId) -> dict[str, Any]:
        return source.oracle(run_id)

    @api.get("/runs/{run_id}/intents", response_model=list[IntentOut], tags=["blotter"])
    def intents(run_id: RunId, limit: Limit = 100, offset: Offset = 0) -> list[dict[str, Any]]:
        return source.intents(run_id, limit, offset)

    @api.get("/runs/{run_id}/transactions", response_model=list[TransactionOut], tags=["blotter"])
    def transactions(run_id: RunId, limit: Limit = 100, offset: Offset = 0) -> list[dict[str, Any]]:
        return source.transactions(run_id, limit, offset)

    @api.get("/runs/{run_id}/fills", response_model=list[FillOut], tags=["blotter"])
    def fills(run_id: RunId, limit: Limit = 100, offset: Offset = 0) -> list[dict[str, Any]]:
        return source.fills(run_id, limit, offset)

    @api.get("/runs/{run_id}/alerts", response_model=list[AlertOut], tags=["alerts"])
    def alerts(run_id: RunId, limit: Limit = 100, offset: Offset = 0) -> list[dict[str, Any]]:
        return source.alerts(run_id, limit, offset)

    @api.get("/runs/{run_id}/charts", response_model=ChartsOut, tags=["dashboard"])
    def charts(run_id: RunId) -> dict[str, Any]:
        return source.charts(run_id)

    def _control(run_id: str, action: str, response: Response) -> dict[str, Any]:
        info = source.run(run_id)  # 404 when unknown
        live = source.live(run_id)
        if live is None and store is not None:  # another process runs it: the request goes through the store
            if info["status"] not in ("running", "paused"):
                raise StarletteHTTPException(409, f"run {run_id!r} has already ended ({info['status']})")
            from keel.store import StoreError

            try:
                seq = store.request_control(run_id, action, requester="api")
            except StoreError as exc:  # it ended between the read and the write
                raise StarletteHTTPException(409, str(exc)) from None
            response.status_code = 202
            return {"run_id": run_id, "action": action, "status": "requested", "request": seq}
        if live is None or live.control is None:
            raise StarletteHTTPException(
                409, f"run {run_id!r} does not execute in this service: it can only be controlled where it runs"
            )
        if live.status in ("finished", "failed", "killed"):
            raise StarletteHTTPException(409, f"run {run_id!r} has already ended ({live.status})")
        if action == "kill":
            live.control.stop()
        elif action == "pause":
            live.control.pause()
        else:
            live.control.resume()
        status = {"kill": "stopping"}.get(action, live.status)
        return {"run_id": run_id, "action": action, "status": status}

    control_deps = [Depends(authorized)]

    @api.post(
        "/runs/{run_id}/kill", response_model=ControlOut, tags=["control"], responses=_CONTROL_ERRORS,
        dependencies=control_deps,
    )  # fmt: skip
    def kill(run_id: RunId, response: Response) -> dict[str, Any]:
        """Kill switch: no new transactions; the run ends at the next block boundary with status ``killed``."""
        return _control(run_id, "kill", response)

    @api.post(
        "/runs/{run_id}/pause", response_model=ControlOut, tags=["control"], responses=_CONTROL_ERRORS,
        dependencies=control_deps,
    )  # fmt: skip
    def pause(run_id: RunId, response: Response) -> dict[str, Any]:
        """Pause the agents (market, oracle, risk and reporting go on)."""
        return _control(run_id, "pause", response)

    @api.post(
        "/runs/{run_id}/resume", response_model=ControlOut, tags=["control"], responses=_CONTROL_ERRORS,
        dependencies=control_deps,
    )  # fmt: skip
    def resume(run_id: RunId, response: Response) -> dict[str, Any]:
        return _control(run_id, "resume", response)

    app.include_router(api)

    @app.get("/metrics", tags=["service"], response_class=Response, responses={200: {"content": {"text/plain": {}}}})
    def prometheus() -> Response:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        metrics.refresh_status()
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def dashboard() -> HTMLResponse:
        return HTMLResponse(_asset("dashboard.html"))

    @app.get("/static/{name}", include_in_schema=False)
    def static(name: str) -> Response:
        if name == "plotly.min.js":
            return Response(_plotly_js(), media_type="text/javascript", headers={"Cache-Control": "max-age=3600"})
        kinds = {"dashboard.js": "text/javascript", "dashboard.css": "text/css"}
        if name not in kinds:
            raise StarletteHTTPException(404, f"no static file {name!r}")
        return Response(_asset(name), media_type=kinds[name])

    @app.websocket("/api/runs/{run_id}/stream")
    async def stream(websocket: WebSocket, run_id: str) -> None:
        """Streams the run's pipeline events as JSON messages (``type``: block, intent, transaction, receipt,
        fill, skipped, alert, status), at most one ``block`` message per 100 ms (the latest)."""
        await websocket.accept()
        live = source.live(run_id)
        if live is None:
            try:
                info = source.run(run_id)
            except UnknownRun as exc:
                await websocket.send_json({"type": "error", "detail": str(exc)})
                await websocket.close(code=4404)
                return
            await _tail_store(websocket, source, run_id, info)
            return
        hello = {k: v for k, v in source.run(run_id).items() if k != "summary"}
        await websocket.send_json({"type": "hello", "run": hello})
        cursor = 0
        try:
            while True:
                with live.lock:
                    messages, cursor = live.messages.since(cursor)
                last_block = None
                for message in messages:
                    if message["type"] == "block":
                        last_block = message
                        continue
                    await websocket.send_json(message)
                if last_block is not None:
                    await websocket.send_json(last_block)
                await asyncio.sleep(0.1 if messages else 0.25)
        except (WebSocketDisconnect, RuntimeError, OSError):  # the client went away
            return

    return app


async def _tail_store(websocket: WebSocket, source: RunSource, run_id: str, info: dict[str, Any]) -> None:
    """A run another process records: follow the store every half second and send what a run in this process
    sends: intent, transaction, receipt, fill, skipped and alert messages from the rows recorded since the last
    look (a new stream starts with the newest :data:`keel.service.source.STREAM_BACKLOG` event rows), then the
    newest block and any status change.  A live run's transactions and receipts come from its journal rows
    (:meth:`RunSource.journal_messages`: a first signature, a mined or dropped transaction), its fills from the
    recorded pipeline events, as for a simulation."""
    await websocket.send_json({"type": "hello", "run": {k: v for k, v in info.items() if k != "summary"}})
    last_block: int | None = None
    status = info["status"]
    live = info.get("mode") == "live"
    cursor = await asyncio.to_thread(source.store_cursor, run_id)
    try:
        while True:
            messages = await asyncio.to_thread(source.store_messages, run_id, cursor)
            if live:
                messages += await asyncio.to_thread(source.journal_messages, run_id, cursor)
            for message in messages:
                await websocket.send_json(message)
            block = await asyncio.to_thread(source.store_latest, run_id)
            if block is not None and block["block"] != last_block:
                last_block = block["block"]
                await websocket.send_json(block)
            now = (await asyncio.to_thread(source.run, run_id))["status"]
            if now != status:
                status = now
                await websocket.send_json({"type": "status", "run_id": run_id, "status": now, "error": ""})
            if cursor.caught_up and cursor.journal_caught_up:  # else read on at once
                await asyncio.sleep(0.5)
    except (WebSocketDisconnect, RuntimeError, OSError):
        return
