"""A run subscriber (:class:`keel.engine.pipeline.RunSubscriber`) that records the pipeline into the store.

Every typed pipeline event becomes one ``events`` row (its fields as compact JSON in ``detail``);
receipts become fills (exact base units, ``fill_id`` = ``tx-<id>``) and close the intents opened by
transactions; agents' fills are recorded as fills too unless ``agent_fills=False`` (``fill_id`` =
``<agent>-<n>``, their human quantity and USD price; no base-unit amounts off-chain); each block's
snapshot becomes positions and PnL attribution components (rows only where they changed: the value at
block N is the last row at or before N), a risk snapshot and an oracle reading.  It only reads what it
is given, and writes through a :class:`StoreRecorder` (bounded queue: a slow database slows the run, never drops a row).
"""

from __future__ import annotations

import dataclasses
import json
import json.encoder
import math
import operator
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from keel.engine.pipeline import BlockSnapshot, FillEvent, IntentStated, TxSubmitted
from keel.engine.transactions import Receipt
from keel.store.recorder import StoreRecorder
from keel.store.types import FillRow, IntentRow

__all__ = ["POSITION_DECIMALS", "StoreSubscriber"]

POSITION_DECIMALS = 18
"""Snapshot positions (contracts, units) are stored as exact ints of 10**-18 units: the decimal value
of the float the book holds, rounded half-even at 18 places (a float has no more digits than that)."""


