"""Market data records: quotes, trades, bars and AMM pool snapshots.

Analytics prices are float64; timestamps are int ns UTC; pool amounts are ints.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from keel.domain.orders import Side
from keel.errors import ValidationError

__all__ = ["Bar", "PoolState", "Quote", "TickState", "Trade"]


def _price(name: str, value: float) -> float:
    value = float(value)
    if not math.isfinite(value) or value <= 0:
        raise ValidationError(name, value, "must be a finite positive price")
    return value


def _size(name: str, value: float) -> float:
    value = float(value)
    if not math.isfinite(value) or value < 0:
        raise ValidationError(name, value, "must be a finite non-negative size")
    return value


def _ts(name: str, value: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValidationError(name, value, "must be int nanoseconds UTC")
    return value


@dataclass(frozen=True, slots=True)
class Quote:
    """Top of book."""

    instrument: str
    bid: float
    ask: float
    ts_ns: int
    bid_size: float = 0.0
    ask_size: float = 0.0

    def __post_init__(self) -> None:
        _price("bid", self.bid)
        _price("ask", self.ask)
        _size("bid_size", self.bid_size)
        _size("ask_size", self.ask_size)
        _ts("ts_ns", self.ts_ns)
        if self.ask < self.bid:
            raise ValidationError("ask", self.ask, f"is below bid {self.bid}")

    @property
    def mid(self) -> float:
        return 0.5 * (self.bid + self.ask)

    @property
    def spread(self) -> float:
        return self.ask - self.bid


@dataclass(frozen=True, slots=True)
class Trade:
    instrument: str
    price: float
    quantity: float
    ts_ns: int
    aggressor: Side | None = None

    def __post_init__(self) -> None:
        _price("price", self.price)
        _size("quantity", self.quantity)
        _ts("ts_ns", self.ts_ns)


@dataclass(frozen=True, slots=True)
class Bar:
    """OHLCV bar starting at ``start_ns`` and lasting ``interval_ns``."""

    instrument: str
    start_ns: int
    interval_ns: int
    open: float
    high: float
    low: float
    close: float
    volume: float = 0.0

    def __post_init__(self) -> None:
        for name in ("open", "high", "low", "close"):
            _price(name, getattr(self, name))
        _size("volume", self.volume)
        _ts("start_ns", self.start_ns)
        if self.interval_ns <= 0:
            raise ValidationError("interval_ns", self.interval_ns, "must be positive")
        if not (self.low <= min(self.open, self.close) and max(self.open, self.close) <= self.high):
            raise ValidationError("low/high", (self.low, self.high), "do not bracket open and close")


@dataclass(frozen=True, slots=True)
class TickState:
    """One initialized Uniswap v3 tick (all ints, as in the contract's Tick.Info)."""

    index: int
    liquidity_gross: int
    liquidity_net: int
    fee_growth_outside0_x128: int = 0
    fee_growth_outside1_x128: int = 0


def _int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValidationError(name, value, "must be an int (or its decimal string)")
    try:
        return int(value)
    except ValueError as exc:
        raise ValidationError(name, value, "not an integer") from exc


@dataclass(frozen=True, slots=True)
class PoolState:
    """A snapshot of an AMM pool.  ``kind`` is 'uniswap_v2' or 'uniswap_v3'.

    v2 uses ``reserve0``/``reserve1``; v3 uses ``sqrt_price_x96``, ``tick``,
    ``liquidity``, the fee growths and ``ticks``.  ``fee`` is in pips (1e-6):
    3000 = 0.3%.  JSON keeps every big int as a decimal string (JS-safe).
    """

    kind: str
    token0: str
    token1: str
    fee: int
    block_number: int = 0
    ts_ns: int = 0
    address: str = ""
    reserve0: int = 0
    reserve1: int = 0
    tick_spacing: int = 0
    sqrt_price_x96: int = 0
    tick: int = 0
    liquidity: int = 0
    fee_growth_global0_x128: int = 0
    fee_growth_global1_x128: int = 0
    ticks: tuple[TickState, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if self.kind not in ("uniswap_v2", "uniswap_v3"):
            raise ValidationError("kind", self.kind, "must be 'uniswap_v2' or 'uniswap_v3'")
        for name in ("reserve0", "reserve1", "liquidity", "sqrt_price_x96"):
            if getattr(self, name) < 0:
                raise ValidationError(name, getattr(self, name), "must be non-negative")

    _INT_FIELDS = (
        "fee",
        "block_number",
        "ts_ns",
        "reserve0",
        "reserve1",
        "tick_spacing",
        "sqrt_price_x96",
        "tick",
        "liquidity",
        "fee_growth_global0_x128",
        "fee_growth_global1_x128",
    )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "token0": self.token0, "token1": self.token1, "address": self.address}
        for name in self._INT_FIELDS:
            out[name] = str(getattr(self, name))
        out["ticks"] = [
            {
                "index": t.index,
                "liquidity_gross": str(t.liquidity_gross),
                "liquidity_net": str(t.liquidity_net),
                "fee_growth_outside0_x128": str(t.fee_growth_outside0_x128),
                "fee_growth_outside1_x128": str(t.fee_growth_outside1_x128),
            }
            for t in self.ticks
        ]
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PoolState:
        if not isinstance(data, dict):
            raise ValidationError("pool_state", data, "must be a JSON object")
        for key in ("kind", "token0", "token1", "fee"):
            if key not in data:
                raise ValidationError(key, None, "missing from pool state")
        ints = {name: _int(name, data[name]) for name in cls._INT_FIELDS if name in data}
        ticks = tuple(
            TickState(
                index=_int("ticks.index", t["index"]),
                liquidity_gross=_int("ticks.liquidity_gross", t["liquidity_gross"]),
                liquidity_net=_int("ticks.liquidity_net", t["liquidity_net"]),
                fee_growth_outside0_x128=_int("ticks.fee_growth_outside0_x128", t.get("fee_growth_outside0_x128", 0)),
                fee_growth_outside1_x128=_int("ticks.fee_growth_outside1_x128", t.get("fee_growth_outside1_x128", 0)),
            )
            for t in data.get("ticks", [])
        )
        return cls(
            kind=str(data["kind"]),
            token0=str(data["token0"]),
            token1=str(data["token1"]),
            address=str(data.get("address", "")),
            ticks=ticks,
            **ints,
        )

    @classmethod
    def from_json(cls, text: str) -> PoolState:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValidationError("pool_state", text[:40], f"not JSON: {exc.msg}") from exc
        return cls.from_dict(data)
