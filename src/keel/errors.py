"""Keel's error hierarchy.

Every error a user can cause is a :class:`KeelError` whose message is one line
naming the field and the offending value, so the CLI can print it without a
traceback.  Subsystems subclass these (``keel.venues.Revert`` for example).
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ChainError",
    "ConfigError",
    "ExecutionError",
    "InstrumentNameError",
    "KeelError",
    "PricingError",
    "RiskError",
    "ValidationError",
]


def _short(value: Any, limit: int = 80) -> str:
    """``repr(value)`` cut to ``limit`` characters, keeping both ends (a long path keeps its file name)."""
    text = repr(value)
    if len(text) <= limit:
        return text
    tail = (limit - 3) * 2 // 3
    return text[: limit - 3 - tail] + "..." + text[-tail:]


class KeelError(Exception):
    """Base class of every error Keel raises on purpose."""


class ValidationError(KeelError, ValueError):
    """A value failed validation: ``field`` names it, ``value`` is what was given."""

    def __init__(self, field: str, value: Any, problem: str) -> None:
        self.field = field
        self.value = value
        self.problem = problem
        super().__init__(f"{field}={_short(value)}: {problem}")


class InstrumentNameError(ValidationError):
    """An instrument name that does not follow the venue's naming scheme."""


class ConfigError(ValidationError):
    """A configuration file or object with a bad key or value."""


class PricingError(KeelError):
    """A pricing request that has no answer (e.g. a price outside no-arbitrage bounds)."""


class RiskError(KeelError):
    """A risk or margin operation that cannot be carried out."""


class ExecutionError(KeelError):
    """A routing or execution request that cannot be carried out."""


class ChainError(KeelError):
    """A chain interaction failed (RPC, signing, nonce, receipt)."""
