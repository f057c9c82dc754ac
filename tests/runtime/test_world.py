"""build_world: one builder per section (replaceable), the [oracle] defaults equal today's wiring,
ChainSim is the Environment, and [oracle] mistakes are one-line errors naming the key."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from keel.engine import Engine, Environment, Stage
from keel.errors import ConfigError
from keel.runtime import SECTIONS, World, build_world, register_builder, run_simulation, sim_environment
from keel.runtime.world import BUILDERS
from keel.sim.config import validate_config
from keel.sim.report import summary_json
from tests.runtime.test_pipeline_runs import ROOT, _desk


def test_sections_are_built_in_order_and_chain_sim_is_the_environment() -> None:
    config = validate_config(_desk(hours=0.1))
    engine = Engine(seed=config.seed, start_ns=0)
    env = sim_environment(config, engine)
    assert isinstance(env, Environment)
    assert SECTIONS == ("market", "pools", "oracle", "venues", "counterparties", "margin", "agents")
    world = build_world(config, env)
    stages = {a.name: a.stage for a in engine.actors}
    assert stages["market_data"] is Stage.MARKET_DATA and stages["oracle"] is Stage.ORACLE
    assert stages["risk"] is Stage.RISK and stages["accountant"] is Stage.REPORTING
    assert stages["hedger"] is Stage.AGENTS and stages["portfolio_manager"] is Stage.AGENTS
    assert set(world.agents) == {"portfolio_manager", "hedger"}
    assert env.pool_state("uniswap_v3_usdc_weth").sqrt_price_x96 == world.pool.sqrt_price_x96  # type: ignore[union-attr]
    assert env.balance("hedger", "USDC") == world.book.cash  # type: ignore[union-attr]


def test_a_section_builder_can_be_replaced() -> None:
    seen: list[str] = []
    original = BUILDERS["counterparties"]

    def quiet_market(world: World) -> None:  # a world without bots: no arbitrageur, sandwich or noise
        seen.append(world.config.name)

    register_builder("counterparties", quiet_market)
    try:
        summary = run_simulation(validate_config(_desk(hours=0.1)))
    finally:
        register_builder("counterparties", original)
    assert seen == ["pipeline"] and "arbitrageur" not in summary and summary["chain"]["arbitrages"] == 0
    with pytest.raises(ConfigError, match="section='weather'"):
        register_builder("weather", quiet_market)


def test_the_oracle_section_defaults_are_the_former_fixed_wiring() -> None:
    explicit: dict[str, Any] = {
        "quorum": 1,
        "sources": [
            {"name": "cex", "feed": "reference", "weight": 2.0, "max_age_s": 120},
            {"name": "pool", "feed": "pool", "weight": 1.0, "max_age_s": 120},
        ],
        "breaker_band_bps": 2500,
        "twap_window_s": 900,
    }
    a = summary_json(run_simulation(validate_config(_desk(hours=0.2))))
    b = summary_json(run_simulation(validate_config(_desk(hours=0.2, oracle=explicit))))
    assert a == b


@pytest.mark.parametrize(
    ("oracle", "message"),
    [
        ({"sources": [{"name": "a", "feed": "moon"}]}, "oracle.sources.0.feed='moon'"),
        ({"sources": [{"name": "a"}, {"name": "a"}]}, "oracle.sources.1.name='a': duplicates"),
        ({"quorum": 3}, "oracle.quorum=3: exceeds the 2 configured sources"),
        ({"outages": [{"start_block": 5, "blocks": 2, "sources": ["dex"]}]}, "oracle.outages.0.sources='dex'"),
        ({"breaker_band_bps": -1}, "oracle.breaker_band_bps=-1"),
        ({"sources": [{"name": "a", "feed": "pool:nope"}]}, "oracle.sources.0.feed='pool:nope': no such pool"),
    ],
)
def test_oracle_section_errors_name_the_key(oracle: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        run_simulation(validate_config(_desk(hours=0.1, oracle=oracle)))
    assert message in str(info.value) and "\n" not in str(info.value)


def test_relative_files_are_found_from_the_working_directory_then_beside_the_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`keel simulate /elsewhere/desk.toml` run from another folder finds `/elsewhere/data/...`; a file the
    working directory has wins; a file neither has is one `error:` line naming the key, the file and the config."""
    from keel.cli import main
    from keel.sim.config import load_config

    source = ROOT / "examples" / "eth_options_desk.toml"
    text = source.read_text().replace("hours = 24", "hours = 0.5")
    market_file = text.split('file = "', 1)[1].split('"', 1)[0]
    desk = tmp_path / "desk"
    (desk / Path(market_file).parent).mkdir(parents=True)
    shutil.copy(ROOT / market_file, desk / market_file)
    (desk / "desk.toml").write_text(text)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert main(["simulate", str(desk / "desk.toml"), "--quiet", "--out", str(tmp_path / "runs")]) == 0
    capsys.readouterr()
    summary = json.loads((tmp_path / "runs" / "eth_options_desk" / "latest" / "summary.json").read_text())
    assert summary["blocks"] == 150
    # a sweep's tasks get the config as plain data: the path found beside the config is made absolute
    from keel.runtime.sweeps import plan_sweep

    plan = plan_sweep(desk / "desk.toml", {"hedge.band": [0.5, 1.0]}, "0")
    assert [c["market"]["file"] for c in plan.configs] == [str((desk / market_file).resolve())] * 2
    # the working directory's copy wins over the one beside the config
    (elsewhere / Path(market_file).parent).mkdir(parents=True)
    (elsewhere / market_file).write_text("not,a,tick,file\n")
    assert main(["simulate", str(desk / "desk.toml"), "--quiet", "--out", str(tmp_path / "runs")]) == 2
    assert "market.file" in capsys.readouterr().err
    (elsewhere / market_file).unlink()
    (desk / market_file).unlink()
    assert main(["simulate", str(desk / "desk.toml"), "--quiet", "--out", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "market.file" in err[0] and "no such file" in err[0]
    # a config built in code has no file: relative to the working directory only
    assert validate_config(load_config(source).model_dump())._source_dir is None
