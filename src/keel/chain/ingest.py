"""Chain data ingestion: pool event logs into the Parquet catalog (``keel ingest``).

:func:`ingest` reads ``eth_getLogs`` for Uniswap v2 pairs and v3 pools over adaptive block ranges
(a range the node refuses as too large, or that times out, is halved; four successful ones in a row
double it, up to ``max_span``), decodes each log (v3 with :func:`keel.venues.events.decode_log`, v2
``Swap``/``Mint``/``Burn``/``Sync`` with the pair's ABI), reads every block header of the range in
JSON-RPC batches (hash, parent hash, timestamp, base fee) and appends both to the
:class:`keel.marketdata.catalog.Catalog`.

* **Confirmations.**  Only blocks at least ``confirmations`` below the head are ingested.
* **Reorgs.**  Each chunk's first header must name the previous chunk's last block as its parent,
  each header its predecessor, each log its header's hash.  A broken link means the chain changed
  under the catalog: the fork point is found by binary search (stored hash == chain hash), every
  pool is rewound to it (:meth:`Catalog.rewind`) and ingestion continues from there, so the catalog
  afterwards holds the new chain.
* **Checkpoint.**  Each pool's ``pool.json`` (coverage and tip hash) is written after the chunk's files
  and is the commit point; an interrupted ingest restarts at ``next_block`` after removing any file
  beyond it: no gap, no duplicate.
* ``follow=True`` keeps polling the head and ingesting newly confirmed blocks until ``stop`` is set;
  ``on_commit`` receives each chunk's rows just before its commit (how ``--publish`` streams them: a crash
  in between publishes them again, and the stream drops the repeats by message id).
  ``on_reorg`` is told each pool's fork block before a rewind (``--publish`` sends it down the stream, so
  consumers drop the orphaned rows).
* **Compaction.**  Every ``compact_every`` chunks, and at the end, each pool's small per-chunk files of a
  day are merged into one (:meth:`Catalog.compact`).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_utils.crypto import keccak

from keel.chain.errors import RpcUnavailableError
from keel.chain.ingest_rpc import RangeTooLarge, RawRpc, RpcAnswerError
from keel.domain import PoolState
from keel.errors import ChainError, ValidationError
from keel.marketdata.catalog import V2_PAIR_EVENTS, Catalog, CatalogError, PoolMeta, column_name
from keel.venues.events import V3_POOL_EVENTS, decode_log, event_topic

__all__ = ["IngestProgress", "IngestResult", "ingest", "ingest_sync", "probe_pool"]


def _sig_topic(name: str, spec: Sequence[tuple[str, str, bool]]) -> str:
    return "0x" + keccak(text=f"{name}({','.join(t for _, t, _ in spec)})").hex()


_V3_TOPICS = {event_topic(name): name for name in V3_POOL_EVENTS}
_V2_TOPICS = {_sig_topic(name, spec): name for name, spec in V2_PAIR_EVENTS.items()}


def _selector(signature: str) -> str:
    return "0x" + keccak(text=signature).hex()[:8]


_SEL = {
    name: _selector(name)
    for name in ("token0()", "token1()", "fee()", "tickSpacing()", "getReserves()", "symbol()", "decimals()")
}


@dataclass(frozen=True, slots=True)
class IngestProgress:
    """Where an ingest stands: blocks done of the total, events written, rate, reorgs handled."""

    cursor: int
    target: int
    blocks_done: int
    blocks_total: int
    events: int
    blocks_per_s: float
    span: int
    reorgs: int


@dataclass(slots=True)
class IngestResult:
    chain_id: int
    pools: list[PoolMeta] = field(default_factory=list)
    events: int = 0
    blocks: int = 0
    reorgs: int = 0
    seconds: float = 0.0
    head: int = 0


_GROW_AFTER = 4  # successful chunks in a row before the range doubles
ProgressFn = Callable[[IngestProgress], None]
CommitFn = Callable[[int, PoolMeta, list[dict[str, Any]]], Awaitable[None]]
ReorgFn = Callable[[int, PoolMeta, int, str], Awaitable[None]]  # chain id, pool, fork block, orphaned tip hash


def _hex(value: Any) -> int:
    return int(value, 16) if isinstance(value, str) else int(value)


async def _eth_call(rpc: RawRpc, to: str, sig: str, block: int) -> str | None:
    try:
        out = await rpc.call("eth_call", [{"to": to, "data": _SEL[sig]}, hex(block)])
    except RpcAnswerError:
        return None
    return out if isinstance(out, str) and len(out) > 2 else None


def _word_int(data: str, i: int = 0, signed: bool = False) -> int:
    raw = bytes.fromhex(data[2 + 64 * i : 2 + 64 * (i + 1)])
    return int.from_bytes(raw, "big", signed=signed)


def _word_address(data: str, i: int = 0) -> str:
    return "0x" + data[2 + 64 * i + 24 : 2 + 64 * (i + 1)]


def _abi_string(data: str | None) -> str:
    if data is None:
        return ""
    raw = bytes.fromhex(data[2:])
    try:
        if len(raw) >= 64 and int.from_bytes(raw[:32], "big") == 32:
            n = int.from_bytes(raw[32:64], "big")
            return raw[64 : 64 + n].decode("utf-8", "replace")
        return raw[:32].rstrip(b"\0").decode("utf-8", "replace")  # bytes32 symbols (MKR)
    except ValueError:
        return ""


async def probe_pool(rpc: RawRpc, chain_id: int, address: str, block: int, from_block: int) -> PoolMeta:
    """What the pool at ``address`` is (v2 or v3, tokens, fee, spacing), read at ``block``.

    Raises ValidationError naming the pool when there is no contract there or it is not a Uniswap pool.
    """
    from eth_utils.address import is_address, to_checksum_address

    if not isinstance(address, str) or not is_address(address):
        raise ValidationError("pool", address, "not a 20-byte hex address")
    addr = to_checksum_address(address)
    code = await rpc.call("eth_getCode", [addr, hex(block)])
    if not code or code == "0x":
        raise ValidationError("pool", addr, f"no contract at this address on chain {chain_id} (block {block})")
    t0 = await _eth_call(rpc, addr, "token0()", block)
    t1 = await _eth_call(rpc, addr, "token1()", block)
    if t0 is None or t1 is None:
        raise ValidationError("pool", addr, "not a Uniswap v2 or v3 pool (no token0()/token1())")
    fee = await _eth_call(rpc, addr, "fee()", block)
    spacing = await _eth_call(rpc, addr, "tickSpacing()", block)
    if fee is not None and spacing is not None:
        kind, fee_pips, tick_spacing = "uniswap_v3", _word_int(fee), _word_int(spacing, signed=True)
    elif await _eth_call(rpc, addr, "getReserves()", block) is not None:
        kind, fee_pips, tick_spacing = "uniswap_v2", 3000, 0
    else:
        raise ValidationError("pool", addr, "not a Uniswap v2 or v3 pool (no fee()/tickSpacing() or getReserves())")
    tokens = []
    for t in (_word_address(t0), _word_address(t1)):
        tok = to_checksum_address(t)
        dec = await _eth_call(rpc, tok, "decimals()", block)
        tokens.append((tok, _abi_string(await _eth_call(rpc, tok, "symbol()", block)), _word_int(dec) if dec else 18))
    return PoolMeta(
        chain_id=chain_id,
        address=addr,
        kind=kind,
        token0=tokens[0][0],
        token1=tokens[1][0],
        token0_symbol=tokens[0][1],
        token1_symbol=tokens[1][1],
        token0_decimals=tokens[0][2],
        token1_decimals=tokens[1][2],
        fee=fee_pips,
        tick_spacing=tick_spacing,
        from_block=from_block,
        next_block=from_block,
        source=_redact(rpc.url),
    )


def _redact(url: str) -> str:
    """scheme://host[:port] of an RPC URL: paths and queries often carry API keys, which the catalog never stores."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")


