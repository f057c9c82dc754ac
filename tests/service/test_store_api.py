"""keel serve over the store: a simulated run recorded by keel.store, read back through REST; store write lag metric."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from keel.service import HubSubscriber, RunHub, create_app
from keel.sim.config import load_config
from tests.service.support import RUN_ID, feed_block, live_run, short_config

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

TOKEN = "store-api-token-0123456789"


def _recorded_run(store: Any, tmp_path: Path) -> str:
    from keel.runtime import run_simulation
    from keel.runtime.alerts import AlertMonitor, store_sink
    from keel.store import StoreRecorder
    from keel.store.subscriber import StoreSubscriber

    config = load_config(short_config(tmp_path, hours=0.25, extra="[alerts]\nmargin_ratio_below = 100.0\n"))
    assert config.alerts is not None
    run = store.create_run(config.name, config_text="test", mode="sim", seed=config.seed)
    recorder = StoreRecorder(store, run.id)
    monitor = AlertMonitor(config.alerts, run.id, sinks=[store_sink(recorder)])
    summary = run_simulation(config, subscribers=[StoreSubscriber(recorder), monitor])
    recorder.close()
    store.finish_run(run.id, "finished", summary_json=json.dumps(summary, sort_keys=True))
    return str(run.id)


def test_rest_reads_a_recorded_run(store: Any, tmp_path: Path) -> None:
    run_id = _recorded_run(store, tmp_path)
    client = TestClient(create_app(RunHub(), store, token=TOKEN))
    runs = client.get("/api/runs").json()
    assert [(r["id"], r["status"], r["live"], r["blocks"]) for r in runs] == [(run_id, "finished", False, 75)]
    base = f"/api/runs/{run_id}"
    detail = client.get(base).json()
    assert detail["summary"]["blocks"] == 75 and detail["keel_version"]
    positions = client.get(f"{base}/positions").json()
    assert positions and all(p["quantity"] == pytest.approx(int(p["amount"]) / 10 ** p["decimals"]) for p in positions)
    pnl = client.get(f"{base}/pnl", params={"points": 10}).json()
    assert len(pnl["series"]) == 10 and pnl["total_usd"] == pytest.approx(detail["summary"]["pnl"]["total"], abs=0.01)
    # every component at every block, carried forward from its last change (the store writes only changes)
    want = detail["summary"]["pnl"]
    assert pnl["components_usd"] == pytest.approx({k: want[k] for k in pnl["components_usd"]}, abs=0.01)
    assert all(v is not None for row in pnl["series"] for v in row["components"].values())
    greeks = client.get(f"{base}/greeks").json()
    risk = store.latest_risk(run_id)
    assert greeks["block_number"] == 75 and greeks["net_delta"] == pytest.approx(risk.delta)
    assert (greeks["gamma"], greeks["vega_usd"], greeks["theta_usd_per_day"]) == (risk.gamma, risk.vega, risk.theta)
    assert greeks["gamma"] < 0 and greeks["vega_usd"] < 0 and greeks["theta_usd_per_day"] > 0  # short calls
    margin = client.get(f"{base}/margin").json()
    assert margin["margin_ratio"] is not None and margin["margin_ratio"] > 1
    assert client.get(f"{base}/oracle").json()["status"] == "ok"
    assert client.get(f"{base}/fills").json()
    assert client.get(f"{base}/intents").json()
    alerts = client.get(f"{base}/alerts").json()
    kinds = [a["kind"] for a in alerts][::-1]  # newest first
    assert kinds.count("margin_ratio") == 1 and set(kinds) <= {"margin_ratio", "hedge_failed"}
    charts = client.get(f"{base}/charts").json()
    assert charts["blocks"] == 75 and len(charts["figures"]["pnl"]["data"]) > 2
    # a run recorded by another process streams from the store: its events as for a run in this process, then
    # the newest block
    with client.websocket_connect(f"{base}/stream") as ws:
        assert ws.receive_json()["type"] == "hello"
        events = []
        while (message := ws.receive_json())["type"] != "block":
            events.append(message)
        block = message
        assert (
            block["type"] == "block"
            and block["block"] == 75
            and block["blocks"] == 75
            and block["oracle"]["status"] == "ok"
        )
        assert block["pnl"]["total"] == pytest.approx(pnl["total_usd"])
        assert block["pnl"] == pytest.approx({k: pnl["components_usd"].get(k, pnl["total_usd"]) for k in block["pnl"]})
        assert set(block["pnl"]) >= set(pnl["components_usd"]) | {"total"}
        assert (block["gamma"], block["vega_usd"], block["theta_usd_per_day"]) == (risk.gamma, risk.vega, risk.theta)
    kinds_streamed = {m["type"] for m in events}
    assert {"intent", "transaction", "receipt", "fill", "alert"} <= kinds_streamed, kinds_streamed
    fill = next(m for m in events if m["type"] == "fill")  # the message a run in this process sends
    assert set(fill) == {"type", "block", "ts_ns", "agent", "kind", "instrument", "quantity", "price", "fee_usd"}
    assert any(m["type"] == "alert" and m["kind"] == "margin_ratio" for m in events)
    # a run that has ended cannot be controlled; without the token nothing is even looked at
    kill = client.post(f"{base}/kill", headers={"Authorization": f"Bearer {TOKEN}"})
    assert kill.status_code == 409 and "has already ended (finished)" in kill.json()["detail"]
    assert client.post(f"{base}/kill").status_code == 401
    assert store.run(run_id).status == "finished" and store.controls(run_id) == []
    # an id the store does not hold exactly (a prefix of a real one) is unknown to the API
    assert client.get(f"/api/runs/{run_id[:10]}").status_code == 404


def test_store_write_lag_metric(tmp_path: Path) -> None:
    from keel.store import RiskRow, open_store

    store = open_store(f"sqlite:///{tmp_path / 'keel.db'}")
    store.create_run("eth_options_desk", config_text="x", mode="sim", run_id=RUN_ID)
    hub, run, _ = live_run(0)
    client = TestClient(create_app(hub, store, token=TOKEN))
    sub = HubSubscriber(run)
    for b in range(10):
        feed_block(sub, b)
    store.write_risk(RUN_ID, [RiskRow(b, 0, "desk", 0, 0, 0, 1.0, 0) for b in range(6)])  # blocks 0..5 written

    def lag() -> tuple[float, float]:
        families = {f.name: f for f in text_string_to_metric_families(client.get("/metrics").text)}
        blocks = families["keel_store_write_lag_blocks"].samples[0].value
        seconds = families["keel_store_write_lag_seconds"].samples[0].value
        return float(blocks), float(seconds)

    blocks, seconds = lag()
    assert blocks == 4 and seconds >= 0.0
    store.write_risk(RUN_ID, [RiskRow(b, 0, "desk", 0, 0, 0, 1.0, 0) for b in range(6, 10)])
    assert lag() == (0.0, 0.0)
    store.close()
