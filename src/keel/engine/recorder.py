"""The event log: one row per thing that happened, in the order it happened; written as Parquet.

Columns: ``seq`` (0, 1, 2, ...), ``ts_ns`` (int ns UTC), ``source`` (actor or venue name),
``kind`` (what happened), ``instrument``, ``quantity``, ``price``, ``value`` (float64, NaN when
not applicable) and ``detail`` (free text, e.g. a revert reason).
"""

from __future__ import annotations

import math
from pathlib import Path

import polars as pl

__all__ = ["EventRecorder"]

_NAN = math.nan


class EventRecorder:
    """Append-only, column-oriented event log."""

    __slots__ = ("_detail", "_instrument", "_kind", "_price", "_quantity", "_source", "_ts", "_value")

    def __init__(self) -> None:
        self._ts: list[int] = []
        self._source: list[str] = []
        self._kind: list[str] = []
        self._instrument: list[str] = []
        self._quantity: list[float] = []
        self._price: list[float] = []
        self._value: list[float] = []
        self._detail: list[str] = []

    def __len__(self) -> int:
        return len(self._ts)

    def record(
        self,
        ts_ns: int,
        source: str,
        kind: str,
        instrument: str = "",
        quantity: float = _NAN,
        price: float = _NAN,
        value: float = _NAN,
        detail: str = "",
    ) -> None:
        self._ts.append(ts_ns)
        self._source.append(source)
        self._kind.append(kind)
        self._instrument.append(instrument)
        self._quantity.append(float(quantity))
        self._price.append(float(price))
        self._value.append(float(value))
        self._detail.append(detail)

    def to_frame(self) -> pl.DataFrame:
        return pl.DataFrame(
            {
                "seq": pl.Series("seq", range(len(self._ts)), dtype=pl.Int64),
                "ts_ns": pl.Series("ts_ns", self._ts, dtype=pl.Int64),
                "source": pl.Series("source", self._source, dtype=pl.String),
                "kind": pl.Series("kind", self._kind, dtype=pl.String),
                "instrument": pl.Series("instrument", self._instrument, dtype=pl.String),
                "quantity": pl.Series("quantity", self._quantity, dtype=pl.Float64),
                "price": pl.Series("price", self._price, dtype=pl.Float64),
                "value": pl.Series("value", self._value, dtype=pl.Float64),
                "detail": pl.Series("detail", self._detail, dtype=pl.String),
            }
        )

    def count(self, kind: str) -> int:
        return sum(1 for k in self._kind if k == kind)

    def write_parquet(self, path: Path) -> None:
        self.to_frame().write_parquet(path, compression="zstd", statistics=False)
