"""Turn a venue's current state into the optimizer's float :class:`~keel.execution.curves.Curve`.

Dispatch, most exact first:

* :class:`keel.venues.orderbook.OrderBook`: one fixed-price segment per level;
* a Uniswap v3 pool with a cached tick table (:meth:`keel.venues.uniswap_v3.Pool.tick_table`):
  every range between initialized ticks, built with numpy from the table (no bitmap walk);
* a venue with ``to_state()`` returning a :class:`keel.domain.PoolState` of kind
  ``uniswap_v3`` (ticks, liquidity, √P) or ``uniswap_v2`` (reserves);
* a venue exposing ``reserve0``/``reserve1``/``fee`` (constant product);
* anything else: :func:`keel.execution.curves.sampled_curve` (integer quotes, concave hull).

Caching.  :class:`CurveCache` keeps one curve per (venue, input token) for the life of a
router, across blocks, and rebuilds it only when the venue changed.  The key is the venue's
:func:`model_key`: for Keel venues their ``state_version`` (a fresh process-wide number on every
state change: swap, mint, burn, sync, skim, fill; see :mod:`keel.venues.state_version`) plus
price, liquidity, tick and reserves as a guard against direct attribute writes.  Venues
without ``state_version`` fall back to a fingerprint of those attributes and ``updated_ns``
(such a venue must bump ``updated_ns`` when its liquidity changes without a price change).
``updated_ns`` alone is not a key for Keel venues: it is the state's timestamp, for staleness.
"""

from __future__ import annotations

import math
from typing import Any

from keel.domain import Token
from keel.execution.curves import (
    Curve,
    curve_from_levels,
    curve_from_reserves,
    curve_from_tick_table,
    curve_from_v3,
    sampled_curve,
)
from keel.venues.base import Revert, Venue
from keel.venues.orderbook import OrderBook

__all__ = ["CurveCache", "build_curve", "fingerprint", "model_key"]


def fingerprint(venue: Venue) -> tuple[Any, ...]:
    """Cheap state summary of a venue without ``state_version``: price, liquidity or reserves and
    ``updated_ns`` (order books: identity, best levels and depth of both sides)."""
    v: Any = venue
    if isinstance(venue, OrderBook):
        return ("book", id(v._bids), id(v._asks), tuple(map(tuple, v._bids[:1])), tuple(map(tuple, v._asks[:1])),
                len(v._bids), len(v._asks), venue.updated_ns)  # fmt: skip
    parts: list[Any] = [venue.updated_ns]
    for attr in _GUARD_ATTRS:
        val = getattr(v, attr, None)
        if isinstance(val, int):
            parts.append(val)
    return tuple(parts)


_GUARD_ATTRS = ("sqrt_price_x96", "liquidity", "tick", "reserve0", "reserve1", "fee")


def model_key(venue: Venue) -> tuple[Any, ...]:
    """What a cached model of ``venue`` is valid for: equal keys mean an equal state.

    Keel venues: ``state_version`` plus the price/liquidity/reserve attributes (a guard against
    direct writes that bypass the venue's methods); others: :func:`fingerprint`."""
    v: Any = venue
    version = getattr(v, "state_version", None)
    if not isinstance(version, int) or isinstance(version, bool):
        return fingerprint(venue)
    d = getattr(v, "__dict__", None)
    if d is not None:
        return (version, *[d.get(a) for a in _GUARD_ATTRS])
    return (version, *[getattr(v, a, None) for a in _GUARD_ATTRS])


def _gas_units(venue: Venue, token_in: Token) -> int:
    gas = getattr(venue, "gas_per_swap", None)
    if isinstance(gas, int):
        return gas
    gas = getattr(venue, "gas_per_touch", None)
    if isinstance(gas, int):
        return gas
    return 0


