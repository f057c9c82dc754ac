"""Live-chain path on a local Hardhat node: Keel against plain web3.py and the real contracts, same run.

1. Quote: keel.venues Pool synced from the chain (exact, in process) vs QuoterV2 ``eth_call`` over JSON-RPC.
2. Pool sync: ``read_v3_state`` with the Mint-log tick scan vs the exhaustive bitmap scan.
3. Send + confirm one transfer: Keel ``TransactionManager.send`` (preflight at pending, local EIP-1559 signing,
   fsync'ed journal, receipt with a canonical-block check) vs web3.py ``send_transaction`` from an unlocked
   Hardhat account + ``wait_for_transaction_receipt`` (no signing, journal or preflight).

Medians; the machine is shared (2 cores, other engineers' jobs): read the ratios.
"""

from __future__ import annotations

import asyncio
import json
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import web3

from keel.chain import (
    ChainClient,
    DevSigner,
    GasPolicy,
    HardhatNode,
    TransactionManager,
    TxJournal,
    TxRequest,
    deploy_testbed,
    read_pool_state,
    read_token,
    to_venue,
)
from keel.chain.signer import HARDHAT_DEV_KEYS

RECIPIENT = "0x000000000000000000000000000000000000dEaD"


def _median_us(samples: list[float]) -> float:
    return statistics.median(samples) * 1e6


async def main() -> dict[str, object]:
    tmp = Path(tempfile.mkdtemp())
    node = HardhatNode.start(log_dir=tmp)
    out: dict[str, object] = {}
    try:
        client = await ChainClient.connect(node.url, expected_chain_id=31337)
        deployer = await TransactionManager.open(client, DevSigner(HARDHAT_DEV_KEYS[0]), TxJournal(None), GasPolicy())
        tb = await deploy_testbed(client, deployer, rpc_url=node.url)
        info = tb.pool("uniswap_v3", 500)
        weth, usdc = await read_token(client, tb.weth), await read_token(client, tb.usdc)
        t0, t1 = (weth, usdc) if info.token0 == tb.weth else (usdc, weth)

        # 2. pool sync
        sync_events, sync_bitmap = [], []
        for _ in range(5):
            t = time.perf_counter()
            state = await read_pool_state(client, "uniswap_v3", info.address)
            sync_events.append(time.perf_counter() - t)
            t = time.perf_counter()
            full = await read_pool_state(client, "uniswap_v3", info.address, tick_scan="bitmap")
            sync_bitmap.append(time.perf_counter() - t)
            assert full == state
        out["sync_events_ms"] = statistics.median(sync_events) * 1e3
        out["sync_bitmap_ms"] = statistics.median(sync_bitmap) * 1e3

        # 1. quotes
        pool = to_venue(state, t0, t1)
        quoter = client.contract("QuoterV2", tb.quoter_v2)
        sizes = [10**16 * (i + 1) * 37 for i in range(100)]
        keel_q, chain_q = [], []
        for amount in sizes:
            t = time.perf_counter()
            mine = pool.quote_exact_in(weth, amount).amount_out
            keel_q.append(time.perf_counter() - t)
            fn = quoter.functions.quoteExactInputSingle((tb.weth, tb.usdc, amount, 500, 0))
            t = time.perf_counter()
            theirs = int((await client.call("quote", fn))[0])
            chain_q.append(time.perf_counter() - t)
            assert mine == theirs
        out["quote_keel_us"] = _median_us(keel_q)
        out["quote_quoterv2_rpc_us"] = _median_us(chain_q)

        # 3. send + confirm
        journal = TxJournal(tmp / "journal.jsonl")
        tm = await TransactionManager.open(client, DevSigner(HARDHAT_DEV_KEYS[1]), journal, GasPolicy())
        plain = web3.AsyncWeb3(web3.AsyncHTTPProvider(node.url))
        sender = (await plain.eth.accounts)[2]
        keel_tx, web3_tx = [], []
        for i in range(40):
            t = time.perf_counter()
            await tm.send(f"bench-{i}", TxRequest(to=RECIPIENT, value=i + 1))
            keel_tx.append(time.perf_counter() - t)
            t = time.perf_counter()
            h = await plain.eth.send_transaction({"from": sender, "to": RECIPIENT, "value": i + 1})
            await plain.eth.wait_for_transaction_receipt(h, poll_latency=0.01)
            web3_tx.append(time.perf_counter() - t)
        out["send_keel_ms"] = statistics.median(keel_tx) * 1e3
        out["send_web3_unlocked_ms"] = statistics.median(web3_tx) * 1e3
        journal.close()
        await plain.provider.disconnect()
        await client.close()
    finally:
        node.stop()
    out["python"] = platform.python_version()
    out["web3"] = web3.__version__
    return out


if __name__ == "__main__":
    r = asyncio.run(main())
    print(json.dumps(r, indent=2))
    rows = [
        ("exact v3 quote (0.05% pool)", r["quote_keel_us"], r["quote_quoterv2_rpc_us"], "us"),
        ("pool sync (ticks)", r["sync_events_ms"], r["sync_bitmap_ms"], "ms"),
        ("send + confirm a transfer", r["send_keel_ms"], r["send_web3_unlocked_ms"], "ms"),
    ]
    print(f"{'case':<32}{'Keel':>12}{'peer':>12}{'peer/Keel':>11}")
    for name, k, p, unit in rows:
        print(f"{name:<32}{k:>10.1f}{unit}{p:>10.1f}{unit}{p / k:>10.2f}x")
    sys.exit(0)
