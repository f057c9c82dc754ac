"""Delta hedging: band policies (fixed, Whalley–Wilmott, Leland-adjusted) and the hedging agent.

Decisions are pure functions of the book's Greeks; the agent submits swaps on the chain and
books what its receipts say.  Delta is in underlying units (ETH), gamma per ETH², spot USD.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from typing import Any

from keel.agents.book import DeskBook
from keel.domain import NS_PER_SECOND, NS_PER_YEAR
from keel.engine import Actor, Block
from keel.engine.transactions import GWEI, RECEIPTS, Receipt, RouteCall, SwapCall, Tx
from keel.errors import ExecutionError, ValidationError
from keel.execution import SmartRouter
from keel.venues.base import Revert
from keel.venues.options import OptionsVenue

__all__ = ["BandPolicy", "DeltaHedger", "HedgeConfig", "hedge_band", "hedge_trade", "leland_vol"]


class BandPolicy(str, Enum):
    FIXED = "fixed"  # re-hedge to zero when |Δ| exceeds a fixed band
    WHALLEY_WILMOTT = "whalley_wilmott"  # asymptotically optimal band under proportional costs; hedge to its edge
    LELAND = "leland"  # Leland's cost-adjusted volatility for delta, fixed band


@dataclass(frozen=True, slots=True)
class HedgeConfig:
    """``band``: fixed half-width (underlying units); ``risk_aversion``: Whalley–Wilmott λ (1/USD);
    ``cost``: proportional cost of a hedge trade (fee + impact, fraction of notional);
    ``interval_ns``: Leland rebalancing interval; ``slippage``: min-out tolerance; ``deadline_s``."""

    policy: BandPolicy = BandPolicy.FIXED
    band: float = 1.0
    risk_aversion: float = 1e-4
    cost: float = 0.001
    interval_ns: int = 12 * NS_PER_SECOND
    slippage: float = 0.005
    deadline_s: int = 60
    tip_gwei: float = 1.5

    def __post_init__(self) -> None:
        if self.band < 0 or self.risk_aversion <= 0 or self.cost < 0:
            raise ValidationError("hedge", (self.band, self.risk_aversion, self.cost), "band, λ and cost must be >= 0")
        if not 0.0 < self.slippage < 0.5:
            raise ValidationError("hedge.slippage", self.slippage, "must be in (0, 0.5)")


def leland_vol(sigma: float, cost: float, interval_ns: int, short_gamma: bool) -> float:
    """Leland (1985): σ_L² = σ²(1 ± √(2/π)·k/(σ√δt)); + for a short-gamma book (the hedger pays the spread)."""
    dt = interval_ns / NS_PER_YEAR
    le = math.sqrt(2.0 / math.pi) * cost / (sigma * math.sqrt(dt))
    factor = 1.0 + le if short_gamma else max(1.0 - le, 0.01)
    return sigma * math.sqrt(factor)


def hedge_band(policy: BandPolicy, gamma: float, spot: float, cfg: HedgeConfig) -> float:
    """Half-width of the no-trade band around zero delta (underlying units)."""
    if policy is BandPolicy.WHALLEY_WILMOTT:
        # Whalley & Wilmott (1997): H = (3/2 · k S Γ² / λ)^(1/3), k proportional cost, λ risk aversion
        return float((1.5 * cfg.cost * spot * gamma * gamma / cfg.risk_aversion) ** (1.0 / 3.0))
    return cfg.band


def hedge_trade(net_delta: float, band: float, policy: BandPolicy) -> float:
    """Underlying to buy (+) or sell (−): zero inside the band; WW trades to the band's edge, others to zero."""
    if abs(net_delta) <= band:
        return 0.0
    if policy is BandPolicy.WHALLEY_WILMOTT:
        return -(net_delta - math.copysign(band, net_delta))
    return -net_delta


