"""Chain and market simulator (grows: see ARCHITECTURE.md)."""

from keel.sim.touch import MarketOrder, TouchFill, TouchFillVenue

__all__ = ["MarketOrder", "TouchFill", "TouchFillVenue"]
