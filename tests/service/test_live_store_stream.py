"""A live run recorded in the store by another process (no chain here: its journal rows and pipeline events are
written as keel.runtime.live writes them): the pipeline is recorded once, less what the journal keeps, a
restart continues the numbering, and keel serve's WebSocket streams its intents, skipped decisions, fills,
and the journal's transactions and receipts."""

from __future__ import annotations

import json
import math
import warnings
from typing import Any

from keel.domain.pipeline import BlockSnapshot, DecisionSkipped, FillEvent, IntentStated, TxSubmitted
from keel.engine.transactions import Receipt
from keel.runtime.recording import live_store_recording
from keel.service import RunHub, create_app

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

TOKEN = "live-stream-token-0123456789"
ACCOUNT = "0x" + "ab" * 20
RUN = "20261203T000000Z-live01"


def _snapshot(block: int) -> BlockSnapshot:
    return BlockSnapshot(
        block_number=block,
        ts_ns=block * 10**9,
        positions=(("ETH-26DEC26-2000-C", -10.0), ("WETH", 4.25)),
        pnl={"delta": 1.5 * block, "total": 2.0 * block},
        net_delta=0.1,
        margin_ratio=2.5,
        health="ok",
        oracle_price=2000.0 + block,
        oracle_confidence=1.0,
        oracle_status="ok",
        equity_usd=10_000.0,
    )


def _session(store: Any, blocks: range) -> None:
    """One live session's pipeline, as keel.runtime.live feeds it (a tap on the engine's bus, flushed per block)."""
    tap, recorder = live_store_recording(store, RUN, ["USDC", "WETH"])
    for b in blocks:
        ts = b * 10**9
        tap("decision_skipped", DecisionSkipped(ts, b, "pm", "roll", "paused", "paused through the store"))
        tap("intent", IntentStated(ts, b, "hedger", f"hedger:{b}", 0.5, -0.5, True))
        tap("transaction", TxSubmitted(ts, b, 7, "hedger", "hedge", "USDC", 1000, ("pool",)))
        tap("receipt", Receipt(7, "hedger", "hedge", b, ts, True, 100_000, 10**9, 1000, 5, "USDC"))
        tap("fill", FillEvent(ts, b, "hedger", "hedge", "WETH", 0.5, 2000.0))
        tap("fill", FillEvent(ts, b, "pm", "option", "ETH-26DEC26-2000-C", -10.0, 95.0))
        tap("snapshot", _snapshot(b))
        recorder.flush()
    recorder.close()


def _journal(store: Any, record: dict[str, Any], also: dict[str, list[dict[str, Any]]] | None = None) -> None:
    store.append_journal(ACCOUNT, 31337, RUN, record, also)


def test_live_run_recorded_once_and_streamed(store: Any) -> None:
    store.create_run("live-desk", config_text="", mode="live", chain_id=31337, account=ACCOUNT, run_id=RUN)
    intent = f"hedger:{RUN}:101:0:0"
    meta = {"venue": "pool", "token_in": "USDC", "token_out": "WETH", "amount_in": 1000, "block": 101,
            "kind": "hedge", "agent": "hedger"}  # fmt: skip
    _journal(
        store, {"event": "signed", "intent": intent, "sender": ACCOUNT, "nonce": 3, "tx_hash": "0xaa", "meta": meta}
    )
    _journal(store, {"event": "sent", "intent": intent, "tx_hash": "0xaa"})
    _journal(store, {"event": "mined", "intent": intent, "tx_hash": "0xaa", "block_number": 102, "status": 1})
    fill = {"fill_id": "0xaa", "ts_ns": 1, "block_number": 102, "source": "hedger", "instrument": "USDC->WETH",
            "token_in": "USDC", "token_out": "WETH", "amount_in": 1000, "amount_out": 5, "fee": 0, "fee_token": "",
            "quantity": None, "price": None, "intent_id": intent, "tx_hash": "0xaa"}  # fmt: skip
    _journal(
        store, {"event": "note", "kind": "fill", "data": {"intent": intent, "status": "filled"}}, {"fills": [fill]}
    )
    _session(store, range(101, 104))
    # a restart (the journal's binding resumes the run id) continues the numbering: no primary key collides
    assert store.next_sequences(RUN) == (len(store.events(RUN)), 3, 0)
    _session(store, range(104, 106))

    events = store.events(RUN)
    assert [e.kind for e in events].count("intent") == 5 and [e.seq for e in events] == list(range(len(events)))
    assert not {"transaction", "receipt"} & {e.kind for e in events}  # the journal's, not recorded twice
    assert [f.fill_id for f in store.fills(RUN)] == ["0xaa"]  # the fills are the chain's, once
    assert [i.intent_id for i in store.intents(RUN)] == [f"hedger:{b}" for b in range(101, 106)]
    assert len(store.oracle(RUN)) == 5 and len(store.risk(RUN)) == 5
    assert {p.asset for p in store.positions(RUN)} == {"ETH-26DEC26-2000-C"}  # tokens: the journal's balances

    client = TestClient(create_app(RunHub(), store, token=TOKEN))
    base = f"/api/runs/{RUN}"
    assert client.get(f"{base}/oracle").json()["price_usd"] == 2105.0
    assert client.get(f"{base}/pnl").json()["total_usd"] == 210.0
    assert client.get(f"{base}/margin").json()["margin_ratio"] == 2.5
    charts = client.get(f"{base}/charts").json()
    assert charts["blocks"] == 5
    with client.websocket_connect(f"{base}/stream") as ws:
        assert ws.receive_json()["type"] == "hello"
        messages = []
        while (message := ws.receive_json())["type"] != "block":
            messages.append(message)
        assert message["block"] == 105 and message["oracle"]["price"] == 2105.0
        _journal(store, {"event": "signed", "intent": intent + "x", "sender": ACCOUNT, "nonce": 4, "tx_hash": "0xbb",
                         "meta": meta})  # fmt: skip
        _journal(store, {"event": "dropped", "intent": intent + "x", "reason": "past its deadline"})
        later = [ws.receive_json(), ws.receive_json()]
    kinds = [m["type"] for m in messages]
    assert kinds.count("intent") == 5 and kinds.count("skipped") == 5 and kinds.count("fill") == 10
    transaction = next(m for m in messages if m["type"] == "transaction")
    receipt = next(m for m in messages if m["type"] == "receipt")
    assert transaction["tx_id"] == receipt["tx_id"] == "0xaa" and transaction["block"] == 101
    assert transaction["sender"] == "hedger" and transaction["amount_in"] == "1000" and receipt["status"] is True
    assert kinds.count("transaction") == 1 and kinds.count("receipt") == 1
    assert [m["type"] for m in later] == ["transaction", "receipt"] and later[1]["status"] is False
    assert later[1]["reason"].startswith("dropped")
    fills = [m for m in messages if m["type"] == "fill"]
    assert {m["kind"] for m in fills} == {"hedge", "option"} and all(math.isfinite(m["price"]) for m in fills)
    json.dumps(messages)
