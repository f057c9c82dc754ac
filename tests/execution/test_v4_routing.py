"""SmartRouter across Uniswap v2, v3 and v4 venues, net of each venue's own gas."""

from __future__ import annotations

from keel.domain import Token
from keel.execution import SmartRouter, execute_plan
from keel.venues.uniswap_v2 import Pair
from keel.venues.uniswap_v3 import Pool
from keel.venues.uniswap_v4 import SWAP_GAS_BASE, V4Pool

USDC = Token("USDC", 6, address="0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48")
WETH = Token("WETH", 18, address="0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2")
SQRT_P = 1_771_595_571_142_957_102_961_017_161_607_260  # ~2000 USDC per WETH, USDC as token0


def _venues() -> list[object]:
    v3 = Pool(500, 10, SQRT_P, token0=USDC, token1=WETH, name="v3")
    t = v3.tick // 10 * 10
    v3.mint("lp", t - 2000, t + 2000, 3 * 10**18)
    v4 = V4Pool.open(
        USDC, WETH, fee=500, tick_spacing=10, sqrt_price_x96=SQRT_P, liquidity=3 * 10**18,
        tick_lower=t - 2000, tick_upper=t + 2000, name="v4",
    )  # fmt: skip
    # a v2 pair at the same price: reserves r0 (USDC) and r1 (WETH) with r1/r0 = (SQRT_P / 2**96)**2
    r1 = 20_000 * 10**18
    r0 = r1 * 2**192 // SQRT_P**2
    v2 = Pair(r0, r1, token0=USDC, token1=WETH, name="v2")
    return [v2, v3, v4]


def _gas_price(token: Token) -> float:
    return 2000.0 if token == USDC else 1.0


def test_routes_across_v2_v3_and_v4_net_of_gas() -> None:
    venues = _venues()
    router = SmartRouter(venues, gas_price_wei=30 * 10**9, gas_token_price=_gas_price)  # type: ignore[arg-type]
    big = router.quote_exact_in(WETH, USDC, 300 * 10**18)
    assert set(big.venues_touched) == {"v2", "v3", "v4"}  # a large order uses all three kinds
    small = router.quote_exact_in(WETH, USDC, 10**16)
    assert len(small.venues_touched) == 1  # a small one pays one venue's gas only
    v4_only = SmartRouter([venues[2]], gas_price_wei=30 * 10**9, gas_token_price=_gas_price)  # type: ignore[list-item,arg-type]
    plan = v4_only.quote_exact_in(WETH, USDC, 10**16)
    assert plan.gas_units == SWAP_GAS_BASE and plan.gas_cost > 0
    assert execute_plan(big, [v.copy() for v in venues])[:2] == (big.amount_in, big.amount_out)  # type: ignore[attr-defined]
