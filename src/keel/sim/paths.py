"""Market paths: the reference price the simulated world follows (real replays and synthetic models).

A :class:`MarketPath` is a step function: int ns UTC timestamps (non-decreasing) and float64
prices; the price at time ``t`` is the last observation at or before ``t`` (the first one
before the path starts).
"""

from __future__ import annotations

import bisect
import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from keel.domain import NS_PER_SECOND, NS_PER_YEAR, datetime_to_ns, ms_to_ns
from keel.errors import ValidationError

__all__ = [
    "MarketPath",
    "load_binance_klines",
    "load_deribit_atm_iv",
    "load_funding_rates",
    "load_uniswap_swap_path",
    "synthetic_path",
    "with_crash",
]

Q96 = 2**96


@dataclass(frozen=True)
class MarketPath:
    """Reference prices (quote per unit of base, e.g. USD per ETH) over time."""

    name: str
    ts_ns: npt.NDArray[np.int64]
    price: npt.NDArray[np.float64]
    source: str = ""

    def __post_init__(self) -> None:
        if self.ts_ns.shape != self.price.shape or self.ts_ns.ndim != 1 or len(self.ts_ns) == 0:
            raise ValidationError("path", self.name, "needs equal-length, non-empty 1-d ts_ns and price")
        if np.any(np.diff(self.ts_ns) < 0):
            raise ValidationError("path.ts_ns", self.name, "timestamps must be non-decreasing")
        if not np.all(np.isfinite(self.price)) or np.any(self.price <= 0):
            raise ValidationError("path.price", self.name, "prices must be finite and positive")

    @property
    def start_ns(self) -> int:
        return int(self.ts_ns[0])

    @property
    def end_ns(self) -> int:
        return int(self.ts_ns[-1])

    def sample(self, grid_ns: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
        """Price at each grid time (last observation at or before it)."""
        idx = np.searchsorted(self.ts_ns, grid_ns, side="right") - 1
        return self.price[np.clip(idx, 0, len(self.price) - 1)]

    def at(self, ts_ns: int) -> float:
        """Price at ``ts_ns`` (scalar fast path of :meth:`sample`)."""
        cache = self.__dict__.get("_lists")
        if cache is None:
            cache = (self.ts_ns.tolist(), self.price.tolist())
            object.__setattr__(self, "_lists", cache)
        i = bisect.bisect_right(cache[0], ts_ns) - 1
        return float(cache[1][i if i > 0 else 0])


def _utc_ns(text: str) -> int:
    import datetime as dt

    return datetime_to_ns(dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC))


def load_uniswap_swap_path(tick_csv: Path, token0_decimals: int = 6, token1_decimals: int = 18) -> MarketPath:
    """Price of token1 in token0 after every real swap in a decoded Uniswap v3 event file (demeter tick.csv).

    For USDC/WETH this is USD per ETH: ``10**(d1-d0) / (sqrtPriceX96 / 2**96)**2``.
    """
    if not tick_csv.is_file():
        raise ValidationError("path", str(tick_csv), "no such file")
    ts: list[int] = []
    px: list[float] = []
    scale = 10 ** (token1_decimals - token0_decimals)
    with tick_csv.open(newline="") as handle:
        for row in csv.DictReader(handle):
            if row["tx_type"] != "SWAP":
                continue
            sqrt_p = int(row["sqrtPriceX96"])
            ts.append(_utc_ns(row["block_timestamp"]))
            px.append(scale * Q96 * Q96 / (sqrt_p * sqrt_p))
    return MarketPath(tick_csv.stem, np.asarray(ts, dtype=np.int64), np.asarray(px), source=str(tick_csv.name))


def load_binance_klines(kline_csv: Path) -> MarketPath:
    """A 1-minute kline file as a path through each bar's open, extremes and close.

    Each bar contributes four points (at +0, +20, +40 s and the close time): open, then the
    extreme nearer the open's direction (high first for a down bar is the conservative
    order: up to the high, down to the low, close), then the other extreme, then close.
    """
    if not kline_csv.is_file():
        raise ValidationError("path", str(kline_csv), "no such file")
    ts: list[int] = []
    px: list[float] = []
    with kline_csv.open(newline="") as handle:
        for row in csv.DictReader(handle):
            t0 = ms_to_ns(int(row["open_time"]))
            o, h, lo, c = (float(row[k]) for k in ("open", "high", "low", "close"))
            mids = (h, lo) if c < o else (lo, h)
            ts.extend((t0, t0 + 20 * NS_PER_SECOND, t0 + 40 * NS_PER_SECOND, t0 + 59 * NS_PER_SECOND))
            px.extend((o, mids[0], mids[1], c))
    return MarketPath(kline_csv.stem, np.asarray(ts, dtype=np.int64), np.asarray(px), source=str(kline_csv.name))


