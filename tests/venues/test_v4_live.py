"""Uniswap v4 on a local Hardhat node (Cancun): the real PoolManager beside the testbed's v3 pools.

A route split across the v3 0.05% pool and a v4 pool executes with every leg's amounts exactly
equal to the plan (exact input, and exact output); a hedge-sized swap through the testbed's own v4
pool fills exactly as predicted; the pool read back through ``extsload`` equals Keel's state after
the swaps; and the gas of one and two chained v4 hops is measured against the router's model.
"""

from __future__ import annotations

from typing import Any

import pytest

from keel.chain import (
    ChainClient,
    DevSigner,
    GasPolicy,
    SwapExecutor,
    TestbedAddresses,
    TransactionManager,
    TxJournal,
    VenueRef,
    call_request,
    read_pool_state,
    read_token,
    to_venue,
)
from keel.chain.signer import HARDHAT_DEV_KEYS
from keel.chain.v4 import V4Ref, V4SwapExecutor, deploy_v4, execute_route, modify_liquidity, read_v4_pool, to_v4_venue
from keel.execution import SmartRouter, execute_plan
from keel.execution.router import chained_saving
from keel.venues.uniswap_v4 import CHAINED_HOP_SAVING, SWAP_GAS_BASE, PoolKey
from tests.chain.conftest import clean_chain, hardhat, run, testbed  # noqa: F401 - fixtures

pytestmark = pytest.mark.hardhat


