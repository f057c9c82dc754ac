"""Delta hedging: band policies (fixed, Whalley–Wilmott, Leland-adjusted) and the hedging agent.

Decisions are pure functions of the book's Greeks; the agent books what its receipts say.
Delta is in underlying units (ETH), gamma per ETH², spot USD.

Two ways to trade (``HedgeConfig.mode``):

* ``"intents"`` (default): each hedge is a :class:`keel.execution.HedgeIntent` (target delta, a
  fill tolerance of ``slippage`` × the trade, ``max_cost`` = ``max_cost_bps`` of its notional
  including gas, a deadline in blocks) worked by a :class:`keel.execution.ExecutionController`.
  The controller's children (re-planned each block on the venues, ``min_out`` from the intent)
  go on chain as :class:`RouteCall` transactions; receipts go back to ``on_result``.  Refused
  intents (``max_cost`` exceeded, no route), skipped blocks (quote below ``min_out``) and
  expired orders are recorded as events (``hedge_refused``, ``hedge_skipped``,
  ``hedge_expired``) and counted in :attr:`DeltaHedger.intent_stats`.

Pipeline: the hedger subscribes to the oracle's readings (``keel.oracle.ORACLE_READINGS``) and
the risk actor's events (``keel.risk.RISK_EVENTS``), both published earlier in the same block.
On a HALTED reading it decides nothing: the block's decision is a ``DecisionSkipped`` event
(cause ``"oracle_halted"``, the oracle's reasons in ``reason``) and a working order is shown the
halted price, so the execution controller's guard skips it too.  A ``HedgeRequested`` (delta)
makes it trade in the same block, band or not.
* ``"route"``: one swap per hedge, quoted at submission with ``min_out = quote × (1 − slippage)``
  (a :class:`SwapCall` on the main pool, or a :class:`RouteCall` of a SmartRouter plan).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from keel.agents.book import DeskBook
from keel.domain import NS_PER_SECOND, NS_PER_YEAR
from keel.engine import (
    DECISIONS,
    FILLS,
    INTENTS,
    Actor,
    Block,
    DecisionSkipped,
    FillEvent,
    IntentStated,
)
from keel.engine.transactions import GWEI, RECEIPTS, Receipt, RouteCall, SwapCall, Tx
from keel.errors import ExecutionError, ValidationError
from keel.execution import (
    ChildFill,
    ChildOrder,
    ExecutionController,
    HedgeIntent,
    OrderStatus,
    SmartRouter,
    submit_hedge,
)
from keel.oracle.actor import ORACLE_READINGS
from keel.oracle.reading import OracleReading
from keel.risk.actor import RISK_EVENTS
from keel.risk.monitors import HedgeRequested
from keel.venues.base import Revert, Venue
from keel.venues.options import OptionsVenue

__all__ = [
    "BandPolicy",
    "DeltaHedger",
    "HedgeConfig",
    "IntentStats",
    "hedge_band",
    "hedge_trade",
    "leland_vol",
    "refusal_kind",
]


class BandPolicy(str, Enum):
    FIXED = "fixed"  # re-hedge to zero when |Δ| exceeds a fixed band
    WHALLEY_WILMOTT = "whalley_wilmott"  # asymptotically optimal band under proportional costs; hedge to its edge
    LELAND = "leland"  # Leland's cost-adjusted volatility for delta, fixed band


@dataclass(frozen=True, slots=True)
class HedgeConfig:
    """``band``: fixed half-width (underlying units); ``risk_aversion``: Whalley–Wilmott λ (1/USD);
    ``cost``: proportional cost of a hedge trade (fee + impact, fraction of notional);
    ``interval_ns``: Leland rebalancing interval (and the block time intents count deadlines in);
    ``slippage``: min-out tolerance (fraction of the trade); ``deadline_s``; ``tip_gwei``;
    ``mode``: ``"intents"`` or ``"route"`` (module docstring); ``max_cost_bps``: an intent's
    ``max_cost`` as basis points of the trade's notional (shortfall against the oracle plus gas)."""

    policy: BandPolicy = BandPolicy.FIXED
    band: float = 1.0
    risk_aversion: float = 1e-4
    cost: float = 0.001
    interval_ns: int = 12 * NS_PER_SECOND
    slippage: float = 0.005
    deadline_s: int = 60
    tip_gwei: float = 1.5
    mode: str = "intents"
    max_cost_bps: float = 100.0

    def __post_init__(self) -> None:
        if self.mode not in ("intents", "route"):
            raise ValidationError("hedge.mode", self.mode, "must be 'intents' or 'route'")
        if not self.max_cost_bps >= 0:
            raise ValidationError("hedge.max_cost_bps", self.max_cost_bps, "must be >= 0")
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


