"""Kill, pause and resume through the store for a run that another process executes (``keel simulate --db URL``
started on its own), on SQLite and PostgreSQL; and its WebSocket stream, which follows the store with the same
message types as a run in the service's process."""

from __future__ import annotations

import json
import subprocess
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from keel.service import RunHub, create_app
from keel.service.source import RunSource
from tests.service.support import ROOT, short_config

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

pytestmark = pytest.mark.slow

TOKEN = "store-control-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
KEEL = ROOT / ".venv" / "bin" / "keel"
AGENTS = 3  # the eth_options_desk example: hedger, portfolio manager, noise trader


def _wait(what: str, check: Callable[[], Any], timeout_s: float = 60.0, every_s: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every_s)
    raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}")


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'keel.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def other_process(db_url: str, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    """``keel simulate CONFIG --db URL`` in a process of its own: the desk example on one-second blocks for a
    day (86,400 blocks: far longer than the test lets it run)."""
    config = short_config(tmp_path, hours=24)
    config.write_text(config.read_text().replace("block_time_s = 12", "block_time_s = 1"))
    log = tmp_path / "simulate.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [str(KEEL), "simulate", str(config), "--db", db_url, "--out", str(tmp_path / "runs"), "--quiet"],
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
    try:
        yield proc, log
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)


def _events(store: Any, run_id: str, kind: str) -> list[dict[str, Any]]:
    return [json.loads(e.detail) for e in store.events(run_id) if e.kind == kind]


def test_pause_resume_kill_a_run_in_another_process_through_the_store(
    db_url: str, other_process: tuple[subprocess.Popen[bytes], Path]
) -> None:
    from keel.store import open_store

    proc, log = other_process
    store = _wait("the run in the store", lambda: _open(db_url), timeout_s=90)
    try:
        run_id = _wait("the run", lambda: [r.id for r in store.runs()], timeout_s=90)[0]
        source = RunSource(RunHub(), store)

        def blocks() -> int:
            return int(source.store_blocks([run_id]).get(run_id, 0))

        _wait("recorded blocks", lambda: blocks() > 0 or proc.poll() is not None, timeout_s=90)
        assert proc.poll() is None, log.read_text()
        client = TestClient(create_app(RunHub(), store, token=TOKEN))
        base = f"/api/runs/{run_id}"
        assert client.get(base).json()["status"] == "running"

        # no token, a wrong one, another scheme: 401 and nothing written
        for headers in ({}, {"Authorization": "Bearer wrong-token-wrong-token"}, {"Authorization": f"Basic {TOKEN}"}):
            for action in ("kill", "pause", "resume"):
                answer = client.post(f"{base}/{action}", headers=headers)
                assert answer.status_code == 401 and "Bearer" in answer.json()["detail"]
        assert store.controls(run_id) == []

        # pause: requested (202), applied by the other process at its next step; its agents stop deciding
        with client.websocket_connect(f"{base}/stream") as ws:
            assert ws.receive_json()["type"] == "hello"
            answer = client.post(f"{base}/pause", headers=AUTH)
            assert answer.status_code == 202
            assert answer.json() == {"run_id": run_id, "action": "pause", "status": "requested", "request": 0}
            # the stream follows the store: the status change and the agents' skipped decisions arrive
            seen: set[tuple[str, str]] = set()
            deadline = time.monotonic() + 60
            while not {("status", "paused"), ("skipped", "paused")} <= seen:
                assert time.monotonic() < deadline, seen
                message = ws.receive_json()  # blocks go on while paused: a message at least every half second
                if message["type"] == "status":
                    seen.add(("status", message["status"]))
                elif message["type"] == "skipped":
                    seen.add(("skipped", message["cause"]))
        assert store.run(run_id).status == "paused"
        assert client.get(base).json()["status"] == "paused"
        [pause] = store.controls(run_id)
        assert pause.action == "pause" and pause.requester == "api" and pause.applied_block is not None
        paused_at = pause.applied_block
        # while paused the market, oracle and reporting go on (blocks are recorded), the agents decide nothing
        _wait("blocks recorded while paused", lambda: blocks() > paused_at + 200)
        assert store.run(run_id).status == "paused"

        answer = client.post(f"{base}/resume", headers=AUTH)
        assert answer.status_code == 202 and answer.json()["request"] == 1
        _wait("the run running again", lambda: store.run(run_id).status == "running")
        resumed_at = store.controls(run_id)[1].applied_block
        assert resumed_at is not None and resumed_at > paused_at
        _wait("blocks after the resume", lambda: blocks() > resumed_at + 200)

        answer = client.post(f"{base}/kill", headers=AUTH)
        assert answer.status_code == 202 and answer.json()["status"] == "requested"
        assert proc.wait(timeout=60) == 0, log.read_text()
    finally:
        store.close()

    with open_store(db_url) as store:
        run = store.run(run_id)
        assert run.status == "killed" and run.ended_ns is not None
        summary = json.loads(run.summary_json)
        assert summary["status"] == "killed" and summary["blocks"] < 86_400
        controls = store.controls(run_id)
        assert [(c.seq, c.action) for c in controls] == [(0, "pause"), (1, "resume"), (2, "kill")]
        assert all(c.applied_ns is not None and c.applied_block is not None for c in controls)
        assert store.pending_controls(run_id) == []
        killed_at = controls[2].applied_block
        assert paused_at < resumed_at < killed_at == summary["blocks"]  # the kill ended it before another block
        # the agents skipped exactly the blocks between the pause and the resume, every agent every block
        skipped = _events(store, run_id, "decision_skipped")
        paused_blocks = [e["block_number"] for e in skipped if e["cause"] == "paused"]
        assert sorted(set(paused_blocks)) == list(range(paused_at + 1, resumed_at + 1))
        assert len(paused_blocks) == AGENTS * (resumed_at - paused_at)
        sent = [e["block_number"] for e in _events(store, run_id, "transaction")]  # what agents decided to send
        assert [b for b in sent if b <= paused_at] and [b for b in sent if b > resumed_at]
        assert not [b for b in sent if paused_at < b <= resumed_at]
        # an ended run: 409, nothing written
        client = TestClient(create_app(RunHub(), store, token=TOKEN))
        answer = client.post(f"/api/runs/{run_id}/pause", headers=AUTH)
        assert answer.status_code == 409 and "has already ended (killed)" in answer.json()["detail"]
        assert len(store.controls(run_id)) == 3
        assert client.post("/api/runs/nope-nope-nope/kill", headers=AUTH).status_code == 404


def _open(url: str) -> Any:
    from keel.store import StoreError, open_store

    try:
        return open_store(url, create=False)
    except StoreError:
        return None
