"""Source adapters for off-DEX feeds: push (Chainlink style), pull with confidence (Pyth style)
and exchange quotes (mid and spread).  Values in, :class:`SourceUpdate` out.

Normalization: integer answers are scaled by their decimals/exponent exactly (rational
arithmetic, one rounding to float64); seconds and milliseconds become int ns; ``invert=True``
turns a BASE/QUOTE price into QUOTE/BASE with the confidence carried to first order
(``c / p**2``, the rule Pyth's SDK applies to a quotient: relative confidences add).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from keel.domain.market_data import Quote
from keel.domain.time import NS_PER_SECOND
from keel.errors import ValidationError
from keel.oracle.sample import SourceUpdate

__all__ = [
    "ChainlinkRound",
    "PushFeed",
    "PythPrice",
    "cross_price",
    "quote_to_update",
    "scaled",
]


def _int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(name, value, "must be an int")
    return value


def scaled(mantissa: int, exponent: int) -> float:
    """``mantissa * 10**exponent`` rounded once to float64."""
    m = _int("mantissa", mantissa)
    e = _int("exponent", exponent)
    return float(Fraction(m) * Fraction(10) ** e)


def cross_price(price_a: float, conf_a: float, price_b: float, conf_b: float) -> tuple[float, float]:
    """``A / B`` with confidence ``(A / B) (c_a / p_a + c_b / p_b)`` (e.g. ETH/BTC from ETH/USD and BTC/USD)."""
    for name, v in (("price_a", price_a), ("price_b", price_b)):
        if not 0.0 < v < math.inf:
            raise ValidationError(name, v, "must be finite and > 0")
    for name, v in (("conf_a", conf_a), ("conf_b", conf_b)):
        if not 0.0 <= v < math.inf:
            raise ValidationError(name, v, "must be finite and >= 0")
    ratio = price_a / price_b
    return ratio, ratio * (conf_a / price_a + conf_b / price_b)


@dataclass(frozen=True, slots=True)
class ChainlinkRound:
    """One round of a Chainlink-style aggregator: ``answer * 10**-decimals`` at ``updated_at`` (s)."""

    round_id: int
    answer: int
    decimals: int
    updated_at: int

    def __post_init__(self) -> None:
        _int("round_id", self.round_id)
        _int("answer", self.answer)
        if not 0 <= _int("decimals", self.decimals) <= 36:
            raise ValidationError("decimals", self.decimals, "must be in [0, 36]")
        _int("updated_at", self.updated_at)

    def to_update(self, source_id: str, *, invert: bool = False) -> SourceUpdate:
        """Normalize: price as float, ``updated_at`` seconds -> ns.  A non-positive answer is passed
        through as is (the aggregator rejects it with a reason)."""
        if invert and self.answer > 0:
            price = float(Fraction(10**self.decimals, self.answer))
        else:
            price = scaled(self.answer, -self.decimals)
        return SourceUpdate(source_id, price, self.updated_at * NS_PER_SECOND)


class PushFeed:
    """A push oracle as Chainlink runs one: a new round is written when the observed price moves
    by ``deviation_bps`` from the last written answer, or when ``heartbeat_ns`` has passed.

    ``observe(price, ts_ns)`` is the off-chain observation; it returns the :class:`SourceUpdate`
    when a round is written, else ``None``.  Answers are quantized to ``decimals`` like the
    on-chain int.  A consumer should set the source's ``max_age_ns`` to the heartbeat plus a grace
    period (:meth:`max_age_ns`).
    """

    __slots__ = ("_last", "_round", "decimals", "deviation_bps", "heartbeat_ns", "source_id")

    def __init__(self, source_id: str, heartbeat_ns: int, deviation_bps: float, decimals: int = 8) -> None:
        if _int("heartbeat_ns", heartbeat_ns) <= 0:
            raise ValidationError("heartbeat_ns", heartbeat_ns, "must be > 0")
        if isinstance(deviation_bps, bool) or not 0.0 <= float(deviation_bps) < 10_000:
            raise ValidationError("deviation_bps", deviation_bps, "must be in [0, 10000)")
        if not 0 <= _int("decimals", decimals) <= 36:
            raise ValidationError("decimals", decimals, "must be in [0, 36]")
        self.source_id = source_id
        self.heartbeat_ns = heartbeat_ns
        self.deviation_bps = float(deviation_bps)
        self.decimals = decimals
        self._round = 0
        self._last: ChainlinkRound | None = None

    @property
    def latest_round(self) -> ChainlinkRound | None:
        return self._last

    def max_age_ns(self, grace_ns: int = 60 * NS_PER_SECOND) -> int:
        return self.heartbeat_ns + grace_ns

    def observe(self, price: float, ts_ns: int) -> SourceUpdate | None:
        if not 0.0 < price < math.inf:
            raise ValidationError("price", price, "must be finite and > 0")
        _int("ts_ns", ts_ns)
        last = self._last
        if last is not None:
            last_price = scaled(last.answer, -last.decimals)
            moved = abs(price / last_price - 1.0) * 1e4 >= self.deviation_bps
            due = ts_ns - last.updated_at * NS_PER_SECOND >= self.heartbeat_ns
            if not (moved or due):
                return None
        self._round += 1
        answer = round(Fraction(price) * 10**self.decimals)
        self._last = ChainlinkRound(self._round, int(answer), self.decimals, ts_ns // NS_PER_SECOND)
        return SourceUpdate(self.source_id, scaled(int(answer), -self.decimals), ts_ns)


@dataclass(frozen=True, slots=True)
class PythPrice:
    """A Pyth price message: ``price * 10**expo`` +/- ``conf * 10**expo`` published at ``publish_time`` (s)."""

    price: int
    conf: int
    expo: int
    publish_time: int

    def __post_init__(self) -> None:
        _int("price", self.price)
        if _int("conf", self.conf) < 0:
            raise ValidationError("conf", self.conf, "must be >= 0")
        _int("expo", self.expo)
        _int("publish_time", self.publish_time)

    def to_update(self, source_id: str, *, invert: bool = False) -> SourceUpdate:
        """Normalize to a float price and confidence; ``invert`` gives ``1/p`` with ``conf/p**2``."""
        ts = self.publish_time * NS_PER_SECOND
        if invert and self.price > 0:
            p = Fraction(self.price) * Fraction(10) ** self.expo
            c = Fraction(self.conf) * Fraction(10) ** self.expo
            return SourceUpdate(source_id, float(1 / p), ts, float(c / (p * p)))
        return SourceUpdate(source_id, scaled(self.price, self.expo), ts, scaled(self.conf, self.expo))


def quote_to_update(source_id: str, quote: Quote, *, invert: bool = False) -> SourceUpdate:
    """Exchange top of book as a source: the mid price, with half the spread as its confidence.

    Inverted: the book of the reciprocal pair has bid ``1/ask`` and ask ``1/bid``.
    """
    bid, ask = quote.bid, quote.ask
    if invert:
        bid, ask = 1.0 / ask, 1.0 / bid
    return SourceUpdate(source_id, 0.5 * (bid + ask), quote.ts_ns, 0.5 * (ask - bid))
