"""Deribit option-chain snapshots (public/ticker rows) as a typed, validated table."""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import polars as pl

from keel.domain import NS_PER_SECOND, NS_PER_YEAR, Option, OptionKind, datetime_to_ns, ms_to_ns, parse_instrument
from keel.errors import ValidationError
from keel.marketdata.series import PriceSeries

__all__ = ["OptionChain", "load_chain_file", "load_deribit_atm_iv", "load_deribit_chain", "load_iv_greeks_csv"]

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
    dropped: tuple[tuple[str, int], ...] = ()

    def __len__(self) -> int:
        return self.frame.height

    def column(self, name: str) -> npt.NDArray[np.float64]:
        return self.frame[name].to_numpy().astype(np.float64)

    def expiries(self) -> list[int]:
        return sorted(self.frame["expiry_ns"].unique().to_list())

    @property
    def n_dropped(self) -> int:
        """Bad rows the loader dropped (reasons and counts in ``dropped``)."""
        return sum(n for _, n in self.dropped)

    def flat_iv_expiries(self) -> dict[int, float]:
        """Expiries (ns) whose every mark IV is one and the same value (a placeholder, not a
        market smile: a fit to it would report a perfect, meaningless error), with that value."""
        out: dict[int, float] = {}
        for expiry in self.expiries():
            iv = self.frame.filter(pl.col("expiry_ns") == expiry)["mark_iv"].to_numpy()
            iv = iv[np.isfinite(iv)]
            if iv.size >= 2 and np.all(iv == iv[0]):
                out[int(expiry)] = float(iv[0])
        return out

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
            out.append(OptionChain(part, f"{self.source}#{i}" if len(starts) > 1 else self.source, self.dropped))
        return out


def _row_lengths(path: Path, text: str) -> npt.NDArray[np.int64]:
    """Number of fields of every data row (a row cut short has fewer than the header)."""
    import csv

    return np.array([len(r) for r in csv.reader(text.splitlines()[1:]) if r], dtype=np.int64)


def _read_text(path: Path) -> str:
    if not path.is_file():
        raise ValidationError("path", str(path), "no such file")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ValidationError("path", str(path), "is not UTF-8 text") from None


_MS_MAX = (2**63 - 1) // 1_000_000 - 1


def _ms_to_ns(text: str | None) -> int | None:
    """An exchange timestamp in ms as int ns, or None when it is missing, not an integer or out of range."""
    try:
        v = int(text) if text is not None else -1
    except ValueError:
        return None
    return ms_to_ns(v) if 0 <= v <= _MS_MAX else None


def _bad(values: npt.NDArray[np.float64], *, allow_zero: bool = False) -> npt.NDArray[np.bool_]:
    """NaN, inf and non-positive (or negative, with ``allow_zero``) values.  Written so NaN fails:
    polars (and numpy) say ``NaN > 0`` is false only after ``nan_to_num``; nulls are NaN here."""
    v = np.nan_to_num(values, nan=-1.0, posinf=-1.0, neginf=-1.0)
    return ~(np.isfinite(values) & ((v >= 0) if allow_zero else (v > 0)))


