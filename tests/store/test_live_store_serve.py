"""A live run on the Hardhat testbed with the store (PostgreSQL), executed by another process, watched through
keel serve: its pipeline is recorded (events, intents, oracle, risk, PnL), the WebSocket streams its events and
journal, the REST state endpoints have rows, and every fill is still recorded once (the journal's)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pytest

from keel.chain import TestbedAddresses
from tests.chain.conftest import clean_chain, hardhat, testbed  # noqa: F401  (the chain fixtures)
from tests.chain.live_support import funded_account
from tests.store.test_live_store import _open_quietly, start_holder, waiter

pytestmark = [pytest.mark.hardhat, pytest.mark.slow]

_PIPELINE = ("intent", "skipped", "transaction", "receipt", "fill")


def _hedge_sent(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The hedges' ``transaction`` messages that a ``receipt`` message followed (approvals left out)."""
    mined = {m["intent"] for m in messages if m["type"] == "receipt"}
    return [m for m in messages if m["type"] == "transaction" and m["tag"] == "hedge" and m["intent"] in mined]


def test_live_run_in_another_process_is_watchable_in_serve(
    hardhat: Any,  # noqa: F811
    clean_chain: TestbedAddresses,  # noqa: F811
    postgres_url: str,
    tmp_path: Path,
) -> None:
    from keel.service import RunHub, create_app

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    tb = clean_chain
    keystore, account = funded_account(hardhat.url, tb, tmp_path, "0x" + "7f" * 32)
    blocks = 300
    holder = start_holder(hardhat.url, postgres_url, tb, keystore, tmp_path, blocks)
    token = "live-serve-token-0123456789"
    err = tmp_path / "child-error.txt"
    wait = waiter(holder, tmp_path)

    try:
        store = wait("the store", lambda: _open_quietly(postgres_url))
        try:
            run_id = wait("the live run", lambda: [r.id for r in store.runs() if r.mode == "live"])[0]

            def hedges() -> list[Any]:
                return [t for t in store.transactions(run_id) if not t.intent.startswith("approve:")]

            wait("a hedge mined", lambda: [t for t in hedges() if t.status == "mined"])
            wait("a few recorded blocks", lambda: len(store.risk(run_id)) >= 3)
            client = TestClient(create_app(RunHub(), store, token=token))
            base = f"/api/runs/{run_id}"
            with client.websocket_connect(f"{base}/stream") as ws:
                hello = ws.receive_json()
                assert hello["type"] == "hello" and hello["run"]["mode"] == "live"
                seen: list[dict[str, Any]] = []
                while not {"intent", "fill", "block"} <= {m["type"] for m in seen} or not _hedge_sent(seen):
                    seen.append(ws.receive_json())  # a backlog of what is recorded, then what comes
                    assert len(seen) < 5000, {m["type"] for m in seen}
            pipeline = [m for m in seen if m["type"] in _PIPELINE]
            assert pipeline, [m["type"] for m in seen]
            transaction = _hedge_sent(seen)[0]  # from the journal, with the agent that sent it
            assert transaction["tx_id"].startswith("0x") and transaction["intent"].startswith(transaction["sender"])
            receipt = next(m for m in seen if m["type"] == "receipt" and m["intent"] == transaction["intent"])
            assert receipt["tx_id"] == transaction["tx_id"] and receipt["status"] is True
            fill = next(m for m in seen if m["type"] == "fill" and m["kind"] == "hedge")
            assert fill["quantity"] and fill["price"] > 0
            assert any(m["type"] == "block" for m in seen)
            oracle = client.get(f"{base}/oracle").json()
            assert oracle["status"] in ("ok", "degraded", "halted") and oracle["block_number"] is not None
            assert oracle["price_usd"] is None or oracle["price_usd"] > 0
            pnl = client.get(f"{base}/pnl").json()
            assert pnl["series"] and pnl["total_usd"] is not None
            margin = client.get(f"{base}/margin").json()
            assert margin["block_number"] is not None and margin["health"] != "n/a"
            assert client.get(f"{base}/greeks").json()["net_delta"] is not None
            assert client.get(f"{base}/charts").json()["blocks"] >= 3
            assert client.get(f"{base}/intents").json()
            kill = client.post(f"{base}/kill", headers={"Authorization": f"Bearer {token}"})
            assert kill.status_code == 202
            holder.join(timeout=120)
            assert holder.exitcode == 0, err.read_text() if err.exists() else holder.exitcode
            assert store.run(run_id).status == "killed"
            # the events table holds the pipeline once, without the journal's transactions and receipts
            events = store.events(run_id)
            kinds = {e.kind for e in events}
            assert {"intent", "oracle"} <= kinds and not {"transaction", "receipt"} & kinds, kinds
            assert [e.seq for e in events] == list(range(len(events)))
            # every fill recorded once: the journal's, one per filled hedge
            records = store.journal_records(account, 31337)
            filled = {r["data"]["tx_hash"] for r in records if r["event"] == "note" and r["kind"] == "fill"
                      and r["data"]["status"] == "filled"}  # fmt: skip
            fills = store.fills(run_id)
            assert filled and sorted(f.fill_id for f in fills) == sorted(filled)
            summary = json.loads(store.run(run_id).summary_json)
            assert summary["hedges_filled"] == len(filled)
        finally:
            store.close()
    finally:
        if holder.is_alive():
            holder.kill()
        holder.join()
