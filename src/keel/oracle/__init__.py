"""Pricing oracle: many feeds normalized into one robust price with a confidence band."""

from keel.oracle.reading import OracleReading, OracleStatus

__all__ = ["OracleReading", "OracleStatus"]
