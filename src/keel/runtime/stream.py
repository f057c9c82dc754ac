"""Pool events over NATS JetStream: the ingester publishes, engines consume, each scaling on its own.

``keel ingest --follow --publish nats://HOST:PORT`` publishes every committed (confirmed) event row to
the JetStream stream ``KEEL_EVENTS`` (``--stream``) on subject ``STREAM.<chain_id>.<pool>``, with the
message id ``<chain_id>:<pool>:<block_hash>:<log_index>`` in the ``Nats-Msg-Id`` header, so a
re-publication (an ingest restarted over the same blocks) is dropped by the server's de-duplication
while a reorged block (a new hash) is a new message.  The payload is JSON: the pool's description
(kind, fee, token symbols and decimals) and the catalog row (big ints as decimal strings).

An engine takes its market from the stream with ``--market nats://HOST:PORT/STREAM``
(:func:`stream_market`): it reads the pool's messages from the start of the stream until one stamped at
or after the window's end arrives (the ingester has passed it), writes them into its own catalog and
runs ``market.kind = "catalog"`` on that, so the engine never touches the node or the ingester's files.
Without ``--market`` nothing here is used: the in-process path needs no server.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from keel.errors import KeelError, ValidationError
from keel.marketdata.catalog import PoolMeta

__all__ = ["EventPublisher", "StreamError", "catalog_from_stream", "consume_rows", "parse_nats_url", "stream_market"]

DEFAULT_STREAM = "KEEL_EVENTS"


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


def _subject(stream: str, chain_id: int, pool: str) -> str:
    return f"{stream}.{int(chain_id)}.{pool.lower()}"


async def _connect(server: str) -> Any:
    import nats
    from nats.errors import NoServersError

    try:
        return await nats.connect(server, connect_timeout=2, max_reconnect_attempts=1, allow_reconnect=False)
    except (NoServersError, OSError, TimeoutError) as exc:
        raise StreamError(f"nats={server!r}: does not answer ({type(exc).__name__})") from None


@dataclass
class EventPublisher:
    """Publishes committed catalog rows to one JetStream stream (created if missing)."""

    nc: Any
    js: Any
    stream: str
    published: int = 0
    duplicates: int = 0

    @classmethod
    async def connect(cls, url: str, stream: str = DEFAULT_STREAM) -> EventPublisher:
        server, named = parse_nats_url(url)
        stream = named or stream
        nc = await _connect(server)
        js = nc.jetstream()
        from nats.js.errors import NotFoundError

        try:
            await js.stream_info(stream)
        except NotFoundError:
            await js.add_stream(name=stream, subjects=[f"{stream}.>"])
        return cls(nc, js, stream)

    async def publish_rows(self, chain_id: int, meta: PoolMeta, rows: list[dict[str, Any]]) -> None:
        """Publish each row (waiting for the server's ack); ``Nats-Msg-Id`` makes a re-send a no-op."""
        head = {
            "chain_id": chain_id,
            "pool": meta.address,
            "kind": meta.kind,
            "fee": meta.fee,
            "tick_spacing": meta.tick_spacing,
            "token0": meta.token0,
            "token1": meta.token1,
            "token0_symbol": meta.token0_symbol,
            "token1_symbol": meta.token1_symbol,
            "token0_decimals": meta.token0_decimals,
            "token1_decimals": meta.token1_decimals,
        }
        subject = _subject(self.stream, chain_id, meta.address)
        for row in rows:
            msg_id = f"{chain_id}:{meta.address.lower()}:{row['block_hash']}:{row['log_index']}"
            payload = json.dumps({**head, "row": row}, separators=(",", ":"), sort_keys=True).encode()
            ack = await self.js.publish(subject, payload, headers={"Nats-Msg-Id": msg_id})
            if getattr(ack, "duplicate", False):
                self.duplicates += 1
            else:
                self.published += 1

    async def close(self) -> None:
        await self.nc.drain()


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

    Stops at the first row stamped at or after ``until_ts_ns`` (not included), or when nothing arrives for
    ``idle_timeout_s`` (then with ``until_ts_ns`` given it raises: the window was not covered).
    """
    server, named = parse_nats_url(url)
    stream = named or stream
    nc = await _connect(server)
    try:
        js = nc.jetstream()
        from nats.errors import TimeoutError as NatsTimeout
        from nats.js.errors import NotFoundError

        try:
            await js.stream_info(stream)
        except NotFoundError:
            raise StreamError(f"nats={server!r}: no JetStream stream {stream!r}") from None
        sub = await js.subscribe(_subject(stream, chain_id, pool), ordered_consumer=True)
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
    from keel.marketdata.catalog import EVENT_SCHEMA, Catalog

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


def stream_market(config: Any, url: str, folder: str | Path) -> Any:
    """``--market nats://...``: a copy of the scenario config whose ``market.kind = "catalog"`` window is read
    from the stream (into a catalog at ``folder``) instead of the local catalog."""
    from keel.errors import ConfigError
    from keel.sim.config import parse_utc

    m = config.market
    if m.kind != "catalog" or not m.pool:
        raise ConfigError("market.kind", m.kind, "--market nats://... needs market.kind = 'catalog' with a pool")
    end_ns = parse_utc(m.start) + int(m.hours * 3600 * 1_000_000_000)
    catalog_from_stream(url, m.chain_id, m.pool, end_ns, folder)
    market = m.model_copy(update={"catalog": str(Path(folder).resolve())})
    return config.model_copy(update={"market": market})
