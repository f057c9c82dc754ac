"""Inverse (coin-settled) options as Deribit quotes them: premium and Greeks in coin.

A Deribit BTC option pays ``max(θ(S_T − K), 0) / S_T`` BTC.  Deribit marks it with Black-76 on
the expiry's forward ``F`` (the ``underlying_price`` column: the future or synthetic forward for
that expiry) at ``mark_iv`` with no discounting (``interest_rate`` is 0 in the data), and quotes
the premium in coin: ``premium_coin = Black76_usd(F, K, T, σ) / F``.

Greeks (:class:`InverseGreeks`):

* ``delta`` – Deribit's convention, the one in its ``greeks.delta`` field: the Black forward
  delta ``N(d1)`` for calls, ``N(d1) − 1`` for puts (coin per coin of underlying, not
  premium-adjusted).
* ``delta_premium_adjusted`` – ``delta − premium_coin``: the BTC exposure of holding the option
  when the premium itself is in BTC (what a coin-margined book hedges).
* ``gamma`` (per USD of F), ``vega`` (USD per 1.0 of vol), ``theta`` (USD per year, −∂V/∂T) –
  the Black-76 USD Greeks Deribit publishes (it shows vega per 1% vol and theta per day:
  divide by 100 and 365).
* ``*_coin`` – the same Greeks of the coin premium at fixed F (USD Greeks / F).

``T`` is ACT/365 years from the quote time to expiry (08:00 UTC).  Accuracy against the real
Deribit snapshots is measured in ``tests/pricing/test_inverse.py`` and reported in BENCHMARKS.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from keel.pricing.api import black76, greeks, implied_vol_black76

__all__ = ["InverseGreeks", "inverse_greeks", "inverse_implied_vol", "inverse_price"]

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class InverseGreeks:
    """Premium and Greeks of inverse options, float64 arrays (conventions in the module doc)."""

    price_coin: F64
    price_usd: F64
    delta: F64
    delta_premium_adjusted: F64
    gamma: F64
    vega: F64
    theta: F64
    vega_coin: F64
    theta_coin: F64


def inverse_price(kind: Any, F: Any, K: Any, T: Any, sigma: Any) -> Any:
    """Premium in coin of an inverse option: ``Black76_usd(F, K, T, σ, df=1) / F``."""
    return np.asarray(black76(kind, F, K, T, sigma, 1.0)) / np.asarray(F, dtype=np.float64)


def inverse_implied_vol(kind: Any, price_coin: Any, F: Any, K: Any, T: Any) -> Any:
    """Implied vol of a coin premium (inverse of :func:`inverse_price`); NaN outside the bounds."""
    F_ = np.asarray(F, dtype=np.float64)
    return implied_vol_black76(kind, np.asarray(price_coin, dtype=np.float64) * F_, F_, K, T, 1.0)


def inverse_greeks(kind: Any, F: Any, K: Any, T: Any, sigma: Any) -> InverseGreeks:
    """Premium and Greeks of inverse options (Deribit conventions, see the module doc)."""
    g = greeks(kind, F, K, T, 0.0, sigma, 0.0)  # Black-76 with df = 1 is BSM with r = q = 0
    F_ = np.broadcast_to(np.asarray(F, dtype=np.float64), g.price.shape)
    price_coin = g.price / F_
    return InverseGreeks(
        price_coin=price_coin,
        price_usd=g.price,
        delta=g.delta,
        delta_premium_adjusted=g.delta - price_coin,
        gamma=g.gamma,
        vega=g.vega,
        theta=g.theta,
        vega_coin=g.vega / F_,
        theta_coin=g.theta / F_,
    )