async def _snapshot(url: str, meta: PoolMeta, block: int) -> PoolState | None:
    """The pool's state at ``block`` (before the ingested range), or None if it had no code then."""
    from keel.chain.client import ChainClient
    from keel.chain.pool_sync import read_pool_state

    client = await ChainClient.connect(url)
    try:
        code = await client.rpc("eth_getCode", [meta.address, hex(block)])
        if not code or code == "0x":
            return None
        state = await read_pool_state(client, meta.kind, meta.address, block=block, tick_scan="bitmap")
    finally:
        await client.close()
    if state.kind == "uniswap_v3" and state.sqrt_price_x96 == 0:
        return None
    return state


def _decode_v2(topics: list[str], data: str, name: str) -> dict[str, Any]:
    spec = V2_PAIR_EVENTS[name]
    args: dict[str, Any] = {}
    ti, di = 1, 0
    for pname, _typ, indexed in spec:
        if indexed:
            args[pname] = "0x" + topics[ti][-40:]
            ti += 1
        else:
            args[pname] = _word_int(data, di)
            di += 1
    return args


_EVENT_COLUMNS = ("block_number", "block_hash", "block_timestamp", "ts_ns", "base_fee_per_gas")
_ALL_PARAMS = sorted(
    {column_name(p) for spec in (*V3_POOL_EVENTS.values(), *V2_PAIR_EVENTS.values()) for p, _, _ in spec}
)
_BIG = {
    column_name(p)
    for spec in (*V3_POOL_EVENTS.values(), *V2_PAIR_EVENTS.values())
    for p, t, _ in spec
    if t != "address"
    and not ((t.startswith("int") and int(t[3:]) <= 64) or (t.startswith("uint") and int(t[4:]) <= 32))
}