def refusal_kind(reason: str) -> str:
    """A short category for an intent refusal or skip reason (summary counters)."""
    if "max_cost" in reason:
        return "max_cost"
    if "min_out" in reason or "unreachable" in reason:
        return "min_out"
    if "deadline" in reason:
        return "deadline"
    if "no route" in reason:
        return "no_route"
    if "oracle" in reason or "halted" in reason:
        return "oracle"
    return "other"


@dataclass(slots=True)
class IntentStats:
    """Counters of the intent path: intents accepted, refused (by kind), children sent, reverted,
    blocks skipped by the controller (by kind), orders filled and expired."""

    intents: int = 0
    refused: int = 0
    children: int = 0
    child_reverts: int = 0
    filled: int = 0
    expired: int = 0
    skipped_blocks: int = 0
    refusals: dict[str, int] = field(default_factory=dict)
    skips: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "intents": self.intents,
            "refused": self.refused,
            "refusals": dict(sorted(self.refusals.items())),
            "children": self.children,
            "child_reverts": self.child_reverts,
            "filled": self.filled,
            "expired": self.expired,
            "skipped_blocks": self.skipped_blocks,
            "skips": dict(sorted(self.skips.items())),
        }


class DeltaHedger(Actor):
    """Keeps a :class:`DeskBook`'s net delta inside its band by trading on the chain's pools.

    Every block: Greeks at the price source's spot; if no hedge is working and the band is
    breached (or a risk monitor forced a hedge), it states a :class:`HedgeIntent` to the
    :class:`ExecutionController` (``mode="intents"``) or submits one swap (``mode="route"``).
    ``venues``: the pools intents may route across (default: ``pool`` alone, read each block so
    a live adapter may replace it).
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
        venues: Sequence[Venue] | None = None,
    ) -> None:
        super().__init__(name)
        self.book = book
        self.options = options
        self.pool = pool
        self.venue_name = venue_name
        self.spot = spot  # callable ts_ns -> USD per asset unit (the oracle's price)
        self.cfg = cfg
        self.router = router  # route mode: hedges are routed across its venues (RouteCall)
        self.venues = tuple(venues) if venues is not None else None
        self.in_flight: int | None = None
        self.forced = False  # a risk monitor asked for a hedge: trade at the next block, band or not
        self.submitted_spot = 0.0
        self.last_delta = 0.0
        self.last_band = 0.0
        asset = book.asset_token
        gas_token = asset if asset.symbol in ("WETH", "ETH") else None
        self.controller = ExecutionController(gas_price_wei=1 if gas_token else 0, gas_token=gas_token)
        self.order_id: str | None = None
        self.intent_stats = IntentStats()
        self._children: dict[int, ChildOrder] = {}
        self._seq = 0
        self._skips_seen = 0
        self.reading: OracleReading | None = None  # this block's oracle reading (None: no oracle actor)
        self.halted_skips = 0

    def on_start(self) -> None:
        self.ctx.subscribe(RECEIPTS)
        self.ctx.subscribe(ORACLE_READINGS)
        self.ctx.subscribe(RISK_EVENTS)

    def _price_now(self, ts: int) -> float:
        reading = self.reading
        if reading is not None and reading.usable:
            return float(reading.price)
        return float(self.spot(ts))

    def _oracle_halted(self, block: Block) -> bool:
        """On a HALTED reading: publish the skipped decision, let the controller's guard see the
        halted price for a working order, and return True (nothing is decided this block)."""
        reading = self.reading
        if reading is None or reading.usable:
            return False
        self.halted_skips += 1
        reason = "oracle halted: " + ("; ".join(reading.reasons) or "no usable price")
        skip = DecisionSkipped(block.ts_ns, block.number, self.name, "hedge", "oracle_halted", reason)
        self.ctx.publish(DECISIONS, skip)
        self.ctx.record("decision_skipped", "hedge", detail=reason)
        self.forced = False
        if self.cfg.mode == "intents" and self.order_id is not None:
            venues = list(self.venues) if self.venues is not None else [self.pool]
            self._work(block, venues, self._prices(math.nan), math.nan)
        return True

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

    def _decide(self, spot: float, ts: int) -> tuple[float, float]:
        """(net delta, underlying to trade) at ``spot``; clears a forced hedge."""
        net, gamma = self.net_delta(spot, ts)
        band = hedge_band(self.cfg.policy, gamma, spot, self.cfg)
        self.last_delta, self.last_band = net, band
        qty = -net if self.forced else hedge_trade(net, band, self.cfg.policy)
        self.forced = False
        return net, qty

    def on_block(self, block: Block) -> None:
        if self._oracle_halted(block):
            return
        if self.cfg.mode == "intents":
            self._intent_block(block)
            return
        if self.in_flight is not None:
            return
        ts = block.ts_ns
        spot = self._price_now(ts)
        net, qty = self._decide(spot, ts)
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

    # ------------------------------------------------------------------ intents
    def _prices(self, spot: float) -> dict[Any, float]:
        return {self.book.cash_token: 1.0, self.book.asset_token: spot}

    def _intent_block(self, block: Block) -> None:
        ts = block.ts_ns
        spot = self._price_now(ts)
        prices = self._prices(spot)
        venues = list(self.venues) if self.venues is not None else [self.pool]
        if self.controller.gas_token is not None:
            self.controller.gas_price_wei = block.base_fee_wei + int(self.cfg.tip_gwei * GWEI)
        if self.order_id is not None:
            self._work(block, venues, prices, spot)
            return
        net, qty = self._decide(spot, ts)
        if qty == 0.0:
            return
        asset, cash = self.book.asset_token, self.book.cash_token
        current = round(net * asset.unit)
        target = round((net + qty) * asset.unit)
        if target == current:
            return
        tolerance = int(abs(qty) * self.cfg.slippage * asset.unit)
        max_cost = int(abs(qty) * spot * self.cfg.max_cost_bps / 1e4 * cash.unit)
        blocks = max(1, -(-self.cfg.deadline_s * NS_PER_SECOND // self.cfg.interval_ns))
        intent = HedgeIntent(target, tolerance, max_cost, block.number + blocks)
        self._seq += 1
        order_id = f"{self.name}:{self._seq}"
        decision = submit_hedge(
            self.controller, intent, order_id=order_id, current_delta=current, asset=asset, quote=cash,
            block_number=block.number, venues=venues, oracle_price=prices,
        )  # fmt: skip
        st = self.intent_stats
        if not decision.accepted:
            kind = refusal_kind(decision.reason)
            st.refused += 1
            st.refusals[kind] = st.refusals.get(kind, 0) + 1
            self.ctx.record(
                "hedge_refused",
                kind,
                qty,
                spot,
                value=decision.cost / self.book.cash_token.unit,
                detail=decision.reason,
            )
            refused = IntentStated(ts, block.number, self.name, order_id, qty, net, False, kind, decision.reason)
            self.ctx.publish(INTENTS, refused)
            return
        if decision.order_id is None:
            return
        st.intents += 1
        self.ctx.publish(INTENTS, IntentStated(ts, block.number, self.name, order_id, qty, net, True))
        self.order_id = order_id
        self._skips_seen = 0
        self.submitted_spot = spot
        self.ctx.record(
            "hedge_intent", order_id, qty, spot, value=net,
            detail=f"target={target} band={tolerance} max_cost={max_cost} est_cost={decision.cost} "
            f"deadline_block={intent.deadline_block}",
        )  # fmt: skip
        self._work(block, venues, prices, spot)

    def _work(self, block: Block, venues: list[Venue], prices: dict[Any, float], spot: float) -> None:
        """Send the controller's children for this block; note skipped blocks and a finished order."""
        order_id = self.order_id
        assert order_id is not None
        tip = int(self.cfg.tip_gwei * GWEI)
        for child in self.controller.on_block(block.number, block.ts_ns, venues, prices):
            blocks_left = child.deadline_block - block.number
            deadline = block.ts_ns + max(blocks_left * self.cfg.interval_ns, NS_PER_SECOND)
            call = RouteCall(child.plan, child.min_out, deadline)
            gas_limit = max(300_000, child.plan.gas_units * 3 // 2 + 50_000)
            tx_id = self.ctx.submit(Tx(self.name, call, 2 * block.base_fee_wei + tip, tip, gas_limit, "hedge"))
            self._children[tx_id] = child
            self.intent_stats.children += 1
            unit = self.book.asset_token.unit
            selling = child.plan.token_in == self.book.asset_token
            qty = -child.amount_in / unit if selling else child.plan.amount_out / unit  # planned asset traded
            self.ctx.record(
                "hedge_submitted", ",".join(child.plan.venues_touched), qty, spot,
                value=self.last_delta, detail=f"order={order_id} min_out={child.min_out}",
            )  # fmt: skip
        self._check_done(spot)

    def _check_done(self, spot: float) -> None:
        order_id = self.order_id
        if order_id is None:
            return
        rep = self.controller.report(order_id)
        st = self.intent_stats
        for blk, reason in rep.skipped[self._skips_seen :]:
            kind = refusal_kind(reason)
            st.skipped_blocks += 1
            st.skips[kind] = st.skips.get(kind, 0) + 1
            self.ctx.record("hedge_skipped", kind, 0.0, spot, value=float(blk), detail=f"order={order_id}: {reason}")
        self._skips_seen = len(rep.skipped)
        if rep.status is OrderStatus.WORKING or any(c.order_id == order_id for c in self._children.values()):
            return
        if rep.status is OrderStatus.FILLED:
            st.filled += 1
        else:
            st.expired += 1
            self.ctx.record(
                "hedge_expired", order_id, rep.remaining / self.book.asset_token.unit, spot,
                detail=f"filled_in={rep.filled_in} of {rep.amount}; reverts={rep.reverts}",
            )  # fmt: skip
        self.order_id = None

    def on_event(self, topic: str, message: object) -> None:
        if isinstance(message, OracleReading):
            self.reading = message
            return
        if isinstance(message, HedgeRequested):
            if message.greek == "delta":
                self.forced = True
            return
        if not isinstance(message, Receipt) or message.sender != self.name:
            return
        self.in_flight = None
        child = self._children.pop(message.tx_id, None)
        if child is not None:
            result: ChildFill | Revert
            if message.status:
                result = ChildFill(message.amount_in, message.amount_out, message.gas_used)
            else:
                result = Revert(message.revert_reason or "REVERTED")
                self.intent_stats.child_reverts += 1
            self.controller.on_result(child, result)
            self._check_done(float(self.spot(message.ts_ns)))
        book = self.book
        spot = float(self.spot(message.ts_ns))
        eth_usd = spot if book.asset_token.symbol in ("WETH", "ETH") else float(self.spot(message.ts_ns))
        gas_usd = message.fee_wei / 1e18 * eth_usd
        book.add_costs(gas_usd=gas_usd)
        if not message.status:
            self.ctx.record("hedge_reverted", self.venue_name, 0.0, spot, value=gas_usd, detail=message.revert_reason)
            return
        book.book_swap(message.token_in, message.amount_in, message.amount_out)
        if message.token_in == book.cash_token.symbol:
            qty = message.amount_out / book.asset_token.unit
            paid = message.amount_in / book.cash_token.unit
            slippage = paid - qty * spot
            mev = message.mev_loss / book.asset_token.unit * spot
        else:
            qty = -message.amount_in / book.asset_token.unit
            got = message.amount_out / book.cash_token.unit
            slippage = -qty * spot - got
            mev = message.mev_loss / book.cash_token.unit
        book.add_costs(mev_loss_usd=mev, slippage_usd=slippage - mev)
        self.ctx.record("hedge_fill", self.venue_name, qty, spot, value=slippage, detail=f"gas_usd={gas_usd:.4f}")
        if qty != 0.0:
            cash_moved = message.amount_in if message.token_in == book.cash_token.symbol else message.amount_out
            price = cash_moved / book.cash_token.unit / abs(qty)
            fill = FillEvent(
                message.ts_ns, message.block_number, self.name, "hedge", book.asset_token.symbol, qty, price
            )
            self.ctx.publish(FILLS, fill)
