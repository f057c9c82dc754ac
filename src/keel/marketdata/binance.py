"""Binance files: 1-minute klines and perpetual funding rates (``data/binance_*``).

Exchange times are milliseconds; everything here is int ns UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from keel.domain import NS_PER_SECOND
from keel.errors import ValidationError
from keel.marketdata._files import MS_MAX, cell_float, cell_int, read_rows
from keel.marketdata.series import PriceSeries

__all__ = ["Klines", "load_binance_klines", "load_funding_rates"]

_KLINE_COLUMNS = ("open_time", "open", "high", "low", "close", "close_time")


@dataclass(frozen=True)
class Klines:
    """1-minute bars: ``open_time_ns``/``close_time_ns`` (int ns UTC; Binance's close time is the
    bar's last millisecond) and float64 ``open``, ``high``, ``low``, ``close`` (finite, > 0)."""

    name: str
    source: str
    open_time_ns: npt.NDArray[np.int64]
    close_time_ns: npt.NDArray[np.int64]
    open: npt.NDArray[np.float64]
    high: npt.NDArray[np.float64]
    low: npt.NDArray[np.float64]
    close: npt.NDArray[np.float64]

    def __len__(self) -> int:
        return len(self.open_time_ns)

    def closes(self, *, at: str = "open", name: str | None = None) -> PriceSeries:
        """Each bar's close, stamped at the bar's open (``at="open"``, the stress suite's minute
        grid) or at the bar's end, when the close is known (``at="end"``: close time + 1 ms)."""
        if at == "open":
            ts = self.open_time_ns
        elif at == "end":
            ts = self.close_time_ns + 1_000_000
        else:
            raise ValidationError("at", at, "must be 'open' or 'end'")
        return PriceSeries(name or self.name, ts, self.close, self.source)

    def path(self) -> PriceSeries:
        """A path through each bar's open, extremes and close, four points per bar (at +0, +20,
        +40 s and +59 s): open, then the extreme nearer the open's direction (high first for a
        down bar is the conservative order: up to the high, down to the low, close), the other
        extreme, then the close."""
        t0 = self.open_time_ns
        down = self.close < self.open
        first = np.where(down, self.high, self.low)
        second = np.where(down, self.low, self.high)
        offsets = np.array([0, 20, 40, 59], dtype=np.int64) * NS_PER_SECOND
        ts = (t0[:, None] + offsets[None, :]).reshape(-1)
        px = np.stack([self.open, first, second, self.close], axis=1).reshape(-1)
        return PriceSeries(self.name, ts, px, self.source)


def load_binance_klines(path: str | Path) -> Klines:
    """A Binance kline CSV with header (``open_time, open, high, low, close, ..., close_time``).

    Refused, naming file and line: non-numeric, non-finite or non-positive prices, a low above
    a high, times out of range or not strictly increasing, rows cut short, non-UTF-8 files.
    """
    p = Path(path)
    rows = read_rows(p, _KLINE_COLUMNS)
    opens_ms = [cell_int(p, i, "open_time", r["open_time"], lo=0, hi=MS_MAX) for i, r in enumerate(rows)]
    close_ms = [cell_int(p, i, "close_time", r["close_time"], lo=0, hi=MS_MAX) for i, r in enumerate(rows)]
    cols = {
        k: np.array([cell_float(p, i, k, r[k], positive=True) for i, r in enumerate(rows)])
        for k in ("open", "high", "low", "close")
    }
    t_open = np.array(opens_ms, dtype=np.int64) * 1_000_000
    t_close = np.array(close_ms, dtype=np.int64) * 1_000_000
    if np.any(np.diff(t_open) <= 0):
        i = int(np.argmax(np.diff(t_open) <= 0)) + 1
        raise ValidationError(f"{p.name}:{i + 2}", rows[i]["open_time"], "open_time not strictly increasing")
    bad = (cols["low"] > cols["high"]) | (t_close < t_open)
    if bad.any():
        i = int(np.argmax(bad))
        raise ValidationError(f"{p.name}:{i + 2}", rows[i]["low"], "low above high, or close_time before open_time")
    return Klines(p.stem, p.name, t_open, t_close, cols["open"], cols["high"], cols["low"], cols["close"])


def load_funding_rates(path: str | Path) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Binance funding settlements: (settlement time int ns UTC, rate per interval; 0.0001 = 0.01%).

    Rates must be finite and within ±100% per interval; settlement times strictly increasing.
    """
    p = Path(path)
    rows = read_rows(p, ("calc_time", "last_funding_rate"), field="funding_rates")
    ts = np.array([cell_int(p, i, "calc_time", r["calc_time"], lo=0, hi=MS_MAX) for i, r in enumerate(rows)])
    rate = np.array([cell_float(p, i, "last_funding_rate", r["last_funding_rate"]) for i, r in enumerate(rows)])
    ts_ns = ts.astype(np.int64) * 1_000_000
    bad = np.abs(rate) >= 1.0
    if bad.any():
        i = int(np.argmax(bad))
        raise ValidationError(f"{p.name}:{i + 2}", rows[i]["last_funding_rate"], "funding rate beyond ±100%")
    if np.any(np.diff(ts_ns) <= 0):
        i = int(np.argmax(np.diff(ts_ns) <= 0)) + 1
        raise ValidationError(f"{p.name}:{i + 2}", rows[i]["calc_time"], "calc_time not strictly increasing")
    return ts_ns, rate
