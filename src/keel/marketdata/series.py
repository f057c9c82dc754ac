"""One price-series type for every real or synthetic price history in Keel."""

from __future__ import annotations

import bisect
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from keel.domain import ns_to_datetime
from keel.errors import ValidationError

__all__ = ["PriceSeries", "format_utc"]


def format_utc(ts_ns: int) -> str:
    """``YYYY-MM-DDTHH:MM:SSZ`` (the form the configs use)."""
    return f"{ns_to_datetime(ts_ns):%Y-%m-%dT%H:%M:%SZ}"


@dataclass(frozen=True)
class PriceSeries:
    """``price[k]`` (float64, quote per unit of base, e.g. USD per ETH) observed at ``ts_ns[k]``
    (int64 ns UTC, non-decreasing); ``name`` says what it is, ``source`` where it came from
    (a file name or a model).

    As a path it is a step function: the price at ``t`` is the last observation at or before
    ``t`` (the first one before the series starts).  Prices are finite and positive.
    """

    name: str
    ts_ns: npt.NDArray[np.int64]
    price: npt.NDArray[np.float64]
    source: str = ""

    def __post_init__(self) -> None:
        if self.ts_ns.shape != self.price.shape or self.ts_ns.ndim != 1 or len(self.ts_ns) == 0:
            raise ValidationError("path", self.name, "needs equal-length, non-empty 1-d ts_ns and price")
        if self.ts_ns.dtype != np.int64:
            raise ValidationError("path.ts_ns", self.name, "timestamps must be int64 ns UTC")
        if np.any(np.diff(self.ts_ns) < 0):
            raise ValidationError("path.ts_ns", self.name, "timestamps must be non-decreasing")
        if not np.all(np.isfinite(self.price)) or np.any(self.price <= 0):
            raise ValidationError("path.price", self.name, "prices must be finite and positive")

    def __len__(self) -> int:
        return len(self.ts_ns)

    @property
    def start_ns(self) -> int:
        return int(self.ts_ns[0])

    @property
    def end_ns(self) -> int:
        return int(self.ts_ns[-1])

    def sample(self, grid_ns: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
        """Price at each grid time (last observation at or before it)."""
        idx = np.searchsorted(self.ts_ns, grid_ns, side="right") - 1
        return self.price[np.clip(idx, 0, len(self.price) - 1)]

    def at(self, ts_ns: int) -> float:
        """Price at ``ts_ns`` (scalar fast path of :meth:`sample`)."""
        cache = self.__dict__.get("_lists")
        if cache is None:
            cache = (self.ts_ns.tolist(), self.price.tolist())
            object.__setattr__(self, "_lists", cache)
        i = bisect.bisect_right(cache[0], ts_ns) - 1
        return float(cache[1][i if i > 0 else 0])
