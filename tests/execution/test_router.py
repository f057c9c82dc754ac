"""SmartRouter: optimality against an independent solver, exact execution, gas, paths, bad input."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy.optimize import minimize_scalar

from keel.domain import Token
from keel.errors import ExecutionError, ValidationError
from keel.execution import RoutePlan, SmartRouter, StaleVenueError, execute_plan
from keel.venues.base import Revert, Venue
from keel.venues.orderbook import OrderBook
from keel.venues.uniswap_v2 import Pair
from tests.execution.cpvenue import CPVenue
from tests.execution.realpool import USDC, WETH, realistic_venues, spot_price

WBTC = Token("WBTC", 8)
DAI = Token("DAI", 18)
GWEI = 10**9


def _gas_price(token: Token) -> float:
    """Whole `token` per whole ETH."""
    return {"USDC": spot_price(), "WETH": 1.0, "WBTC": 0.052, "DAI": spot_price()}[token.symbol]


# ----------------------------------------------------------------------------- independent solver
def _net(v: Venue, tok: Token, x: float, gas_rate: float) -> float:
    amount = round(x)
    if amount < 1:
        return 0.0
    try:
        q = v.quote_exact_in(tok, amount)
    except Revert:
        return -math.inf
    if q.amount_in != amount:
        return -math.inf
    return float(q.amount_out - math.ceil(q.gas_units * gas_rate))


def independent_optimum(venues: list[Venue], tok: Token, amount: int, gas_rate: float) -> float:
    """Best net output over every subset of venues, each subset's split found by scipy's bounded
    Brent search (nested for three venues) on the venues' own integer quotes."""
    best = -math.inf
    opts = {"xatol": 1e-13}
    for k in range(1, len(venues) + 1):
        for sub in itertools.combinations(venues, k):
            if k == 1:
                val = _net(sub[0], tok, amount, gas_rate)
            elif k == 2:

                def f2(f: float, a: float = float(amount), s: tuple[Venue, ...] = sub) -> float:
                    return -(_net(s[0], tok, f * a, gas_rate) + _net(s[1], tok, a - round(f * a), gas_rate))

                r = minimize_scalar(f2, bounds=(0.0, 1.0), method="bounded", options=opts)
                val = -r.fun
            else:
                assert k == 3

                def inner(f1: float, s: tuple[Venue, ...] = sub) -> float:
                    first = round(f1 * amount)
                    rest = amount - first

                    def f3(f: float) -> float:
                        return -(
                            _net(s[1], tok, f * rest, gas_rate) + _net(s[2], tok, rest - round(f * rest), gas_rate)
                        )

                    r3 = minimize_scalar(f3, bounds=(0.0, 1.0), method="bounded", options=opts)
                    return -(_net(s[0], tok, first, gas_rate) - r3.fun)

                r = minimize_scalar(inner, bounds=(0.0, 1.0), method="bounded", options=opts)
                val = -r.fun
            best = max(best, val)
    return best


def _check_exact(plan: RoutePlan, venues: list[Venue]) -> None:
    got_in, got_out, gas = execute_plan(plan, [v.copy() for v in venues])
    assert (got_in, got_out, gas) == (plan.amount_in, plan.amount_out, plan.gas_units)
    assert plan.net_amount_out == plan.amount_out - plan.gas_cost


# ----------------------------------------------------------------------------- optimality
@pytest.mark.parametrize("gwei", [0, 30])
@pytest.mark.parametrize("usd", [50_000, 2_000_000, 20_000_000])
def test_single_hop_split_matches_independent_optimum_on_real_pools(usd: int, gwei: int) -> None:
    """Real 0.05% pool (rebuilt from its events), a 0.3% v3 pool and a v2 pair, with and without
    gas (the reference counts each quote's own gas, tick crossings included)."""
    venues = [realistic_venues()[i] for i in (0, 1, 3)]
    amount = usd * 10**6
    router = SmartRouter(venues, gas_price_wei=gwei * GWEI, gas_token_price=_gas_price)
    plan = router.quote_exact_in(USDC, WETH, amount)
    ref = independent_optimum(venues, USDC, amount, gwei * GWEI * 1.0)  # WETH base units per gas unit
    assert plan.net_amount_out >= ref * (1 - 1e-6)
    assert plan.net_amount_out <= ref * (1 + 1e-6)  # the reference is a true optimum up to its own tolerance
    _check_exact(plan, venues)


