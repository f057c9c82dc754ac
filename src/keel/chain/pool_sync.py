"""Pool state from the chain into :class:`keel.domain.PoolState` (and from there into keel.venues pools).

Everything is read at ONE pinned block so the snapshot is consistent:

* Uniswap v3: ``slot0`` (sqrtPriceX96, tick), ``liquidity``, ``feeGrowthGlobal{0,1}X128``,
  ``fee``, ``tickSpacing``, the tick bitmap (every word in the usable range) and, for each
  initialized tick, ``ticks(i)`` (liquidity gross/net and fee growth outside).  With a
  ``TickLens`` address, populated ticks per non-empty word come from one lens call each.
* Uniswap v2: ``getReserves``.

:class:`PoolSync` keeps a snapshot current from the pool's events (``Swap``, ``Mint``,
``Burn``; v2 ``Sync``): a block range with no event leaves the state as is, a range with only
swaps updates price/tick/liquidity from the last ``Swap`` event and re-reads the fee growth,
and a ``Mint``/``Burn`` triggers a full re-read.  :func:`pool_state_diff` compares two
snapshots field by field (used to check the synced state equal to the chain's).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, fields, replace
from typing import Any

from eth_utils.crypto import keccak

from keel.chain.client import ChainClient, checksum
from keel.domain import PoolState, TickState, Token
from keel.errors import ValidationError
from keel.venues.uniswap_v2 import Pair
from keel.venues.uniswap_v3 import Pool

__all__ = [
    "PoolSync",
    "pool_state_diff",
    "read_pool_state",
    "read_token",
    "read_v2_state",
    "read_v3_state",
    "to_venue",
]

_MIN_TICK = -887272
_MAX_TICK = 887272
_CONCURRENCY = 32


def _topic(signature: str) -> str:
    return "0x" + keccak(text=signature).hex()


_SWAP_V3 = _topic("Swap(address,address,int256,int256,uint160,uint128,int24)")
_MINT_V3 = _topic("Mint(address,address,int24,int24,uint128,uint256,uint256)")
_BURN_V3 = _topic("Burn(address,int24,int24,uint128,uint256,uint256)")
_SYNC_V2 = _topic("Sync(uint112,uint112)")


async def _gather_limited(coros: list[Any]) -> list[Any]:
    sem = asyncio.Semaphore(_CONCURRENCY)

    async def run(c: Any) -> Any:
        async with sem:
            return await c

    return list(await asyncio.gather(*(run(c) for c in coros)))


async def _block_ts_ns(client: ChainClient, block: int) -> int:
    b = await client.get_block(block)
    return int(b["timestamp"]) * 1_000_000_000


async def _minted_words(client: ChainClient, pool: str, spacing: int, from_block: int, to_block: int) -> list[int]:
    """Bitmap words holding a tick some ``Mint`` ever touched: a tick is only initialized by a mint."""
    logs = await client.request(
        "eth_getLogs",
        lambda: client.w3.eth.get_logs(
            {"address": checksum("pool", pool), "fromBlock": from_block, "toBlock": to_block, "topics": [_MINT_V3]}
        ),
    )
    words: set[int] = set()
    for log in logs:
        for topic in log["topics"][2:4]:
            tick = int.from_bytes(bytes(topic), "big", signed=True)
            words.add((tick // spacing) >> 8)
    return sorted(words)


async def read_v3_state(
    client: ChainClient,
    pool: str,
    *,
    block: int | None = None,
    tick_lens: str | None = None,
    tick_scan: str = "events",
    from_block: int = 0,
) -> PoolState:
    """Snapshot of the v3 pool at ``pool`` at ``block`` (the head if None).

    ``tick_scan``: "events" reads the bitmap words of every tick a ``Mint`` log (from ``from_block``,
    at or before the pool's creation) ever named, which finds every initialized tick because only a
    mint initializes one; "bitmap" reads every word of the usable tick range (slow, no log access).
    """
    if tick_scan not in ("events", "bitmap"):
        raise ValidationError("tick_scan", tick_scan, "must be 'events' or 'bitmap'")
    pool = checksum("pool", pool)
    n = await client.block_number() if block is None else block
    c = client.contract("UniswapV3Pool", pool)
    f = c.functions
    slot0, liquidity, g0, g1, fee, spacing, t0, t1 = await asyncio.gather(
        client.call("slot0", f.slot0(), n),
        client.call("liquidity", f.liquidity(), n),
        client.call("feeGrowthGlobal0X128", f.feeGrowthGlobal0X128(), n),
        client.call("feeGrowthGlobal1X128", f.feeGrowthGlobal1X128(), n),
        client.call("fee", f.fee(), n),
        client.call("tickSpacing", f.tickSpacing(), n),
        client.call("token0", f.token0(), n),
        client.call("token1", f.token1(), n),
    )
    spacing = int(spacing)
    if tick_scan == "bitmap":
        words = list(range((_MIN_TICK // spacing) >> 8, ((_MAX_TICK // spacing) >> 8) + 1))
    else:
        words = await _minted_words(client, pool, spacing, from_block, n)
    bitmaps = await _gather_limited([client.call("tickBitmap", f.tickBitmap(w), n) for w in words])
    indices: list[int] = []
    if tick_lens is not None:
        lens = client.contract("TickLens", tick_lens)
        busy = [w for w, bits in zip(words, bitmaps, strict=True) if int(bits)]
        populated = await _gather_limited(
            [client.call("getPopulatedTicksInWord", lens.functions.getPopulatedTicksInWord(pool, w), n) for w in busy]
        )
        for rows in populated:
            indices.extend(int(r[0]) for r in rows)
    else:
        for w, bits in zip(words, bitmaps, strict=True):
            bits = int(bits)
            while bits:
                low = bits & -bits
                indices.append(((w << 8) + low.bit_length() - 1) * spacing)
                bits ^= low
    indices.sort()
    infos = await _gather_limited([client.call("ticks", f.ticks(i), n) for i in indices])
    ticks = tuple(
        TickState(
            index=i,
            liquidity_gross=int(info[0]),
            liquidity_net=int(info[1]),
            fee_growth_outside0_x128=int(info[2]),
            fee_growth_outside1_x128=int(info[3]),
        )
        for i, info in zip(indices, infos, strict=True)
        if bool(info[7])
    )
    return PoolState(
        kind="uniswap_v3",
        token0=checksum("token0", t0),
        token1=checksum("token1", t1),
        fee=int(fee),
        block_number=n,
        ts_ns=await _block_ts_ns(client, n),
        address=pool,
        tick_spacing=spacing,
        sqrt_price_x96=int(slot0[0]),
        tick=int(slot0[1]),
        liquidity=int(liquidity),
        fee_growth_global0_x128=int(g0),
        fee_growth_global1_x128=int(g1),
        ticks=ticks,
    )


async def read_v2_state(client: ChainClient, pair: str, *, block: int | None = None) -> PoolState:
    """Snapshot of the v2 pair at ``pair`` (fee 3000 pips: the v2 0.3%)."""
    pair = checksum("pair", pair)
    n = await client.block_number() if block is None else block
    c = client.contract("UniswapV2Pair", pair)
    f = c.functions
    reserves, t0, t1 = await asyncio.gather(
        client.call("getReserves", f.getReserves(), n),
        client.call("token0", f.token0(), n),
        client.call("token1", f.token1(), n),
    )
    return PoolState(
        kind="uniswap_v2",
        token0=checksum("token0", t0),
        token1=checksum("token1", t1),
        fee=3000,
        block_number=n,
        ts_ns=await _block_ts_ns(client, n),
        address=pair,
        reserve0=int(reserves[0]),
        reserve1=int(reserves[1]),
    )


async def read_pool_state(
    client: ChainClient,
    kind: str,
    address: str,
    *,
    block: int | None = None,
    tick_lens: str | None = None,
    tick_scan: str = "events",
) -> PoolState:
    """:func:`read_v3_state` or :func:`read_v2_state` by ``kind`` ('uniswap_v3' / 'uniswap_v2')."""
    if kind == "uniswap_v3":
        return await read_v3_state(client, address, block=block, tick_lens=tick_lens, tick_scan=tick_scan)
    if kind == "uniswap_v2":
        return await read_v2_state(client, address, block=block)
    raise ValidationError("kind", kind, "must be 'uniswap_v2' or 'uniswap_v3'")


async def read_token(client: ChainClient, address: str) -> Token:
    """The ERC20 at ``address`` as a :class:`Token` (symbol, decimals, chain id, address)."""
    c = client.contract("ERC20", address).functions
    symbol, decimals = await asyncio.gather(client.call("symbol", c.symbol()), client.call("decimals", c.decimals()))
    return Token(str(symbol), int(decimals), chain_id=client.chain_id, address=checksum("token", address))


def to_venue(state: PoolState, token0: Token, token1: Token) -> Pool | Pair:
    """A keel.venues pool (v3 :class:`~keel.venues.uniswap_v3.Pool` or v2 :class:`~keel.venues.uniswap_v2.Pair`)
    holding ``state`` exactly, named ``kind:address``."""
    if token0.address != state.token0 or token1.address != state.token1:
        raise ValidationError("token0/token1", (token0.address, token1.address), f"do not match pool {state.address}")
    venue: Pool | Pair
    if state.kind == "uniswap_v3":
        venue = Pool.from_state(state, token0=token0, token1=token1, block_timestamp=state.ts_ns // 1_000_000_000)
    else:
        venue = Pair.from_state(state, token0=token0, token1=token1)
    venue.name = f"{state.kind}:{state.address}"
    return venue


def pool_state_diff(
    a: PoolState, b: PoolState, *, ignore: tuple[str, ...] = ("block_number", "ts_ns")
) -> dict[str, tuple[Any, Any]]:
    """Fields where two snapshots differ (``{}`` when equal), ticks compared as whole tuples."""
    out: dict[str, tuple[Any, Any]] = {}
    for fld in fields(PoolState):
        if fld.name in ignore:
            continue
        va, vb = getattr(a, fld.name), getattr(b, fld.name)
        if va != vb:
            out[fld.name] = (va, vb)
    return out


@dataclass(slots=True)
class PoolSync:
    """Keeps one pool's :class:`PoolState` current from its events; :meth:`refresh` to advance.

    ``from_block``: where the ``Mint``-log tick scan starts (the pool's creation block on a long chain).
    The hash of the synced block is remembered: if that block leaves the canonical chain (a reorg),
    the next refresh re-reads everything instead of applying events on top of a dead branch.
    """

    client: ChainClient
    kind: str
    address: str
    tick_lens: str | None = None
    from_block: int = 0
    state: PoolState | None = None
    block_hash: str | None = None
    full_reads: int = 0
    event_updates: int = 0

    async def start(self, block: int | None = None) -> PoolState:
        n = await self.client.block_number() if block is None else block
        if self.kind == "uniswap_v3":
            self.state = await read_v3_state(
                self.client, self.address, block=n, tick_lens=self.tick_lens, from_block=self.from_block
            )
        else:
            self.state = await read_pool_state(self.client, self.kind, self.address, block=n)
        self.block_hash = await self.client.block_hash(n)
        self.full_reads += 1
        return self.state

    async def refresh(self, block: int | None = None) -> PoolState:
        """Advance the snapshot to ``block`` (the head if None) from the events in between."""
        if self.state is None:
            return await self.start(block)
        n = await self.client.block_number() if block is None else block
        if n < self.state.block_number:  # the chain went backwards (reorg / revert): re-read everything
            return await self.start(n)
        if await self.client.block_hash(self.state.block_number) != self.block_hash:
            return await self.start(n)  # the synced block was replaced: its events may not exist any more
        if n == self.state.block_number:
            return self.state
        pool = checksum("pool", self.address)
        first = self.state.block_number + 1
        logs = await self.client.request(
            "eth_getLogs",
            lambda: self.client.w3.eth.get_logs({"address": pool, "fromBlock": first, "toBlock": n}),
        )
        topics = ["0x" + bytes(log["topics"][0]).hex() for log in logs]
        ts_ns = await _block_ts_ns(self.client, n)
        self.block_hash = await self.client.block_hash(n)
        if not logs:
            self.state = replace(self.state, block_number=n, ts_ns=ts_ns)
            return self.state
        if self.kind == "uniswap_v2":
            syncs = [log for log, t in zip(logs, topics, strict=True) if t == _SYNC_V2]
            if not syncs:  # LP-token transfers and approvals only: the reserves did not move
                self.state = replace(self.state, block_number=n, ts_ns=ts_ns)
                return self.state
            data = bytes(syncs[-1]["data"])
            self.state = replace(
                self.state,
                block_number=n,
                ts_ns=ts_ns,
                reserve0=int.from_bytes(data[0:32], "big"),
                reserve1=int.from_bytes(data[32:64], "big"),
            )
            self.event_updates += 1
            return self.state
        if any(t in (_MINT_V3, _BURN_V3) for t in topics) or not all(t == _SWAP_V3 for t in topics):
            return await self.start(n)
        seen_ticks = [self.state.tick]
        for log in logs:
            data = bytes(log["data"])
            seen_ticks.append(int.from_bytes(data[128:160], "big", signed=True))
        data = bytes(logs[-1]["data"])
        words = [data[i : i + 32] for i in range(0, len(data), 32)]
        tick = int.from_bytes(words[4], "big", signed=True)
        c = self.client.contract("UniswapV3Pool", self.address).functions
        g0, g1 = await asyncio.gather(
            self.client.call("feeGrowthGlobal0X128", c.feeGrowthGlobal0X128(), n),
            self.client.call("feeGrowthGlobal1X128", c.feeGrowthGlobal1X128(), n),
        )
        # A crossed tick flips its fee growth outside: re-read every initialized tick the swaps passed.
        lo, hi = min(seen_ticks) - self.state.tick_spacing, max(seen_ticks) + self.state.tick_spacing
        crossed = [t.index for t in self.state.ticks if lo <= t.index <= hi]
        infos = await _gather_limited([self.client.call("ticks", c.ticks(i), n) for i in crossed])
        fresh = {
            i: TickState(i, int(info[0]), int(info[1]), int(info[2]), int(info[3]))
            for i, info in zip(crossed, infos, strict=True)
        }
        self.state = replace(
            self.state,
            block_number=n,
            ts_ns=ts_ns,
            sqrt_price_x96=int.from_bytes(words[2], "big"),
            liquidity=int.from_bytes(words[3], "big"),
            tick=tick,
            fee_growth_global0_x128=int(g0),
            fee_growth_global1_x128=int(g1),
            ticks=tuple(fresh.get(t.index, t) for t in self.state.ticks),
        )
        self.event_updates += 1
        return self.state
