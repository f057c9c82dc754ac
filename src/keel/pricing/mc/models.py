"""Stochastic models simulated by the Monte Carlo engine.

Conventions: ``S0`` spot in quote units, ``r`` continuously compounded risk-free rate,
``q`` continuous dividend / borrow (for crypto: funding or staking) yield, volatilities
annualized (0.25 = 25 %), time in years (ACT/365).  Every model is a frozen dataclass that
validates itself on construction and raises :class:`keel.errors.ValidationError` naming
the field and the value.

- :class:`GBM`: ``dS = (r - q) S dt + σ S dW`` (simulated exactly in log space).
- :class:`Merton`: GBM plus compound-Poisson log-normal jumps, ``ln(1+J) ~ N(mu_j, sigma_j²)``
  at rate ``lam`` per year; the drift is compensated so ``E[S_T] = S0 e^{(r-q)T}``.
- :class:`Heston`: ``dS = (r - q) S dt + √v S dW1``, ``dv = κ(θ - v) dt + ξ √v dW2``,
  ``d<W1, W2> = ρ dt`` (simulated with Andersen's quadratic-exponential scheme and his
  martingale correction).  Parameters that violate Feller's condition ``2κθ ≥ ξ²`` are
  allowed (the QE scheme handles them) but warned with :class:`FellerConditionWarning`.
- :class:`OrnsteinUhlenbeck`: ``dX = κ(μ - X) dt + σ dW`` (exact Gaussian transition), for
  funding rates, basis and log-vol.  It carries no rate: prices under it are undiscounted
  expectations.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

from keel.errors import ValidationError

__all__ = ["GBM", "FellerConditionWarning", "Heston", "Merton", "Model", "OrnsteinUhlenbeck"]


class FellerConditionWarning(UserWarning):
    """Heston parameters with ``2 κ θ < ξ²``: the variance can touch zero."""


def _finite(field: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError(field, value, "must be a real number")
    v = float(value)
    if not math.isfinite(v):
        raise ValidationError(field, value, "must be finite")
    return v


def _positive(field: str, value: float) -> None:
    if not _finite(field, value) > 0.0:
        raise ValidationError(field, value, "must be > 0")


def _non_negative(field: str, value: float) -> None:
    if not _finite(field, value) >= 0.0:
        raise ValidationError(field, value, "must be >= 0 (a volatility or rate of jumps cannot be negative)")


@dataclass(frozen=True)
class GBM:
    """Geometric Brownian motion (Black-Scholes dynamics) with yield ``q``."""

    S0: float
    r: float
    sigma: float
    q: float = 0.0

    def __post_init__(self) -> None:
        _positive("S0", self.S0)
        _finite("r", self.r)
        _finite("q", self.q)
        _non_negative("sigma", self.sigma)


@dataclass(frozen=True)
class Merton:
    """Merton (1976) jump diffusion: diffusion vol ``sigma``, jump rate ``lam`` per year,
    log jump size ``N(mu_j, sigma_j²)``; drift compensated by ``lam·(e^{mu_j + sigma_j²/2} - 1)``."""

    S0: float
    r: float
    sigma: float
    lam: float
    mu_j: float
    sigma_j: float
    q: float = 0.0

    def __post_init__(self) -> None:
        _positive("S0", self.S0)
        _finite("r", self.r)
        _finite("q", self.q)
        _non_negative("sigma", self.sigma)
        _non_negative("lam", self.lam)
        _finite("mu_j", self.mu_j)
        _non_negative("sigma_j", self.sigma_j)

    @property
    def jump_compensator(self) -> float:
        """``κ = E[J] = e^{mu_j + sigma_j²/2} - 1``, the mean relative jump size."""
        return math.exp(self.mu_j + 0.5 * self.sigma_j * self.sigma_j) - 1.0


@dataclass(frozen=True)
class Heston:
    """Heston (1993) stochastic volatility: initial variance ``v0``, mean reversion ``kappa``
    (per year) to long-run variance ``theta``, vol of variance ``xi``, correlation ``rho``."""

    S0: float
    r: float
    v0: float
    kappa: float
    theta: float
    xi: float
    rho: float
    q: float = 0.0

    def __post_init__(self) -> None:
        _positive("S0", self.S0)
        _finite("r", self.r)
        _finite("q", self.q)
        _non_negative("v0", self.v0)
        _positive("kappa", self.kappa)
        _non_negative("theta", self.theta)
        _positive("xi", self.xi)
        if not -1.0 <= _finite("rho", self.rho) <= 1.0:
            raise ValidationError("rho", self.rho, "must lie in [-1, 1]")
        if 2.0 * self.kappa * self.theta < self.xi * self.xi:
            warnings.warn(
                f"Heston: Feller condition 2*kappa*theta >= xi**2 violated "
                f"(2*{self.kappa}*{self.theta} < {self.xi}**2); variance can reach zero, "
                "QE scheme still used",
                FellerConditionWarning,
                stacklevel=3,
            )


@dataclass(frozen=True)
class OrnsteinUhlenbeck:
    """Ornstein-Uhlenbeck process ``dX = kappa (mu - X) dt + sigma dW`` started at ``x0``.

    Arithmetic (X can be negative); prices of payoffs on X are undiscounted expectations."""

    x0: float
    kappa: float
    mu: float
    sigma: float

    def __post_init__(self) -> None:
        _finite("x0", self.x0)
        _positive("kappa", self.kappa)
        _finite("mu", self.mu)
        _non_negative("sigma", self.sigma)


Model = GBM | Merton | Heston | OrnsteinUhlenbeck
