"""Pool events over NATS JetStream: the ingester publishes, engines consume, each scaling on its own.

``keel ingest --follow --publish nats://HOST:PORT`` publishes every committed (confirmed) event row to
the JetStream stream ``KEEL_EVENTS`` (``--stream``) on subject ``STREAM.<chain_id>.<pool>``, with the
message id ``<chain_id>:<pool>:<block_hash>:<log_index>`` in the ``Nats-Msg-Id`` header, so a
re-publication (an ingest restarted over the same blocks) is dropped by the server's de-duplication
while a reorged block (a new hash) is a new message.  The payload is JSON: the pool's description
(kind, fee, token symbols and decimals) and the catalog row (big ints as decimal strings).

An engine takes its market from the stream: ``market.catalog = "nats://HOST:PORT/STREAM"`` in the config,
or ``keel simulate CONFIG --market nats://HOST:PORT/STREAM`` (:func:`config_with_market`).  It reads the
pool's messages from the start of the stream until one stamped at or after the window's end arrives (the
ingester has passed it; :func:`keel.marketdata.catalog.consume_rows`), writes them into a catalog of its own
and runs ``market.kind = "catalog"`` on that: the engine never touches the node or the ingester's files.
Without ``--market`` nothing here is used: the in-process path needs no server.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from keel.errors import ValidationError
from keel.marketdata.catalog import PoolMeta, StreamError, catalog_from_stream, consume_rows, parse_nats_url

__all__ = [
    "EventPublisher",
    "StreamError",
    "catalog_from_stream",
    "config_with_market",
    "consume_rows",
    "parse_nats_url",
]

DEFAULT_STREAM = "KEEL_EVENTS"


def _subject(stream: str, chain_id: int, pool: str) -> str:
    return f"{stream}.{int(chain_id)}.{pool.lower()}"


async def _connect(server: str) -> Any:
    from keel.marketdata.catalog import nats_connect

    return await nats_connect(server)


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

    async def publish_reorg(self, chain_id: int, meta: PoolMeta, fork_block: int, orphaned_tip: str) -> None:
        """Tell consumers that the pool's rows from ``fork_block`` on were orphaned by a reorg (they drop them;
        the new chain's rows follow)."""
        subject = _subject(self.stream, chain_id, meta.address)
        msg_id = f"{chain_id}:{meta.address.lower()}:reorg:{fork_block}:{orphaned_tip}"
        payload = json.dumps({"chain_id": chain_id, "pool": meta.address, "reorg": fork_block}).encode()
        await self.js.publish(subject, payload, headers={"Nats-Msg-Id": msg_id})

    async def close(self) -> None:
        await self.nc.drain()


def config_with_market(config_path: str | Path, url: str, folder: str | Path) -> Path:
    """``keel simulate CONFIG --market nats://HOST:PORT/STREAM``: a copy of the TOML at ``folder/<name>`` whose
    ``[market]`` has ``catalog = URL`` (the stream, read by ``market.kind = "catalog"``); returns its path."""
    import re
    import tomllib

    parse_nats_url(url)
    text = Path(config_path).read_text(encoding="utf-8")
    market = tomllib.loads(text).get("market", {})
    if market.get("kind") != "catalog":
        raise ValidationError("--market", url, "needs market.kind = 'catalog' (with pool, start, hours) in the config")
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if re.match(r"^\s*\[market\]\s*(#.*)?$", line))
    end = next((i for i in range(start + 1, len(lines)) if re.match(r"^\s*\[", lines[i])), len(lines))
    body = [line for line in lines[start + 1 : end] if not re.match(r"^\s*catalog\s*=", line)]
    lines[start + 1 : end] = [f"catalog = {json.dumps(url)}", *body]
    out = Path(folder) / Path(config_path).name
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out
