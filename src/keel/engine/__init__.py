"""Deterministic event engine: simulated int-ns clock, event queue, typed bus, actors, seeded streams,
and the block pipeline (stages run in a fixed order each block).

Public API: :class:`Engine`, :class:`Actor` (alias :data:`Strategy`), :class:`Context`,
:class:`Topic`, :class:`MessageBus`, :class:`EventQueue`, :class:`Priority`, :class:`SimClock`,
:class:`EventRecorder`, :class:`Block`, :class:`QuoteTick`, :func:`derive_rng`; the pipeline
(:class:`Stage`, :class:`RunControl`, :class:`RunSubscriber`, the pipeline events and topics,
:class:`Environment`); the transaction vocabulary (:class:`Tx`, :class:`SwapCall`,
:class:`RouteCall`, :class:`Receipt`, :data:`RECEIPTS`).
"""

from keel.engine.actor import Actor, Context, Strategy
from keel.engine.bus import MessageBus, Topic
from keel.engine.clock import SimClock
from keel.engine.environment import Environment
from keel.engine.kernel import ActionHandler, Engine
from keel.engine.messages import Block, QuoteTick
from keel.engine.pipeline import (
    DECISIONS,
    FILLS,
    INTENTS,
    MARKET_DATA,
    SNAPSHOTS,
    TRANSACTIONS,
    BlockSnapshot,
    DecisionSkipped,
    FillEvent,
    IntentStated,
    MarketData,
    PipelineActor,
    RunControl,
    RunSubscriber,
    Stage,
    TxSubmitted,
)
from keel.engine.queue import EventQueue, Priority
from keel.engine.recorder import EventRecorder
from keel.engine.rng import derive_rng
from keel.engine.transactions import RECEIPTS, Receipt, RouteCall, SwapCall, Tx

__all__ = [
    "DECISIONS",
    "FILLS",
    "INTENTS",
    "MARKET_DATA",
    "RECEIPTS",
    "SNAPSHOTS",
    "TRANSACTIONS",
    "ActionHandler",
    "Actor",
    "Block",
    "BlockSnapshot",
    "Context",
    "DecisionSkipped",
    "Engine",
    "Environment",
    "EventQueue",
    "EventRecorder",
    "FillEvent",
    "IntentStated",
    "MarketData",
    "MessageBus",
    "PipelineActor",
    "Priority",
    "QuoteTick",
    "Receipt",
    "RouteCall",
    "RunControl",
    "RunSubscriber",
    "SimClock",
    "Stage",
    "Strategy",
    "SwapCall",
    "Topic",
    "Tx",
    "TxSubmitted",
    "derive_rng",
]