@pytest.mark.parametrize("seed", range(12))
def test_single_hop_with_gas_matches_independent_optimum(seed: int) -> None:
    """Random constant-product venues and an order book, gas priced in the output token."""
    rng = np.random.default_rng(seed)
    px = 2000.0 * (1 + 0.002 * rng.standard_normal())
    venues: list[Venue] = []
    for i in range(2):
        usdc = int(rng.uniform(2e5, 3e6))
        fee = int(rng.choice([500, 3000, 10000]))
        venues.append(
            CPVenue(
                f"cp{i}", USDC, WETH, usdc * 10**6, int(usdc / (px * (1 + 0.003 * rng.standard_normal())) * 1e18), fee
            )
        )
    ask = px * (1 + abs(rng.normal(0, 0.002)))
    venues.append(
        OrderBook.from_human(
            "book", WETH, USDC, asks=[(f"{ask:.2f}", "5"), (f"{ask + 2:.2f}", "20")], bids=[("1500", "1")], fee_pips=200
        )
    )
    amount = int(rng.uniform(2e3, 2e5)) * 10**6
    gas_price = int(rng.choice([5, 30, 80])) * GWEI
    router = SmartRouter(venues, gas_price_wei=gas_price, gas_token_price=lambda t: 1.0 if t == WETH else px)
    plan = router.quote_exact_in(USDC, WETH, amount)
    rate = gas_price / 1e18 * 1e18  # wei per gas -> WETH base units per gas unit
    ref = independent_optimum(venues, USDC, amount, rate)
    assert plan.net_amount_out >= ref * (1 - 1e-6), (plan, ref)
    _check_exact(plan, venues)


def test_gas_decides_which_venues_are_touched() -> None:
    venues = [CPVenue(f"p{i}", USDC, WETH, 10_000_000 * 10**6, 5_000 * 10**18, 3000) for i in range(4)]
    router = SmartRouter(venues, gas_price_wei=50 * GWEI, gas_token_price=lambda t: 1.0 if t == WETH else 2000.0)
    small = router.quote_exact_in(USDC, WETH, 1_000 * 10**6)
    assert len(small.venues_touched) == 1  # a second touch costs more gas than it saves in impact
    big = router.quote_exact_in(USDC, WETH, 20_000_000 * 10**6)
    assert len(big.venues_touched) == 4
    shares = [leg.amount_in for leg in big.legs]
    assert max(shares) - min(shares) <= 1  # identical pools: equal split
    free = SmartRouter(venues).quote_exact_in(USDC, WETH, 1_000 * 10**6)
    assert len(free.venues_touched) == 4  # without gas, splitting always helps a convex cost
    assert small.net_amount_out > free.amount_out - router.gas_cost(WETH, free.gas_units)


def test_best_single_and_equal_split_never_beat_the_router_on_real_pools() -> None:
    venues = realistic_venues()
    router = SmartRouter(venues, gas_price_wei=20 * GWEI, gas_token_price=_gas_price)
    for usd in (1_000, 300_000, 10_000_000):
        amount = usd * 10**6
        plan = router.quote_exact_in(USDC, WETH, amount)
        _check_exact(plan, venues)
        for v in venues:
            q = v.quote_exact_in(USDC, amount)
            assert plan.net_amount_out >= q.amount_out - router.gas_cost(WETH, q.gas_units)
        share = amount // len(venues)
        eq = [v.quote_exact_in(USDC, share) for v in venues]
        assert plan.net_amount_out >= sum(q.amount_out for q in eq) - router.gas_cost(
            WETH, sum(q.gas_units for q in eq)
        )


# ----------------------------------------------------------------------------- exactness and exact-out
def _mixed() -> list[Venue]:
    return [
        CPVenue("a", USDC, WETH, 10_000_000 * 10**6, 4_400 * 10**18, 3000),
        Pair(3_000_000 * 10**6, 1_310 * 10**18, token0=USDC, token1=WETH, name="v2"),
        CPVenue("c", WETH, WBTC, 2_000 * 10**18, 100 * 10**8, 3000),
        CPVenue("d", USDC, WBTC, 1_000_000 * 10**6, 22 * 10**8, 3000),
        CPVenue("e", WBTC, DAI, 50 * 10**8, 2_300_000 * 10**18, 500),
        OrderBook.from_human(
            "book",
            WETH,
            USDC,
            bids=[("2270", "10"), ("2269", "20")],
            asks=[("2275", "10"), ("2280", "50")],
            fee_pips=100,
        ),
    ]