class _Rows:
    """One chain file being read: its raw string table, the rows still kept, and how many rows
    were dropped for which reason."""

    def __init__(self, path: Path, required: tuple[str, ...]) -> None:
        text = _read_text(path)
        try:
            raw = pl.read_csv(text.encode(), infer_schema_length=0)  # all columns as strings; typed later
        except Exception as exc:
            raise ValidationError("path", str(path), f"not a readable CSV ({type(exc).__name__})") from None
        missing = [c for c in required if c not in raw.columns]
        if missing:
            raise ValidationError("columns", missing, f"missing from {path.name}")
        self.path, self.raw = path, raw
        self.reasons: dict[str, int] = {}
        self.keep = np.ones(raw.height, dtype=bool)
        lengths = _row_lengths(path, text)
        if lengths.size == raw.height:
            self.drop(lengths < len(raw.columns), "row cut short")
        self.names: list[str | None] = raw["instrument_name"].to_list()
        self.options: list[Option | None] = []
        for name in self.names:
            inst = parse_instrument(name) if name is not None else None
            if inst is not None and not isinstance(inst, Option):
                raise ValidationError("instrument_name", name, "is not an option")
            self.options.append(inst)
        self.drop(np.array([o is None for o in self.options], dtype=bool), "no instrument_name")
        self.expiry_ns = np.array([o.expiry_ns if o is not None else 0 for o in self.options], dtype=np.int64)
        self.ts_ns = np.zeros(raw.height, dtype=np.int64)

    def drop(self, mask: npt.NDArray[np.bool_], why: str) -> None:
        """Drop the rows of ``mask`` still kept, counting them under ``why``."""
        newly = int(np.count_nonzero(mask & self.keep))
        if newly:
            self.reasons[why] = self.reasons.get(why, 0) + newly
        self.keep &= ~mask

    def floats(self, column: str, scale: float = 1.0) -> npt.NDArray[np.float64]:
        """``column`` as float64 / ``scale``; empty, null and unparsable cells are NaN."""
        values = self.raw[column].cast(pl.Float64, strict=False).fill_null(np.nan).to_numpy()
        return np.asarray(values, dtype=np.float64) / scale

    def stamps(self, stamps: list[int | None], why: str) -> None:
        """Snapshot times (None = unreadable, dropped under ``why``); rows at or after expiry are dropped."""
        ok = np.array([t is not None for t in stamps], dtype=bool)
        self.drop(~ok, why)
        self.ts_ns = np.array([t if t is not None else 0 for t in stamps], dtype=np.int64)
        self.drop(ok & (self.ts_ns >= self.expiry_ns), "timestamp at or after expiry")

    def kept(self) -> tuple[npt.NDArray[np.intp], tuple[tuple[str, int], ...], dict[str, object]]:
        """(kept row numbers, drop counts, the instrument columns of the kept rows); a file with no
        row left is refused with the counts."""
        dropped = tuple(sorted(self.reasons.items()))
        if not self.keep.any():
            detail = ", ".join(f"{n} {why}" for why, n in dropped)
            raise ValidationError("path", str(self.path), f"no usable row: all {self.raw.height} dropped ({detail})")
        rows = np.flatnonzero(self.keep)
        opts = [o for o in (self.options[i] for i in rows.tolist()) if o is not None]
        columns: dict[str, object] = {
            "instrument": [self.names[i] for i in rows.tolist()],
            "underlying": [o.underlying for o in opts],
            "strike": np.array([float(o.strike) for o in opts]),
            "expiry_ns": self.expiry_ns[rows],
            "kind": np.array([1 if o.kind is OptionKind.CALL else -1 for o in opts], dtype=np.int8),
            "ts_ns": self.ts_ns[rows],
            "T": (self.expiry_ns[rows] - self.ts_ns[rows]) / NS_PER_YEAR,
        }
        return rows, dropped, columns


def load_deribit_chain(path: str | Path) -> OptionChain:
    """Read a Deribit ticker snapshot CSV (as in data/deribit_option_chain_snapshots_2021-02).

    Bad rows are dropped, counted per reason in :attr:`OptionChain.dropped`: rows cut short
    (fewer fields than the header), an unreadable timestamp, a NaN/inf/non-positive
    ``underlying_price``, a NaN/empty/non-positive ``mark_iv``, a NaN or negative ``mark_price``,
    and snapshots taken at or after the option's expiry.  (Each test is written so that NaN and
    null fail it: polars says ``NaN > 0`` is true, and nulls drop out of filters.)  A file with
    no good row left is refused.
    """
    r = _Rows(Path(path), _REQUIRED)
    r.stamps([_ms_to_ns(v) for v in r.raw["timestamp"].to_list()], "timestamp not a time in ms")
    under, mark, iv = r.floats("underlying_price"), r.floats("mark_price"), r.floats("mark_iv", 100.0)
    r.drop(_bad(under), "underlying_price NaN/inf/<= 0")
    r.drop(_bad(iv), "mark_iv NaN/empty/<= 0")
    r.drop(_bad(mark, allow_zero=True), "mark_price NaN or < 0")
    rows, dropped, columns = r.kept()
    columns.update(
        underlying_price=under[rows], index_price=r.floats("index_price")[rows], mark_price=mark[rows], mark_iv=iv[rows]
    )
    for name in _OPTIONAL_FLOATS:
        if name in r.raw.columns:
            col = r.floats(name)[rows]
            if name in ("bid_iv", "ask_iv"):
                col = np.where(_bad(col), np.nan, col / 100.0)
            columns[name.replace("greeks.", "venue_")] = col
    if "underlying_index" in r.raw.columns:
        idx = r.raw["underlying_index"].to_list()
        columns["underlying_index"] = [idx[i] for i in rows.tolist()]
    frame = pl.DataFrame(columns)
    return OptionChain(frame.sort(["expiry_ns", "strike", "kind"]), str(r.path), dropped)


