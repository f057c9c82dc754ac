"""AMM speed: Keel's exact Uniswap v3 quote vs the same swap by the real contracts in pyrevm, same run.

Cases (fee 0.3%, tick spacing 60, the real v3-core 1.0.1 pool behind v3-periphery 1.4.4 SwapRouter):
  in_range    -- exact-input swaps that stay inside one initialized range;
  cross_10    -- exact-input swaps that cross exactly 10 initialized ticks (10 one-spacing positions);
  v2          -- UniswapV2Library.getAmountOut vs the real UniswapV2Pair swap (transfer + swap).
Each swap alternates direction so both pools keep the same state; before timing, Keel's result is
checked equal to the contract's (amounts, price, ticks crossed).  pyrevm is timed on raw
``message_call`` with pre-encoded calldata (no ABI work in the loop).  Keel is timed on ``Pool.quote``
(no state change) and on ``Pool.swap`` (state change, like the contract).
Float path: ``SwapCurve.amount_out`` on 1,000,000 trade sizes at once.
Reports the median of REPEATS batches, microseconds per swap, and ratios.

Run: .venv/bin/python bench/amm.py [--repeats R] [--batch N]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for tests.evm_support (the EVM harness)

import pyrevm
from eth_abi import encode
from eth_utils import keccak

from keel.venues.uniswap_v2 import Pair, get_amount_out
from keel.venues.uniswap_v3 import Pool, get_sqrt_ratio_at_tick
from tests.evm_support import DEADLINE, UniswapV2World, UniswapV3World

FEE, SPACING = 3000, 60
BASE = 128 * SPACING  # start mid-word in the tick bitmap (words are 256 spacings), so no word edge is crossed
SELECTOR_EXACT_IN = keccak(text="exactInputSingle((address,address,uint24,address,uint256,uint256,uint256,uint160))")[
    :4
]


def _median_us(fn: Callable[[], object], batch: int, repeats: int) -> float:
    """Median wall time per call (us) over ``repeats`` batches; CPU time goes to _CPU[fn]."""
    wall, cpu = [], []
    for _ in range(repeats):
        c0 = time.thread_time_ns()
        t0 = time.perf_counter()
        for _ in range(batch):
            fn()
        wall.append((time.perf_counter() - t0) / batch * 1e6)
        cpu.append((time.thread_time_ns() - c0) / batch / 1e3)
    _CPU[fn] = statistics.median(cpu)
    return statistics.median(wall)


_CPU: dict[Callable[[], object], float] = {}


def _setup_v3(positions: list[tuple[int, int, int, int]]) -> tuple[UniswapV3World, Pool]:
    world = UniswapV3World()
    start = get_sqrt_ratio_at_tick(BASE + SPACING // 2)
    world.pool_address = world.create_pool(FEE, start)  # type: ignore[attr-defined]
    pool = Pool(FEE, SPACING, start, block_timestamp=world.evm.timestamp)
    for lower, upper, a0, a1 in positions:
        _, liquidity, amount0, amount1 = world.mint(FEE, lower, upper, a0, a1).values
        assert pool.mint(world.npm.lower(), lower, upper, liquidity) == (amount0, amount1)
    return world, pool


def _calldata(world: UniswapV3World, zero_for_one: bool, amount: int) -> bytes:
    t_in, t_out = (world.token0, world.token1) if zero_for_one else (world.token1, world.token0)
    args = (t_in, t_out, FEE, world.evm.me, DEADLINE, amount, 0, 0)
    return SELECTOR_EXACT_IN + encode(["(address,address,uint24,address,uint256,uint256,uint256,uint160)"], [args])


def v3_case(
    name: str, world: UniswapV3World, pool: Pool, amounts: tuple[int, int], batch: int, repeats: int
) -> dict[str, float | str | int]:
    """Alternate a zero_for_one swap of amounts[0] and a one_for_zero swap of amounts[1]."""
    raw: pyrevm.EVM = world.evm.raw
    me, router = world.evm.me, world.router
    data = (_calldata(world, True, amounts[0]), _calldata(world, False, amounts[1]))
    # correctness first: the same two swaps on both sides give the same result
    crossed = []
    for zfo, amount in ((True, amounts[0]), (False, amounts[1])):
        call = world.exact_input(FEE, zfo, amount)
        result = pool.swap_detailed(zfo, amount)
        assert call.values[0] == -(result.amount1 if zfo else result.amount0)
        assert world.slot0(world.pool_address)[0] == pool.sqrt_price_x96  # type: ignore[attr-defined]
        crossed.append(result.ticks_crossed)
    state = {"i": 0}

    def evm_swap() -> None:
        i = state["i"] = state["i"] ^ 1
        raw.message_call(me, router, data[i], gas=30_000_000)

    keel_state = {"i": 0}

    def keel_swap() -> None:
        i = keel_state["i"] = keel_state["i"] ^ 1
        pool.swap(i == 0, amounts[i])

    q = {"i": 0}
    snapshot = pool.copy()

    def keel_quote() -> None:
        i = q["i"] = q["i"] ^ 1
        snapshot.quote(i == 0, amounts[i])

    evm_us = _median_us(evm_swap, batch, repeats)
    quote_us = _median_us(keel_quote, batch * 5, repeats)
    swap_us = _median_us(keel_swap, batch * 5, repeats)
    return {
        "case": name,
        "ticks_crossed": max(crossed),
        "pyrevm_us": evm_us,
        "keel_quote_us": quote_us,
        "keel_swap_us": swap_us,
        "quote_ratio": evm_us / quote_us,
        "swap_ratio": evm_us / swap_us,
        "cpu_quote_ratio": _CPU[evm_swap] / _CPU[keel_quote],
        "cpu_swap_ratio": _CPU[evm_swap] / _CPU[keel_swap],
    }


def v2_case(batch: int, repeats: int) -> dict[str, float | str | int]:
    world = UniswapV2World()
    pair_addr = world.create_pair()
    r0, r1 = 10**24, 2 * 10**24
    world.transfer(world.token0, pair_addr, r0)
    world.transfer(world.token1, pair_addr, r1)
    world.evm.call(pair_addr, "mint(address)", [world.evm.me])
    pair = Pair(r0, r1)
    amount = 10**21
    raw, me = world.evm.raw, world.evm.me
    transfer = keccak(text="transfer(address,uint256)")[:4]
    swap_sel = keccak(text="swap(uint256,uint256,address,bytes)")[:4]
    # 99% of the quoted output, so the same calldata stays valid as the reserves drift
    out1 = get_amount_out(amount, r0, r1) * 99 // 100
    out0 = get_amount_out(2 * amount, r1, r0) * 99 // 100
    calls = (
        (
            (world.token0, transfer + encode(["address", "uint256"], [pair_addr, amount])),
            (pair_addr, swap_sel + encode(["uint256", "uint256", "address", "bytes"], [0, out1, me, b""])),
        ),
        (
            (world.token1, transfer + encode(["address", "uint256"], [pair_addr, 2 * amount])),
            (pair_addr, swap_sel + encode(["uint256", "uint256", "address", "bytes"], [out0, 0, me, b""])),
        ),
    )
    state = {"i": 0}

    def evm_swap() -> None:
        i = state["i"] = state["i"] ^ 1
        for to, data in calls[i]:
            raw.message_call(me, to, data, gas=30_000_000)
        if i:
            pair.swap(0, out1, amount0_in=amount)
        else:
            pair.swap(out0, 0, amount1_in=2 * amount)

    evm_us = _median_us(evm_swap, batch, repeats)
    assert world.reserves(pair_addr)[:2] == (pair.reserve0, pair.reserve1)

    def evm_only() -> None:
        i = state["i"] = state["i"] ^ 1
        for to, data in calls[i]:
            raw.message_call(me, to, data, gas=30_000_000)

    evm_us = _median_us(evm_only, batch, repeats)

    def keel_quote() -> None:
        get_amount_out(amount, r0, r1)

    quote_us = _median_us(keel_quote, batch * 20, repeats)
    keel_pair = Pair(r0, r1)
    st = {"i": 0}

    def keel_swap() -> None:
        i = st["i"] = st["i"] ^ 1
        keel_pair.swap_exact_in(keel_pair.token0 if i else keel_pair.token1, amount if i else 2 * amount)

    swap_us = _median_us(keel_swap, batch * 20, repeats)
    return {
        "case": "v2 pair (transfer + swap)",
        "ticks_crossed": 0,
        "pyrevm_us": evm_us,
        "keel_quote_us": quote_us,
        "keel_swap_us": swap_us,
        "quote_ratio": evm_us / quote_us,
        "swap_ratio": evm_us / swap_us,
        "cpu_quote_ratio": _CPU[evm_only] / _CPU[keel_quote],
        "cpu_swap_ratio": _CPU[evm_only] / _CPU[keel_swap],
    }


def float_case(pool: Pool, repeats: int) -> dict[str, float]:
    curve = pool.curve(True)
    sizes = np.random.default_rng(1).uniform(0.0, curve.max_amount_in, 1_000_000)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        curve.amount_out(sizes)
        times.append(time.perf_counter() - t0)
    build = _median_us(lambda: pool.curve(True), 20, repeats)
    per_s = 1_000_000 / statistics.median(times)
    exact_us = _median_us(lambda: pool.quote(True, int(curve.max_amount_in // 3)), 200, repeats)
    return {
        "quotes_per_s": per_s,
        "build_curve_us": build,
        "exact_quote_us": exact_us,
        "segments": len(curve.liquidity),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--batch", type=int, default=200)
    args = parser.parse_args()
    rows = []
    big = 10**22
    world, pool = _setup_v3([(BASE - 6_000, BASE + 6_000, big, big)])
    rows.append(v3_case("in one range", world, pool, (10**18, 10**18), args.batch, args.repeats))
    ten = [(BASE + k * SPACING, BASE + (k + 1) * SPACING, 10**21, 10**21) for k in range(-12, 12)]
    world, pool = _setup_v3(ten)
    probe = pool.copy()
    # exactly across 10 initialized ticks: to the price 10 spacings + half a spacing below, and back
    down = probe.amounts_to_price(get_sqrt_ratio_at_tick(BASE - 9 * SPACING - SPACING // 2))[0]
    probe.swap(True, down)
    up = probe.amounts_to_price(get_sqrt_ratio_at_tick(BASE + SPACING // 2))[1]
    rows.append(v3_case("crossing 10 initialized ticks", world, pool, (down, up), args.batch // 2, args.repeats))
    rows.append(v2_case(args.batch, args.repeats))
    fl = float_case(pool, args.repeats)
    print(f"# bench/amm.py  python {platform.python_version()}  numpy {np.__version__}  pyrevm {version('pyrevm')}")
    print(
        "| case | initialized ticks crossed | pyrevm (real contract) | Keel exact quote | Keel exact swap "
        "| pyrevm / quote (wall) | pyrevm / quote (CPU) | pyrevm / swap (wall) | pyrevm / swap (CPU) |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['case']} | {r['ticks_crossed']} | {r['pyrevm_us']:.1f} us | {r['keel_quote_us']:.2f} us | "
            f"{r['keel_swap_us']:.2f} us | {r['quote_ratio']:.1f}x | {r['cpu_quote_ratio']:.1f}x | "
            f"{r['swap_ratio']:.1f}x | {r['cpu_swap_ratio']:.1f}x |"
        )
    print(
        f"\nfloat path: {fl['quotes_per_s'] / 1e6:.1f} M quotes/s (1,000,000 sizes, {fl['segments']} segments); "
        f"build_curve {fl['build_curve_us']:.0f} us; one exact quote over the same curve {fl['exact_quote_us']:.1f} us"
    )


if __name__ == "__main__":
    main()
