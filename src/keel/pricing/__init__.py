"""Option pricing: Black-Scholes-Merton and Black-76 prices, Greeks, implied vol, SVI surfaces.

Public API (broadcasts like numpy, accepts scalars; see :mod:`keel.pricing.api` for the
conventions): :func:`price`, :func:`black76`, :func:`greeks`, :func:`implied_vol`,
:func:`implied_vol_black76` (+ ``*_status`` to ask why a vol is NaN).

Inverse (coin-settled, Deribit) options: :func:`inverse_price`, :func:`inverse_greeks`,
:func:`inverse_implied_vol`.  Surfaces: :func:`fit_surface` (an ``OptionChain`` in, a
:class:`VolSurface` out, with ``.implied_vol(strike, T)``, ``.forward(T)``, ``.discount(T)``,
``.price(kind, strike, T)``), :func:`fit_svi`.

``keel.pricing.kernels`` holds scalar numba kernels other layers call from their own
``@njit`` code (names are stable): ``norm_cdf``, ``norm_pdf``, ``bs_price``,
``black76_price``, ``bs_delta``, ``bs_gamma``, ``bs_vega``.
"""

from keel.pricing import mc as mc
from keel.pricing import threads as threads  # numba threading defaults (before any kernel runs)
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
from keel.pricing.inverse import InverseGreeks, inverse_greeks, inverse_implied_vol, inverse_price
from keel.pricing.kernels import (
    black76_price,
    bs_delta,
    bs_gamma,
    bs_price,
    bs_vega,
    norm_cdf,
    norm_pdf,
)
from keel.pricing.surface import (
    CalendarViolation,
    ExpirySlice,
    VolSurface,
    fit_surface,
    forward_from_deltas,
    forward_from_parity,
)
from keel.pricing.svi import SVIFit, SVIParams, fit_svi

__all__ = [
    "CalendarViolation",
    "ExpirySlice",
    "Greeks",
    "IVStatus",
    "ImpliedVolError",
    "InverseGreeks",
    "SVIFit",
    "SVIParams",
    "VolSurface",
    "black76",
    "black76_price",
    "bs_delta",
    "bs_gamma",
    "bs_price",
    "bs_vega",
    "fit_surface",
    "fit_svi",
    "forward_from_deltas",
    "forward_from_parity",
    "greeks",
    "implied_vol",
    "implied_vol_black76",
    "implied_vol_black76_status",
    "implied_vol_status",
    "inverse_greeks",
    "inverse_implied_vol",
    "inverse_price",
    "norm_cdf",
    "norm_pdf",
    "price",
]
