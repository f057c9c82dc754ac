"""Intents: the user states an outcome, the controller finds the path or says why it cannot.

* :class:`Intent` -- sell exactly ``amount`` of ``sell_token`` for at least ``min_out`` of
  ``buy_token`` by ``deadline_block``.
* :class:`HedgeIntent` -- bring the position's delta (base units of the hedge asset) to
  ``target_delta`` unless it is already within ``band``, spending at most ``max_cost`` (quote
  base units: shortfall against the oracle plus gas) by ``deadline_block``.

:func:`submit_intent` and :func:`submit_hedge` check the outcome against the current venues: they
either register an ``IMMEDIATE`` parent order with the :class:`ExecutionController` (which then
fills it, re-planning each block until the deadline) or refuse with a reason.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from keel.domain import Token
from keel.errors import KeelError, ValidationError
from keel.execution.controller import Algo, ExecutionController, ParentOrder
from keel.execution.router import RoutePlan
from keel.venues.base import Venue

__all__ = ["HedgeIntent", "Intent", "IntentDecision", "submit_hedge", "submit_intent"]


def _int(name: str, value: int, *, positive: bool = False, non_negative: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(name, value, "must be an int")
    if positive and value <= 0:
        raise ValidationError(name, value, "must be positive")
    if non_negative and value < 0:
        raise ValidationError(name, value, "must be non-negative")


@dataclass(frozen=True, slots=True)
class Intent:
    """Sell ``amount`` base units of ``sell_token`` for >= ``min_out`` of ``buy_token`` by ``deadline_block``."""

    sell_token: Token
    buy_token: Token
    amount: int
    min_out: int
    deadline_block: int

    def __post_init__(self) -> None:
        if not isinstance(self.sell_token, Token) or not isinstance(self.buy_token, Token):
            raise ValidationError("sell_token/buy_token", (self.sell_token, self.buy_token), "must be Tokens")
        if self.sell_token == self.buy_token:
            raise ValidationError("buy_token", self.buy_token.symbol, "must differ from sell_token")
        _int("amount", self.amount, positive=True)
        _int("min_out", self.min_out, non_negative=True)
        _int("deadline_block", self.deadline_block, non_negative=True)


@dataclass(frozen=True, slots=True)
class HedgeIntent:
    """Reach ``target_delta`` (hedge-asset base units) within ``band``, at most ``max_cost`` (quote base units)."""

    target_delta: int
    band: int
    max_cost: int
    deadline_block: int

    def __post_init__(self) -> None:
        _int("target_delta", self.target_delta)
        _int("band", self.band, non_negative=True)
        _int("max_cost", self.max_cost, non_negative=True)
        _int("deadline_block", self.deadline_block, non_negative=True)


@dataclass(frozen=True, slots=True)
class IntentDecision:
    """``accepted`` with the registered ``order_id`` (None when no trade is needed) and the
    plan it was checked with, or refused with ``reason``.  ``cost`` is the estimated cost
    (output-token base units for an Intent's shortfall, quote base units for a hedge)."""

    accepted: bool
    reason: str
    order_id: str | None = None
    plan: RoutePlan | None = None
    cost: int = 0


def submit_intent(
    controller: ExecutionController,
    intent: Intent,
    *,
    order_id: str,
    block_number: int,
    venues: Iterable[Venue],
    oracle_price: Mapping[Token, float],
    slippage_bps: float = 10_000 - 1e-9,
) -> IntentDecision:
    """Check ``intent`` on the current venues; register it with ``controller`` or refuse.

    Refusals: the deadline has passed, no route exists, or ``min_out`` is unreachable at the
    current liquidity (the best route's output is below it).  ``slippage_bps`` adds an oracle
    guard to every child (default: none beyond the intent's own ``min_out``).
    """
    if block_number > intent.deadline_block:
        return IntentDecision(False, f"deadline_block={intent.deadline_block} already passed (block {block_number})")
    try:
        router = controller.router(venues, oracle_price)
        plan = router.quote_exact_in(intent.sell_token, intent.buy_token, intent.amount)
    except KeelError as exc:
        return IntentDecision(False, f"no route: {exc}")
    if plan.amount_out < intent.min_out:
        return IntentDecision(
            False,
            f"min_out={intent.min_out} unreachable at current liquidity: best route gives {plan.amount_out}",
            plan=plan,
        )
    order = ParentOrder(
        order_id,
        intent.sell_token,
        intent.buy_token,
        intent.amount,
        Algo.IMMEDIATE,
        block_number,
        intent.deadline_block,
        slippage_bps=slippage_bps,
        min_out=intent.min_out,
    )
    controller.submit(order)
    return IntentDecision(True, "accepted", order_id, plan, plan.amount_out - intent.min_out)


def submit_hedge(
    controller: ExecutionController,
    intent: HedgeIntent,
    *,
    order_id: str,
    current_delta: int,
    asset: Token,
    quote: Token,
    block_number: int,
    venues: Iterable[Venue],
    oracle_price: Mapping[Token, float],
) -> IntentDecision:
    """Plan the trade that moves ``current_delta`` to ``intent.target_delta`` (base units of ``asset``).

    Buying ``gap`` asset is planned exact-out (quote spent for exactly ``gap``), selling is exact
    in.  The cost is the shortfall against the oracle plus gas, in quote base units; the intent
    is refused when it exceeds ``max_cost``.  The registered order's ``min_out`` guarantees
    the delta target (buy) or caps the cost (sell).
    """
    _int("current_delta", current_delta)
    if block_number > intent.deadline_block:
        return IntentDecision(False, f"deadline_block={intent.deadline_block} already passed (block {block_number})")
    gap = intent.target_delta - current_delta
    if abs(gap) <= intent.band:
        return IntentDecision(True, f"within band: |{gap}| <= {intent.band}, no trade")
    try:
        router = controller.router(venues, oracle_price)
        if gap > 0:
            plan = router.quote_exact_out(quote, asset, gap)
        else:
            plan = router.quote_exact_in(asset, quote, -gap)
    except KeelError as exc:
        return IntentDecision(False, f"no route: {exc}")
    if gap > 0:
        fair_in = controller.oracle_value(asset, quote, gap, oracle_price)
        gas_in_quote = router.gas_cost(quote, plan.gas_units)
        cost = math.ceil(plan.amount_in - fair_in) + gas_in_quote
    else:
        fair_out = controller.oracle_value(asset, quote, -gap, oracle_price)
        cost = math.ceil(fair_out - plan.amount_out) + plan.gas_cost
    if cost > intent.max_cost:
        return IntentDecision(
            False,
            f"hedge cost {cost} exceeds max_cost={intent.max_cost} ({'buy' if gap > 0 else 'sell'} {abs(gap)} {asset})",
            plan=plan,
            cost=cost,
        )
    if gap > 0:
        order = ParentOrder(
            order_id, quote, asset, plan.amount_in, Algo.IMMEDIATE, block_number, intent.deadline_block,
            slippage_bps=10_000 - 1e-9, min_out=max(1, gap - intent.band),
        )  # fmt: skip
    else:
        min_out = max(0, math.floor(fair_out) - (intent.max_cost - plan.gas_cost))
        order = ParentOrder(
            order_id, asset, quote, -gap, Algo.IMMEDIATE, block_number, intent.deadline_block,
            slippage_bps=10_000 - 1e-9, min_out=min_out,
        )  # fmt: skip
    controller.submit(order)
    return IntentDecision(True, "accepted", order_id, plan, cost)
