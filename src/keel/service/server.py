"""Running the service: uvicorn in a background thread, and a simulation published live (``keel simulate --serve``).

The service thread never touches the run's state except through :class:`keel.service.hub.LiveRun`
(locked); the run thread never waits on the service.  Control (kill, pause, resume) reaches the
run through its ``keel.engine.pipeline.RunControl``, honoured at block boundaries.
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from keel.errors import ConfigError
from keel.service.hub import HubSubscriber, LiveRun, RunHub

__all__ = ["ServiceThread", "resolve_token", "serving", "simulate_with_service", "start_service"]

LOOPBACK = ("127.0.0.1", "::1", "localhost")


def resolve_token(token: str | None = None) -> tuple[str, bool]:
    """The control token: ``token``, else ``$KEEL_SERVE_TOKEN``, else a new random one (then True: print it)."""
    given = token if token is not None else os.environ.get("KEEL_SERVE_TOKEN", "")
    if given:
        if len(given) < 16:
            raise ConfigError("KEEL_SERVE_TOKEN", "<hidden>", "must be at least 16 characters")
        return given, False
    return secrets.token_urlsafe(24), True


def _check_bindable(host: str, port: int) -> None:
    """One clear line when ``host:port`` cannot be listened on (instead of uvicorn's log and exit)."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise ConfigError("--host", host, f"not an address of this machine ({exc})") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as exc:
            raise ConfigError("--host/--port", f"{host}:{port}", f"cannot listen there: {exc.strerror}") from None


class ServiceThread:
    """A uvicorn server on its own thread; :meth:`stop` shuts it down."""

    def __init__(self, app: Any, host: str, port: int) -> None:
        import uvicorn

        config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off", ws="websockets-sansio")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="keel-serve", daemon=True)
        self.host, self.port = host, port

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self, timeout_s: float = 15.0) -> ServiceThread:
        _check_bindable(self.host, self.port)
        self.thread.start()
        deadline = time.monotonic() + timeout_s
        while not self.server.started:
            if not self.thread.is_alive():
                raise ConfigError("--port", self.port, f"cannot serve on {self.host}:{self.port}")
            if time.monotonic() > deadline:
                raise ConfigError("--port", self.port, f"the server did not start within {timeout_s:g} s")
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
    config_path: Path | None = None,
    seed: int | None = None,
    out: Path | None = None,
    host: str = "127.0.0.1",
    port: int = 8000,
    token: str,
    store: Any | None = None,
    subscribers: Sequence[Any] = (),
    on_ready: Callable[[ServiceThread, LiveRun], None] | None = None,
    keep_serving: Callable[[], bool] | None = None,
    root: Path | None = None,
) -> dict[str, Any]:
    """Run ``config`` (a ``keel.sim.config.ScenarioConfig``) with the service up; returns the run's summary.

    The dashboard at ``http://HOST:PORT/`` shows the run while it steps; the kill switch stops it at
    the next block (summary status ``killed``).  With ``store`` (a ``keel.store.Store``) the run is
    recorded there too by ``keel.runtime.registry.simulate_recorded`` (run folder under ``out``; it
    needs ``config_path``) and ends there with its status (``finished``, ``killed`` or ``failed``).
    ``keep_serving`` (optional) is polled after the run ends; the service stays up while it returns True."""
    from keel.engine.pipeline import RunControl
    from keel.runtime.alerts import AlertMonitor
    from keel.store import new_run_id

    run_id = new_run_id()
    hub = RunHub()
    control = RunControl()
    live = hub.add(LiveRun(run_id, config.name, control, thresholds=_thresholds(config)))
    subs: list[Any] = [HubSubscriber(live), *subscribers]
    monitor = next((s for s in subs if isinstance(s, AlertMonitor)), None)
    if monitor is None and config.alerts is not None:
        monitor = AlertMonitor(config.alerts, run_id)
        subs.append(monitor)
    if monitor is not None:
        monitor.sinks.append(live.add_alert)
    service = start_service(hub, store, host=host, port=port, token=token)
    try:
        if on_ready is not None:
            on_ready(service, live)
        try:
            if store is not None:
                from keel.runtime.registry import simulate_recorded

                if config_path is None:
                    raise ValueError("a run recorded in the store needs its config_path (the store keeps its text)")
                recorded = simulate_recorded(
                    config_path,
                    out=out if out is not None else Path("runs"),
                    db=store.url,
                    seed=seed,
                    root=root,
                    subscribers=subs,
                    control=control,
                    run_id=run_id,
                )
                summary = recorded.summary
            else:
                from keel.runtime import run_simulation

                summary = run_simulation(config, seed=seed, out=out, subscribers=subs, control=control, root=root)
        except BaseException as exc:
            live.set_status("failed", str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
            raise
        if live.status in ("running", "paused"):
            live.finish(summary)
        while keep_serving is not None and keep_serving():
            time.sleep(0.2)
        return dict(summary)
    finally:
        service.stop()


@contextmanager
def serving(
    config: Any,
    *,
    db: str | None,
    out: Path,
    host: str = "127.0.0.1",
    port: int = 8000,
    echo: Callable[[str], None] = print,
) -> Iterator[dict[str, Any]]:
    """``keel simulate --serve``: the service up for one recorded run; yields the keyword arguments
    (``subscribers``, ``control``, ``run_id``) to give ``keel.runtime.registry.simulate_recorded``.

    The service reads the same store the run writes (``db``, else ``$KEEL_DB_URL``, else OUT/keel.db)
    and stops when the block ends."""
    from keel.engine.pipeline import RunControl
    from keel.runtime.alerts import AlertMonitor
    from keel.runtime.registry import default_db_url
    from keel.store import new_run_id, open_store

    token, generated = resolve_token()
    store = open_store(db if db is not None else default_db_url(out))
    run_id = new_run_id()
    hub = RunHub()
    control = RunControl()
    live = hub.add(LiveRun(run_id, config.name, control, thresholds=_thresholds(config)))
    subs: list[Any] = [HubSubscriber(live)]
    if config.alerts is not None:
        monitor = AlertMonitor(config.alerts, run_id, sinks=[live.add_alert])
        subs.append(monitor)
    try:
        service = start_service(hub, store, host=host, port=port, token=token)
    except BaseException:
        store.close()
        raise
    echo(f"dashboard {service.url}/?run={run_id} (API {service.url}/docs, metrics {service.url}/metrics)")
    if generated:
        echo(f"control token (set KEEL_SERVE_TOKEN to choose one): {token}")
    try:
        yield {"subscribers": subs, "control": control, "run_id": run_id}
    except BaseException as exc:
        live.set_status("failed", str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        raise
    finally:
        service.stop()
        store.close()
