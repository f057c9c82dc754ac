"""Domain model: tokens, instruments, orders, market data.  Frozen, typed, no I/O.

Conventions held by these types (ARCHITECTURE.md): on-chain amounts are Python
ints in base units; analytics are float64 arrays; timestamps are int ns UTC;
time to expiry is ACT/365.
"""

from keel.domain.instruments import (
    Exercise,
    Future,
    Instrument,
    Option,
    OptionKind,
    Perpetual,
    Settlement,
    Spot,
)
from keel.domain.market_data import Bar, PoolState, Quote, TickState, Trade
from keel.domain.naming import format_instrument, parse_expiry, parse_instrument
from keel.domain.orders import Fill, Order, Position, Side, TimeInForce, to_decimal
from keel.domain.time import (
    NS_PER_DAY,
    NS_PER_HOUR,
    NS_PER_MINUTE,
    NS_PER_SECOND,
    NS_PER_YEAR,
    datetime_to_ns,
    ms_to_ns,
    ns_to_datetime,
    year_fraction,
)
from keel.domain.tokens import Token, from_base_units, to_base_units

format = format_instrument  # the name for the inverse of parse_instrument

__all__ = [
    "NS_PER_DAY",
    "NS_PER_HOUR",
    "NS_PER_MINUTE",
    "NS_PER_SECOND",
    "NS_PER_YEAR",
    "Bar",
    "Exercise",
    "Fill",
    "Future",
    "Instrument",
    "Option",
    "OptionKind",
    "Order",
    "Perpetual",
    "PoolState",
    "Position",
    "Quote",
    "Settlement",
    "Side",
    "Spot",
    "TickState",
    "TimeInForce",
    "Token",
    "Trade",
    "datetime_to_ns",
    "format",
    "format_instrument",
    "from_base_units",
    "ms_to_ns",
    "ns_to_datetime",
    "parse_expiry",
    "parse_instrument",
    "to_base_units",
    "to_decimal",
    "year_fraction",
]
