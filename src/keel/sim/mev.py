"""Counterparties and adversaries on the simulated chain: arbitrageurs, sandwich bots, noise traders.

Prices: ``usd_price(symbol, ts_ns)`` gives USD per whole token (the reference market);
pool amounts are ints in base units.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from keel.domain import Token
from keel.engine import Actor, Block
from keel.sim.chain import DEFAULT_SWAP_GAS, GWEI, ChainSim, SwapCall, Tx
from keel.venues.base import Revert

__all__ = ["NoiseTrader", "PoolArbitrageur", "SandwichBot", "UsdPrice"]

UsdPrice = Callable[[str, int], float]
Q96 = 2**96
MIN_SQRT_RATIO = 4295128739
MAX_SQRT_RATIO = 1461446703485210103287273353861538521736186101
ARB_GAS = 150_000


def _usd(usd_price: UsdPrice, token: Token, amount: int, ts_ns: int) -> float:
    return amount / token.unit * usd_price(token.symbol, ts_ns)


@dataclass(slots=True)
class ArbStats:
    count: int = 0
    profit_usd: float = 0.0
    gas_used: int = 0


class PoolArbitrageur:
    """Top-of-block arbitrage that realigns a Uniswap v3 pool to the reference price.

    It swaps, with a price limit, until the pool's marginal price net of the fee equals the
    reference (buy while ``pool·(1+fee) < ref``, sell while ``pool·(1−fee) > ref``), when the
    profit at the reference price beats the gas.  Uses the pool's ``quote``/``swap`` with
    ``sqrt_price_limit_x96`` (UniswapV3Pool semantics).
    """

    def __init__(self, name: str, venue: str, usd_price: UsdPrice, tip_wei: int = 2 * GWEI) -> None:
        self.name = name
        self.venue = venue
        self.usd_price = usd_price
        self.tip_wei = tip_wei
        self.stats = ArbStats()

    def top_of_block(self, chain: ChainSim, ts_ns: int) -> int:
        pool: Any = chain.venues[self.venue]
        t0: Token = pool.token0
        t1: Token = pool.token1
        p0 = self.usd_price(t0.symbol, ts_ns)
        p1 = self.usd_price(t1.symbol, ts_ns)
        fee = pool.fee / 1e6
        # reference raw price of token0 in token1 base units, as the pool stores it: (sqrtP/2^96)^2
        ref_raw = (p0 / t0.unit) / (p1 / t1.unit)
        sqrt_p = pool.sqrt_price_x96
        pool_raw = (sqrt_p / Q96) ** 2
        if pool_raw > ref_raw * (1 + fee):  # token0 rich in the pool: sell token0 (zero_for_one)
            zero_for_one = True
            target = ref_raw * (1 + fee)
        elif pool_raw < ref_raw * (1 - fee):  # token0 cheap: buy it with token1
            zero_for_one = False
            target = ref_raw * (1 - fee)
        else:
            return 0
        limit = int(math.sqrt(target) * Q96)
        limit = min(max(limit, MIN_SQRT_RATIO + 1), MAX_SQRT_RATIO - 1)
        if (zero_for_one and limit >= sqrt_p) or (not zero_for_one and limit <= sqrt_p):
            return 0
        try:
            a0, a1 = pool.quote(zero_for_one, 10**40, limit)
        except Revert:
            return 0
        value = -(a0 / t0.unit * p0 + a1 / t1.unit * p1)  # pool deltas: positive = paid into the pool
        gas_price = chain.base_fee + self.tip_wei
        gas_usd = ARB_GAS * gas_price / 1e18 * self.usd_price("ETH", ts_ns)
        if value <= gas_usd:
            return 0
        pool.swap(zero_for_one, 10**40, limit)
        self.stats.count += 1
        self.stats.profit_usd += value - gas_usd
        self.stats.gas_used += ARB_GAS
        chain.stats.arbitrages += 1
        chain.stats.gas_fees_wei += ARB_GAS * gas_price
        chain.engine.recorder.record(ts_ns, self.name, "arbitrage", self.venue, value=value - gas_usd)
        return ARB_GAS


@dataclass(slots=True)
class SandwichStats:
    count: int = 0
    profit_usd: float = 0.0
    victim_loss_usd: float = 0.0


class SandwichBot:
    """Front-runs and back-runs swaps whose slippage tolerance leaves room for profit.

    For a victim swapping ``x`` of token A with minimum output ``m``, it finds (by bisection
    on copies of the venue) the largest front-run ``f`` (≤ ``capital_usd``) that still lets
    the victim's swap pass, and attacks when the round trip's profit at the reference price
    beats two swaps' gas.  The victim's loss is its output without the attack minus with it.
    """

    def __init__(
        self,
        name: str,
        usd_price: UsdPrice,
        capital_usd: float = 5_000_000.0,
        min_slack: float = 0.0015,
        tip_wei: int = 3 * GWEI,
        search_steps: int = 10,
    ) -> None:
        self.name = name
        self.usd_price = usd_price
        self.capital_usd = capital_usd
        self.min_slack = min_slack
        self.tip_wei = tip_wei
        self.search_steps = search_steps
        self.stats = SandwichStats()

    def attack(self, chain: ChainSim, victim: Tx, ts_ns: int) -> tuple[int, Callable[[], None]] | None:
        if victim.sender == self.name:
            return None
        call = victim.call
        if not isinstance(call, SwapCall):
            return None
        venue: Any = chain.venues[call.venue]
        token_in: Token = call.token_in
        token_out: Token = venue.token1 if token_in == venue.token0 else venue.token0
        try:
            clean = venue.quote_exact_in(token_in, call.amount_in).amount_out
        except Revert:
            return None
        if clean <= 0 or clean < call.min_amount_out or 1.0 - call.min_amount_out / clean < self.min_slack:
            return None
        p_in = self.usd_price(token_in.symbol, ts_ns)
        cap = int(self.capital_usd / p_in * token_in.unit)

        def victim_out(front: int) -> int:
            trial = venue.copy()
            try:
                trial.swap_exact_in(token_in, front)
                return int(trial.quote_exact_in(token_in, call.amount_in).amount_out)
            except Revert:
                return -1

        lo, hi = 0, cap
        if victim_out(hi) < call.min_amount_out:
            for _ in range(self.search_steps):
                mid = (lo + hi) // 2
                if victim_out(mid) >= call.min_amount_out:
                    lo = mid
                else:
                    hi = mid
            front = lo
        else:
            front = hi
        if front <= 0:
            return None
        trial = venue.copy()
        got = trial.swap_exact_in(token_in, front).amount_out
        victim_gets = trial.swap_exact_in(token_in, call.amount_in).amount_out
        back = trial.swap_exact_in(token_out, got).amount_out
        gas_price = chain.base_fee + self.tip_wei
        gas_usd = 2 * DEFAULT_SWAP_GAS * gas_price / 1e18 * self.usd_price("ETH", ts_ns)
        profit_usd = (back - front) / token_in.unit * p_in - gas_usd
        if profit_usd <= 0.0 or victim_gets < call.min_amount_out:
            return None
        got_real = venue.swap_exact_in(token_in, front).amount_out  # the front-run, ahead of the victim
        loss = clean - victim_gets
        p_out = self.usd_price(token_out.symbol, ts_ns)

        def back_run() -> None:
            back_real = venue.swap_exact_in(token_out, got_real).amount_out
            real_profit = (back_real - front) / token_in.unit * p_in - gas_usd
            self.stats.count += 1
            self.stats.profit_usd += real_profit
            self.stats.victim_loss_usd += loss / token_out.unit * p_out
            chain.stats.gas_fees_wei += 2 * DEFAULT_SWAP_GAS * gas_price
            chain.engine.recorder.record(
                ts_ns, self.name, "sandwich", call.venue, value=real_profit, detail=f"victim={victim.sender}"
            )

        return loss, back_run


class NoiseTrader(Actor):
    """Uninformed swappers: a Poisson number of swaps per block, log-normal USD sizes, random side.

    A share ``loose_share`` set a loose slippage tolerance (uniform in ``loose_tolerance``),
    the rest a tight one; each quotes the pool when it submits and sets ``min_out`` from it.
    """

    def __init__(
        self,
        name: str,
        venue: str,
        chain: ChainSim,
        usd_price: UsdPrice,
        swaps_per_block: float = 0.4,
        median_usd: float = 15_000.0,
        loose_share: float = 0.2,
        loose_tolerance: tuple[float, float] = (0.005, 0.03),
        tight_tolerance: tuple[float, float] = (0.0005, 0.003),
    ) -> None:
        super().__init__(name)
        self.venue = venue
        self.chain = chain
        self.usd_price = usd_price
        self.rate = swaps_per_block
        self.median_usd = median_usd
        self.loose_share = loose_share
        self.loose = loose_tolerance
        self.tight = tight_tolerance

    def on_block(self, block: Block) -> None:
        rng = self.ctx.rng
        n = int(rng.poisson(self.rate))
        pool: Any = self.chain.venues[self.venue]
        for _ in range(n):
            token_in: Token = pool.token0 if rng.random() < 0.5 else pool.token1
            size_usd = self.median_usd * float(rng.lognormal(0.0, 1.0))
            amount_in = int(size_usd / self.usd_price(token_in.symbol, block.ts_ns) * token_in.unit)
            band = self.loose if rng.random() < self.loose_share else self.tight
            tol = float(rng.uniform(band[0], band[1]))
            try:
                quoted = pool.quote_exact_in(token_in, amount_in).amount_out
            except Revert:
                continue
            tip = int(float(rng.uniform(0.5, 3.0)) * GWEI)
            call = SwapCall(self.venue, token_in, amount_in, int(quoted * (1.0 - tol)), block.ts_ns + 120 * 10**9)
            self.ctx.submit(Tx(self.name, call, 2 * block.base_fee_wei + tip, tip, 300_000, tag="noise"))
