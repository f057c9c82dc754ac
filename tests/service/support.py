"""Feeding a live run with real pipeline event types (keel.domain.pipeline, keel.engine.Receipt), block by block."""

from __future__ import annotations

import math
from typing import Any

from keel.domain.pipeline import BlockSnapshot, DecisionSkipped, FillEvent, IntentStated, TxSubmitted
from keel.engine.pipeline import RunControl
from keel.engine.transactions import Receipt
from keel.service.hub import HubSubscriber, LiveRun, RunHub
from keel.sim.scenario import PNL_PARTS

T0 = 1_704_412_800_000_000_000  # 2024-01-05T00:00:00Z
BLOCK_NS = 12_000_000_000
RUN_ID = "20240105T000000Z-abc123"


def snapshot(block: int, *, ratio: float = 1.8, status: str = "ok", total: float | None = None) -> BlockSnapshot:
    pnl = {p: float(i + 1) * block * (-1) ** i for i, p in enumerate(PNL_PARTS)}
    pnl["total"] = sum(pnl.values()) if total is None else total
    return BlockSnapshot(
        block_number=block,
        ts_ns=T0 + block * BLOCK_NS,
        positions=(("ETH-12JAN24-2400-C", -100.0), ("WETH", 20.0 + block)),
        pnl=pnl,
        net_delta=0.5 * block,
        margin_ratio=ratio,
        health="ok",
        oracle_price=2270.0 + block,
        oracle_confidence=1.5 if status != "halted" else math.nan,
        oracle_status=status,
        equity_usd=1e6 + pnl["total"],
        base_fee_gwei=20.0 + (block % 7),
        gamma=-0.01 * block,
        vega=-250.0 - block,
        theta=40.0 + block,
    )


def feed_block(sub: Any, block: int, **kw: Any) -> None:
    """One block's events: an intent, its transaction, the receipt and fill of the previous one, a snapshot."""
    ts = T0 + block * BLOCK_NS
    sub.on_event("intent", IntentStated(ts, block, "hedger", f"hedger:{block}", 1.25, 3.0, accepted=block % 5 != 4))
    sub.on_event("transaction", TxSubmitted(ts, block, block, "hedger", "hedge", "USDC", 2_000_000_000, ("pool",)))
    if block > 0:
        ok = block % 7 != 0
        sub.on_event(
            "receipt",
            Receipt(
                block - 1, "hedger", "hedge", block, ts, ok, 150_000, 20 * 10**9, 2_000_000_000,
                880_000_000_000_000_000, "USDC", "" if ok else "Too little received", 0, ts - BLOCK_NS,
            ),
        )  # fmt: skip
        if ok:
            sub.on_event("fill", FillEvent(ts, block, "hedger", "hedge", "WETH", 0.88, 2271.0, 0.3))
    if block % 9 == 8:
        sub.on_event("decision_skipped", DecisionSkipped(ts, block, "hedger", "hedge", "oracle_halted", "halted"))
    sub.on_snapshot(snapshot(block, **kw))


def live_run(blocks: int = 30, run_id: str = RUN_ID) -> tuple[RunHub, LiveRun, RunControl]:
    hub = RunHub()
    control = RunControl()
    run = hub.add(LiveRun(run_id, "eth_options_desk", control, thresholds={"liquidation": 1.0, "reduce-only": 1.25}))
    sub = HubSubscriber(run)
    for b in range(blocks):
        feed_block(sub, b)
    return hub, run, control


ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]


def short_config(tmp: Any, example: str = "eth_options_desk.toml", hours: float = 0.5, extra: str = "") -> Any:
    """An example scenario cut to ``hours``, data paths made absolute, ``extra`` TOML appended; returns the path."""
    lines = []
    for line in (ROOT / "examples" / example).read_text().splitlines():
        if line.startswith("hours ="):
            line = f"hours = {hours}"
        if line.startswith(("file =", "funding_file =", "chain =")):
            key, value = line.split("=", 1)
            raw = value.split("#")[0].strip().strip('"')
            line = f'{key}= "{ROOT / raw}"'
        lines.append(line)
    path = tmp / example
    path.write_text("\n".join(lines) + "\n" + extra)
    return path
