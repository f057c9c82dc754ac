"""Venues: AMM pools with exact on-chain integer math, order books, perpetuals, options.

Every venue exposes ``token0``/``token1`` and its gas cost per touch for the router
(see :class:`keel.venues.base.Venue`).
"""

from keel.venues.base import Revert, SwapQuote, Venue
from keel.venues.uniswap_v2 import Pair
from keel.venues.uniswap_v3 import Pool

__all__ = ["Pair", "Pool", "Revert", "SwapQuote", "Venue"]
