"""Response models of the ``keel serve`` API (pydantic; they make the OpenAPI schema).

Units: USD figures are floats; amounts in base units are decimal strings (exact, any size);
timestamps are int ns UTC; a figure that does not exist (no margined positions, a halted
oracle's price) is ``null``, never NaN.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "AlertOut",
    "ChartsOut",
    "ControlOut",
    "ErrorOut",
    "FillOut",
    "GreeksOut",
    "HealthOut",
    "IntentOut",
    "MarginOut",
    "OracleOut",
    "PnlOut",
    "PnlPoint",
    "PositionOut",
    "RunDetailOut",
    "RunOut",
    "TransactionOut",
]


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorOut(_Out):
    """Every 4xx answer: one line saying what was wrong and with which input."""

    detail: str


class HealthOut(_Out):
    status: str
    store: str | None
    live_runs: int


class RunOut(_Out):
    id: str
    name: str
    status: str = Field(description="running, paused, finished, failed or killed")
    mode: str = Field(description="sim or live")
    live: bool = Field(description="the run executes inside this service (control works on it)")
    blocks: int | None = Field(description="blocks reported so far (live runs) or recorded in the store")
    started_ns: int | None
    ended_ns: int | None
    keel_version: str | None
    config_hash: str | None


class RunDetailOut(RunOut):
    summary: dict[str, Any] | None
    error: str


class PositionOut(_Out):
    account: str
    asset: str
    quantity: float | None = Field(description="in the asset's units (contracts for option legs)")
    amount: str | None = Field(description="exact base units, when the store has them")
    decimals: int | None
    block_number: int


class GreeksOut(_Out):
    run_id: str
    block_number: int | None
    ts_ns: int | None
    net_delta: float | None = Field(description="desk net delta in underlying units (options plus hedge)")
    hedge_units: float | None = Field(description="delta-one holdings (spot hedge, perp) in underlying units")
    gamma: float | None = Field(
        default=None, description="option book gamma: change of its delta (underlying units) per 1 USD of underlying"
    )
    vega_usd: float | None = Field(default=None, description="option book vega: USD per 1.0 (100 points) of volatility")
    theta_usd_per_day: float | None = Field(default=None, description="option book theta: USD per calendar day")


class MarginOut(_Out):
    run_id: str
    block_number: int | None
    ts_ns: int | None
    margin_ratio: float | None = Field(description="equity / maintenance margin (null when nothing is margined)")
    health: str
    equity_usd: float | None
    thresholds: dict[str, float] = Field(description="margin-ratio lines: label -> ratio")


class PnlPoint(_Out):
    block_number: int
    ts_ns: int
    total: float | None
    components: dict[str, float | None]


class PnlOut(_Out):
    run_id: str
    block_number: int | None
    ts_ns: int | None
    total_usd: float | None
    components_usd: dict[str, float | None] = Field(description="cumulative attribution by component (USD)")
    series: list[PnlPoint] = Field(description="thinned history (at most `points` rows)")


class OracleOut(_Out):
    run_id: str
    block_number: int | None
    ts_ns: int | None
    price_usd: float | None
    confidence_usd: float | None
    status: str = Field(description="ok, degraded, halted, or unknown before the first reading")


class IntentOut(_Out):
    block_number: int
    ts_ns: int
    intent_id: str
    agent: str
    quantity: float | None
    accepted: bool
    status: str
    reason: str


class TransactionOut(_Out):
    tx_id: str
    block_number: int | None
    ts_ns: int | None
    sender: str
    tag: str
    status: str = Field(description="pending, included, reverted (simulation) or the journal's status (live)")
    included_block: int | None
    latency_s: float | None
    detail: str


class FillOut(_Out):
    block_number: int
    ts_ns: int
    agent: str
    kind: str
    instrument: str
    quantity: float | None
    price_usd: float | None
    fee_usd: float | None


class AlertOut(_Out):
    seq: int
    block_number: int
    ts_ns: int
    kind: str
    severity: str
    message: str
    value: float | None


class ChartsOut(_Out):
    run_id: str
    blocks: int
    figures: dict[str, dict[str, Any]] = Field(description="Plotly figures (data, layout) by name")


class ControlOut(_Out):
    """200: applied to a run executing in this service (``status`` its new state, ``stopping`` for a kill).
    202: a run executing in another process: the request is written to the store (``status`` ``requested``,
    ``request`` its number) and applied by that process at its next block boundary (a simulation checks
    every 50 blocks, a live run every block); the run's status then shows it."""

    run_id: str
    action: str
    status: str
    request: int | None = Field(None, description="the request's number in the store's run_controls (202 only)")
