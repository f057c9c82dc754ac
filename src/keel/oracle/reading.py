"""The oracle's answer: one price with a confidence band, a status, and the reasons for it."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

__all__ = ["OracleReading", "OracleStatus"]


class OracleStatus(str, Enum):
    OK = "ok"  # quorum met, price usable
    DEGRADED = "degraded"  # usable but with fewer sources, wider band or a guard tripped softly
    HALTED = "halted"  # no trustworthy price: consumers must not act on it


@dataclass(frozen=True, slots=True)
class OracleReading:
    """``price`` and ``confidence`` (half-width of the band, same units) at ``ts_ns``.

    ``sources`` are the source ids used; ``reasons`` say why sources were dropped, which
    updates were rejected since the previous reading, or why the status is not OK.
    A HALTED reading's price is NaN: it is never a stale price.
    """

    price: float
    confidence: float
    status: OracleStatus
    ts_ns: int
    sources: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()
    ema: float = math.nan  # time-based EMA of the published prices (NaN before the first)
    twap: float = math.nan  # TWAP of the previous candidate prices over the configured window

    @property
    def ok(self) -> bool:
        return self.status is OracleStatus.OK

    @property
    def usable(self) -> bool:
        """True unless halted."""
        return self.status is not OracleStatus.HALTED

    @property
    def low(self) -> float:
        return self.price - self.confidence

    @property
    def high(self) -> float:
        return self.price + self.confidence
