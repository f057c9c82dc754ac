"""A small custom strategy: keep a fixed share of the agent's wealth in the pool's volatile token.

Run it from a config (``examples/custom_strategy.toml``)::

    [[agents]]
    class = "examples.strategies.rebalancer:InventoryRebalancer"
    name = "rebalancer"
    fund = { USDC = 500000, WETH = 200 }      # simulated chain only; live balances are the chain's
    params = { target_share = 0.5, band = 0.02 }

What it shows: parameters validated by the class's own pydantic model (``Params``); the oracle's
full reading from the pipeline (``ORACLE_READINGS``), with no trade and a ``DecisionSkipped``
event on a HALTED reading; balances and pools from the environment (the same calls in simulation
and live); one swap transaction at a time, booked from its receipt.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from keel.domain import Token
from keel.engine import DECISIONS, RECEIPTS, Actor, Block, DecisionSkipped, Environment, Receipt, SwapCall, Tx
from keel.oracle import ORACLE_READINGS, OracleReading

STABLES = ("USDC", "USDT", "DAI")


class InventoryRebalancer(Actor):
    """Trades the pool back to ``target_share`` of wealth in the volatile token when it leaves the band."""

    class Params(BaseModel):
        model_config = ConfigDict(extra="forbid", frozen=True)

        venue: str = "uniswap_v3_usdc_weth"
        target_share: float = Field(default=0.5, gt=0.0, lt=1.0)
        band: float = Field(default=0.02, gt=0.0, lt=0.5)
        slippage_bps: float = Field(default=50.0, gt=0.0, lt=1000.0)
        min_trade_usd: float = Field(default=100.0, ge=0.0)
        tip_gwei: float = Field(default=1.0, ge=0.0)
        deadline_s: int = Field(default=60, gt=0)

    def __init__(self, name: str, params: Params, environment: Environment) -> None:
        super().__init__(name)
        if params.venue not in environment.venues:
            from keel.errors import ConfigError

            raise ConfigError("params.venue", params.venue, f"no such pool (have {sorted(environment.venues)})")
        self.params = params
        self.env = environment
        self.reading: OracleReading | None = None
        self.pending: int | None = None
        self.trades = 0
        self.reverts = 0
        self.skipped = 0
        venue = environment.venues[params.venue]
        token0, token1 = venue.token0, venue.token1
        self.cash, self.asset = (token0, token1) if token0.symbol in STABLES else (token1, token0)

    def on_start(self) -> None:
        self.ctx.subscribe(ORACLE_READINGS)
        self.ctx.subscribe(RECEIPTS)

    def on_event(self, topic: str, message: object) -> None:
        if isinstance(message, OracleReading):
            self.reading = message
        elif isinstance(message, Receipt) and message.sender == self.name:
            self.pending = None
            if message.status:
                self.trades += 1
            else:
                self.reverts += 1

    def on_block(self, block: Block) -> None:
        reading = self.reading
        if reading is None or not reading.usable:
            self.skipped += 1
            why = "; ".join(reading.reasons) if reading is not None else "no reading yet"
            skip = DecisionSkipped(block.ts_ns, block.number, self.name, "trade", "oracle_halted", why)
            self.ctx.publish(DECISIONS, skip)
            return
        if self.pending is not None:
            return
        p = self.params
        price = reading.price  # USD per volatile token
        cash = self.env.balance(self.name, self.cash.symbol) / self.cash.unit
        asset = self.env.balance(self.name, self.asset.symbol) / self.asset.unit
        wealth = cash + asset * price
        if wealth <= 0.0:
            return
        share = asset * price / wealth
        if abs(share - p.target_share) <= p.band:
            return
        trade_usd = (p.target_share - share) * wealth  # + buy the volatile token
        if abs(trade_usd) < p.min_trade_usd:
            return
        token_in: Token
        if trade_usd > 0:
            token_in, amount_in, expected = (
                self.cash,
                int(trade_usd * self.cash.unit),
                trade_usd / price * self.asset.unit,
            )
        else:
            token_in, amount_in, expected = (
                self.asset,
                int(-trade_usd / price * self.asset.unit),
                -trade_usd * self.cash.unit,
            )
        min_out = int(expected * (1.0 - p.slippage_bps / 1e4))
        tip = int(p.tip_gwei * 10**9)
        call = SwapCall(p.venue, token_in, amount_in, min_out, block.ts_ns + p.deadline_s * 10**9)
        self.pending = self.env.submit(Tx(self.name, call, 2 * block.base_fee_wei + tip, tip, 300_000, "rebalance"))
        self.ctx.record("rebalance_submitted", token_in.symbol, amount_in / token_in.unit, price, value=share)

    def summary(self) -> dict[str, Any]:
        held = {t.symbol: self.env.balance(self.name, t.symbol) for t in (self.cash, self.asset)}
        return {"trades": self.trades, "reverts": self.reverts, "skipped_blocks": self.skipped, "balances": held}
