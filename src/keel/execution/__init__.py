"""Smart order routing and parent-order execution.

* :class:`SmartRouter` -- best net output across parallel venues and paths up to 3 hops
  (:class:`RoutePlan`, :class:`RouteLeg`, :func:`execute_plan`).
* :mod:`keel.execution.split` -- the marginal-rate equalization optimizer with gas.
"""

from keel.execution.router import RouteLeg, RoutePlan, SmartRouter, StaleVenueError, execute_plan

__all__ = ["RouteLeg", "RoutePlan", "SmartRouter", "StaleVenueError", "execute_plan"]
