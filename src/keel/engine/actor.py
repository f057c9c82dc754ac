"""The one Strategy/Actor API, the same in simulation and live.

An actor is state plus decisions.  The engine calls its hooks; the actor acts only through
its :class:`Context` (``self.ctx``): reading the clock, drawing from its own seeded random
stream, setting timers, publishing on the bus, and submitting actions that the environment
(the chain simulator, or a live adapter) carries out.  Hooks, all optional:

``on_start()``                                   once, before any data
``on_quote(instrument, ts_ns, bid, ask)``        every quote tick, one by one, in time order
``on_block(block)``                              every produced block (:class:`keel.engine.Block`)
``on_timer(name, ts_ns)``                        a timer set with ``ctx.set_timer`` fired
``on_event(topic, message)``                     a message on a topic subscribed with ``ctx.subscribe``
``on_stop()``                                    once, at the end of the run

The engine only delivers quotes and blocks to actors that override ``on_quote``/``on_block``.
Blocks go stage by stage (``stage``: a :class:`keel.domain.pipeline.Stage`, default AGENTS):
within a block every MARKET_DATA actor runs before every ORACLE actor, and so on to REPORTING,
whatever the order actors were added in.  Objects that are not ``Actor`` subclasses (the
layer-2 ``keel.oracle.OracleActor`` and ``keel.risk.RiskActor``) are run the same way when they
have a ``name``, a ``stage`` and the hooks they need.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

import numpy as np

from keel.domain.pipeline import Stage
from keel.engine.bus import MessageBus, Topic
from keel.engine.clock import SimClock
from keel.engine.messages import Block
from keel.engine.queue import EventQueue, Priority
from keel.engine.recorder import EventRecorder
from keel.errors import ValidationError


class _Kernel(Protocol):
    """What a context needs of :class:`keel.engine.Engine` (a protocol: actor.py does not import the kernel)."""

    clock: SimClock
    queue: EventQueue
    bus: MessageBus
    recorder: EventRecorder

    def submit(self, actor_name: str, action: Any) -> Any: ...


__all__ = ["Actor", "Context", "Strategy"]

T = TypeVar("T")


class Context:
    """What an actor may do.  Created by :meth:`Engine.add_actor`; reachable as ``actor.ctx``."""

    __slots__ = ("_engine", "_timers", "actor", "name", "rng")

    def __init__(self, engine: _Kernel, actor: Any, rng: np.random.Generator) -> None:
        self._engine = engine
        self.actor = actor
        self.name = actor.name
        self.rng = rng
        self._timers: dict[str, int] = {}

    @property
    def now_ns(self) -> int:
        """Simulated (or, live, adapter-supplied) time in int ns UTC."""
        return self._engine.clock.now_ns

    def set_timer(self, name: str, at_ns: int | None = None, interval_ns: int | None = None) -> None:
        """Fire ``on_timer(name, ts)`` at ``at_ns`` (default now + interval), repeating every ``interval_ns`` if given.

        Setting a timer with an existing name replaces it.
        """
        if interval_ns is not None and interval_ns <= 0:
            raise ValidationError("interval_ns", interval_ns, "must be positive")
        if at_ns is None:
            if interval_ns is None:
                raise ValidationError("at_ns", at_ns, "give at_ns or interval_ns")
            at_ns = self.now_ns + interval_ns
        if at_ns < self.now_ns:
            raise ValidationError("at_ns", at_ns, f"is in the past (now {self.now_ns})")
        self.cancel_timer(name)
        self._timers[name] = self._engine.queue.push(at_ns, self._fire, (name, interval_ns), priority=Priority.TIMER)

    def cancel_timer(self, name: str) -> None:
        event_id = self._timers.pop(name, None)
        if event_id is not None:
            self._engine.queue.cancel(event_id)

    def _fire(self, payload: tuple[str, int | None]) -> None:
        name, interval = payload
        now = self.now_ns
        if interval is not None:
            self._timers[name] = self._engine.queue.push(now + interval, self._fire, payload, priority=Priority.TIMER)
        else:
            self._timers.pop(name, None)
        self.actor.on_timer(name, now)

    def subscribe(self, topic: Topic[Any]) -> None:
        """Receive ``on_event(topic.name, message)`` for messages on ``topic``."""
        self._engine.bus.subscribe(topic, _Delivery(self.actor, topic.name))

    def publish(self, topic: Topic[T], message: T) -> None:
        self._engine.bus.publish(topic, message)

    def listening(self, topic: Topic[Any]) -> bool:
        """Whether anyone would receive a message on ``topic`` (a subscriber or a run subscriber's tap):
        lets an actor skip building a message nobody reads."""
        bus = self._engine.bus
        return bool(bus._taps) or bus.subscribers(topic) > 0

    def submit(self, action: object) -> Any:
        """Hand an action (an order, a swap intent, a liquidation...) to the environment; returns its answer."""
        return self._engine.submit(self.name, action)

    def record(
        self,
        kind: str,
        instrument: str = "",
        quantity: float = float("nan"),
        price: float = float("nan"),
        value: float = float("nan"),
        detail: str = "",
    ) -> None:
        """Append a row to the run's event log under this actor's name."""
        self._engine.recorder.record(self.now_ns, self.name, kind, instrument, quantity, price, value, detail)


class _Delivery:
    """Calls ``actor.on_event(topic, message)`` (a class, not a closure, so a world pickles)."""

    __slots__ = ("actor", "topic")

    def __init__(self, actor: Any, topic: str) -> None:
        self.actor = actor
        self.topic = topic

    def __call__(self, message: object) -> None:
        self.actor.on_event(self.topic, message)


class Actor:
    """Base class of strategies and agents; override the hooks you need (see the module docstring)."""

    ctx: Context
    stage: Stage = Stage.AGENTS

    def __init__(self, name: str) -> None:
        if not name:
            raise ValidationError("name", name, "an actor needs a non-empty name")
        self.name = name

    def on_start(self) -> None:
        """Called once before any data."""

    def on_quote(self, instrument: str, ts_ns: int, bid: float, ask: float) -> None:
        """A quote tick (prices in quote currency per unit)."""

    def on_block(self, block: Block) -> None:
        """A block was produced."""

    def on_timer(self, name: str, ts_ns: int) -> None:
        """A timer fired."""

    def on_event(self, topic: str, message: object) -> None:
        """A message arrived on a subscribed topic."""

    def on_stop(self) -> None:
        """Called once at the end of the run."""


Strategy = Actor  # a strategy is an actor that trades; the API is the same

Handler = Callable[[str, object], Any]
