"""A pool's initialized ticks as sorted, immutable arrays: the cheap public tick table.

Building a routing or simulation model of a v3 pool needs every initialized tick and its
``liquidity_net`` in price order.  Walking the tick bitmap (or sorting the tick dict) for each
model is wasteful: :meth:`keel.venues.uniswap_v3.Pool.tick_table` builds a :class:`TickTable`
once and keeps it until a mint or burn changes liquidity (swaps cross ticks but never change
``liquidity_net``, so they keep it).  The table is immutable (tuples and read-only numpy arrays)
and shared by a pool's copies: copy-on-write falls out of rebuilding on the next read after a
write.

Exact figures are the int tuples; the float64 arrays are derived from them for fast models:
``sqrt_price`` is ``1.0001 ** (tick / 2)`` (unscaled √P, not Q64.96), ``net_f`` is
``liquidity_net`` as float64 and ``prefix_f`` the exact prefix sums rounded once to float64
(so a model's liquidity after crossing ticks carries no cancellation error).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["TickTable", "build_tick_table"]

_HALF_LN_10001 = 0.5 * math.log(1.0001)


@dataclass(frozen=True, slots=True, eq=False)
class TickTable:
    """Initialized ticks of one pool, ascending.

    ``ticks`` and ``liquidity_net`` are exact ints; ``prefix[k]`` is the exact sum of the
    ``liquidity_net`` of the ``k`` lowest ticks (length ``len + 1``): in a consistent pool the
    active liquidity between ticks ``k-1`` and ``k`` is ``prefix[k]``.  ``index`` (int64),
    ``net_f``, ``sqrt_price`` and ``prefix_f`` (float64) are read-only arrays derived from them.
    """

    ticks: tuple[int, ...]
    liquidity_net: tuple[int, ...]
    prefix: tuple[int, ...]
    index: NDArray[np.int64]
    net_f: NDArray[np.float64]
    sqrt_price: NDArray[np.float64]
    prefix_f: NDArray[np.float64]

    def __len__(self) -> int:
        return len(self.ticks)

    def __eq__(self, other: object) -> bool:
        """Equal when the exact ticks and liquidity_net are (the arrays derive from them)."""
        if not isinstance(other, TickTable):
            return NotImplemented
        return self.ticks == other.ticks and self.liquidity_net == other.liquidity_net

    def __hash__(self) -> int:
        return hash((self.ticks, self.liquidity_net))

    def above(self, tick: int) -> int:
        """Position of the first initialized tick strictly above ``tick`` (= count of ticks <= ``tick``)."""
        return int(np.searchsorted(self.index, tick, side="right"))


def build_tick_table(records: dict[int, list[int]]) -> TickTable:
    """Table of a pool's tick records (tick -> record with ``liquidity_net`` at index 1)."""
    ticks = tuple(sorted(records))
    nets = tuple(records[t][1] for t in ticks)
    prefix = (0, *itertools.accumulate(nets))
    index = np.array(ticks, dtype=np.int64)
    net_f = np.array(nets, dtype=np.float64) if nets else np.zeros(0)
    prefix_f = np.array(prefix, dtype=np.float64)
    sqrt_price = np.exp(index * _HALF_LN_10001)
    for a in (index, net_f, sqrt_price, prefix_f):
        a.flags.writeable = False
    return TickTable(ticks, nets, prefix, index, net_f, sqrt_price, prefix_f)
