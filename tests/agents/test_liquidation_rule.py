"""The perpetual venue's liquidation decision goes through keel.risk: favourable band edge, frozen when halted."""

from __future__ import annotations

import numpy as np

from keel.agents.liquidator import Liquidate, Liquidator, accounts_to_liquidate
from keel.domain import Perpetual, Settlement
from keel.engine import Block, Engine
from keel.oracle import OracleReading, OracleStatus
from keel.risk.perpetual import PerpVenue


def _venue(rate: float = 0.0001) -> PerpVenue:
    inst = Perpetual("BTC", "USD", Settlement.LINEAR)
    eight_h = inst.funding_interval_ns
    return PerpVenue("perp", inst, np.array([eight_h, 2 * eight_h]), np.array([rate, -rate]), 0.005, 0.01, 1000.0)


def _reading(price: float, conf: float, status: OracleStatus = OracleStatus.OK) -> OracleReading:
    return OracleReading(price, conf, status, 0)


def test_liquidates_only_below_maintenance_at_the_favourable_band_edge() -> None:
    v = _venue()
    v.open("long20", 5_000.0, 1.0, 100_000.0)  # maintenance 0.5%: liquidatable below ~95,477 at mid
    v.open("short20", 5_000.0, -1.0, 100_000.0)  # liquidatable above ~104,478
    assert v.liquidatable(95_400.0) == ["long20"]  # the venue's own rule at the mid
    # a band of ±200 around 95,400: at its favourable edge (95,600) the long is still above maintenance
    assert accounts_to_liquidate(v, _reading(95_400.0, 200.0)) == []
    assert v.margin_ratio(95_600.0)[0] > 1.0  # the same as the venue's rule evaluated at that edge
    # narrower band: below maintenance even at the edge
    assert accounts_to_liquidate(v, _reading(95_400.0, 50.0)) == ["long20"]
    assert v.margin_ratio(95_450.0)[0] < 1.0
    # the short's favourable edge is the low one
    assert accounts_to_liquidate(v, _reading(104_600.0, 200.0)) == []
    assert accounts_to_liquidate(v, _reading(104_600.0, 50.0)) == ["short20"]
    # with a degraded but usable reading it still acts; halted: never
    assert accounts_to_liquidate(v, _reading(90_000.0, 0.0, OracleStatus.DEGRADED)) == ["long20"]
    assert accounts_to_liquidate(v, _reading(90_000.0, 0.0, OracleStatus.HALTED)) == []
    assert accounts_to_liquidate(v, 90_000.0) == ["long20"]  # a plain price: zero-width band


def test_liquidator_freezes_on_a_halted_oracle_and_acts_when_it_recovers() -> None:
    v = _venue()
    v.open("long20", 5_000.0, 1.0, 100_000.0)
    engine = Engine(seed=1, start_ns=0)
    status = {"now": OracleStatus.HALTED}
    taken: list[str] = []

    def do(who: str, action: Liquidate) -> object:
        taken.append(action.owner)
        return v.liquidate(action.owner, who, 90_000.0, engine.clock.now_ns)

    engine.on_action(Liquidate, do)
    liq = Liquidator(
        "liq", v, lambda ts: 90_000.0, delay_blocks=0, reading=lambda ts: _reading(90_000.0, 10.0, status["now"])
    )
    engine.add_actor(liq)
    engine.start()
    for n in (1, 2):
        engine.publish_block(Block(n, n * 12, 1, 0, 30_000_000))
    assert taken == [] and liq.frozen_blocks == 2
    status["now"] = OracleStatus.OK
    engine.publish_block(Block(3, 36, 1, 0, 30_000_000))
    assert taken == ["long20"] and liq.count == 1 and v.account("long20")[0] == 0.0
