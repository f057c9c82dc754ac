"""Pricing oracle: many feeds normalized into one robust price with a confidence band."""

from keel.oracle.aggregator import Aggregator
from keel.oracle.config import AggregatorConfig, SourceConfig
from keel.oracle.reading import OracleReading, OracleStatus

__all__ = ["Aggregator", "AggregatorConfig", "OracleReading", "OracleStatus", "SourceConfig"]
