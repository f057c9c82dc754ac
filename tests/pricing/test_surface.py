"""SVI fitting, arbitrage checks, forwards and the VolSurface on real Deribit chains."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import keel.pricing as kp
from keel.cli import main
from keel.errors import PricingError, ValidationError
from keel.marketdata import load_chain_file, load_deribit_chain
from keel.pricing import SVIParams, VolSurface, fit_surface, fit_svi, forward_from_deltas, forward_from_parity

DATA = Path(__file__).resolve().parents[2] / "data"
BTC_0209 = DATA / "deribit_option_chain_snapshots_2021-02" / "btc_option_chain_2021-02-09T1338Z.csv"
HOURLY_2026 = DATA / "deribit_btc_iv_greeks_hourly_2026-01" / "full_data_sample.csv"


def test_svi_fit_recovers_known_parameters() -> None:
    true = SVIParams(a=0.02, b=0.15, rho=-0.4, m=0.05, sigma=0.2)
    T = 0.5
    k = np.linspace(-0.8, 0.6, 41)
    iv = np.sqrt(true.total_variance(k) / T)
    fit = fit_svi(k, iv, T)
    assert fit.rmse_vol_pts < 1e-4
    np.testing.assert_allclose(
        fit.params.total_variance(np.linspace(-1.5, 1.5, 31)),
        true.total_variance(np.linspace(-1.5, 1.5, 31)),
        rtol=1e-4,
    )
    assert fit.butterfly_free and not fit.repaired


def test_g_function_matches_density_from_black_prices() -> None:
    # the Gatheral-Jacquier g(k) is the risk-neutral density up to a positive factor:
    # d2C/dK2 = g(k) / (K sqrt(2 pi w)) exp(-d2^2 / 2), checked against finite differences of Black prices
    p = SVIParams(a=0.01, b=0.4, rho=-0.6, m=0.0, sigma=0.05)
    F, T = 100.0, 1.0
    K = np.linspace(60, 160, 41)
    h = 1e-2
    k = np.log(K / F)

    def call(strike: np.ndarray) -> np.ndarray:
        vol = np.sqrt(p.total_variance(np.log(strike / F)) / T)
        return np.asarray(kp.black76("call", F, strike, T, vol))

    fd = (call(K + h) - 2 * call(K) + call(K - h)) / (h * h)
    w = p.total_variance(k)
    d2 = -k / np.sqrt(w) - np.sqrt(w) / 2
    closed = p.g(k) / (K * np.sqrt(2 * math.pi * w)) * np.exp(-d2 * d2 / 2)
    np.testing.assert_allclose(fd, closed, rtol=2e-4, atol=1e-9)
    bad = SVIParams(a=-0.05, b=1.2, rho=-0.9, m=0.1, sigma=0.05)  # wild wings: density goes negative
    assert np.min(bad.g(np.linspace(-1, 1, 201))) < 0


def test_butterfly_repair_removes_negative_density() -> None:
    k = np.linspace(-0.5, 0.5, 21)
    iv = 0.6 + 2.5 * np.abs(k) ** 1.0  # a V-shape steeper than any arbitrage-free smile allows at T = 1
    fit = fit_svi(k, iv, 1.0)
    assert fit.min_g_unrepaired < 0
    assert fit.repaired and fit.butterfly_free


def test_forward_from_parity_and_deltas_synthetic() -> None:
    F, D, T = 50_000.0, 0.998, 0.25
    K = np.linspace(40_000, 60_000, 11)
    vol = 0.7
    c = np.asarray(kp.black76("call", F, K, T, vol, D))
    p = np.asarray(kp.black76("put", F, K, T, vol, D))
    f_lin, d_lin = forward_from_parity(K, c, p, inverse=False, F_guess=48_000.0)
    assert f_lin == pytest.approx(F, rel=1e-12) and d_lin == pytest.approx(D, rel=1e-12)
    f_inv, d_inv = forward_from_parity(K, c / F, p / F, inverse=True, F_guess=48_000.0)
    assert f_inv == pytest.approx(F, rel=1e-12) and d_inv == pytest.approx(D, rel=1e-12)
    delta = kp.greeks("call", F, K, T, 0.0, vol).delta
    assert forward_from_deltas(K, T, np.full_like(K, vol), np.round(delta, 5)) == pytest.approx(F, rel=1e-4)
    with pytest.raises(PricingError):
        forward_from_parity([1.0], [1.0], [1.0], inverse=False, F_guess=1.0)


@pytest.fixture(scope="module")
def btc_surface() -> VolSurface:
    return fit_surface(load_deribit_chain(BTC_0209))


def test_real_chain_forwards_and_fit(btc_surface: VolSurface) -> None:
    s = btc_surface
    assert len(s.slices) >= 8
    for sl in s.slices:
        assert sl.forward_source == "parity"
        assert sl.forward == pytest.approx(sl.venue_forward, rel=3e-3)  # parity on marks vs Deribit's forward
        assert sl.discount == pytest.approx(1.0, abs=5e-3)  # coin options: no discounting
    # expiries >= 9 days fit the marks to within 3 vol points (weighted RMSE), except 26MAR21 whose
    # wing marks sit on flat plateaus (2.155, 2.155, ..., 2.5) no smooth smile can follow
    liquid = [sl for sl in s.slices if sl.T > 9 / 365]
    assert sum(sl.fit.wrmse_vol_pts < 3.0 for sl in liquid) >= len(liquid) - 1
    assert np.median([sl.fit.wrmse_vol_pts for sl in s.slices]) < 2.5
    assert sum(sl.fit.butterfly_free for sl in s.slices) >= len(s.slices) - 2


def test_vol_surface_evaluation(btc_surface: VolSurface) -> None:
    s = btc_surface
    sl = s.slices[3]
    K = sl.forward * np.exp(np.linspace(-0.3, 0.3, 7))
    np.testing.assert_allclose(s.implied_vol(K, sl.T), sl.implied_vol(K), rtol=1e-9)
    assert s.forward(sl.T) == pytest.approx(sl.forward, rel=1e-12)
    # between expiries: total variance non-decreasing in T at fixed moneyness (calendar-safe envelope)
    Ts = np.linspace(0.5 / 365, 1.2, 400)
    for k in (-0.4, -0.1, 0.0, 0.1, 0.4):
        w = s.total_variance(np.full_like(Ts, k), Ts)
        assert np.all(np.diff(w) >= -1e-12)
    iv = s.implied_vol(np.array([[40_000.0], [50_000.0]]), np.array([0.05, 0.3, 0.7]))
    assert iv.shape == (2, 3) and np.all((iv > 0.3) & (iv < 3.0))
    prices = s.price("call", 50_000.0, [0.05, 0.3])
    assert np.all(np.asarray(prices) > 0)
    with pytest.raises(ValidationError):
        s.implied_vol(-1.0, 0.1)
    assert 0 < float(s.discount(0.5)) <= 1.01


def test_fit_2026_hourly_ivs_forward_from_deltas() -> None:
    chain = load_chain_file(HOURLY_2026)
    s = fit_surface(chain, snapshot=10)
    assert len(s.slices) >= 10
    assert all(sl.forward_source == "delta" for sl in s.slices)
    fwd = np.array([sl.forward for sl in s.slices])
    assert np.all((fwd > 80_000) & (fwd < 100_000))
    assert np.all(np.diff(fwd) > -50.0)  # positive carry: forwards rise with maturity
    week_plus = [sl for sl in s.slices if sl.T > 7 / 365]
    assert all(sl.fit.wrmse_vol_pts < 1.0 for sl in week_plus)
    assert all(sl.fit.butterfly_free for sl in week_plus)
    assert not s.calendar_violations


def test_surface_cli_prints_errors_and_writes_png(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    png = tmp_path / "smiles.png"
    assert main(["surface", str(BTC_0209), "--png", str(png)]) == 0
    out = capsys.readouterr().out
    assert "wRMSE" in out and "2021-02-26" in out and "butterfly" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
    assert main(["surface", str(tmp_path / "missing.csv")]) == 2
    assert "no such file" in capsys.readouterr().err
