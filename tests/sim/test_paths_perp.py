"""Market paths from the real files (the perp venue's money: tests/risk/test_perp_clearing.py)."""

from __future__ import annotations

import csv
from decimal import Decimal, getcontext

import numpy as np
import pytest

from keel.marketdata import load_binance_klines, load_funding_rates
from keel.sim.paths import uniswap_swap_path

UNI = "uniswap_v3_usdc_weth_005_2024-01-05/ethereum-0x88e6a0c2ddd26feeb64f039a2c41296fcb3f5640-2024-01-05.tick.csv"


def test_uniswap_path_is_every_real_swap_price(data_dir) -> None:  # type: ignore[no-untyped-def]
    path = uniswap_swap_path(data_dir / UNI)
    with (data_dir / UNI).open() as f:
        swaps = [row for row in csv.DictReader(f) if row["tx_type"] == "SWAP"]
    assert len(path.price) == len(swaps) == 6046
    getcontext().prec = 50
    for i in (0, 3000, 6045):  # independent Decimal computation of 1e12 / (sqrtP / 2^96)^2
        sqrt_p = Decimal(swaps[i]["sqrtPriceX96"]) / Decimal(2**96)
        assert path.price[i] == pytest.approx(float(Decimal(10**12) / (sqrt_p * sqrt_p)), rel=1e-12)
    assert 2190 < path.price.min() < path.price.max() < 2290
    assert path.at(path.start_ns - 1) == path.price[0]
    assert path.at(path.end_ns + 10**12) == path.price[-1]


def test_kline_path_visits_the_real_extremes(data_dir) -> None:  # type: ignore[no-untyped-def]
    path = load_binance_klines(data_dir / "binance_btcusdt_1m_crashes/BTCUSDT-1m-2025-10-10_2028-2237.csv").path()
    assert len(path.price) == 4 * 130
    assert path.price.min() == 101516.5 and path.price.max() == 117145.3
    assert path.price[0] == 117050.0 and np.all(np.diff(path.ts_ns) > 0)


def test_funding_rates_load(data_dir) -> None:  # type: ignore[no-untyped-def]
    ts, rate = load_funding_rates(data_dir / "binance_perp_funding_rates/BTCUSDT.csv")
    assert len(ts) == 7119 and ts[0] == 1577836800000 * 10**6
    assert np.all(np.abs(rate) < 0.01)


def test_crash_overlay_hits_the_drop_and_recovers_the_share() -> None:
    from keel.sim.paths import MarketPath, with_crash

    ts = np.arange(0, 500, dtype=np.int64) * 60 * 10**9
    base = MarketPath("flat", ts, np.full(500, 100.0))
    crashed = with_crash(base, 100 * 60 * 10**9, 0.4, 20 * 60 * 10**9, recovery=0.5, recovery_ns=100 * 60 * 10**9)
    assert crashed.price[99] == 100.0
    assert crashed.price[120] == pytest.approx(60.0)
    assert crashed.price.min() == pytest.approx(60.0)
    assert crashed.price[-1] == pytest.approx(100.0 * np.sqrt(0.6))  # half the log drop recovered
    with pytest.raises(Exception, match="crash.drop"):
        with_crash(base, 0, 1.5, 10)


def test_deribit_atm_vol_replay(data_dir) -> None:  # type: ignore[no-untyped-def]
    from keel.marketdata import load_deribit_atm_iv

    path = load_deribit_atm_iv(data_dir / "deribit_btc_iv_greeks_hourly_2026-01/full_data_sample.csv")
    assert len(path.price) == 37  # one per hourly snapshot
    assert np.all(np.diff(path.ts_ns) == 3600 * 10**9)
    assert np.all((path.price > 0.2) & (path.price < 0.6))  # BTC ATM vol in January 2026: mid-30s %
