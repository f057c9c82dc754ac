"""`keel simulate --serve` publishes a recorded run live; `keel serve --db` serves the store afterwards."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from keel.chain import free_port
from tests.service.support import ROOT, short_config

KEEL = [sys.executable, "-m", "keel"]


def _wait_json(url: str, timeout_s: float = 90.0) -> object:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            response = httpx.get(url, timeout=2.0)
            if response.status_code == 200:
                return response.json()
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{url} did not answer within {timeout_s} s")
        time.sleep(0.2)


def test_simulate_serve_then_keel_serve_reads_the_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from keel.cli import main

    monkeypatch.delenv("KEEL_SERVE_TOKEN", raising=False)
    monkeypatch.delenv("KEEL_DB_URL", raising=False)
    config = short_config(tmp_path, hours=1.5)
    out = tmp_path / "runs"
    port = free_port()
    codes: list[int] = []
    args = ["simulate", str(config), "--out", str(out), "--quiet", "--serve", "--port", str(port)]
    sim = threading.Thread(target=lambda: codes.append(main(args)), daemon=True)
    sim.start()
    base = f"http://127.0.0.1:{port}"
    runs = _wait_json(f"{base}/api/runs")
    assert isinstance(runs, list) and runs and runs[0]["live"] is True
    run_id = runs[0]["id"]
    assert httpx.post(f"{base}/api/runs/{run_id}/pause").status_code == 401
    sim.join(300)
    assert codes == [0]
    output = capsys.readouterr().out
    assert f"dashboard {base}/?run={run_id}" in output and "control token" in output
    assert f"run {run_id} recorded in" in output
    env = {k: v for k, v in os.environ.items() if k != "KEEL_DB_URL"}

    port2 = free_port()
    serve = subprocess.Popen(
        [*KEEL, "serve", "--db", f"sqlite:///{out / 'keel.db'}", "--port", str(port2)],
        cwd=ROOT,
        env={**env, "KEEL_SERVE_TOKEN": "a-token-of-sufficient-length"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base2 = f"http://127.0.0.1:{port2}"
        runs = _wait_json(f"{base2}/api/runs")
        assert isinstance(runs, list)
        assert [(r["id"], r["status"], r["live"]) for r in runs] == [(run_id, "finished", False)]
        assert "Kill switch" in httpx.get(f"{base2}/").text
        js = httpx.get(f"{base2}/static/plotly.min.js")
        assert js.status_code == 200 and len(js.content) > 1_000_000  # served from the installed plotly package
        assert httpx.get(f"{base2}/api/runs/{run_id}/pnl").json()["total_usd"] is not None
        refused = httpx.post(f"{base2}/api/runs/{run_id}/kill", headers={"Authorization": "Bearer nope"})
        assert refused.status_code == 401
        serve.send_signal(signal.SIGTERM)
        output, _ = serve.communicate(timeout=30)
    finally:
        if serve.poll() is None:
            serve.kill()
    assert serve.returncode == 0, output
    assert f"keel serve: {base2}/" in output and "control token" not in output  # KEEL_SERVE_TOKEN was given


def test_serve_refuses_a_missing_store_and_a_short_token(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from keel.cli import main

    monkeypatch.setenv("KEEL_SERVE_TOKEN", "a-token-of-sufficient-length")
    assert main(["serve", "--db", f"sqlite:///{tmp_path / 'none.db'}", "--port", str(free_port())]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "none.db" in err and "Traceback" not in err
    monkeypatch.setenv("KEEL_SERVE_TOKEN", "short")
    assert main(["serve", "--db", f"sqlite:///{tmp_path / 'x.db'}", "--port", str(free_port())]) == 2
    err = capsys.readouterr().err
    assert "KEEL_SERVE_TOKEN" in err and "16 characters" in err and "short" not in err  # never echoes the token


def test_serve_refuses_a_busy_port_and_a_foreign_host(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    from keel.cli import main
    from keel.store import open_store

    open_store(f"sqlite:///{tmp_path / 'keel.db'}").close()
    monkeypatch.setenv("KEEL_SERVE_TOKEN", "a-token-of-sufficient-length")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["serve", "--db", f"sqlite:///{tmp_path / 'keel.db'}", "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: --host/--port='127.0.0.1:{port}': cannot listen there") and err.count("\n") == 1
    assert main(["serve", "--db", f"sqlite:///{tmp_path / 'keel.db'}", "--host", "no-such-host.invalid"]) == 2
    assert "--host='no-such-host.invalid'" in capsys.readouterr().err
