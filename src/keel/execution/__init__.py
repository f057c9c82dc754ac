"""Smart order routing, parent-order execution and intents.

* :class:`SmartRouter` -- best net output across parallel venues and paths up to 3 hops
  (:class:`RoutePlan`, :class:`RouteLeg`, :func:`execute_plan`); method in
  :mod:`keel.execution.split` (marginal-rate equalization with gas-aware venue selection).
* :class:`ExecutionController` -- TWAP, participation-limited and iceberg parent orders driven
  block by block (:class:`ParentOrder`, :class:`ChildOrder`, :class:`ChildFill`,
  :class:`ExecutionReport`, :func:`fill_child`).
* :class:`Intent`, :class:`HedgeIntent` -- outcomes, planned and filled or refused with a reason.
"""

from keel.execution.controller import (
    Algo,
    ChildFill,
    ChildOrder,
    ExecutionController,
    ExecutionReport,
    OrderStatus,
    ParentOrder,
    fill_child,
)
from keel.execution.intents import HedgeIntent, Intent, IntentDecision, submit_hedge, submit_intent
from keel.execution.router import RouteLeg, RoutePlan, SmartRouter, StaleVenueError, execute_plan

__all__ = [
    "Algo",
    "ChildFill",
    "ChildOrder",
    "ExecutionController",
    "ExecutionReport",
    "HedgeIntent",
    "Intent",
    "IntentDecision",
    "OrderStatus",
    "ParentOrder",
    "RouteLeg",
    "RoutePlan",
    "SmartRouter",
    "StaleVenueError",
    "execute_plan",
    "fill_child",
    "submit_hedge",
    "submit_intent",
]
