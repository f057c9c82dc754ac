"""Pricing oracle: many feeds normalized into one robust price with a confidence band.

``Aggregator(AggregatorConfig(...))``: ``update(source_id, price, ts_ns, confidence=None)`` and
``read(now_ns) -> OracleReading``.  Adapters turn pools (``DexPoolSource``), push feeds
(``PushFeed``, ``ChainlinkRound``), pull feeds (``PythPrice``), exchange quotes
(``quote_to_update``) and files (``keel.oracle.replay``) into ``SourceUpdate`` samples.
"""

from keel.oracle.actor import ORACLE_READINGS, OracleActor, OracleOutage
from keel.oracle.aggregator import Aggregator
from keel.oracle.config import AggregatorConfig, SourceConfig
from keel.oracle.dex import (
    DexPoolSource,
    arithmetic_mean_tick,
    harmonic_mean_liquidity,
    price_from_sqrt_price_x96,
    price_from_tick,
    twap_price_from_cumulatives,
)
from keel.oracle.feeds import ChainlinkRound, PushFeed, PythPrice, cross_price, quote_to_update
from keel.oracle.reading import OracleReading, OracleStatus
from keel.oracle.replay import ReplayResult, replay
from keel.oracle.sample import SourceUpdate

__all__ = [
    "ORACLE_READINGS",
    "Aggregator",
    "AggregatorConfig",
    "ChainlinkRound",
    "DexPoolSource",
    "OracleActor",
    "OracleOutage",
    "OracleReading",
    "OracleStatus",
    "PushFeed",
    "PythPrice",
    "ReplayResult",
    "SourceConfig",
    "SourceUpdate",
    "arithmetic_mean_tick",
    "cross_price",
    "harmonic_mean_liquidity",
    "price_from_sqrt_price_x96",
    "price_from_tick",
    "quote_to_update",
    "replay",
    "twap_price_from_cumulatives",
]
