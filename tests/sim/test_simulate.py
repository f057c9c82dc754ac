"""``keel simulate``: outputs, determinism (byte-identical summary.json), attribution closure, config errors."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from keel.cli import main
from keel.runtime import run_scenario
from keel.sim.config import load_config
from keel.sim.scenario import PNL_PARTS

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"


def _short(tmp_path: Path, example: str, hours: float, name: str | None = None) -> Path:
    text = (EXAMPLES / example).read_text()
    lines = []
    for line in text.splitlines():
        if line.startswith("hours ="):
            line = f"hours = {hours}"
        if line.startswith("file =") or line.startswith("funding_file ="):
            key, value = line.split("=", 1)
            line = f'{key}= "{ROOT / value.strip().strip(chr(34))}"'
        if name and line.startswith("name ="):
            line = f'name = "{name}"'
        lines.append(line)
    path = tmp_path / example
    path.write_text("\n".join(lines) + "\n")
    return path


def test_simulate_writes_outputs_and_is_deterministic(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _short(tmp_path, "eth_options_desk.toml", 1.5)
    for run in ("a", "b"):
        assert main(["simulate", str(config), "--out", str(tmp_path / run), "--quiet"]) == 0
    a = tmp_path / "a" / "eth_options_desk" / "latest"  # runs/NAME/RUN_ID, `latest` links the newest
    b = tmp_path / "b" / "eth_options_desk" / "latest"
    assert (a / "summary.json").read_bytes() == (b / "summary.json").read_bytes()
    summary = json.loads((a / "summary.json").read_text())
    assert summary["blocks"] == 450 and summary["desk"]["option_trades"] == 3
    # attribution closes: the parts sum to the total (rounded to cents)
    assert sum(summary["pnl"][k] for k in PNL_PARTS) == pytest.approx(summary["pnl"]["total"], abs=0.05)
    events = pl.read_parquet(a / "events.parquet")
    assert events.height == summary["events"]
    assert set(events["kind"].to_list()) >= {"option_fill", "hedge_fill", "arbitrage"}
    html = (a / "report.html").read_text()
    assert html.count('class=chart id="chart-') == 5  # Plotly charts; tests/service renders them offline in Chromium
    assert "<script src=" not in html and "<link " not in html and "<img " not in html
    out = capsys.readouterr().out
    assert "theta" in out and "min margin ratio" in out
    # a different seed changes the run
    assert main(["simulate", str(config), "--out", str(tmp_path / "c"), "--seed", "8", "--quiet"]) == 0
    c = tmp_path / "c" / "eth_options_desk" / "latest"
    assert (c / "summary.json").read_bytes() != (a / "summary.json").read_bytes()


def test_crash_example_liquidates_and_accounts_bad_debt(tmp_path: Path) -> None:
    config = load_config(_short(tmp_path, "crash_2025_10_10.toml", 1.0))
    result = run_scenario(config)
    perp = result.summary["perp"]
    assert result.summary["market"]["price_min"] == 101516.5  # the real low, at 21:20
    assert perp["liquidations"] > 0 and result.summary["liquidations"] == perp["liquidations"]
    spent = perp["insurance_fund_start_usd"] - perp["insurance_fund_end_usd"]
    assert spent == pytest.approx(perp["bad_debt_usd"], abs=0.02)
    assert result.summary["pnl"]["delta"] < 0  # the desk is long into a crash


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("policy = ", 'policy = "yolo"'), "hedge.policy='yolo'"),
        (("slippage = ", "slippage = 2.0"), "hedge.slippage=2.0"),
        (("seed = ", "seed = 7\ncolour = 3"), "colour=3: unknown key"),
        (("kind = ", 'kind = "uniswap_swaps"\nfile_name = "x"'), "market.file_name"),
        (("file = ", 'file = "data/nope.csv"'), "market.file='data/nope.csv': no such file"),
        (
            ("expiry = ", 'expiry = "2024-01-01T08:00:00Z"'),
            "options.svi.0.expiry='2024-01-01T08:00:00Z': must be after",
        ),
        (("expiry = ", 'expiry = "next friday"'), "options.svi.0.expiry='next friday': not an ISO-8601"),
    ],
)
def test_bad_config_gives_one_line_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], edit: tuple[str, str], message: str
) -> None:
    text = (EXAMPLES / "eth_options_desk.toml").read_text().splitlines()
    prefix, replacement = edit
    text = [replacement if line.startswith(prefix) else line for line in text]
    bad = tmp_path / "bad.toml"
    bad.write_text("\n".join(text) + "\n")
    assert main(["simulate", str(bad), "--out", str(tmp_path), "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and "\n" not in err


def test_missing_config_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "no/such/file.toml", "--quiet"]) == 2
    assert "no such file" in capsys.readouterr().err


def test_market_maker_earns_spread_and_hedges(tmp_path: Path) -> None:
    config = load_config(_short(tmp_path, "options_market_maker.toml", 3.0))
    result = run_scenario(config)
    s = result.summary
    assert s["market_maker"]["fills"] > 5
    assert s["pnl"]["option_edge"] == pytest.approx(s["market_maker"]["edge_usd"], abs=0.05)
    assert s["pnl"]["option_edge"] > 0  # the maker is paid the spread
    assert s["desk"]["hedge_trades"] > 0


def _roll_scenario(**desk: object) -> dict[str, object]:
    return {
        "name": "roll",
        "seed": 5,
        "market": {"kind": "crash", "hours": 4, "s0": 2000.0, "crash_at_hours": 1.0, "crash_drop": 0.2},
        "chain": {"block_time_s": 12},
        "options": {
            "svi": [{"expiry": "2024-01-05T03:00:00Z", "a": 0.0001, "b": 0.002, "rho": -0.2, "m": 0.0, "sigma": 0.05}]
        },
        "desk": {
            "strategy": "iron_condor",
            "strikes_pct": [95.0, 100.0, 90.0],
            "contracts": 10,
            "roll_hours": 1.0,
            **desk,
        },
        "hedge": {"policy": "fixed", "band": 1.0},
        "agents": {"sandwich_bots": 0, "noise_swaps_per_block": 0.1},
    }


def test_portfolio_manager_rolls_and_crash_path_runs() -> None:
    from keel.sim.config import validate_config

    result = run_scenario(validate_config(_roll_scenario()))
    s = result.summary
    assert s["portfolio_manager"]["rolls"] >= 1  # within an hour of the 03:00 expiry it rolled
    assert s["desk"]["option_trades"] == 4 * (1 + 2 * s["portfolio_manager"]["rolls"])
    assert s["market"]["price_min"] < 0.85 * 2000.0  # the crash happened
    assert sum(s["pnl"][k] for k in PNL_PARTS) == pytest.approx(s["pnl"]["total"], abs=0.05)


def test_risk_monitor_events_reach_the_agents() -> None:
    from keel.sim.config import validate_config

    # reduce-only from the first margin check (maintenance/equity is far above 0.001): the roll only closes
    result = run_scenario(validate_config(_roll_scenario(reduce_only_ratio=0.001, max_delta=0.5)))
    s = result.summary
    assert s["risk_events"]["ReduceOnly"] > 0
    assert s["portfolio_manager"]["rolls"] == 0 and s["desk"]["open_legs"] == []
    assert s["desk"]["option_trades"] == 8  # opened 4 legs, closed 4 at the roll
    assert s["risk_events"]["HedgeRequested"] > 0 and s["desk"]["hedge_trades"] > 0


def test_summary_is_identical_across_processes_and_hash_seeds(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    config = _short(tmp_path, "eth_options_desk.toml", 0.5)
    outputs = []
    for hash_seed in ("1", "4242"):
        out = tmp_path / f"p{hash_seed}"
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        code = "import sys; from keel.cli import main; sys.exit(main(sys.argv[1:]))"
        cmd = [sys.executable, "-c", code, "simulate", str(config), "--out", str(out), "--quiet"]
        subprocess.run(cmd, check=True, env=env, capture_output=True, timeout=300)
        outputs.append((out / "eth_options_desk" / "latest" / "summary.json").read_bytes())
    assert outputs[0] == outputs[1]
    assert json.loads(outputs[0])["blocks"] == 150


@pytest.mark.parametrize(
    ("strategy", "policy", "legs"),
    [("covered_call", "leland", 1), ("straddle", "whalley_wilmott", 2), ("short_call_strip", "fixed", 3)],
)
def test_strategies_and_hedge_policies_run_end_to_end(strategy: str, policy: str, legs: int) -> None:
    from keel.sim.config import validate_config

    data = _roll_scenario(strategy=strategy, strikes_pct=[100.0, 105.0, 110.0], roll_hours=0.0)
    data["hedge"] = {"policy": policy, "band": 2.0}
    data["market"] = {"kind": "gbm", "hours": 1.0, "s0": 2000.0}
    result = run_scenario(validate_config(data))
    s = result.summary
    assert len(s["desk"]["open_legs"]) == legs and s["hedge_policy"] == policy
    if strategy != "straddle":  # an at-the-money straddle starts delta-neutral
        assert s["desk"]["hedge_trades"] >= 1
    if strategy == "covered_call":  # long 10 ETH against 10 short calls: the hedger sells part of it
        assert 0.0 < s["desk"]["final_asset_units"] < 10.0
    assert sum(s["pnl"][k] for k in PNL_PARTS) == pytest.approx(s["pnl"]["total"], abs=0.05)
