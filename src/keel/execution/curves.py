"""Float64 models of a venue's exact-input curve, for the split optimizer.

A venue seen from one input token is a concave, increasing map ``out(x)`` of the gross input
``x`` (base units of the input token, fee included).  We model it as consecutive *segments*;
inside segment ``k`` (``0 <= t <= cap[k]`` of extra gross input) the output added is

    Y[k] * g * t / (X[k] + g * t)      (constant product with virtual reserves X, Y), or
    Y[k] * g * t                        (a fixed price, when X[k] == 0: an order-book level),

where ``g = 1 - fee`` is the venue's fee multiplier.  This is exact (up to float rounding) for
Uniswap v2 (one unbounded segment, the reserves), for Uniswap v3 (one segment per range between
initialized ticks, virtual reserves ``L/√P`` and ``L·√P``) and for an order book (one segment
per level).  Any other :class:`keel.venues.base.Venue` is modelled by sampling its integer
quotes and taking the concave hull (:func:`sampled_curve`).

Cumulative arrays (``c0`` input and ``o0`` output at each segment start, ``m0`` marginal output
per unit input at each start) let the optimizer find ``x(μ)`` -- the input at which the marginal
rate equals ``μ`` -- by binary search.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numba import njit
from numpy.typing import NDArray

from keel.domain import Token
from keel.errors import ExecutionError
from keel.venues.base import Revert, Venue
from keel.venues.uniswap_v3.tick_table import TickTable

__all__ = [
    "Curve",
    "curve_from_levels",
    "curve_from_reserves",
    "curve_from_tick_table",
    "curve_from_v3",
    "curve_out",
    "sampled_curve",
]

FloatArray = NDArray[np.float64]

MIN_TICK = -887272
MAX_TICK = 887272
_HALF_LN_10001 = 0.5 * math.log(1.0001)
_S_MIN = math.exp(MIN_TICK * _HALF_LN_10001)
_S_MAX = math.exp(MAX_TICK * _HALF_LN_10001)


@dataclass(frozen=True, slots=True)
class Curve:
    """Segments of one venue's exact-input curve (see the module docstring).

    ``gas_units`` is the gas of one touch of the venue (the integer quote's figure for a small
    trade); ``max_in`` is the gross input that exhausts the modelled liquidity (``inf`` for v2);
    ``complete`` is False when only the liquidity nearest the price was modelled.
    """

    X: FloatArray
    Y: FloatArray
    cap: FloatArray
    gamma: float
    gas_units: int
    c0: FloatArray
    o0: FloatArray
    m0: FloatArray
    max_in: float
    complete: bool = True

    @property
    def max_out(self) -> float:
        """Output that exhausts the modelled liquidity (``inf`` when unbounded)."""
        return curve_out(self, self.max_in) if math.isfinite(self.max_in) else math.inf

    @property
    def spot(self) -> float:
        """Marginal output per unit input at zero size (fee included)."""
        return float(self.m0[0]) if self.m0.size else 0.0


def _build(
    X: Sequence[float] | FloatArray,
    Y: Sequence[float] | FloatArray,
    cap: Sequence[float] | FloatArray,
    gamma: float,
    gas_units: int,
    complete: bool = True,
) -> Curve:
    Xa = np.asarray(X, dtype=np.float64)
    Ya = np.asarray(Y, dtype=np.float64)
    ca = np.asarray(cap, dtype=np.float64)
    keep = (ca > 0) & (Ya > 0)
    if not keep.all():
        Xa, Ya, ca = Xa[keep], Ya[keep], ca[keep]
    n = Xa.size
    cp = Xa > 0
    if n and cp.all() and np.isfinite(ca).all():
        # constant-product segments with finite capacity (every v3 curve): no masking needed
        gca = gamma * ca
        m0 = Ya * gamma / Xa
        seg_out = Ya * gca / (Xa + gca)
        c0 = np.empty(n)
        o0 = np.empty(n)
        c0[0] = o0[0] = 0.0
        np.cumsum(ca[:-1], out=c0[1:])
        np.cumsum(seg_out[:-1], out=o0[1:])
        return Curve(Xa, Ya, ca, float(gamma), int(gas_units), c0, o0, m0, float(c0[-1] + ca[-1]), complete)
    with np.errstate(divide="ignore", invalid="ignore"):
        m0 = np.where(cp, Ya * gamma / np.where(cp, Xa, 1.0), Ya * gamma)
        finite = np.isfinite(ca)
        seg_out = np.where(
            cp,
            np.where(finite, Ya * gamma * ca / (Xa + gamma * ca), Ya),
            Ya * gamma * ca,
        )
    c0 = np.zeros(n)
    o0 = np.zeros(n)
    if n > 1:
        c0[1:] = np.cumsum(ca[:-1])
        o0[1:] = np.cumsum(seg_out[:-1])
    max_in = float(c0[-1] + ca[-1]) if n else 0.0
    return Curve(Xa, Ya, ca, float(gamma), int(gas_units), c0, o0, m0, max_in, complete)


def curve_from_reserves(reserve_in: int, reserve_out: int, fee_pips: int, gas_units: int) -> Curve:
    """Constant product ``x*y = k`` with the fee on the input (Uniswap v2: fee_pips = 3000)."""
    gamma = 1.0 - fee_pips / 1e6
    if reserve_in <= 0 or reserve_out <= 0:
        return _build([], [], [], gamma, gas_units)
    x, y = float(reserve_in), float(reserve_out)
    zero = np.zeros(1)
    return Curve(
        np.array([x]), np.array([y]), np.array([math.inf]), gamma, int(gas_units), zero, zero.copy(),
        np.array([y * gamma / x]), math.inf, True,
    )  # fmt: skip


def curve_from_v3(
    sqrt_price_x96: int,
    liquidity: int,
    current_tick: int,
    ticks: Sequence[tuple[int, int]],
    fee_pips: int,
    zero_for_one: bool,
    gas_units: int,
    *,
    truncated: bool = False,
) -> Curve:
    """Uniswap v3 curve from the pool state: ``ticks`` are (index, liquidity_net) of initialized ticks.

    ``zero_for_one`` (token0 in) walks down through ticks ``<= current_tick``; otherwise up
    through ticks ``> current_tick``, flipping the sign of ``liquidity_net`` as the contract does.
    ``truncated``: ``ticks`` are only the nearest ones; the curve ends at the last of them.
    """
    rows = sorted(ticks)
    idx = np.array([t for t, _ in rows], dtype=np.float64)
    prefix = (0, *itertools.accumulate(n for _, n in rows))
    p = int(np.searchsorted(idx, current_tick, side="right"))
    s_ticks = np.exp(idx * _HALF_LN_10001)
    prefix_f = np.array(prefix, dtype=np.float64)
    return _v3_from_arrays(
        sqrt_price_x96, liquidity, liquidity - prefix[p], p, s_ticks, prefix_f, fee_pips, zero_for_one, gas_units,
        truncated=truncated,
    )  # fmt: skip


def curve_from_tick_table(
    sqrt_price_x96: int, liquidity: int, current_tick: int, table: TickTable, fee_pips: int, zero_for_one: bool,
    gas_units: int,
) -> Curve:  # fmt: skip
    """Complete Uniswap v3 curve from a pool's cached :class:`~keel.venues.uniswap_v3.TickTable`
    (the same model as :func:`curve_from_v3`, without sorting or per-tick Python work)."""
    p = table.above(current_tick)
    return _v3_from_arrays(
        sqrt_price_x96, liquidity, liquidity - table.prefix[p], p, table.sqrt_price, table.prefix_f, fee_pips,
        zero_for_one, gas_units,
    )  # fmt: skip


@njit(cache=True)
def _v3_segments(s, liquidity, delta, p, s_ticks, prefix_f, gamma, zero_for_one, truncated, s_last):  # type: ignore[no-untyped-def]
    """Constant-product segments between initialized ticks, in one pass (see :func:`_v3_from_arrays`).

    Returns (X, Y, cap, c0, o0, m0, n) in buffers of the maximum length; the first n are used."""
    m = p if zero_for_one else s_ticks.size - p
    size = m + 1
    X = np.empty(size)
    Y = np.empty(size)
    cap = np.empty(size)
    c0 = np.empty(size)
    o0 = np.empty(size)
    m0 = np.empty(size)
    n = 0
    L = liquidity
    s0 = s
    c = 0.0
    o = 0.0
    steps = m if truncated else m + 1
    for k in range(steps):
        if k < m:
            s1 = s_ticks[p - 1 - k] if zero_for_one else s_ticks[p + k]
        else:
            s1 = s_last
        if L < 0.0:
            break  # inconsistent state: stop where liquidity would turn negative
        if zero_for_one:
            usable = L > 0.0 and s1 < s0
        else:
            usable = L > 0.0 and s1 > s0
        if usable:
            if zero_for_one:
                x = L / s0
                y = L * s0
                ca = L * (1.0 / s1 - 1.0 / s0) / gamma
            else:
                x = L * s0
                y = L / s0
                ca = L * (s1 - s0) / gamma
            if ca > 0.0 and y > 0.0:
                X[n] = x
                Y[n] = y
                cap[n] = ca
                c0[n] = c
                o0[n] = o
                m0[n] = y * gamma / x
                gca = gamma * ca
                c += ca
                o += y * gca / (x + gca)
                n += 1
        L = delta + (prefix_f[p - 1 - k] if zero_for_one else prefix_f[p + k + 1]) if k < m else 0.0
        s0 = s1
    return X, Y, cap, c0, o0, m0, n


def _v3_from_arrays(
    sqrt_price_x96: int,
    liquidity: int,
    delta: int,
    p: int,
    s_ticks: FloatArray,
    prefix_f: FloatArray,
    fee_pips: int,
    zero_for_one: bool,
    gas_units: int,
    *,
    truncated: bool = False,
) -> Curve:
    """Segments between initialized ticks; ``s_ticks`` ascending, ``prefix_f`` the float prefix sums
    of their liquidity_net (length + 1), ``p`` = count of ticks <= current, ``delta`` the exact
    ``liquidity - prefix[p]`` (0 in a consistent pool).

    Walking away from the price (down for token0 in, up for token1 in), range k has liquidity
    ``L_k = liquidity ± Σ net`` of the ticks crossed so far (``delta + prefix`` at the range,
    without cancellation error) and runs from √P_k to the next tick:
    virtual reserves ``L/√P_k`` and ``L·√P_k`` and gross capacity ``L·Δ(1/√P)/g`` (token0 in) or
    ``L·Δ√P/g`` (token1 in).  Without ``truncated`` the last range runs to the extreme tick.
    """
    gamma = 1.0 - fee_pips / 1e6
    X, Y, cap, c0, o0, m0, n = _v3_segments(
        sqrt_price_x96 / 2.0**96, float(liquidity), float(delta), p, s_ticks, prefix_f, gamma, zero_for_one,
        truncated,
        _S_MIN if zero_for_one else _S_MAX,
    )  # fmt: skip
    if n == 0:
        return _build([], [], [], gamma, gas_units, not truncated)
    max_in = float(c0[n - 1] + cap[n - 1])
    return Curve(X[:n], Y[:n], cap[:n], gamma, int(gas_units), c0[:n], o0[:n], m0[:n], max_in, not truncated)


def curve_from_levels(levels: Sequence[tuple[float, float]], fee_pips: int, gas_units: int) -> Curve:
    """Fixed-price segments: ``levels`` are (output per unit net input, net input capacity)."""
    gamma = 1.0 - fee_pips / 1e6
    return _build([0.0] * len(levels), [r for r, _ in levels], [c / gamma for _, c in levels], gamma, gas_units)


def sampled_curve(venue: Venue, token_in: Token, max_amount: int, points: int = 48) -> Curve:
    """Model any venue by quoting it at geometric sizes up to ``max_amount``; concave hull.

    Used for venues the optimizer has no closed form for.  The integer realization of a plan
    always uses the venue's own quotes, so a coarse model costs optimality, never correctness.
    """
    sizes = sorted({max(1, int(max_amount * f)) for f in np.geomspace(1e-7, 1.0, points)})
    xs = [0.0]
    ys = [0.0]
    gas = 0
    for size in sizes:
        try:
            q = venue.quote_exact_in(token_in, size)
        except Revert:
            break
        if gas == 0:
            gas = q.gas_units
        # a venue that runs out of liquidity fills partially: model only what it took
        if q.amount_out > ys[-1] and q.amount_in > xs[-1]:
            xs.append(float(q.amount_in))
            ys.append(float(q.amount_out))
        if q.amount_in < size:
            break
    if len(xs) < 2:
        raise ExecutionError(f"venue {venue.name}: no usable quote for {token_in}")
    # Upper concave hull of the sampled points, then one fixed-rate segment per hull edge.
    hull: list[tuple[float, float]] = [(xs[0], ys[0])]
    for p in zip(xs[1:], ys[1:], strict=True):
        while len(hull) >= 2:
            (x1, y1), (x2, y2) = hull[-2], hull[-1]
            if (y2 - y1) * (p[0] - x1) <= (p[1] - y1) * (x2 - x1):
                hull.pop()
            else:
                break
        hull.append(p)
    levels = [((y2 - y1) / (x2 - x1), x2 - x1) for (x1, y1), (x2, y2) in itertools.pairwise(hull)]
    return curve_from_levels(levels, 0, gas)


def curve_out(curve: Curve, x: float) -> float:
    """Modelled output for gross input ``x`` (capped at ``max_in``)."""
    if x <= 0 or curve.X.size == 0:
        return 0.0
    k = int(np.searchsorted(curve.c0, x, side="right")) - 1
    t = min(x - float(curve.c0[k]), float(curve.cap[k]))
    X, Y, g = float(curve.X[k]), float(curve.Y[k]), curve.gamma
    return float(curve.o0[k]) + (Y * g * t / (X + g * t) if X > 0 else Y * g * t)
