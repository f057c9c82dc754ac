"""The price aggregator: many source samples in, one robust :class:`OracleReading` out.

``read(now_ns)`` does, in order (all in one compiled kernel, ``aggregate_step``):

1. staleness: a source with no sample, a sample older than its ``max_age_ns``, or one stamped
   after ``now + max_future_ns`` is dropped (a future sample is also discarded, so it cannot
   block later honest updates through the going-backwards check);
2. outliers: weighted median ``m`` and MAD of the fresh prices; a price further than
   ``max(k * 1.4826 * MAD, outlier_min_bps * m)`` from ``m`` is dropped;
3. quorum: fewer survivors than the quorum -> HALTED (price NaN);
4. Pyth votes: price = weighted median of the votes ``p - c, p, p + c``; confidence =
   ``max(price - P25, P75 - price)``;
5. circuit breaker: the candidate is compared with the TWAP of the previous candidates over
   ``twap_window_ns``; outside ``breaker_band_bps`` -> HALTED.  The candidate still enters the
   TWAP history, so a real, sustained move is accepted once the TWAP has caught up with it;
6. EMA of the published (non-halted) prices.

Status: HALTED (3 or 5), else DEGRADED when any configured source was dropped or the
confidence is wider than ``max_confidence_bps``, else OK.  A HALTED reading's price and
confidence are NaN: it never carries a stale price.

Bad input never reaches the median: ``update`` returns ``False`` and records the rejection
(NaN, inf, non-positive price, negative or non-finite confidence, non-int timestamp,
timestamp before the source's previous one, timestamp beyond ``now_ns + max_future_ns`` when
the caller passes ``now_ns``, unknown source).  The next ``read`` lists the rejections in its
``reasons`` (the 32 most recent), then forgets them.  ``update`` raises nothing for bad data:
feeds are untrusted input, and a feed handler must not crash on one bad tick.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import numpy.typing as npt
from numba import njit

from keel.errors import ConfigError, ValidationError
from keel.oracle.averages import ema_update, history_twap, push_history
from keel.oracle.config import AggregatorConfig
from keel.oracle.reading import OracleReading, OracleStatus
from keel.oracle.robust import mad_outliers, pyth_aggregate

__all__ = [
    "FLAG_BREAKER",
    "FLAG_DROPPED",
    "FLAG_QUORUM",
    "FLAG_WIDE",
    "NO_DATA",
    "SOURCE_FUTURE",
    "SOURCE_NO_DATA",
    "SOURCE_OUTLIER",
    "SOURCE_STALE",
    "SOURCE_USED",
    "Aggregator",
    "aggregate_step",
    "status_of_flags",
]

NO_DATA = np.iinfo(np.int64).min  # timestamp of a source slot without a sample
# Timestamps are int64 ns UTC from the epoch; the kernel adds windows to them, so leave headroom.
MAX_TS_NS = 2**62
# Prices outside this range cannot be aggregated without overflow in the band and MAD arithmetic.
MIN_PRICE = 1e-30
MAX_PRICE = 1e30

# Per-source codes written by the kernel.
SOURCE_USED = 0
SOURCE_NO_DATA = 1
SOURCE_STALE = 2
SOURCE_FUTURE = 3
SOURCE_OUTLIER = 4

# Reading flags returned by the kernel.
FLAG_QUORUM = 1  # too few sources: halted
FLAG_BREAKER = 2  # circuit breaker: halted
FLAG_WIDE = 4  # confidence wider than max_confidence_bps: degraded
FLAG_DROPPED = 8  # some configured source not used: degraded

_MAX_REJECTIONS = 32


@njit(cache=True)
def aggregate_step(
    fsrc: npt.NDArray[np.float64],
    isrc: npt.NDArray[np.int64],
    fbuf: npt.NDArray[np.float64],
    ibuf: npt.NDArray[np.int64],
    hist_ts: npt.NDArray[np.int64],
    hist_f: npt.NDArray[np.float64],
    now: int,
) -> int:
    """One read (arguments packed to keep the call cheap).

    ``fsrc`` rows: price, confidence, weight; ``isrc`` rows: sample ts (``NO_DATA`` if none),
    max age, per-source code (written); ``fbuf[0:4]`` = (mad_k, min_dev_frac, band_frac,
    max_conf_frac) and ``fbuf[4:12]`` = out (price, confidence, twap, ema, median, MAD, used,
    candidate); ``ibuf[0:4]`` = (max_future_ns, quorum, twap_window_ns, ema_window_ns) and
    ``ibuf[4:8]`` = state (history head, history count, ema_ts, has_ema); ``hist_f`` rows:
    history price, cumulative.  Returns the FLAG_* bits.  Mutates the sample ts (future samples
    discarded), the codes, the history, the state and out.
    """
    price = fsrc[0]
    conf = fsrc[1]
    weight = fsrc[2]
    ts = isrc[0]
    max_age = isrc[1]
    codes = isrc[2]
    fparams = fbuf[0:4]
    out = fbuf[4:12]
    iparams = ibuf[0:4]
    state = ibuf[4:8]
    hist_px = hist_f[0]
    hist_cum = hist_f[1]
    n = price.shape[0]
    max_future = iparams[0]
    quorum = iparams[1]
    window = iparams[2]
    tau = iparams[3]
    mask = np.empty(n, dtype=np.bool_)
    for i in range(n):
        t = ts[i]
        mask[i] = False
        if t == NO_DATA:
            codes[i] = SOURCE_NO_DATA
        elif t > now + max_future:
            codes[i] = SOURCE_FUTURE
            ts[i] = NO_DATA
        elif now - t > max_age[i]:
            codes[i] = SOURCE_STALE
        else:
            codes[i] = SOURCE_USED
            mask[i] = True
    tmp = np.empty(4)
    kept = mad_outliers(price, weight, mask, fparams[0], fparams[1], tmp)
    out[4] = tmp[0]
    out[5] = tmp[1]
    for i in range(n):
        if codes[i] == SOURCE_USED and not mask[i]:
            codes[i] = SOURCE_OUTLIER
    out[6] = kept
    flags = 0
    if kept < n:
        flags |= FLAG_DROPPED
    if kept < quorum or kept == 0:
        out[0] = np.nan
        out[1] = np.nan
        out[2] = history_twap(hist_ts, hist_px, hist_cum, state, now, window)
        out[7] = np.nan
        return flags | FLAG_QUORUM
    pyth_aggregate(price, conf, weight, mask, tmp)
    cand = tmp[0]
    cconf = tmp[1]
    out[7] = cand
    twap = history_twap(hist_ts, hist_px, hist_cum, state, now, window)
    push_history(hist_ts, hist_px, hist_cum, state, now, cand, window)
    out[2] = twap
    if twap == twap and abs(cand - twap) > fparams[2] * twap:
        out[0] = np.nan
        out[1] = np.nan
        return flags | FLAG_BREAKER
    ema = ema_update(out[3], state[2], state[3] == 1, now, cand, tau)
    state[2] = now
    state[3] = 1
    out[0] = cand
    out[1] = cconf
    out[3] = ema
    if cconf > fparams[3] * cand:
        flags |= FLAG_WIDE
    return flags


def status_of_flags(flags: int) -> OracleStatus:
    """HALTED for quorum or breaker flags, DEGRADED for any other flag, else OK."""
    if flags & (FLAG_QUORUM | FLAG_BREAKER):
        return OracleStatus.HALTED
    if flags:
        return OracleStatus.DEGRADED
    return OracleStatus.OK


_CODE_WORDS = {
    SOURCE_NO_DATA: "no sample yet",
    SOURCE_STALE: "stale",
    SOURCE_FUTURE: "timestamp from the future (sample discarded)",
    SOURCE_OUTLIER: "outlier",
}


class Aggregator:
    """Weighted-median price aggregator with quorum, MAD outliers, staleness, Pyth confidence,
    TWAP/EMA and a circuit breaker.  See the module docstring for the algorithm.

    Prices are float64 in the quote currency per unit of base (normalize with the adapters in
    :mod:`keel.oracle.feeds` and :mod:`keel.oracle.dex` first); timestamps are int ns UTC.
    ``read`` must be called with non-decreasing ``now_ns``.  Deterministic: no wall clock.
    """

    __slots__ = (
        "_conf",
        "_conf_frac",
        "_config",
        "_fbuf",
        "_fsrc",
        "_hist_f",
        "_hist_ts",
        "_ibuf",
        "_ids",
        "_index",
        "_isrc",
        "_last_now",
        "_last_ts",
        "_max_future",
        "_n",
        "_out",
        "_price",
        "_rejections",
        "_ts",
    )

    def __init__(self, config: AggregatorConfig) -> None:
        if not isinstance(config, AggregatorConfig):
            raise ConfigError("config", type(config).__name__, "must be a keel.oracle.AggregatorConfig")
        self._config = config
        self._ids: tuple[str, ...] = tuple(config.sources)
        self._index = {sid: i for i, sid in enumerate(self._ids)}
        n = len(self._ids)
        self._n = n
        srcs = [config.sources[s] for s in self._ids]
        self._fsrc = np.zeros((3, n))
        self._fsrc[0] = np.nan
        self._fsrc[2] = [s.weight for s in srcs]
        self._isrc = np.zeros((3, n), dtype=np.int64)
        self._isrc[0] = NO_DATA
        self._isrc[1] = [s.max_age_ns for s in srcs]
        self._price = self._fsrc[0]
        self._conf = self._fsrc[1]
        self._ts = self._isrc[0]
        self._conf_frac = [s.default_confidence_bps * 1e-4 for s in srcs]
        self._last_ts: list[int] = [int(NO_DATA)] * n
        self._fbuf = np.full(12, np.nan)
        self._fbuf[0:4] = [
            config.outlier_mad_k,
            config.outlier_min_bps * 1e-4,
            config.breaker_band_bps * 1e-4,
            config.max_confidence_bps * 1e-4,
        ]
        self._ibuf = np.zeros(8, dtype=np.int64)
        self._ibuf[0:4] = [config.max_future_ns, config.effective_quorum, config.twap_window_ns, config.ema_window_ns]
        cap = config.history_capacity
        self._hist_ts = np.zeros(cap, dtype=np.int64)
        self._hist_f = np.zeros((2, cap))
        self._out = self._fbuf[4:12]
        self._max_future = config.max_future_ns
        self._last_now: int | None = None
        self._rejections: list[str] = []

    def __setstate__(self, state: object) -> None:
        """Unpickling (a simulation checkpoint): restore the attributes, then re-make the views into the
        state arrays (pickle stores a view as its own copy, which would stop tracking the array)."""
        slots = state[1] if isinstance(state, tuple) else state
        assert isinstance(slots, dict)
        for name, value in slots.items():
            object.__setattr__(self, name, value)
        self._price = self._fsrc[0]
        self._conf = self._fsrc[1]
        self._ts = self._isrc[0]
        self._out = self._fbuf[4:12]

    @property
    def config(self) -> AggregatorConfig:
        return self._config

    @property
    def source_ids(self) -> tuple[str, ...]:
        return self._ids

    def _reject(self, source_id: object, field: str, value: object, problem: str) -> bool:
        rej = self._rejections
        rej.append(f"rejected {source_id!r}: {ValidationError(field, value, problem)}")
        if len(rej) > _MAX_REJECTIONS:
            del rej[0]
        return False

    def update(
        self,
        source_id: str,
        price: float,
        ts_ns: int,
        confidence: float | None = None,
        *,
        now_ns: int | None = None,
    ) -> bool:
        """Record ``source_id``'s ``price`` (> 0, finite) observed at ``ts_ns`` (int ns UTC).

        ``confidence`` is the half-width of the source's band in price units (>= 0); ``None``
        uses the source's ``default_confidence_bps``.  ``now_ns``, when given, lets a future
        timestamp be rejected here rather than at the next read.  Returns ``True`` if accepted,
        ``False`` if rejected (the reason appears in the next reading's ``reasons``).  A sample
        with the same timestamp as the previous one replaces it.
        """
        i = self._index.get(source_id) if type(source_id) is str else None
        if i is None:
            return self._reject(source_id, "source_id", source_id, "unknown source")
        if type(price) is not float:
            if isinstance(price, bool | str | bytes):
                return self._reject(source_id, "price", price, "must be a number")
            try:
                price = float(price)
            except (TypeError, ValueError):
                return self._reject(source_id, "price", price, "must be a number")
        if not MIN_PRICE <= price <= MAX_PRICE:
            return self._reject(source_id, "price", price, f"must be finite and in [{MIN_PRICE:g}, {MAX_PRICE:g}]")
        if type(ts_ns) is not int:
            if isinstance(ts_ns, np.integer):
                ts_ns = int(ts_ns)
            else:
                return self._reject(source_id, "ts_ns", ts_ns, "must be int nanoseconds UTC")
        if not 0 <= ts_ns <= MAX_TS_NS:
            return self._reject(source_id, "ts_ns", ts_ns, f"must be in [0, {MAX_TS_NS}] ns UTC")
        if now_ns is not None and (type(now_ns) is not int or not 0 <= now_ns <= MAX_TS_NS):
            return self._reject(source_id, "now_ns", now_ns, f"must be int nanoseconds UTC in [0, {MAX_TS_NS}]")
        if ts_ns < self._last_ts[i]:
            return self._reject(source_id, "ts_ns", ts_ns, f"goes backwards (previous sample at {self._last_ts[i]})")
        if now_ns is not None and ts_ns > now_ns + self._max_future:
            return self._reject(source_id, "ts_ns", ts_ns, f"is in the future (now {now_ns})")
        if confidence is None:
            conf = price * self._conf_frac[i]
        else:
            try:
                conf = float(confidence)
            except (TypeError, ValueError):
                return self._reject(source_id, "confidence", confidence, "must be a number")
            if not 0.0 <= conf <= price:
                return self._reject(source_id, "confidence", confidence, "must be finite, >= 0 and <= the price")
        self._price[i] = price
        self._conf[i] = conf
        self._ts[i] = ts_ns
        self._last_ts[i] = ts_ns
        return True

    def update_many(self, updates: Iterable[tuple[str, float, int, float | None]]) -> int:
        """Apply ``(source_id, price, ts_ns, confidence)`` tuples in order; return how many were accepted."""
        accepted = 0
        for sid, px, ts, conf in updates:
            accepted += self.update(sid, px, ts, conf)
        return accepted

    def read(self, now_ns: int) -> OracleReading:
        """The aggregate at ``now_ns`` (int ns UTC, not before the previous read)."""
        if type(now_ns) is not int:
            if isinstance(now_ns, np.integer):
                now_ns = int(now_ns)
            else:
                raise ValidationError("now_ns", now_ns, "must be int nanoseconds UTC")
        if not 0 <= now_ns <= MAX_TS_NS:
            raise ValidationError("now_ns", now_ns, f"must be in [0, {MAX_TS_NS}] ns UTC")
        last = self._last_now
        if last is not None and now_ns < last:
            raise ValidationError("now_ns", now_ns, f"is before the previous read at {last}")
        self._last_now = now_ns
        out = self._out
        flags = aggregate_step(self._fsrc, self._isrc, self._fbuf, self._ibuf, self._hist_ts, self._hist_f, now_ns)
        if flags == 0 and not self._rejections:
            o = out.tolist()
            return OracleReading(o[0], o[1], OracleStatus.OK, now_ns, self._ids, (), o[3], o[2])
        return self._slow_reading(flags, now_ns)

    def _slow_reading(self, flags: int, now_ns: int) -> OracleReading:
        out = self._out
        ids = self._ids
        codes = self._isrc[2].tolist()
        reasons: list[str] = []
        used: list[str] = []
        for i, code in enumerate(codes):
            if code == SOURCE_USED:
                used.append(ids[i])
                continue
            if code == SOURCE_FUTURE:
                self._last_ts[i] = int(NO_DATA)
            if code == SOURCE_STALE:
                age = now_ns - int(self._ts[i])
                reasons.append(f"{ids[i]}: stale (age {age} ns > max {int(self._isrc[1, i])} ns)")
            elif code == SOURCE_OUTLIER:
                dev = abs(float(self._price[i]) / float(out[4]) - 1.0) * 1e4
                reasons.append(f"{ids[i]}: outlier ({dev:.0f} bp from median {float(out[4]):.10g})")
            else:
                reasons.append(f"{ids[i]}: {_CODE_WORDS[code]}")
        if flags & FLAG_QUORUM:
            reasons.append(f"quorum: {len(used)} of {self._n} sources usable, need {int(self._ibuf[1])}")
        if flags & FLAG_BREAKER:
            reasons.append(
                f"circuit breaker: candidate {float(out[7]):.10g} is "
                f"{abs(float(out[7]) / float(out[2]) - 1.0) * 1e4:.0f} bp from TWAP {float(out[2]):.10g} "
                f"(band {self._config.breaker_band_bps:g} bp)"
            )
        if flags & FLAG_WIDE:
            reasons.append(
                f"confidence {float(out[1]):.6g} is wider than {self._config.max_confidence_bps:g} bp of the price"
            )
        reasons.extend(self._rejections)
        self._rejections.clear()
        status = status_of_flags(flags)
        if status is OracleStatus.HALTED:
            return OracleReading(math.nan, math.nan, status, now_ns, (), tuple(reasons), float(out[3]), float(out[2]))
        return OracleReading(
            float(out[0]), float(out[1]), status, now_ns, tuple(used), tuple(reasons), float(out[3]), float(out[2])
        )
