"""Option pricing: Black-Scholes-Merton and Black-76 prices, Greeks, implied vol, SVI surfaces.

Public API (broadcasts like numpy, accepts scalars; see :mod:`keel.pricing.api` for the
conventions): :func:`price`, :func:`black76`, :func:`greeks`, :func:`implied_vol`,
:func:`implied_vol_black76` (+ ``*_status`` to ask why a vol is NaN).

``keel.pricing.kernels`` holds scalar numba kernels other layers call from their own
``@njit`` code (names are stable): ``norm_cdf``, ``norm_pdf``, ``bs_price``,
``black76_price``, ``bs_delta``, ``bs_gamma``, ``bs_vega``.
"""

from keel.pricing.api import (
    Greeks,
    ImpliedVolError,
    IVStatus,
    black76,
    greeks,
    implied_vol,
    implied_vol_black76,
    implied_vol_black76_status,
    implied_vol_status,
    price,
)
from keel.pricing.kernels import (
    black76_price,
    bs_delta,
    bs_gamma,
    bs_price,
    bs_vega,
    norm_cdf,
    norm_pdf,
)

__all__ = [
    "Greeks",
    "IVStatus",
    "ImpliedVolError",
    "black76",
    "black76_price",
    "bs_delta",
    "bs_gamma",
    "bs_price",
    "bs_vega",
    "greeks",
    "implied_vol",
    "implied_vol_black76",
    "implied_vol_black76_status",
    "implied_vol_status",
    "norm_cdf",
    "norm_pdf",
    "price",
]
