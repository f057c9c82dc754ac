"""The oracle as a pipeline actor: feeds the aggregator every block and publishes the full reading.

:class:`OracleActor` runs at stage ORACLE of every block (after market data, before risk and
the agents).  It pushes one sample per configured source (a callable ``ts_ns -> price``: the
reference market, a pool's mid price, a feed), reads the :class:`keel.oracle.Aggregator` and
publishes the whole :class:`OracleReading` (price, confidence band, status, reasons) on
:data:`ORACLE_READINGS`.  A HALTED reading carries NaN and its reasons; consumers must not
trade on it (the agents skip their decisions and say so).  ``price(ts)`` is the last usable
price, for marking a book in reports only, never for a decision.

``outages``: blocks in which named sources send nothing (a feed outage, for scenarios and
tests); with a staleness limit shorter than the silence the reading halts.

Layer 2: this module does not import ``keel.engine``; the engine runs the actor because it
has a ``name``, a ``stage`` and ``on_block`` (``keel.domain.pipeline.PipelineActor``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from keel.domain.pipeline import Block, PipelineContext, Stage, Topic
from keel.errors import ConfigError
from keel.oracle.aggregator import Aggregator
from keel.oracle.config import AggregatorConfig
from keel.oracle.reading import OracleReading

__all__ = ["ORACLE_READINGS", "OracleActor", "OracleOutage"]

ORACLE_READINGS: Topic[OracleReading] = Topic("oracle", OracleReading)


@dataclass(frozen=True, slots=True)
class OracleOutage:
    """``sources`` (empty: all) send nothing in blocks ``start_block`` .. ``start_block + blocks - 1``."""

    start_block: int
    blocks: int
    sources: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.start_block < 0:
            raise ConfigError("oracle.outages.start_block", self.start_block, "must be >= 0")
        if self.blocks <= 0:
            raise ConfigError("oracle.outages.blocks", self.blocks, "must be > 0")

    def silences(self, source: str, block_number: int) -> bool:
        return self.start_block <= block_number < self.start_block + self.blocks and (
            not self.sources or source in self.sources
        )


class OracleActor:
    """Stage ORACLE: one :class:`OracleReading` per block on :data:`ORACLE_READINGS`.

    ``feeds``: source id -> callable ``ts_ns -> price`` (same units for every source); every id
    must be configured in ``config.sources``.  ``halted_blocks`` counts HALTED readings."""

    stage = Stage.ORACLE
    ctx: PipelineContext

    def __init__(
        self,
        name: str,
        config: AggregatorConfig,
        feeds: Mapping[str, Callable[[int], float]],
        outages: Sequence[OracleOutage] = (),
        initial_price: float = math.nan,
    ) -> None:
        if not name:
            raise ConfigError("oracle.name", name, "an actor needs a non-empty name")
        unknown = sorted(set(feeds) - set(config.sources))
        if unknown:
            raise ConfigError("oracle.sources", unknown[0], "has a feed but no source configuration")
        missing = sorted(set(config.sources) - set(feeds))
        if missing:
            raise ConfigError("oracle.sources", missing[0], "is configured but nothing feeds it")
        for outage in outages:
            for source in outage.sources:
                if source not in feeds:
                    raise ConfigError("oracle.outages.sources", source, "no such oracle source")
        self.name = name
        self.config = config
        self.aggregator = Aggregator(config)
        self.feeds = dict(sorted(feeds.items()))
        self.outages = tuple(outages)
        self.reading: OracleReading | None = None
        self.last_price = float(initial_price)
        self.halted_blocks = 0
        self.block_number = 0

    def update(self, ts_ns: int, block_number: int | None = None) -> OracleReading:
        """Feed every source that is not silenced at ``block_number`` and read at ``ts_ns``."""
        number = self.block_number if block_number is None else block_number
        for source, feed in self.feeds.items():
            if self.outages and any(o.silences(source, number) for o in self.outages):
                continue
            self.aggregator.update(source, float(feed(ts_ns)), ts_ns)
        reading = self.aggregator.read(ts_ns)
        self.reading = reading
        if reading.usable:
            self.last_price = reading.price
        return reading

    def on_block(self, block: Block) -> None:
        self.block_number = block.number
        reading = self.update(block.ts_ns, block.number)
        if not reading.usable:
            self.halted_blocks += 1
            self.ctx.record("oracle_halted", detail="; ".join(reading.reasons) or "halted")
        self.ctx.publish(ORACLE_READINGS, reading)

    def price(self, ts_ns: int) -> float:
        """The last usable price (for marking and reports; decisions read the reading's status)."""
        return self.last_price

    def latest(self, ts_ns: int = 0) -> OracleReading:
        """The most recent reading (``ts_ns`` is ignored: the shape of a reading callback)."""
        if self.reading is None:
            raise ConfigError("oracle", self.name, "has not read yet")
        return self.reading

    def summary(self) -> dict[str, Any]:
        return {"halted_blocks": self.halted_blocks, "sources": list(self.feeds)}
