"""Uniswap v3 math and pool against every published v3-core test vector (data/uniswap_v3_core_test_vectors)."""

from __future__ import annotations

import json
from decimal import Decimal, localcontext
from pathlib import Path
from typing import Any

import pytest

from keel.venues import Revert
from keel.venues.uniswap_v3 import (
    MAX_SQRT_RATIO,
    MIN_SQRT_RATIO,
    Pool,
    compute_swap_step,
    get_amount0_delta,
    get_amount1_delta,
    get_next_sqrt_price_from_input,
    get_next_sqrt_price_from_output,
    get_sqrt_ratio_at_tick,
    get_tick_at_sqrt_ratio,
)

VECTORS = Path(__file__).resolve().parents[2] / "data" / "uniswap_v3_core_test_vectors"


def _load(name: str) -> Any:
    return json.loads((VECTORS / name).read_text())


MATH_CASES = _load("sqrtpricemath_swapmath_vectors.json")["vectors"]
TICK_TABLE = _load("tickmath_getSqrtRatioAtTick.json")
SWAP_CONFIGS = _load("uniswapv3pool_swaps_configs.json")
SWAP_SNAPSHOT = {case["test"]: case["result"] for case in _load("uniswapv3pool_swaps_snapshot.json")["cases"]}


def test_vector_counts() -> None:
    assert len(MATH_CASES) == 29
    assert len(SWAP_SNAPSHOT) == 240
    assert len(SWAP_CONFIGS["pools"]) == 15 and len(SWAP_CONFIGS["swaps"]) == 16


def _call(case: dict[str, Any]) -> Any:
    fn, a = case["function"], case["inputs"]
    i = {k: (v if isinstance(v, bool) else int(v)) for k, v in a.items()}
    if fn == "getNextSqrtPriceFromInput":
        return get_next_sqrt_price_from_input(i["sqrtPX96"], i["liquidity"], i["amountIn"], i["zeroForOne"])
    if fn == "getNextSqrtPriceFromOutput":
        return get_next_sqrt_price_from_output(i["sqrtPX96"], i["liquidity"], i["amountOut"], i["zeroForOne"])
    if fn == "getAmount0Delta":
        return get_amount0_delta(i["sqrtRatioAX96"], i["sqrtRatioBX96"], i["liquidity"], i["roundUp"])
    if fn == "getAmount1Delta":
        return get_amount1_delta(i["sqrtRatioAX96"], i["sqrtRatioBX96"], i["liquidity"], i["roundUp"])
    assert fn == "computeSwapStep", fn
    nxt, amount_in, amount_out, fee = compute_swap_step(
        i["sqrtRatioCurrentX96"], i["sqrtRatioTargetX96"], i["liquidity"], i["amountRemaining"], i["feePips"]
    )
    return {"sqrtRatioNextX96": nxt, "amountIn": amount_in, "amountOut": amount_out, "feeAmount": fee}


@pytest.mark.parametrize("case", MATH_CASES, ids=[f"{i}-{c['function']}" for i, c in enumerate(MATH_CASES)])
def test_sqrt_price_math_and_swap_math(case: dict[str, Any]) -> None:
    expected = case["expected"]
    if expected.get("reverts"):
        with pytest.raises(Revert):
            _call(case)
        return
    got = _call(case)
    if isinstance(got, dict):
        assert got == {k: int(v) for k, v in expected.items() if k in got}
        assert set(got) <= set(expected)
    else:
        assert got == int(expected["result"])


def test_tick_math_tables() -> None:
    for entry in TICK_TABLE["entries"]:
        assert get_sqrt_ratio_at_tick(entry["tick"]) == int(entry["sqrtPriceX96"]), entry
    for entry in TICK_TABLE["getTickAtSqrtRatio"]:
        assert get_tick_at_sqrt_ratio(int(entry["sqrtPriceX96"])) == entry["tick"], entry
    assert get_sqrt_ratio_at_tick(-887272) == MIN_SQRT_RATIO
    assert get_sqrt_ratio_at_tick(887272) == MAX_SQRT_RATIO
    for bad in (-887273, 887273):
        with pytest.raises(Revert) as info:
            get_sqrt_ratio_at_tick(bad)
        assert info.value.reason == "T"
    for bad in (MIN_SQRT_RATIO - 1, MAX_SQRT_RATIO):
        with pytest.raises(Revert) as info:
            get_tick_at_sqrt_ratio(bad)
        assert info.value.reason == "R"


