"""Inverse (coin-settled) options against Deribit's own marks and deltas (real Feb 2021 snapshots).

Deribit publishes ``mark_iv`` with 2 decimals (in %) and ``greeks.delta`` with 5 decimals, and a
row's ``mark_price`` and ``underlying_price`` are sampled at slightly different instants, so the
agreement we can expect is bounded by those roundings and that jitter, not by float precision.
Figures measured here are reported in BENCHMARKS.md.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from keel.marketdata import load_deribit_chain
from keel.pricing import inverse_greeks, inverse_implied_vol, inverse_price

FILES = sorted((Path(__file__).resolve().parents[2] / "data" / "deribit_option_chain_snapshots_2021-02").glob("*.csv"))


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_premium_and_delta_match_deribit(path: Path) -> None:
    chain = load_deribit_chain(path)
    F = chain.column("underlying_price")
    K = chain.column("strike")
    T = chain.column("T")
    iv = chain.column("mark_iv")
    w = chain.column("kind")
    mark = chain.column("mark_price")
    g = inverse_greeks(w, F, K, T, iv)
    prem = inverse_price(w, F, K, T, iv)
    np.testing.assert_allclose(prem, g.price_coin, rtol=1e-14, atol=0)
    diff = np.abs(g.price_coin - mark)
    # premium in coin: median within 2.5e-5 coin, 95% within 5e-4 (mark_iv rounding + sampling jitter)
    assert np.median(diff) < 2.5e-5
    assert np.quantile(diff, 0.95) < 5e-4
    # Deribit's delta is the Black forward delta N(d1) (N(d1) - 1 for puts), not premium-adjusted
    dd = np.abs(g.delta - chain.column("venue_delta"))
    assert np.nanmax(dd) < 1.5e-4
    assert np.nanmedian(dd) < 1e-5
    adjusted = np.abs(g.delta_premium_adjusted - chain.column("venue_delta"))
    assert np.nanmedian(adjusted) > 100 * np.nanmedian(dd)
    # Deribit's vega is USD per 1% vol, gamma per USD
    vega_ok = chain.column("venue_vega") > 1.0
    rel_vega = np.abs(g.vega[vega_ok] / 100 - chain.column("venue_vega")[vega_ok]) / chain.column("venue_vega")[vega_ok]
    assert np.median(rel_vega) < 1e-3


@pytest.mark.parametrize("path", FILES[:1], ids=[p.name for p in FILES[:1]])
def test_implied_vol_of_marks_reproduces_mark_iv(path: Path) -> None:
    chain = load_deribit_chain(path)
    F, K, T = chain.column("underlying_price"), chain.column("strike"), chain.column("T")
    w, iv = chain.column("kind"), chain.column("mark_iv")
    g = inverse_greeks(w, F, K, T, iv)
    # where the coin vega is large enough that 8-decimal marks pin the vol to 0.01 vol point
    ok = g.vega_coin > 0.01
    got = inverse_implied_vol(w[ok], chain.column("mark_price")[ok], F[ok], K[ok], T[ok])
    err_pts = np.abs(got - iv[ok]) * 100
    assert ok.sum() > 100
    assert np.median(err_pts) < 0.05