@pytest.mark.parametrize("usd", [1_000, 100_000, 1_000_000])
@pytest.mark.parametrize("out", [WETH, WBTC, DAI])
def test_plans_execute_exactly_exact_in_and_out(usd: int, out: Token) -> None:
    venues = _mixed()
    router = SmartRouter(venues, gas_price_wei=30 * GWEI, gas_token_price=_gas_price)
    plan = router.quote_exact_in(USDC, out, usd * 10**6)
    assert plan.amount_in == usd * 10**6
    _check_exact(plan, venues)
    assert all(len(leg.tokens) == len(leg.venues) + 1 for leg in plan.legs)
    back = router.quote_exact_out(USDC, out, plan.amount_out)
    assert back.amount_out == plan.amount_out
    _check_exact(back, venues)
    # the least input for that output is within a hair of what produced it
    assert back.amount_in <= plan.amount_in * (1 + 1e-6)


def test_three_hop_route_when_it_is_the_only_one() -> None:
    venues = _mixed()
    router = SmartRouter(venues)
    plan = router.quote_exact_in(WETH, DAI, 10 * 10**18)
    # WETH -> (WBTC | USDC...) -> DAI: DAI only trades against WBTC
    assert all(leg.token_out != DAI or leg.token_in == WBTC for leg in plan.legs)
    _check_exact(plan, venues)
    two_hop_only = SmartRouter(venues, max_hops=1)
    with pytest.raises(ExecutionError, match="no path"):
        two_hop_only.quote_exact_in(WETH, DAI, 10 * 10**18)


def test_multi_path_split_beats_each_path_alone() -> None:
    venues = _mixed()[:4]
    router = SmartRouter(venues)
    amount = 500_000 * 10**6
    plan = router.quote_exact_in(USDC, WBTC, amount)
    direct = venues[3].quote_exact_in(USDC, amount).amount_out
    via = SmartRouter(venues[:3]).quote_exact_in(USDC, WBTC, amount).amount_out
    assert plan.amount_out > max(direct, via)
    assert {leg.token_in for leg in plan.legs} == {USDC, WETH}


def test_order_book_is_routed_and_stays_exact() -> None:
    venues = _mixed()
    book = venues[-1]
    assert isinstance(book, OrderBook)
    plan = SmartRouter(venues).quote_exact_in(USDC, WETH, 50_000 * 10**6)
    assert "book" in plan.venues_touched
    _check_exact(plan, venues)


# ----------------------------------------------------------------------------- bad input
def test_bad_input_is_refused_clearly() -> None:
    venues = _mixed()
    router = SmartRouter(venues)
    with pytest.raises(ValidationError, match=r"token_in='LINK': unknown token"):
        router.quote_exact_in(Token("LINK", 18), WETH, 10)
    with pytest.raises(ValidationError, match=r"amount_in=0: must be positive"):
        router.quote_exact_in(USDC, WETH, 0)
    with pytest.raises(ValidationError, match=r"amount_out=-5: must be positive"):
        router.quote_exact_out(USDC, WETH, -5)
    with pytest.raises(ValidationError, match="amount_in=1.5"):
        router.quote_exact_in(USDC, WETH, 1.5)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="must differ"):
        router.quote_exact_in(USDC, USDC, 10)
    island = SmartRouter([*venues, CPVenue("x", Token("AAA", 18), Token("BBB", 18), 10**20, 10**20)])
    with pytest.raises(ExecutionError, match="no path from USDC to AAA"):
        island.quote_exact_in(USDC, Token("AAA", 18), 10**6)
    with pytest.raises(ExecutionError, match="exceeds the liquidity|more than the liquidity|no route"):
        SmartRouter([venues[-1]]).quote_exact_in(USDC, WETH, 10**15)
    with pytest.raises(ValidationError, match="gas_token_price"):
        SmartRouter(venues, gas_price_wei=10)
    with pytest.raises(ValidationError, match="duplicate venue name"):
        SmartRouter([venues[0], venues[0].copy()])