def _row(log: dict[str, Any], header: dict[str, Any], kind: str) -> dict[str, Any]:
    topics = log["topics"]
    number = _hex(log["blockNumber"])
    ts = _hex(header["timestamp"])
    row: dict[str, Any] = {
        "block_number": number,
        "block_hash": log["blockHash"],
        "block_timestamp": ts,
        "ts_ns": ts * 1_000_000_000,
        "base_fee_per_gas": _hex(header["baseFeePerGas"]) if header.get("baseFeePerGas") else None,
        "tx_hash": log["transactionHash"],
        "tx_index": _hex(log["transactionIndex"]),
        "log_index": _hex(log["logIndex"]),
    }
    if kind == "uniswap_v3":
        ev = decode_log(topics, log["data"], block_number=number)
        row["event"] = ev.name
        args = ev.args
    else:
        name = _V2_TOPICS[topics[0]]
        row["event"] = name
        args = _decode_v2(topics, log["data"], name)
    for pname, value in args.items():
        col = column_name(pname)
        row[col] = str(value) if col in _BIG else value
    return row


def _columns(rows: list[dict[str, Any]], names: Sequence[str]) -> dict[str, list[Any]]:
    return {n: [r.get(n) for r in rows] for n in names}


@dataclass
class _Job:
    rpc: RawRpc
    catalog: Catalog
    chain_id: int
    metas: dict[str, PoolMeta]  # lowercase address -> meta
    span: int
    min_span: int
    max_span: int
    header_batch: int
    on_reorg: ReorgFn | None = None
    reorgs: int = 0
    events: int = 0
    blocks: int = 0
    chunks: int = 0

    async def headers(self, lo: int, hi: int) -> list[dict[str, Any]]:
        blocks = await self.rpc.batch(
            "eth_getBlockByNumber", [[hex(n), False] for n in range(lo, hi + 1)], size=self.header_batch
        )
        for n, b in zip(range(lo, hi + 1), blocks, strict=True):
            if b is None:
                raise ChainError(f"rpc={self.rpc.url!r}: block {n} not found (node pruned or behind)")
        return blocks

    async def chain_hash(self, n: int) -> str | None:
        b = await self.rpc.call("eth_getBlockByNumber", [hex(n), False])
        return None if b is None else str(b["hash"])

    async def logs(self, lo: int, hi: int, addresses: list[str]) -> list[dict[str, Any]]:
        topics = list(_V3_TOPICS) + list(_V2_TOPICS)
        return list(
            await self.rpc.call(
                "eth_getLogs", [{"address": addresses, "fromBlock": hex(lo), "toBlock": hex(hi), "topics": [topics]}]
            )
        )

    async def find_fork(self, meta: PoolMeta) -> int:
        """First block whose stored hash differs from the chain's (binary search over the coverage)."""
        lo, hi = meta.from_block, meta.next_block - 1  # invariant: blocks < lo match (or are not stored)
        while lo <= hi:
            mid = (lo + hi) // 2
            stored = self.catalog.stored_hash(meta.chain_id, meta.address, mid)
            if stored is not None and stored == await self.chain_hash(mid):
                lo = mid + 1
            else:
                hi = mid - 1
        return lo

    async def handle_reorg(self) -> int:
        """Rewind every pool to the fork point; returns it."""
        forks = [await self.find_fork(m) for m in self.metas.values() if m.next_block > m.from_block]
        fork = min(forks) if forks else min(m.next_block for m in self.metas.values())
        if self.on_reorg is not None:  # told before the rewind: a crash in between tells again (same message id)
            for meta in self.metas.values():
                if meta.next_block > fork:
                    await self.on_reorg(self.chain_id, meta, fork, meta.tip_hash)
        for key, meta in list(self.metas.items()):
            parent = self.catalog.stored_hash(meta.chain_id, meta.address, fork - 1) or ""
            self.metas[key] = self.catalog.rewind(meta.chain_id, meta.address, fork, parent)
        self.reorgs += 1
        return fork

    async def chunk(self, lo: int, hi: int, on_commit: CommitFn | None) -> bool:
        """Ingest [lo, hi] for the pools whose coverage ends at lo; False when a reorg rewound the pools."""
        due = [m for m in self.metas.values() if m.next_block == lo]
        logs = await self.logs(lo, hi, [m.address for m in due])
        headers = await self.headers(lo, hi)
        expected_parent = {m.tip_hash for m in due if m.tip_hash}
        if expected_parent and headers[0]["parentHash"] not in expected_parent:
            await self.handle_reorg()
            return False
        for prev, cur in itertools.pairwise(headers):
            if cur["parentHash"] != prev["hash"]:
                raise _ChainMoved
        by_number = {_hex(h["number"]): h for h in headers}
        rows: dict[str, list[dict[str, Any]]] = {m.address.lower(): [] for m in due}
        for log in logs:
            if log.get("removed"):
                raise _ChainMoved
            header = by_number[_hex(log["blockNumber"])]
            if log["blockHash"] != header["hash"]:
                raise _ChainMoved
            addr = str(log["address"]).lower()
            if addr in rows:
                rows[addr].append(_row(log, header, self.metas[addr].kind))
        block_cols = {
            "block_number": [_hex(h["number"]) for h in headers],
            "block_hash": [h["hash"] for h in headers],
            "parent_hash": [h["parentHash"] for h in headers],
            "block_timestamp": [_hex(h["timestamp"]) for h in headers],
            "base_fee_per_gas": [_hex(h["baseFeePerGas"]) if h.get("baseFeePerGas") else None for h in headers],
        }
        tip = str(headers[-1]["hash"])
        names = [*_EVENT_COLUMNS, "tx_hash", "tx_index", "log_index", "event", *_ALL_PARAMS]
        ordered = {k: sorted(v, key=lambda r: (r["block_number"], r["log_index"])) for k, v in rows.items()}
        if on_commit is not None:  # published before the commit: a crash in between re-publishes (deduplicated)
            for meta in due:
                if ordered[meta.address.lower()]:
                    await on_commit(self.chain_id, meta, ordered[meta.address.lower()])
        for meta in due:
            key = meta.address.lower()
            self.metas[key] = self.catalog.write_chunk(meta, _columns(ordered[key], names), block_cols, lo, hi, tip)
            self.events += len(ordered[key])
        self.chunks += 1
        self.blocks += hi - lo + 1
        return True