def test_get_tick_at_sqrt_ratio_is_the_greatest_tick_below() -> None:
    # the contract's defining property, around many ticks and at both ends
    for t in list(range(-887272, -887200)) + list(range(-300, 300, 7)) + list(range(887190, 887272)):
        p = get_sqrt_ratio_at_tick(t)
        assert get_tick_at_sqrt_ratio(p) == t
        if t > -887272:
            assert get_tick_at_sqrt_ratio(p - 1) == t - 1


def _sig5(value: Decimal) -> str:
    """JS decimal.js toPrecision(5) with plain notation (the spec's formatting)."""
    with localcontext() as ctx:
        ctx.prec = 60
        exponent = value.adjusted()
        quantum = Decimal(1).scaleb(exponent - 4)
        return format(value.quantize(quantum), "f")


def _description(swap: dict[str, Any]) -> str:
    zero_for_one = swap["zeroForOne"]
    amount = int(swap["amountSpecified"])
    limit = int(swap["sqrtPriceLimitX96"])
    price_clause = ""
    if limit not in (MIN_SQRT_RATIO + 1, MAX_SQRT_RATIO - 1):
        with localcontext() as ctx:
            ctx.prec = 80
            price = (Decimal(limit) / Decimal(2**96)) ** 2
        price_clause = f" to price {_sig5(price)}"
    if amount == 2**255 - 1:
        return f"swap {'token0 for token1' if zero_for_one else 'token1 for token0'}{price_clause}"
    human = _sig5(Decimal(abs(amount)) / Decimal(10**18))
    if amount < 0:
        if zero_for_one:
            return f"swap token0 for exactly {human} token1{price_clause}"
        return f"swap token1 for exactly {human} token0{price_clause}"
    if zero_for_one:
        return f"swap exactly {human} token0 for token1{price_clause}"
    return f"swap exactly {human} token1 for token0{price_clause}"


SWAP_CASES = [(pool, swap) for pool in SWAP_CONFIGS["pools"] for swap in SWAP_CONFIGS["swaps"]]


@pytest.mark.parametrize("pool_cfg,swap", SWAP_CASES, ids=[f"{p['description']}|{s['label']}" for p, s in SWAP_CASES])
def test_uniswap_v3_pool_swaps_spec(pool_cfg: dict[str, Any], swap: dict[str, Any]) -> None:
    expected = SWAP_SNAPSHOT[f"{pool_cfg['description']} {_description(swap)}"]
    pool = Pool(pool_cfg["fee"], pool_cfg["tickSpacing"], int(pool_cfg["sqrtPriceX96"]))
    balance0 = balance1 = 0
    for pos in pool_cfg["positions"]:
        a0, a1 = pool.mint("wallet", pos["tickLower"], pos["tickUpper"], int(pos["liquidity"]))
        balance0 += a0
        balance1 += a1
    tick_before = pool.tick
    assert tick_before == expected["tickBefore"]
    if "swapError" in expected:
        assert (balance0, balance1) == (int(expected["poolBalance0"]), int(expected["poolBalance1"]))
        with pytest.raises(Revert) as info:
            pool.swap(swap["zeroForOne"], int(swap["amountSpecified"]), int(swap["sqrtPriceLimitX96"]))
        assert expected["swapError"].endswith(f"revert {info.value.reason}")
        return
    assert (balance0, balance1) == (int(expected["amount0Before"]), int(expected["amount1Before"]))
    fg0, fg1 = pool.fee_growth_global0_x128, pool.fee_growth_global1_x128
    amount0, amount1 = pool.swap(swap["zeroForOne"], int(swap["amountSpecified"]), int(swap["sqrtPriceLimitX96"]))
    assert amount0 == int(expected["amount0Delta"])
    assert amount1 == int(expected["amount1Delta"])
    assert pool.fee_growth_global0_x128 - fg0 == int(expected["feeGrowthGlobal0X128Delta"])
    assert pool.fee_growth_global1_x128 - fg1 == int(expected["feeGrowthGlobal1X128Delta"])
    assert pool.tick == expected["tickAfter"]
    price_after = float(expected["poolPriceAfter"])
    assert (pool.sqrt_price_x96 / 2**96) ** 2 == pytest.approx(price_after, rel=1e-4)
