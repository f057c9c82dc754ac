"""The block pipeline: stages in a fixed order whatever the registration order, typed (union) topics,
layer-2 actors run structurally, taps see everything, and the run control skips the agents."""

from __future__ import annotations

import pickle

import pytest

from keel.engine import (
    DECISIONS,
    Actor,
    Block,
    DecisionSkipped,
    Engine,
    RunControl,
    Stage,
    Topic,
)
from keel.errors import ValidationError
from keel.risk.actor import RISK_EVENTS
from keel.risk.monitors import AccountFrozen, HedgeRequested


class Logger(Actor):
    def __init__(self, name: str, stage: Stage, log: list[tuple[int, str]]) -> None:
        super().__init__(name)
        self.stage = stage
        self.log = log

    def on_block(self, block: Block) -> None:
        self.log.append((block.number, self.name))


class Structural:
    """Not an Actor subclass: a name, a stage and on_block, like keel.oracle.OracleActor."""

    stage = Stage.ORACLE

    def __init__(self, log: list[tuple[int, str]]) -> None:
        self.name = "structural_oracle"
        self.log = log

    def on_block(self, block: Block) -> None:
        self.log.append((block.number, self.name))


def test_stages_run_in_order_whatever_the_registration_order() -> None:
    log: list[tuple[int, str]] = []
    engine = Engine()
    order = [Stage.REPORTING, Stage.AGENTS, Stage.EXECUTION, Stage.RISK, Stage.MARKET_DATA]
    for stage in order:
        engine.add_actor(Logger(stage.name.lower(), stage, log))
    engine.add_actor(Logger("agents_2", Stage.AGENTS, log))
    engine.add_actor(Structural(log))
    engine.start()
    engine.publish_block(Block(1, 0, 1))
    engine.publish_block(Block(2, 0, 1))
    expected = ["market_data", "structural_oracle", "risk", "agents", "agents_2", "execution", "reporting"]
    assert [name for n, name in log if n == 1] == expected
    assert [name for n, name in log if n == 2] == expected


def test_union_topics_check_types_and_taps_see_every_message() -> None:
    engine = Engine()
    seen: list[tuple[str, object]] = []
    engine.bus.tap(lambda topic, message: seen.append((topic, message)))
    got: list[object] = []
    engine.bus.subscribe(RISK_EVENTS, got.append)
    frozen = AccountFrozen(1, "desk", "oracle halted")
    hedge = HedgeRequested(1, "desk", "ETH", "delta", 10.0, 5.0, -10.0)
    engine.bus.publish(RISK_EVENTS, frozen)
    engine.bus.publish(RISK_EVENTS, hedge)
    assert got == [frozen, hedge] and seen == [("risk_event", frozen), ("risk_event", hedge)]
    with pytest.raises(ValidationError, match="risk_event"):
        engine.bus.publish(RISK_EVENTS, "not a risk event")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="already carries"):
        engine.bus.subscribe(Topic("risk_event", int), got.append)


def test_paused_control_skips_the_agents_stage_with_events() -> None:
    log: list[tuple[int, str]] = []
    engine = Engine()
    engine.add_actor(Logger("oracle", Stage.ORACLE, log))
    engine.add_actor(Logger("hedger", Stage.AGENTS, log))
    engine.add_actor(Logger("accountant", Stage.REPORTING, log))
    skipped: list[DecisionSkipped] = []
    engine.bus.subscribe(DECISIONS, skipped.append)
    control = RunControl()
    engine.control = control
    engine.start()
    engine.publish_block(Block(1, 10, 1))
    control.pause()
    engine.publish_block(Block(2, 20, 1))
    control.resume()
    engine.publish_block(Block(3, 30, 1))
    assert [name for n, name in log if n == 2] == ["oracle", "accountant"]
    assert [name for n, name in log if n == 3] == ["oracle", "hedger", "accountant"]
    assert skipped == [DecisionSkipped(20, 2, "hedger", "block", "paused", "run paused by its control")]
    control.stop()
    control.resume()  # a stopped run stays stopped
    assert control.status == "stopped"
    assert pickle.loads(pickle.dumps(control)).status == "stopped"
