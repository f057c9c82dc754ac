"""The normalized output of every source adapter: one price sample for the aggregator."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

__all__ = ["SourceUpdate", "Updatable"]


class Updatable(Protocol):
    """Anything that takes samples like :meth:`keel.oracle.Aggregator.update`."""

    def update(self, source_id: str, price: float, ts_ns: int, confidence: float | None = None) -> bool: ...


@dataclass(frozen=True, slots=True)
class SourceUpdate:
    """``price`` (quote per base, float64) seen by ``source_id`` at ``ts_ns`` (int ns UTC).

    ``confidence`` is the half-width of the source's band in price units, or ``None`` when the
    source has none (the aggregator then uses the source's configured default).  Adapters do
    not validate beyond what they compute: the aggregator rejects bad samples with a reason.
    """

    source_id: str
    price: float
    ts_ns: int
    confidence: float | None = None

    def apply(self, aggregator: Updatable) -> bool:
        """Send this sample to ``aggregator``; returns whether it was accepted."""
        return aggregator.update(self.source_id, self.price, self.ts_ns, self.confidence)
