"""All or nothing: every refused state change leaves the state exactly as it was, and money never
appears from nowhere (the ledger is solvent as well as balanced).

Hostile calls are generated with hypothesis against the clearing house, the ledger, the Uniswap v3
pool and v2 pair, and the oracle aggregator.  A refusal must be a :class:`keel.errors.KeelError`
(never a TypeError or OverflowError) and must leave the state equal to its snapshot before the call.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keel.domain import Token
from keel.errors import KeelError, RiskError, ValidationError
from keel.oracle import Aggregator, AggregatorConfig, OracleReading, OracleStatus, SourceConfig
from keel.risk import ClearingHouse, CollateralAsset, MarketState, StandardMargin
from keel.venues import Revert
from keel.venues.uniswap_v2 import Pair
from keel.venues.uniswap_v3 import Pool

USDC = CollateralAsset("USDC", 6)
BTC = CollateralAsset("BTC", 8, 0.10)
PERP = "BTC_USDC-PERPETUAL"
PUT = "BTC-26MAR21-48000-P"  # inverse: premium in BTC
MARKET = MarketState(0, {"BTC": 50_000.0}, {"BTC": 0.8})

HOSTILE_NUMBERS = st.one_of(
    st.integers(-(2**300), 2**300),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -1, 1, 2**63, -(2**63), 2**255, -(2**255), 2**256, 1.5, math.nan, math.inf]),
    st.text(max_size=5),
    st.booleans(),
    st.none(),
    st.just(Decimal("1e400")),
)


def usd(x: int) -> int:
    return x * USDC.unit


def new_house() -> ClearingHouse:
    h = ClearingHouse((USDC, BTC), StandardMargin())
    for a in ("alice", "bob"):
        h.open_account(a)
    h.open_account("liq", liquidator=True)
    h.deposit("alice", "USDC", usd(10_000))
    h.deposit("bob", "USDC", usd(1_000_000))
    h.deposit("bob", "BTC", 10 * BTC.unit)
    h.deposit("liq", "USDC", usd(50_000_000))
    h.seed_insurance("USDC", usd(100_000))
    return h


def assert_sound(house: ClearingHouse) -> None:
    assert house.imbalance() == 0
    assert house.solvency_violations() == ()


# --------------------------------------------------------------- the reproductions
def test_isolate_cannot_create_money_from_nothing() -> None:
    house = new_house()
    before = house.state()
    with pytest.raises(RiskError, match="holds"):
        house.isolate("alice", PERP, "USDC", 10**15)
    assert house.state() == before
    sub = house.isolate("alice", PERP, "USDC", usd(2_000))
    with pytest.raises(RiskError, match="cannot withdraw"):
        house.withdraw(sub, "USDC", 10**14, MARKET)
    house.withdraw(sub, "USDC", usd(2_000), MARKET)
    assert house.ledger.net_deposits("USDC") >= 0
    assert house.equity("alice", MARKET) == pytest.approx(8_000.0)
    assert_sound(house)


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        (PERP, {"fee_rate": "abc", "taker": "alice"}),
        (PERP, {"fee_rate": "0.0005", "taker": "mallory"}),
        (PUT, {"fee_rate": "0.0005", "taker": "mallory"}),
        (PERP, {"fee_rate": "-0.5", "taker": "alice"}),
        (PERP, {"fee_rate": "nan", "taker": "alice"}),
    ],
)
def test_a_refused_trade_moves_no_money(name: str, kwargs: dict[str, Any]) -> None:
    house = new_house()
    house.trade("alice", "bob", PERP, "0.1", 50_000, MARKET)  # a reference mark exists
    price = Decimal("0.1") if name == PUT else 50_500
    before = house.state()
    with pytest.raises(KeelError):
        house.trade("alice", "bob", name, 1 if name == PERP else 2, price, MARKET, check_margin=False, **kwargs)
    assert house.state() == before
    assert_sound(house)


def test_step_with_one_bad_reading_records_nothing() -> None:
    house = new_house()
    house.trade("alice", "bob", PERP, "0.1", 50_000, MARKET)
    before = house.state()
    good = OracleReading(51_000.0, 1.0, OracleStatus.OK, 1, ("a",))
    bad = OracleReading(math.inf, 1.0, OracleStatus.OK, 1, ("a",))
    with pytest.raises(ValidationError):
        house.step(1, {"BTC": good, "ETH": bad})
    assert house.state() == before


# --------------------------------------------------------------- random hostile sequences
ACCOUNTS = st.sampled_from(["alice", "bob", "liq", "nobody", "alice/" + PERP, "", 7])
ASSETS = st.sampled_from(["USDC", "BTC", "DOGE", "", None])
NAMES = st.sampled_from([PERP, PUT, "BTC-USDC", "NOT-AN-X-Y", "", 3])
AMOUNTS = st.one_of(st.integers(-(10**16), 10**16), HOSTILE_NUMBERS)
PRICES = st.one_of(st.sampled_from([50_000, 49_000, 51_000, "0.1", Decimal("0.05")]), HOSTILE_NUMBERS)

OPS = st.one_of(
    st.tuples(st.just("deposit"), ACCOUNTS, ASSETS, AMOUNTS),
    st.tuples(st.just("withdraw"), ACCOUNTS, ASSETS, AMOUNTS),
    st.tuples(st.just("isolate"), ACCOUNTS, NAMES, ASSETS, AMOUNTS),
    st.tuples(
        st.just("trade"),
        ACCOUNTS,
        ACCOUNTS,
        NAMES,
        st.one_of(st.sampled_from(["0.1", "1", "0.5"]), HOSTILE_NUMBERS),
        PRICES,
        st.sampled_from(["0", "0.0005", "abc", "-1", "nan", 0.001]),
        st.sampled_from([None, "alice", "bob", "mallory"]),
        st.booleans(),
    ),
    st.tuples(st.just("step"), st.integers(1, 10**12), st.one_of(st.floats(1.0, 1e6), HOSTILE_NUMBERS)),
    st.tuples(st.just("funding"), NAMES, st.one_of(st.floats(-0.01, 0.01), HOSTILE_NUMBERS)),
)


def apply(house: ClearingHouse, op: tuple[Any, ...]) -> None:
    kind = op[0]
    if kind == "deposit":
        house.deposit(op[1], op[2], op[3])
    elif kind == "withdraw":
        house.withdraw(op[1], op[2], op[3], MARKET)
    elif kind == "isolate":
        house.isolate(op[1], op[2], op[3], op[4], MARKET)
    elif kind == "trade":
        _, buyer, seller, name, qty, price, fee, taker, check = op
        house.trade(buyer, seller, name, qty, price, MARKET, fee_rate=fee, taker=taker, check_margin=check)
    elif kind == "step":
        price = op[2]
        rd = OracleReading(price, 0.0, OracleStatus.OK, op[1], ("a",))  # type: ignore[arg-type]
        house.step(op[1], {"BTC": rd})
    else:
        house.pay_funding(op[1], op[2], MARKET)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(OPS, max_size=25))
def test_clearing_house_refusals_change_nothing_and_money_stays_sound(ops: list[tuple[Any, ...]]) -> None:
    house = new_house()
    for op in ops:
        before = house.state()
        try:
            apply(house, op)
        except KeelError:
            assert house.state() == before, f"refused {op[0]} changed the state"
        assert_sound(house)


# --------------------------------------------------------------- Uniswap v3 pool
def pool_state(pool: Pool) -> tuple[object, ...]:
    return (
        pool.slot0,
        pool.liquidity,
        pool.fee_growth_global0_x128,
        pool.fee_growth_global1_x128,
        pool.protocol_fees0,
        pool.protocol_fees1,
        sorted(pool._ticks.items()),
        sorted(pool._bitmap.items()),
        sorted((k, tuple(v)) for k, v in pool._positions.items()),
        list(pool._obs),
    )


def new_pool() -> Pool:
    pool = Pool(500, 10, 2**96, token0=Token("TKA", 18), token1=Token("TKB", 18))
    pool.mint("lp", -1000, 1000, 10**21)
    pool.mint("lp", -200, 300, 10**20)
    return pool


POOL_OPS = st.one_of(
    st.tuples(st.just("mint"), st.sampled_from(["lp", "x", "", 5]), AMOUNTS, AMOUNTS, AMOUNTS),
    st.tuples(st.just("burn"), st.sampled_from(["lp", "x"]), AMOUNTS, AMOUNTS, AMOUNTS),
    st.tuples(st.just("collect"), st.sampled_from(["lp", "x"]), AMOUNTS, AMOUNTS),
    st.tuples(st.just("swap"), st.one_of(st.booleans(), HOSTILE_NUMBERS), AMOUNTS, st.one_of(st.none(), AMOUNTS)),
    st.tuples(st.just("exact_out"), st.booleans(), AMOUNTS),
    st.tuples(st.just("exact_in"), st.booleans(), AMOUNTS),
)


def pool_apply(pool: Pool, op: tuple[Any, ...]) -> object:
    kind = op[0]
    if kind == "mint":
        return pool.mint(op[1], op[2] if isinstance(op[2], int) and op[2] >= -1000 else -1000, 1000, op[4])
    if kind == "burn":
        return pool.burn(op[1], -1000, 1000, op[4])
    if kind == "collect":
        return pool.collect(op[1], -1000, 1000, op[2], op[3])
    if kind == "swap":
        return pool.swap(op[1], op[2], op[3])
    token = pool.token0 if op[1] else pool.token1
    if kind == "exact_out":
        return pool.swap_exact_out(token, op[2])
    return pool.swap_exact_in(token, op[2])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(POOL_OPS, max_size=12))
def test_pool_refusals_are_keel_errors_and_change_nothing(ops: list[tuple[Any, ...]]) -> None:
    pool = new_pool()
    for op in ops:
        before = pool_state(pool)
        try:
            out = pool_apply(pool, op)
        except KeelError:
            assert pool_state(pool) == before, f"refused {op} changed the pool"
            continue
        if op[0] == "collect":
            assert isinstance(out, tuple) and all(isinstance(x, int) and x >= 0 for x in out)


def test_pool_contract_types_and_exact_output() -> None:
    pool = new_pool()
    before = pool_state(pool)
    for bad in (1.5, math.nan, "10", True, 2**128):
        with pytest.raises(ValidationError, match="amount"):
            pool.mint("lp", -1000, 1000, bad)
    with pytest.raises(ValidationError, match="amount_specified"):
        pool.swap(True, 2**255)
    with pytest.raises(ValidationError, match="amount0_requested"):
        pool.collect("lp", -1000, 1000, -1, -1)
    huge = 10**40  # far more than the pool holds: the router's exact-output swap reverts whole
    with pytest.raises(Revert, match="exact output"):
        pool.swap_exact_out(pool.token0, huge)
    assert pool_state(pool) == before


def test_pair_contract_types() -> None:
    pair = Pair(10**21, 2 * 10**21, token0=Token("TKA", 18), token1=Token("TKB", 18))
    before = pair._save()
    for bad in (1.5, math.nan, "3", -1, 2**256):
        with pytest.raises(ValidationError):
            pair.swap_exact_in(pair.token0, bad)
        with pytest.raises(ValidationError):
            pair.mint("lp", bad, 10)
    assert pair._save() == before


# --------------------------------------------------------------- oracle aggregator
def agg_state(agg: Aggregator) -> tuple[object, ...]:
    return (agg._fsrc.tobytes(), agg._isrc.tobytes(), tuple(agg._last_ts), agg._last_now)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["a", "b", "c", "zz"]), HOSTILE_NUMBERS, HOSTILE_NUMBERS, HOSTILE_NUMBERS),
        max_size=12,
    )
)
def test_aggregator_never_half_writes(updates: list[tuple[Any, Any, Any, Any]]) -> None:
    agg = Aggregator(AggregatorConfig(sources={s: SourceConfig() for s in ("a", "b", "c")}))
    for sid in ("a", "b", "c"):
        agg.update(sid, 2000.0, 1_000_000_000)
    for sid, price, ts, conf in updates:
        before = agg_state(agg)
        accepted = agg.update(sid, price, ts, conf)
        if not accepted:
            assert agg_state(agg) == before
    rd = agg.read(now_ns=2 * 10**9 if agg._last_now is None else agg._last_now)
    assert rd.status is OracleStatus.HALTED or (math.isfinite(rd.price) and math.isfinite(rd.confidence))


def test_aggregator_extremes_are_refused_cleanly() -> None:
    agg = Aggregator(AggregatorConfig(sources={s: SourceConfig() for s in ("a", "b", "c")}))
    for sid in ("a", "b", "c"):
        assert agg.update(sid, 2000.0, 1_000_000_000)
    before = agg_state(agg)
    assert not agg.update("a", 2001.0, 2**63)
    assert not agg.update("a", 2001.0, -(2**63))
    assert not agg.update("a", 1.7e308, 2_000_000_000)
    assert agg_state(agg) == before
    with pytest.raises(ValidationError, match="now_ns"):
        agg.read(now_ns=2**70)
    assert agg_state(agg) == before
    rd = agg.read(now_ns=1_000_000_000)
    assert rd.price == 2000.0 and math.isfinite(rd.confidence)
    assert any("ts_ns" in r for r in rd.reasons) and any("price" in r for r in rd.reasons)


# --------------------------------------------------------------- router plans
def test_a_plan_whose_later_leg_fails_changes_no_venue() -> None:
    from keel.errors import ExecutionError
    from keel.execution import SmartRouter, execute_plan
    from tests.execution.realpool import USDC, WETH, realistic_venues

    venues = realistic_venues()
    plan = SmartRouter(venues).quote_exact_in(USDC, WETH, 5_000_000 * 10**6)
    assert len(plan.legs) >= 2, "the test needs a split plan"
    # move the last leg's venue so that leg no longer matches the plan
    last = {v.name: v for v in venues}[plan.legs[-1].venues[0]]
    last.swap_exact_in(USDC if last.token0 == USDC or last.token1 == USDC else last.token0, 10**12)
    before = [(v.name, v.state_version) for v in venues]
    with pytest.raises((ExecutionError, Revert)):
        execute_plan(plan, venues)
    assert [(v.name, v.state_version) for v in venues] == before