def test_stale_venue_is_refused() -> None:
    venues = _mixed()
    venues[1].updated_ns = 1_000
    for v in venues:
        if v is not venues[1]:
            v.updated_ns = 10_000_000_000
    router = SmartRouter(venues, max_age_ns=5_000_000_000)
    with pytest.raises(StaleVenueError, match=r"venue='v2': state is 9999999000 ns old"):
        router.quote_exact_in(USDC, WETH, 10**9, now_ns=10_000_000_000)
    with pytest.raises(ValidationError, match="now_ns=None: needed"):
        router.quote_exact_in(USDC, WETH, 10**9)
    with pytest.raises(StaleVenueError, match="venue='v2'"):  # the age limit can also be given per quote
        SmartRouter(venues).quote_exact_out(USDC, WETH, 10**15, now_ns=10_000_000_000, max_age_ns=10**9)
    venues[1].updated_ns = 9_000_000_000
    plan = router.quote_exact_in(USDC, WETH, 10**9, now_ns=10_000_000_000)
    assert plan.amount_out > 0


def test_legs_name_their_venues_and_reach_them() -> None:
    venues = _mixed()
    plan = SmartRouter(venues).quote_exact_in(USDC, WBTC, 300_000 * 10**6)
    copies = {v.name: v.copy() for v in venues}
    for leg in plan.legs:
        amount = leg.amount_in
        for ref, tok in zip(leg.venues, leg.tokens, strict=False):
            assert ref == ref.name and ref.venue in venues  # a name that keys the copies, and the venue itself
            amount = copies[ref].swap_exact_in(tok, amount).amount_out
        assert amount == leg.amount_out
    assert set(plan.venues_touched) <= {v.name for v in venues}


@pytest.mark.parametrize("seed", range(10))
def test_random_graphs_plans_are_exact_and_never_worse_than_a_single_route(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    toks = [USDC, WETH, WBTC, DAI]
    px = {USDC: 1.0, WETH: 2000.0, WBTC: 40_000.0, DAI: 1.0}
    venues: list[Venue] = []
    for k in range(int(rng.integers(5, 10))):
        a, b = rng.choice(4, size=2, replace=False)
        ta, tb = toks[a], toks[b]
        usd = float(rng.uniform(1e5, 5e6))
        ra = int(usd / px[ta] * ta.unit)
        rb = int(usd / px[tb] * tb.unit * (1 + 0.004 * rng.standard_normal()))
        venues.append(CPVenue(f"v{k}", ta, tb, ra, rb, int(rng.choice([500, 3000, 10000]))))
    router = SmartRouter(
        venues, gas_price_wei=int(rng.integers(0, 60)) * GWEI, gas_token_price=lambda t: 2000.0 / px[t]
    )
    pairs = [(x, y) for x in toks for y in toks if x != y]
    checked = 0
    for i in rng.choice(len(pairs), size=6, replace=False):
        t_in, t_out = pairs[i]
        amount = int(float(rng.uniform(100, 300_000)) / px[t_in] * t_in.unit)
        if t_in not in router.tokens or t_out not in router.tokens:
            continue  # a token no venue of this random graph trades
        try:
            plan = router.quote_exact_in(t_in, t_out, amount)
        except ExecutionError as exc:
            assert "no path" in str(exc)  # the random graph does not connect them
            continue
        _check_exact(plan, venues)
        # no single venue route of one or two hops does better
        for v in venues:
            if {v.token0, v.token1} == {t_in, t_out}:
                q = v.quote_exact_in(t_in, amount)
                assert plan.net_amount_out >= q.amount_out - router.gas_cost(t_out, q.gas_units)
        back = router.quote_exact_out(t_in, t_out, max(1, plan.amount_out // 2))
        _check_exact(back, venues)
        checked += 1
    assert checked >= 1


def test_venue_refs_copy_and_pickle_as_names() -> None:
    import copy
    import pickle

    plan = SmartRouter(_mixed()).quote_exact_in(USDC, WETH, 10**9)
    clone = copy.deepcopy(plan)
    assert clone.legs[0].venues == plan.legs[0].venues
    assert pickle.loads(pickle.dumps(plan)).legs[0].venues[0] == str(plan.legs[0].venues[0])