def build_curve(venue: Venue, token_in: Token, size_hint: int) -> Curve:
    """Float curve of ``venue`` for input ``token_in`` (``size_hint`` sizes a sampled model)."""
    v: Any = venue
    if isinstance(venue, OrderBook):
        levels = venue.levels(token_in)
        buying_base = token_in == venue.token1
        rows = []
        for price, size in levels:
            p = float(price)
            if buying_base:
                rows.append((1.0 / p, size * p))  # base out per quote in; quote capacity
            else:
                rows.append((p, float(size)))
        return curve_from_levels(rows, venue.fee_pips, venue.gas_per_touch + venue.gas_per_level)
    zero_for_one = token_in == venue.token0
    tick_table = getattr(v, "tick_table", None)
    if callable(tick_table) and _is_v3_pool(v):
        return curve_from_tick_table(
            v.sqrt_price_x96,
            v.liquidity,
            v.tick,
            tick_table(),
            v.fee,
            zero_for_one,
            _gas_units(v, token_in) or _probe_gas(v, token_in),
        )
    if _is_v3_pool(v):
        return _v3_curve(v, token_in, zero_for_one, size_hint)
    state = None
    to_state = getattr(v, "to_state", None)
    if callable(to_state):
        try:
            state = to_state()
        except Exception:  # a venue whose snapshot is unavailable falls back to sampling
            state = None
    gas = _gas_units(venue, token_in)
    if state is not None and getattr(state, "kind", "") == "uniswap_v3" and state.sqrt_price_x96 > 0:
        ticks = [(t.index, t.liquidity_net) for t in state.ticks]
        return curve_from_v3(
            state.sqrt_price_x96,
            state.liquidity,
            state.tick,
            ticks,
            state.fee,
            zero_for_one,
            gas or _probe_gas(venue, token_in),
        )
    if state is not None and getattr(state, "kind", "") == "uniswap_v2":
        r_in, r_out = (state.reserve0, state.reserve1) if zero_for_one else (state.reserve1, state.reserve0)
        return curve_from_reserves(r_in, r_out, state.fee, gas or _probe_gas(venue, token_in))
    r0, r1, fee = getattr(v, "reserve0", None), getattr(v, "reserve1", None), getattr(v, "fee", None)
    if isinstance(r0, int) and isinstance(r1, int) and isinstance(fee, int):
        r_in, r_out = (r0, r1) if zero_for_one else (r1, r0)
        return curve_from_reserves(r_in, r_out, fee, gas or _probe_gas(venue, token_in))
    return sampled_curve(venue, token_in, max(size_hint * 4, token_in.unit * 10**6))


def _is_v3_pool(v: Any) -> bool:
    return all(hasattr(v, a) for a in ("initialized_ticks", "ticks", "sqrt_price_x96", "liquidity", "tick", "fee"))


def _v3_curve(v: Any, token_in: Token, zero_for_one: bool, size_hint: int) -> Curve:
    """v3 curve over the initialized ticks ahead, fetched lazily: the nearest 32, then 4x more,
    until the modelled capacity covers ``size_hint`` (a trade never needs more) or all are in."""
    ticks = v.initialized_ticks()
    ahead = [t for t in reversed(ticks) if t <= v.tick] if zero_for_one else [t for t in ticks if t > v.tick]
    gas = _gas_units(v, token_in) or _probe_gas(v, token_in)
    n = 32
    nets: list[tuple[int, int]] = []
    while True:
        nets += [(t, v.ticks(t).liquidity_net) for t in ahead[len(nets) : n]]
        truncated = len(nets) < len(ahead)
        curve = curve_from_v3(
            v.sqrt_price_x96, v.liquidity, v.tick, nets, v.fee, zero_for_one, gas, truncated=truncated
        )
        if not truncated or curve.max_in >= size_hint:
            return curve
        n *= 4


def _probe_gas(venue: Venue, token_in: Token) -> int:
    """Gas of one touch, from a small integer quote."""
    for amount in (10**3, 10**6, 10**9):
        try:
            return venue.quote_exact_in(token_in, amount).gas_units
        except (Revert, ValueError):
            continue
    return 0


class CurveCache:
    """Curves keyed by (venue name, input token), rebuilt only when the venue's :func:`model_key`
    changes (or a truncated model is asked for a larger size than it covers)."""

    def __init__(self) -> None:
        self._store: dict[tuple[str, Token], tuple[int, tuple[Any, ...], Curve, float]] = {}
        self.builds = 0  # models built so far (hits are free), for tests and benchmarks

    def get(self, venue: Venue, token_in: Token, size_hint: int) -> Curve:
        key = (venue.name, token_in)
        mk = model_key(venue)
        hit = self._store.get(key)
        if hit is not None and hit[0] == id(venue) and hit[1] == mk and hit[3] >= size_hint:
            return hit[2]
        curve = build_curve(venue, token_in, size_hint)
        self.builds += 1
        # the size this curve is good for: any, unless a truncated v3 walk stopped at its capacity
        good_for = math.inf if curve.complete else curve.max_in
        self._store[key] = (id(venue), mk, curve, good_for)
        return curve

    def clear(self) -> None:
        self._store.clear()