class DeltaHedger(Actor):
    """Keeps a :class:`DeskBook`'s net delta inside its band by swapping on a pool of the chain.

    Every block: Greeks at the price source's spot; if no hedge is in flight and the band is
    breached, submits one exact-input swap with min-out = quote × (1 − slippage) and a deadline.
    """

    def __init__(
        self,
        name: str,
        book: DeskBook,
        options: OptionsVenue,
        pool: Any,
        venue_name: str,
        spot: Any,
        cfg: HedgeConfig,
        router: SmartRouter | None = None,
    ) -> None:
        super().__init__(name)
        self.book = book
        self.options = options
        self.pool = pool
        self.venue_name = venue_name
        self.spot = spot  # callable ts_ns -> USD per asset unit (the oracle's price)
        self.cfg = cfg
        self.router = router  # when given, hedges are routed across its venues (RouteCall)
        self.in_flight: int | None = None
        self.forced = False  # a risk monitor asked for a hedge: trade at the next block, band or not
        self.submitted_spot = 0.0
        self.last_delta = 0.0
        self.last_band = 0.0

    def on_start(self) -> None:
        self.ctx.subscribe(RECEIPTS)

    def net_delta(self, spot: float, ts_ns: int) -> tuple[float, float]:
        """(net delta including the asset held, option gamma) at ``spot``."""
        g = self.book.greeks(self.options, spot, ts_ns)
        delta = g.delta
        if self.cfg.policy is BandPolicy.LELAND and g.gamma != 0.0:
            delta = 0.0
            for name in sorted(self.book.options):
                option, qty = self.book.options[name]
                if option.expiry_ns <= ts_ns:
                    continue
                sigma = self.options.mark_vol(option, spot, ts_ns)
                sig_l = leland_vol(sigma, self.cfg.cost, self.cfg.interval_ns, short_gamma=qty * g.gamma < 0)
                T = (option.expiry_ns - ts_ns) / NS_PER_YEAR
                from keel.pricing.kernels import bs_delta

                delta += qty * float(
                    bs_delta(float(option.kind.sign), spot, float(option.strike), T, self.options.rate, 0.0, sig_l)
                )
        return delta + self.book.asset_units(), g.gamma

    def on_block(self, block: Block) -> None:
        if self.in_flight is not None:
            return
        ts = block.ts_ns
        spot = float(self.spot(ts))
        net, gamma = self.net_delta(spot, ts)
        band = hedge_band(self.cfg.policy, gamma, spot, self.cfg)
        self.last_delta, self.last_band = net, band
        qty = -net if self.forced else hedge_trade(net, band, self.cfg.policy)
        self.forced = False
        if qty == 0.0:
            return
        cash_t, asset_t = self.book.cash_token, self.book.asset_token
        if qty > 0:  # buy the asset with cash: exact input of cash
            token_in, amount_in = cash_t, int(qty * spot * cash_t.unit)
        else:
            token_in, amount_in = asset_t, int(-qty * asset_t.unit)
        if amount_in <= 0:
            return
        tip = int(self.cfg.tip_gwei * GWEI)
        deadline = ts + self.cfg.deadline_s * NS_PER_SECOND
        call: SwapCall | RouteCall
        try:
            if self.router is not None:
                token_out = asset_t if token_in == cash_t else cash_t
                self.router.gas_price_wei = block.base_fee_wei + tip
                plan = self.router.quote_exact_in(token_in, token_out, amount_in)
                call = RouteCall(plan, int(plan.amount_out * (1.0 - self.cfg.slippage)), deadline)
            else:
                quoted = self.pool.quote_exact_in(token_in, amount_in).amount_out
                min_out = int(quoted * (1.0 - self.cfg.slippage))
                call = SwapCall(self.venue_name, token_in, amount_in, min_out, deadline)
        except (Revert, ExecutionError) as exc:
            self.ctx.record("hedge_refused", self.venue_name, qty, spot, detail=str(exc))
            return
        self.in_flight = self.ctx.submit(Tx(self.name, call, 2 * block.base_fee_wei + tip, tip, 300_000, "hedge"))
        self.submitted_spot = spot
        self.ctx.record("hedge_submitted", self.venue_name, qty, spot, value=net)

    def on_event(self, topic: str, message: object) -> None:
        if type(message).__name__ == "HedgeRequested" and getattr(message, "greek", "") == "delta":
            self.forced = True
            return
        if not isinstance(message, Receipt) or message.sender != self.name:
            return
        self.in_flight = None
        book = self.book
        spot = float(self.spot(message.ts_ns))
        eth_usd = spot if book.asset_token.symbol in ("WETH", "ETH") else float(self.spot(message.ts_ns))
        gas_usd = message.fee_wei / 1e18 * eth_usd
        book.gas_usd += gas_usd
        if not message.status:
            self.ctx.record("hedge_reverted", self.venue_name, 0.0, spot, value=gas_usd, detail=message.revert_reason)
            return
        if message.token_in == book.cash_token.symbol:
            book.cash -= message.amount_in
            book.asset += message.amount_out
            qty = message.amount_out / book.asset_token.unit
            paid = message.amount_in / book.cash_token.unit
            slippage = paid - qty * spot
            mev = message.mev_loss / book.asset_token.unit * spot
        else:
            book.asset -= message.amount_in
            book.cash += message.amount_out
            qty = -message.amount_in / book.asset_token.unit
            got = message.amount_out / book.cash_token.unit
            slippage = -qty * spot - got
            mev = message.mev_loss / book.cash_token.unit
        book.mev_loss_usd += mev
        book.slippage_usd += slippage - mev
        book.hedge_trades += 1
        self.ctx.record("hedge_fill", self.venue_name, qty, spot, value=slippage, detail=f"gas_usd={gas_usd:.4f}")
