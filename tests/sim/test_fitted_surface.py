"""The options venue's surface fitted to real Deribit chains (keel.pricing.fit_surface), and its config errors."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from keel.domain import NS_PER_YEAR
from keel.errors import ConfigError
from keel.marketdata import load_chain_file
from keel.sim.config import validate_config
from keel.sim.scenario import fitted_surface

ROOT = Path(__file__).resolve().parents[2]
HOURLY = "data/deribit_btc_iv_greeks_hourly_2026-01/full_data_sample.csv"
ETH_0209 = "data/deribit_option_chain_snapshots_2021-02/eth_option_chain_2021-02-09T1340Z.csv"


def _config(**surface: Any) -> dict[str, Any]:
    return {
        "name": "fitted",
        "market": {"kind": "gbm", "hours": 1.0, "s0": 90_000.0},
        "options": {"surface": {"chain": HOURLY, **surface}},
        "market_maker": {},
    }


def test_surface_from_2026_hourly_chain_reproduces_its_mark_ivs() -> None:
    cfg = validate_config(_config(snapshot=10, min_expiry_days=7, max_fit_vol_pts=1.5))
    surface, info = fitted_surface(cfg, ROOT)
    assert info["underlying"] == "BTC" and len(surface.slices) >= 4
    # against the real chain: the venue's vol at each out-of-the-money strike's moneyness vs Deribit's mark IV
    chain = load_chain_file(ROOT / HOURLY).snapshots()[10].frame
    errors = []
    for sl, used in zip(surface.slices, info["expiries"], strict=True):
        T = (sl.expiry_ns - surface.as_of_ns) / NS_PER_YEAR
        rows = chain.filter(abs(chain["T"] - T) < 1e-3)
        K, kind, iv = (rows[c].to_numpy().astype(float) for c in ("strike", "kind", "mark_iv"))
        F = used["forward"]
        otm = np.where(K >= F, kind > 0, kind < 0) & (iv > 0)
        assert otm.sum() >= 5
        venue = np.array([surface.implied_vol(math.log(k / F), sl.expiry_ns) for k in K[otm]])
        errors.append(np.sqrt(np.mean((venue - iv[otm]) ** 2)) * 100)
    assert max(errors) < 1.5  # vol points, every expiry kept
    # the venue reproduces keel.pricing's fit exactly: same error as the fit reports
    np.testing.assert_allclose(errors, [e["rmse_vol_pts"] for e in info["expiries"]], atol=0.01)


def test_eth_2021_snapshot_keeps_only_liquid_expiries() -> None:
    # the 17-day expiry's marks are one flat placeholder (80%), skipped by keel.pricing;
    # 3.5 vol points keeps the 227-day expiry
    cfg = validate_config(_config(chain=ETH_0209, max_fit_vol_pts=3.5))
    surface, info = fitted_surface(cfg, ROOT)
    assert info["fitted_expiries"] >= 4 and len(surface.slices) < info["fitted_expiries"]
    assert all(e["rmse_vol_pts"] <= 3.5 and e["days"] >= 2.0 for e in info["expiries"])
    # sticky moneyness: the venue's at-the-money vol is the chain's own near-the-money marks for that expiry
    atm = surface.implied_vol(0.0, surface.slices[0].expiry_ns)
    chain = load_chain_file(ROOT / ETH_0209).snapshots()[0].frame
    T = info["expiries"][0]["days"] / 365.0
    F = info["expiries"][0]["forward"]
    rows = chain.filter((abs(chain["T"] - T) < 1e-3) & (abs(chain["strike"] / F - 1.0) < 0.1))
    assert rows.height >= 2
    assert abs(atm - float(rows["mark_iv"].median())) < 0.05


@pytest.mark.parametrize(
    ("options", "key"),
    [
        ({"surface": {"chain": "data/nope.csv"}}, "options.surface.chain"),
        ({"surface": {"chain": ETH_0209, "snapshot": 3}}, "options.surface.snapshot"),
        ({"surface": {"chain": ETH_0209, "max_fit_vol_pts": 0.0001, "min_expiry_days": 300}}, "max_fit_vol_pts"),
        ({"surface": {"chain": ETH_0209, "snapshots": 1}}, "options.surface.snapshots"),
        ({}, "options.surface"),
        (
            {
                "surface": {"chain": ETH_0209},
                "svi": [{"expiry": "2024-02-01T08:00:00Z", "a": 0.01, "b": 0.1, "rho": 0, "m": 0, "sigma": 0.1}],
            },
            "options.surface",
        ),
    ],
)
def test_surface_config_errors_name_the_key(options: dict[str, Any], key: str) -> None:
    data = _config()
    data["options"] = options
    with pytest.raises(ConfigError) as info:
        fitted_surface(validate_config(data), ROOT)
    message = str(info.value)
    assert key in message and "\n" not in message
