"""Messages the engine delivers to actors, shared by simulation and live adapters."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Block", "QuoteTick"]


@dataclass(frozen=True, slots=True)
class Block:
    """A produced block: ``number``, its timestamp (int ns UTC), EIP-1559 base fee (wei per gas), gas used."""

    number: int
    ts_ns: int
    base_fee_wei: int
    gas_used: int = 0
    gas_limit: int = 30_000_000


@dataclass(frozen=True, slots=True)
class QuoteTick:
    """One top-of-book update (prices float64 in quote currency per unit)."""

    instrument: str
    ts_ns: int
    bid: float
    ask: float