_IV_GREEKS_COLUMNS = ("date", "instrument_name", "delta", "bid_iv", "ask_iv", "mark_iv")


def _utc_date_ns(text: str | None) -> int | None:
    try:
        moment = _dt.datetime.fromisoformat(text) if text is not None else None
    except ValueError:
        return None
    if moment is None:
        return None
    moment = moment.replace(tzinfo=_dt.UTC) if moment.tzinfo is None else moment
    try:
        return datetime_to_ns(moment)
    except (OverflowError, ValueError):
        return None


def load_iv_greeks_csv(path: str | Path) -> OptionChain:
    """Read a Deribit IV/Greeks export (``data/deribit_btc_iv_greeks_hourly_2026-01``: columns
    ``date, instrument_name, ..., delta, bid_iv, ask_iv, mark_iv``, IVs in %, 0 = no quote) as an
    :class:`OptionChain` with NaN prices.  keel.pricing infers each expiry's forward from the
    venue's call deltas (``venue_delta``).

    Dropped and counted in :attr:`OptionChain.dropped`: rows cut short, an unreadable ``date``,
    a NaN/empty/non-positive ``mark_iv``, rows at or after the option's expiry.  A file with no
    good row left is refused."""
    r = _Rows(Path(path), _IV_GREEKS_COLUMNS)
    r.stamps([_utc_date_ns(d) for d in r.raw["date"].to_list()], "date not a date-time")
    iv = r.floats("mark_iv", 100.0)
    r.drop(_bad(iv), "mark_iv NaN/empty/<= 0")
    rows, dropped, columns = r.kept()
    bid, ask = r.floats("bid_iv", 100.0)[rows], r.floats("ask_iv", 100.0)[rows]
    nan = np.full(rows.size, np.nan)
    columns.update(
        underlying_price=nan,
        index_price=nan,
        mark_price=nan,
        mark_iv=iv[rows],
        bid_iv=np.where(_bad(bid), np.nan, bid),
        ask_iv=np.where(_bad(ask), np.nan, ask),
        venue_delta=r.floats("delta")[rows],
    )
    frame = pl.DataFrame(columns)
    return OptionChain(frame.sort(["ts_ns", "expiry_ns", "strike", "kind"]), str(r.path), dropped)


def load_deribit_atm_iv(path: str | Path, min_days: float = 2.0, max_days: float = 45.0) -> PriceSeries:
    """At-the-money implied vol per snapshot of a Deribit IV/Greeks export, as a series.

    Per snapshot: the median ``mark_iv`` (a fraction) of calls with delta in [0.4, 0.6]
    expiring between ``min_days`` and ``max_days`` after it.  Snapshots without such calls are
    skipped; bad rows are dropped as :func:`load_iv_greeks_csv` does.
    """
    chain = load_iv_greeks_csv(path)
    fr = chain.frame
    days = (fr["expiry_ns"].to_numpy() - fr["ts_ns"].to_numpy()) / (86_400 * NS_PER_SECOND)
    delta = fr["venue_delta"].to_numpy()
    iv = fr["mark_iv"].to_numpy()
    ok = (fr["kind"].to_numpy() == 1) & (delta >= 0.4) & (delta <= 0.6) & (days >= min_days) & (days <= max_days)
    ok &= iv > 0
    if not ok.any():
        raise ValidationError("vol_replay", str(path), "no at-the-money calls in the expiry window")
    ts = fr["ts_ns"].to_numpy()[ok]
    vals = iv[ok]
    order = np.argsort(ts, kind="stable")
    ts, vals = ts[order], vals[order]
    starts = np.flatnonzero(np.r_[True, np.diff(ts) != 0])
    atm = [float(np.median(part)) for part in np.split(vals, starts[1:])]
    return PriceSeries("atm_iv", ts[starts].astype(np.int64), np.asarray(atm), source=Path(path).name)


def load_chain_file(path: str | Path) -> OptionChain:
    """A Deribit ticker snapshot CSV or a Deribit IV/Greeks export, told apart by the header."""
    path = Path(path)
    if not path.is_file():
        raise ValidationError("path", str(path), "no such file")
    header = _read_text(path).partition("\n")[0].strip().split(",")
    if "mark_price" in header:
        return load_deribit_chain(path)
    if "mark_iv" in header and "delta" in header:
        return load_iv_greeks_csv(path)
    raise ValidationError("path", str(path), "neither a Deribit ticker snapshot nor an IV/Greeks export")
