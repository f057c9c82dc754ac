"""The router never plans on a partial fill.

A Uniswap v3 pool's ``quote_exact_in``/``quote_exact_out`` (like the contract's swap) returns a
*partial* fill rather than reverting when the liquidity runs out.  Every leg of a plan must be
filled in full: each leg's ``amount_in`` is entirely consumed (exact input) or its
``amount_out`` entirely delivered (exact output), the plan executes exactly on copies, and an
amount beyond the liquidity is refused with an ExecutionError instead of being silently cut.
"""

from __future__ import annotations

import pytest

from keel.domain import Token
from keel.errors import ExecutionError
from keel.execution import RoutePlan, SmartRouter, execute_plan
from keel.execution.curves import sampled_curve
from keel.venues.base import SwapQuote, Venue
from keel.venues.uniswap_v2 import Pair
from keel.venues.uniswap_v3 import Pool

A = Token("A", 18)
B = Token("B", 18)
C = Token("C", 18)


def _narrow(name: str = "narrow", t0: Token = A, t1: Token = B) -> Pool:
    pool = Pool(3000, 60, 2**96, token0=t0, token1=t1, name=name)
    pool.mint("lp", -120, 120, 10**18)
    return pool


def _capacity(pool: Pool, token_in: Token) -> int:
    q = pool.quote_exact_in(token_in, 10**30)
    assert q.amount_in < 10**30  # the venue itself fills partially
    return q.amount_in


def _check_full_fills(plan: RoutePlan, venues: list[Venue]) -> None:
    """Replay leg by leg: every venue takes the whole leg input (or gives the whole leg output)."""
    table = {v.name: v.copy() for v in venues}
    for leg in plan.legs:
        if leg.exact_out:
            q = table[leg.venues[0]].swap_exact_out(leg.tokens[0], leg.amount_out)
            assert (q.amount_in, q.amount_out) == (leg.amount_in, leg.amount_out)
            continue
        amount = leg.amount_in
        for name, tok in zip(leg.venues, leg.tokens, strict=False):
            q = table[name].swap_exact_in(tok, amount)
            assert q.amount_in == amount
            amount = q.amount_out
        assert amount == leg.amount_out
    assert execute_plan(plan, [v.copy() for v in venues]) == (plan.amount_in, plan.amount_out, plan.gas_units)


def test_single_exhaustible_pool_refuses_instead_of_partial() -> None:
    pool = _narrow()
    cap = _capacity(pool, A)
    router = SmartRouter([pool])
    with pytest.raises(ExecutionError, match="liquidity"):
        router.quote_exact_in(A, B, cap * 2)
    out_cap = pool.quote_exact_in(A, 10**30).amount_out
    with pytest.raises(ExecutionError, match="liquidity"):
        router.quote_exact_out(A, B, out_cap * 2)
    ok = router.quote_exact_in(A, B, cap // 2)
    assert ok.amount_in == cap // 2
    _check_full_fills(ok, [pool])


@pytest.mark.parametrize("multiple", [0.5, 0.99, 1.0, 1.5, 10.0, 1000.0])
def test_split_caps_the_exhaustible_pool(multiple: float) -> None:
    pool = _narrow()
    pair = Pair(10**19, 10**19, token0=A, token1=B, name="pair")
    venues: list[Venue] = [pool, pair]
    amount = int(_capacity(pool, A) * multiple)
    router = SmartRouter(venues)
    plan = router.quote_exact_in(A, B, amount)
    assert plan.amount_in == amount
    _check_full_fills(plan, venues)
    out = router.quote_exact_out(A, B, plan.amount_out // 2)
    assert out.amount_out == plan.amount_out // 2
    _check_full_fills(out, venues)


def test_two_hop_through_exhaustible_pools() -> None:
    first = _narrow("ab", A, B)
    second = _narrow("bc", B, C)
    backup = Pair(10**20, 10**20, token0=A, token1=C, name="ac")
    venues: list[Venue] = [first, second, backup]
    router = SmartRouter(venues)
    for amount in (10**15, _capacity(first, A), 10**19):
        plan = router.quote_exact_in(A, C, amount)
        assert plan.amount_in == amount
        _check_full_fills(plan, venues)


class _Capped:
    """A venue outside Keel's model dispatch (sampled model) that fills at most ``cap`` input."""

    def __init__(self, cap: int) -> None:
        self.name, self.token0, self.token1, self.updated_ns, self.cap = "capped", A, B, 0, cap

    def _q(self, amount_in: int) -> SwapQuote:
        take = min(amount_in, self.cap)
        return SwapQuote(take, take * 99 // 100, 50_000)

    def quote_exact_in(self, token_in: Token, amount_in: int) -> SwapQuote:
        return self._q(amount_in)

    def quote_exact_out(self, token_in: Token, amount_out: int) -> SwapQuote:
        return self._q(-(-amount_out * 100 // 99))

    def swap_exact_in(self, token_in: Token, amount_in: int) -> SwapQuote:
        return self._q(amount_in)

    def swap_exact_out(self, token_in: Token, amount_out: int) -> SwapQuote:
        return self.quote_exact_out(token_in, amount_out)

    def copy(self) -> _Capped:
        return _Capped(self.cap)


def test_sampled_model_of_a_partially_filling_venue_stops_at_its_capacity() -> None:
    venue = _Capped(10**18)
    curve = sampled_curve(venue, A, 10**21)
    assert curve.max_in <= 10**18
    pair = Pair(10**19, 10**19, token0=A, token1=B, name="pair")
    venues: list[Venue] = [venue, pair]
    router = SmartRouter(venues)
    plan = router.quote_exact_in(A, B, 5 * 10**18)
    assert plan.amount_in == 5 * 10**18
    _check_full_fills(plan, venues)
    with pytest.raises(ExecutionError):
        SmartRouter([venue]).quote_exact_in(A, B, 2 * 10**18)
