"""Real price histories for the stress suite and the margin backtest (file adapters).

- Binance BTCUSDT 1-minute klines around 2020-03-12 and 2025-10-10
  (``data/binance_btcusdt_1m_crashes``): close prices, open times in ns.
- Uniswap v3 USDC/WETH 0.05% pool, 2024-01-05 (``data/uniswap_v3_usdc_weth_005_2024-01-05``):
  1-minute closing ticks → ETH price in USDC = 1e12 / 1.0001^tick (token0 USDC 6 dp,
  token1 WETH 18 dp).
- Binance perpetual funding rates (``data/binance_perp_funding_rates``): 8-hourly rates.

The default data folder is the repository's ``data/``; pass another with ``data_dir``.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from keel.domain import ms_to_ns
from keel.errors import ValidationError

__all__ = [
    "PriceSeries",
    "default_data_dir",
    "load_binance_klines",
    "load_funding_rates",
    "load_uniswap_eth_minutes",
    "real_series",
]


@dataclass(frozen=True)
class PriceSeries:
    """``prices`` (USD) at ``ts_ns`` (int ns UTC), equally spaced by ``step_ns``; ``source`` names the file."""

    name: str
    ts_ns: np.ndarray
    prices: np.ndarray
    step_ns: int
    source: str


def default_data_dir() -> Path:
    here = Path(__file__).resolve()
    for parent in here.parents:
        cand = parent / "data" / "binance_btcusdt_1m_crashes"
        if cand.is_dir():
            return parent / "data"
    raise ValidationError("data_dir", str(here), "could not find the project's data/ folder; pass data_dir")


def _read(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        raise ValidationError("path", str(path), "file not found")
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def load_binance_klines(path: Path, name: str | None = None) -> PriceSeries:
    """Close prices of a Binance 1-minute kline CSV (with header)."""
    rows = _read(path)
    ts = np.array([ms_to_ns(int(r["open_time"])) for r in rows], dtype=np.int64)
    px = np.array([float(r["close"]) for r in rows])
    if px.size < 2 or not np.all(np.isfinite(px)) or np.any(px <= 0):
        raise ValidationError("close", str(path), "need >= 2 finite positive closes")
    return PriceSeries(name or path.stem, ts, px, int(ts[1] - ts[0]), path.name)


def load_uniswap_eth_minutes(path: Path) -> PriceSeries:
    """ETH/USDC 1-minute closes from the pool's ``closeTick`` column."""
    import datetime as dt

    rows = _read(path)
    ticks = np.array([float(r["closeTick"]) for r in rows])
    px = 1e12 / np.power(1.0001, ticks)
    ts = np.array(
        [int(dt.datetime.fromisoformat(r["timestamp"]).replace(tzinfo=dt.UTC).timestamp()) * 10**9 for r in rows],
        dtype=np.int64,
    )
    return PriceSeries("ETH-2024-01-05-uniswap", ts, px, int(ts[1] - ts[0]), path.name)


def load_funding_rates(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(calc_time ns, rate per interval) from a Binance funding CSV."""
    rows = _read(path)
    ts = np.array([ms_to_ns(int(r["calc_time"])) for r in rows], dtype=np.int64)
    rate = np.array([float(r["last_funding_rate"]) for r in rows])
    return ts, rate


def real_series(data_dir: Path | None = None) -> dict[str, PriceSeries]:
    """Every real minute price series in ``data/`` by name (see the module docstring)."""
    root = default_data_dir() if data_dir is None else Path(data_dir)
    crashes = root / "binance_btcusdt_1m_crashes"
    uni = root / "uniswap_v3_usdc_weth_005_2024-01-05"
    out = {
        "BTC-2020-03-12": load_binance_klines(crashes / "BTCUSDT-1m-2020-03-12_0936-1423.csv", "BTC-2020-03-12"),
        "BTC-2025-10-10": load_binance_klines(crashes / "BTCUSDT-1m-2025-10-10_2028-2237.csv", "BTC-2025-10-10"),
    }
    minute = sorted(uni.glob("*.minute.csv"))
    if minute:
        out["ETH-2024-01-05"] = load_uniswap_eth_minutes(minute[0])
    return out
