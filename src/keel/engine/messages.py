"""Messages the engine delivers to actors, shared by simulation and live adapters.

:class:`Block` is defined in :mod:`keel.domain.pipeline` (layer 0, so that layer-2 actors can
read it) and re-exported here.
"""

from __future__ import annotations

from dataclasses import dataclass

from keel.domain.pipeline import Block

__all__ = ["Block", "QuoteTick"]


@dataclass(frozen=True, slots=True)
class QuoteTick:
    """One top-of-book update (prices float64 in quote currency per unit)."""

    instrument: str
    ts_ns: int
    bid: float
    ask: float
