"""The simulated chain: EIP-1559, priority-fee ordering, latency, reverts, sandwiches, arbitrage."""

from __future__ import annotations

import math

import pytest

from keel.domain import Token
from keel.engine import Actor, Engine
from keel.sim.chain import GWEI, RECEIPTS, ChainParams, ChainSim, Receipt, SwapCall, Tx, next_base_fee
from keel.sim.mev import PoolArbitrageur, SandwichBot
from keel.venues.uniswap_v3 import Pool

USDC = Token("USDC", 6)
WETH = Token("WETH", 18)
Q96 = 2**96
ETH_USD = 2270.0


def make_pool(price: float = ETH_USD, liquidity: int = 10**18) -> Pool:
    pool = Pool(500, 10, int(math.sqrt(1e12 / price) * Q96), token0=USDC, token1=WETH, name="pool")
    tick = pool.tick // 10 * 10
    pool.mint("lp", tick - 4000, tick + 4000, liquidity)
    return pool


def usd(symbol: str, ts: int) -> float:
    return 1.0 if symbol == "USDC" else ETH_USD


class Collector(Actor):
    def __init__(self) -> None:
        super().__init__("collector")
        self.receipts: list[Receipt] = []

    def on_start(self) -> None:
        self.ctx.subscribe(RECEIPTS)

    def on_event(self, topic: str, message: object) -> None:
        assert isinstance(message, Receipt)
        self.receipts.append(message)


def test_base_fee_follows_eip1559() -> None:
    # EIP-1559: at most ±12.5% per block; unchanged at the target (half the limit).
    assert next_base_fee(10**9, 15_000_000, 30_000_000) == 10**9
    assert next_base_fee(10**9, 30_000_000, 30_000_000) == 1_125_000_000
    assert next_base_fee(10**9, 0, 30_000_000) == 875_000_000
    assert next_base_fee(10**9, 22_500_000, 30_000_000) == 1_062_500_000
    assert next_base_fee(7, 15_000_001, 30_000_000) == 8  # the increase is at least 1 wei


def _world(latency_ns: int = 0, background: float = 0.5) -> tuple[Engine, ChainSim, Pool, Collector]:
    engine = Engine(seed=1, start_ns=0)
    pool = make_pool()
    chain = ChainSim(
        engine,
        ChainParams(block_time_ns=12 * 10**9, latency_ns=latency_ns, background_utilization=background),
        {"pool": pool},
    )
    collector = Collector()
    engine.add_actor(collector)
    return engine, chain, pool, collector


def _swap(sender: str, usdc: int, tip_gwei: float, min_out: int = 0, deadline: int | None = None) -> Tx:
    tip = int(tip_gwei * GWEI)
    return Tx(sender, SwapCall("pool", USDC, usdc * 10**6, min_out, deadline), 200 * GWEI, tip, 300_000, "t")


def test_block_orders_by_priority_fee_and_honours_latency_and_fee_caps() -> None:
    engine, chain, _pool, collector = _world(latency_ns=2 * 10**9)
    engine.start()
    engine.submit("a", _swap("a", 1000, 1.0))
    engine.submit("b", _swap("b", 1000, 5.0))
    engine.submit("c", _swap("c", 1000, 3.0))
    low = Tx("d", SwapCall("pool", USDC, 10**9, 0), 1 * GWEI, 1 * GWEI)  # max fee below the 20 gwei base fee
    engine.submit("d", low)
    chain.start(12 * 10**9, 24 * 10**9)
    engine.run(until_ns=11 * 10**9)
    engine.submit("late", _swap("late", 1000, 50.0))  # visible at 13 s: misses the 12 s block
    engine.run(until_ns=24 * 10**9)
    first = [r.sender for r in collector.receipts if r.block_number == 1]
    second = [r.sender for r in collector.receipts if r.block_number == 2]
    assert first == ["b", "c", "a"]
    assert second == ["late"]
    assert chain.pending == 1  # the under-priced transaction waits
    r = collector.receipts[0]
    assert r.status and r.effective_gas_price == 20 * GWEI + 5 * GWEI
    assert r.fee_wei == r.gas_used * r.effective_gas_price


def test_reverts_on_deadline_and_slippage_still_pay_gas() -> None:
    engine, chain, pool, collector = _world()
    engine.start()
    quoted = pool.quote_exact_in(USDC, 1000 * 10**6).amount_out
    engine.submit("old", _swap("old", 1000, 2.0, deadline=5 * 10**9))
    engine.submit("greedy", _swap("greedy", 1000, 1.0, min_out=quoted + 1))
    chain.start(12 * 10**9, 12 * 10**9)
    engine.run()
    reasons = {r.sender: (r.status, r.revert_reason, r.gas_used) for r in collector.receipts}
    assert reasons["old"][:2] == (False, "Transaction too old")
    assert reasons["greedy"][:2] == (False, "Too little received")
    assert all(gas > 0 for _, _, gas in reasons.values())
    assert chain.stats.reverts == 2


