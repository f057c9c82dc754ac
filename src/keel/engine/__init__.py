"""Deterministic event engine: simulated int-ns clock, event queue, typed bus, actors, seeded streams.

Public API: :class:`Engine`, :class:`Actor` (alias :data:`Strategy`), :class:`Context`,
:class:`Topic`, :class:`MessageBus`, :class:`EventQueue`, :class:`Priority`, :class:`SimClock`,
:class:`EventRecorder`, :class:`Block`, :class:`QuoteTick`, :func:`derive_rng`.
"""

from keel.engine.actor import Actor, Context, Strategy
from keel.engine.bus import MessageBus, Topic
from keel.engine.clock import SimClock
from keel.engine.kernel import ActionHandler, Engine
from keel.engine.messages import Block, QuoteTick
from keel.engine.queue import EventQueue, Priority
from keel.engine.recorder import EventRecorder
from keel.engine.rng import derive_rng

__all__ = [
    "ActionHandler",
    "Actor",
    "Block",
    "Context",
    "Engine",
    "EventQueue",
    "EventRecorder",
    "MessageBus",
    "Priority",
    "QuoteTick",
    "SimClock",
    "Strategy",
    "Topic",
    "derive_rng",
]
