"""Venues: AMM pools with exact on-chain integer math, order books, perpetuals, options.

Every venue exposes ``token0``/``token1`` and its gas cost per touch for the router
(see :class:`keel.venues.base.Venue`).
"""

from keel.venues.base import Revert, SwapQuote, Venue

__all__ = ["Revert", "SwapQuote", "Venue"]
