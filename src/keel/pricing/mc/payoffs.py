"""Payoffs the Monte Carlo engine prices, as frozen dataclasses.

All payoffs are paid at ``T`` (years, ACT/365) and discounted with the model's ``r``,
except a knocked-out barrier's rebate, which is paid when the barrier is hit (Haug's and
QuantLib's convention).  Strikes and barriers are in the units of the simulated
quantity (the spot for GBM/Merton/Heston, the level X for Ornstein-Uhlenbeck).

- :class:`EuropeanCall`, :class:`EuropeanPut`: ``(S_T - K)^+``, ``(K - S_T)^+``.
- :class:`AsianArithmeticCall`, :class:`AsianGeometricCall`: ``(A - K)^+`` where ``A`` is
  the arithmetic / geometric mean of ``n_fixings`` equally spaced fixings, the last at
  ``T`` (the spot at 0 is not a fixing).  ``n_fixings=None`` means the continuous average
  over ``[0, T]``.
- :class:`BarrierOption`: continuously monitored knock-out / knock-in call or put with a
  cash ``rebate`` (knock-out: paid at the hit; knock-in: paid at ``T`` if never knocked in).
- :class:`LookbackFloatingCall`: ``S_T - min(S_min, min_{0≤t≤T} S_t)``, continuously
  monitored; ``S_min`` is the minimum observed so far (use ``S0`` for a new contract).
- :class:`Digital`: cash-or-nothing, pays 1 if ``S_T > K`` (call) or ``S_T < K`` (put).
- :class:`PathPayoff`: any user function of the path array, ``fn(paths) -> payoffs``,
  with ``paths`` of shape ``(m, n_steps + 1)`` (column 0 is the start) and the result of
  shape ``(m,)``, paid at ``T``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from keel.errors import ValidationError

__all__ = [
    "AsianArithmeticCall",
    "AsianGeometricCall",
    "BarrierOption",
    "Digital",
    "EuropeanCall",
    "EuropeanPut",
    "LookbackFloatingCall",
    "PathPayoff",
    "Payoff",
]

BarrierType = Literal["down-and-out", "down-and-in", "up-and-out", "up-and-in"]
_BARRIER_TYPES = ("down-and-out", "down-and-in", "up-and-out", "up-and-in")


def _check_T(T: float) -> None:
    if isinstance(T, bool) or not isinstance(T, int | float) or not math.isfinite(T) or not T > 0.0:
        raise ValidationError("T", T, "expiry must be a finite number of years > 0")


def _check_level(field: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValidationError(field, value, "must be a finite number")


def _check_fixings(n_fixings: int | None) -> None:
    if n_fixings is None:
        return
    if isinstance(n_fixings, bool) or not isinstance(n_fixings, int) or n_fixings < 1:
        raise ValidationError("n_fixings", n_fixings, "must be an int >= 1 (or None for a continuous average)")


def _check_kind(kind: str) -> None:
    if kind not in ("call", "put"):
        raise ValidationError("kind", kind, "must be 'call' or 'put'")


@dataclass(frozen=True)
class EuropeanCall:
    """European call ``(S_T - K)^+``."""

    K: float
    T: float

    def __post_init__(self) -> None:
        _check_level("K", self.K)
        _check_T(self.T)


@dataclass(frozen=True)
class EuropeanPut:
    """European put ``(K - S_T)^+``."""

    K: float
    T: float

    def __post_init__(self) -> None:
        _check_level("K", self.K)
        _check_T(self.T)


@dataclass(frozen=True)
class AsianArithmeticCall:
    """Arithmetic-average call over ``n_fixings`` equally spaced fixings (last at ``T``);
    ``None`` = continuous average (trapezoid rule on the simulation grid)."""

    K: float
    T: float
    n_fixings: int | None

    def __post_init__(self) -> None:
        _check_level("K", self.K)
        _check_T(self.T)
        _check_fixings(self.n_fixings)


@dataclass(frozen=True)
class AsianGeometricCall:
    """Geometric-average call over ``n_fixings`` equally spaced fixings (last at ``T``);
    ``None`` = continuous average (exact in log space for GBM via the Brownian bridge)."""

    K: float
    T: float
    n_fixings: int | None

    def __post_init__(self) -> None:
        _check_level("K", self.K)
        _check_T(self.T)
        _check_fixings(self.n_fixings)


@dataclass(frozen=True)
class BarrierOption:
    """Continuously monitored single-barrier option (Brownian-bridge crossing correction)."""

    kind: Literal["call", "put"]
    barrier_type: BarrierType
    K: float
    H: float
    T: float
    rebate: float = 0.0

    def __post_init__(self) -> None:
        _check_kind(self.kind)
        if self.barrier_type not in _BARRIER_TYPES:
            raise ValidationError("barrier_type", self.barrier_type, f"must be one of {', '.join(_BARRIER_TYPES)}")
        _check_level("K", self.K)
        _check_level("H", self.H)
        _check_T(self.T)
        _check_level("rebate", self.rebate)
        if self.rebate < 0.0:
            raise ValidationError("rebate", self.rebate, "must be >= 0")

    @property
    def is_down(self) -> bool:
        return self.barrier_type.startswith("down")

    @property
    def is_out(self) -> bool:
        return self.barrier_type.endswith("out")


@dataclass(frozen=True)
class LookbackFloatingCall:
    """Floating-strike lookback call ``S_T - min(S_min, min_t S_t)``."""

    T: float
    S_min: float

    def __post_init__(self) -> None:
        _check_T(self.T)
        _check_level("S_min", self.S_min)


@dataclass(frozen=True)
class Digital:
    """Cash-or-nothing digital paying 1 if ``S_T > K`` (call) or ``S_T < K`` (put)."""

    kind: Literal["call", "put"]
    K: float
    T: float

    def __post_init__(self) -> None:
        _check_kind(self.kind)
        _check_level("K", self.K)
        _check_T(self.T)


PathFunction = Callable[[npt.NDArray[np.float64]], npt.ArrayLike]


@dataclass(frozen=True)
class PathPayoff:
    """A user payoff ``fn(paths) -> values`` paid at ``T``.

    ``paths`` is a float64 array ``(m, n_steps + 1)`` of simulated levels on the grid
    ``t_k = k T / n_steps`` (column 0 is the start); ``fn`` returns ``m`` payoffs."""

    fn: PathFunction
    T: float

    def __post_init__(self) -> None:
        if not callable(self.fn):
            raise ValidationError("fn", self.fn, "must be a callable of the path array")
        _check_T(self.T)


Payoff = (
    EuropeanCall
    | EuropeanPut
    | AsianArithmeticCall
    | AsianGeometricCall
    | BarrierOption
    | LookbackFloatingCall
    | Digital
    | PathPayoff
)
