"""The deterministic kernel: clock, event queue, bus, actors, seeded streams, action routing.

Time only moves when the engine pops an event or replays a market-data record.  Events at
one timestamp run by ``(priority, seq)``; quotes replayed at timestamp ``t`` are delivered
after every queued event with ``ts <= t``.  Nothing here reads the wall clock or iterates an
unordered collection, so two runs with one seed are identical.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from keel.domain.pipeline import DecisionSkipped, Stage
from keel.engine.actor import Actor, Context
from keel.engine.bus import MessageBus
from keel.engine.clock import SimClock
from keel.engine.messages import Block
from keel.engine.pipeline import DECISIONS, RunControl
from keel.engine.queue import EventQueue, Priority
from keel.engine.recorder import EventRecorder
from keel.engine.rng import derive_rng
from keel.errors import ValidationError

__all__ = ["ActionHandler", "Engine"]

ActionHandler = Callable[[str, Any], Any]


class Engine:
    """Run actors over simulated time.

    ``seed`` derives every random stream (``stream(name)``; each actor gets ``ctx.rng`` named
    after itself).  Environments register an :data:`ActionHandler` per action type with
    :meth:`on_action`; ``ctx.submit(action)`` is routed by the action's type (its MRO, in order).
    A block (:meth:`publish_block`) reaches actors stage by stage (:class:`Stage`); ``control``
    (a :class:`RunControl`) pauses the AGENTS stage or stops agents at block boundaries.
    """

    def __init__(self, seed: int = 0, start_ns: int = 0) -> None:
        self.seed = seed
        self.clock = SimClock(start_ns)
        self.queue = EventQueue()
        self.bus = MessageBus()
        self.recorder = EventRecorder()
        self.actors: list[Actor] = []
        self._names: set[str] = set()
        self._quote_handlers: list[Callable[[str, int, float, float], None]] = []
        self._block_handlers: list[list[Callable[[Block], None]]] = [[] for _ in Stage]
        self._agent_names: list[str] = []  # AGENTS-stage actors with on_block (for skipped-decision events)
        self.control: RunControl | None = None
        self._action_handlers: dict[type, ActionHandler] = {}
        self._started = False
        self._stopped = False

    # -- setup ---------------------------------------------------------------------------------
    def stream(self, name: str) -> np.random.Generator:
        """The seeded random stream ``name`` of this run (same name, same stream, every run)."""
        return derive_rng(self.seed, name)

    def add_actor(self, actor: Any, stage: Stage | None = None) -> Context:
        """Attach ``actor``: gives it ``actor.ctx`` and subscribes the hooks it overrides.

        ``stage`` (default: the actor's ``stage`` attribute, else AGENTS) places its ``on_block``
        in the block pipeline.  ``actor`` is an :class:`Actor` or any object with a ``name`` and
        the hooks it needs (``keel.domain.pipeline.PipelineActor``)."""
        name = getattr(actor, "name", "")
        if not isinstance(name, str) or not name:
            raise ValidationError("name", name, "an actor needs a non-empty name")
        if name in self._names:
            raise ValidationError("actor", name, "an actor with this name is already attached")
        where = Stage(stage if stage is not None else getattr(actor, "stage", Stage.AGENTS))
        self._names.add(name)
        ctx = Context(self, actor, self.stream("actor:" + name))
        actor.ctx = ctx
        self.actors.append(actor)
        cls = type(actor)
        if getattr(cls, "on_quote", Actor.on_quote) is not Actor.on_quote:
            self._quote_handlers.append(actor.on_quote)
        if getattr(cls, "on_block", Actor.on_block) is not Actor.on_block:
            self._block_handlers[where].append(actor.on_block)
            if where is Stage.AGENTS:
                self._agent_names.append(name)
        if self._started and hasattr(actor, "on_start"):
            actor.on_start()
        return ctx

    def on_action(self, action_type: type, handler: ActionHandler) -> None:
        """Carry out actions of ``action_type`` (and subclasses) with ``handler(actor_name, action)``."""
        self._action_handlers[action_type] = handler

    def submit(self, actor_name: str, action: Any) -> Any:
        for klass in type(action).__mro__:
            handler = self._action_handlers.get(klass)
            if handler is not None:
                return handler(actor_name, action)
        raise ValidationError("action", type(action).__name__, "no handler registered for this action type")

    # -- scheduling ----------------------------------------------------------------------------
    def schedule(self, ts_ns: int, callback: Callable[[Any], None], payload: Any = None, priority: int = 0) -> int:
        """Run ``callback(payload)`` at ``ts_ns`` (not before now); returns an id for ``cancel``."""
        if ts_ns < self.clock.now_ns:
            raise ValidationError("ts_ns", ts_ns, f"is in the past (now {self.clock.now_ns})")
        return self.queue.push(ts_ns, callback, payload, priority)

    def cancel(self, event_id: int) -> None:
        self.queue.cancel(event_id)

    # -- delivery ------------------------------------------------------------------------------
    def start(self) -> None:
        if not self._started:
            self._started = True
            for actor in self.actors:
                if hasattr(actor, "on_start"):
                    actor.on_start()

    def stop(self) -> None:
        if self._started and not self._stopped:
            self._stopped = True
            for actor in self.actors:
                if hasattr(actor, "on_stop"):
                    actor.on_stop()

    def publish_quote(self, instrument: str, ts_ns: int, bid: float, ask: float) -> None:
        """Deliver one quote at ``ts_ns`` (runs queued events up to then first)."""
        self.run_until(ts_ns)
        for handler in self._quote_handlers:
            handler(instrument, ts_ns, bid, ask)

    def publish_block(self, block: Block) -> None:
        """Run the block pipeline: every actor's ``on_block``, stage by stage (MARKET_DATA, ORACLE,
        RISK, AGENTS, EXECUTION, REPORTING), in registration order within a stage.

        While ``control`` is paused or stopped the AGENTS stage is skipped and each skipped agent
        decision is a :class:`DecisionSkipped` on ``DECISIONS`` (cause ``"paused"``/``"stopped"``)."""
        control = self.control
        halted = control is not None and control.status != "running"
        for stage, handlers in enumerate(self._block_handlers):
            if halted and stage == Stage.AGENTS:
                assert control is not None
                cause = "paused" if control.paused else "stopped"
                for name in self._agent_names:
                    skip = DecisionSkipped(
                        block.ts_ns, block.number, name, "block", cause, f"run {cause} by its control"
                    )
                    self.bus.publish(DECISIONS, skip)
                continue
            for handler in handlers:
                handler(block)

    def run_until(self, ts_ns: int) -> int:
        """Run every queued event with ``ts <= ts_ns`` in order, then set the clock to ``ts_ns``; returns events run."""
        queue = self.queue
        clock = self.clock
        ran = 0
        while True:
            next_ts = queue.peek_ts()
            if next_ts is None or next_ts > ts_ns:
                break
            entry = queue.pop()
            assert entry is not None
            clock.advance_to(entry[0])
            entry[3](entry[4])
            ran += 1
        clock.advance_to(ts_ns)
        return ran

    def run(self, until_ns: int | None = None) -> int:
        """Start if needed and run queued events (all of them, or up to ``until_ns``)."""
        self.start()
        if until_ns is not None:
            return self.run_until(until_ns)
        ran = 0
        while (entry := self.queue.pop()) is not None:
            self.clock.advance_to(entry[0])
            entry[3](entry[4])
            ran += 1
        return ran

    def replay_quotes(
        self,
        instrument: str,
        ts_ns: npt.NDArray[np.int64] | Sequence[int],
        bid: npt.NDArray[np.float64] | Sequence[float],
        ask: npt.NDArray[np.float64] | Sequence[float],
    ) -> int:
        """Deliver a recorded quote stream tick by tick: the fast path for market-data replay.

        Each tick reaches every quote handler one at a time, in time order, interleaved with
        queued events (timers, blocks) exactly as :meth:`publish_quote` would.  Returns ticks.
        """
        self.start()
        ts_list = ts_ns.tolist() if isinstance(ts_ns, np.ndarray) else list(ts_ns)
        bid_list = bid.tolist() if isinstance(bid, np.ndarray) else list(bid)
        ask_list = ask.tolist() if isinstance(ask, np.ndarray) else list(ask)
        n = len(ts_list)
        if len(bid_list) != n or len(ask_list) != n:
            raise ValidationError("quotes", (n, len(bid_list), len(ask_list)), "ts, bid and ask differ in length")
        if n == 0:
            return 0
        if n > 1 and bool(np.any(np.diff(np.asarray(ts_list, dtype=np.int64)) < 0)):
            raise ValidationError("ts_ns", instrument, "quote timestamps must be non-decreasing")
        if ts_list[0] < self.clock.now_ns:
            raise ValidationError("ts_ns", ts_list[0], f"is before the clock ({self.clock.now_ns})")
        handlers = list(self._quote_handlers)
        heap = self.queue._heap
        clock = self.clock
        last_ts = ts_list[-1]
        # Queue events fire between ticks; between them the loop is a tight iteration.
        if len(handlers) == 1:
            handler = handlers[0]
            for t, b, a in zip(ts_list, bid_list, ask_list, strict=True):
                if heap and heap[0][0] <= t:
                    self.run_until(t)
                clock._now = t
                handler(instrument, t, b, a)
        else:
            for t, b, a in zip(ts_list, bid_list, ask_list, strict=True):
                if heap and heap[0][0] <= t:
                    self.run_until(t)
                clock._now = t
                for h in handlers:
                    h(instrument, t, b, a)
        clock._now = last_ts
        return n

    # -- helpers for environments --------------------------------------------------------------
    def every(
        self, start_ns: int, interval_ns: int, callback: Callable[[int], None], priority: int = Priority.SYSTEM
    ) -> None:
        """Call ``callback(ts_ns)`` at ``start_ns`` and every ``interval_ns`` after (until the queue is abandoned)."""
        if interval_ns <= 0:
            raise ValidationError("interval_ns", interval_ns, "must be positive")
        self.queue.push(start_ns, _Every(self.queue, interval_ns, callback, priority), start_ns, priority)


class _Every:
    """A repeating queue callback (a class, not a closure, so a world pickles)."""

    __slots__ = ("callback", "interval_ns", "priority", "queue")

    def __init__(self, queue: EventQueue, interval_ns: int, callback: Callable[[int], None], priority: int) -> None:
        self.queue = queue
        self.interval_ns = interval_ns
        self.callback = callback
        self.priority = priority

    def __call__(self, ts: int) -> None:
        self.callback(ts)
        self.queue.push(ts + self.interval_ns, self, ts + self.interval_ns, self.priority)
