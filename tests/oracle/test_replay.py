"""Vectorized replay equals tick-by-tick Aggregator calls on real data; file loaders."""

from __future__ import annotations

import numpy as np
import pytest

from keel.errors import ValidationError
from keel.oracle import Aggregator, AggregatorConfig, SourceConfig
from keel.oracle.dex import price_from_tick
from keel.oracle.replay import (
    STATUS_HALTED,
    load_binance_klines,
    load_uniswap_minute,
    masked_weighted_quantile,
    replay,
)

from .realdata import BTC_2025, UNI, S, rel_price

_STATUS = {"ok": 0, "degraded": 1, "halted": 2}


def _sequential(cfg: AggregatorConfig, ts: np.ndarray, px: np.ndarray, cf: np.ndarray, uts: np.ndarray):  # type: ignore[no-untyped-def]
    agg = Aggregator(cfg)
    ids = list(cfg.sources)
    out = []
    for t in range(len(ts)):
        now = int(ts[t])
        for j, sid in enumerate(ids):
            if not np.isnan(px[t, j]):
                c = None if np.isnan(cf[t, j]) else float(cf[t, j])
                agg.update(sid, float(px[t, j]), int(uts[t, j]), c, now_ns=now)
        out.append(agg.read(now))
    return out


def test_replay_equals_aggregator_on_the_real_day_with_faults() -> None:
    ts, eth, _, _ = rel_price()
    T, N = len(ts), 8
    rng = np.random.default_rng(5)
    px = eth[:, None] * (1 + rng.normal(0, 3e-4, (T, N)))
    px[rng.random((T, N)) < 0.25] = np.nan  # missed updates -> staleness
    px[300:420, :6] = np.nan  # an outage of six sources -> quorum halts
    px[600:640, 2] *= 24.0  # a pumped source -> outlier
    px[700, 1] = -1.0  # bad input
    px[701, 3] = np.inf
    px[900:1000, :] *= 1.6  # everyone jumps 60% -> circuit breaker until the TWAP catches up
    cf = np.where(rng.random((T, N)) < 0.5, np.nan, np.abs(rng.normal(0, 1.0, (T, N))))
    cf[800, 0] = -3.0  # bad confidence
    uts = ts[:, None] - rng.integers(0, 20 * S, (T, N))
    uts[1100, 4] = ts[1100] + 60 * S  # from the future
    uts[1200, 5] = uts[1199, 5] - 10 * S  # backwards
    cfg = AggregatorConfig(
        sources={f"s{j}": SourceConfig(weight=1.0 + (j % 3), max_age_ns=(90 + 30 * j) * S) for j in range(N)},
        quorum=3,
        twap_window_ns=30 * 60 * S,
        breaker_band_bps=2000.0,
    )
    res = replay(cfg, ts, px, cf, uts)
    seq = _sequential(cfg, ts, px, cf, uts)
    st = np.array([_STATUS[r.status.value] for r in seq])
    assert np.array_equal(st, res.status)
    for name in ("price", "confidence", "ema", "twap"):
        a = np.array([getattr(r, name) for r in seq])
        b = getattr(res, name)
        assert np.array_equal(np.isnan(a), np.isnan(b)), name
        assert np.nanmax(np.abs(a - b) / np.abs(b)) < 1e-13, name
    assert np.array_equal(
        np.array([len(r.sources) for r in seq])[res.status != STATUS_HALTED], res.used[res.status != STATUS_HALTED]
    )
    counts = res.counts()
    assert counts["halted"] > 100 and counts["ok"] > 100 and counts["degraded"] > 100
    assert np.all(np.isnan(res.price[res.status == STATUS_HALTED]))


def test_masked_quantile_matches_numpy_rowwise() -> None:
    rng = np.random.default_rng(1)
    v = rng.normal(100, 5, (200, 7))
    w = (rng.random((200, 7)) < 0.7).astype(float)
    got = masked_weighted_quantile(v, w, 0.5)
    for i in range(200):
        sel = v[i][w[i] > 0]
        if sel.size:
            assert got[i] == np.median(sel)
        else:
            assert np.isnan(got[i])


def test_loaders_read_the_real_files() -> None:
    ts, ticks = load_uniswap_minute(f"{UNI}.minute.csv")
    assert ts.shape == ticks.shape == (1440,) and np.all(np.diff(ts) == 60 * S)
    _, eth, _, _ = rel_price()
    # minute close tick vs the USD price column: within one tick (1 bp) of each other
    p = np.array([price_from_tick(int(t), 6, 18, invert=True) for t in ticks])
    assert np.median(np.abs(p[:-1] / eth[1:] - 1)) < 1e-3
    series = load_binance_klines(BTC_2025)
    assert len(series.price) == 130 and series.price.min() > 100_000
    with pytest.raises(ValidationError, match="path"):
        load_binance_klines(UNI.parent / "SOURCE.md")
    with pytest.raises(ValidationError, match="path"):
        load_binance_klines(UNI.parent / "nope.csv")


def test_replay_validates_shapes() -> None:
    cfg = AggregatorConfig.uniform(["a", "b"], max_age_ns=S)
    with pytest.raises(ValidationError, match="prices"):
        replay(cfg, np.arange(3), np.ones((3, 3)))
    with pytest.raises(ValidationError, match="ts_ns"):
        replay(cfg, np.array([2, 1]), np.ones((2, 2)))
