"""#21: a replay never pads the simulated window with stale prices, and long synthetic paths
do not overflow int64 nanoseconds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from keel.domain import NS_PER_HOUR
from keel.errors import ConfigError
from keel.sim.config import parse_utc
from keel.sim.paths import replay_path, synthetic_path

ROOT = Path(__file__).resolve().parents[2]
KLINES = ROOT / "data/binance_btcusdt_1m_crashes/BTCUSDT-1m-2025-10-10_2028-2237.csv"
SWAPS = (
    ROOT / "data/uniswap_v3_usdc_weth_005_2024-01-05"
    "/ethereum-0x88e6a0c2ddd26feeb64f039a2c41296fcb3f5640-2024-01-05.tick.csv"
)


def test_the_examples_windows_are_covered() -> None:
    start = parse_utc("2025-10-10T20:28:00Z")
    assert len(replay_path("binance_klines", KLINES, start, start + int(2.15 * NS_PER_HOUR))) == 520
    day = parse_utc("2024-01-05T00:00:00Z")  # first swap at 00:00:23, within the file's longest gap
    assert len(replay_path("uniswap_swaps", SWAPS, day, day + 24 * NS_PER_HOUR)) == 6046


@pytest.mark.parametrize(
    ("start", "hours", "key"),
    [
        ("2025-10-10T19:00:00Z", 1.0, "market.start"),  # before the file
        ("2025-10-11T00:00:00Z", 1.0, "market.start"),  # after it
        ("2025-10-10T20:28:00Z", 3.0, "market.hours"),  # runs 23 minutes past its end
    ],
)
def test_windows_outside_the_file_are_refused_naming_its_range(start: str, hours: float, key: str) -> None:
    t0 = parse_utc(start)
    with pytest.raises(ConfigError) as err:
        replay_path("binance_klines", KLINES, t0, t0 + int(hours * NS_PER_HOUR))
    assert err.value.field == key
    assert "covers 2025-10-10T20:28:00Z .. 2025-10-10T22:37:59Z" in str(err.value)


def test_a_day_of_swaps_does_not_stretch_into_the_next() -> None:
    day = parse_utc("2024-01-05T00:00:00Z")
    with pytest.raises(ConfigError, match=r"market\.hours.*covers 2024-01-05T00:00:23Z \.\. 2024-01-05T23:59:59Z"):
        replay_path("uniswap_swaps", SWAPS, day, day + 25 * NS_PER_HOUR)


@pytest.mark.parametrize("hours", [206, 207, 1000])
def test_long_synthetic_paths_keep_exact_int64_times(hours: int) -> None:
    from keel.pricing import mc

    start = parse_utc("2024-01-05T00:00:00Z")
    horizon = hours * NS_PER_HOUR
    n = hours * 60
    path = synthetic_path(mc.GBM(2000.0, 0.0, 0.5), start, horizon, n, seed=1)
    expected = np.array([start + k * horizon // n for k in range(n + 1)], dtype=np.int64)  # Python ints
    assert np.array_equal(path.ts_ns, expected)
    assert int(path.ts_ns[-1]) == start + horizon and np.all(np.diff(path.ts_ns) > 0)


@pytest.mark.parametrize(
    ("start", "hours", "key"),
    [("2025-10-10T12:00:00Z", 1.0, "market.start"), ("2025-10-10T20:28:00Z", 6.0, "market.hours")],
)
def test_keel_simulate_refuses_a_window_the_file_does_not_cover(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], start: str, hours: float, key: str
) -> None:
    from keel.cli import main

    text = (ROOT / "examples" / "crash_2025_10_10.toml").read_text()
    text = text.replace('file = "data/', f'file = "{ROOT}/data/')
    text = text.replace('start = "2025-10-10T20:28:00Z"', f'start = "{start}"').replace(
        "hours = 2.15", f"hours = {hours}"
    )
    text = text.replace('funding_file = "data/', f'funding_file = "{ROOT}/data/')
    cfg = tmp_path / "stale.toml"
    cfg.write_text(text)
    assert main(["simulate", str(cfg), "--out", str(tmp_path / "runs"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {key}=")
    assert "BTCUSDT-1m-2025-10-10_2028-2237.csv covers 2025-10-10T20:28:00Z .. 2025-10-10T22:37:59Z" in err[0]
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").rglob("summary.json"))
