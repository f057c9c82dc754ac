"""Uniswap v3 pool exports (demeter-fetch, ``data/uniswap_v3_*``): decoded events, minute bars,
relative prices.  Prices stay exact ``sqrtPriceX96`` ints and ticks here; converting them to
human prices is :mod:`keel.oracle.dex`'s one job."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from keel.errors import ValidationError
from keel.marketdata._files import cell_float, cell_int, cell_utc_ns, read_rows

__all__ = [
    "MAX_TICK",
    "RelativePrices",
    "UniswapMinutes",
    "UniswapSwaps",
    "load_uniswap_minutes",
    "load_uniswap_rel_price",
    "load_uniswap_swaps",
]

MAX_TICK = 887272
_MIN_SQRT = 4295128739
_MAX_SQRT = 1461446703485210103287273052203988822378723970342


@dataclass(frozen=True)
class UniswapSwaps:
    """Every ``SWAP`` row of a decoded event file (``*.tick.csv``): block time int ns UTC, the
    pool's ``sqrtPriceX96`` after the swap (exact ints) and its tick."""

    name: str
    source: str
    ts_ns: npt.NDArray[np.int64]
    sqrt_price_x96: tuple[int, ...]
    tick: npt.NDArray[np.int64]

    def __len__(self) -> int:
        return len(self.ts_ns)


@dataclass(frozen=True)
class UniswapMinutes:
    """Minute bars (``*.minute.csv``): ``ts_ns`` is the minute's start (int ns UTC), ``close_tick``
    the pool's tick at the minute's end."""

    name: str
    source: str
    ts_ns: npt.NDArray[np.int64]
    close_tick: npt.NDArray[np.int64]


@dataclass(frozen=True)
class RelativePrices:
    """``*.rel-price.csv``: per minute (int ns UTC), ETH and USDC in USD and the exact ``sqrtPriceX96``."""

    source: str
    ts_ns: npt.NDArray[np.int64]
    eth_usd: npt.NDArray[np.float64]
    usdc_usd: npt.NDArray[np.float64]
    sqrt_price_x96: tuple[int, ...]


def _sqrt(p: Path, i: int, text: str) -> int:
    return cell_int(p, i, "sqrtPriceX96", text, lo=_MIN_SQRT, hi=_MAX_SQRT - 1)


def _increasing(p: Path, ts: npt.NDArray[np.int64], rows: list[dict[str, str]], column: str, strict: bool) -> None:
    d = np.diff(ts)
    bad = d <= 0 if strict else d < 0
    if bad.any():
        i = int(np.argmax(bad)) + 1
        raise ValidationError(f"{p.name}:{i + 2}", rows[i][column], f"{column} goes backwards")


def load_uniswap_swaps(path: str | Path) -> UniswapSwaps:
    """The swaps of a decoded Uniswap v3 event file, in file order (block times non-decreasing)."""
    p = Path(path)
    rows = read_rows(p, ("block_timestamp", "tx_type", "sqrtPriceX96", "current_tick"))
    idx = [i for i, r in enumerate(rows) if r["tx_type"] == "SWAP"]
    if not idx:
        raise ValidationError("path", str(p), "has no SWAP rows")
    ts = np.array([cell_utc_ns(p, i, "block_timestamp", rows[i]["block_timestamp"]) for i in idx], dtype=np.int64)
    sqrt = tuple(_sqrt(p, i, rows[i]["sqrtPriceX96"]) for i in idx)
    tick = np.array(
        [cell_int(p, i, "current_tick", rows[i]["current_tick"], lo=-MAX_TICK, hi=MAX_TICK) for i in idx],
        dtype=np.int64,
    )
    _increasing(p, ts, [rows[i] for i in idx], "block_timestamp", strict=False)
    return UniswapSwaps(p.stem, p.name, ts, sqrt, tick)


def load_uniswap_minutes(path: str | Path) -> UniswapMinutes:
    """Minute bars with the closing tick (``timestamp``, ``closeTick``)."""
    p = Path(path)
    rows = read_rows(p, ("timestamp", "closeTick"))
    ts = np.array([cell_utc_ns(p, i, "timestamp", r["timestamp"]) for i, r in enumerate(rows)], dtype=np.int64)
    ticks = np.array(
        [cell_int(p, i, "closeTick", r["closeTick"], lo=-MAX_TICK, hi=MAX_TICK) for i, r in enumerate(rows)],
        dtype=np.int64,
    )
    _increasing(p, ts, rows, "timestamp", strict=True)
    return UniswapMinutes(p.stem, p.name, ts, ticks)


def load_uniswap_rel_price(path: str | Path) -> RelativePrices:
    """ETH and USDC in USD per minute (finite, > 0) and the pool's exact ``sqrtPriceX96``."""
    p = Path(path)
    rows = read_rows(p, ("block_timestamp", "usdc", "eth", "sqrtPriceX96"))
    ts = np.array(
        [cell_utc_ns(p, i, "block_timestamp", r["block_timestamp"]) for i, r in enumerate(rows)], dtype=np.int64
    )
    eth = np.array([cell_float(p, i, "eth", r["eth"], positive=True) for i, r in enumerate(rows)])
    usdc = np.array([cell_float(p, i, "usdc", r["usdc"], positive=True) for i, r in enumerate(rows)])
    sqrt = tuple(_sqrt(p, i, r["sqrtPriceX96"]) for i, r in enumerate(rows))
    _increasing(p, ts, rows, "block_timestamp", strict=False)
    return RelativePrices(p.name, ts, eth, usdc, sqrt)
