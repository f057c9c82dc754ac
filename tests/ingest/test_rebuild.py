"""Rebuild: >= 5,000 swaps, mints and burns on the testbed, ingested; the catalog's rebuilt pool state equals
the chain's (keel.chain.read_pool_state) at 10 random blocks, for all three pools; every log is in the
catalog exactly once, with its block's timestamp and base fee."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from keel.chain import ChainClient, pool_state_diff, read_pool_state
from keel.chain.ingest import ingest
from keel.marketdata.catalog import Catalog
from tests.ingest.conftest import REBUILD_EVENTS, Chain, run

pytestmark = [pytest.mark.hardhat, pytest.mark.slow]


async def _chain_states(url: str, pools: list[tuple[str, str]], blocks: list[int]) -> dict[tuple[str, int], object]:
    client = await ChainClient.connect(url)
    try:
        return {
            (address, b): await read_pool_state(client, kind, address, block=b)
            for address, kind in pools
            for b in blocks
        }
    finally:
        await client.close()


async def _all_logs(url: str, pools: list[str], head: int) -> list[dict[str, object]]:
    client = await ChainClient.connect(url)
    try:
        return list(await client.rpc("eth_getLogs", [{"address": pools, "fromBlock": "0x0", "toBlock": hex(head)}]))
    finally:
        await client.close()


def test_catalog_rebuilds_chain_state_at_random_blocks(chain5k: Chain, tmp_path: Path) -> None:
    assert chain5k.stats is not None and chain5k.stats.events >= REBUILD_EVENTS
    cat = Catalog(tmp_path / "catalog")
    result = run(ingest(chain5k.url, chain5k.pools, 0, chain5k.head, cat, confirmations=0, span=16))
    assert result.blocks == chain5k.head + 1 and result.reorgs == 0

    counts: dict[str, int] = {}
    for meta in cat.pools():
        assert (meta.from_block, meta.next_block) == (0, chain5k.head + 1)
        for name, n in cat.events(meta.chain_id, meta.address, by="block")["event"].value_counts().rows():
            counts[name] = counts.get(name, 0) + n
    assert counts["Swap"] + counts["Mint"] + counts["Burn"] >= REBUILD_EVENTS

    # every Uniswap log of the three pools is there exactly once (v2 LP-token Transfer/Approval are not pool events)
    logs = [
        lg
        for lg in run(_all_logs(chain5k.url, chain5k.pools, chain5k.head))
        if str(lg["topics"][0])[2:]
        not in {
            "ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef",
            "8c5be1e5ebec7d5bd14f71427d1e84f3dd0314c0f7b2291e5b200ac8c7c3b925",
        }
    ]
    stored = [
        (m.address.lower(), row)
        for m in cat.pools()
        for row in cat.events(m.chain_id, m.address, by="block").select("block_number", "log_index", "tx_hash").rows()
    ]
    assert len(stored) == len(set(stored)) == len(logs)
    assert {(str(lg["address"]).lower(), int(lg["blockNumber"], 16), int(lg["logIndex"], 16)) for lg in logs} == {
        (a, r[0], r[1]) for a, r in stored
    }

    # block timestamps and base fees are the headers'
    meta = cat.pools()[0]
    blocks = cat.blocks(meta.chain_id, meta.address)
    assert blocks.height == chain5k.head + 1 and blocks["base_fee_per_gas"].null_count() == 0

    first_gen_block = chain5k.stats.blocks[0]
    rng = random.Random(2024)
    picks = sorted(rng.sample(range(first_gen_block, chain5k.head + 1), 10))
    pools = [(p.address, p.kind) for p in chain5k.testbed.pools]
    chain_states = run(_chain_states(chain5k.url, pools, picks))
    for address, _ in pools:
        for b in picks:
            mine = cat.pool_state(31337, address, b)
            assert pool_state_diff(mine, chain_states[(address, b)], ignore=()) == {}, (address, b)
    # and in reverse order (no reliance on the forward replay cache)
    fresh = Catalog(cat.path)
    for b in reversed(picks[-3:]):
        address = pools[0][0]
        assert pool_state_diff(fresh.pool_state(31337, address, b), chain_states[(address, b)], ignore=()) == {}


def test_ingest_from_mid_history_starts_from_a_snapshot(chain5k: Chain, tmp_path: Path) -> None:
    """A pool created before --from: its state at from-1 is read from the chain, later events replayed on it
    (burns of positions opened before the snapshot included)."""
    assert chain5k.stats is not None
    start = chain5k.stats.blocks[len(chain5k.stats.blocks) // 3]
    cat = Catalog(tmp_path / "catalog")
    run(ingest(chain5k.url, chain5k.pools, start, chain5k.head, cat, confirmations=0))
    picks = [start - 1, start + 2, chain5k.head]
    pools = [(p.address, p.kind) for p in chain5k.testbed.pools]
    chain_states = run(_chain_states(chain5k.url, pools, picks))
    for address, _ in pools:
        meta = cat.meta(31337, address)
        assert meta is not None and meta.snapshot is not None and meta.from_block == start
        for b in picks[1:]:
            got = cat.pool_state(31337, address, b)
            assert pool_state_diff(got, chain_states[(address, b)], ignore=("ts_ns",)) == {}, (address, b)


def test_confirmation_depth(chain5k: Chain, tmp_path: Path) -> None:
    cat = Catalog(tmp_path / "catalog")
    result = run(ingest(chain5k.url, chain5k.pools[:1], 0, None, cat, confirmations=5))
    assert [m.next_block for m in cat.pools()] == [chain5k.head - 5 + 1]
    assert result.head == chain5k.head
