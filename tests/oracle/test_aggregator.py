"""Aggregator behaviour: statuses, reasons, bad input, staleness, breaker, EMA/TWAP, properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keel.errors import ConfigError, ValidationError
from keel.oracle import Aggregator, AggregatorConfig, OracleStatus, SourceConfig

S = 1_000_000_000
T0 = 1_704_412_800 * S  # 2024-01-05 00:00 UTC
IDS = ("a", "b", "c", "d", "e")


def make(**kw: object) -> Aggregator:
    return Aggregator(AggregatorConfig.uniform(IDS, max_age_ns=60 * S, **kw))  # type: ignore[arg-type]


def feed(agg: Aggregator, prices: dict[str, float], ts: int) -> None:
    for sid, p in prices.items():
        assert agg.update(sid, p, ts)


def test_all_agree_ok_and_median() -> None:
    agg = make()
    feed(agg, dict(zip(IDS, [100.0, 100.1, 99.9, 100.2, 100.05], strict=True)), T0)
    r = agg.read(T0)
    assert r.status is OracleStatus.OK and r.ok and r.usable
    assert r.price == 100.05  # median of five
    assert r.sources == IDS and r.reasons == ()
    assert r.confidence > 0 and r.low < r.price < r.high
    assert r.ema == r.price and math.isnan(r.twap)  # no history before the first read


def test_config_errors_name_the_field() -> None:
    with pytest.raises(ConfigError, match="quorum=6"):
        AggregatorConfig.uniform(IDS, max_age_ns=S, quorum=6)
    with pytest.raises(ConfigError, match="weight=-1"):
        SourceConfig(weight=-1.0)
    with pytest.raises(ConfigError, match="max_age_ns=0"):
        SourceConfig(max_age_ns=0)
    with pytest.raises(ConfigError, match="outlier_mad_k=nan"):
        AggregatorConfig.uniform(IDS, max_age_ns=S, outlier_mad_k=float("nan"))
    with pytest.raises(ConfigError, match="sources"):
        AggregatorConfig(sources={})
    with pytest.raises(ConfigError, match="sources\\['x'\\]"):
        AggregatorConfig(sources={"x": 1.0})  # type: ignore[dict-item]
    with pytest.raises(ConfigError, match="config"):
        Aggregator({"a": 1})  # type: ignore[arg-type]
    assert AggregatorConfig.uniform(IDS, max_age_ns=S).effective_quorum == 3


@pytest.mark.parametrize(
    ("sid", "price", "ts", "conf", "field"),
    [
        ("a", float("nan"), T0, None, "price=nan"),
        ("a", -5.0, T0, None, "price=-5.0"),
        ("a", 0.0, T0, None, "price=0.0"),
        ("a", float("inf"), T0, None, "price=inf"),
        ("a", "100", T0, None, "price='100'"),
        ("a", 100.0, 1.5e18, None, "ts_ns=1.5e+18"),
        ("a", 100.0, T0, -1.0, "confidence=-1.0"),
        ("a", 100.0, T0, float("nan"), "confidence=nan"),
        ("zz", 100.0, T0, None, "source_id='zz'"),
    ],
)
def test_bad_input_rejected_with_reason(sid: str, price: float, ts: int, conf: float | None, field: str) -> None:
    agg = make()
    feed(agg, dict.fromkeys(IDS, 100.0), T0)
    assert agg.update(sid, price, ts, conf) is False  # type: ignore[arg-type]
    r = agg.read(T0)
    assert r.price == 100.0  # never aggregated
    assert any(field in reason and "rejected" in reason for reason in r.reasons), r.reasons
    assert agg.read(T0).reasons == ()  # reported once


def test_backwards_and_future_timestamps() -> None:
    agg = make()
    feed(agg, dict.fromkeys(IDS, 100.0), T0)
    assert not agg.update("a", 200.0, T0 - 1)
    assert not agg.update("a", 200.0, T0 + 3600 * S, now_ns=T0)
    r = agg.read(T0)
    assert r.price == 100.0 and sum("goes backwards" in x for x in r.reasons) == 1
    assert sum("in the future" in x for x in r.reasons) == 1
    # without now_ns the future sample is caught at read, discarded, and cannot block honest updates
    assert agg.update("b", 1e6, T0 + 3600 * S)
    r = agg.read(T0 + S)
    assert "b" not in r.sources and any("b: timestamp from the future" in x for x in r.reasons)
    assert r.price == 100.0 and r.status is OracleStatus.DEGRADED
    assert agg.update("b", 100.5, T0 + 2 * S)
    assert "b" in agg.read(T0 + 2 * S).sources


def test_read_must_not_go_backwards() -> None:
    agg = make()
    feed(agg, dict.fromkeys(IDS, 100.0), T0)
    agg.read(T0)
    with pytest.raises(ValidationError, match="now_ns"):
        agg.read(T0 - 1)
    with pytest.raises(ValidationError, match="now_ns"):
        agg.read(1.0)  # type: ignore[arg-type]


def test_stale_sources_dropped_then_halt() -> None:
    agg = make()
    feed(agg, dict.fromkeys(IDS, 100.0), T0)
    feed(agg, {"a": 101.0, "b": 101.0, "c": 101.0}, T0 + 30 * S)
    r = agg.read(T0 + 61 * S)  # d, e are 61 s old
    assert r.status is OracleStatus.DEGRADED and r.sources == ("a", "b", "c") and r.price == 101.0
    assert sum("stale" in x for x in r.reasons) == 2
    r = agg.read(T0 + 91 * S)  # everything stale
    assert r.status is OracleStatus.HALTED and math.isnan(r.price) and math.isnan(r.confidence)
    assert r.sources == () and any("quorum: 0 of 5" in x for x in r.reasons)


def test_no_data_is_reported() -> None:
    agg = make()
    r = agg.read(T0 - 1)  # nothing yet: halted, NaN
    assert r.status is OracleStatus.HALTED and math.isnan(r.price) and "a: no sample yet" in r.reasons
    feed(agg, {"a": 1.0, "b": 1.0, "c": 1.0}, T0)
    r = agg.read(T0)
    assert r.status is OracleStatus.DEGRADED and "d: no sample yet" in r.reasons


def test_circuit_breaker_halts_then_recovers() -> None:
    agg = make(breaker_band_bps=1000.0, twap_window_ns=600 * S)
    for k in range(11):
        feed(agg, dict.fromkeys(IDS, 100.0), T0 + k * 60 * S)
        assert agg.read(T0 + k * 60 * S).ok
    halted_at = []
    for k in range(11, 40):
        now = T0 + k * 60 * S
        feed(agg, dict.fromkeys(IDS, 150.0), now)  # every source jumps 50%
        r = agg.read(now)
        if r.status is OracleStatus.HALTED:
            assert math.isnan(r.price) and any("circuit breaker" in x for x in r.reasons)
            halted_at.append(k)
        else:
            assert r.price == 150.0
    # halted until the 10-minute TWAP of candidates is within 10% of 150: 150 - 50 * f <= 150/1.1
    assert halted_at == list(range(11, halted_at[-1] + 1)) and 11 < halted_at[-1] < 21
    # the TWAP the breaker used is the time-weighted mean of the previous candidates
    assert agg.read(T0 + 40 * 60 * S).twap == 150.0


def test_twap_and_ema_match_hand_computation() -> None:
    tau = 120 * S
    agg = make(twap_window_ns=300 * S, ema_window_ns=tau, breaker_band_bps=9000.0)
    path = [100.0, 102.0, 101.0, 105.0, 104.0, 103.0, 108.0]
    times = [0, 30, 90, 100, 220, 400, 460]
    ema = None
    readings = []
    for p, t in zip(path, times, strict=True):
        feed(agg, dict.fromkeys(IDS, p), T0 + t * S)
        readings.append(agg.read(T0 + t * S))
    for k, (p, t) in enumerate(zip(path, times, strict=True)):
        ema = p if ema is None else ema + (1 - math.exp(-(t - times[k - 1]) * S / tau)) * (p - ema)
        assert abs(readings[k].ema - ema) < 1e-12
        if k == 0:
            continue
        # independent TWAP: integrate the step function of previous candidates over [t-300, t]
        grid = np.arange(max(t - 300, 0), t, 0.01) + 0.005
        idx = np.searchsorted(np.array(times[:k]), grid, side="right") - 1
        expect = float(np.mean(np.array(path[:k])[idx]))
        assert abs(readings[k].twap - expect) < 1e-6, (k, readings[k].twap, expect)


def test_wide_confidence_degrades() -> None:
    agg = make(max_confidence_bps=50.0)
    for sid in IDS:
        agg.update(sid, 100.0, T0, confidence=2.0)
    r = agg.read(T0)
    assert r.status is OracleStatus.DEGRADED and r.confidence == 2.0 and "wider" in r.reasons[0]


def test_weights_move_the_median() -> None:
    cfg = AggregatorConfig(
        sources={"big": SourceConfig(weight=3.0), "s1": SourceConfig(), "s2": SourceConfig()},
        quorum=1,
        outlier_min_bps=500.0,
    )
    agg = Aggregator(cfg)
    agg.update("big", 100.0, T0)
    agg.update("s1", 101.0, T0)
    agg.update("s2", 102.0, T0)
    assert agg.read(T0).price == 100.0


def test_default_confidence_bps_is_used() -> None:
    cfg = AggregatorConfig(sources={"x": SourceConfig(default_confidence_bps=10.0)}, quorum=1)
    agg = Aggregator(cfg)
    agg.update("x", 2000.0, T0)
    r = agg.read(T0)
    assert r.price == 2000.0 and abs(r.confidence - 2.0) < 1e-12


# --- properties ------------------------------------------------------------------------------

source_prices = st.lists(st.floats(50.0, 150.0), min_size=5, max_size=5)


@settings(max_examples=150, deadline=None)
@given(source_prices, st.lists(st.floats(0.0, 3.0), min_size=5, max_size=5), st.permutations(range(5)))
def test_properties(prices: list[float], confs: list[float], order: list[int]) -> None:
    readings = []
    for perm in (range(5), order):
        agg = Aggregator(AggregatorConfig.uniform(IDS, max_age_ns=60 * S, quorum=1))
        for j in perm:
            assert agg.update(IDS[j], prices[j], T0, confs[j])
        readings.append(agg.read(T0))
    r, r2 = readings
    # permutation invariance of the update order
    assert r.price == r2.price and r.confidence == r2.confidence and set(r.sources) == set(r2.sources)
    assert r.status is not OracleStatus.HALTED
    used = [prices[IDS.index(s)] for s in r.sources]
    assert min(used) <= r.price <= max(used)  # within the range of the sources used
    assert len(used) >= 3  # at least half the weight is never an outlier
    # every fresh source that was not used was rejected as an outlier, with a reason
    for sid in set(IDS) - set(r.sources):
        assert any(f"{sid}: outlier" in x for x in r.reasons)


@settings(max_examples=100, deadline=None)
@given(source_prices, st.floats(0.01, 100.0))
def test_scale_equivariance(prices: list[float], k: float) -> None:
    out = []
    for scale in (1.0, k):
        agg = Aggregator(AggregatorConfig.uniform(IDS, max_age_ns=60 * S, quorum=1))
        for sid, p in zip(IDS, prices, strict=True):
            agg.update(sid, p * scale, T0)
        out.append(agg.read(T0))
    assert out[1].price == pytest.approx(out[0].price * k, rel=1e-12)
    assert out[1].sources == out[0].sources


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(50.0, 150.0), min_size=5, max_size=5), st.integers(0, 4))
def test_one_corrupt_source_cannot_move_price_outside_honest_range(honest: list[float], bad: int) -> None:
    agg = Aggregator(AggregatorConfig.uniform(IDS, max_age_ns=60 * S, quorum=1))
    for j, sid in enumerate(IDS):
        agg.update(sid, 1e9 if j == bad else honest[j], T0)
    r = agg.read(T0)
    others = [h for j, h in enumerate(honest) if j != bad]
    assert min(others) <= r.price <= max(others)


def test_full_history_ring_shrinks_the_twap_window() -> None:
    """With 4 points kept, the TWAP covers only from the oldest kept point (documented)."""
    agg = make(history_capacity=4, twap_window_ns=3600 * S, breaker_band_bps=9000.0)
    path = [100.0, 110.0, 120.0, 130.0, 140.0, 150.0]
    for k, p in enumerate(path):
        feed(agg, dict.fromkeys(IDS, p), T0 + 60 * k * S)
        r = agg.read(T0 + 60 * k * S)
    # at the last read the ring holds 120 (t=120), 130, 140 and the new 150; before the push it held
    # 110..140, so the TWAP is over [60 s, 300 s]: (110 + 120 + 130 + 140) / 4
    assert r.twap == pytest.approx(125.0, rel=1e-12)
    r = agg.read(T0 + 360 * S)  # ring now 120..150 over [120 s, 360 s] -> (120 + 130 + 140 + 150) / 4
    assert r.twap == pytest.approx(135.0, rel=1e-12)
