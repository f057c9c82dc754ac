"""What every venue shares: the contract-revert error and the interface the router uses.

Amounts are Python ints in the token's base units; a quote never changes the venue.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from keel.domain import Token
from keel.errors import KeelError

__all__ = ["Revert", "SwapQuote", "Venue", "default_venue_name"]

_VENUE_IDS = itertools.count(1)


def default_venue_name(prefix: str) -> str:
    """``prefix#n``, ``n`` unique in this process: the default name of a venue the caller did not
    name, so two venues on the same tokens (two v2 forks, two v3 pools) never share a name.
    Copies keep their original's name; give venues explicit names where names must be stable
    across processes (configs, reports)."""
    return f"{prefix}#{next(_VENUE_IDS)}"


class Revert(KeelError):
    """A call the real contract would revert; ``reason`` is the contract's reason string ('SPL', 'AS', 'LOK', ...)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        super().__init__(f"reverted: {reason}" + (f" ({detail})" if detail else ""))


@dataclass(frozen=True, slots=True)
class SwapQuote:
    """Result of quoting one swap on one venue (base units; gas in gas units)."""

    amount_in: int
    amount_out: int
    gas_units: int
    ticks_crossed: int = 0


@runtime_checkable
class Venue(Protocol):
    """A two-token venue the smart order router can quote and execute against.

    ``name`` is unique among the venues given to one router.  ``updated_ns`` is the
    timestamp (int ns UTC) of the state the venue holds, for staleness checks.
    """

    name: str
    token0: Token
    token1: Token
    updated_ns: int

    def quote_exact_in(self, token_in: Token, amount_in: int) -> SwapQuote:
        """Output for exactly ``amount_in`` of ``token_in``; the venue is unchanged."""
        ...

    def quote_exact_out(self, token_in: Token, amount_out: int) -> SwapQuote:
        """Input of ``token_in`` needed for exactly ``amount_out`` of the other token."""
        ...

    def swap_exact_in(self, token_in: Token, amount_in: int) -> SwapQuote:
        """Execute the exact-input swap, changing the venue's state; returns what happened."""
        ...

    def swap_exact_out(self, token_in: Token, amount_out: int) -> SwapQuote:
        """Execute the exact-output swap, changing the venue's state."""
        ...

    def copy(self) -> Venue:
        """An independent copy (cheap: shares immutable data)."""
        ...
