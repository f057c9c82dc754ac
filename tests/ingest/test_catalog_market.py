"""The shipped USDC/WETH day as a catalog entry: rebuilt from the raw logs it equals the committed files, its
swap path equals the ``uniswap_swaps`` path bit for bit, and ``keel simulate`` on it gives the same result."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import numpy as np
import pytest

from keel.errors import ConfigError
from keel.marketdata.catalog import Catalog, catalog_swaps, import_demeter_raw
from keel.sim.paths import catalog_path, uniswap_swap_path
from tests.ingest.conftest import ROOT

DAY = ROOT / "data" / "uniswap_v3_usdc_weth_005_2024-01-05"
STEM = "ethereum-0x88e6a0c2ddd26feeb64f039a2c41296fcb3f5640-2024-01-05"
POOL = "0x88e6a0c2ddd26feeb64f039a2c41296fcb3f5640"
START, END = 1704412800 * 10**9, 1704499200 * 10**9  # 2024-01-05 00:00 and 2024-01-06 00:00 UTC


def test_committed_slice_is_the_raw_file_decoded(tmp_path: Path) -> None:
    shipped = Catalog(ROOT / "data" / "catalog")
    meta = shipped.find(POOL)
    rebuilt = Catalog(tmp_path / "cat")
    again = import_demeter_raw(
        rebuilt, DAY / f"{STEM}.raw.csv", chain_id=1, pool=POOL, token0=(meta.token0, "USDC", 6),
        token1=(meta.token1, "WETH", 18), fee=500, tick_spacing=10, source=meta.source,
    )  # fmt: skip
    assert again == meta
    assert rebuilt.events(1, POOL).equals(shipped.events(1, POOL))
    counts = dict(shipped.events(1, POOL)["event"].value_counts().rows())
    assert counts == {"Swap": 6046, "Mint": 54, "Burn": 69, "Collect": 65}


def test_catalog_path_equals_the_uniswap_swaps_path() -> None:
    series = catalog_path(ROOT / "data" / "catalog", 1, POOL, START, END, base="ETH")
    reference = uniswap_swap_path(DAY / f"{STEM}.tick.csv")
    assert np.array_equal(series.ts_ns, reference.ts_ns) and np.array_equal(series.price, reference.price)
    assert series.source == f"catalog chain 1 pool {Catalog(ROOT / 'data' / 'catalog').find(POOL).address}"


def test_catalog_market_errors_name_the_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="market.catalog"):
        catalog_swaps(tmp_path / "nothing", 1, POOL, START, END)
    with pytest.raises(ConfigError, match="market.pool"):
        catalog_swaps(ROOT / "data" / "catalog", 1, "0x" + "11" * 20, START, END)
    with pytest.raises(ConfigError, match="market.start"):
        catalog_swaps(ROOT / "data" / "catalog", 1, POOL, START + 3 * 86_400 * 10**9, END + 3 * 86_400 * 10**9)
    with pytest.raises(ConfigError, match="market.hours"):
        catalog_swaps(ROOT / "data" / "catalog", 1, POOL, START, END + 86_400 * 10**9)


def test_example_runs_the_same_on_the_catalog(tmp_path: Path) -> None:
    from keel.runtime import run_simulation
    from keel.sim.config import validate_config

    data = tomllib.loads((ROOT / "examples" / "eth_options_desk.toml").read_text())
    data["market"]["hours"] = 3
    on_file = validate_config(json.loads(json.dumps(data)))
    data["market"].pop("file")
    data["market"].update(kind="catalog", pool=POOL)
    on_catalog = validate_config(data)
    sa, sb = run_simulation(on_file, root=ROOT), run_simulation(on_catalog, root=ROOT)
    assert sa["market"].pop("kind") == "uniswap_swaps" and sb["market"].pop("kind") == "catalog"
    assert sb["market"].pop("source") == f"catalog chain 1 pool {Catalog(ROOT / 'data' / 'catalog').find(POOL).address}"
    sa["market"].pop("source")
    assert sa == sb
