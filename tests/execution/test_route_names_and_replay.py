"""Router venue names (#20 part 3) and the RoutePlan shape, replayed leg by leg with independent math.

The replay follows the recipe in RoutePlan's docstring, but never calls a Keel venue: v2 legs are
recomputed with the Uniswap v2 formula written out here, v4 legs are sent to the real v4-core
PoolManager in pyrevm (through the test swap router), starting from the same state.
"""

from __future__ import annotations

import pytest

from keel.domain import Token
from keel.errors import ValidationError
from keel.execution import RoutePlan, SmartRouter, execute_plan
from keel.execution.router import chained_saving
from keel.venues.uniswap_v2 import Pair
from keel.venues.uniswap_v3 import Pool
from keel.venues.uniswap_v3.tick_math import MAX_SQRT_RATIO, MIN_SQRT_RATIO
from keel.venues.uniswap_v4 import PoolKey, PoolManager, V4Pool
from tests.v4_evm_support import V4World

TKA, TKB, TKC = Token("TKA", 18), Token("TKB", 18), Token("TKC", 18)


def test_default_names_are_unique_and_both_forks_are_routed() -> None:
    fork1 = Pair(10**24, 2 * 10**24, token0=TKA, token1=TKC)
    fork2 = Pair(10**24, 2 * 10**24, token0=TKA, token1=TKC)
    assert fork1.name != fork2.name and fork1.name.startswith("uniswap_v2:TKA/TKC#")
    p1, p2 = Pool(3000, 60, 2**96, token0=TKA, token1=TKC), Pool(3000, 60, 2**96, token0=TKA, token1=TKC)
    assert p1.name != p2.name
    assert fork1.copy().name == fork1.name  # copies keep their name (plans look venues up by it)
    plan = SmartRouter([fork1, fork2]).quote_exact_in(TKA, TKC, 10**22)
    assert set(plan.venues_touched) == {fork1.name, fork2.name}


def test_user_chosen_duplicate_name_names_both_venues() -> None:
    a = Pair(10**24, 10**24, token0=TKA, token1=TKC, name="dex")
    b = Pair(10**24, 10**24, token0=TKA, token1=TKB, name="other")
    c = Pair(10**24, 10**24, token0=TKB, token1=TKC, name="dex")
    with pytest.raises(ValidationError) as exc:
        SmartRouter([a, b, c])
    msg = str(exc.value)
    assert msg.startswith("venues[2].name='dex': duplicate venue name: venues[0] (Pair(dex")
    assert "and venues[2] (Pair(dex" in msg and "\n" not in msg


def _v2_out(amount_in: int, reserve_in: int, reserve_out: int) -> int:
    """UniswapV2Library.getAmountOut, written out independently."""
    with_fee = amount_in * 997
    return with_fee * reserve_out // (reserve_in * 1000 + with_fee)


