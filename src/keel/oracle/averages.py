"""Time-weighted average (TWAP) and exponential moving average (EMA) of a price series.

A price holds from its timestamp until the next one (a step function), as an on-chain
oracle's accumulator does.  The history is a ring buffer of ``(ts_ns, price, cumulative)``
where ``cumulative`` is the integral of the step function in price x seconds up to ``ts_ns``;
a TWAP is a difference of two cumulatives divided by the elapsed seconds (Uniswap's method).

State arrays (owned by the caller, mutated only by ``push_history``/``ema_update``):
``hist_ts`` int64[cap], ``hist_px`` and ``hist_cum`` float64[cap]; ``state`` int64[2] holds
the index of the newest point and the number of points.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from numba import njit

__all__ = ["ema_update", "history_twap", "push_history"]

_NS = 1e-9


@njit(cache=True)
def history_twap(
    hist_ts: npt.NDArray[np.int64],
    hist_px: npt.NDArray[np.float64],
    hist_cum: npt.NDArray[np.float64],
    state: npt.NDArray[np.int64],
    now: int,
    window: int,
) -> float:
    """TWAP over ``[now - window, now]`` of the points held (the newest one holds until ``now``).

    NaN when there is no point or the newest is older than ``window``.  When the oldest point
    kept is younger than ``now - window`` the window starts at it instead.
    """
    count = state[1]
    if count == 0:
        return np.nan
    cap = hist_ts.shape[0]
    head = state[0]
    t_last = hist_ts[head]
    if now - t_last > window or now < t_last:
        return np.nan
    cum_now = hist_cum[head] + hist_px[head] * (now - t_last) * _NS
    start = now - window
    oldest = (head - count + 1) % cap
    if start <= hist_ts[oldest]:
        start = hist_ts[oldest]
        cum_start = hist_cum[oldest]
    else:
        lo = 0  # logical index, 0 = oldest; invariant: ts[lo] <= start
        hi = count - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if hist_ts[(oldest + mid) % cap] <= start:
                lo = mid
            else:
                hi = mid - 1
        k = (oldest + lo) % cap
        cum_start = hist_cum[k] + hist_px[k] * (start - hist_ts[k]) * _NS
    dur = (now - start) * _NS
    if dur <= 0.0:
        return float(hist_px[head])
    return float((cum_now - cum_start) / dur)


@njit(cache=True)
def push_history(
    hist_ts: npt.NDArray[np.int64],
    hist_px: npt.NDArray[np.float64],
    hist_cum: npt.NDArray[np.float64],
    state: npt.NDArray[np.int64],
    now: int,
    price: float,
    window: int,
) -> None:
    """Append ``price`` at ``now`` (``now`` >= the newest point); a point at the same time is replaced.

    A history whose newest point is older than ``window`` is discarded first (a gap longer than
    the window would otherwise be filled with a stale price).
    """
    cap = hist_ts.shape[0]
    count = state[1]
    head = state[0]
    if count > 0 and now - hist_ts[head] > window:
        count = 0
    if count == 0:
        head = 0
        hist_ts[0] = now
        hist_px[0] = price
        hist_cum[0] = 0.0
        state[0] = 0
        state[1] = 1
        return
    t_last = hist_ts[head]
    if now == t_last:
        hist_px[head] = price
        return
    cum = hist_cum[head] + hist_px[head] * (now - t_last) * _NS
    head = (head + 1) % cap
    hist_ts[head] = now
    hist_px[head] = price
    hist_cum[head] = cum
    state[0] = head
    state[1] = min(count + 1, cap)


@njit(cache=True)
def ema_update(ema: float, ema_ts: int, has_ema: bool, now: int, price: float, tau: int) -> float:
    """Time-based EMA: ``ema + (1 - exp(-dt / tau)) (price - ema)``; the first price starts it."""
    if not has_ema:
        return price
    dt = now - ema_ts
    if dt <= 0:
        return ema
    alpha = 1.0 - math.exp(-dt / tau)
    return ema + alpha * (price - ema)
