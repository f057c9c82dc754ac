"""Push (Chainlink), pull (Pyth) and exchange-quote adapters."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from keel.domain import Quote
from keel.errors import ValidationError
from keel.oracle.feeds import ChainlinkRound, PushFeed, PythPrice, cross_price, quote_to_update, scaled

from .realdata import S, rel_price


def test_push_feed_heartbeat_and_deviation_on_the_real_day() -> None:
    """Every written round is due to the deviation threshold or the heartbeat, and between
    rounds the real price never moved past the threshold from the last answer."""
    ts, eth, _, _ = rel_price()
    feed = PushFeed("cl", heartbeat_ns=3600 * S, deviation_bps=25.0, decimals=8)
    last_p = last_t = None
    rounds = 0
    for t, p in zip(ts.tolist(), eth.tolist(), strict=True):
        u = feed.observe(p, t)
        if u is None:
            assert last_p is not None and last_t is not None
            assert abs(p / last_p - 1) < 25e-4 and t - last_t < 3600 * S
            continue
        rounds += 1
        if last_p is not None:
            assert abs(p / last_p - 1) >= 25e-4 or t - last_t >= 3600 * S
        assert abs(u.price / p - 1) < 1e-8  # quantized to 8 decimals
        rnd = feed.latest_round
        assert rnd is not None and rnd.round_id == rounds and rnd.updated_at == t // S
        assert rnd.to_update("cl").price == u.price
        last_p, last_t = u.price, t
    assert 10 < rounds < 1440
    assert feed.max_age_ns() == 3660 * S


def test_chainlink_round_normalization() -> None:
    rnd = ChainlinkRound(round_id=1, answer=226_976_050_375, decimals=8, updated_at=1_704_412_800)
    u = rnd.to_update("cl")
    assert u.price == 2269.76050375 and u.ts_ns == 1_704_412_800 * S and u.confidence is None
    inv = rnd.to_update("cl", invert=True)
    assert inv.price == float(Fraction(10**8, 226_976_050_375))
    assert ChainlinkRound(1, -5, 8, 0).to_update("x").price == -5e-8  # passed through; the aggregator rejects it
    with pytest.raises(ValidationError, match="decimals"):
        ChainlinkRound(1, 5, 99, 0)


def test_pyth_scaling_and_inversion() -> None:
    msg = PythPrice(price=6_543_210_000_000, conf=2_500_000_000, expo=-8, publish_time=1_760_128_140)
    u = msg.to_update("pyth")
    assert u.price == 65432.1 and u.confidence == 25.0 and u.ts_ns == 1_760_128_140 * S
    inv = msg.to_update("pyth", invert=True)
    assert inv.price == float(Fraction(1) / Fraction(654321, 10))
    assert inv.confidence == pytest.approx(25.0 / 65432.1**2, rel=1e-15)
    # first-order propagation: the inverted band matches 1/(p -+ c) to O(c^2)
    assert abs((1 / (65432.1 - 25.0) - 1 / (65432.1 + 25.0)) / 2 - inv.confidence) < 1e-3 * inv.confidence
    with pytest.raises(ValidationError, match="conf=-1"):
        PythPrice(1, -1, -8, 0)


def test_cross_price_adds_relative_confidence() -> None:
    p, c = cross_price(2270.0, 1.0, 42000.0, 10.0)
    assert p == 2270.0 / 42000.0 and c == pytest.approx(p * (1 / 2270 + 10 / 42000), rel=1e-15)
    with pytest.raises(ValidationError, match="price_b"):
        cross_price(1.0, 0.0, 0.0, 0.0)


def test_quote_mid_and_half_spread() -> None:
    q = Quote("ETH-USD", 2269.5, 2270.5, 7)
    u = quote_to_update("cex", q)
    assert (u.price, u.confidence, u.ts_ns) == (2270.0, 0.5, 7)
    inv = quote_to_update("cex", q, invert=True)
    assert inv.price == pytest.approx((1 / 2270.5 + 1 / 2269.5) / 2, rel=1e-15)
    assert inv.confidence == pytest.approx((1 / 2269.5 - 1 / 2270.5) / 2, rel=1e-12)


def test_scaled_is_exact_then_rounded_once() -> None:
    assert scaled(1, -1) == 0.1 and scaled(12345, 2) == 1234500.0
    rng = np.random.default_rng(0)
    for m in rng.integers(1, 2**62, 50).tolist():
        assert scaled(m, -8) == float(Fraction(m, 10**8))


def test_push_feed_rejects_bad_settings() -> None:
    with pytest.raises(ValidationError, match="heartbeat_ns"):
        PushFeed("x", 0, 50.0)
    with pytest.raises(ValidationError, match="deviation_bps"):
        PushFeed("x", S, -1.0)
    with pytest.raises(ValidationError, match="price"):
        PushFeed("x", S, 1.0).observe(float("nan"), 0)
