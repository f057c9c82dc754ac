"""``keel serve``: the operator API, dashboard and metrics over the store (FastAPI + uvicorn, loopback by default)."""

from __future__ import annotations

import typer

from keel.cli.app import app


@app.command("serve")
def serve_command(
    db: str | None = typer.Option(None, "--db", help="store URL (default $KEEL_DB_URL or sqlite:///runs/keel.db)"),
    host: str = typer.Option("127.0.0.1", "--host", help="address to bind (loopback by default)"),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="TCP port"),
) -> None:
    """Serve runs from the store: REST (/docs), WebSocket, dashboard (/), Prometheus /metrics; control needs a token."""
    import signal
    import threading

    from keel.service import RunHub, resolve_token, start_service
    from keel.store import open_store

    token, generated = resolve_token()
    store = open_store(db, create=False)
    service = start_service(RunHub(), store, host=host, port=port, token=token)
    typer.echo(f"keel serve: {service.url}/ (store {store.url})")
    if generated:
        typer.echo(f"control token (set KEEL_SERVE_TOKEN to choose one): {token}")
    if host not in ("127.0.0.1", "::1", "localhost"):
        typer.echo(f"warning: bound to {host}: reachable from other machines; read-only without the token", err=True)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    try:
        while not done.wait(0.5) and service.thread.is_alive():
            pass
    except KeyboardInterrupt:
        pass
    finally:
        service.stop()
        store.close()
