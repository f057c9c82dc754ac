"""Deribit instrument names, parsed and formatted.

Grammar (expiry at 08:00 UTC on the named day, the day without a leading zero)::

    BTC-26MAR21-48000-P        inverse option (settled in BTC)
    BTC_USDC-26MAR21-48000-C   linear option (settled in USDC)
    XRP_USDC-26MAR21-0d625-C   'd' marks a decimal point in the strike
    BTC-26MAR21                inverse future
    BTC-PERPETUAL              inverse perpetual;  BTC_USDC-PERPETUAL is linear
    BTC_USDC                   spot pair
"""

from __future__ import annotations

import datetime as _dt
import re
from decimal import Decimal

from keel.domain.instruments import (
    MONTHS,
    Future,
    Instrument,
    Option,
    OptionKind,
    Perpetual,
    Settlement,
    Spot,
)
from keel.domain.time import datetime_to_ns
from keel.errors import InstrumentNameError

__all__ = ["format_instrument", "parse_expiry", "parse_instrument"]

_EXPIRY_RE = re.compile(r"^(\d{1,2})([A-Z]{3})(\d{2})$")
_STRIKE_RE = re.compile(r"^\d+(d\d+)?$")
_SYMBOL_RE = re.compile(r"^[A-Z0-9]+$")
DERIBIT_EXPIRY_HOUR_UTC = 8


def parse_expiry(text: str, *, name: str | None = None) -> int:
    """Parse Deribit's ``26MAR21`` into int ns UTC at 08:00."""
    field = "instrument" if name is not None else "expiry"
    shown = name if name is not None else text
    match = _EXPIRY_RE.match(text)
    if not match:
        raise InstrumentNameError(field, shown, f"expiry {text!r} is not like 26MAR21")
    day_s, month_s, year_s = match.groups()
    if month_s not in MONTHS:
        raise InstrumentNameError(field, shown, f"unknown month {month_s!r} in expiry {text!r}")
    if day_s.startswith("0"):
        raise InstrumentNameError(field, shown, f"expiry day {day_s!r} has a leading zero")
    try:
        moment = _dt.datetime(
            2000 + int(year_s),
            MONTHS.index(month_s) + 1,
            int(day_s),
            DERIBIT_EXPIRY_HOUR_UTC,
            tzinfo=_dt.UTC,
        )
    except ValueError as exc:
        raise InstrumentNameError(field, shown, f"expiry {text!r} is not a calendar date") from exc
    return datetime_to_ns(moment)


def _split_currency(head: str, name: str) -> tuple[str, str, Settlement]:
    parts = head.split("_")
    if len(parts) == 1:
        underlying, quote, settlement = parts[0], "USD", Settlement.INVERSE
    elif len(parts) == 2:
        underlying, quote, settlement = parts[0], parts[1], Settlement.LINEAR
    else:
        raise InstrumentNameError("instrument", name, f"currency part {head!r} has more than one '_'")
    for symbol in (underlying, quote):
        if not _SYMBOL_RE.match(symbol):
            raise InstrumentNameError("instrument", name, f"currency {symbol!r} is not upper-case alphanumeric")
    return underlying, quote, settlement


def parse_instrument(name: str) -> Instrument:
    """Parse a Deribit instrument name into a frozen instrument.

    Raises :class:`keel.errors.InstrumentNameError` naming the input and the problem.
    """
    if not isinstance(name, str) or not name.strip():
        raise InstrumentNameError("instrument", name, "must be a non-empty string")
    if name != name.strip():
        raise InstrumentNameError("instrument", name, "has surrounding spaces")
    parts = name.split("-")
    underlying, quote, settlement = _split_currency(parts[0], name)
    if len(parts) == 1:
        if settlement is not Settlement.LINEAR:
            raise InstrumentNameError("instrument", name, "a lone currency is not an instrument; spot is BASE_QUOTE")
        return Spot(underlying, quote)
    if len(parts) == 2:
        if parts[1] == "PERPETUAL":
            return Perpetual(underlying, quote, settlement)
        return Future(underlying, parse_expiry(parts[1], name=name), quote, settlement)
    if len(parts) == 4:
        expiry_ns = parse_expiry(parts[1], name=name)
        strike_s, kind_s = parts[2], parts[3]
        if not _STRIKE_RE.match(strike_s):
            raise InstrumentNameError("instrument", name, f"strike {strike_s!r} is not a number (use 'd' for '.')")
        strike = Decimal(strike_s.replace("d", "."))
        if strike <= 0:
            raise InstrumentNameError("instrument", name, f"strike {strike_s!r} must be positive")
        if kind_s not in ("C", "P"):
            raise InstrumentNameError("instrument", name, f"option type {kind_s!r} must be C or P")
        kind = OptionKind.CALL if kind_s == "C" else OptionKind.PUT
        return Option(underlying, strike, expiry_ns, kind, quote, settlement)
    raise InstrumentNameError(
        "instrument", name, "expected UNDERLYING-EXPIRY-STRIKE-C|P, UNDERLYING-EXPIRY or UNDERLYING-PERPETUAL"
    )


def format_instrument(instrument: Instrument) -> str:
    """Format an instrument as its Deribit name (the inverse of :func:`parse_instrument`)."""
    if isinstance(instrument, Spot | Perpetual | Future | Option):
        return instrument.name
    raise InstrumentNameError("instrument", instrument, "not a keel.domain instrument")
