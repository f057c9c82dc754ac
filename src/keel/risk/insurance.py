"""Insurance fund and auto-deleveraging (ADL).

The insurance fund is the ledger holder :data:`keel.risk.ledger.INSURANCE`; it receives
liquidation fees and pays bankrupt accounts' deficits.  When it cannot, the bankrupt
position is closed against opposite positions ranked by ``profit × leverage`` (the most
profitable, most levered first) at the bankruptcy price: the counterparties' lost profit
versus mark is the socialized loss.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from keel.risk.ledger import INSURANCE, Ledger

__all__ = ["AdlCandidate", "cover_from_insurance", "rank_adl"]


@dataclass(frozen=True, slots=True)
class AdlCandidate:
    """An opposite position that may be deleveraged.

    ``profit_ratio``: unrealized PnL / entry notional (positive = in profit);
    ``leverage``: position notional / account equity (inf if equity ≤ 0 is excluded upstream).
    """

    account_id: str
    quantity: float
    profit_ratio: float
    leverage: float

    @property
    def score(self) -> float:
        return self.profit_ratio * self.leverage


def rank_adl(candidates: Sequence[AdlCandidate]) -> list[AdlCandidate]:
    """Candidates in profit only, highest ``profit × leverage`` first (ties by account id)."""
    eligible = [c for c in candidates if c.profit_ratio > 0 and c.leverage > 0]
    return sorted(eligible, key=lambda c: (-c.score, c.account_id))


def cover_from_insurance(ledger: Ledger, account_id: str, asset: str, deficit: int) -> int:
    """Pay up to ``deficit`` base units of ``asset`` from the fund to ``account_id``; returns paid."""
    if deficit <= 0:
        return 0
    paid = min(deficit, max(ledger.balance(INSURANCE, asset), 0))
    if paid:
        ledger.transfer(INSURANCE, account_id, asset, paid, "insurance covers bad debt")
    return paid
