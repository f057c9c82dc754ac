"""Pool state read from the real Uniswap contracts on Hardhat into keel.venues pools, checked equal:
quotes equal QuoterV2 / Router02 to the wei, executed swaps equal keel's prediction to the wei, and the
event-driven sync equals a full re-read and keel's own post-swap state."""

from __future__ import annotations

from typing import Any

import pytest

from keel.chain import (
    ChainClient,
    DevSigner,
    GasPolicy,
    PoolSync,
    SwapExecutor,
    TestbedAddresses,
    TransactionManager,
    TxJournal,
    call_request,
    pool_state_diff,
    read_pool_state,
    read_token,
    to_venue,
)
from keel.chain.signer import HARDHAT_DEV_KEYS
from keel.venues.uniswap_v2 import Pair
from keel.venues.uniswap_v3 import Pool
from tests.chain.conftest import run

pytestmark = pytest.mark.hardhat


async def _setup(url: str, tb: TestbedAddresses) -> tuple[ChainClient, TransactionManager, SwapExecutor]:
    client = await ChainClient.connect(url, expected_chain_id=31337)
    tm = await TransactionManager.open(client, DevSigner(HARDHAT_DEV_KEYS[0]), TxJournal(None), GasPolicy())
    ex = SwapExecutor(client, tm, v3_router=tb.swap_router, v2_router=tb.v2_router)
    await tm.send("wrap", call_request(client.contract("WETH9", tb.weth), "deposit", value=1000 * 10**18))
    for token in (tb.weth, tb.usdc):
        for kind in ("uniswap_v3", "uniswap_v2"):
            await ex.approve(f"approve:{token}:{kind}", token, kind)
    return client, tm, ex


def test_v3_state_matches_chain_and_swaps_match_to_the_wei(hardhat: Any, clean_chain: TestbedAddresses) -> None:
    tb = clean_chain

    async def go() -> None:
        client, _tm, ex = await _setup(hardhat.url, tb)
        weth, usdc = await read_token(client, tb.weth), await read_token(client, tb.usdc)
        assert (weth.symbol, weth.decimals, usdc.symbol, usdc.decimals) == ("WETH", 18, "USDC", 6)
        quoter = client.contract("QuoterV2", tb.quoter_v2)
        for fee in (500, 3000):
            info = tb.pool("uniswap_v3", fee)
            state = await read_pool_state(client, "uniswap_v3", info.address, tick_lens=tb.tick_lens)
            # the exhaustive bitmap scan (every word, no lens) finds the same ticks as the Mint-log scan
            if fee == 3000:
                full = await read_pool_state(
                    client, "uniswap_v3", info.address, block=state.block_number, tick_scan="bitmap"
                )
                assert full == state
            assert len(state.ticks) == 6 and sum(t.liquidity_net for t in state.ticks) == 0
            t0 = weth if info.token0 == tb.weth else usdc
            t1 = usdc if t0 is weth else weth
            pool = to_venue(state, t0, t1)
            assert isinstance(pool, Pool)
            assert (
                pool.to_state(block_number=state.block_number, ts_ns=state.ts_ns, address=info.address).ticks
                == state.ticks
            )
            # quotes: keel == QuoterV2 (the real contract), for sizes that cross several ticks
            for token_in, amount in (
                (weth, 10**17),
                (weth, 1500 * 10**18),
                (usdc, 5_000 * 10**6),
                (usdc, 3_000_000 * 10**6),
            ):
                token_out = usdc if token_in is weth else weth
                mine = pool.quote_exact_in(token_in, amount)
                q = quoter.functions.quoteExactInputSingle((token_in.address, token_out.address, amount, fee, 0))
                out, sqrt_after, _crossed, _gas = await client.call("quoteExactInputSingle", q)
                assert mine.amount_out == int(out), (fee, token_in.symbol, amount)
                detail = pool.quote_detailed(token_in == t0, amount)
                assert detail.sqrt_price_x96 == int(sqrt_after)
            # execute: the chain's fill equals keel's prediction to the wei, and so does the new state
            amount = 120 * 10**18
            predicted = pool.swap_exact_in(weth, amount)
            fill = await ex.swap_exact_in(
                f"swap:{fee}",
                kind="uniswap_v3",
                token_in=tb.weth,
                token_out=tb.usdc,
                amount_in=amount,
                min_amount_out=predicted.amount_out,
                fee=fee,
            )
            assert (fill.amount_in, fill.amount_out) == (amount, predicted.amount_out)
            after = await read_pool_state(client, "uniswap_v3", info.address, tick_lens=tb.tick_lens)
            mine_after = pool.to_state(block_number=after.block_number, ts_ns=after.ts_ns, address=info.address)
            diff = pool_state_diff(after, mine_after, ignore=("block_number", "ts_ns", "token0", "token1"))
            assert diff == {}
        await client.close()

    run(go())


