"""Replay: price series from the project's real files, and a vectorized aggregation of a whole
day of ticks that gives the same readings as feeding :class:`Aggregator` tick by tick.

File adapters (I/O at the edge; they return arrays):

- ``load_uniswap_minute``: ``*.minute.csv`` (demeter-fetch) -> minute ``closeTick``;
- ``load_uniswap_rel_price``: ``*.rel-price.csv`` -> ETH and USDC in USD, exact ``sqrtPriceX96``;
- ``load_binance_klines``: Binance 1-minute klines -> close price at each minute's end.

They are thin wrappers over the :mod:`keel.marketdata` readers (one reader per format).

``replay`` takes ``prices[T, N]`` (NaN = no update from source j at tick t) read at ``ts_ns[T]``
and runs staleness, MAD outliers, quorum and the Pyth vote median for all ticks at once in numpy;
only the TWAP/breaker/EMA recursion runs as a compiled loop over the candidates.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from numba import njit

from keel import marketdata as _md
from keel.domain.time import NS_PER_MINUTE
from keel.errors import ValidationError
from keel.marketdata import PriceSeries
from keel.oracle.aggregator import FLAG_BREAKER, FLAG_DROPPED, FLAG_QUORUM, FLAG_WIDE, MAX_PRICE, MAX_TS_NS, MIN_PRICE
from keel.oracle.averages import ema_update, history_twap, push_history
from keel.oracle.config import AggregatorConfig
from keel.oracle.robust import MAD_TO_SIGMA

__all__ = [
    "STATUS_DEGRADED",
    "STATUS_HALTED",
    "STATUS_OK",
    "PriceSeries",
    "ReplayResult",
    "load_binance_klines",
    "load_uniswap_minute",
    "load_uniswap_rel_price",
    "masked_weighted_quantile",
    "replay",
]

STATUS_OK = 0
STATUS_DEGRADED = 1
STATUS_HALTED = 2

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


def load_uniswap_minute(path: Path | str) -> tuple[I64, I64]:
    """``(ts_ns, close_tick)`` per minute; ``ts_ns`` is the minute's end (when its close is known).

    Reads with :func:`keel.marketdata.load_uniswap_minutes` (bad rows refused, naming file:line).
    """
    bars = _md.load_uniswap_minutes(path)
    return bars.ts_ns + NS_PER_MINUTE, bars.close_tick


def load_uniswap_rel_price(path: Path | str) -> tuple[I64, F64, F64, list[int]]:
    """``(ts_ns, eth_usd, usdc_usd, sqrt_price_x96)``: ETH and USDC in USD per minute and the pool's
    exact ``sqrtPriceX96`` (Python ints) at that minute; :func:`keel.marketdata.load_uniswap_rel_price`."""
    rel = _md.load_uniswap_rel_price(path)
    return rel.ts_ns, rel.eth_usd, rel.usdc_usd, list(rel.sqrt_price_x96)


def load_binance_klines(path: Path | str) -> PriceSeries:
    """Close of each 1-minute kline at the minute's end (``close_time`` + 1 ms), int ns;
    :func:`keel.marketdata.load_binance_klines` (finite, positive closes; increasing times)."""
    return _md.load_binance_klines(path).closes(at="end", name=Path(path).name)


@dataclass(frozen=True, slots=True)
class ReplayResult:
    """One reading per tick: ``price``/``confidence`` (NaN when halted), ``status`` (0 ok,
    1 degraded, 2 halted), ``flags`` (the ``FLAG_*`` bits), ``used`` (sources voting),
    ``candidate`` (the vote median before the breaker), ``twap`` and ``ema``."""

    ts_ns: I64
    price: F64
    confidence: F64
    status: npt.NDArray[np.int8]
    flags: npt.NDArray[np.int64]
    used: I64
    candidate: F64
    twap: F64
    ema: F64

    def counts(self) -> dict[str, int]:
        return {
            "ok": int(np.sum(self.status == STATUS_OK)),
            "degraded": int(np.sum(self.status == STATUS_DEGRADED)),
            "halted": int(np.sum(self.status == STATUS_HALTED)),
        }


def masked_weighted_quantile(values: F64, weights: F64, q: float) -> F64:
    """Row-wise weighted q-quantile of ``values[T, K]``; entries with weight 0 are ignored.

    Same convention as :func:`keel.oracle.robust.weighted_quantile_sorted`; NaN for a row
    without weight.
    """
    masked = weights > 0
    v = np.where(masked, values, np.inf)
    order = np.argsort(v, axis=1, kind="stable")
    vs = np.take_along_axis(v, order, axis=1)
    ws = np.take_along_axis(np.where(masked, weights, 0.0), order, axis=1)
    cum = np.cumsum(ws, axis=1)
    total = cum[:, -1]
    count = masked.sum(axis=1)
    target = q * total
    tol = 1e-12 * total
    j = np.argmax(cum >= (target - tol)[:, None], axis=1)
    rows = np.arange(values.shape[0])
    cj = cum[rows, j]
    exact = (np.abs(cj - target) <= tol) & (j + 1 < count)
    nxt = vs[rows, np.minimum(j + 1, values.shape[1] - 1)]
    out = np.where(exact, 0.5 * (vs[rows, j] + nxt), vs[rows, j])
    return np.where(count > 0, out, np.nan)


@njit(cache=True)
def _guards(
    ts: I64,
    cand: F64,
    cconf: F64,
    flags: I64,
    band: float,
    max_conf_frac: float,
    window: int,
    tau: int,
    capacity: int,
    price: F64,
    conf: F64,
    twap: F64,
    ema_out: F64,
) -> None:
    hist_ts = np.zeros(capacity, dtype=np.int64)
    hist_px = np.zeros(capacity)
    hist_cum = np.zeros(capacity)
    state = np.zeros(2, dtype=np.int64)
    ema = np.nan
    ema_ts = 0
    has_ema = False
    for t in range(ts.shape[0]):
        now = ts[t]
        tw = history_twap(hist_ts, hist_px, hist_cum, state, now, window)
        twap[t] = tw
        price[t] = np.nan
        conf[t] = np.nan
        if flags[t] & FLAG_QUORUM:
            ema_out[t] = ema
            continue
        c = cand[t]
        push_history(hist_ts, hist_px, hist_cum, state, now, c, window)
        if tw == tw and abs(c - tw) > band * tw:
            flags[t] |= FLAG_BREAKER
            ema_out[t] = ema
            continue
        ema = ema_update(ema, ema_ts, has_ema, now, c, tau)
        ema_ts = now
        has_ema = True
        ema_out[t] = ema
        price[t] = c
        conf[t] = cconf[t]
        if cconf[t] > max_conf_frac * c:
            flags[t] |= FLAG_WIDE


def replay(
    config: AggregatorConfig,
    ts_ns: I64,
    prices: F64,
    confidences: F64 | None = None,
    update_ts: I64 | None = None,
) -> ReplayResult:
    """Aggregate ``T`` ticks of ``N`` sources (columns in ``config.sources`` order) at once.

    ``prices[t, j]`` is source j's update at tick t (NaN: none); ``confidences`` likewise (NaN:
    the source default); ``update_ts[t, j]`` its timestamp (default ``ts_ns[t]``).  The reading of
    tick t is taken at ``ts_ns[t]`` after that tick's updates.  Updates are accepted exactly as
    ``Aggregator.update(..., now_ns=ts_ns[t])`` accepts them (invalid, backwards or future ones are
    dropped), so the result equals tick-by-tick ``update``/``read`` calls.
    """
    ids = tuple(config.sources)
    n = len(ids)
    ts = np.asarray(ts_ns, dtype=np.int64)
    px = np.asarray(prices, dtype=np.float64)
    if ts.ndim != 1 or px.shape != (ts.shape[0], n):
        raise ValidationError("prices", px.shape, f"must have shape (len(ts_ns), {n}) = ({ts.shape[0]}, {n})")
    if ts.shape[0] == 0:
        raise ValidationError("ts_ns", ts.shape, "is empty")
    if np.any(np.diff(ts) < 0):
        raise ValidationError("ts_ns", "...", "read times must be non-decreasing")
    T = ts.shape[0]
    srcs = [config.sources[s] for s in ids]
    weight = np.array([s.weight for s in srcs])
    max_age = np.array([s.max_age_ns for s in srcs], dtype=np.int64)
    conf_frac = np.array([s.default_confidence_bps * 1e-4 for s in srcs])
    uts = np.broadcast_to(ts[:, None], (T, n)) if update_ts is None else np.asarray(update_ts, dtype=np.int64)
    if uts.shape != (T, n):
        raise ValidationError("update_ts", uts.shape, f"must have shape ({T}, {n})")
    with np.errstate(invalid="ignore"):
        if confidences is None:
            cf = px * conf_frac
            conf_ok = np.ones((T, n), dtype=bool)
        else:
            raw = np.asarray(confidences, dtype=np.float64)
            if raw.shape != (T, n):
                raise ValidationError("confidences", raw.shape, f"must have shape ({T}, {n})")
            cf = np.where(np.isnan(raw), px * conf_frac, raw)
            conf_ok = np.isnan(raw) | ((raw >= 0) & (raw <= px))
        present = ~np.isnan(px)
        # the same bounds as Aggregator.update: price in [MIN_PRICE, MAX_PRICE], ts in [0, MAX_TS_NS]
        in_range = (px >= MIN_PRICE) & (px <= MAX_PRICE) & (uts >= 0) & (uts <= MAX_TS_NS)
        valid = present & in_range & conf_ok & (uts <= ts[:, None] + config.max_future_ns)
    # Backwards check: the newest accepted timestamp so far is the running max over valid updates.
    lo = np.iinfo(np.int64).min
    run = np.maximum.accumulate(np.where(valid, uts, lo), axis=0)
    prev = np.vstack([np.full((1, n), lo, dtype=np.int64), run[:-1]])
    accepted = valid & (uts >= prev)
    rows = np.arange(T)[:, None]
    idx = np.maximum.accumulate(np.where(accepted, rows, -1), axis=0)
    has = idx >= 0
    safe = np.maximum(idx, 0)
    cols = np.arange(n)[None, :]
    lp = px[safe, cols]
    lc = cf[safe, cols]
    lt = uts[safe, cols]
    fresh = has & (ts[:, None] - lt <= max_age[None, :])
    w_fresh = np.where(fresh, weight[None, :], 0.0)
    lp0 = np.where(fresh, lp, 0.0)
    med = masked_weighted_quantile(lp0, w_fresh, 0.5)
    dev = np.abs(lp0 - med[:, None])
    mad = masked_weighted_quantile(dev, w_fresh, 0.5)
    thresh = np.maximum(config.outlier_mad_k * MAD_TO_SIGMA * mad, config.outlier_min_bps * 1e-4 * med)
    kept = fresh & (dev <= thresh[:, None])
    used = kept.sum(axis=1).astype(np.int64)
    lc0 = np.where(kept, lc, 0.0)
    votes = np.concatenate([lp0 - lc0, lp0, lp0 + lc0], axis=1)
    wk = np.where(kept, weight[None, :], 0.0)
    wv = np.concatenate([wk, wk, wk], axis=1)
    agg = masked_weighted_quantile(votes, wv, 0.5)
    p25 = masked_weighted_quantile(votes, wv, 0.25)
    p75 = masked_weighted_quantile(votes, wv, 0.75)
    cconf = np.maximum(agg - p25, p75 - agg)
    flags = np.zeros(T, dtype=np.int64)
    flags[used < n] |= FLAG_DROPPED
    flags[(used < config.effective_quorum) | (used == 0)] |= FLAG_QUORUM
    price = np.empty(T)
    conf = np.empty(T)
    twap = np.empty(T)
    ema = np.empty(T)
    _guards(
        ts,
        agg,
        cconf,
        flags,
        config.breaker_band_bps * 1e-4,
        config.max_confidence_bps * 1e-4,
        config.twap_window_ns,
        config.ema_window_ns,
        config.history_capacity,
        price,
        conf,
        twap,
        ema,
    )
    status = np.where(
        flags & (FLAG_QUORUM | FLAG_BREAKER), STATUS_HALTED, np.where(flags != 0, STATUS_DEGRADED, STATUS_OK)
    ).astype(np.int8)
    candidate = np.where(flags & FLAG_QUORUM, np.nan, agg)
    return ReplayResult(ts, price, conf, status, flags, used, candidate, twap, ema)
