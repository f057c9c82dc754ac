"""Prometheus metrics of ``keel serve`` (prometheus-client), one registry per service.

==================================  =========  ==============================================================
metric                              type       meaning
==================================  =========  ==============================================================
``keel_blocks_processed_total``     counter    blocks a run has reported (label ``run``)
``keel_hedges_total``               counter    hedge outcomes: ``filled``, ``reverted``, ``refused``, ``skipped``
``keel_tx_latency_seconds``         histogram  submission to inclusion, chain time (simulated or live)
``keel_margin_ratio``               gauge      equity / maintenance margin at the last check (NaN: none)
``keel_oracle_status``              gauge      0 ok, 1 degraded, 2 halted
``keel_oracle_price_usd``           gauge      the oracle's last price (NaN when halted)
``keel_alerts_total``               counter    alerts fired (labels ``run``, ``kind``)
``keel_store_write_lag_blocks``     gauge      blocks the service has seen that the store has not yet written
``keel_store_write_lag_seconds``    gauge      how long the oldest such block has waited (0 when none)
``keel_run_status``                 gauge      1 for the run's current status (labels ``run``, ``status``)
==================================  =========  ==============================================================
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from keel.service.hub import STATUS_CODES, LiveRun, RunHub

__all__ = ["ServiceMetrics"]

RUN_STATUSES = ("running", "paused", "killed", "finished", "failed")


class _StoreLag(Collector):
    """Computed at scrape time: the hub's latest block against the store's latest written block."""

    def __init__(self, hub: RunHub, store_block: Callable[[str], int | None] | None) -> None:
        self.hub = hub
        self.store_block = store_block

    def collect(self) -> Iterator[GaugeMetricFamily]:
        blocks = GaugeMetricFamily(
            "keel_store_write_lag_blocks", "Blocks seen by the service not yet written to the store", labels=["run"]
        )
        seconds = GaugeMetricFamily(
            "keel_store_write_lag_seconds", "Age of the oldest block not yet written to the store", labels=["run"]
        )
        now = time.time()
        store_block = self.store_block
        if store_block is None:  # no store: nothing lags
            yield blocks
            yield seconds
            return
        for run in self.hub.runs():
            with run.lock:
                latest = run.last.block_number if run.last is not None else None
                walls = dict(run.block_wall)
            if latest is None:
                continue
            try:
                written = store_block(run.run_id)
            except Exception:  # the store is unreachable: report the whole run as lagging
                written = None
            lag = latest - written if written is not None else len(walls)
            lag = max(lag, 0)
            oldest = min((w for b, w in walls.items() if written is None or b > written), default=now)
            blocks.add_metric([run.run_id], float(lag))
            seconds.add_metric([run.run_id], max(now - oldest, 0.0) if lag else 0.0)
        yield blocks
        yield seconds


class ServiceMetrics:
    """The service's metrics; :meth:`watch` attaches them to a live run."""

    def __init__(self, hub: RunHub, store_block: Callable[[str], int | None] | None = None) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.blocks = Counter("keel_blocks_processed", "Blocks processed", ["run"], registry=r)
        self.hedges = Counter("keel_hedges", "Hedge outcomes", ["run", "outcome"], registry=r)
        self.tx_latency = Histogram(
            "keel_tx_latency_seconds",
            "Transaction latency from submission to inclusion (chain time)",
            ["run"],
            buckets=(1, 2, 4, 8, 12, 24, 36, 60, 120, 300, 600),
            registry=r,
        )
        self.margin = Gauge("keel_margin_ratio", "Equity / maintenance margin", ["run"], registry=r)
        self.oracle_status = Gauge(
            "keel_oracle_status", "Oracle status: 0 ok, 1 degraded, 2 halted", ["run"], registry=r
        )
        self.oracle_price = Gauge("keel_oracle_price_usd", "Oracle price (USD)", ["run"], registry=r)
        self.alerts = Counter("keel_alerts", "Alerts fired", ["run", "kind"], registry=r)
        self.status = Gauge("keel_run_status", "1 for the run's current status", ["run", "status"], registry=r)
        r.register(_StoreLag(hub, store_block))
        self.hub = hub
        hub.on_add.append(self.watch)
        for run in hub.runs():
            self.watch(run)

    def watch(self, run: LiveRun) -> None:
        rid = run.run_id
        for outcome in ("filled", "reverted", "refused", "skipped"):
            self.hedges.labels(rid, outcome)
        self.tx_latency.labels(rid)
        with run.lock:  # what the run reported before the service watched it
            self.blocks.labels(rid).inc(run.blocks)
            for outcome, count in run.hedge_outcomes.items():
                self.hedges.labels(rid, outcome).inc(count)

        def listener(kind: str, payload: Any) -> None:
            if kind == "snapshot":
                self.blocks.labels(rid).inc()
                ratio = float(payload.margin_ratio)
                self.margin.labels(rid).set(ratio if not math.isinf(ratio) else math.nan)
                self.oracle_status.labels(rid).set(STATUS_CODES.get(str(payload.oracle_status).lower(), 2))
                self.oracle_price.labels(rid).set(float(payload.oracle_price))
            elif kind == "hedge":
                self.hedges.labels(rid, str(payload)).inc()
            elif kind == "receipt":
                if payload.submitted_ns and payload.ts_ns >= payload.submitted_ns:
                    self.tx_latency.labels(rid).observe((payload.ts_ns - payload.submitted_ns) / 1e9)
            elif kind == "alert":
                self.alerts.labels(rid, payload.kind).inc()

        run.listeners.append(listener)

    def refresh_status(self) -> None:
        for run in self.hub.runs():
            current = run.status
            for status in RUN_STATUSES:
                self.status.labels(run.run_id, status).set(1.0 if status == current else 0.0)
