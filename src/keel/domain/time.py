"""Time conventions: timestamps are int nanoseconds since the Unix epoch, UTC.

Time to expiry is a year fraction ACT/365 (365 days of 86,400 s).
"""

from __future__ import annotations

import datetime as _dt

from keel.errors import ValidationError

__all__ = [
    "NS_PER_DAY",
    "NS_PER_HOUR",
    "NS_PER_MINUTE",
    "NS_PER_SECOND",
    "NS_PER_YEAR",
    "datetime_to_ns",
    "ms_to_ns",
    "ns_to_datetime",
    "year_fraction",
]

NS_PER_SECOND = 1_000_000_000
NS_PER_MINUTE = 60 * NS_PER_SECOND
NS_PER_HOUR = 60 * NS_PER_MINUTE
NS_PER_DAY = 24 * NS_PER_HOUR
NS_PER_YEAR = 365 * NS_PER_DAY  # ACT/365


def datetime_to_ns(moment: _dt.datetime) -> int:
    """Convert an aware datetime to int nanoseconds UTC (naive datetimes are refused)."""
    if moment.tzinfo is None:
        raise ValidationError("datetime", moment, "must be timezone-aware (UTC)")
    delta = moment - _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)
    return (delta.days * 86_400 + delta.seconds) * NS_PER_SECOND + delta.microseconds * 1_000


def ns_to_datetime(ts_ns: int) -> _dt.datetime:
    """Convert int nanoseconds UTC to an aware datetime (microsecond precision)."""
    return _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC) + _dt.timedelta(microseconds=ts_ns // 1_000)


def ms_to_ns(ts_ms: int) -> int:
    """Convert int milliseconds (exchange timestamps) to int nanoseconds."""
    return int(ts_ms) * 1_000_000


def year_fraction(start_ns: int, end_ns: int) -> float:
    """ACT/365 year fraction between two nanosecond timestamps (negative if end < start)."""
    return (end_ns - start_ns) / NS_PER_YEAR
