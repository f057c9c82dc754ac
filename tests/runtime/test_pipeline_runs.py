"""The runtime's Done-when checks: a halted oracle stops hedging (and says why), risk reaches the agents in
the same block, user strategies run from a config, runs are byte-identical, checkpoints resume exactly,
and the run control stops or pauses a run at block boundaries."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from keel.cli import main
from keel.engine import BlockSnapshot, DecisionSkipped, IntentStated, RunControl, TxSubmitted
from keel.errors import ConfigError
from keel.risk.monitors import HedgeRequested
from keel.runtime import Simulation, run_simulation
from keel.sim.config import validate_config
from keel.sim.report import summary_json

ROOT = Path(__file__).resolve().parents[2]


class Collector:
    """A run subscriber that keeps everything, by block."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []
        self.snapshots: list[BlockSnapshot] = []
        self.summary: dict[str, Any] | None = None

    def on_event(self, topic: str, event: object) -> None:
        self.events.append((topic, event))

    def on_snapshot(self, snapshot: BlockSnapshot) -> None:
        self.snapshots.append(snapshot)

    def on_end(self, summary: dict[str, Any]) -> None:
        self.summary = summary

    def of(self, kind: type) -> list[Any]:
        return [e for _, e in self.events if isinstance(e, kind)]


def _desk(hours: float = 1.0, **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "pipeline",
        "seed": 11,
        "market": {"kind": "gbm", "hours": hours, "s0": 2000.0, "sigma": 1.2},
        "chain": {"block_time_s": 12},
        "options": {
            "svi": [{"expiry": "2024-01-06T08:00:00Z", "a": 0.0004, "b": 0.004, "rho": -0.3, "m": 0.0, "sigma": 0.1}]
        },
        "desk": {"strategy": "short_call_strip", "strikes_pct": [100.0, 105.0], "contracts": 200},
        "hedge": {"policy": "fixed", "band": 0.5, "max_cost_bps": 300},
        "counterparties": {"sandwich_bots": 0, "noise_swaps_per_block": 0.2},
    }
    data.update(extra)
    return data


def test_halted_oracle_for_20_blocks_places_no_hedge_says_why_and_hedging_resumes() -> None:
    outage = {"start_block": 120, "blocks": 20}
    oracle = {
        "sources": [
            {"name": "cex", "feed": "reference", "weight": 2.0, "max_age_s": 6},
            {"name": "pool", "feed": "pool", "weight": 1.0, "max_age_s": 6},
        ],
        "outages": [outage],
    }
    collector = Collector()
    summary = run_simulation(validate_config(_desk(oracle=oracle)), subscribers=[collector])
    halted = [s.block_number for s in collector.snapshots if s.oracle_status == "halted"]
    assert halted == list(range(120, 140)) and summary["oracle_halted_blocks"] == 20
    # no hedge stated or sent in those blocks
    hedges = [t.block_number for t in collector.of(TxSubmitted) if t.sender == "hedger"]
    intents = [i.block_number for i in collector.of(IntentStated) if i.agent == "hedger"]
    assert not [b for b in hedges + intents if 120 <= b < 140]
    # every halted block's decision is an event that says why (the oracle's reasons)
    skips = [s for s in collector.of(DecisionSkipped) if s.agent == "hedger"]
    assert [s.block_number for s in skips] == halted
    assert all(s.cause == "oracle_halted" and "stale" in s.reason and "quorum" in s.reason for s in skips)
    assert summary["decisions_skipped_on_halted_oracle"]["hedger"] == 20
    # hedging went on before and resumes after
    assert [b for b in hedges if b < 120] and [b for b in hedges if b >= 140]
    # the snapshots carry the block's events
    block = next(s for s in collector.snapshots if s.block_number == 125)
    assert any(isinstance(e, DecisionSkipped) and e.agent == "hedger" for e in block.events)
    assert summary["ledger_imbalance"] == 0