def test_v2_pair_state_and_swap_match_router(hardhat: Any, clean_chain: TestbedAddresses) -> None:
    tb = clean_chain

    async def go() -> None:
        client, _tm, ex = await _setup(hardhat.url, tb)
        weth, usdc = await read_token(client, tb.weth), await read_token(client, tb.usdc)
        info = tb.pool("uniswap_v2", 3000)
        state = await read_pool_state(client, "uniswap_v2", info.address)
        t0, t1 = (weth, usdc) if info.token0 == tb.weth else (usdc, weth)
        pair = to_venue(state, t0, t1)
        assert isinstance(pair, Pair)
        router = client.contract("UniswapV2Router02", tb.v2_router)
        amount = 7_777 * 10**6
        amounts = await client.call("getAmountsOut", router.functions.getAmountsOut(amount, [tb.usdc, tb.weth]))
        predicted = pair.swap_exact_in(usdc, amount)
        assert predicted.amount_out == int(amounts[1])
        fill = await ex.swap_exact_in(
            "v2-swap",
            kind="uniswap_v2",
            token_in=tb.usdc,
            token_out=tb.weth,
            amount_in=amount,
            min_amount_out=predicted.amount_out,
        )
        assert fill.amount_out == predicted.amount_out
        after = await read_pool_state(client, "uniswap_v2", info.address)
        assert (after.reserve0, after.reserve1) == (pair.reserve0, pair.reserve1)
        await client.close()

    run(go())


