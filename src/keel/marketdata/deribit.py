"""Deribit option-chain snapshots (public/ticker rows) as a typed, validated table."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import polars as pl

from keel.domain import NS_PER_YEAR, Option, OptionKind, datetime_to_ns, ms_to_ns, parse_instrument
from keel.errors import ValidationError

__all__ = ["OptionChain", "load_chain_file", "load_deribit_chain", "load_iv_greeks_csv"]

_REQUIRED = ("instrument_name", "timestamp", "underlying_price", "index_price", "mark_price", "mark_iv")
_OPTIONAL_FLOATS = (
    "bid_iv",
    "ask_iv",
    "best_bid_price",
    "best_ask_price",
    "open_interest",
    "greeks.delta",
    "greeks.gamma",
    "greeks.vega",
    "greeks.theta",
    "interest_rate",
)


@dataclass(frozen=True)
class OptionChain:
    """One or more snapshots of an option chain, one row per instrument per snapshot.

    Columns of ``frame``: instrument, underlying, strike, expiry_ns, kind (+1 call / -1 put),
    ts_ns, T (ACT/365 years to expiry at ts_ns), underlying_price, index_price, mark_price
    (coin), mark_iv (fraction, not %), bid_iv/ask_iv (fraction, NaN when no quote), and the
    venue's greeks where the file has them.
    """

    frame: pl.DataFrame
    source: str

    def __len__(self) -> int:
        return self.frame.height

    def column(self, name: str) -> npt.NDArray[np.float64]:
        return self.frame[name].to_numpy().astype(np.float64)

    def expiries(self) -> list[int]:
        return sorted(self.frame["expiry_ns"].unique().to_list())

    def snapshots(self, gap_ns: int = 60 * 1_000_000_000) -> list[OptionChain]:
        """Split into snapshots: a new one starts where consecutive timestamps are more than
        ``gap_ns`` apart (a Deribit sweep takes 1-2 minutes but has no gap that long)."""
        ts = np.sort(self.frame["ts_ns"].to_numpy())
        if ts.size == 0:
            return []
        cuts = np.flatnonzero(np.diff(ts) > gap_ns)
        starts = [int(ts[0])] + [int(ts[i + 1]) for i in cuts]
        ends = [int(ts[i]) + 1 for i in cuts] + [int(ts[-1]) + 1]
        out = []
        for i, (start, end) in enumerate(zip(starts, ends, strict=True)):
            part = self.frame.filter((pl.col("ts_ns") >= start) & (pl.col("ts_ns") < end))
            out.append(OptionChain(part, f"{self.source}#{i}" if len(starts) > 1 else self.source))
        return out


def load_deribit_chain(path: str | Path) -> OptionChain:
    """Read a Deribit ticker snapshot CSV (as in data/deribit_option_chain_snapshots_2021-02)."""
    path = Path(path)
    if not path.is_file():
        raise ValidationError("path", str(path), "no such file")
    try:
        raw = pl.read_csv(path, infer_schema_length=0)  # all columns as strings; typed below
    except Exception as exc:
        raise ValidationError("path", str(path), f"not a readable CSV ({type(exc).__name__})") from exc
    missing = [c for c in _REQUIRED if c not in raw.columns]
    if missing:
        raise ValidationError("columns", missing, f"missing from {path.name}")
    names = raw["instrument_name"].to_list()
    options: list[Option] = []
    for name in names:
        inst = parse_instrument(name)
        if not isinstance(inst, Option):
            raise ValidationError("instrument_name", name, "is not an option")
        options.append(inst)
    ts_ns = np.array([ms_to_ns(int(t)) for t in raw["timestamp"].to_list()], dtype=np.int64)
    expiry_ns = np.array([o.expiry_ns for o in options], dtype=np.int64)
    columns: dict[str, object] = {
        "instrument": names,
        "underlying": [o.underlying for o in options],
        "strike": np.array([float(o.strike) for o in options]),
        "expiry_ns": expiry_ns,
        "kind": np.array([1 if o.kind is OptionKind.CALL else -1 for o in options], dtype=np.int8),
        "ts_ns": ts_ns,
        "T": (expiry_ns - ts_ns) / NS_PER_YEAR,
    }
    for name in ("underlying_price", "index_price", "mark_price"):
        columns[name] = raw[name].cast(pl.Float64).to_numpy()
    columns["mark_iv"] = raw["mark_iv"].cast(pl.Float64).to_numpy() / 100.0
    for name in _OPTIONAL_FLOATS:
        if name in raw.columns:
            values = raw[name].cast(pl.Float64, strict=False).to_numpy()
            if name in ("bid_iv", "ask_iv"):
                values = np.where(values > 0, values / 100.0, np.nan)
            columns[name.replace("greeks.", "venue_")] = values
    if "underlying_index" in raw.columns:
        columns["underlying_index"] = raw["underlying_index"].to_list()
    frame = pl.DataFrame(columns)
    bad = frame.filter(~(pl.col("underlying_price") > 0) | ~(pl.col("mark_iv") > 0))
    if bad.height:
        row = bad.row(0, named=True)
        raise ValidationError(
            "underlying_price/mark_iv",
            (row["underlying_price"], row["mark_iv"]),
            f"must be positive (instrument {row['instrument']})",
        )
    return OptionChain(frame.sort(["expiry_ns", "strike", "kind"]), str(path))


_IV_GREEKS_COLUMNS = ("date", "instrument_name", "delta", "bid_iv", "ask_iv", "mark_iv")


def load_iv_greeks_csv(path: str | Path) -> OptionChain:
    """Read a Deribit IV/Greeks export (``data/deribit_btc_iv_greeks_hourly_2026-01``: columns
    ``date, instrument_name, ..., delta, bid_iv, ask_iv, mark_iv``, IVs in %, 0 = no quote) as an
    :class:`OptionChain` with NaN prices; expired rows are dropped.  keel.pricing infers each
    expiry's forward from the venue's call deltas (``venue_delta``)."""
    path = Path(path)
    try:
        raw = pl.read_csv(path, infer_schema_length=0)
    except Exception as exc:
        raise ValidationError("path", str(path), f"not a readable CSV ({type(exc).__name__})") from exc
    missing = [c for c in _IV_GREEKS_COLUMNS if c not in raw.columns]
    if missing:
        raise ValidationError("columns", missing, f"missing from {path.name}")
    options: list[Option] = []
    for name in raw["instrument_name"].to_list():
        inst = parse_instrument(name)
        if not isinstance(inst, Option):
            raise ValidationError("instrument_name", name, "is not an option")
        options.append(inst)
    ts_ns = np.array(
        [datetime_to_ns(_dt.datetime.fromisoformat(d).replace(tzinfo=_dt.UTC)) for d in raw["date"].to_list()],
        dtype=np.int64,
    )
    expiry_ns = np.array([o.expiry_ns for o in options], dtype=np.int64)

    def pct(col: str, zero_is_missing: bool) -> npt.NDArray[np.float64]:
        v = raw[col].cast(pl.Float64, strict=False).to_numpy() / 100.0
        return np.where(v > 0, v, np.nan) if zero_is_missing else v

    nan = np.full(raw.height, np.nan)
    frame = pl.DataFrame(
        {
            "instrument": raw["instrument_name"].to_list(),
            "underlying": [o.underlying for o in options],
            "strike": np.array([float(o.strike) for o in options]),
            "expiry_ns": expiry_ns,
            "kind": np.array([1 if o.kind is OptionKind.CALL else -1 for o in options], dtype=np.int8),
            "ts_ns": ts_ns,
            "T": (expiry_ns - ts_ns) / NS_PER_YEAR,
            "underlying_price": nan,
            "index_price": nan,
            "mark_price": nan,
            "mark_iv": pct("mark_iv", False),
            "bid_iv": pct("bid_iv", True),
            "ask_iv": pct("ask_iv", True),
            "venue_delta": raw["delta"].cast(pl.Float64, strict=False).to_numpy(),
        }
    )
    frame = frame.filter(pl.col("T") > 0)
    return OptionChain(frame.sort(["ts_ns", "expiry_ns", "strike", "kind"]), str(path))


def load_chain_file(path: str | Path) -> OptionChain:
    """A Deribit ticker snapshot CSV or a Deribit IV/Greeks export, told apart by the header."""
    path = Path(path)
    if not path.is_file():
        raise ValidationError("path", str(path), "no such file")
    with path.open() as fh:
        header = fh.readline().strip().split(",")
    if "mark_price" in header:
        return load_deribit_chain(path)
    if "mark_iv" in header and "delta" in header:
        return load_iv_greeks_csv(path)
    raise ValidationError("path", str(path), "neither a Deribit ticker snapshot nor an IV/Greeks export")
