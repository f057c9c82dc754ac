"""A Parquet catalog of decoded pool events: written by ``keel ingest``, read by simulations and queries.

Layout (Hive-style partitions, one directory per chain, pool and UTC day)::

    DIR/chain=1/pool=0x88e6…5640/pool.json                     # PoolMeta: tokens, coverage, tip hash, snapshot
    DIR/chain=1/pool=0x88e6…5640/day=2024-01-05/events-000018937382-000018937999.parquet
    DIR/chain=1/pool=0x88e6…5640/day=2024-01-05/blocks-000018937382-000018937999.parquet

A pool's **coverage** is the block range ``[from_block, next_block)`` recorded in ``pool.json``; only
rows inside it are ever read, so a file written by a chunk whose ``pool.json`` update never
happened (a killed ingest) is invisible, and the next ingest removes it.  Every file, ``pool.json``
included, is written to a temporary name in the same directory, fsync'ed and moved into place
(``os.replace``), so a reader never sees a half-written file.

Events hold one row per log: block number/hash/timestamp, base fee, transaction hash and index,
log index, event name, and one column per ABI parameter in snake_case (``sqrt_price_x96``,
``tick_lower``, ``amount0_in``, …).  Integers wider than 64 bits (amounts, prices, liquidity) are
decimal strings, exact; ticks and small ints are int64.  Timestamps are uint32 seconds as the
chain gives them (``block_timestamp``); ``ts_ns`` is the same in int ns UTC.

:meth:`Catalog.pool_state` rebuilds a pool at any covered block by replaying its events on
keel.venues' exact v3 pool (from ``Initialize``, or from the snapshot read at ``from_block - 1``
when the ingest began after the pool's creation); v2 pairs take their reserves from ``Sync``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import numpy.typing as npt
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from keel.domain import PoolState, Token
from keel.errors import KeelError, ValidationError
from keel.venues.base import Revert
from keel.venues.events import V3_POOL_EVENTS, PoolEvent, replay
from keel.venues.uniswap_v3.pool import Pool

__all__ = [
    "BLOCK_SCHEMA",
    "EVENT_SCHEMA",
    "V2_PAIR_EVENTS",
    "Catalog",
    "CatalogError",
    "CatalogSwaps",
    "PoolMeta",
    "StreamError",
    "catalog_from_stream",
    "catalog_swaps",
    "column_name",
    "consume_rows",
    "import_demeter_raw",
    "nats_connect",
    "parse_nats_url",
]

NS_PER_SECOND = 1_000_000_000
Q96 = 1 << 96

# UniswapV2Pair events the catalog keeps: name -> [(parameter, solidity type, indexed)]
V2_PAIR_EVENTS: dict[str, list[tuple[str, str, bool]]] = {
    "Swap": [
        ("sender", "address", True),
        ("amount0In", "uint256", False),
        ("amount1In", "uint256", False),
        ("amount0Out", "uint256", False),
        ("amount1Out", "uint256", False),
        ("to", "address", True),
    ],
    "Mint": [("sender", "address", True), ("amount0", "uint256", False), ("amount1", "uint256", False)],
    "Burn": [
        ("sender", "address", True),
        ("amount0", "uint256", False),
        ("amount1", "uint256", False),
        ("to", "address", True),
    ],
    "Sync": [("reserve0", "uint112", False), ("reserve1", "uint112", False)],
}


DEFAULT_STREAM = "KEEL_EVENTS"


class CatalogError(KeelError):
    """A catalog that cannot be read or written as asked (the message names the file or pool)."""


def column_name(param: str) -> str:
    """Column of an ABI parameter: snake_case (``sqrtPriceX96`` -> ``sqrt_price_x96``; v2 ``to`` -> ``recipient``)."""
    if param == "to":
        return "recipient"
    out = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", param).lower()
    return out.replace("x96", "_x96").replace("__x96", "_x96")


def _param_columns() -> dict[str, pa.DataType]:
    cols: dict[str, pa.DataType] = {}
    for spec in (*V3_POOL_EVENTS.values(), *V2_PAIR_EVENTS.values()):
        for name, typ, _ in spec:
            col = column_name(name)
            small = (typ.startswith("int") and int(typ[3:]) <= 64) or (typ.startswith("uint") and int(typ[4:]) <= 32)
            cols[col] = pa.string() if typ == "address" or not small else pa.int64()
    return cols


_PARAM_COLUMNS = _param_columns()
EVENT_SCHEMA = pa.schema(
    [
        ("block_number", pa.int64()),
        ("block_hash", pa.string()),
        ("block_timestamp", pa.int64()),
        ("ts_ns", pa.int64()),
        ("base_fee_per_gas", pa.int64()),
        ("tx_hash", pa.string()),
        ("tx_index", pa.int64()),
        ("log_index", pa.int64()),
        ("event", pa.string()),
        *sorted(_PARAM_COLUMNS.items()),
    ]
)
BLOCK_SCHEMA = pa.schema(
    [
        ("block_number", pa.int64()),
        ("block_hash", pa.string()),
        ("parent_hash", pa.string()),
        ("block_timestamp", pa.int64()),
        ("base_fee_per_gas", pa.int64()),
    ]
)
_FILE = re.compile(r"^(events|blocks)-(\d{12})-(\d{12})\.parquet$")


@dataclass(frozen=True, slots=True)
class PoolMeta:
    """What the catalog knows about one pool (``pool.json``).

    ``kind`` 'uniswap_v3' or 'uniswap_v2'; ``fee`` in pips; coverage ``[from_block, next_block)``;
    ``tip_hash`` the hash of block ``next_block - 1`` as ingested (reorg check);
    ``snapshot`` the pool's state at ``from_block - 1`` (None when the pool did not exist then).
    """

    chain_id: int
    address: str
    kind: str
    token0: str
    token1: str
    token0_symbol: str
    token1_symbol: str
    token0_decimals: int
    token1_decimals: int
    fee: int
    tick_spacing: int
    from_block: int
    next_block: int
    tip_hash: str = ""
    snapshot: PoolState | None = None
    source: str = ""

    def to_json(self) -> str:
        data = asdict(self)
        data["snapshot"] = None if self.snapshot is None else self.snapshot.to_dict()
        return json.dumps(data, indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str, where: str) -> PoolMeta:
        try:
            data = json.loads(text)
            snap = data.pop("snapshot", None)
            meta = cls(**data, snapshot=None if snap is None else PoolState.from_dict(snap))
        except (json.JSONDecodeError, TypeError, KeyError, ValidationError) as exc:
            raise CatalogError(f"catalog file {where!r}: not a pool.json ({str(exc).splitlines()[0][:100]})") from None
        if meta.kind not in ("uniswap_v2", "uniswap_v3") or meta.next_block < meta.from_block:
            raise CatalogError(f"catalog file {where!r}: bad kind or coverage")
        return meta

    @property
    def blocks(self) -> int:
        return self.next_block - self.from_block

    def tokens(self) -> tuple[Token, Token]:
        return (
            Token(self.token0_symbol or "TOKEN0", self.token0_decimals, chain_id=self.chain_id, address=self.token0),
            Token(self.token1_symbol or "TOKEN1", self.token1_decimals, chain_id=self.chain_id, address=self.token1),
        )


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same directory (fsync, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _atomic_parquet(path: Path, table: pa.Table) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        pq.write_table(table, tmp, compression="zstd")
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _day(ts_s: int) -> str:
    return dt.datetime.fromtimestamp(ts_s, tz=dt.UTC).strftime("%Y-%m-%d")


def _norm(address: str) -> str:
    if not isinstance(address, str) or not re.fullmatch(r"0x[0-9a-fA-F]{40}", address):
        raise ValidationError("pool", address, "not a 20-byte hex address")
    return address.lower()


def _to_ns(value: int | str | dt.datetime | None, name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValidationError(name, value, "must be int ns UTC, an ISO-8601 time or a datetime")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValidationError(name, value, "not an ISO-8601 time") from None
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return int(value.timestamp()) * NS_PER_SECOND + value.microsecond * 1000
    raise ValidationError(name, value, "must be int ns UTC, an ISO-8601 time or a datetime")


@dataclass
class _Replay:
    """A pool rebuilt up to ``block`` having consumed ``consumed`` events (kept to continue forward)."""

    next_block: int
    block: int
    consumed: int
    pool: Pool | None
    reserves: tuple[int, int]


@dataclass
class Catalog:
    """The catalog at ``path`` (created on first write).  Reads never modify it."""

    path: Path
    _events_cache: dict[tuple[int, str], tuple[int, list[PoolEvent]]] = field(default_factory=dict, repr=False)
    _replay_cache: dict[tuple[int, str], _Replay] = field(default_factory=dict, repr=False)

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if self.path.exists() and not self.path.is_dir():
            raise CatalogError(f"catalog={str(self.path)!r}: not a directory")
        self._events_cache = {}
        self._replay_cache = {}

    # ---- layout ---------------------------------------------------------------------------------
    def pool_dir(self, chain_id: int, pool: str) -> Path:
        return self.path / f"chain={int(chain_id)}" / f"pool={_norm(pool)}"

    def _meta_path(self, chain_id: int, pool: str) -> Path:
        return self.pool_dir(chain_id, pool) / "pool.json"

    def _files(self, chain_id: int, pool: str, kind: str) -> list[tuple[int, int, Path]]:
        out: list[tuple[int, int, Path]] = []
        base = self.pool_dir(chain_id, pool)
        if not base.is_dir():
            return out
        for day in sorted(base.glob("day=*")):
            for f in day.iterdir():
                m = _FILE.match(f.name)
                if m and m.group(1) == kind:
                    out.append((int(m.group(2)), int(m.group(3)), f))
        out.sort()
        # a file whose block range lies inside another's of the same day was merged into it by compact()
        # (the merged file is written before the parts are deleted): read the merged one only
        kept = []
        for lo, hi, f in out:
            inside = any(g.parent == f.parent and a <= lo and hi <= b and (a, b) != (lo, hi) for a, b, g in out)
            if not inside:
                kept.append((lo, hi, f))
        return kept

    def compact(self, chain_id: int, pool: str) -> int:
        """Merge each day's files of the pool into one per kind (atomic: the merged file is written first and
        hides its parts, which are then deleted); returns how many files were merged away."""
        merged = 0
        for kind in ("events", "blocks"):
            by_day: dict[Path, list[tuple[int, int, Path]]] = {}
            for lo, hi, f in self._files(chain_id, pool, kind):
                by_day.setdefault(f.parent, []).append((lo, hi, f))
            for day, parts in by_day.items():
                if len(parts) < 2:
                    continue
                lo, hi = min(p[0] for p in parts), max(p[1] for p in parts)
                try:
                    table = pa.concat_tables([pq.read_table(f) for _, _, f in parts])
                except Exception as exc:  # a damaged file: leave the day as it is, name it
                    raise CatalogError(f"catalog folder {str(day)!r}: cannot compact ({str(exc)[:80]})") from None
                _atomic_parquet(day / f"{kind}-{lo:012d}-{hi:012d}.parquet", table)
                for _, _, f in parts:
                    f.unlink()
                merged += len(parts)
        return merged

    # ---- metadata -------------------------------------------------------------------------------
    def pools(self) -> list[PoolMeta]:
        """Every pool in the catalog (chain, then address order)."""
        metas: list[PoolMeta] = []
        if not self.path.is_dir():
            return metas
        for chain_dir in sorted(self.path.glob("chain=*")):
            for pool_dir in sorted(chain_dir.glob("pool=*")):
                f = pool_dir / "pool.json"
                if f.is_file():
                    metas.append(PoolMeta.from_json(f.read_text(), str(f)))
        return metas

    def find(self, pool: str, chain_id: int | None = None) -> PoolMeta:
        """The pool with address ``pool`` (on ``chain_id`` when given); CatalogError when absent or ambiguous."""
        wanted = _norm(pool)
        hits = [m for m in self.pools() if m.address.lower() == wanted and (chain_id is None or m.chain_id == chain_id)]
        if not hits:
            raise CatalogError(f"pool={pool}: not in catalog {str(self.path)!r} (run `keel catalog list`)")
        if len(hits) > 1:
            raise CatalogError(f"pool={pool}: on several chains {[m.chain_id for m in hits]}; give the chain id")
        return hits[0]

    def meta(self, chain_id: int, pool: str) -> PoolMeta | None:
        """The pool's :class:`PoolMeta`, or None when the catalog has no such pool."""
        f = self._meta_path(chain_id, pool)
        if not f.is_file():
            return None
        return PoolMeta.from_json(f.read_text(), str(f))

    def _require(self, chain_id: int, pool: str) -> PoolMeta:
        meta = self.meta(chain_id, pool)
        if meta is None:
            raise CatalogError(f"pool={pool}: chain {chain_id} has no such pool in catalog {str(self.path)!r}")
        return meta

    # ---- writing (the ingester) -----------------------------------------------------------------
    def write_meta(self, meta: PoolMeta) -> None:
        """Write ``pool.json`` atomically (this is the commit point of a chunk)."""
        atomic_write_bytes(self._meta_path(meta.chain_id, meta.address), meta.to_json().encode())
        self._events_cache.pop((meta.chain_id, meta.address.lower()), None)

    def write_chunk(
        self,
        meta: PoolMeta,
        events: Mapping[str, Sequence[Any]],
        blocks: Mapping[str, Sequence[Any]],
        from_block: int,
        to_block: int,
        tip_hash: str,
    ) -> PoolMeta:
        """Append blocks ``[from_block, to_block]`` (which must start at ``meta.next_block``): files first,
        then ``pool.json``.  Returns the new meta."""
        if from_block != meta.next_block or to_block < from_block:
            raise CatalogError(
                f"pool={meta.address}: chunk [{from_block}, {to_block}] does not continue at {meta.next_block}"
            )
        for kind, columns, schema in (("events", events, EVENT_SCHEMA), ("blocks", blocks, BLOCK_SCHEMA)):
            table = pa.table({name: columns.get(name, [None] * _rows(columns)) for name in schema.names}, schema=schema)
            if table.num_rows == 0:
                continue
            days = [_day(t) for t in table.column("block_timestamp").to_pylist()]
            for day in sorted(set(days)):
                part = table.filter(pa.array([d == day for d in days]))
                name = f"{kind}-{from_block:012d}-{to_block:012d}.parquet"
                _atomic_parquet(self.pool_dir(meta.chain_id, meta.address) / f"day={day}" / name, part)
        new = replace(meta, next_block=to_block + 1, tip_hash=tip_hash)
        self.write_meta(new)
        return new

    def clean(self, chain_id: int, pool: str) -> int:
        """Remove files beyond the pool's coverage (left by an interrupted ingest) and stray temporaries;
        returns how many were removed."""
        meta = self._require(chain_id, pool)
        removed = 0
        for kind in ("events", "blocks"):
            for lo, _, f in self._files(chain_id, pool, kind):
                if lo >= meta.next_block:
                    f.unlink()
                    removed += 1
        for tmp in self.pool_dir(chain_id, pool).rglob(".*.tmp"):
            tmp.unlink(missing_ok=True)
            removed += 1
        return removed

    def rewind(self, chain_id: int, pool: str, fork_block: int, fork_parent_hash: str) -> PoolMeta:
        """Drop every row at or after ``fork_block`` (a reorg): ``pool.json`` first, then the files."""
        meta = self._require(chain_id, pool)
        if fork_block >= meta.next_block:
            return meta
        fork_block = max(fork_block, meta.from_block)
        new = replace(meta, next_block=fork_block, tip_hash=fork_parent_hash if fork_block > meta.from_block else "")
        self.write_meta(new)
        for kind in ("events", "blocks"):
            for lo, _, f in self._files(chain_id, pool, kind):
                if lo >= fork_block:
                    f.unlink()
                elif int(f.name.split("-")[2].split(".")[0]) >= fork_block:
                    table = pq.read_table(f)
                    kept = table.filter(pa.compute.less(table.column("block_number"), fork_block))
                    if kept.num_rows:
                        _atomic_parquet(f.with_name(f"{kind}-{lo:012d}-{fork_block - 1:012d}.parquet"), kept)
                    f.unlink()
        self._replay_cache.pop((chain_id, pool.lower()), None)
        return new

    # ---- reading --------------------------------------------------------------------------------
    def _read(
        self,
        chain_id: int,
        pool: str,
        kind: str,
        meta: PoolMeta,
        lo: int,
        hi: int,
        days: tuple[str | None, str | None] = (None, None),
    ) -> pl.DataFrame:
        """Rows with block_number in [lo, hi) ∩ coverage, ordered by (block_number, log_index); ``days``
        (first, last 'YYYY-MM-DD', inclusive) skips the other day partitions without opening them."""
        lo, hi = max(lo, meta.from_block), min(hi, meta.next_block)
        schema = EVENT_SCHEMA if kind == "events" else BLOCK_SCHEMA
        first_day, last_day = days
        files = [
            f
            for a, b, f in self._files(chain_id, pool, kind)
            if a < hi
            and b >= lo
            and (first_day is None or f.parent.name[4:] >= first_day)
            and (last_day is None or f.parent.name[4:] <= last_day)
        ]
        if not files or lo >= hi:
            return pl.DataFrame(pa.Table.from_pylist([], schema=schema))
        frames = []
        for f in files:
            try:
                frames.append(pl.read_parquet(f, hive_partitioning=False))
            except Exception as exc:  # polars raises several types for a damaged file
                raise CatalogError(
                    f"catalog file {str(f)!r}: not a readable Parquet file ({str(exc).splitlines()[0][:80]})"
                ) from None
        df = pl.concat(frames, how="vertical_relaxed")
        df = df.filter((pl.col("block_number") >= lo) & (pl.col("block_number") < hi))
        order = ["block_number", "log_index"] if kind == "events" else ["block_number"]
        return df.sort(order)

    def events(
        self,
        chain_id: int,
        pool: str,
        start: int | str | dt.datetime | None = None,
        end: int | str | dt.datetime | None = None,
        *,
        by: str = "time",
        event: str | Sequence[str] | None = None,
    ) -> pl.DataFrame:
        """The pool's events with ``start <= t < end``, ordered by block and log index (a polars DataFrame).

        ``by="time"``: ``start``/``end`` are int ns UTC, ISO-8601 strings or datetimes; ``by="block"``:
        block numbers.  ``None`` leaves that side open.  ``event`` keeps only those event names.
        """
        meta = self._require(chain_id, pool)
        if by not in ("time", "block"):
            raise ValidationError("by", by, "must be 'time' or 'block'")
        if by == "block":
            lo = meta.from_block if start is None else int(start)  # type: ignore[arg-type]
            hi = meta.next_block if end is None else int(end)  # type: ignore[arg-type]
            df = self._read(chain_id, pool, "events", meta, lo, hi)
        else:
            s, e = _to_ns(start, "start"), _to_ns(end, "end")
            if s is not None and e is not None and e < s:
                raise ValidationError("end", end, "is before start")
            days = (
                None if s is None else _day(s // NS_PER_SECOND),
                None if e is None else _day(max(e - 1, 0) // NS_PER_SECOND),
            )
            df = self._read(chain_id, pool, "events", meta, meta.from_block, meta.next_block, days)
            if s is not None:
                df = df.filter(pl.col("ts_ns") >= s)
            if e is not None:
                df = df.filter(pl.col("ts_ns") < e)
        if event is not None:
            names = [event] if isinstance(event, str) else list(event)
            df = df.filter(pl.col("event").is_in(names))
        return df

    def blocks(self, chain_id: int, pool: str, start: int | None = None, end: int | None = None) -> pl.DataFrame:
        """Block headers ingested for the pool (number, hash, parent, timestamp, base fee), ``start <= n < end``."""
        meta = self._require(chain_id, pool)
        lo = meta.from_block if start is None else start
        hi = meta.next_block if end is None else end
        return self._read(chain_id, pool, "blocks", meta, lo, hi)

    def stored_hash(self, chain_id: int, pool: str, block: int) -> str | None:
        """The hash recorded for ``block`` (None when not covered or no header was recorded)."""
        df = self.blocks(chain_id, pool, block, block + 1)
        return None if df.height == 0 else str(df["block_hash"][0])

    def verify(self, chain_id: int, pool: str) -> int:
        """Read every file of the pool (CatalogError naming a damaged one); returns the event count."""
        meta = self._require(chain_id, pool)
        self._read(chain_id, pool, "blocks", meta, meta.from_block, meta.next_block)
        return self._read(chain_id, pool, "events", meta, meta.from_block, meta.next_block).height

    # ---- rebuilding state -----------------------------------------------------------------------
    def _pool_events(self, meta: PoolMeta) -> list[PoolEvent]:
        key = (meta.chain_id, meta.address.lower())
        cached = self._events_cache.get(key)
        if cached is not None and cached[0] == meta.next_block:
            return cached[1]
        df = self._read(meta.chain_id, meta.address, "events", meta, meta.from_block, meta.next_block)
        spec = V3_POOL_EVENTS if meta.kind == "uniswap_v3" else V2_PAIR_EVENTS
        out = list(_to_pool_events(df, spec, meta.address))
        self._events_cache[key] = (meta.next_block, out)
        self._replay_cache.pop(key, None)
        return out

    def pool_state(self, chain_id: int, pool: str, block: int) -> PoolState:
        """The pool's state after every event of ``block`` (slot0, liquidity, fee growth, initialized ticks
        for v3; reserves for v2), rebuilt from the catalog; equal to the chain's at that block."""
        meta = self._require(chain_id, pool)
        if not meta.from_block - 1 <= block < meta.next_block:
            raise ValidationError(
                "block", block, f"outside the catalog's coverage [{meta.from_block - 1}, {meta.next_block - 1}]"
            )
        events = self._pool_events(meta)
        key = (meta.chain_id, meta.address.lower())
        state = self._replay_cache.get(key)
        if state is None or state.block > block or state.next_block != meta.next_block:
            state = self._fresh(meta)
        pool_obj = state.pool.copy() if state.pool is not None else None
        reserves = state.reserves
        i = state.consumed
        while i < len(events) and events[i].block_number <= block:
            ev = events[i]
            if meta.kind == "uniswap_v3":
                pool_obj = _apply_v3(pool_obj, ev, meta)
            elif ev.name == "Sync":
                reserves = (int(ev["reserve0"]), int(ev["reserve1"]))
            i += 1
        self._replay_cache[key] = _Replay(meta.next_block, block, i, pool_obj, reserves)
        ts = self._block_ts(meta, block)
        address = _checksum(meta.address)
        if meta.kind == "uniswap_v2":
            return PoolState(
                kind="uniswap_v2",
                token0=meta.token0,
                token1=meta.token1,
                fee=meta.fee,
                block_number=block,
                ts_ns=ts,
                address=address,
                reserve0=reserves[0],
                reserve1=reserves[1],
            )
        if pool_obj is None:
            raise CatalogError(f"pool={meta.address}: not initialized at block {block}")
        snap = pool_obj.to_state(block_number=block, ts_ns=ts, address=address)
        return replace(snap, token0=meta.token0, token1=meta.token1)

    def _block_ts(self, meta: PoolMeta, block: int) -> int:
        df = self.blocks(meta.chain_id, meta.address, block, block + 1)
        if df.height:
            return int(df["block_timestamp"][0]) * NS_PER_SECOND
        return 0

    def _fresh(self, meta: PoolMeta) -> _Replay:
        snap = meta.snapshot
        if meta.kind == "uniswap_v2":
            reserves = (snap.reserve0, snap.reserve1) if snap is not None else (0, 0)
            return _Replay(meta.next_block, meta.from_block - 1, 0, None, reserves)
        t0, t1 = meta.tokens()
        pool_obj: Pool | None = None
        if snap is not None:
            pool_obj = Pool.from_state(snap, token0=t0, token1=t1, block_timestamp=snap.ts_ns // NS_PER_SECOND)
        return _Replay(meta.next_block, meta.from_block - 1, 0, pool_obj, (0, 0))

    # ---- admin ----------------------------------------------------------------------------------
    def remove_pool(self, chain_id: int, pool: str) -> None:
        """Delete a pool's directory (``pool.json`` first, so a half-deleted pool is invisible)."""
        d = self.pool_dir(chain_id, pool)
        (d / "pool.json").unlink(missing_ok=True)
        shutil.rmtree(d, ignore_errors=True)

    def files(self, chain_id: int, pool: str) -> Iterator[Path]:
        for kind in ("events", "blocks"):
            for _, _, f in self._files(chain_id, pool, kind):
                yield f


@dataclass(frozen=True, slots=True)
class CatalogSwaps:
    """A pool's price-setting events in order, exact: v3 ``Swap`` (``sqrt_price_x96``) or v2 ``Sync``
    (``reserve0``/``reserve1``), each at ``ts_ns`` (int ns UTC).  Prices are made from these by
    :func:`keel.sim.paths.catalog_path` with :mod:`keel.oracle.dex` (the one converter)."""

    meta: PoolMeta
    ts_ns: npt.NDArray[np.int64]
    sqrt_price_x96: tuple[int, ...] = ()
    reserve0: tuple[int, ...] = ()
    reserve1: tuple[int, ...] = ()

    def __len__(self) -> int:
        return len(self.ts_ns)


def _swaps_of(df: pl.DataFrame, meta: PoolMeta) -> CatalogSwaps:
    if meta.kind == "uniswap_v3":
        df = df.filter(pl.col("event") == "Swap")
        return CatalogSwaps(
            meta, df["ts_ns"].to_numpy().astype(np.int64), tuple(int(v) for v in df["sqrt_price_x96"].to_list())
        )
    df = df.filter(pl.col("event") == "Sync")
    return CatalogSwaps(
        meta,
        df["ts_ns"].to_numpy().astype(np.int64),
        reserve0=tuple(int(v) for v in df["reserve0"].to_list()),
        reserve1=tuple(int(v) for v in df["reserve1"].to_list()),
    )


def _rows(columns: Mapping[str, Sequence[Any]]) -> int:
    for v in columns.values():
        return len(v)
    return 0


def _checksum(address: str) -> str:
    from eth_utils.address import to_checksum_address

    return str(to_checksum_address(address))


def _to_pool_events(
    df: pl.DataFrame, spec: Mapping[str, list[tuple[str, str, bool]]], address: str
) -> Iterator[PoolEvent]:
    cols = {name: df[name].to_list() for name in df.columns}
    n = df.height
    for i in range(n):
        name = cols["event"][i]
        params = spec.get(name)
        if params is None:
            continue
        args: dict[str, Any] = {}
        for pname, typ, _ in params:
            v = cols[column_name(pname)][i]
            args[pname] = v if typ == "address" else int(v)
        yield PoolEvent(
            name,
            args,
            block_number=cols["block_number"][i],
            log_index=cols["log_index"][i],
            block_timestamp=cols["block_timestamp"][i],
            transaction_hash=cols["tx_hash"][i],
            address=address,
        )


def _apply_v3(pool: Pool | None, ev: PoolEvent, meta: PoolMeta) -> Pool | None:
    if ev.name == "Initialize":
        t0, t1 = meta.tokens()
        fresh = Pool(meta.fee, meta.tick_spacing, 0, token0=t0, token1=t1, block_timestamp=ev.block_timestamp)
        fresh.initialize(int(ev["sqrtPriceX96"]))
        return fresh
    if pool is None:
        raise CatalogError(
            f"pool={meta.address}: event {ev.name} at block {ev.block_number} before the pool's Initialize"
        )
    if meta.snapshot is not None:
        # Started from a snapshot: positions opened before it are unknown to the rebuilt pool.  A Burn of one
        # is given its liquidity first (the burn's amounts depend on liquidity and price only); Collects of
        # fees owed before the snapshot change no pool state and are skipped.
        if ev.name == "Collect":
            if ev.block_timestamp:
                pool.block_timestamp = ev.block_timestamp
            return pool
        if ev.name == "Burn":
            key = (ev["owner"], int(ev["tickLower"]), int(ev["tickUpper"]))
            have = pool.positions(*key).liquidity
            if have == 0 and int(ev["amount"]) == 0:  # a fee poke of an unknown position changes no pool state
                return pool
            if have < int(ev["amount"]):
                pool._own()
                pool._positions[key] = [int(ev["amount"]), 0, 0, 0, 0]
    try:
        replay(pool, [ev])
    except Revert as exc:
        raise CatalogError(
            f"pool={meta.address}: event {ev.name} at block {ev.block_number} log {ev.log_index} "
            f"does not replay ({exc})"
        ) from None
    return pool


def import_demeter_raw(
    catalog: Catalog,
    raw_csv: str | Path,
    *,
    chain_id: int,
    pool: str,
    token0: tuple[str, str, int],
    token1: tuple[str, str, int],
    fee: int,
    tick_spacing: int,
    source: str = "",
) -> PoolMeta:
    """One pool's undecoded logs from a demeter-fetch ``*.raw.csv`` (block, timestamp, tx hash/index, log index,
    topics, data) decoded into the catalog, covering the file's first to last block.

    ``token0``/``token1``: (address, symbol, decimals).  The file has no block hashes or base fees (those
    columns stay empty) and no state before its first block (no snapshot: :meth:`Catalog.pool_state` is
    not available for such an entry; events and prices are).
    """
    import ast
    import csv

    from keel.venues.events import decode_log

    path = Path(raw_csv)
    if not path.is_file():
        raise ValidationError("raw_csv", str(path), "no such file")
    rows: list[dict[str, Any]] = []
    with path.open(newline="") as handle:
        for line in csv.DictReader(handle):
            moment = dt.datetime.fromisoformat(line["block_timestamp"]).replace(tzinfo=dt.UTC)
            ts = int(moment.timestamp())
            topics = ast.literal_eval(line["topics"])
            ev = decode_log(topics, line["data"])
            row: dict[str, Any] = {
                "block_number": int(line["block_number"]),
                "block_hash": "",
                "block_timestamp": ts,
                "ts_ns": ts * NS_PER_SECOND,
                "base_fee_per_gas": None,
                "tx_hash": line["transaction_hash"],
                "tx_index": int(line["transaction_index"]),
                "log_index": int(line["log_index"]),
                "event": ev.name,
            }
            for pname, _typ, _ in V3_POOL_EVENTS[ev.name]:
                v = ev.args[pname]
                row[column_name(pname)] = v if _PARAM_COLUMNS[column_name(pname)] == pa.int64() else str(v)
            rows.append(row)
    if not rows:
        raise ValidationError("raw_csv", str(path), "has no rows")
    rows.sort(key=lambda r: (r["block_number"], r["log_index"]))
    first, last = rows[0]["block_number"], rows[-1]["block_number"]
    meta = PoolMeta(
        chain_id=chain_id,
        address=_checksum(pool),
        kind="uniswap_v3",
        token0=_checksum(token0[0]),
        token1=_checksum(token1[0]),
        token0_symbol=token0[1],
        token1_symbol=token1[1],
        token0_decimals=token0[2],
        token1_decimals=token1[2],
        fee=fee,
        tick_spacing=tick_spacing,
        from_block=first,
        next_block=first,
        source=source,
    )
    if catalog.meta(chain_id, pool) is not None:
        catalog.remove_pool(chain_id, pool)
    catalog.write_meta(meta)
    events = {name: [r.get(name) for r in rows] for name in EVENT_SCHEMA.names}
    seen: dict[int, int] = {}
    for r in rows:
        seen.setdefault(r["block_number"], r["block_timestamp"])
    blocks: dict[str, list[Any]] = {
        "block_number": list(seen),
        "block_hash": [""] * len(seen),
        "parent_hash": [""] * len(seen),
        "block_timestamp": list(seen.values()),
        "base_fee_per_gas": [None] * len(seen),
    }
    return catalog.write_chunk(meta, events, blocks, first, last, "")


def catalog_swaps(folder: str | Path, chain_id: int, pool: str, start_ns: int, end_ns: int) -> CatalogSwaps:
    """The ``market.kind = "catalog"`` events: the pool's price-setting events in ``[start_ns, end_ns)``, led by
    the last one before ``start_ns`` (the price in force at the start).  ``folder`` may be a catalog directory
    or ``nats://HOST:PORT/STREAM`` (the ingester's stream, read into a temporary catalog first).

    Problems are :class:`keel.errors.ConfigError` naming ``market.catalog``, ``market.pool``, ``market.start``
    or ``market.hours``.
    """
    from keel.errors import ConfigError

    text = str(folder)
    if "nats:/" in text:  # the market from the ingester's stream, through a catalog of our own
        # (a relative path joined to the project root, or a Path, folds "nats://" into "nats:/")
        url = "nats://" + text[text.index("nats:/") + len("nats:/") :].lstrip("/")
        with tempfile.TemporaryDirectory(prefix="keel-stream-") as tmp:
            try:
                catalog_from_stream(url, chain_id, pool, end_ns, tmp)
            except KeelError as exc:
                raise ConfigError("market.catalog", url, str(exc)) from None
            return catalog_swaps(tmp, chain_id, pool, start_ns, end_ns)
    cat = Catalog(folder)
    if not cat.path.is_dir():
        raise ConfigError("market.catalog", str(folder), "no such catalog directory")
    try:
        meta = cat.meta(chain_id, pool)
    except ValidationError as exc:
        raise ConfigError("market.pool", pool, str(exc)) from None
    if meta is None:
        raise ConfigError("market.pool", pool, f"not in catalog {str(folder)!r} on chain {chain_id}")
    swaps = _swaps_of(cat.events(chain_id, pool, None, end_ns), meta)
    ts = swaps.ts_ns
    if len(ts) == 0 or int(ts[-1]) < start_ns:
        covers = "no swaps" if len(ts) == 0 else f"swaps up to {_iso(int(ts[-1]))}"
        raise ConfigError("market.start", _iso(start_ns), f"the catalog has {covers} for pool {meta.address}")
    first = max(int(np.searchsorted(ts, start_ns, side="right")) - 1, 0)
    if first == 0 and int(ts[0]) > start_ns + 3600 * NS_PER_SECOND:
        raise ConfigError("market.start", _iso(start_ns), f"the catalog's swaps start at {_iso(int(ts[0]))}")
    headers = cat.blocks(chain_id, pool)
    last_ns = int(str(headers["block_timestamp"].max())) * NS_PER_SECOND if headers.height else 0
    if headers.height and last_ns < end_ns - 3600 * NS_PER_SECOND:
        raise ConfigError("market.hours", _iso(end_ns), f"the run ends past the catalog (pool {meta.address})")
    return CatalogSwaps(meta, ts[first:], swaps.sqrt_price_x96[first:], swaps.reserve0[first:], swaps.reserve1[first:])


def _iso(ns: int) -> str:
    return dt.datetime.fromtimestamp(ns / NS_PER_SECOND, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---- the consuming side of the event stream (the publisher is keel.runtime.stream) ------------------


class StreamError(KeelError):
    """A NATS server or stream that cannot be used (the message names the URL or stream)."""


def parse_nats_url(url: str) -> tuple[str, str | None]:
    """``nats://host:port[/STREAM]`` -> (server URL, stream name or None)."""
    if not isinstance(url, str) or not url.startswith("nats://"):
        raise ValidationError("market", url, "must be a nats://HOST:PORT[/STREAM] URL")
    parts = urlsplit(url)
    if not parts.hostname:
        raise ValidationError("market", url, "has no host")
    server = f"nats://{parts.hostname}:{parts.port or 4222}"
    stream = parts.path.strip("/") or None
    return server, stream


def stream_subject(stream: str, chain_id: int, pool: str) -> str:
    return f"{stream}.{int(chain_id)}.{pool.lower()}"


async def nats_connect(server: str) -> Any:
    """A NATS connection (StreamError naming the server when it does not answer)."""
    import nats
    from nats.errors import NoServersError

    try:
        return await nats.connect(server, connect_timeout=2, max_reconnect_attempts=1, allow_reconnect=False)
    except (NoServersError, OSError, TimeoutError) as exc:
        raise StreamError(f"nats={server!r}: does not answer ({type(exc).__name__})") from None


async def consume_rows(
    url: str,
    chain_id: int,
    pool: str,
    *,
    until_ts_ns: int | None = None,
    idle_timeout_s: float = 30.0,
    stream: str = DEFAULT_STREAM,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The pool's messages from the start of the stream: (pool description, rows in stream order).

    A reorg message (``{"reorg": fork_block}``) drops the rows received so far from that block on.

    Stops at the first row stamped at or after ``until_ts_ns`` (not included), or when nothing arrives for
    ``idle_timeout_s`` (then with ``until_ts_ns`` given it raises: the window was not covered).
    """
    server, named = parse_nats_url(url)
    stream = named or stream
    nc = await nats_connect(server)
    try:
        js = nc.jetstream()
        from nats.errors import TimeoutError as NatsTimeout
        from nats.js.errors import NotFoundError

        try:
            await js.stream_info(stream)
        except NotFoundError:
            raise StreamError(f"nats={server!r}: no JetStream stream {stream!r}") from None
        sub = await js.subscribe(stream_subject(stream, chain_id, pool), ordered_consumer=True)
        head: dict[str, Any] = {}
        rows: list[dict[str, Any]] = []
        seen: set[tuple[str, int]] = set()
        while True:
            try:
                msg = await sub.next_msg(timeout=idle_timeout_s)
            except (TimeoutError, NatsTimeout):
                if until_ts_ns is not None:
                    raise StreamError(
                        f"nats={server!r}: stream {stream!r} went quiet for {idle_timeout_s:g}s before "
                        f"pool {pool} reached the window's end"
                    ) from None
                break
            data = json.loads(msg.data)
            if "reorg" in data:  # the ingester rewound the pool: rows from the fork block on are orphaned
                fork = int(data["reorg"])
                rows = [r for r in rows if int(r["block_number"]) < fork]
                seen = {(str(r["block_hash"]), int(r["log_index"])) for r in rows}
                continue
            row = data.pop("row")
            head = data
            if until_ts_ns is not None and int(row["ts_ns"]) >= until_ts_ns:
                break
            key = (str(row["block_hash"]), int(row["log_index"]))
            if key not in seen:  # belt and braces: the server already de-duplicates by message id
                seen.add(key)
                rows.append(row)
        await sub.unsubscribe()
        return head, rows
    finally:
        await nc.close()


def catalog_from_stream(
    url: str,
    chain_id: int,
    pool: str,
    until_ts_ns: int,
    folder: str | Path,
    *,
    idle_timeout_s: float = 60.0,
) -> PoolMeta:
    """Consume the pool's events up to ``until_ts_ns`` into a catalog at ``folder`` (one entry covering the
    first to the last streamed block); returns its :class:`PoolMeta`."""

    head, rows = asyncio.run(consume_rows(url, chain_id, pool, until_ts_ns=until_ts_ns, idle_timeout_s=idle_timeout_s))
    if not rows:
        raise StreamError(f"market={url!r}: no events of pool {pool} on chain {chain_id} before the window's end")
    rows.sort(key=lambda r: (int(r["block_number"]), int(r["log_index"])))
    first, last = int(rows[0]["block_number"]), int(rows[-1]["block_number"])
    meta = PoolMeta(
        chain_id=int(head["chain_id"]),
        address=str(head["pool"]),
        kind=str(head["kind"]),
        token0=str(head["token0"]),
        token1=str(head["token1"]),
        token0_symbol=str(head["token0_symbol"]),
        token1_symbol=str(head["token1_symbol"]),
        token0_decimals=int(head["token0_decimals"]),
        token1_decimals=int(head["token1_decimals"]),
        fee=int(head["fee"]),
        tick_spacing=int(head["tick_spacing"]),
        from_block=first,
        next_block=first,
        source=f"stream {url}",
    )
    cat = Catalog(folder)
    if cat.meta(meta.chain_id, meta.address) is not None:
        cat.remove_pool(meta.chain_id, meta.address)
    cat.write_meta(meta)
    headers: dict[int, tuple[str, int, int | None]] = {}
    for r in rows:
        headers.setdefault(
            int(r["block_number"]), (str(r["block_hash"]), int(r["block_timestamp"]), r["base_fee_per_gas"])
        )
    events = {name: [r.get(name) for r in rows] for name in EVENT_SCHEMA.names}
    blocks: dict[str, list[Any]] = {
        "block_number": list(headers),
        "block_hash": [h[0] for h in headers.values()],
        "parent_hash": [""] * len(headers),
        "block_timestamp": [h[1] for h in headers.values()],
        "base_fee_per_gas": [h[2] for h in headers.values()],
    }
    return cat.write_chunk(meta, events, blocks, first, last, str(rows[-1]["block_hash"]))
