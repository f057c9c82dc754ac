"""Liquidation rules: when to liquidate, how much, and at what close-out price.

- Trigger: an account is liquidated only if it is below maintenance even at the *favourable*
  edge of every oracle confidence band (:func:`favourable_edges`); a halted reading freezes.
- Size: partial, back to maintenance × (1 + ``buffer``) (:func:`partial_fraction`).
- Price: a Dutch auction whose discount to mark grows with time since the account was flagged
  until a liquidator's required discount is met, or a penalty sized to available depth
  (:func:`closeout_discount`).  Discounts are fractions of the mark (0.02 = 2%).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

from keel.domain import NS_PER_MINUTE
from keel.errors import ValidationError

__all__ = ["CloseoutMode", "LiquidationPolicy", "closeout_discount", "partial_fraction"]


class CloseoutMode(str, Enum):
    DUTCH_AUCTION = "dutch_auction"
    DEPTH_PENALTY = "depth_penalty"


@dataclass(frozen=True, slots=True)
class LiquidationPolicy:
    """Parameters of the liquidation engine.

    ``buffer``: partial liquidation restores equity to maintenance × (1 + buffer).
    ``min_fraction``: smallest fraction of each position closed in one liquidation.
    Dutch auction: discount starts at ``auction_start`` and grows by ``auction_step_per_min``
    per minute up to ``max_discount``; a liquidator fills once the discount reaches its
    required discount ``liquidator_base + liquidator_impact × notional/depth``.
    Depth penalty: discount = ``penalty_base + penalty_impact × notional/depth`` (capped).
    ``liquidation_fee``: fraction of closed notional paid to the insurance fund from what
    equity remains.  ``safe_ratio``: accounts whose collateral exceeds this multiple of
    maintenance at mid are not re-evaluated at the band edges (a pure speed shortcut).
    ``adl_after_ns``: an account below maintenance that no liquidator has taken for this long
    (at once when no liquidator is there at all) is auto-deleveraged (at the mark, or at its
    bankruptcy price if equity is negative) before its losses outgrow its collateral; ADL
    also runs at once when a deficit exceeds the fund.
    """

    mode: CloseoutMode = CloseoutMode.DUTCH_AUCTION
    buffer: float = 0.10
    min_fraction: float = 0.10
    auction_start: float = 0.01
    auction_step_per_min: float = 0.02
    max_discount: float = 0.15
    liquidator_base: float = 0.005
    liquidator_impact: float = 0.1
    penalty_base: float = 0.01
    penalty_impact: float = 0.5
    liquidation_fee: float = 0.005
    safe_ratio: float = 3.0
    adl_after_ns: int = 3 * NS_PER_MINUTE

    def __post_init__(self) -> None:
        for name in ("buffer", "auction_start", "auction_step_per_min", "liquidator_base", "liquidator_impact"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v >= 0):
                raise ValidationError(name, v, "must be finite and >= 0")
        for name in ("penalty_base", "penalty_impact", "liquidation_fee"):
            v = getattr(self, name)
            if not (math.isfinite(v) and v >= 0):
                raise ValidationError(name, v, "must be finite and >= 0")
        if not 0.0 < self.min_fraction <= 1.0:
            raise ValidationError("min_fraction", self.min_fraction, "must be in (0, 1]")
        if not 0.0 <= self.max_discount < 1.0:
            raise ValidationError("max_discount", self.max_discount, "must be in [0, 1)")
        if self.adl_after_ns < 0:
            raise ValidationError("adl_after_ns", self.adl_after_ns, "must be >= 0")
        if not self.safe_ratio >= 1.0:
            raise ValidationError("safe_ratio", self.safe_ratio, "must be >= 1")


def closeout_discount(
    policy: LiquidationPolicy,
    notional_usd: float,
    depth_usd: float,
    elapsed_ns: int,
    liquidators_present: bool,
    gap: float = 0.0,
) -> float | None:
    """Discount to mark at which the close-out fills now, or None if nobody takes it.

    ``depth_usd``: order-book (or AMM) depth available within the max discount; the
    liquidator's required discount and the penalty both grow with ``notional/depth``.
    ``gap``: how far the mark is from where the liquidator can trade, in its disfavour
    (a stale oracle), added to what it requires.
    """
    if not liquidators_present:
        return None
    if not (math.isfinite(notional_usd) and notional_usd >= 0):
        raise ValidationError("notional_usd", notional_usd, "must be finite and >= 0")
    if not (math.isfinite(depth_usd) and depth_usd > 0):
        raise ValidationError("depth_usd", depth_usd, "must be finite and > 0")
    load = notional_usd / depth_usd
    if policy.mode is CloseoutMode.DEPTH_PENALTY:
        penalty = policy.penalty_base + policy.penalty_impact * load
        if max(gap, 0.0) > policy.max_discount:
            return None
        return min(max(penalty, gap), policy.max_discount)
    required = policy.liquidator_base + policy.liquidator_impact * load + max(gap, 0.0)
    offered = policy.auction_start + policy.auction_step_per_min * max(elapsed_ns, 0) / NS_PER_MINUTE
    offered = min(offered, policy.max_discount)
    if required <= policy.max_discount:
        return offered if offered >= required else None
    # too big for the depth: filled only at the maximum discount, and only if a stale mark
    # does not already eat it
    if policy.liquidator_base + max(gap, 0.0) <= policy.max_discount and offered >= policy.max_discount:
        return policy.max_discount
    return None


def partial_fraction(collateral: float, maintenance: float, penalty_cost: float, policy: LiquidationPolicy) -> float:
    """Fraction of every position to close so collateral ≥ maintenance × (1 + buffer) after.

    Assumes maintenance scales with the remaining fraction and that closing fraction ``f``
    costs ``f × penalty_cost`` of collateral (discount and fee).  Returns a value in
    ``[min_fraction, 1]``; 1 when no partial close can restore the target.
    """
    target = maintenance * (1.0 + policy.buffer)
    if collateral >= target:
        return policy.min_fraction
    denom = target - penalty_cost
    if denom <= 0 or collateral <= 0:
        return 1.0
    f = (target - collateral) / denom
    return float(min(max(f, policy.min_fraction), 1.0))
