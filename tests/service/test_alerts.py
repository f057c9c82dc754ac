"""Alert rules ([alerts]) checked as a run subscriber; webhooks POSTed in the background to a local receiver."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from keel.domain.pipeline import IntentStated, TxSubmitted
from keel.engine.transactions import Receipt
from keel.errors import ConfigError
from keel.runtime.alerts import Alert, AlertMonitor, WebhookSender
from keel.sim.config import AlertsConfig, load_config
from tests.service.support import T0, short_config, snapshot


class Receiver:
    """A webhook receiver on 127.0.0.1 owned by the test: records every POST; answers ``codes`` in turn, then 200."""

    def __init__(self, codes: list[int] | None = None, delay_s: float = 0.0) -> None:
        self.posts: list[tuple[dict[str, str], dict[str, Any]]] = []
        self.codes = list(codes or [])
        self.delay_s = delay_s
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                time.sleep(receiver.delay_s)
                receiver.posts.append((dict(self.headers), json.loads(body)))
                code = receiver.codes.pop(0) if receiver.codes else 200
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def _alert(seq: int = 0) -> Alert:
    return Alert(f"run:{seq}", "run", seq, T0, 5, "drawdown", "warning", "drawdown 10 USD beyond 5 USD", 10.0)


def test_alert_in_a_simulated_run_reaches_the_webhook_exactly_once(tmp_path: Path, receiver: Receiver) -> None:
    """`keel simulate` path (keel.runtime.registry.simulate_recorded): the [alerts] section alone wires the rules."""
    from keel.runtime.registry import simulate_recorded
    from keel.store import open_store

    extra = f"""
