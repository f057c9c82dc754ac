"""Intents and hedge intents: planned and filled, or refused with a reason."""

from __future__ import annotations

import pytest

from keel.errors import ValidationError
from keel.execution import (
    ChildFill,
    ExecutionController,
    HedgeIntent,
    Intent,
    OrderStatus,
    SmartRouter,
    fill_child,
    submit_hedge,
    submit_intent,
)
from tests.execution.realpool import USDC, WETH, realistic_venues, spot_price

GWEI = 10**9


def _oracle() -> dict:
    return {USDC: 1.0, WETH: spot_price()}


def _fill_all(ctl: ExecutionController, venues: list, block: int) -> list[ChildFill]:
    fills = []
    for child in ctl.on_block(block, block, venues, _oracle(), {}):
        result = fill_child(child, venues, block)
        ctl.on_result(child, result)
        assert isinstance(result, ChildFill)
        fills.append(result)
    return fills


def test_intent_is_planned_and_filled_above_min_out() -> None:
    venues = realistic_venues()
    best = SmartRouter(venues).quote_exact_in(USDC, WETH, 2_000_000 * 10**6).amount_out
    ctl = ExecutionController()
    intent = Intent(USDC, WETH, 2_000_000 * 10**6, best * 999 // 1000, deadline_block=12)
    decision = submit_intent(ctl, intent, order_id="i1", block_number=10, venues=venues, oracle_price=_oracle())
    assert decision.accepted and decision.order_id == "i1" and decision.plan is not None
    fills = _fill_all(ctl, venues, 10)
    assert len(fills) == 1 and fills[0].amount_out >= intent.min_out
    rep = ctl.report("i1")
    assert rep.status is OrderStatus.FILLED and rep.filled_out == fills[0].amount_out


def test_intent_refused_when_min_out_is_unreachable() -> None:
    venues = realistic_venues()
    best = SmartRouter(venues).quote_exact_in(USDC, WETH, 2_000_000 * 10**6).amount_out
    ctl = ExecutionController()
    intent = Intent(USDC, WETH, 2_000_000 * 10**6, best + 1, deadline_block=12)
    decision = submit_intent(ctl, intent, order_id="i1", block_number=10, venues=venues, oracle_price=_oracle())
    assert not decision.accepted
    assert decision.reason == f"min_out={best + 1} unreachable at current liquidity: best route gives {best}"
    assert ctl.order_ids == ()
    late = submit_intent(ctl, intent, order_id="i2", block_number=13, venues=venues, oracle_price=_oracle())
    assert not late.accepted and "deadline_block=12 already passed" in late.reason
    with pytest.raises(ValidationError, match="amount=-1"):
        Intent(USDC, WETH, -1, 0, 5)


def test_intent_waits_when_the_market_moves_against_it_then_expires() -> None:
    venues = realistic_venues()
    ctl = ExecutionController()
    best = SmartRouter(venues).quote_exact_in(USDC, WETH, 500_000 * 10**6).amount_out
    intent = Intent(USDC, WETH, 500_000 * 10**6, best * 9995 // 10000, deadline_block=11)
    assert submit_intent(ctl, intent, order_id="i1", block_number=10, venues=venues, oracle_price=_oracle()).accepted
    for v in venues:  # someone buys WETH everywhere first: the intent's minimum is no longer reachable
        v.swap_exact_in(USDC, 5_000_000 * 10**6)
    for block in (10, 11, 12):
        assert ctl.on_block(block, block, venues, _oracle(), {}) == []
    rep = ctl.report("i1")
    assert rep.status is OrderStatus.EXPIRED and rep.filled_in == 0
    assert all("below min_out" in why for _, why in rep.skipped)


def test_hedge_within_band_needs_no_trade() -> None:
    ctl = ExecutionController()
    h = HedgeIntent(target_delta=10 * 10**18, band=10**18, max_cost=10**6, deadline_block=5)
    d = submit_hedge(
        ctl, h, order_id="h", current_delta=9_500 * 10**15, asset=WETH, quote=USDC, block_number=1,
        venues=realistic_venues(), oracle_price=_oracle(),
    )  # fmt: skip
    assert d.accepted and d.order_id is None and "within band" in d.reason


def test_hedge_buy_reaches_target_delta_within_max_cost() -> None:
    venues = realistic_venues()
    ctl = ExecutionController(gas_price_wei=20 * GWEI, gas_token=WETH)
    h = HedgeIntent(target_delta=300 * 10**18, band=10**16, max_cost=5_000 * 10**6, deadline_block=3)
    d = submit_hedge(
        ctl, h, order_id="h", current_delta=-50 * 10**18, asset=WETH, quote=USDC, block_number=1,
        venues=venues, oracle_price=_oracle(),
    )  # fmt: skip
    assert d.accepted and d.plan is not None and 0 < d.cost <= h.max_cost
    assert d.plan.amount_out == 350 * 10**18  # exact-out plan for the delta gap
    fills = _fill_all(ctl, venues, 1)
    delta = -50 * 10**18 + sum(f.amount_out for f in fills)
    assert abs(delta - h.target_delta) <= h.band


def test_hedge_refused_when_too_expensive_and_sell_side_works() -> None:
    venues = realistic_venues()
    ctl = ExecutionController(gas_price_wei=20 * GWEI, gas_token=WETH)
    tight = HedgeIntent(target_delta=0, band=0, max_cost=10 * 10**6, deadline_block=3)
    d = submit_hedge(
        ctl, tight, order_id="h1", current_delta=2_000 * 10**18, asset=WETH, quote=USDC, block_number=1,
        venues=venues, oracle_price=_oracle(),
    )  # fmt: skip
    assert not d.accepted and d.reason.startswith("hedge cost ") and "exceeds max_cost=10000000" in d.reason
    assert d.cost > tight.max_cost
    ok = HedgeIntent(target_delta=0, band=0, max_cost=d.cost + 10**6, deadline_block=3)
    d2 = submit_hedge(
        ctl, ok, order_id="h2", current_delta=2_000 * 10**18, asset=WETH, quote=USDC, block_number=1,
        venues=venues, oracle_price=_oracle(),
    )  # fmt: skip
    assert d2.accepted
    fills = _fill_all(ctl, venues, 1)
    assert sum(f.amount_in for f in fills) == 2_000 * 10**18
    fair = 2_000 * spot_price() * 1e6
    assert fair - sum(f.amount_out for f in fills) <= ok.max_cost
