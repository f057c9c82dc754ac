"""Running the service: uvicorn in a background thread, and a simulation published live (``keel simulate --serve``).

The service thread never touches the run's state except through :class:`keel.service.hub.LiveRun`
(locked); the run thread never waits on the service.  Control (kill, pause, resume) reaches the
run through its ``keel.engine.pipeline.RunControl``, honoured at block boundaries.
"""

from __future__ import annotations

import inspect
import os
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from keel.errors import ConfigError
from keel.service.hub import HubSubscriber, LiveRun, RunHub

__all__ = ["ServiceThread", "resolve_token", "simulate_with_service", "start_service"]

LOOPBACK = ("127.0.0.1", "::1", "localhost")


def resolve_token(token: str | None = None) -> tuple[str, bool]:
    """The control token: ``token``, else ``$KEEL_SERVE_TOKEN``, else a new random one (then True: print it)."""
    given = token if token is not None else os.environ.get("KEEL_SERVE_TOKEN", "")
    if given:
        if len(given) < 16:
            raise ConfigError("KEEL_SERVE_TOKEN", "<hidden>", "must be at least 16 characters")
        return given, False
    return secrets.token_urlsafe(24), True


class ServiceThread:
    """A uvicorn server on its own thread; :meth:`stop` shuts it down."""

    def __init__(self, app: Any, host: str, port: int) -> None:
        import uvicorn

        config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off", ws="websockets")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="keel-serve", daemon=True)
        self.host, self.port = host, port

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self, timeout_s: float = 15.0) -> ServiceThread:
        self.thread.start()
        deadline = time.monotonic() + timeout_s
        while not self.server.started:
            if not self.thread.is_alive():
                raise ConfigError("port", self.port, f"cannot serve on {self.host}:{self.port} (in use?)")
            if time.monotonic() > deadline:
                raise ConfigError("port", self.port, f"the server did not start within {timeout_s:g} s")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def start_service(hub: RunHub, store: Any | None, *, host: str, port: int, token: str) -> ServiceThread:
    from keel.service.app import create_app

    return ServiceThread(create_app(hub, store, token=token), host, port).start()


def _thresholds(config: Any) -> dict[str, float]:
    lines = {"liquidation": 1.0}
    desk = getattr(config, "desk", None)
    if desk is not None and getattr(desk, "reduce_only_ratio", None):
        lines["reduce-only"] = round(1.0 / float(desk.reduce_only_ratio), 6)
    alerts = getattr(config, "alerts", None)
    if alerts is not None and alerts.margin_ratio_below is not None:
        lines["alert"] = float(alerts.margin_ratio_below)
    return lines


def simulate_with_service(
    config: Any,
    *,
    seed: int | None = None,
    out: Path | None = None,
    host: str = "127.0.0.1",
    port: int = 8000,
    token: str,
    store: Any | None = None,
    run_id: str | None = None,
    subscribers: Sequence[Any] = (),
    on_ready: Callable[[ServiceThread, LiveRun], None] | None = None,
    keep_serving: Callable[[], bool] | None = None,
    run_kwargs: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run ``config`` (a ``keel.sim.config.ScenarioConfig``) with the service up; returns the run's summary.

    The dashboard at ``http://HOST:PORT/`` shows the run while it steps; the kill switch stops it
    (summary status ``killed``).  ``keep_serving`` (optional) is polled after the run ends; the
    service stays up while it returns True (``keel simulate --serve`` waits for Ctrl-C)."""
    from keel.engine.pipeline import RunControl
    from keel.runtime import run_simulation
    from keel.runtime.alerts import AlertMonitor

    if run_id is None:
        from keel.store import new_run_id

        run_id = new_run_id()
    hub = RunHub()
    control = RunControl()
    live = hub.add(LiveRun(run_id, config.name, control, thresholds=_thresholds(config)))
    subs: list[Any] = [HubSubscriber(live), *subscribers]
    if config.alerts is not None and not any(isinstance(s, AlertMonitor) for s in subs):
        subs.append(AlertMonitor(config.alerts, run_id, sinks=[live.add_alert]))
    for sub in subs:
        if isinstance(sub, AlertMonitor) and live.add_alert not in sub.sinks:
            sub.sinks.append(live.add_alert)
    service = start_service(hub, store, host=host, port=port, token=token)
    try:
        if on_ready is not None:
            on_ready(service, live)
        kwargs: dict[str, Any] = dict(run_kwargs or {})
        accepted = inspect.signature(run_simulation).parameters
        if "run_id" in accepted:
            kwargs["run_id"] = run_id
        try:
            summary = run_simulation(config, seed=seed, out=out, subscribers=subs, control=control, **kwargs)
        except BaseException as exc:
            live.set_status("failed", str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            raise
        if live.status == "running" or live.status == "paused":
            live.finish(summary)
        while keep_serving is not None and keep_serving():
            time.sleep(0.2)
        return dict(summary)
    finally:
        service.stop()