def test_sandwich_attacks_loose_slippage_only_and_victim_loss_is_exact() -> None:
    engine, chain, pool, collector = _world()
    bot = SandwichBot("bot", usd, capital_usd=20_000_000.0, search_steps=24)
    chain.attackers.append(bot)
    engine.start()
    size = 200_000 * 10**6
    clean = pool.quote_exact_in(USDC, size).amount_out
    engine.submit("tight", Tx("tight", SwapCall("pool", USDC, size, int(clean * 0.9995)), 200 * GWEI, GWEI))
    chain.start(12 * 10**9, 12 * 10**9)
    engine.run()
    assert bot.stats.count == 0
    # a fresh pool state for the loose victim
    engine, chain, pool, collector = _world()
    chain.attackers.append(bot)
    engine.start()
    min_out = int(clean * 0.97)
    engine.submit("loose", Tx("loose", SwapCall("pool", USDC, size, min_out), 200 * GWEI, GWEI))
    chain.start(12 * 10**9, 12 * 10**9)
    engine.run()
    assert bot.stats.count == 1 and bot.stats.profit_usd > 0
    (r,) = collector.receipts
    assert r.status and min_out <= r.amount_out < clean
    assert r.mev_loss == clean - r.amount_out
    assert engine.recorder.count("sandwich") == 1


def test_arbitrageur_realigns_pool_to_reference_within_fee_band() -> None:
    engine, chain, pool, _collector = _world()
    arb = PoolArbitrageur("arb", "pool", lambda s, t: 1.0 if s == "USDC" else 2400.0, tip_wei=GWEI)
    chain.top_of_block.append(arb)
    engine.start()
    chain.start(12 * 10**9, 24 * 10**9)
    engine.run()
    price = 1e12 / (pool.sqrt_price_x96 / Q96) ** 2
    assert arb.stats.count == 1  # once aligned, the second block has nothing to take
    assert 2400.0 * (1 - 0.0005) * 0.9999 <= price <= 2400.0 * (1 + 0.0005)
    assert arb.stats.profit_usd > 0


def test_tx_validation() -> None:
    with pytest.raises(Exception, match="max_fee_per_gas"):
        Tx("x", SwapCall("pool", USDC, 1, 0), GWEI, 2 * GWEI)
    engine, _chain, _pool, _collector = _world()
    with pytest.raises(Exception, match="no such venue"):
        engine.submit("x", Tx("x", SwapCall("nowhere", USDC, 1, 0), GWEI, GWEI))
    with pytest.raises(Exception, match="does not match"):
        engine.submit("y", Tx("x", SwapCall("pool", USDC, 1, 0), GWEI, GWEI))


def test_route_call_executes_a_split_plan_exactly_and_reverts_all_or_nothing() -> None:
    from keel.execution import SmartRouter
    from keel.sim.chain import RouteCall

    engine = Engine(seed=1, start_ns=0)
    a = make_pool()
    b = Pool(3000, 60, a.sqrt_price_x96, token0=USDC, token1=WETH, name="pool3000")
    t = b.tick // 60 * 60
    b.mint("lp", t - 3960, t + 3960, 10**18)
    chain = ChainSim(engine, ChainParams(latency_ns=0), {"pool": a, "pool3000": b})
    collector = Collector()
    engine.add_actor(collector)
    engine.start()
    router = SmartRouter([a, b])
    plan = router.quote_exact_in(USDC, WETH, 3_000_000 * 10**6)  # large enough to split across tiers
    assert len(plan.venues_touched) == 2
    greedy = RouteCall(plan, plan.amount_out + 1)
    engine.submit("greedy", Tx("greedy", greedy, 200 * GWEI, 2 * GWEI))
    engine.submit("ok", Tx("ok", RouteCall(plan, plan.amount_out), 200 * GWEI, GWEI))
    before = (a.sqrt_price_x96, b.sqrt_price_x96)
    chain.start(12 * 10**9, 12 * 10**9)
    engine.run()
    greedy_r, ok_r = collector.receipts
    assert not greedy_r.status and greedy_r.revert_reason == "Too little received"
    # the revert left both pools untouched, so the next call fills exactly as planned
    assert ok_r.status and ok_r.amount_out == plan.amount_out and ok_r.amount_in == plan.amount_in
    assert a.sqrt_price_x96 < before[0] and b.sqrt_price_x96 < before[1]
    assert ok_r.gas_used == plan.gas_units