def test_event_sync_equals_full_reread(hardhat: Any, clean_chain: TestbedAddresses) -> None:
    tb = clean_chain

    async def go() -> None:
        client, tm, ex = await _setup(hardhat.url, tb)
        info = tb.pool("uniswap_v3", 500)
        sync = PoolSync(client, "uniswap_v3", info.address, tick_lens=tb.tick_lens)
        v2 = PoolSync(client, "uniswap_v2", tb.pool("uniswap_v2", 3000).address)
        await sync.start()
        await v2.start()
        # swaps both ways, one big enough to cross the concentrated ranges' ticks
        for i, (tin, tout, amt) in enumerate(
            ((tb.weth, tb.usdc, 90 * 10**18), (tb.usdc, tb.weth, 400_000 * 10**6), (tb.weth, tb.usdc, 10**15))
        ):
            await ex.swap_exact_in(
                f"s{i}", kind="uniswap_v3", token_in=tin, token_out=tout, amount_in=amt, min_amount_out=0, fee=500
            )
            await ex.swap_exact_in(
                f"v2s{i}", kind="uniswap_v2", token_in=tin, token_out=tout, amount_in=amt // 10, min_amount_out=0
            )
        synced = await sync.refresh()
        full = await read_pool_state(client, "uniswap_v3", info.address, block=synced.block_number)
        assert pool_state_diff(synced, full, ignore=()) == {}
        assert sync.event_updates == 1 and sync.full_reads == 1
        synced2 = await v2.refresh()
        assert pool_state_diff(synced2, await read_pool_state(client, "uniswap_v2", v2.address), ignore=()) == {}
        # an LP-token transfer is an event of the pair that leaves the reserves alone
        lp = client.contract("UniswapV2Pair", v2.address)
        await tm.send("lp-transfer", call_request(lp, "transfer", "0x000000000000000000000000000000000000dEaD", 1000))
        updates = v2.event_updates
        synced2b = await v2.refresh()
        assert synced2b.block_number > synced2.block_number and v2.event_updates == updates
        assert pool_state_diff(synced2b, synced2) == {}
        # a Mint forces a full re-read, which again equals the chain
        npm = client.contract("NonfungiblePositionManager", tb.position_manager)
        head = await client.get_block("latest")
        spacing = info.tick_spacing
        lo, hi = (full.tick // spacing - 7) * spacing, (full.tick // spacing + 9) * spacing
        params = (
            info.token0,
            info.token1,
            500,
            lo,
            hi,
            10**18,
            2000 * 10**6,
            0,
            0,
            tm.address,
            int(head["timestamp"]) + 600,
        )
        await tm.send("mint-more", call_request(npm, "mint", params))
        synced3 = await sync.refresh()
        assert sync.full_reads == 2
        assert {t.index for t in synced3.ticks} >= {lo, hi}
        assert pool_state_diff(synced3, await read_pool_state(client, "uniswap_v3", info.address), ignore=()) == {}
        # a reorg: the synced block is replaced by one at the same height with a different swap
        snap = await client.rpc("evm_snapshot")
        other = await TransactionManager.open(client, DevSigner(HARDHAT_DEV_KEYS[0]), TxJournal(None), GasPolicy())
        ex_other = SwapExecutor(client, other, v3_router=tb.swap_router, v2_router=tb.v2_router)
        await ex_other.swap_exact_in("branch-a", kind="uniswap_v3", token_in=tb.weth, token_out=tb.usdc,
                               amount_in=5 * 10**18, min_amount_out=0, fee=500)  # fmt: skip
        on_a = await sync.refresh()
        await client.rpc("evm_revert", [snap])
        await ex.swap_exact_in("branch-b", kind="uniswap_v3", token_in=tb.usdc, token_out=tb.weth,
                               amount_in=9_000 * 10**6, min_amount_out=0, fee=500)  # fmt: skip
        reads = sync.full_reads
        on_b = await sync.refresh()
        assert on_b.block_number == on_a.block_number and on_b.sqrt_price_x96 != on_a.sqrt_price_x96
        assert sync.full_reads == reads + 1
        assert pool_state_diff(on_b, await read_pool_state(client, "uniswap_v3", info.address), ignore=()) == {}
        await client.close()

    run(go())


def test_smart_router_plan_executes_on_chain_to_the_wei(hardhat: Any, clean_chain: TestbedAddresses) -> None:
    """keel.execution.SmartRouter splits a large order over the three synced pools; each leg is sent through
    the real routers with its min-out and deadline, and the chain delivers exactly the plan's amounts."""
    from keel.chain import VenueRef, erc20_balance
    from keel.execution.router import SmartRouter

    tb = clean_chain

    async def go() -> None:
        client, tm, ex = await _setup(hardhat.url, tb)
        weth, usdc = await read_token(client, tb.weth), await read_token(client, tb.usdc)
        t0, t1 = (weth, usdc) if tb.pools[0].token0 == tb.weth else (usdc, weth)
        venues = []
        refs = {}
        for info in tb.pools:
            state = await read_pool_state(client, info.kind, info.address)
            v = to_venue(state, t0, t1)
            venues.append(v)
            refs[v.name] = VenueRef(info.kind, info.fee)
        router = SmartRouter(venues)
        amount = 900 * 10**18
        plan = router.quote_exact_in(weth, usdc, amount)
        assert len(plan.legs) >= 2, "an order this size should be split"
        before = await erc20_balance(client, tb.usdc, tm.address)
        fills = await ex.execute_plan("plan-1", plan, refs, slippage_bps=0)
        got = await erc20_balance(client, tb.usdc, tm.address) - before
        assert got == plan.amount_out
        assert [f.amount_out for f in fills] == [leg.amount_out for leg in plan.legs]
        assert sum(f.amount_in for f in fills) == amount
        # re-running the same plan id sends nothing new
        signed = tm.sign_count
        await ex.execute_plan("plan-1", plan, refs)
        assert tm.sign_count == signed
        await client.close()

    run(go())
