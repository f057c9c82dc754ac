"""One local Ray of 2 CPUs for the sweep tests (started once; it takes seconds)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

SMALL = """
name = "small_desk"
seed = 3
[market]
kind = "gbm"
asset = "ETH"
s0 = 2000
sigma = 0.6
start = "2024-01-05T00:00:00Z"
hours = 0.5
[chain]
block_time_s = 12
base_fee_gwei = 20
[pool]
fee = 500
liquidity = 12453647101533358277
range_pct = 25
[options]
half_spread_vol = 0.01
[[options.svi]]
expiry = "2024-01-12T08:00:00Z"
a = 0.004
b = 0.02
rho = -0.2
m = 0.0
sigma = 0.05
[desk]
strategy = "short_call_strip"
strikes_pct = [105.0, 110.0]
contracts = 100
initial_usd = 2000000
[hedge]
policy = "fixed"
"""


@pytest.fixture
def small_config(tmp_path: Path) -> Path:
    path = tmp_path / "small.toml"
    path.write_text(SMALL, encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def ray_backend() -> Iterator[object]:
    from keel.runtime.distributed import RayBackend

    backend = RayBackend(workers=2, max_retries=3)
    backend.start()
    try:
        yield backend
    finally:
        backend.shutdown()
