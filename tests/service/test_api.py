"""keel serve REST, WebSocket, control and metrics over a live run fed with real pipeline event types."""

from __future__ import annotations

import warnings

import pytest
from prometheus_client.parser import text_string_to_metric_families

from keel.service import HubSubscriber, create_app
from keel.service.app import MAX_BODY_BYTES
from tests.service.support import RUN_ID, feed_block, live_run

warnings.filterwarnings("ignore", message=".*httpx.*", category=DeprecationWarning)
from fastapi.testclient import TestClient  # noqa: E402

TOKEN = "test-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def served() -> tuple[TestClient, object, object]:
    hub, run, control = live_run(30)
    return TestClient(create_app(hub, None, token=TOKEN)), run, control


def test_rest_answers_state_of_a_live_run(served: tuple[TestClient, object, object]) -> None:
    client, _, _ = served
    runs = client.get("/api/runs").json()
    assert [r["id"] for r in runs] == [RUN_ID] and runs[0]["status"] == "running" and runs[0]["blocks"] == 30
    base = f"/api/runs/{RUN_ID}"
    assert client.get(base).json()["name"] == "eth_options_desk"
    positions = {p["asset"]: p["quantity"] for p in client.get(f"{base}/positions").json()}
    assert positions == {"ETH-12JAN24-2400-C": -100.0, "WETH": 49.0}
    greeks = client.get(f"{base}/greeks").json()
    assert greeks["net_delta"] == 14.5 and greeks["hedge_units"] == 49.0 and greeks["block_number"] == 29
    assert (greeks["gamma"], greeks["vega_usd"], greeks["theta_usd_per_day"]) == (-0.29, -279.0, 69.0)
    margin = client.get(f"{base}/margin").json()
    assert margin["margin_ratio"] == 1.8 and margin["thresholds"] == {"liquidation": 1.0, "reduce-only": 1.25}
    pnl = client.get(f"{base}/pnl", params={"points": 5}).json()
    assert len(pnl["series"]) == 5 and pnl["series"][-1]["block_number"] == 29
    assert pnl["total_usd"] == pytest.approx(sum(v for v in pnl["components_usd"].values()))
    oracle = client.get(f"{base}/oracle").json()
    assert oracle == {
        "run_id": RUN_ID,
        "block_number": 29,
        "ts_ns": oracle["ts_ns"],
        "price_usd": 2299.0,
        "confidence_usd": 1.5,
        "status": "ok",
    }
    intents = client.get(f"{base}/intents", params={"limit": 3}).json()
    assert [i["intent_id"] for i in intents] == ["hedger:29", "hedger:28", "hedger:27"]
    assert intents[0]["status"] == "refused"  # block 29: 29 % 5 == 4
    txs = client.get(f"{base}/transactions", params={"limit": 30}).json()
    assert txs[0]["status"] == "pending" and {t["status"] for t in txs} == {"pending", "included", "reverted"}
    assert next(t for t in txs if t["status"] == "included")["latency_s"] == 12.0
    fills = client.get(f"{base}/fills", params={"limit": 2, "offset": 1}).json()
    assert len(fills) == 2 and fills[0]["kind"] == "hedge"
    charts = client.get(f"{base}/charts").json()
    assert charts["blocks"] == 30 and set(charts["figures"]) == {"pnl", "delta", "margin", "base_fee", "price"}
    assert any(t["name"] == "oracle confidence band" for t in charts["figures"]["price"]["data"])
    assert charts["figures"]["base_fee"]["data"][0]["y"][:3] == [20.0, 21.0, 22.0]


@pytest.mark.parametrize(
    ("path", "status", "words"),
    [
        (f"/api/runs/{'2' * 8}T000000Z-ffffff", 404, "not found"),
        ("/api/runs/..%2F..%2Fetc", 404, "no such path"),
        ("/api/runs/-leading-dash", 422, "path.run_id"),
        ("/api/runs/%00", 422, "path.run_id"),
        (f"/api/runs/{'a' * 200}", 422, "path.run_id"),
        (f"/api/runs/{RUN_ID}/fills?limit=abc", 422, "query.limit='abc'"),
        (f"/api/runs/{RUN_ID}/fills?limit=0", 422, "query.limit='0': Input should be greater than or equal to 1"),
        (f"/api/runs/{RUN_ID}/fills?limit=100000", 422, "query.limit='100000'"),
        (f"/api/runs/{RUN_ID}/fills?offset=-1", 422, "query.offset='-1'"),
        (f"/api/runs/{RUN_ID}/pnl?points=1e9", 422, "query.points"),
        ("/api/runs?status=dancing", 422, "query.status='dancing'"),
        (f"/api/runs/{RUN_ID}/alerts?limit=" + "9" * 5000, 414, "URL of"),
        ("/api/nothing-here", 404, "no such path '/api/nothing-here'"),
    ],
)
def test_bad_input_is_a_clear_4xx(
    served: tuple[TestClient, object, object], path: str, status: int, words: str
) -> None:
    client, _, _ = served
    response = client.get(path)
    assert response.status_code == status, response.text
    assert words in response.json()["detail"]