def test_a_breach_raised_by_the_risk_actor_is_acted_on_in_the_same_block() -> None:
    # the hedger never trades on its own band (1000 ETH); only the risk actor's HedgeRequested makes it trade
    data = _desk(hedge={"policy": "fixed", "band": 1000.0, "max_cost_bps": 1000})
    data["desk"] = {**data["desk"], "max_delta": 5.0, "margin_every_blocks": 1}
    collector = Collector()
    summary = run_simulation(validate_config(data), subscribers=[collector])
    ts_to_block = {s.ts_ns: s.block_number for s in collector.snapshots}
    breaches = [ts_to_block[e.ts_ns] for e in collector.of(HedgeRequested) if e.greek == "delta"]
    assert breaches and summary["risk_events"]["HedgeRequested"] == len(breaches)
    first = breaches[0]
    acted = [i for i in collector.of(IntentStated) if i.agent == "hedger" and i.block_number == first]
    assert len(acted) == 1 and acted[0].accepted and acted[0].quantity > 0  # short calls: buy ETH, same block
    sent = [t for t in collector.of(TxSubmitted) if t.sender == "hedger"]
    assert sent and sent[0].block_number == first
    # nothing else makes this hedger trade: every intent follows a breach in its own block
    assert {i.block_number for i in collector.of(IntentStated) if i.agent == "hedger"} <= set(breaches)


def test_custom_strategy_runs_from_a_config_in_keel_simulate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = ROOT / "examples" / "custom_strategy.toml"
    assert main(["simulate", str(config), "--out", str(tmp_path), "--quiet"]) == 0
    summary = json.loads((tmp_path / "custom_strategy" / "latest" / "summary.json").read_text())
    agent = summary["agents"]["rebalancer"]
    assert agent["trades"] >= 1 and agent["reverts"] == 0
    # it started with 220 WETH and 500,000 USDC, aimed at 60% in WETH: it bought WETH with USDC
    assert agent["balances"]["WETH"] > 220 * 10**18 and agent["balances"]["USDC"] < 500_000 * 10**6
    assert summary["status"] == "completed" and summary["ledger_imbalance"] == 0
    assert "rebalancer" not in capsys.readouterr().err


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"params": {"target_share": 1.5}}, "agents.0.params.target_share=1.5"),
        ({"params": {"colour": 1}}, "agents.0.params.colour=1: unknown key"),
        ({"class": "examples.strategies.rebalancer:Nope"}, "agents.0.class='examples.strategies.rebalancer:Nope'"),
        ({"class": "examples.strategies.nope:X"}, "no module"),
        ({"class": "keel.engine:Block"}, "needs a Params attribute"),
    ],
)
def test_bad_strategy_entries_are_one_line_errors(entry: dict[str, Any], message: str) -> None:
    base = {"class": "examples.strategies.rebalancer:InventoryRebalancer", "fund": {"USDC": 1000.0}}
    data = {"name": "bad", "market": {"kind": "gbm", "hours": 0.1}, "agents": [{**base, **entry}]}
    with pytest.raises(ConfigError, match=message.replace(".", r"\.").replace("(", r"\(")) as info:
        run_simulation(validate_config(data), root=ROOT)
    assert "\n" not in str(info.value)


def test_checkpoint_resume_gives_the_byte_identical_summary() -> None:
    config = validate_config(_desk(hours=0.5))
    whole = summary_json(run_simulation(config))
    sim = Simulation(config)
    sim.step(57)
    data = sim.checkpoint()
    sim.step(3)  # the original goes on; the checkpoint is a copy
    resumed = Simulation.restore(data)
    assert resumed.blocks_done == 57
    assert summary_json(resumed.run()) == whole
    assert summary_json(sim.run()) == whole


def test_run_control_stops_and_pauses_at_block_boundaries() -> None:
    config = validate_config(_desk(hours=0.5))
    control = RunControl()

    class StopAt(Collector):
        def on_snapshot(self, snapshot: BlockSnapshot) -> None:
            super().on_snapshot(snapshot)
            if snapshot.block_number == 30:
                control.pause()
            if snapshot.block_number == 60:
                control.resume()
            if snapshot.block_number == 100:
                control.stop()

    watcher = StopAt()
    summary = run_simulation(config, subscribers=[watcher], control=control)
    assert summary["status"] == "killed" and summary["blocks"] == 100
    assert watcher.summary == summary and [s.block_number for s in watcher.snapshots] == list(range(1, 101))
    paused = [s for s in watcher.of(DecisionSkipped) if s.cause == "paused"]
    assert {s.block_number for s in paused} == set(range(31, 61))
    assert {s.agent for s in paused} >= {"hedger", "portfolio_manager", "noise"}
    sent = [t.block_number for t in watcher.of(TxSubmitted) if t.sender in ("hedger", "noise")]
    assert not [b for b in sent if 31 <= b <= 60] and [b for b in sent if b > 60]


