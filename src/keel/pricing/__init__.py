"""Option pricing: Black-Scholes-Merton and Black-76 prices, Greeks, implied vol, SVI surfaces.

``keel.pricing.kernels`` holds scalar numba kernels other layers call from their own
``@njit`` code (names are stable).
"""

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
    "black76_price",
    "bs_delta",
    "bs_gamma",
    "bs_price",
    "bs_vega",
    "norm_cdf",
    "norm_pdf",
]
