"""The event queue: a binary heap keyed by ``(ts_ns, priority, seq)``.

``seq`` is a counter assigned at scheduling time, so two events with the same time and
priority run in the order they were scheduled: the order is total and deterministic.
Lower ``priority`` runs first.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from typing import Any

from keel.errors import ValidationError

__all__ = ["EventQueue", "Priority"]


class Priority:
    """Conventional priorities for events at the same timestamp (lower runs first)."""

    SYSTEM = 0  # clock-driven system events (block production, funding settlement)
    MARKET = 10  # market data
    TIMER = 20  # actor timers
    ACTION = 30  # actions carried out for actors
    REPORT = 90  # recorders and snapshots


# A queue entry: (ts_ns, priority, seq, callback, payload).  Tuples compare field by field;
# seq is unique, so the comparison never reaches the callback.
Entry = tuple[int, int, int, Callable[[Any], None], Any]


class EventQueue:
    """Deterministic priority queue of callbacks."""

    __slots__ = ("_cancelled", "_heap", "_seq")

    def __init__(self) -> None:
        self._heap: list[Entry] = []
        self._seq = 0
        self._cancelled: set[int] = set()

    def __len__(self) -> int:
        return len(self._heap) - len(self._cancelled)

    def push(self, ts_ns: int, callback: Callable[[Any], None], payload: Any = None, priority: int = 0) -> int:
        """Schedule ``callback(payload)`` at ``ts_ns``; returns the event's id (its seq)."""
        if not isinstance(ts_ns, int) or isinstance(ts_ns, bool):
            raise ValidationError("ts_ns", ts_ns, "must be int nanoseconds")
        seq = self._seq
        self._seq = seq + 1
        heapq.heappush(self._heap, (ts_ns, priority, seq, callback, payload))
        return seq

    def cancel(self, event_id: int) -> None:
        """Cancel a scheduled event (a no-op once it has run)."""
        self._cancelled.add(event_id)

    def peek_ts(self) -> int | None:
        """Timestamp of the next live event, or None when empty."""
        heap = self._heap
        while heap and heap[0][2] in self._cancelled:
            self._cancelled.discard(heapq.heappop(heap)[2])
        return heap[0][0] if heap else None

    def pop(self) -> Entry | None:
        """Remove and return the next live event, or None when empty."""
        heap = self._heap
        while heap:
            entry = heapq.heappop(heap)
            if entry[2] in self._cancelled:
                self._cancelled.discard(entry[2])
                continue
            return entry
        return None
