"""StoreSubscriber's rows and the Fanout that feeds it, against plain reference code written here.

The subscriber builds rows with per-type getters (worked out once per event type) and the Fanout copies each
snapshot with its block's events without ``dataclasses.replace``; both must give what the straightforward
code gives: every event field as JSON in ``detail``, the column rules of the events table, and a snapshot
equal to ``dataclasses.replace(snapshot, events=...)``."""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, cast

from keel.engine import BlockSnapshot
from keel.runtime import run_simulation
from keel.runtime.recording import Fanout
from keel.sim.config import load_config
from keel.store.subscriber import StoreSubscriber

ROOT = Path(__file__).resolve().parents[2]


class _Rows:
    """The part of StoreRecorder the subscriber calls, keeping every row."""

    def __init__(self) -> None:
        self.event_seq = self.oracle_seq = self.alert_seq = 0
        self.rows: list[tuple[str, Any]] = []

    def add_row(self, kind: str, row: tuple[Any, ...]) -> None:
        self.rows.append((kind, row))

    def intent(self, row: Any) -> None:
        self.rows.append(("intents", row))

    def fill(self, row: Any) -> None:
        self.rows.append(("fills", row))

    def flush(self) -> None:
        pass


def _plain(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if hasattr(value, "value"):
        return value.value
    return str(value)


def _reference_row(seq: int, topic: str, event: Any) -> tuple[Any, ...]:
    """The events row as the issue describes it, written the obvious way."""
    if not dataclasses.is_dataclass(event):
        fields: dict[str, Any] = {"repr": repr(event)}
    else:
        fields = {f.name: getattr(event, f.name) for f in dataclasses.fields(event)}

    def num(x: Any) -> float | None:
        if x is None or isinstance(x, str):
            return None
        try:
            v = float(x)
        except (TypeError, ValueError):
            return None
        return None if math.isnan(v) else v

    detail = json.dumps(fields, separators=(",", ":"), default=_plain)
    return (
        seq,
        int(fields.get("ts_ns", 0) or 0),
        str(fields.get("agent") or fields.get("sender") or topic),
        topic,
        str(fields.get("instrument", "") or ""),
        num(fields.get("quantity")),
        num(fields.get("price")),
        num(fields.get("value", fields.get("fee_usd"))),
        detail,
    )


class _Side(Enum):
    BUY = "buy"


@dataclass(frozen=True, slots=True)
class _One:
    quantity: float


@dataclass(frozen=True, slots=True)
class _Empty:
    pass


@dataclass(frozen=True)
class _Odd:
    ts_ns: int
    agent: str
    sender: str
    instrument: str | None
    price: str
    value: Any
    fee_usd: float
    side: _Side
    legs: tuple[tuple[str, float], ...]


@dataclass(frozen=True)
class _FeeOnly:
    agent: str
    fee_usd: float


class _NotADataclass:
    def __repr__(self) -> str:
        return "<not a dataclass>"


def test_edge_shapes_give_the_reference_rows() -> None:
    events: list[tuple[str, Any]] = [
        ("one", _One(math.nan)),
        ("one", _One(2.5)),
        ("empty", _Empty()),
        ("odd", _Odd(7, "", "sender-a", None, "12.5", None, 3.0, _Side.BUY, (("a", math.inf),))),
        ("odd", _Odd(8, "agent-b", "sender-b", "ETH-C", "x", 4, -math.inf, _Side.BUY, ())),
        ("odd", _Odd(0, "", "", "", "", "1e3", 0.0, _Side.BUY, ())),
        ("fee", _FeeOnly("a", 1.25)),
        ("raw", _NotADataclass()),
    ]
    rec = _Rows()
    sub = StoreSubscriber(cast(Any, rec))
    for topic, event in events:
        sub.on_event(topic, event)
    got = [row for kind, row in rec.rows if kind == "events"]
    want = [_reference_row(i, topic, event) for i, (topic, event) in enumerate(events)]
    assert repr(got) == repr(want)  # repr: NaN-safe equality, exact float digits
    assert len(rec.rows) == len(events)  # none of these makes intents or fills


def test_a_desk_run_records_the_reference_rows_and_snapshots_with_their_events() -> None:
    config = load_config(ROOT / "examples" / "eth_options_desk.toml")
    config = config.model_copy(update={"market": config.market.model_copy(update={"hours": 1})})
    seen: list[tuple[str, Any]] = []
    snapshots: list[tuple[BlockSnapshot, tuple[Any, ...]]] = []

    class Tap:
        def __init__(self) -> None:
            self.block: list[Any] = []

        def on_event(self, topic: str, event: object) -> None:
            seen.append((topic, event))
            self.block.append(event)

        def on_snapshot(self, snapshot: BlockSnapshot) -> None:
            snapshots.append((snapshot, tuple(self.block)))
            self.block = []

    rec = _Rows()
    run_simulation(config, out=None, subscribers=[Tap(), StoreSubscriber(cast(Any, rec))])
    assert {t for t, _ in seen} >= {"market_data", "oracle", "transaction", "receipt", "intent"}
    got = [row for kind, row in rec.rows if kind == "events"]
    assert repr(got) == repr([_reference_row(i, t, e) for i, (t, e) in enumerate(seen)])
    assert len(snapshots) == 300
    for snapshot, block in snapshots:
        assert snapshot.events == block
        assert repr(snapshot) == repr(dataclasses.replace(snapshot, events=block))


def test_fanout_copies_a_snapshot_subclass_too() -> None:
    @dataclass(frozen=True, slots=True)
    class Tagged(BlockSnapshot):
        tag: str = "t"

    got: list[BlockSnapshot] = []

    class Keep:
        def on_event(self, topic: str, event: object) -> None:
            pass

        def on_snapshot(self, snapshot: BlockSnapshot) -> None:
            got.append(snapshot)

    fan = Fanout([Keep()])
    base: dict[str, Any] = {
        "block_number": 3, "ts_ns": 9, "positions": (("WETH", 1.0),), "pnl": {"total": 1.0}, "net_delta": 0.5,
        "margin_ratio": 2.0, "health": "ok", "oracle_price": 2000.0, "oracle_confidence": 1.0, "oracle_status": "ok",
        "equity_usd": 5.0, "base_fee_gwei": 12.0,
    }  # fmt: skip
    fan("market_data", _One(1.0))
    fan("snapshot", BlockSnapshot(**base))
    fan("oracle", _One(2.0))
    fan("snapshot", Tagged(**base, tag="x"))
    assert got[0] == BlockSnapshot(**base, events=(_One(1.0),))
    assert type(got[1]) is Tagged and got[1] == Tagged(**base, events=(_One(2.0),), tag="x")
