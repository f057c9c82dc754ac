"""ExecutionController driven block by block by a small deterministic harness.

The harness owns the venues: each block other traders swap first (a fixed, seeded flow), then
the controller's children are executed with :func:`fill_child` (all-or-nothing against their
``min_out`` and deadline) and the results are reported back.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest

from keel.domain import Token
from keel.errors import ValidationError
from keel.execution import (
    Algo,
    ChildFill,
    ChildOrder,
    ExecutionController,
    OrderStatus,
    ParentOrder,
    fill_child,
)
from keel.venues.base import Revert, Venue
from tests.execution.realpool import USDC, WETH, realistic_venues, spot_price

GWEI = 10**9


@dataclass
class Harness:
    venues: list[Venue]
    seed: int = 7
    noise_usd: float = 400_000.0
    blocks: list[int] = field(default_factory=list)
    sent: list[ChildOrder] = field(default_factory=list)
    results: list[ChildFill | Revert] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rng = np.random.default_rng(self.seed)
        self.px = spot_price()

    def oracle(self) -> dict[Token, float]:
        return {USDC: 1.0, WETH: self.px}

    def noise(self) -> dict[Token, int]:
        """Other traders: one swap on the real pool each block, alternating direction."""
        pool = self.venues[0]
        usd = float(self.rng.uniform(0.2, 1.0)) * self.noise_usd
        if self.rng.random() < 0.5:
            q = pool.swap_exact_in(USDC, int(usd * 1e6))
            return {USDC: q.amount_in, WETH: q.amount_out}
        q = pool.swap_exact_in(WETH, int(usd / self.px * 1e18))
        return {USDC: q.amount_out, WETH: q.amount_in}

    def run(self, ctl: ExecutionController, start: int, end: int, *, delay: int = 0) -> None:
        pending: list[tuple[int, ChildOrder]] = []
        for block in range(start, end + 1):
            volume = self.noise()
            for when, child in [p for p in pending if p[0] <= block]:
                pending.remove((when, child))
                result = fill_child(child, self.venues, block)
                self.results.append(result)
                ctl.on_result(child, result)
            children = ctl.on_block(block, block * 12 * 10**9, self.venues, self.oracle(), volume)
            self.blocks.append(block)
            for child in children:
                self.sent.append(child)
                if delay == 0:
                    result = fill_child(child, self.venues, block)
                    self.results.append(result)
                    ctl.on_result(child, result)
                else:
                    pending.append((block + delay, child))


def _order(algo: Algo, amount_usd: int, start: int = 100, end: int = 109, **kw: object) -> ParentOrder:
    return ParentOrder("p1", USDC, WETH, amount_usd * 10**6, algo, start, end, **kw)  # type: ignore[arg-type]


def test_twap_fills_evenly_and_reports_shortfall() -> None:
    h = Harness(realistic_venues())
    ctl = ExecutionController(gas_price_wei=20 * GWEI, gas_token=WETH)
    ctl.submit(_order(Algo.TWAP, 1_000_000, slippage_bps=100))
    h.run(ctl, 100, 112)
    rep = ctl.report("p1")
    assert rep.status is OrderStatus.FILLED
    assert rep.filled_in == 1_000_000 * 10**6 and rep.remaining == 0
    assert [c.amount_in for c in h.sent] == [100_000 * 10**6] * 10
    assert [c.block for c in h.sent] == list(range(100, 110))
    assert rep.fills == 10 and rep.reverts == 0
    fills = [r for r in h.results if isinstance(r, ChildFill)]
    assert rep.filled_out == sum(f.amount_out for f in fills)
    assert rep.gas_units == sum(f.gas_units for f in fills) > 0
    # shortfall against the arrival oracle price, recomputed by hand
    bench = rep.filled_in / 1e6 * rep.arrival_price
    assert rep.shortfall_bps == pytest.approx((bench - rep.filled_out / 1e18) / bench * 1e4, rel=1e-12)
    assert 0 < rep.shortfall_bps < 100  # fees and impact, within the slippage tolerance
    assert rep.shortfall_net_bps > rep.shortfall_bps  # gas costs something
    for child in h.sent:
        assert child.min_out == int(child.oracle_out * (1 - 0.01))
        assert child.deadline_block == child.block + 1


def test_participation_never_exceeds_its_share_of_observed_volume() -> None:
    h = Harness(realistic_venues())
    ctl = ExecutionController()
    ctl.submit(_order(Algo.PARTICIPATION, 5_000_000, participation=0.05))
    volumes: list[int] = []
    for block in range(100, 110):
        vol = h.noise()
        volumes.append(vol[USDC])
        for child in ctl.on_block(block, block, h.venues, h.oracle(), vol):
            assert child.amount_in <= 0.05 * vol[USDC]
            assert child.amount_in == int(0.05 * vol[USDC])
            ctl.on_result(child, fill_child(child, h.venues, block))
    rep = ctl.report("p1")
    assert rep.filled_in == sum(int(0.05 * v) for v in volumes)
    assert rep.status is OrderStatus.WORKING
    ctl.on_block(111, 111, h.venues, h.oracle(), {USDC: 10**12})
    assert ctl.report("p1").status is OrderStatus.EXPIRED  # past end_block with a remainder


def test_iceberg_shows_one_clip_at_a_time() -> None:
    h = Harness(realistic_venues())
    ctl = ExecutionController()
    ctl.submit(_order(Algo.ICEBERG, 200_000, clip=30_000 * 10**6))
    h.run(ctl, 100, 109, delay=1)  # each child lands one block after it is sent
    sizes = [c.amount_in for c in h.sent]
    assert sizes == [30_000 * 10**6] * 6 + [20_000 * 10**6]
    # the next clip is shown only after the previous one reported (it lands a block later)
    assert [c.block for c in h.sent] == list(range(100, 107))
    assert ctl.report("p1").status is OrderStatus.FILLED


def test_slippage_guard_waits_out_a_manipulated_pool_and_sandwich_reverts() -> None:
    venues = realistic_venues()
    h = Harness(venues, noise_usd=1.0)
    ctl = ExecutionController()
    ctl.submit(_order(Algo.IMMEDIATE, 100_000, start=100, end=105, slippage_bps=30))
    # an attacker pushes every pool's WETH price up before our block
    before = [v.copy() for v in venues]
    for v in venues:
        v.swap_exact_in(USDC, 60_000_000 * 10**6 if v is venues[0] else 10_000_000 * 10**6)
    children = ctl.on_block(100, 100, venues, h.oracle(), {})
    assert children == []
    rep = ctl.report("p1")
    assert "below min_out" in rep.skipped[-1][1]
    # the pools come back (arbitrage): restore the original state
    venues[:] = [v.copy() for v in before]
    children = ctl.on_block(101, 101, venues, h.oracle(), {})
    assert len(children) == 1
    child = children[0]
    # a sandwich front-run lands between planning and execution: the child must revert, untouched state
    venues[0].swap_exact_in(USDC, 30_000_000 * 10**6)
    snapshot = [(v.name, getattr(v, "sqrt_price_x96", None), getattr(v, "reserve0", None)) for v in venues]
    result = fill_child(child, venues, 101)
    assert isinstance(result, Revert) and result.reason == "TOO_LITTLE_RECEIVED"
    assert snapshot == [(v.name, getattr(v, "sqrt_price_x96", None), getattr(v, "reserve0", None)) for v in venues]
    ctl.on_result(child, result)
    assert ctl.report("p1").reverts == 1
    venues[:] = [v.copy() for v in before]  # back-run restores the price
    children = ctl.on_block(102, 102, venues, h.oracle(), {})
    assert len(children) == 1 and children[0].amount_in == 100_000 * 10**6  # re-planned in full
    ctl.on_result(children[0], fill_child(children[0], venues, 102))
    rep = ctl.report("p1")
    assert rep.status is OrderStatus.FILLED and rep.fills == 1 and rep.revert_reasons == ("TOO_LITTLE_RECEIVED",)


def test_children_past_their_deadline_expire_and_are_replanned() -> None:
    h = Harness(realistic_venues())
    ctl = ExecutionController()
    ctl.submit(_order(Algo.IMMEDIATE, 50_000, start=100, end=104, child_ttl_blocks=0))
    h.run(ctl, 100, 100)
    assert ctl.report("p1").status is OrderStatus.FILLED
    ctl2 = ExecutionController()
    ctl2.submit(_order(Algo.IMMEDIATE, 50_000, start=100, end=104, child_ttl_blocks=0))
    h2 = Harness(realistic_venues())
    h2.run(ctl2, 100, 106, delay=1)  # every child lands a block late
    rep = ctl2.report("p1")
    assert rep.fills == 0 and set(rep.revert_reasons) == {"EXPIRED"}
    assert rep.status is OrderStatus.EXPIRED and rep.remaining == 50_000 * 10**6
    assert [c.block for c in h2.sent] == [100, 101, 102, 103, 104]


def test_same_events_give_the_same_decisions() -> None:
    reports = []
    for _ in range(2):
        h = Harness(realistic_venues(), seed=3)
        ctl = ExecutionController(gas_price_wei=10 * GWEI, gas_token=WETH)
        ctl.submit(_order(Algo.TWAP, 2_000_000, slippage_bps=80))
        h.run(ctl, 100, 110)
        reports.append((ctl.report("p1"), [(c.amount_in, c.min_out, c.plan.legs) for c in h.sent]))
    assert reports[0] == reports[1]


def test_parent_order_bad_input() -> None:
    with pytest.raises(ValidationError, match="amount=0"):
        _order(Algo.TWAP, 0)
    with pytest.raises(ValidationError, match="end_block=99"):
        _order(Algo.TWAP, 10, start=100, end=99)
    with pytest.raises(ValidationError, match="clip=0"):
        _order(Algo.ICEBERG, 10)
    with pytest.raises(ValidationError, match="algo='vwap'"):
        _order("vwap", 10)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="participation=1.5"):
        _order(Algo.PARTICIPATION, 10, participation=1.5)
    ctl = ExecutionController()
    ctl.submit(_order(Algo.TWAP, 10))
    with pytest.raises(ValidationError, match="already submitted"):
        ctl.submit(_order(Algo.TWAP, 10))
    with pytest.raises(ValidationError, match="gas_token"):
        ExecutionController(gas_price_wei=1)
    h = Harness(realistic_venues())
    ctl.on_block(100, 0, h.venues, {USDC: 1.0}, {})
    assert "no price for WETH" in ctl.report("p1").skipped[-1][1]