def test_multi_hop_split_plan_replays_leg_by_leg_with_independent_math() -> None:
    w = V4World(n_tokens=3)
    _, b_addr, c_addr = w.tokens
    ta, tb, tc = (Token(s, 18, address=x) for s, x in zip(("TKA", "TKB", "TKC"), w.tokens, strict=True))
    # hop A->B: two v2 pairs (split); hop B->C: a v2 pair and a v4 pool (split)
    reserves = {"ab1": [4 * 10**24, 4 * 10**24], "ab2": [3 * 10**24, 3 * 10**24], "bc": [2 * 10**24, 2 * 10**24]}
    ab1 = Pair(*reserves["ab1"], token0=ta, token1=tb, name="ab1")
    ab2 = Pair(*reserves["ab2"], token0=ta, token1=tb, name="ab2")
    bc = Pair(*reserves["bc"], token0=tb, token1=tc, name="bc")
    key = PoolKey(b_addr, c_addr, 3000, 60)
    manager = PoolManager()
    for target in (manager, w):
        target.initialize(key, 2**96)
    manager.modify_liquidity(key, w.liquidity_router, -6000, 6000, 10**25)
    w.modify_liquidity(key, -6000, 6000, 10**25)
    v4 = V4Pool(manager, key, token0=tb, token1=tc, name="v4bc")
    venues = [ab1, ab2, bc, v4]
    plan: RoutePlan = SmartRouter(venues).quote_exact_in(ta, tc, 5 * 10**23)

    # the plan's shape: per hop, one-venue legs; hop 2 consumes exactly hop 1's output
    hop1 = [leg for leg in plan.legs if leg.token_in == ta]
    hop2 = [leg for leg in plan.legs if leg.token_in == tb]
    assert len(hop1) == 2 and len(hop2) == 2, plan.legs
    assert all(len(leg.venues) == 1 for leg in plan.legs)
    assert plan.legs.index(hop1[-1]) < plan.legs.index(hop2[0])  # hop 1 first
    assert sum(leg.amount_in for leg in hop1) == plan.amount_in
    assert sum(leg.amount_in for leg in hop2) == sum(leg.amount_out for leg in hop1)
    assert sum(leg.amount_out for leg in hop2) == plan.amount_out

    # replay, leg by leg, on independent implementations of the same starting state
    for leg in plan.legs:
        (name,) = leg.venues
        token_in = leg.tokens[0]
        if name == "v4bc":
            zero_for_one = token_in == tb
            limit = MIN_SQRT_RATIO + 1 if zero_for_one else MAX_SQRT_RATIO - 1
            (d0, d1), _gas = w.swap(key, zero_for_one, -leg.amount_in, limit)
            paid, got = (-d0, d1) if zero_for_one else (-d1, d0)
        else:
            r = reserves[str(name)]
            forward = token_in == (ta if name != "bc" else tb)
            r_in, r_out = (r[0], r[1]) if forward else (r[1], r[0])
            paid, got = leg.amount_in, _v2_out(leg.amount_in, r_in, r_out)
            r[0], r[1] = (r_in + paid, r_out - got) if forward else (r_out - got, r_in + paid)
        assert (paid, got) == (leg.amount_in, leg.amount_out), leg
    # and the venues' own execution agrees (it raises on any difference)
    assert execute_plan(plan, venues)[:2] == (plan.amount_in, plan.amount_out)


def test_chained_v4_hops_on_one_manager_save_gas_in_the_plan() -> None:
    m = PoolManager()
    addrs = ["0x" + f"{i:02x}" * 20 for i in (0x11, 0x22, 0x33)]
    toks = [Token(s, 18, address=a) for s, a in zip(("TKA", "TKB", "TKC"), addrs, strict=True)]
    venues = []
    for (x, tx), (y, ty) in (((addrs[0], toks[0]), (addrs[1], toks[1])), ((addrs[1], toks[1]), (addrs[2], toks[2]))):
        key = PoolKey(x, y, 3000, 60)
        m.initialize(key, 2**96)
        m.modify_liquidity(key, "0x" + "44" * 20, -6000, 6000, 10**24)
        venues.append(V4Pool(m, key, token0=tx, token1=ty))
    plan = SmartRouter(venues).quote_exact_in(toks[0], toks[2], 10**20)
    (leg,) = plan.legs
    assert len(leg.venues) == 2
    standalone = sum(v.quote_exact_in(t, 10**18).gas_units for v, t in zip(venues, toks, strict=False))
    assert plan.gas_units == standalone - venues[1].chained_hop_saving
    assert chained_saving(venues[0], venues[1]) > 0
    other = PoolManager()  # another singleton: no saving between managers
    k = PoolKey(addrs[1], addrs[2], 500, 10)
    other.initialize(k, 2**96)
    assert chained_saving(venues[0], V4Pool(other, k, token0=toks[1], token1=toks[2])) == 0
    assert execute_plan(plan, venues)[2] == plan.gas_units