def test_the_execution_controllers_halted_guard_fires_on_a_working_order() -> None:
    # children reach the builders 30 s after submission: an order stays working for a few blocks
    sources = [
        {"name": "cex", "feed": "reference", "weight": 2.0, "max_age_s": 6},
        {"name": "pool", "feed": "pool", "weight": 1.0, "max_age_s": 6},
    ]
    base = _desk(hours=0.5, chain={"block_time_s": 12, "latency_ms": 30_000}, oracle={"sources": sources})
    collector = Collector()
    run_simulation(validate_config(base), subscribers=[collector])
    first = min(i.block_number for i in collector.of(IntentStated) if i.accepted)
    halted = {**base, "oracle": {"sources": sources, "outages": [{"start_block": first + 1, "blocks": 2}]}}
    summary = run_simulation(validate_config(halted))
    # the hedger skipped its decision, and the working order was shown the halted price: the controller skipped it
    assert summary["oracle_halted_blocks"] == 2
    assert summary["hedge_intents"]["skips"].get("oracle", 0) >= 1


def test_a_user_strategy_run_checkpoints_and_resumes_identically() -> None:
    from keel.sim.config import load_config

    config = load_config(ROOT / "examples" / "custom_strategy.toml")
    config = config.model_copy(update={"market": config.market.model_copy(update={"hours": 0.5})})
    whole = summary_json(run_simulation(config, root=ROOT))
    sim = Simulation(config, root=ROOT)
    sim.step(40)
    resumed = Simulation.restore(sim.checkpoint(), root=ROOT)
    assert summary_json(resumed.run()) == whole
    assert json.loads(whole)["agents"]["rebalancer"]["trades"] >= 1


def test_block_snapshots_carry_the_option_books_gamma_vega_and_theta() -> None:
    """The snapshot's book Greeks are the derivatives of the book's value as the options venue prices it (mark
    vol held): gamma by a central second difference in spot, vega (per 1.0 vol) and theta (per calendar day:
    ACT/365, so per year / 365) by central differences; a world without options says NaN, not 0."""
    config = validate_config(_desk(hours=0.5))
    keep = Collector()
    sim = Simulation(config, subscribers=[keep])
    sim.step(80)
    snap = keep.snapshots[-1]
    world = sim.world
    assert world.options is not None and world.book is not None
    opts, book = world.options, world.book
    S, ts = snap.oracle_price, snap.ts_ns
    legs = [(book.options[n][0], q) for n, q in snap.positions if n in book.options]
    assert len(legs) == 2 and all(q != 0 for _, q in legs)
    vol = {o.name: opts.mark_vol(o, S, ts) for o, _ in legs}

    def book_value(spot: float = S, at: int = ts, dv: float = 0.0) -> float:
        return sum(q * opts.value(o, spot, at, vol[o.name] + dv) for o, q in legs)

    h = S * 1e-3
    gamma = (book_value(S + h) - 2 * book_value() + book_value(S - h)) / h**2
    vega = (book_value(dv=1e-5) - book_value(dv=-1e-5)) / 2e-5
    minute = 60 * 10**9
    theta_per_day = (book_value(at=ts + minute) - book_value(at=ts - minute)) / 2 * (24 * 60)
    assert snap.gamma == pytest.approx(gamma, rel=1e-4)
    assert snap.vega == pytest.approx(vega, rel=1e-6)
    assert snap.theta == pytest.approx(theta_per_day, rel=1e-5)
    assert snap.gamma < 0 and snap.vega < 0 and snap.theta > 0  # a short call strip: short gamma and vega
    no_legs = validate_config({**_desk(hours=0.05), "desk": {"strategy": "none"}})
    keep = Collector()
    run_simulation(no_legs, subscribers=[keep])
    assert [(s.gamma, s.vega, s.theta) for s in keep.snapshots[-3:]] == [(0.0, 0.0, 0.0)] * 3
    no_options = validate_config(_desk(hours=0.05)).model_copy(update={"options": None, "desk": None})
    keep = Collector()
    run_simulation(no_options, subscribers=[keep])
    assert all(math.isnan(x) for s in keep.snapshots for x in (s.gamma, s.vega, s.theta))