def test_route_split_across_v3_and_v4_executes_exactly_as_planned(hardhat: Any, clean_chain: TestbedAddresses) -> None:  # noqa: F811
    tb = clean_chain

    async def go() -> None:
        client = await ChainClient.connect(hardhat.url, expected_chain_id=31337)
        tm = await TransactionManager.open(client, DevSigner(HARDHAT_DEV_KEYS[0]), TxJournal(None), GasPolicy())
        await client.rpc("hardhat_setBalance", [tm.address, hex(10**24)])
        await tm.send("wrap", call_request(client.contract("WETH9", tb.weth), "deposit", value=20_000 * 10**18))
        await tm.send("mint:usdc", call_request(client.contract("KeelToken", tb.usdc), "mint", tm.address, 10**15))
        weth, usdc = await read_token(client, tb.weth), await read_token(client, tb.usdc)
        info = tb.pool("uniswap_v3", 500)
        v3_state = await read_pool_state(client, "uniswap_v3", info.address, tick_lens=tb.tick_lens)
        dep = await deploy_v4(
            client, tm, token0=info.token0, token1=info.token1, sqrt_price_x96=v3_state.sqrt_price_x96,
            fee=500, tick_spacing=10, liquidity=v3_state.liquidity,
        )  # fmt: skip
        # a second v4 pool (USDC/WBTC) in the same singleton, for chained hops
        mint = client.contract("KeelToken", tb.wbtc)
        await tm.send("mint:wbtc", call_request(mint, "mint", tm.address, 10**15))
        c0, c1 = sorted((tb.usdc, tb.wbtc), key=lambda a: int(a, 16))
        key2 = PoolKey(c0, c1, 3000, 60)
        from eth_abi.abi import encode

        from keel.chain.transactions import TxRequest
        from keel.chain.v4 import KEY_TYPE, _approve, _selector

        sp2 = 2**96 * 10 if c0 == tb.usdc else 2**96 // 10  # any price: only the gas is measured on it
        init = _selector(f"initialize({KEY_TYPE},uint160)") + encode([KEY_TYPE, "uint160"], [key2.as_tuple(), sp2])
        await tm.send("v4:init2", TxRequest(to=dep.manager, data=init))
        await _approve(tm, "v4:approve:wbtc", tb.wbtc, dep.router)
        await modify_liquidity(tm, "v4:liq2", dep, key2, -887220, 887220, 10**11)

        v4x = V4SwapExecutor(client, tm, manager=dep.manager, router=dep.router)
        swaps = SwapExecutor(client, tm, v3_router=tb.swap_router, v2_router=tb.v2_router)
        await swaps.approve("approve:weth:v3", tb.weth, "uniswap_v3")

        # ---- the split route
        v3 = to_venue(v3_state, *((weth, usdc) if info.token0 == tb.weth else (usdc, weth)))
        t0, t1 = (weth, usdc) if dep.key.currency0 == tb.weth else (usdc, weth)
        pm = await read_v4_pool(client, dep.manager, dep.key)
        v4 = to_v4_venue(pm, dep.key, t0, t1, manager=dep.manager)
        router = SmartRouter([v3, v4])
        amount = 300 * 10**18
        plan = router.quote_exact_in(weth, usdc, amount)
        assert sorted(str(leg.venues[0]) for leg in plan.legs) == sorted([v3.name, v4.name]), plan
        refs = {v3.name: VenueRef("uniswap_v3", 500), v4.name: V4Ref(dep.key)}
        fills = await execute_route("route", plan, refs, swaps=swaps, v4=v4x)
        assert [(f.amount_in, f.amount_out) for f in fills] == [(leg.amount_in, leg.amount_out) for leg in plan.legs]
        assert sum(f.amount_out for f in fills) == plan.amount_out

        # keel's own execution of the plan leaves the same v4 state the chain now has
        execute_plan(plan, [v3, v4])
        after = await read_v4_pool(client, dep.manager, dep.key)
        assert after.get_slot0(dep.key) == pm.get_slot0(dep.key)
        assert after.get_liquidity(dep.key) == pm.get_liquidity(dep.key)
        assert after.get_fee_growth_globals(dep.key) == pm.get_fee_growth_globals(dep.key)

        # ---- an exact-output plan split across the same two pools: every leg exactly as planned
        v3b = to_venue(
            await read_pool_state(client, "uniswap_v3", info.address, tick_lens=tb.tick_lens),
            *((weth, usdc) if info.token0 == tb.weth else (usdc, weth)),
        )
        v4b = to_v4_venue(await read_v4_pool(client, dep.manager, dep.key), dep.key, t0, t1, manager=dep.manager)
        want = 500_000 * 10**6
        plan_out = SmartRouter([v3b, v4b]).quote_exact_out(weth, usdc, want)
        assert plan_out.exact_out and len(plan_out.legs) == 2, plan_out
        refs_out = {v3b.name: VenueRef("uniswap_v3", 500), v4b.name: V4Ref(dep.key)}
        fills_out = await execute_route("route-out", plan_out, refs_out, swaps=swaps, v4=v4x)
        assert [(f.amount_in, f.amount_out) for f in fills_out] == [
            (leg.amount_in, leg.amount_out) for leg in plan_out.legs
        ]
        assert sum(f.amount_out for f in fills_out) == want

        # ---- `keel testbed up` deployed v4 too: a hedge-sized buy of WETH with USDC through the testbed's
        # own v4 pool, read through extsload, fills exactly as predicted
        assert tb.v4_manager and tb.v4_router and tb.v4_fee == 500
        tb_key = PoolKey(info.token0, info.token1, tb.v4_fee, tb.v4_tick_spacing)
        tb_pm = await read_v4_pool(client, tb.v4_manager, tb_key)
        tb_pool = to_v4_venue(tb_pm, tb_key, t0, t1, manager=tb.v4_manager)
        assert tb_pool.liquidity > 0
        tbx = V4SwapExecutor(client, tm, manager=tb.v4_manager, router=tb.v4_router)
        await tbx.approve("approve:usdc:tb-v4", tb.usdc)
        predicted = tb_pool.quote_exact_in(usdc, 50_000 * 10**6)
        fill = await tbx.swap_exact_in(
            "hedge", [(tb_key, tb_key.currency0 == tb.usdc)], amount_in=50_000 * 10**6,
            min_amount_out=predicted.amount_out,
        )  # fmt: skip
        assert (fill.amount_in, fill.amount_out) == (predicted.amount_in, predicted.amount_out)
        assert fill.token_out == tb.weth

        # ---- gas: one hop vs two chained hops in one unlock (WETH -> USDC -> WBTC)
        zfo1 = dep.key.currency0 == tb.weth
        one = await v4x.swap_exact_in("gas:1", [(dep.key, zfo1)], amount_in=10**17, min_amount_out=0)
        two = await v4x.swap_exact_in(
            "gas:2", [(dep.key, zfo1), (key2, key2.currency0 == tb.usdc)], amount_in=10**17, min_amount_out=0
        )
        saving = 2 * one.gas_used - two.gas_used
        print(f"v4 gas: one hop {one.gas_used}, two chained hops {two.gas_used}, saving {saving}")
        assert abs(one.gas_used - SWAP_GAS_BASE) <= 0.1 * SWAP_GAS_BASE, one.gas_used
        assert abs(saving - CHAINED_HOP_SAVING) <= 0.15 * CHAINED_HOP_SAVING, saving
        assert chained_saving(v4, v4.copy()) == CHAINED_HOP_SAVING
        # crossing initialized ticks: a sell big enough to leave the +-1% position
        now = await read_v4_pool(client, dep.manager, dep.key)
        venue = to_v4_venue(now, dep.key, t0, t1, manager=dep.manager)
        big = venue.quote_exact_in(weth, 2000 * 10**18)
        assert big.ticks_crossed >= 1
        crossed = await v4x.swap_exact_in("gas:cross", [(dep.key, zfo1)], amount_in=2000 * 10**18, min_amount_out=0)
        assert crossed.amount_out == big.amount_out
        per_tick = (crossed.gas_used - one.gas_used) / big.ticks_crossed
        print(f"v4 gas: {big.ticks_crossed} ticks crossed {crossed.gas_used} ({per_tick:.0f} per tick)")
        assert abs(crossed.gas_used - big.gas_units) <= 0.15 * crossed.gas_used
        await client.close()

    run(go())
