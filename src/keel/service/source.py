"""Where the API's answers come from: a run living in this process (:class:`keel.service.hub.RunHub`)
or a run recorded in the store (``keel.store``), in that order.

Every reader returns plain dicts shaped like the response models in :mod:`keel.service.models`;
NaN and inf become ``None``.  An unknown run is :class:`UnknownRun` (the API answers 404).
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

from keel.domain.pipeline import DecisionSkipped, FillEvent, IntentStated, TxSubmitted
from keel.engine.transactions import Receipt
from keel.service.hub import LiveRun, RunHub, _hedge_units, event_message
from keel.sim.report import chart_figures
from keel.sim.scenario import PNL_PARTS

__all__ = ["STREAM_BACKLOG", "RunSource", "StoreCursor", "UnknownRun", "journal_message"]

STREAM_BACKLOG = 1000  # event rows a new store-followed stream starts with (the newest ones)
# event rows (kind = the pipeline topic) that become stream messages, and the event types they decode to
_STREAMED: dict[str, type] = {
    "intent": IntentStated,
    "transaction": TxSubmitted,
    "receipt": Receipt,
    "fill": FillEvent,
    "decision_skipped": DecisionSkipped,
}
_FIELDS = {kind: {f.name for f in dataclasses.fields(cls)} for kind, cls in _STREAMED.items()}


def _decode_event(kind: str, detail: str) -> object | None:
    """The typed pipeline event a stored event row records (its fields as JSON in ``detail``), or None."""
    cls = _STREAMED.get(kind)
    if cls is None:
        return None
    try:
        data = json.loads(detail)
        if not isinstance(data, dict):
            return None
        fields = {k: v for k, v in data.items() if k in _FIELDS[kind]}
        if "venues" in fields:
            fields["venues"] = tuple(fields["venues"])
        event: object = cls(**fields)
    except (ValueError, TypeError):
        return None
    return event


@dataclasses.dataclass
class StoreCursor:
    """Where a store-followed stream is: the next event and alert sequence numbers to read, and for a live run
    the next journal row (``transactions.seq``); ``caught_up`` False while the last read stopped at its limit."""

    events: int = 0
    alerts: int = 0
    journal: int = 0
    caught_up: bool = True
    journal_caught_up: bool = True
    signed: set[str] = dataclasses.field(default_factory=set)  # intents whose transaction was streamed


def _intent_block(intent: str) -> int | None:
    """The block a live intent id names (``AGENT:RUN:BLOCK:N:LEG``, see keel.runtime.live), else None."""
    parts = intent.split(":")
    if len(parts) >= 4 and parts[2].isdigit():
        return int(parts[2])
    return None


def journal_message(event: str, intent: str, record: dict[str, Any]) -> dict[str, Any] | None:
    """The stream message of one live-journal record (``keel.chain.Journal``): a first signature is a
    ``transaction``, a mined or dropped one a ``receipt`` (the keys :func:`keel.service.hub.event_message` gives
    a run in this process; ``tx_id`` is the transaction hash, ``intent`` the journal's id); else None."""
    given = record.get("meta")
    meta: dict[str, Any] = given if isinstance(given, dict) else {}
    if event == "signed":
        block = meta.get("block")
        venue = meta.get("venue")
        return {
            "type": "transaction",
            "block": int(block) if isinstance(block, int) else _intent_block(intent),
            "ts_ns": None,
            "tx_id": str(record.get("tx_hash", "")),
            "sender": str(meta.get("agent") or record.get("sender", "")),
            "tag": str(meta.get("kind") or intent),
            "token_in": str(meta.get("token_in", "")),
            "amount_in": str(meta.get("amount_in", "")),
            "venues": [str(venue)] if venue else [],
            "status": "pending",
            "included_block": None,
            "latency_s": None,
            "reason": "",
            "intent": intent,
            "nonce": record.get("nonce"),
        }
    if event == "mined":
        ok = int(record.get("status", 0)) == 1
        return {
            "type": "receipt",
            "tx_id": str(record.get("tx_hash", "")),
            "block": record.get("block_number"),
            "status": ok,
            "tag": intent,
            "reason": "" if ok else "reverted",
            "latency_s": None,
            "intent": intent,
        }
    if event == "dropped":
        return {
            "type": "receipt",
            "tx_id": "",
            "block": None,
            "status": False,
            "tag": intent,
            "reason": f"dropped: {record.get('reason', '')}",
            "latency_s": None,
            "intent": intent,
        }
    return None


class UnknownRun(LookupError):
    def __init__(self, run_id: str) -> None:
        super().__init__(f"run {run_id!r} not found (GET /api/runs lists the runs)")


def _f(x: Any) -> float | None:
    if x is None:
        return None
    try:
        value = float(x)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _thin(rows: list[Any], points: int) -> list[Any]:
    if len(rows) <= points:
        return rows
    step = (len(rows) - 1) / (points - 1) if points > 1 else len(rows)
    picked = sorted({round(i * step) for i in range(points)})
    return [rows[i] for i in picked]


class RunSource:
    """Reads runs from the hub and, when configured, the store (``keel.store.Store``)."""

    def __init__(self, hub: RunHub, store: Any | None = None) -> None:
        self.hub = hub
        self.store = store

    # -- runs -----------------------------------------------------------------------------------

    def _live_dict(self, run: LiveRun) -> dict[str, Any]:
        with run.lock:
            blocks = run.blocks
            summary = run.summary
            error = run.error
        return {
            "id": run.run_id,
            "name": run.name,
            "status": run.status,
            "mode": run.mode,
            "live": True,
            "blocks": blocks,
            "started_ns": int(run.started_wall * 1e9),
            "ended_ns": None,
            "keel_version": None,
            "config_hash": None,
            "summary": summary,
            "error": error,
        }

    def _store_dict(self, info: Any) -> dict[str, Any]:
        summary: dict[str, Any] | None = None
        if info.summary_json:
            try:
                summary = json.loads(info.summary_json)
            except ValueError:
                summary = None
        return {
            "id": info.id,
            "name": info.name,
            "status": info.status,
            "mode": info.mode,
            "live": False,
            "blocks": None,
            "started_ns": info.started_ns,
            "ended_ns": info.ended_ns,
            "keel_version": info.keel_version,
            "config_hash": info.config_hash,
            "summary": summary,
            "error": "",
        }

    def _stored(self, run_id: str) -> Any | None:
        if self.store is None:
            return None
        from keel.store import StoreError

        try:
            info = self.store.run(run_id)
        except StoreError:
            return None
        return info if info.id == run_id else None  # no prefix matching in the API

    def runs(self, limit: int, status: str | None) -> list[dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        if self.store is not None:
            for info in self.store.runs(limit=limit):
                out[info.id] = self._store_dict(info)
        for run in self.hub.runs():
            row = self._live_dict(run)
            if run.run_id in out:
                row["keel_version"] = out[run.run_id]["keel_version"]
                row["config_hash"] = out[run.run_id]["config_hash"]
            out[run.run_id] = row
        rows = sorted(out.values(), key=lambda r: (r["started_ns"] or 0, r["id"]), reverse=True)
        if status is not None:
            rows = [r for r in rows if r["status"] == status]
        stored = self.store_blocks([r["id"] for r in rows[:limit] if not r["live"]])
        for r in rows[:limit]:
            if not r["live"]:
                r["blocks"] = stored.get(r["id"], 0)
        return [{k: v for k, v in r.items() if k not in ("summary", "error")} for r in rows[:limit]]

    def run(self, run_id: str) -> dict[str, Any]:
        live = self.hub.get(run_id)
        if live is not None:
            return self._live_dict(live)
        info = self._stored(run_id)
        if info is None:
            raise UnknownRun(run_id)
        row = self._store_dict(info)
        row["blocks"] = self.store_blocks([run_id]).get(run_id, 0)
        return row

    def live(self, run_id: str) -> LiveRun | None:
        return self.hub.get(run_id)

    def _need(self, run_id: str) -> LiveRun | None:
        live = self.hub.get(run_id)
        if live is None and self._stored(run_id) is None:
            raise UnknownRun(run_id)
        return live

    # -- state ----------------------------------------------------------------------------------

    def positions(self, run_id: str) -> list[dict[str, Any]]:
        live = self._need(run_id)
        if live is not None:
            with live.lock:
                snap = live.last
            if snap is None:
                return []
            return [
                {
                    "account": "desk",
                    "asset": name,
                    "quantity": _f(qty),
                    "amount": None,
                    "decimals": None,
                    "block_number": snap.block_number,
                }
                for name, qty in snap.positions
            ]
        assert self.store is not None
        return [
            {
                "account": p.account,
                "asset": p.asset,
                "quantity": _f(p.amount / 10**p.decimals),
                "amount": str(p.amount),
                "decimals": p.decimals,
                "block_number": p.block_number,
            }
            for p in self.store.positions(run_id, block=2**62)
        ]

    def _last_risk(self, run_id: str) -> Any | None:
        assert self.store is not None
        return self.store.latest_risk(run_id)

    def greeks(self, run_id: str) -> dict[str, Any]:
        live = self._need(run_id)
        out: dict[str, Any] = {
            "run_id": run_id,
            "block_number": None,
            "ts_ns": None,
            "net_delta": None,
            "hedge_units": None,
            "gamma": None,
            "vega_usd": None,
            "theta_usd_per_day": None,
        }
        if live is not None:
            with live.lock:
                snap = live.last
            if snap is not None:
                out.update(
                    block_number=snap.block_number,
                    ts_ns=snap.ts_ns,
                    net_delta=_f(snap.net_delta),
                    hedge_units=_f(_hedge_units(snap.positions)),
                    gamma=_f(snap.gamma),
                    vega_usd=_f(snap.vega),
                    theta_usd_per_day=_f(snap.theta),
                )
            return out
        risk = self._last_risk(run_id)
        if risk is not None:
            out.update(
                block_number=risk.block_number,
                ts_ns=risk.ts_ns,
                net_delta=_f(risk.delta),
                gamma=_f(risk.gamma),
                vega_usd=_f(risk.vega),
                theta_usd_per_day=_f(risk.theta),
            )
        return out

    def margin(self, run_id: str) -> dict[str, Any]:
        live = self._need(run_id)
        out: dict[str, Any] = {
            "run_id": run_id,
            "block_number": None,
            "ts_ns": None,
            "margin_ratio": None,
            "health": "n/a",
            "equity_usd": None,
            "thresholds": {"liquidation": 1.0},
        }
        if live is not None:
            out["thresholds"] = dict(live.thresholds)
            with live.lock:
                snap = live.last
            if snap is not None:
                out.update(
                    block_number=snap.block_number,
                    ts_ns=snap.ts_ns,
                    margin_ratio=_f(snap.margin_ratio),
                    health=snap.health,
                    equity_usd=_f(snap.equity_usd),
                )
            return out
        risk = self._last_risk(run_id)
        if risk is not None:
            out.update(
                block_number=risk.block_number,
                ts_ns=risk.ts_ns,
                margin_ratio=_f(risk.margin_ratio),
                health=risk.status,
                equity_usd=_f(risk.equity_usd),
            )
        return out

    def _series(self, run_id: str) -> tuple[dict[str, list[float]], list[tuple[int, float, float]], dict[str, float]]:
        live = self._need(run_id)
        if live is not None:
            live_series, live_fills = live.series_copy()
            return live_series, live_fills, dict(live.thresholds)
        assert self.store is not None
        by_block: dict[int, dict[str, float]] = {}
        ts_of: dict[int, int] = {}
        for block, ts, parts_then in self.store.pnl_by_block(run_id):  # each component as of the block
            by_block[block] = parts_then
            ts_of[block] = ts
        risk = {r.block_number: r for r in self.store.risk(run_id)}
        oracle = {r.block_number: r for r in self.store.oracle(run_id)}
        blocks = sorted(set(by_block) | set(risk))
        series: dict[str, list[float]] = {"ts_ns": [], "block": [], "pnl": [], "delta": [], "margin_ratio": []}
        for part in PNL_PARTS:
            series[f"pnl_{part}"] = []
        for key in ("oracle_price", "oracle_confidence", "oracle_status"):
            series[key] = []
        codes = {"ok": 0.0, "degraded": 1.0, "halted": 2.0}
        parts: dict[str, float] = {}
        for b in blocks:
            parts = by_block.get(b, parts)  # a block without a PnL row: nothing changed since the last one
            r = risk.get(b)
            o = oracle.get(b)
            series["ts_ns"].append(ts_of.get(b, r.ts_ns if r is not None else 0))
            series["block"].append(b)
            series["pnl"].append(parts.get("total", math.nan))
            for part in PNL_PARTS:
                series[f"pnl_{part}"].append(parts.get(part, math.nan))
            series["delta"].append(r.delta if r is not None else math.nan)
            series["margin_ratio"].append(r.margin_ratio if r is not None else math.nan)
            series["oracle_price"].append(o.price if o is not None else math.nan)
            series["oracle_confidence"].append(o.confidence if o is not None else math.nan)
            series["oracle_status"].append(codes.get(o.status, 2.0) if o is not None else math.nan)
        fills = [(f.ts_ns, f.quantity, f.price) for f in self.store.fills(run_id) if math.isfinite(f.quantity)]
        return series, fills, {"liquidation": 1.0}

    def pnl(self, run_id: str, points: int) -> dict[str, Any]:
        series, _, _ = self._series(run_id)
        n = len(series["ts_ns"])
        rows = []
        for i in range(n):
            rows.append(
                {
                    "block_number": int(series["block"][i]),
                    "ts_ns": int(series["ts_ns"][i]),
                    "total": _f(series["pnl"][i]),
                    "components": {p: _f(series[f"pnl_{p}"][i]) for p in PNL_PARTS},
                }
            )
        last = rows[-1] if rows else None
        return {
            "run_id": run_id,
            "block_number": last["block_number"] if last else None,
            "ts_ns": last["ts_ns"] if last else None,
            "total_usd": last["total"] if last else None,
            "components_usd": last["components"] if last else dict.fromkeys(PNL_PARTS),
            "series": _thin(rows, points),
        }

    def oracle(self, run_id: str) -> dict[str, Any]:
        live = self._need(run_id)
        out: dict[str, Any] = {
            "run_id": run_id,
            "block_number": None,
            "ts_ns": None,
            "price_usd": None,
            "confidence_usd": None,
            "status": "unknown",
        }
        if live is not None:
            with live.lock:
                snap = live.last
            if snap is not None:
                out.update(
                    block_number=snap.block_number,
                    ts_ns=snap.ts_ns,
                    price_usd=_f(snap.oracle_price),
                    confidence_usd=_f(snap.oracle_confidence),
                    status=snap.oracle_status,
                )
            return out
        assert self.store is not None
        o = self.store.latest_oracle(run_id)
        if o is not None:
            out.update(
                block_number=o.block_number,
                ts_ns=o.ts_ns,
                price_usd=_f(o.price),
                confidence_usd=_f(o.confidence),
                status=o.status,
            )
        return out

    # -- blotter and alerts ---------------------------------------------------------------------

    def intents(self, run_id: str, limit: int, offset: int) -> list[dict[str, Any]]:
        live = self._need(run_id)
        if live is not None:
            with live.lock:
                rows = list(live.intents.rows)
            return [
                {
                    "block_number": r["block"],
                    "ts_ns": r["ts_ns"],
                    "intent_id": r["order_id"],
                    "agent": r["agent"],
                    "quantity": r["quantity"],
                    "accepted": r["accepted"],
                    "status": "accepted" if r["accepted"] else "refused",
                    "reason": r["reason"] or r["cause"],
                }
                for r in rows[::-1][offset : offset + limit]
            ]
        assert self.store is not None
        stored = self.store.intents(run_id)[::-1][offset : offset + limit]
        return [
            {
                "block_number": r.block_number,
                "ts_ns": r.created_ns,
                "intent_id": r.intent_id,
                "agent": r.kind,
                "quantity": None,
                "accepted": r.status not in ("refused",),
                "status": r.status,
                "reason": r.detail,
            }
            for r in stored
        ]

    def transactions(self, run_id: str, limit: int, offset: int) -> list[dict[str, Any]]:
        live = self._need(run_id)
        if live is not None:
            with live.lock:
                rows = [dict(r) for r in live.transactions.rows]
            return [
                {
                    "tx_id": str(r["tx_id"]),
                    "block_number": r["block"],
                    "ts_ns": r["ts_ns"],
                    "sender": r["sender"],
                    "tag": r["tag"],
                    "status": r["status"],
                    "included_block": r["included_block"],
                    "latency_s": _f(r["latency_s"]),
                    "detail": r["reason"],
                }
                for r in rows[::-1][offset : offset + limit]
            ]
        assert self.store is not None
        stored = self.store.transactions(run_id)[::-1][offset : offset + limit]
        return [
            {
                "tx_id": t.tx_hash or t.intent,
                "block_number": t.block_number if t.block_number >= 0 else None,
                "ts_ns": None,
                "sender": t.sender,
                "tag": t.intent,
                "status": t.status,
                "included_block": t.block_number if t.block_number >= 0 else None,
                "latency_s": None,
                "detail": f"nonce {t.nonce}, {t.attempts} attempt(s)",
            }
            for t in stored
        ]

    def fills(self, run_id: str, limit: int, offset: int) -> list[dict[str, Any]]:
        live = self._need(run_id)
        if live is not None:
            with live.lock:
                rows = list(live.fills.rows)
            return [
                {
                    "block_number": r["block"],
                    "ts_ns": r["ts_ns"],
                    "agent": r["agent"],
                    "kind": r["kind"],
                    "instrument": r["instrument"],
                    "quantity": r["quantity"],
                    "price_usd": r["price"],
                    "fee_usd": r["fee_usd"],
                }
                for r in rows[::-1][offset : offset + limit]
            ]
        assert self.store is not None
        stored = self.store.fills(run_id)[::-1][offset : offset + limit]
        return [
            {
                "block_number": f.block_number,
                "ts_ns": f.ts_ns,
                "agent": f.source,
                "kind": "fill",
                "instrument": f.instrument,
                "quantity": _f(f.quantity),
                "price_usd": _f(f.price),
                "fee_usd": None,
            }
            for f in stored
        ]

    def alerts(self, run_id: str, limit: int, offset: int) -> list[dict[str, Any]]:
        live = self._need(run_id)
        if live is not None:
            with live.lock:
                rows = list(live.alerts.rows)
            return [
                {
                    "seq": r["seq"],
                    "block_number": r["block_number"],
                    "ts_ns": r["ts_ns"],
                    "kind": r["kind"],
                    "severity": r["severity"],
                    "message": r["message"],
                    "value": _f(r["value"]),
                }
                for r in rows[::-1][offset : offset + limit]
            ]
        assert self.store is not None
        stored = list(enumerate(self.store.alerts(run_id)))[::-1][offset : offset + limit]
        return [
            {
                "seq": i,
                "block_number": a.block_number,
                "ts_ns": a.ts_ns,
                "kind": a.kind,
                "severity": a.severity,
                "message": a.message,
                "value": None,
            }
            for i, a in stored
        ]

    def charts(self, run_id: str) -> dict[str, Any]:
        series, fills, thresholds = self._series(run_id)
        figures = chart_figures(series, fills, thresholds=thresholds, max_points=1500)
        return {"run_id": run_id, "blocks": len(series["ts_ns"]), "figures": figures}

    def store_block(self, run_id: str) -> int | None:
        """The last block the store holds for the run (for the write-lag metric)."""
        if self.store is None:
            return None
        block: int | None = self.store.blocks_recorded([run_id]).get(run_id)
        return block

    def store_blocks(self, run_ids: list[str]) -> dict[str, int]:
        """Blocks recorded per run (the newest block with a risk snapshot; blocks count from 1), in one query."""
        if self.store is None or not run_ids:
            return {}
        return dict(self.store.blocks_recorded(run_ids))  # the store is typed Any here

    def store_cursor(self, run_id: str, backlog: int = STREAM_BACKLOG) -> StoreCursor:
        """A new stream's cursor: the newest ``backlog`` event rows, the newest ``backlog`` journal rows (a live
        run) and every alert are still to send."""
        if self.store is None:
            return StoreCursor()
        events, journal = self.store.stream_start(run_id, backlog)
        return StoreCursor(events=events, journal=journal)

    def journal_messages(self, run_id: str, cursor: StoreCursor, limit: int = 2000) -> list[dict[str, Any]]:
        """A live run's ``transaction`` and ``receipt`` messages from its journal rows (``transactions``) at or
        after ``cursor.journal``, in journal order; advances the cursor.  Its fills are the ``fill`` messages of
        the recorded pipeline events (:meth:`store_messages`), as for a simulation."""
        if self.store is None:
            return []
        out: list[dict[str, Any]] = []
        rows = self.store.journal_after(run_id, cursor.journal, events=("signed", "mined", "dropped"), limit=limit)
        for seq, event, intent, text in rows:
            cursor.journal = int(seq) + 1
            if event == "signed":  # a replacement (same intent, new fee) is not a new transaction
                if intent in cursor.signed:
                    continue
                cursor.signed.add(str(intent))
            try:
                record = json.loads(text)
            except ValueError:
                continue
            message = journal_message(str(event), str(intent), record if isinstance(record, dict) else {})
            if message is not None:
                out.append(message)
        cursor.journal_caught_up = len(rows) < limit
        return out

    def store_messages(self, run_id: str, cursor: StoreCursor, limit: int = 2000) -> list[dict[str, Any]]:
        """Stream messages (intent, transaction, receipt, fill, skipped, alert; as for a run in this process)
        from the rows the store recorded at or after ``cursor``, in recording order; advances ``cursor``.
        At most ``limit`` event rows per call (call again while it returns that many)."""
        if self.store is None:
            return []
        out: list[dict[str, Any]] = []
        rows, newest = self.store.events_after(run_id, cursor.events, kinds=_STREAMED, limit=limit)
        if newest is not None and newest >= cursor.events:
            for _seq, kind, detail in rows:
                event = _decode_event(kind, detail)
                message = event_message(event) if event is not None else None
                if message is not None:
                    out.append(message)
            cursor.caught_up = len(rows) < limit
            cursor.events = newest + 1 if cursor.caught_up else rows[-1][0] + 1
        for seq, a in self.store.alerts_after(run_id, cursor.alerts, limit=limit):
            out.append(
                {
                    "type": "alert",
                    "alert_id": f"{run_id}:{seq}",
                    "run_id": run_id,
                    "seq": seq,
                    "ts_ns": int(a.ts_ns),
                    "block_number": int(a.block_number),
                    "kind": a.kind,
                    "severity": a.severity,
                    "message": a.message,
                    "value": None,
                }
            )
            cursor.alerts = seq + 1
        return out

    def store_latest(self, run_id: str) -> dict[str, Any] | None:
        """The newest recorded block of a stored run as a stream ``block`` message (None before the first): every
        PnL component as of that block, its risk snapshot and the newest oracle reading."""
        if self.store is None:
            return None
        r = self.store.latest_risk(run_id)  # one per block: the newest recorded block
        if r is None:
            return None
        block = r.block_number
        parts = {c: _f(u) for c, u in self.store.pnl_as_of(run_id, block).items()}
        o = self.store.latest_oracle(run_id)
        return {
            "type": "block",
            "block": block,
            "blocks": block,
            "ts_ns": r.ts_ns,
            "pnl": parts,
            "net_delta": _f(r.delta),
            "gamma": _f(r.gamma),
            "vega_usd": _f(r.vega),
            "theta_usd_per_day": _f(r.theta),
            "margin_ratio": _f(r.margin_ratio),
            "health": r.status,
            "oracle": {
                "price": _f(o.price) if o is not None else None,
                "confidence": _f(o.confidence) if o is not None else None,
                "status": o.status if o is not None else "unknown",
            },
        }
