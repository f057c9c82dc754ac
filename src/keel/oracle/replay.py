"""Replay: price series from the project's real files, and a vectorized aggregation of a whole
day of ticks that gives the same readings as feeding :class:`Aggregator` tick by tick.

File adapters (I/O at the edge; they return arrays):

- ``load_uniswap_minute``: ``*.minute.csv`` (demeter-fetch) -> minute ``closeTick``;
- ``load_uniswap_rel_price``: ``*.rel-price.csv`` -> ETH and USDC in USD, exact ``sqrtPriceX96``;
- ``load_binance_klines``: Binance 1-minute klines -> close price at each minute's end.

``replay`` takes ``prices[T, N]`` (NaN = no update from source j at tick t) read at ``ts_ns[T]``
and runs staleness, MAD outliers, quorum and the Pyth vote median for all ticks at once in numpy;
only the TWAP/breaker/EMA recursion runs as a compiled loop over the candidates.
"""

from __future__ import annotations

import csv
import datetime as _dt
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from numba import njit

from keel.domain.time import NS_PER_MINUTE, datetime_to_ns
from keel.errors import ValidationError
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


@dataclass(frozen=True, slots=True)
class PriceSeries:
    """``price[k]`` (float64) observed at ``ts_ns[k]`` (int64 ns UTC), named for its origin."""

    name: str
    ts_ns: I64
    price: F64


def _open_rows(path: Path | str, required: tuple[str, ...]) -> list[dict[str, str]]:
    """Every data row of a CSV with its ``required`` columns present and non-empty.

    Refuses (naming the file) a missing file, text that is not UTF-8, NUL bytes, a missing column
    and a row cut short; the row number is the file's line number.
    """
    p = Path(path)
    if not p.is_file():
        raise ValidationError("path", str(p), "no such file")
    try:
        text = p.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValidationError("path", str(p), f"not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise ValidationError("path", str(p), f"cannot read: {exc.strerror}") from None
    if "\x00" in text:
        raise ValidationError("path", str(p), "binary file (NUL bytes), not a CSV")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        header = reader.fieldnames or []
        missing = [c for c in required if c not in header]
        if missing:
            raise ValidationError("path", str(p), f"missing column(s) {missing}")
        rows = list(reader)
    except csv.Error as exc:
        raise ValidationError("path", str(p), f"not a readable CSV ({exc})") from None
    if not rows:
        raise ValidationError("path", str(p), "has no data rows")
    for i, row in enumerate(rows):
        for c in required:
            if row.get(c) in (None, ""):
                raise ValidationError(f"{p.name}:{i + 2}", c, "row cut short (empty or missing value)")
    return rows


def _number(path: Path | str, row: int, column: str, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValidationError(f"{Path(path).name}:{row + 2}", text, f"column {column} is not a number") from None


def _integer(path: Path | str, row: int, column: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValidationError(f"{Path(path).name}:{row + 2}", text, f"column {column} is not an integer") from None


def _prices(path: Path | str, rows: list[dict[str, str]], column: str) -> F64:
    """Column ``column`` as float64, refusing NaN, infinite, zero and negative prices (row named)."""
    out = np.array([_number(path, i, column, r[column]) for i, r in enumerate(rows)])
    bad = ~(np.isfinite(out) & (out > 0))
    if bad.any():
        i = int(np.argmax(bad))
        raise ValidationError(f"{Path(path).name}:{i + 2}", rows[i][column], f"{column} must be a finite price > 0")
    return out


def _utc_ns(text: str, field: str) -> int:
    try:
        moment = _dt.datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=_dt.UTC)
    except ValueError as exc:
        raise ValidationError(field, text, "not 'YYYY-MM-DD HH:MM:SS'") from exc
    return datetime_to_ns(moment)


def load_uniswap_minute(path: Path | str) -> tuple[I64, I64]:
    """``(ts_ns, close_tick)`` per minute; ``ts_ns`` is the minute's end (when its close is known)."""
    rows = _open_rows(path, ("timestamp", "closeTick"))
    ts = np.array([_utc_ns(r["timestamp"], "timestamp") + NS_PER_MINUTE for r in rows], dtype=np.int64)
    ticks_f = np.array([_number(path, i, "closeTick", r["closeTick"]) for i, r in enumerate(rows)])
    bad = ~(np.isfinite(ticks_f) & (np.abs(ticks_f) <= 887272))
    if bad.any():
        i = int(np.argmax(bad))
        raise ValidationError(f"{Path(path).name}:{i + 2}", rows[i]["closeTick"], "closeTick outside +-887272")
    return ts, ticks_f.astype(np.int64)


def load_uniswap_rel_price(path: Path | str) -> tuple[I64, F64, F64, list[int]]:
    """``(ts_ns, eth_usd, usdc_usd, sqrt_price_x96)``: ETH and USDC in USD per minute and the pool's
    exact ``sqrtPriceX96`` (Python ints) at that minute.  Prices must be finite and > 0."""
    rows = _open_rows(path, ("block_timestamp", "usdc", "eth", "sqrtPriceX96"))
    ts = np.array([_utc_ns(r["block_timestamp"], "block_timestamp") for r in rows], dtype=np.int64)
    eth = _prices(path, rows, "eth")
    usdc = _prices(path, rows, "usdc")
    sqrt = [_integer(path, i, "sqrtPriceX96", r["sqrtPriceX96"]) for i, r in enumerate(rows)]
    return ts, eth, usdc, sqrt


def load_binance_klines(path: Path | str) -> PriceSeries:
    """Close of each 1-minute kline at the minute's end (``close_time`` + 1 ms), int ns.

    Closes must be finite and > 0, close times strictly increasing and within the int64 ns range.
    """
    rows = _open_rows(path, ("open_time", "close", "close_time"))
    ms = [_integer(path, i, "close_time", r["close_time"]) for i, r in enumerate(rows)]
    for i, v in enumerate(ms):
        if not 0 <= v < 9_000_000_000_000:  # before year 2255: (ms + 1) * 1e6 fits int64
            raise ValidationError(f"{Path(path).name}:{i + 2}", rows[i]["close_time"], "close_time out of range (ms)")
    ts = (np.array(ms, dtype=np.int64) + 1) * 1_000_000
    close = _prices(path, rows, "close")
    if np.any(np.diff(ts) <= 0):
        raise ValidationError("close_time", str(path), "not strictly increasing")
    return PriceSeries(Path(path).name, ts, close)


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
