"""Process-wide venue state versions.

Every venue (v2 :class:`~keel.venues.uniswap_v2.Pair`, v3 :class:`~keel.venues.uniswap_v3.Pool`,
:class:`~keel.venues.orderbook.OrderBook`) carries an int ``state_version`` that takes a fresh
value from one process-wide counter on every change of its state (swap, mint, burn, sync,
skim, collect, flash, book fill, ...).  Versions therefore increase monotonically per venue and
are never reused: two venue objects with the same ``state_version`` hold the same state (one is
a copy of the other, neither changed since).  Caches of derived data (the router's venue
models) key on it; ``updated_ns`` stays the timestamp of the state, for staleness checks.
"""

from __future__ import annotations

import itertools

__all__ = ["next_state_version"]

_COUNTER = itertools.count(1)


def next_state_version() -> int:
    """A fresh state version, larger than every one handed out before in this process."""
    return next(_COUNTER)