def load_funding_rates(funding_csv: Path) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Binance funding settlements: (settlement time int ns UTC, rate per interval; 0.0001 = 0.01%)."""
    if not funding_csv.is_file():
        raise ValidationError("funding_rates", str(funding_csv), "no such file")
    ts: list[int] = []
    rate: list[float] = []
    with funding_csv.open(newline="") as handle:
        for row in csv.DictReader(handle):
            ts.append(ms_to_ns(int(row["calc_time"])))
            rate.append(float(row["last_funding_rate"]))
    return np.asarray(ts, dtype=np.int64), np.asarray(rate)


def synthetic_path(
    model: Any, start_ns: int, horizon_ns: int, n_steps: int, seed: int, name: str = "synthetic"
) -> MarketPath:
    """One path of a keel.pricing.mc model (GBM, Merton, Heston, ...) on an even grid from ``start_ns``."""
    from keel.pricing import mc

    if n_steps < 1 or horizon_ns <= 0:
        raise ValidationError("n_steps", n_steps, "need n_steps >= 1 and a positive horizon")
    paths = np.asarray(mc.sample_paths(model, horizon_ns / NS_PER_YEAR, n_steps, 1, seed), dtype=np.float64)
    series = paths.reshape(-1)[-(n_steps + 1) :]
    ts = start_ns + (np.arange(n_steps + 1, dtype=np.int64) * horizon_ns) // n_steps
    return MarketPath(name, ts, series, source=type(model).__name__)


def with_crash(
    path: MarketPath, at_ns: int, drop: float, duration_ns: int, recovery: float = 0.0, recovery_ns: int = 0
) -> MarketPath:
    """A crash scenario on top of ``path``: from ``at_ns`` the price is multiplied down linearly (in log)
    to ``1 − drop`` over ``duration_ns``, then recovers a share ``recovery`` of the log drop over
    ``recovery_ns`` and stays there.  ``drop`` in (0, 1)."""
    if not 0.0 < drop < 1.0:
        raise ValidationError("crash.drop", drop, "must be in (0, 1)")
    if duration_ns <= 0 or recovery_ns < 0 or not 0.0 <= recovery <= 1.0:
        raise ValidationError("crash", (duration_ns, recovery, recovery_ns), "need duration > 0, recovery in [0, 1]")
    t = path.ts_ns.astype(np.float64)
    low = np.log1p(-drop)
    fall = np.clip((t - at_ns) / duration_ns, 0.0, 1.0) * low
    if recovery_ns > 0:
        back = np.clip((t - at_ns - duration_ns) / recovery_ns, 0.0, 1.0) * (-low * recovery)
    else:
        back = np.where(t >= at_ns + duration_ns, -low * recovery, 0.0)
    return MarketPath(path.name + "+crash", path.ts_ns, path.price * np.exp(fall + back), path.source + "+crash")


def load_deribit_atm_iv(csv_path: Path, min_days: float = 2.0, max_days: float = 45.0) -> MarketPath:
    """At-the-money implied vol per snapshot of a Deribit IV/greeks file (r1quant layout), as a path.

    Per snapshot: the median ``mark_iv`` (converted from % to a fraction) of calls with delta in
    [0.4, 0.6] expiring between ``min_days`` and ``max_days`` after it.  Snapshots without such
    calls are skipped.
    """
    import datetime as dt

    if not csv_path.is_file():
        raise ValidationError("vol_replay", str(csv_path), "no such file")
    by_snapshot: dict[int, list[float]] = {}
    with csv_path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            if row["type"] != "call" or not 0.4 <= float(row["delta"]) <= 0.6:
                continue
            ts = _utc_ns(row["date"])
            expiry = datetime_to_ns(dt.datetime.fromisoformat(row["expiry_date"]).replace(hour=8, tzinfo=dt.UTC))
            days = (expiry - ts) / (86_400 * NS_PER_SECOND)
            iv = float(row["mark_iv"])
            if min_days <= days <= max_days and iv > 0:
                by_snapshot.setdefault(ts, []).append(iv / 100.0)
    if not by_snapshot:
        raise ValidationError("vol_replay", str(csv_path), "no at-the-money calls in the expiry window")
    ts_sorted = sorted(by_snapshot)
    atm = [float(np.median(by_snapshot[t])) for t in ts_sorted]
    return MarketPath("atm_iv", np.asarray(ts_sorted, dtype=np.int64), np.asarray(atm), source=csv_path.name)
