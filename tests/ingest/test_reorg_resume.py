"""Reorg (evm_snapshot/evm_revert plus new blocks) is detected and the catalog then equals the new chain;
an ingester killed mid-range and restarted leaves no gap and no duplicate."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from keel.chain import ChainClient, pool_state_diff, read_pool_state
from keel.chain.ingest import ingest
from keel.marketdata.catalog import Catalog
from tests.ingest.chaingen import generate
from tests.ingest.conftest import ROOT, Chain, rpc, run

pytestmark = [pytest.mark.hardhat, pytest.mark.slow]

_NOT_POOL_EVENTS = {
    "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef",  # v2 LP Transfer
    "0x8c5be1e5ebec7d5bd14f71427d1e84f3dd0314c0f7b2291e5b200ac8c7c3b925",  # v2 LP Approval
}


def chain_log_keys(url: str, pools: list[str], head: int) -> set[tuple[str, int, int, str]]:
    logs = run(rpc(url, "eth_getLogs", [{"address": pools, "fromBlock": "0x0", "toBlock": hex(head)}]))
    return {
        (str(lg["address"]).lower(), int(lg["blockNumber"], 16), int(lg["logIndex"], 16), str(lg["blockHash"]))
        for lg in logs
        if lg["topics"][0] not in _NOT_POOL_EVENTS
    }


def catalog_log_keys(cat: Catalog) -> list[tuple[str, int, int, str]]:
    out = []
    for m in cat.pools():
        df = cat.events(m.chain_id, m.address, by="block")
        out += [(m.address.lower(), *row) for row in df.select("block_number", "log_index", "block_hash").rows()]
    return out


async def _states(url: str, chain: Chain, block: int) -> dict[str, object]:
    client = await ChainClient.connect(url)
    try:
        return {p.address: await read_pool_state(client, p.kind, p.address, block=block) for p in chain.testbed.pools}
    finally:
        await client.close()


def test_reorg_is_detected_and_rewritten(fresh_chain: Chain, tmp_path: Path) -> None:
    url = fresh_chain.url
    cat = Catalog(tmp_path / "catalog")
    run(generate(url, fresh_chain.testbed, 150, seed=1))
    snapshot = run(rpc(url, "evm_snapshot"))
    fork_at = int(run(rpc(url, "eth_blockNumber")), 16) + 1
    run(generate(url, fresh_chain.testbed, 300, seed=2))  # the branch that will be orphaned
    first = run(ingest(url, fresh_chain.pools, 0, None, cat, confirmations=0))
    old_head = int(run(rpc(url, "eth_blockNumber")), 16)
    assert first.reorgs == 0 and min(m.next_block for m in cat.pools()) == old_head + 1
    old_hash = cat.stored_hash(31337, fresh_chain.pools[0], old_head)

    assert run(rpc(url, "evm_revert", [snapshot])) is True
    run(generate(url, fresh_chain.testbed, 400, seed=3))  # the new branch: other swaps, more blocks
    new_head = int(run(rpc(url, "eth_blockNumber")), 16)
    assert new_head > old_head
    second = run(ingest(url, fresh_chain.pools, 0, None, cat, confirmations=0))
    assert second.reorgs == 1
    assert cat.stored_hash(31337, fresh_chain.pools[0], old_head) != old_hash

    stored = catalog_log_keys(cat)
    assert len(stored) == len(set(stored))
    assert set(stored) == chain_log_keys(url, fresh_chain.pools, new_head)
    for m in cat.pools():
        blocks = cat.blocks(m.chain_id, m.address)
        assert blocks["block_number"].to_list() == list(range(new_head + 1))
        assert blocks["parent_hash"].to_list()[1:] == blocks["block_hash"].to_list()[:-1]
    chain_states = run(_states(url, fresh_chain, new_head))
    mid = run(_states(url, fresh_chain, fork_at + 1))
    for p in fresh_chain.testbed.pools:
        assert pool_state_diff(cat.pool_state(31337, p.address, new_head), chain_states[p.address], ignore=()) == {}
        assert pool_state_diff(cat.pool_state(31337, p.address, fork_at + 1), mid[p.address], ignore=()) == {}


def test_reorg_to_a_chain_of_the_same_height(fresh_chain: Chain, tmp_path: Path) -> None:
    url = fresh_chain.url
    cat = Catalog(tmp_path / "catalog")
    snapshot = run(rpc(url, "evm_snapshot"))
    run(generate(url, fresh_chain.testbed, 60, seed=4))
    head = int(run(rpc(url, "eth_blockNumber")), 16)
    run(ingest(url, fresh_chain.pools, 0, None, cat, confirmations=0))
    assert run(rpc(url, "evm_revert", [snapshot])) is True
    while int(run(rpc(url, "eth_blockNumber")), 16) < head:
        run(rpc(url, "evm_mine"))  # empty blocks up to the old height: no broken parent link to see
    again = run(ingest(url, fresh_chain.pools, 0, None, cat, confirmations=0))
    assert again.reorgs == 1
    assert set(catalog_log_keys(cat)) == chain_log_keys(url, fresh_chain.pools, head)


def _ingest_cmd(url: str, pools: list[str], catalog: Path, *extra: str) -> list[str]:
    return [
        sys.executable, "-m", "keel", "ingest", "--rpc", url, "--pool", ",".join(pools), "--from", "0",
        "--to", "latest", "--catalog", str(catalog), "--confirmations", "0", "--quiet", *extra,
    ]  # fmt: skip


def test_killed_ingest_resumes_without_gap_or_duplicate(chain5k: Chain, tmp_path: Path) -> None:
    catalog = tmp_path / "catalog"
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    cmd = _ingest_cmd(chain5k.url, chain5k.pools, catalog, "--span", "1", "--max-span", "1")
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    meta_file = catalog / "chain=31337" / f"pool={chain5k.pools[0].lower()}" / "pool.json"
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:  # kill once a third of the range is in
            try:
                if json.loads(meta_file.read_text())["next_block"] > chain5k.head // 3:
                    break
            except (OSError, ValueError):
                pass
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(30)
    cat = Catalog(catalog)
    killed_at = [m.next_block for m in cat.pools()]
    assert all(0 < n <= chain5k.head for n in killed_at), killed_at
    # what a reader sees right after the kill: only whole, committed blocks
    partial = catalog_log_keys(cat)
    assert len(partial) == len(set(partial))
    assert all(b < max(killed_at) for _, b, _, _ in partial)

    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    cat = Catalog(catalog)
    stored = catalog_log_keys(cat)
    assert len(stored) == len(set(stored))
    assert set(stored) == chain_log_keys(chain5k.url, chain5k.pools, chain5k.head)
    for m in cat.pools():
        assert (m.from_block, m.next_block) == (0, chain5k.head + 1)
        assert cat.blocks(m.chain_id, m.address)["block_number"].to_list() == list(range(chain5k.head + 1))
    assert not list(catalog.rglob("*.tmp"))
