"""Closed-form prices used as control variates and as references.

Units as in :mod:`keel.pricing.mc.models`; all prices are present values (discounted
at ``r``) of European-style payoffs paid at ``T``.

- :func:`geometric_asian_call`: geometric-average call under GBM, discrete fixings
  ``t_i = i T / n`` (i = 1..n) or the continuous average (``n_fixings=None``).
- :func:`merton_european`: Merton (1976) series, a Poisson mixture of Black-Scholes prices.
- :func:`heston_european`: Heston (1993) by Fourier inversion of the characteristic
  function in Albrecher et al.'s "little trap" form (no branch-cut jumps).
- :func:`ou_european`: call/put on an Ornstein-Uhlenbeck level (Gaussian, undiscounted).
- :func:`european_price`: dispatches on the model.
"""

from __future__ import annotations

import cmath
import math

import numpy as np
from scipy.integrate import quad
from scipy.special import ndtr

from keel.errors import PricingError
from keel.pricing.kernels import bs_price
from keel.pricing.mc.models import GBM, Heston, Merton, Model, OrnsteinUhlenbeck

__all__ = ["european_price", "geometric_asian_call", "heston_european", "merton_european", "ou_european"]


def geometric_asian_call(
    S0: float, K: float, T: float, r: float, q: float, sigma: float, n_fixings: int | None
) -> float:
    """Call on the geometric mean of the fixings (or continuous average) under GBM.

    ``ln G`` is normal with mean ``ln S0 + (r - q - σ²/2) T (n+1)/(2n)`` and variance
    ``σ² T (n+1)(2n+1)/(6n²)``; the continuous limit is ``T/2`` and ``σ² T/3``."""
    nu = r - q - 0.5 * sigma * sigma
    if n_fixings is None:
        mean = math.log(S0) + nu * T / 2.0
        var = sigma * sigma * T / 3.0
    else:
        n = float(n_fixings)
        mean = math.log(S0) + nu * T * (n + 1.0) / (2.0 * n)
        var = sigma * sigma * T * (n + 1.0) * (2.0 * n + 1.0) / (6.0 * n * n)
    df = math.exp(-r * T)
    if var <= 0.0:
        return df * max(math.exp(mean) - K, 0.0)
    if K <= 0.0:
        return df * (math.exp(mean + 0.5 * var) - K)
    sd = math.sqrt(var)
    d2 = (mean - math.log(K)) / sd
    d1 = d2 + sd
    return df * (math.exp(mean + 0.5 * var) * float(ndtr(d1)) - K * float(ndtr(d2)))


def merton_european(sign: float, m: Merton, K: float, T: float, tol: float = 1e-14) -> float:
    """Merton's series ``Σ_n e^{-λ'T}(λ'T)^n/n! · BS(σ_n, r_n)`` with ``λ' = λ(1+κ)``,
    ``σ_n² = σ² + n σ_J²/T``, ``r_n = r - λκ + n ln(1+κ)/T`` (and yield ``q``)."""
    kappa = m.jump_compensator
    lam_p = m.lam * (1.0 + kappa)
    total = 0.0
    weight = math.exp(-lam_p * T)
    n = 0
    while True:
        sig_n = math.sqrt(m.sigma * m.sigma + n * m.sigma_j * m.sigma_j / T)
        r_n = m.r - m.lam * kappa + n * math.log1p(kappa) / T
        # BS with rate r_n for the drift but discounting at r: scale the r_n-discounted price
        total += weight * bs_price(sign, m.S0, K, T, r_n, m.q, sig_n) * math.exp((r_n - m.r) * T)
        n += 1
        weight *= lam_p * T / n
        if n > 10 and weight < tol:
            break
        if n > 2000:
            raise PricingError(f"merton_european: series did not converge (lam={m.lam}, T={T})")
    return total


def _heston_cf(u: complex, h: Heston, T: float) -> complex:
    """E[exp(i u ln S_T)] under Heston, "little trap" formulation."""
    iu = 1j * u
    a = h.kappa - h.rho * h.xi * iu
    d = cmath.sqrt(a * a + h.xi * h.xi * (iu + u * u))
    g = (a - d) / (a + d)
    e = cmath.exp(-d * T)
    C = (h.kappa * h.theta / (h.xi * h.xi)) * ((a - d) * T - 2.0 * cmath.log((1.0 - g * e) / (1.0 - g)))
    D = ((a - d) / (h.xi * h.xi)) * (1.0 - e) / (1.0 - g * e)
    return cmath.exp(iu * (math.log(h.S0) + (h.r - h.q) * T) + C + D * h.v0)


def heston_european(sign: float, h: Heston, K: float, T: float) -> float:
    """Heston European price: ``C = S e^{-qT} P1 - K e^{-rT} P2`` with ``P1, P2`` by
    Gil-Pelaez inversion (adaptive quadrature); puts by parity."""
    lnk = math.log(K)
    fwd = h.S0 * math.exp((h.r - h.q) * T)

    def f1(u: float) -> float:
        return (cmath.exp(-1j * u * lnk) * _heston_cf(u - 1j, h, T) / (1j * u * fwd)).real

    def f2(u: float) -> float:
        return (cmath.exp(-1j * u * lnk) * _heston_cf(u, h, T) / (1j * u)).real

    i1: float = quad(f1, 1e-10, np.inf, limit=500, epsabs=1e-12, epsrel=1e-10)[0]
    i2: float = quad(f2, 1e-10, np.inf, limit=500, epsabs=1e-12, epsrel=1e-10)[0]
    p1 = 0.5 + i1 / math.pi
    p2 = 0.5 + i2 / math.pi
    call = h.S0 * math.exp(-h.q * T) * p1 - K * math.exp(-h.r * T) * p2
    if sign > 0:
        return call
    return call - h.S0 * math.exp(-h.q * T) + K * math.exp(-h.r * T)


def ou_european(sign: float, m: OrnsteinUhlenbeck, K: float, T: float) -> float:
    """``E[(sign (X_T - K))^+]`` for a Gaussian ``X_T`` (undiscounted: the OU model has no rate)."""
    e = math.exp(-m.kappa * T)
    mean = m.mu + (m.x0 - m.mu) * e
    sd = m.sigma * math.sqrt((1.0 - e * e) / (2.0 * m.kappa))
    if sd == 0.0:
        return max(sign * (mean - K), 0.0)
    d = sign * (mean - K) / sd
    return sign * (mean - K) * float(ndtr(d)) + sd * math.exp(-0.5 * d * d) / math.sqrt(2.0 * math.pi)


def european_price(sign: float, model: Model, K: float, T: float) -> float:
    """Analytic European call (``sign=+1``) or put (``-1``) under ``model``."""
    if isinstance(model, GBM):
        return float(bs_price(sign, model.S0, K, T, model.r, model.q, model.sigma))
    if isinstance(model, Merton):
        return merton_european(sign, model, K, T)
    if isinstance(model, Heston):
        return heston_european(sign, model, K, T)
    return ou_european(sign, model, K, T)