class _ChainMoved(Exception):
    """Headers or logs of one chunk disagree (the chain changed while it was read): read it again."""


async def ingest(
    rpc_url: str,
    pools: Sequence[str],
    from_block: int,
    to_block: int | None,
    catalog: Catalog | str | Path,
    *,
    confirmations: int = 12,
    follow: bool = False,
    poll_s: float = 2.0,
    span: int = 2_000,
    min_span: int = 1,
    max_span: int = 50_000,
    header_batch: int = 200,
    progress: ProgressFn | None = None,
    on_commit: CommitFn | None = None,
    on_reorg: ReorgFn | None = None,
    stop: asyncio.Event | None = None,
    rpc_timeout_s: float = 30.0,
    rpc_attempts: int = 5,
    compact_every: int = 256,
) -> IngestResult:
    """Ingest ``pools``' events for blocks ``from_block..to_block`` (None: the confirmed head) into ``catalog``.

    A pool already in the catalog resumes at its ``next_block`` (``from_block`` must not leave a gap
    after its coverage nor start before it).  With ``follow`` the call keeps going until ``stop`` is set.
    """
    cat = catalog if isinstance(catalog, Catalog) else Catalog(catalog)
    if isinstance(from_block, bool) or not isinstance(from_block, int) or from_block < 0:
        raise ValidationError("from", from_block, "must be a block number >= 0")
    if to_block is not None and to_block < from_block:
        raise ValidationError("to", to_block, f"is before --from {from_block} (inverted block range)")
    if confirmations < 0:
        raise ValidationError("confirmations", confirmations, "must be >= 0")
    if not pools:
        raise ValidationError("pool", "", "give at least one pool address")
    if not 1 <= min_span <= span <= max_span:
        raise ValidationError("span", (min_span, span, max_span), "need 1 <= min_span <= span <= max_span")
    started = time.monotonic()
    async with RawRpc(rpc_url, attempts=rpc_attempts, timeout_s=rpc_timeout_s) as rpc:
        chain_id = _hex(await rpc.call("eth_chainId", []))
        head = _hex(await rpc.call("eth_blockNumber", []))
        metas: dict[str, PoolMeta] = {}
        for address in pools:
            known = cat.meta(chain_id, address) if isinstance(address, str) and len(address) == 42 else None
            if known is None:
                probe_at = head if to_block is None else min(to_block, head)
                meta = await probe_pool(rpc, chain_id, address, probe_at, from_block)
                if from_block > 0:
                    meta = PoolMeta(**{**_fields(meta), "snapshot": await _snapshot(rpc_url, meta, from_block - 1)})
            else:
                if from_block < known.from_block:
                    raise CatalogError(
                        f"pool={known.address}: catalog starts at block {known.from_block}; "
                        f"--from {from_block} would prepend (ingest into a new catalog)"
                    )
                if from_block > known.next_block:
                    raise CatalogError(
                        f"pool={known.address}: catalog ends at block {known.next_block - 1}; "
                        f"--from {from_block} would leave a gap"
                    )
                cat.clean(chain_id, known.address)
                meta = known
            metas[meta.address.lower()] = meta
        for meta in metas.values():
            if cat.meta(meta.chain_id, meta.address) is None:
                cat.write_meta(meta)
        job = _Job(rpc, cat, chain_id, metas, span, min_span, max_span, header_batch, on_reorg=on_reorg)
        start_cursor = min(m.next_block for m in metas.values())
        rate_t0, rate_b0 = time.monotonic(), 0
        while True:
            safe = head - confirmations
            target = safe if to_block is None else min(to_block, safe)
            cursor = min(m.next_block for m in job.metas.values())
            # the stored tip must still be on the chain (a reorg to a chain of the same or smaller height
            # never shows up as a broken parent link)
            tip_meta = max(job.metas.values(), key=lambda m: m.next_block)
            if tip_meta.next_block > tip_meta.from_block and tip_meta.tip_hash:
                tip_n = tip_meta.next_block - 1
                if tip_n > head or await job.chain_hash(tip_n) != tip_meta.tip_hash:
                    await job.handle_reorg()
                    continue
            moved = 0
            streak = _GROW_AFTER - 1
            while cursor <= target:
                later = [m.next_block for m in job.metas.values() if m.next_block > cursor]
                hi = min(cursor + job.span - 1, target, *(n - 1 for n in later))
                try:
                    advanced = await job.chunk(cursor, hi, on_commit)
                except RangeTooLarge as exc:
                    if job.span <= job.min_span:
                        raise ChainError(
                            f"rpc={rpc_url!r}: the node refuses even {job.span}-block log queries ({exc})"
                        ) from None
                    job.span = max(job.min_span, job.span // 2)
                    streak = 0
                    continue
                except _ChainMoved:
                    moved += 1
                    if moved > 5:
                        await job.handle_reorg()
                        moved = 0
                    await asyncio.sleep(min(2.0, 0.1 * 2**moved))
                    continue
                if advanced:
                    streak += 1
                    if streak >= _GROW_AFTER:  # a refused range is retried larger only after a run of successes
                        job.span, streak = min(job.max_span, job.span * 2), 0
                cursor = min(m.next_block for m in job.metas.values())
                if progress is not None:
                    elapsed = max(time.monotonic() - rate_t0, 1e-9)
                    done = max(0, cursor - start_cursor)
                    progress(
                        IngestProgress(
                            cursor=cursor,
                            target=target,
                            blocks_done=done,
                            blocks_total=max(0, target + 1 - start_cursor),
                            events=job.events,
                            blocks_per_s=(job.blocks - rate_b0) / elapsed,
                            span=job.span,
                            reorgs=job.reorgs,
                        )
                    )
                if job.chunks >= compact_every:
                    for meta in job.metas.values():
                        cat.compact(meta.chain_id, meta.address)
                    job.chunks = 0
                if stop is not None and stop.is_set():
                    break
            if not follow or (stop is not None and stop.is_set()):
                break
            if to_block is not None and cursor > to_block:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait() if stop is not None else asyncio.sleep(poll_s), timeout=poll_s)
            if stop is not None and stop.is_set():
                break
            head = _hex(await rpc.call("eth_blockNumber", []))
        for meta in job.metas.values():
            cat.compact(meta.chain_id, meta.address)
        return IngestResult(
            chain_id=chain_id,
            pools=list(job.metas.values()),
            events=job.events,
            blocks=job.blocks,
            reorgs=job.reorgs,
            seconds=time.monotonic() - started,
            head=head,
        )


def _fields(meta: PoolMeta) -> dict[str, Any]:
    return {name: getattr(meta, name) for name in PoolMeta.__dataclass_fields__}


def ingest_sync(*args: Any, **kwargs: Any) -> IngestResult:
    """:func:`ingest` for blocking callers."""
    try:
        return asyncio.run(ingest(*args, **kwargs))
    except RpcUnavailableError:
        raise
