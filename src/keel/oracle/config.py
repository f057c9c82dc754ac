"""Validated, frozen configuration of the price aggregator.

Units: timestamps and ages are int nanoseconds; thresholds in basis points (1 bp = 1e-4)
are relative to the price.  Every bad value raises :class:`keel.errors.ConfigError`
naming the field (``sources['dex'].weight=-1.0: must be a finite number > 0``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from keel.domain.time import NS_PER_MINUTE, NS_PER_SECOND
from keel.errors import ConfigError

__all__ = ["AggregatorConfig", "SourceConfig"]


def _positive_float(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        raise ConfigError(name, value, "must be a finite number > 0")
    return float(value)


def _non_negative_float(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise ConfigError(name, value, "must be a finite number >= 0")
    return float(value)


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(name, value, "must be an int > 0")
    return value


def _non_negative_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(name, value, "must be an int >= 0")
    return value


@dataclass(frozen=True, slots=True)
class SourceConfig:
    """One price source.

    ``weight``: its vote in the weighted median (> 0).  ``max_age_ns``: a sample older than
    this at read time is stale and dropped (a Chainlink feed: heartbeat plus a grace period).
    ``default_confidence_bps``: the confidence assumed when an update carries none
    (a push feed or a DEX spot has no band of its own); 0 means the source votes its price only.
    """

    weight: float = 1.0
    max_age_ns: int = 60 * NS_PER_SECOND
    default_confidence_bps: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "weight", _positive_float("weight", self.weight))
        _positive_int("max_age_ns", self.max_age_ns)
        object.__setattr__(
            self, "default_confidence_bps", _non_negative_float("default_confidence_bps", self.default_confidence_bps)
        )
        if self.default_confidence_bps >= 10_000:
            raise ConfigError("default_confidence_bps", self.default_confidence_bps, "must be below 10000 (100%)")


@dataclass(frozen=True, slots=True)
class AggregatorConfig:
    """Everything :class:`keel.oracle.Aggregator` needs.

    - ``sources``: source id -> :class:`SourceConfig` (at least one; ids are non-empty strings).
    - ``quorum``: sources that must survive staleness and outlier checks for a price at all;
      ``None`` means a strict majority of the configured sources.
    - ``outlier_mad_k``: a source is an outlier when ``|p - median| > max(k * 1.4826 * MAD,
      outlier_min_bps * median)`` (1.4826 * MAD estimates sigma for normal noise; the floor keeps
      agreeing sources from being rejected over noise when MAD is ~0).
    - ``breaker_band_bps``: the circuit breaker halts when the candidate price is further than this
      from the time-weighted average of the previous candidates over ``twap_window_ns``.  The
      default 2500 bp (25%) does not trip on the real 2020-03-12 or 2025-10-10 BTC crashes (at most
      15.7% from the 15-minute TWAP) but stops a sustained jump until the TWAP has caught up.
    - ``twap_window_ns``, ``ema_window_ns``: TWAP window and EMA time constant.
    - ``max_confidence_bps``: a reading whose confidence is wider than this is DEGRADED.
    - ``max_future_ns``: clock-skew allowance; a sample stamped later than ``now + max_future_ns``
      is from the future and rejected.
    - ``history_capacity``: candidate prices kept for the TWAP (a ring buffer; when it is full the
      window shrinks to the oldest kept point).
    """

    sources: Mapping[str, SourceConfig]
    quorum: int | None = None
    outlier_mad_k: float = 5.0
    outlier_min_bps: float = 50.0
    breaker_band_bps: float = 2500.0
    twap_window_ns: int = 15 * NS_PER_MINUTE
    ema_window_ns: int = 5 * NS_PER_MINUTE
    max_confidence_bps: float = 200.0
    max_future_ns: int = 5 * NS_PER_SECOND
    history_capacity: int = 4096
    _quorum: int = field(init=False, repr=False, compare=False, default=0)

    def __post_init__(self) -> None:
        if not isinstance(self.sources, Mapping) or not self.sources:
            raise ConfigError("sources", self.sources, "must be a non-empty mapping of source id -> SourceConfig")
        frozen: dict[str, SourceConfig] = {}
        for sid, src in self.sources.items():
            if not isinstance(sid, str) or not sid:
                raise ConfigError("sources", sid, "source ids must be non-empty strings")
            if not isinstance(src, SourceConfig):
                raise ConfigError(f"sources[{sid!r}]", src, "must be a SourceConfig")
            frozen[sid] = src
        object.__setattr__(self, "sources", MappingProxyType(frozen))
        n = len(frozen)
        if self.quorum is None:
            q = n // 2 + 1
        else:
            q = _positive_int("quorum", self.quorum)
            if q > n:
                raise ConfigError("quorum", q, f"exceeds the {n} configured sources")
        object.__setattr__(self, "_quorum", q)
        object.__setattr__(self, "outlier_mad_k", _positive_float("outlier_mad_k", self.outlier_mad_k))
        object.__setattr__(self, "outlier_min_bps", _non_negative_float("outlier_min_bps", self.outlier_min_bps))
        object.__setattr__(self, "breaker_band_bps", _positive_float("breaker_band_bps", self.breaker_band_bps))
        object.__setattr__(self, "max_confidence_bps", _positive_float("max_confidence_bps", self.max_confidence_bps))
        _positive_int("twap_window_ns", self.twap_window_ns)
        _positive_int("ema_window_ns", self.ema_window_ns)
        _non_negative_int("max_future_ns", self.max_future_ns)
        cap = _positive_int("history_capacity", self.history_capacity)
        if cap < 2:
            raise ConfigError("history_capacity", cap, "must be at least 2")

    @property
    def effective_quorum(self) -> int:
        """The quorum in force (``quorum``, or a strict majority when it is ``None``)."""
        return self._quorum

    @classmethod
    def uniform(cls, source_ids: list[str] | tuple[str, ...], max_age_ns: int, **kwargs: Any) -> AggregatorConfig:
        """Equal weights and one maximum age for every source id."""
        return cls(sources={sid: SourceConfig(max_age_ns=max_age_ns) for sid in source_ids}, **kwargs)