[alerts]
margin_ratio_below = 100.0
oracle_halted = false
hedge_failed = false
webhooks = ["{receiver.url}"]
"""
    db = f"sqlite:///{tmp_path / 'keel.db'}"
    recorded = simulate_recorded(short_config(tmp_path, hours=0.25, extra=extra), out=tmp_path / "runs", db=db)
    assert recorded.summary["blocks"] == 75
    deadline = time.monotonic() + 10
    while not receiver.posts and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # a second delivery, if any, would arrive now
    # the desk's margin ratio sits below 100 from its first check to the end: one alert, one delivery
    assert len(receiver.posts) == 1
    headers, body = receiver.posts[0]
    alert = body["alert"]
    assert alert["kind"] == "margin_ratio" and alert["run_id"] == recorded.run_id
    assert alert["value"] < 100.0 and "below 100" in alert["message"]
    assert headers["Idempotency-Key"] == f"{recorded.run_id}:0" and headers["Content-Type"] == "application/json"
    with open_store(db) as store:  # stored too
        stored = store.alerts(recorded.run_id)
    assert [(a.kind, a.block_number) for a in stored] == [("margin_ratio", alert["block_number"])]


def test_webhook_retries_with_backoff_and_delivers_once() -> None:
    flaky = Receiver(codes=[503, 500])
    try:
        sender = WebhookSender([flaky.url], retries=4, backoff_s=0.05)
        sender.send(_alert())
        assert sender.flush(10.0)
        assert len(flaky.posts) == 3  # two failures, then one success
        assert {h["Idempotency-Key"] for h, _ in flaky.posts} == {"run:0"}
        assert (sender.delivered, sender.failed) == (1, 0)
        sender.close()
    finally:
        flaky.close()


def test_webhook_client_error_is_final_and_dead_receiver_gives_up() -> None:
    refusing = Receiver(codes=[400])
    try:
        sender = WebhookSender([refusing.url, "http://127.0.0.1:9/none"], retries=2, backoff_s=0.01, timeout_s=1.0)
        sender.send(_alert())
        assert sender.flush(10.0)
        assert len(refusing.posts) == 1  # a 400 is not retried
        assert (sender.delivered, sender.failed) == (0, 2)
    finally:
        refusing.close()


def test_send_never_blocks_on_a_slow_receiver() -> None:
    slow = Receiver(delay_s=1.0)
    try:
        sender = WebhookSender([slow.url], timeout_s=5.0)
        start = time.perf_counter()
        for seq in range(20):
            sender.send(_alert(seq))
        assert time.perf_counter() - start < 0.2
        sender.close(timeout_s=0.1)
    finally:
        slow.close()


def test_rules_fire_when_their_condition_starts_to_hold() -> None:
    config = AlertsConfig(margin_ratio_below=1.2, drawdown_usd=100.0, tx_stuck_blocks=3, oracle_halted=True)
    fired: list[Alert] = []
    monitor = AlertMonitor(config, "r", sinks=[fired.append], webhooks=WebhookSender([]))
    ratios = [2.0, 1.1, 1.0, 1.5, 1.19, float("nan"), float("inf")]
    statuses = ["ok", "ok", "halted", "halted", "degraded", "halted", "ok"]
    totals = [0.0, 50.0, -20.0, -60.0, 40.0, -61.0, -200.0]
    monitor.on_event("transaction", TxSubmitted(T0, 0, 7, "hedger", "hedge", "USDC", 10, ("pool",)))
    monitor.on_event("transaction", TxSubmitted(T0, 0, 8, "hedger", "hedge", "USDC", 10, ("pool",)))
    for block, (ratio, status, total) in enumerate(zip(ratios, statuses, totals, strict=True)):
        if block == 1:
            monitor.on_event(
                "receipt",
                Receipt(8, "hedger", "hedge", 1, T0, False, 1, 1, 10, 0, "USDC", "Too little received", 0, T0),
            )
            monitor.on_event("intent", IntentStated(T0, 1, "hedger", "h:1", 1.0, 1.0, False, "max_cost", "too dear"))
        if block == 2:
            monitor.on_event("intent", IntentStated(T0, 2, "hedger", "h:2", 1.0, 1.0, False, "max_cost", "too dear"))
        monitor.on_snapshot(snapshot(block, ratio=ratio, status=status, total=total))
    # per block: hedge failures, margin, oracle, drawdown, stuck transactions (in that order)
    assert [(a.kind, a.block_number) for a in fired] == [
        ("hedge_failed", 1),  # a revert and a refusal in block 1: one alert; block 2's refusal continues the streak
        ("margin_ratio", 1),  # 1.1 < 1.2 fires; 1.0 still holds
        ("oracle_halted", 2),
        ("drawdown", 3),  # peak 50, now -60: 110 USD below
        ("tx_stuck", 3),  # tx 7 unanswered for 3 blocks (tx 8 got its receipt)
        ("margin_ratio", 4),  # 1.5 cleared it, 1.19 fires again
        ("oracle_halted", 5),  # degraded cleared it
        ("drawdown", 5),  # 40 cleared it, -61 is 111 below the peak
    ]
    assert "Too little received" in next(a.message for a in fired if a.kind == "hedge_failed")
    assert [a.seq for a in fired] == list(range(len(fired)))


def test_alerts_config_checks_webhook_urls(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"alerts\.webhooks.*not an http\(s\) URL"):
        load_config(short_config(tmp_path, hours=0.1, extra='[alerts]\nwebhooks = ["file:///etc/passwd"]\n'))
    with pytest.raises(ConfigError, match=r"alerts\.margin_ratio_below"):
        load_config(short_config(tmp_path, hours=0.1, extra="[alerts]\nmargin_ratio_below = -1\n"))


def test_readme_alerts_example_is_a_valid_section() -> None:
    import re
    import tomllib

    from tests.service.support import ROOT

    text = (ROOT / "README.md").read_text()
    block = re.search(r"```toml\n(\[alerts\].*?)```", text, flags=re.DOTALL)
    assert block is not None
    section = AlertsConfig.model_validate(tomllib.loads(block.group(1))["alerts"])
    assert section.margin_ratio_below == 1.3 and section.webhooks == ["http://127.0.0.1:9000/keel"]


def test_the_kill_switch_notifies(receiver: Receiver) -> None:
    monitor = AlertMonitor(AlertsConfig(webhooks=[receiver.url]), "r")
    monitor.on_snapshot(snapshot(1))
    monitor.on_end({"status": "killed"})  # delivers before returning
    assert [a.kind for a in monitor.alerts] == ["killed"] and len(receiver.posts) == 1
    assert receiver.posts[0][1]["alert"]["severity"] == "critical"
    finished = AlertMonitor(AlertsConfig(webhooks=[receiver.url]), "r2")
    finished.on_end({"status": "completed"})
    assert finished.alerts == [] and len(receiver.posts) == 1
