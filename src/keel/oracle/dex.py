"""Uniswap v3 pool as a price source: spot from ``sqrtPriceX96`` and the geometric-mean TWAP
from the pool's tick accumulators.

The math is pure functions on ints (exactly the contract's integer semantics where the
contract defines them); :class:`DexPoolSource` only calls ``pool.observe`` and
``pool.sqrt_price_x96`` and hands the ints to these functions.

Conventions: the pool's raw price is token1 base units per token0 base unit,
``(sqrtPriceX96 / 2**96)**2 = 1.0001**tick``.  The human price of one token0 in token1 is
``raw * 10**(decimals0 - decimals1)``; ``invert=True`` gives one token1 in token0 instead
(for the USDC(6)/WETH(18) pool: ``invert=True`` is USDC per WETH).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from keel.errors import ValidationError
from keel.oracle.sample import SourceUpdate

__all__ = [
    "MAX_SQRT_RATIO",
    "MAX_TICK",
    "MIN_SQRT_RATIO",
    "MIN_TICK",
    "DexPoolSource",
    "ObservablePool",
    "arithmetic_mean_tick",
    "harmonic_mean_liquidity",
    "price_from_sqrt_price_x96",
    "price_from_tick",
    "twap_price_from_cumulatives",
]

MIN_TICK = -887272
MAX_TICK = 887272
MIN_SQRT_RATIO = 4295128739
MAX_SQRT_RATIO = 1461446703485210103287273052203988822378723970342
_Q192 = 1 << 192
_UINT160_MAX = (1 << 160) - 1


def _check_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(name, value, "must be an int")
    return value


def _check_decimals(name: str, value: object) -> int:
    v = _check_int(name, value)
    if not 0 <= v <= 77:
        raise ValidationError(name, v, "must be in [0, 77]")
    return v


def price_from_sqrt_price_x96(sqrt_price_x96: int, decimals0: int, decimals1: int, *, invert: bool = False) -> float:
    """Human price from a pool's ``sqrtPriceX96`` (exact rational, then one rounding to float).

    token0 in token1: ``s**2 * 10**d0 / (2**192 * 10**d1)``; inverted: its reciprocal.
    """
    s = _check_int("sqrt_price_x96", sqrt_price_x96)
    if not MIN_SQRT_RATIO <= s < MAX_SQRT_RATIO:
        raise ValidationError("sqrt_price_x96", s, f"outside the pool range [{MIN_SQRT_RATIO}, {MAX_SQRT_RATIO})")
    d0 = _check_decimals("decimals0", decimals0)
    d1 = _check_decimals("decimals1", decimals1)
    num = s * s * 10**d0
    den = _Q192 * 10**d1
    # int / int is correctly rounded in CPython (long_true_divide): the exact rational, rounded once
    return float(den / num if invert else num / den)


def price_from_tick(tick: int, decimals0: int, decimals1: int, *, invert: bool = False) -> float:
    """Human price at ``tick``: ``1.0001**tick * 10**(d0 - d1)`` (or its reciprocal); float64
    (relative error below 1e-11 over the whole tick range)."""
    t = _check_int("tick", tick)
    if not MIN_TICK <= t <= MAX_TICK:
        raise ValidationError("tick", t, f"outside [{MIN_TICK}, {MAX_TICK}]")
    d0 = _check_decimals("decimals0", decimals0)
    d1 = _check_decimals("decimals1", decimals1)
    if invert:
        t = -t
        d0, d1 = d1, d0
    return math.exp(t * math.log1p(1e-4)) * 10.0 ** (d0 - d1)


def arithmetic_mean_tick(tick_cumulative_start: int, tick_cumulative_end: int, seconds: int) -> int:
    """Mean tick between two ``tickCumulative`` observations ``seconds`` apart, rounded toward
    negative infinity as ``OracleLibrary.consult`` does (Solidity truncates toward zero, then
    a negative delta that does not divide evenly is decremented)."""
    a = _check_int("tick_cumulative_start", tick_cumulative_start)
    b = _check_int("tick_cumulative_end", tick_cumulative_end)
    secs = _check_int("seconds", seconds)
    if secs <= 0:
        raise ValidationError("seconds", secs, "must be > 0 (the contract reverts 'BP')")
    delta = b - a
    mean = abs(delta) // secs * (1 if delta >= 0 else -1)  # truncation toward zero
    if delta < 0 and delta % secs != 0:
        mean -= 1
    if not MIN_TICK <= mean <= MAX_TICK:
        raise ValidationError("tick_cumulatives", (a, b), f"mean tick {mean} outside [{MIN_TICK}, {MAX_TICK}]")
    return mean


def harmonic_mean_liquidity(spl_cumulative_start: int, spl_cumulative_end: int, seconds: int) -> int:
    """Harmonic-mean liquidity from two ``secondsPerLiquidityCumulativeX128`` observations, with
    the contract's integer arithmetic: ``seconds * (2**160 - 1) // (delta << 32)`` where the
    delta wraps modulo 2**160 like the uint160 subtraction."""
    a = _check_int("spl_cumulative_start", spl_cumulative_start)
    b = _check_int("spl_cumulative_end", spl_cumulative_end)
    secs = _check_int("seconds", seconds)
    if secs <= 0:
        raise ValidationError("seconds", secs, "must be > 0")
    delta = (b - a) & _UINT160_MAX
    if delta == 0:
        raise ValidationError("spl_cumulatives", (a, b), "no elapsed seconds per liquidity (division by zero)")
    return (secs * _UINT160_MAX // (delta << 32)) & ((1 << 128) - 1)


def twap_price_from_cumulatives(
    tick_cumulatives: Sequence[int], seconds: int, decimals0: int, decimals1: int, *, invert: bool = False
) -> float:
    """Geometric-mean TWAP price: the price at the arithmetic mean tick of ``(start, end)``."""
    if len(tick_cumulatives) != 2:
        raise ValidationError("tick_cumulatives", tick_cumulatives, "must be (start, end)")
    tick = arithmetic_mean_tick(tick_cumulatives[0], tick_cumulatives[1], seconds)
    return price_from_tick(tick, decimals0, decimals1, invert=invert)


class ObservablePool(Protocol):
    """What the adapter needs from a Uniswap v3 pool (``keel.venues.uniswap_v3`` or a chain binding)."""

    @property
    def sqrt_price_x96(self) -> int: ...

    def observe(self, seconds_agos: Sequence[int]) -> tuple[Sequence[int], Sequence[int]]: ...


@dataclass(frozen=True, slots=True)
class DexPoolSource:
    """Reads one pool as two oracle sources: ``spot`` (manipulable within a block) and ``twap``
    (geometric mean over ``twap_seconds``, what an on-chain consumer should prefer).

    ``ts_ns`` of the samples is supplied by the caller (the block timestamp in ns).
    """

    source_id: str
    decimals0: int
    decimals1: int
    invert: bool = False
    twap_seconds: int = 1800

    def __post_init__(self) -> None:
        _check_decimals("decimals0", self.decimals0)
        _check_decimals("decimals1", self.decimals1)
        if _check_int("twap_seconds", self.twap_seconds) <= 0:
            raise ValidationError("twap_seconds", self.twap_seconds, "must be > 0")

    def spot(self, pool: ObservablePool, ts_ns: int) -> SourceUpdate:
        price = price_from_sqrt_price_x96(int(pool.sqrt_price_x96), self.decimals0, self.decimals1, invert=self.invert)
        return SourceUpdate(self.source_id, price, ts_ns)

    def mean_tick(self, pool: ObservablePool) -> int:
        tick_cumulatives, _ = pool.observe([self.twap_seconds, 0])
        return arithmetic_mean_tick(int(tick_cumulatives[0]), int(tick_cumulatives[1]), self.twap_seconds)

    def twap(self, pool: ObservablePool, ts_ns: int, source_id: str | None = None) -> SourceUpdate:
        price = price_from_tick(self.mean_tick(pool), self.decimals0, self.decimals1, invert=self.invert)
        return SourceUpdate(source_id or f"{self.source_id}-twap", price, ts_ns)
