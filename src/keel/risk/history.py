"""The real price histories the stress suite and the margin backtest use (read by keel.marketdata).

- Binance BTCUSDT 1-minute klines around 2020-03-12 and 2025-10-10
  (``data/binance_btcusdt_1m_crashes``): closes stamped at each minute's open.
- Uniswap v3 USDC/WETH 0.05% pool, 2024-01-05 (``data/uniswap_v3_usdc_weth_005_2024-01-05``):
  1-minute closing ticks → ETH price in USDC = 1e12 / 1.0001^tick (token0 USDC 6 dp,
  token1 WETH 18 dp).

The default data folder is the repository's ``data/``; pass another with ``data_dir``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from keel.errors import ValidationError
from keel.marketdata import PriceSeries, load_binance_klines, load_uniswap_minutes

__all__ = ["default_data_dir", "kline_closes", "real_series", "uniswap_eth_minutes"]


def default_data_dir() -> Path:
    here = Path(__file__).resolve()
    for parent in here.parents:
        cand = parent / "data" / "binance_btcusdt_1m_crashes"
        if cand.is_dir():
            return parent / "data"
    raise ValidationError("data_dir", str(here), "could not find the project's data/ folder; pass data_dir")


def kline_closes(path: Path, name: str | None = None) -> PriceSeries:
    """Close prices of a Binance 1-minute kline file, stamped at each minute's open (>= 2 bars)."""
    series = load_binance_klines(path).closes(at="open", name=name)
    if len(series) < 2:
        raise ValidationError("close", str(path), "need >= 2 finite positive closes")
    return series


def uniswap_eth_minutes(path: Path) -> PriceSeries:
    """ETH/USDC 1-minute closes from the pool's ``closeTick`` column, stamped at each minute's start."""
    minutes = load_uniswap_minutes(path)
    px = 1e12 / np.power(1.0001, minutes.close_tick.astype(np.float64))
    return PriceSeries("ETH-2024-01-05-uniswap", minutes.ts_ns, px, minutes.source)


def real_series(data_dir: Path | None = None) -> dict[str, PriceSeries]:
    """Every real minute price series in ``data/`` by name (see the module docstring)."""
    root = default_data_dir() if data_dir is None else Path(data_dir)
    crashes = root / "binance_btcusdt_1m_crashes"
    uni = root / "uniswap_v3_usdc_weth_005_2024-01-05"
    out = {
        "BTC-2020-03-12": kline_closes(crashes / "BTCUSDT-1m-2020-03-12_0936-1423.csv", "BTC-2020-03-12"),
        "BTC-2025-10-10": kline_closes(crashes / "BTCUSDT-1m-2025-10-10_2028-2237.csv", "BTC-2025-10-10"),
    }
    minute = sorted(uni.glob("*.minute.csv"))
    if minute:
        out["ETH-2024-01-05"] = uniswap_eth_minutes(minute[0])
    return out