def _json_default(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if hasattr(value, "value"):  # enums
        return value.value
    return str(value)


class _Shape:
    """How one event type becomes an ``events`` row, worked out once per type: its field names, a getter of
    all their values at once, where the row's columns come from, and which further rows it makes."""

    __slots__ = ("fee", "further", "instrument", "names", "price", "quantity", "sender", "ts", "value", "values", "who")

    def __init__(self, kind: type) -> None:
        self.names = names = tuple(f.name for f in dataclasses.fields(kind))
        self.values: Callable[[Any], tuple[Any, ...]] = _values_getter(names)

        def at(name: str) -> int:
            return names.index(name) if name in names else -1

        self.ts, self.who, self.sender, self.instrument = at("ts_ns"), at("agent"), at("sender"), at("instrument")
        self.quantity, self.price, self.value, self.fee = at("quantity"), at("price"), at("value"), at("fee_usd")
        # the StoreSubscriber method that writes its further rows (fills, intents), if any
        self.further = next((method for base, method in _FURTHER if issubclass(kind, base)), "")


def _values_getter(names: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    """``event -> (its values of names...)``: one attrgetter call (which returns a bare value for one name)."""
    if len(names) > 1:
        return operator.attrgetter(*names)
    if names:
        one = operator.attrgetter(names[0])
        return lambda event: (one(event),)
    return lambda event: ()


_FURTHER = (  # receipts -> fills and closed intents; transactions -> intents; stated intents; agents' fills
    (Receipt, "_receipt"),
    (TxSubmitted, "_submitted"),
    (IntentStated, "_intent"),
    (FillEvent, "_agent_fill"),
)
_SHAPES: dict[type, _Shape | None] = {}


def _shape(kind: type) -> _Shape | None:
    try:
        return _SHAPES[kind]
    except KeyError:
        shape = _SHAPES[kind] = _Shape(kind) if dataclasses.is_dataclass(kind) else None
        return shape


def _units(quantity: float, decimals: int = POSITION_DECIMALS) -> int:
    if not math.isfinite(quantity):
        return 0
    return int((Decimal(repr(float(quantity))) * (10**decimals)).to_integral_value())


def _f(x: float) -> float | None:
    return None if x != x else float(x)


def _num(x: Any) -> float | None:
    """A number column: None (NULL) when absent, not a number, or NaN."""
    if type(x) is float:
        return x if x == x else None
    if x is None or isinstance(x, str):
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return None if v != v else v


_ENCODE = json.JSONEncoder(separators=(",", ":"), default=_json_default).encode
_c_encoder: Any = getattr(json.encoder, "c_make_encoder", None)
# _ENCODE's C encoder, built once (JSONEncoder.encode builds one per call): markers None = no cycle check
# (event fields hold no cycles), ensure_ascii, no indent, ":" and ",", unsorted, no skipped keys, NaN allowed
_iterencode: Any = (
    _c_encoder(None, _json_default, json.encoder.encode_basestring_ascii, None, ":", ",", False, False, True)
    if _c_encoder is not None
    else None
)


def _encode(fields: dict[str, Any]) -> str:
    if _iterencode is None:  # pragma: no cover - CPython has the C encoder
        return _ENCODE(fields)
    return "".join(_iterencode(fields, 0))


class StoreSubscriber:
    """Records one run; ``account`` names the book in positions and risk rows."""

    def __init__(self, recorder: StoreRecorder, *, account: str = "desk", agent_fills: bool = True) -> None:
        self.recorder = recorder
        self.account = account
        self.agent_fills = agent_fills  # False: agents' fills stay events only (a live run's fills are its journal's)
        self._fills: dict[str, int] = {}
        self._tx_intents: dict[int, IntentRow] = {}
        self._last_positions: dict[str, int] = {}
        self._last_raw: dict[str, float] = {}
        self._last_pnl: dict[str, float] = {}
        self.summary: dict[str, Any] | None = None

    # ---- RunSubscriber ----------------------------------------------------------------------------
    def on_event(self, topic: str, event: object) -> None:
        shape = _shape(type(event))
        rec = self.recorder
        seq = rec.event_seq
        rec.event_seq = seq + 1
        if shape is None:  # not a dataclass: its repr, and the topic
            rec.add_row("events", (seq, 0, topic, topic, "", None, None, None, _encode({"repr": repr(event)})))
            return
        values = shape.values(event)
        i = shape.who
        who = values[i] if i >= 0 else None
        if not who:
            i = shape.sender
            who = (values[i] if i >= 0 else None) or topic
        i = shape.value
        value = values[i] if i >= 0 else (values[shape.fee] if shape.fee >= 0 else None)
        i = shape.ts
        ts = (values[i] or 0) if i >= 0 else 0
        i = shape.instrument
        instrument = (values[i] or "") if i >= 0 else ""
        # fields in declaration order; tuples as lists, str enums as their value, NaN/inf as JSON's extension tokens
        rec.add_row(
            "events",
            (
                seq,
                int(ts),
                str(who),
                topic,
                str(instrument),
                _num(values[shape.quantity]) if shape.quantity >= 0 else None,
                _num(values[shape.price]) if shape.price >= 0 else None,
                _num(value),
                _encode(dict(zip(shape.names, values, strict=True))),
            ),
        )
        if shape.further:
            getattr(self, shape.further)(event)

    def _submitted(self, event: TxSubmitted) -> None:
        row = IntentRow(
            intent_id=f"tx-{event.tx_id}",
            created_ns=event.ts_ns,
            block_number=event.block_number,
            kind=event.tag or "tx",
            token_in=event.token_in,
            token_out="",
            amount_in=int(event.amount_in),
            min_amount_out=0,
            status="submitted",
            detail=",".join(event.venues),
        )
        self._tx_intents[event.tx_id] = row
        self.recorder.intent(row)

    def _intent(self, event: IntentStated) -> None:
        self.recorder.intent(
            IntentRow(
                intent_id=event.order_id or f"{event.agent}-{event.block_number}",
                created_ns=event.ts_ns,
                block_number=event.block_number,
                kind="hedge",
                token_in="",
                token_out="",
                amount_in=0,
                min_amount_out=0,
                status="accepted" if event.accepted else "refused",
                detail=event.reason or event.cause,
            )
        )

    def _agent_fill(self, event: FillEvent) -> None:
        if event.kind == "hedge" or not self.agent_fills:  # hedges: from receipts
            return
        n = self._fills.get(event.agent, 0)
        self._fills[event.agent] = n + 1
        self.recorder.fill(
            FillRow(
                fill_id=f"{event.agent}-{n}",
                ts_ns=event.ts_ns,
                block_number=event.block_number,
                source=event.agent,
                instrument=event.instrument,
                token_in="",
                token_out="",
                amount_in=0,
                amount_out=0,
                quantity=event.quantity,
                price=event.price,
            )
        )

    def _receipt(self, r: Receipt) -> None:
        opened = self._tx_intents.pop(r.tx_id, None)
        if opened is not None:
            self.recorder.intent(
                dataclasses.replace(
                    opened,
                    status="filled" if r.status else "reverted",
                    detail=r.revert_reason or opened.detail,
                    updated_ns=r.ts_ns,
                )
            )
        if not r.status:
            return
        self.recorder.fill(
            FillRow(
                fill_id=f"tx-{r.tx_id}",
                ts_ns=r.ts_ns,
                block_number=r.block_number,
                source=r.sender,
                instrument=r.tag,
                token_in=r.token_in,
                token_out="",
                amount_in=int(r.amount_in),
                amount_out=int(r.amount_out),
                fee=int(r.fee_wei),
                fee_token="ETH",
                intent_id=f"tx-{r.tx_id}",
            )
        )

    def on_snapshot(self, snapshot: BlockSnapshot) -> None:
        b, ts = snapshot.block_number, snapshot.ts_ns
        add = self.recorder.add_row
        raw = self._last_raw
        positions = snapshot.positions
        changed = {name: q for name, q in positions if raw.get(name) != q}
        if raw:
            names = {n for n, _ in positions}
            gone = [name for name in raw if name not in names]
        else:
            gone = []
        if changed or gone:
            for name in gone:
                changed[name] = 0.0  # closed since the previous block
            for name in sorted(changed):
                units = _units(changed[name])
                if self._last_positions.get(name, 0) != units:  # only what changed: positions "as of" a block
                    add("positions", (b, ts, self.account, name, units, POSITION_DECIMALS))
                self._last_positions[name] = units
                raw[name] = changed[name]
            for name in gone:
                del raw[name]
                self._last_positions.pop(name, None)
        ratio, delta = _f(snapshot.margin_ratio), _f(snapshot.net_delta)
        add(
            "risk",
            (
                b, ts, self.account, _f(snapshot.equity_usd), None, None, ratio, delta, snapshot.health,
                _f(snapshot.gamma), _f(snapshot.vega), _f(snapshot.theta),
            ),
        )  # fmt: skip
        last = self._last_pnl
        moved = [(c, usd) for c, usd in snapshot.pnl.items() if last.get(c) != usd]
        if moved:  # only what changed: a component's value at block N is its last row <= N
            for component, usd in sorted(moved):
                last[component] = usd
                add("pnl", (b, ts, component, _f(usd)))
        rec = self.recorder  # an OracleRow("aggregate") through StoreRecorder.oracle, without building one
        seq = rec.oracle_seq
        rec.oracle_seq = seq + 1
        price, confidence = snapshot.oracle_price, snapshot.oracle_confidence
        add("oracle", (seq, ts, b, "aggregate", _f(price), _f(confidence), snapshot.oracle_status))

    def on_end(self, summary: dict[str, Any]) -> None:
        self.summary = summary
        self.recorder.flush()

    # ---- resume -----------------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """What a checkpoint must carry to continue recording identically after a resume."""
        return {
            "fills": dict(self._fills),
            "tx_intents": {k: dataclasses.asdict(v) for k, v in self._tx_intents.items()},
            "last_positions": dict(self._last_positions),
            "last_raw": dict(self._last_raw),
            "last_pnl": dict(self._last_pnl),
            "event_seq": self.recorder.event_seq,
            "oracle_seq": self.recorder.oracle_seq,
            "alert_seq": self.recorder.alert_seq,
        }

    def restore(self, state: dict[str, Any]) -> None:
        self._fills = dict(state["fills"])
        self._tx_intents = {int(k): IntentRow(**v) for k, v in state["tx_intents"].items()}
        self._last_positions = dict(state["last_positions"])
        self._last_raw = dict(state["last_raw"])
        self._last_pnl = dict(state["last_pnl"])
        self.recorder.event_seq = int(state["event_seq"])
        self.recorder.oracle_seq = int(state["oracle_seq"])
        self.recorder.alert_seq = int(state["alert_seq"])
