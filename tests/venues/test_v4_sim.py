"""A simulated day with a Uniswap v4 pool beside the v3 pool (``[[pools]] version = 4``)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import polars as pl
import pytest

from keel.errors import ConfigError
from keel.runtime import Simulation
from keel.sim.config import validate_config
from keel.venues.uniswap_v3 import Pool
from keel.venues.uniswap_v4 import V4Pool

ROOT = Path(__file__).resolve().parents[2]


def _config(hours: float, pools: list[dict[str, object]]) -> dict[str, object]:
    data = tomllib.loads((ROOT / "examples" / "eth_options_desk.toml").read_text())
    data["market"]["hours"] = hours
    data["pool"]["extra_fee_tiers"] = []
    data["pools"] = pools
    return data


@pytest.mark.slow
def test_a_day_with_a_v4_pool_beside_the_v3_pool() -> None:
    cfg = validate_config(_config(24, [{"version": 4, "fee": 500, "tick_spacing": 10, "liquidity_share": 0.6}]))
    sim = Simulation(cfg, root=ROOT)
    summary = sim.run()
    assert summary["status"] == "completed" and summary["blocks"] == 7200
    assert summary["ledger_imbalance"] == 0
    venues = sim.world.venues
    v3, v4 = venues["uniswap_v3_usdc_weth"], venues["uniswap_v4_usdc_weth_500_0"]
    assert isinstance(v3, Pool) and isinstance(v4, V4Pool)
    frame = sim.result().recorder.to_frame()
    # the desk's hedges were routed through the v4 pool, and an arbitrageur kept it at the market
    hedges_v4 = frame.filter((pl.col("kind") == "hedge_submitted") & (pl.col("instrument") == v4.name)).height
    arbs_v4 = frame.filter((pl.col("kind") == "arbitrage") & (pl.col("instrument") == v4.name)).height
    assert hedges_v4 >= 3 and arbs_v4 >= 100, (hedges_v4, arbs_v4)
    p3 = (v3.sqrt_price_x96 / 2**96) ** 2
    p4 = (v4.sqrt_price_x96 / 2**96) ** 2
    assert abs(p4 / p3 - 1) < 0.0025  # both within the arbitrage band (fees) of the same market


def test_pools_entries_are_checked() -> None:
    with pytest.raises(ConfigError, match=r"pools\.0"):
        validate_config(_config(1, [{"version": 3, "fee": 700}]))
    with pytest.raises(ConfigError, match=r"pools\.0"):
        validate_config(_config(1, [{"version": 4, "fee": 700}]))  # a non-tier fee needs its tick_spacing
    with pytest.raises(ConfigError, match=r"pools\.0\.version"):
        validate_config(_config(1, [{"version": 5}]))
    cfg = validate_config(_config(1, [{"version": 4, "fee": 700, "tick_spacing": 15}]))
    assert cfg.pools[0].version == 4
