"""The simulated clock: int nanoseconds UTC, moved only by the engine, never backwards."""

from __future__ import annotations

from keel.errors import ValidationError

__all__ = ["SimClock"]


class SimClock:
    """Simulated time in int ns UTC.  Nothing in the engine reads the wall clock."""

    __slots__ = ("_now",)

    def __init__(self, start_ns: int = 0) -> None:
        if not isinstance(start_ns, int) or isinstance(start_ns, bool):
            raise ValidationError("start_ns", start_ns, "must be int nanoseconds")
        self._now = start_ns

    @property
    def now_ns(self) -> int:
        return self._now

    def advance_to(self, ts_ns: int) -> None:
        """Move the clock to ``ts_ns``; time never runs backwards."""
        if ts_ns < self._now:
            raise ValidationError("ts_ns", ts_ns, f"is before the clock ({self._now}); time cannot run backwards")
        self._now = ts_ns