def test_oversized_body_is_413_and_changes_nothing(served: tuple[TestClient, object, object]) -> None:
    client, _, control = served
    response = client.post(f"/api/runs/{RUN_ID}/kill", headers=AUTH, content=b"x" * (MAX_BODY_BYTES + 1))
    assert response.status_code == 413 and "over the limit" in response.json()["detail"]
    assert control.status == "running"  # type: ignore[attr-defined]


def test_control_needs_the_token_and_then_works(served: tuple[TestClient, object, object]) -> None:
    client, run, control = served
    for headers in ({}, {"Authorization": "Bearer wrong-token-wrong-token"}, {"Authorization": f"Basic {TOKEN}"}):
        for action in ("kill", "pause", "resume"):
            response = client.post(f"/api/runs/{RUN_ID}/{action}", headers=headers)
            assert response.status_code == 401 and "Bearer" in response.json()["detail"]
            assert response.headers["www-authenticate"] == "Bearer"
    assert control.status == "running"  # type: ignore[attr-defined]  # nothing changed
    assert client.post(f"/api/runs/{RUN_ID}/pause", headers=AUTH).json()["status"] == "paused"
    assert control.status == "paused" and client.get(f"/api/runs/{RUN_ID}").json()["status"] == "paused"  # type: ignore[attr-defined]
    assert client.post(f"/api/runs/{RUN_ID}/resume", headers=AUTH).json()["status"] == "running"
    assert client.post(f"/api/runs/{RUN_ID}/kill", headers=AUTH).json()["status"] == "stopping"
    assert control.status == "stopped"  # type: ignore[attr-defined]
    run.finish({"status": "killed"})  # type: ignore[attr-defined]  # what the runtime reports when it stops
    assert client.get(f"/api/runs/{RUN_ID}").json()["status"] == "killed"
    again = client.post(f"/api/runs/{RUN_ID}/kill", headers=AUTH)
    assert again.status_code == 409 and "already ended (killed)" in again.json()["detail"]
    unknown = client.post("/api/runs/nope-nope/kill", headers=AUTH)
    assert unknown.status_code == 404


def test_websocket_streams_blocks_and_events() -> None:
    hub, run, _ = live_run(3)
    client = TestClient(create_app(hub, None, token=TOKEN))
    sub = HubSubscriber(run)
    with client.websocket_connect(f"/api/runs/{RUN_ID}/stream") as ws:
        hello = ws.receive_json()
        assert hello["type"] == "hello" and hello["run"]["id"] == RUN_ID
        kinds = []
        block = None
        while block is None or block["block"] < 2:
            message = ws.receive_json()
            kinds.append(message["type"])
            if message["type"] == "block":
                block = message
        assert {"intent", "transaction", "receipt", "fill"} <= set(kinds)
        feed_block(sub, 3)  # a block reported after the client connected reaches it
        while True:
            message = ws.receive_json()
            if message["type"] == "block":
                assert message["block"] == 3 and message["oracle"]["status"] == "ok"
                break
    with client.websocket_connect("/api/runs/unknown-run/stream") as ws:
        assert ws.receive_json()["type"] == "error"


def test_metrics_parse_with_prometheus_parser() -> None:
    hub, run, _ = live_run(0)
    client = TestClient(create_app(hub, None, token=TOKEN))
    sub = HubSubscriber(run)
    for b in range(20):
        feed_block(sub, b, ratio=1.4, status="halted" if b == 19 else "ok")
    text = client.get("/metrics").text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    for name in (
        "keel_blocks_processed",
        "keel_hedges",
        "keel_tx_latency_seconds",
        "keel_margin_ratio",
        "keel_oracle_status",
        "keel_store_write_lag_blocks",
        "keel_store_write_lag_seconds",
    ):
        assert name in families, name

    def value(name: str, sample: str, **labels: str) -> float:
        for s in families[name].samples:
            if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items()):
                return float(s.value)
        raise AssertionError(f"{sample} {labels} missing")

    assert value("keel_blocks_processed", "keel_blocks_processed_total", run=RUN_ID) == 20
    assert value("keel_hedges", "keel_hedges_total", run=RUN_ID, outcome="refused") == 4  # blocks 4, 9, 14, 19
    assert value("keel_hedges", "keel_hedges_total", run=RUN_ID, outcome="reverted") == 2  # receipts of blocks 7, 14
    assert value("keel_hedges", "keel_hedges_total", run=RUN_ID, outcome="filled") == 17
    assert value("keel_tx_latency_seconds", "keel_tx_latency_seconds_count", run=RUN_ID) == 19
    assert value("keel_tx_latency_seconds", "keel_tx_latency_seconds_sum", run=RUN_ID) == 19 * 12.0
    assert value("keel_margin_ratio", "keel_margin_ratio", run=RUN_ID) == 1.4
    assert value("keel_oracle_status", "keel_oracle_status", run=RUN_ID) == 2  # halted
    assert value("keel_oracle_price_usd", "keel_oracle_price_usd", run=RUN_ID) == 2289.0
    assert value("keel_run_status", "keel_run_status", run=RUN_ID, status="running") == 1
    assert families["keel_store_write_lag_blocks"].samples == []  # no store, nothing to lag (see test_store_api)
