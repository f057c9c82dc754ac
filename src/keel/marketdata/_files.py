"""Reading text tables at the edge: one line of error naming the file (and row) for every bad input."""

from __future__ import annotations

import csv
import datetime as _dt
import math
from pathlib import Path

from keel.domain import datetime_to_ns
from keel.errors import ValidationError

__all__ = ["cell_float", "cell_int", "cell_utc_ns", "read_rows", "where"]


def where(path: Path, row: int) -> str:
    """``file.csv:LINE`` for data row ``row`` (0-based; the header is line 1)."""
    return f"{path.name}:{row + 2}"


def read_rows(path: str | Path, required: tuple[str, ...], *, field: str = "path") -> list[dict[str, str]]:
    """Rows of a CSV file with a header, as dicts of strings.

    Refused with a :class:`ValidationError` naming the file: a missing file, a file that is not
    UTF-8 text, a missing required column, no data rows, or a row cut short (fewer fields than
    the header).
    """
    p = Path(path)
    if not p.is_file():
        raise ValidationError(field, str(p), "no such file")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ValidationError(field, str(p), "is not UTF-8 text") from None
    except OSError as exc:
        raise ValidationError(field, str(p), f"cannot be read ({exc.strerror or type(exc).__name__})") from None
    if "\x00" in text:
        raise ValidationError(field, str(p), "is binary, not a CSV text file")
    reader = csv.DictReader(text.splitlines())
    header = reader.fieldnames or []
    missing = [c for c in required if c not in header]
    if missing:
        raise ValidationError(field, str(p), f"missing column(s) {missing}")
    rows: list[dict[str, str]] = []
    for i, row in enumerate(reader):
        if None in row.values() or None in row:
            raise ValidationError(where(p, i), str(p), f"row has {_count(row)} fields, the header {len(header)}")
        rows.append(row)
    if not rows:
        raise ValidationError(field, str(p), "has no data rows")
    return rows


def _count(row: dict[str | None, object]) -> int:
    extra = row.get(None)
    n = sum(1 for k, v in row.items() if k is not None and v is not None)
    return n + (len(extra) if isinstance(extra, list) else 0)


def cell_float(path: Path, row: int, column: str, text: str, *, positive: bool = False) -> float:
    """A finite float (and > 0 with ``positive``); the error names file, line and column."""
    try:
        value = float(text)
    except ValueError:
        raise ValidationError(where(path, row), text, f"column {column} is not a number") from None
    if not math.isfinite(value):
        raise ValidationError(where(path, row), text, f"column {column} must be finite")
    if positive and not value > 0:
        raise ValidationError(where(path, row), text, f"column {column} must be > 0")
    return value


def cell_int(path: Path, row: int, column: str, text: str, *, lo: int | None = None, hi: int | None = None) -> int:
    """An integer cell (``12`` or ``12.0``), optionally within ``[lo, hi]``."""
    try:
        value = int(text)
    except ValueError:
        try:
            f = float(text)
        except ValueError:
            raise ValidationError(where(path, row), text, f"column {column} is not an integer") from None
        if not (math.isfinite(f) and f.is_integer()):
            raise ValidationError(where(path, row), text, f"column {column} is not an integer") from None
        value = int(f)
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise ValidationError(where(path, row), text, f"column {column} outside [{lo}, {hi}]")
    return value


# milliseconds since the epoch whose nanoseconds fit int64 (before 2262)
MS_MAX = (2**63 - 1) // 1_000_000 - 1


def cell_utc_ns(path: Path, row: int, column: str, text: str) -> int:
    """A UTC date-time (``YYYY-MM-DD HH:MM:SS`` or ISO 8601; naive means UTC) as int ns."""
    try:
        moment = _dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValidationError(where(path, row), text, f"column {column} is not a date-time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_dt.UTC)
    try:
        return datetime_to_ns(moment)
    except (OverflowError, ValueError) as exc:
        raise ValidationError(where(path, row), text, f"column {column}: {exc}") from None
