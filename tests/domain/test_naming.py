"""Deribit instrument names: every real name round-trips; malformed names fail clearly."""

from __future__ import annotations

import csv
import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keel.domain import (
    Future,
    Option,
    OptionKind,
    Perpetual,
    Settlement,
    Spot,
    datetime_to_ns,
    format,
    format_instrument,
    parse_instrument,
)
from keel.errors import InstrumentNameError, KeelError

DATA = Path(__file__).resolve().parents[2] / "data"


def _real_names() -> list[str]:
    names: set[str] = set()
    for path in sorted((DATA / "deribit_option_chain_snapshots_2021-02").glob("*.csv")):
        with path.open() as fh:
            for row in csv.DictReader(fh):
                names.add(row["instrument_name"])
                names.add(row["underlying_index"]) if row["underlying_index"].startswith(("BTC-", "ETH-")) else None
    with (DATA / "deribit_btc_iv_greeks_hourly_2026-01" / "full_data_sample.csv").open() as fh:
        for row in csv.DictReader(fh):
            names.add(row["instrument_name"])
    return sorted(names)


REAL = _real_names()


def test_real_snapshots_hold_many_names() -> None:
    assert len(REAL) > 1900


def test_every_real_name_round_trips() -> None:
    for name in REAL:
        inst = parse_instrument(name)
        assert format_instrument(inst) == name
        assert format(inst) == name
        assert inst.name == name  # type: ignore[union-attr]


def test_real_option_fields_match_the_file() -> None:
    with (DATA / "deribit_btc_iv_greeks_hourly_2026-01" / "full_data_sample.csv").open() as fh:
        rows = list(csv.DictReader(fh))[:500]
    for row in rows:
        inst = parse_instrument(row["instrument_name"])
        assert isinstance(inst, Option)
        assert inst.strike == Decimal(row["strike"]).normalize() or float(inst.strike) == float(row["strike"])
        assert inst.kind.value == row["type"]
        expiry = dt.datetime.fromisoformat(row["expiry_date"]).replace(hour=8, tzinfo=dt.UTC)
        assert inst.expiry_ns == datetime_to_ns(expiry)
        assert inst.settlement is Settlement.INVERSE


def test_parse_option_fields() -> None:
    inst = parse_instrument("BTC-26MAR21-48000-P")
    assert inst == Option("BTC", Decimal(48000), datetime_to_ns(dt.datetime(2021, 3, 26, 8, tzinfo=dt.UTC)), "put")
    assert isinstance(inst, Option) and inst.kind is OptionKind.PUT


def test_linear_and_other_kinds() -> None:
    opt = parse_instrument("XRP_USDC-26MAR21-0d625-C")
    assert isinstance(opt, Option)
    assert opt.settlement is Settlement.LINEAR and opt.quote == "USDC" and opt.strike == Decimal("0.625")
    assert format_instrument(opt) == "XRP_USDC-26MAR21-0d625-C"
    assert parse_instrument("BTC-PERPETUAL") == Perpetual("BTC")
    assert parse_instrument("ETH_USDC-PERPETUAL") == Perpetual("ETH", "USDC", Settlement.LINEAR)
    fut = parse_instrument("BTC-24SEP21")
    assert isinstance(fut, Future) and format_instrument(fut) == "BTC-24SEP21"
    assert parse_instrument("BTC_USDC") == Spot("BTC", "USDC")


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("", "non-empty"),
        ("btc-26MAR21-48000-P", "upper-case"),
        ("BTC-26MAR21-48000-X", "must be C or P"),
        ("BTC-31FEB21-48000-C", "not a calendar date"),
        ("BTC-26MRZ21-48000-C", "unknown month"),
        ("BTC-2021-03-26-48000-C", "expected"),
        ("BTC-26MAR21-48k-C", "strike"),
        ("BTC-26MAR21-0-C", "positive"),
        ("BTC-05MAR21-48000-C", "leading zero"),
        ("BTC-26MAR21-48000", "expected"),
        ("BTC", "lone currency"),
        ("A_B_C-PERPETUAL", "more than one"),
    ],
)
def test_malformed_names_raise_one_clear_line(name: str, fragment: str) -> None:
    with pytest.raises(InstrumentNameError) as info:
        parse_instrument(name)
    message = str(info.value)
    assert "\n" not in message
    assert fragment in message
    assert repr(name) in message
    assert isinstance(info.value, KeelError)


@given(
    day=st.dates(min_value=dt.date(2001, 1, 1), max_value=dt.date(2099, 12, 31)),
    strike=st.decimals(min_value=Decimal("0.001"), max_value=Decimal(10**7), places=3),
    call=st.booleans(),
    linear=st.booleans(),
)
def test_format_then_parse_is_identity(day: dt.date, strike: Decimal, call: bool, linear: bool) -> None:
    expiry = datetime_to_ns(dt.datetime(day.year, day.month, day.day, 8, tzinfo=dt.UTC))
    inst = Option(
        "ETH",
        strike,
        expiry,
        "call" if call else "put",
        quote="USDC" if linear else "USD",
        settlement=Settlement.LINEAR if linear else Settlement.INVERSE,
    )
    assert parse_instrument(format_instrument(inst)) == inst
