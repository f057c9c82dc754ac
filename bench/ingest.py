"""Ingestion and catalog benchmarks (issue #17).

1. Events per second ingested from a local Hardhat node holding >= 5,000 swaps, mints and burns across
   the testbed's three pools: ``keel.chain.ingest`` (raw JSON-RPC, header batches, Parquet catalog with
   per-pool checkpoints) against a plain web3.py loop (``w3.eth.get_logs`` over the same block ranges,
   ``w3.eth.get_block`` for each block that has logs, the same decoder, the same event rows written to
   one Parquet file per pool).  Runs interleaved, min/median/max.
2. Catalog query time for the shipped USDC/WETH day (6,046 swaps): ``Catalog.events(..., event="Swap")``
   and ``keel.sim.paths.catalog_path`` against reading the demeter CSV (polars ``read_csv`` + filter, and
   ``keel.sim.paths.uniswap_swap_path``, the ``uniswap_swaps`` market's loader).

    .venv/bin/python bench/ingest.py [--events 5000] [--repeats 5]

Raw output: bench/results/ingest-<UTC time>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

DAY = ROOT / "data" / "uniswap_v3_usdc_weth_005_2024-01-05"
STEM = "ethereum-0x88e6a0c2ddd26feeb64f039a2c41296fcb3f5640-2024-01-05"
POOL = "0x88e6a0c2ddd26feeb64f039a2c41296fcb3f5640"


def _stats(xs: list[float]) -> dict[str, float]:
    return {"min": min(xs), "median": statistics.median(xs), "max": max(xs), "n": len(xs)}


def web3_loop(url: str, pools: list[str], kinds: dict[str, str], head: int, span: int, out: Path) -> int:
    """The plain web3.py baseline: get_logs per range, get_block per block with logs, same rows to Parquet."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from web3 import Web3

    from keel.chain.ingest import _V2_TOPICS, _V3_TOPICS, _row
    from keel.marketdata.catalog import EVENT_SCHEMA

    w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 60}))
    topics = list(_V3_TOPICS) + list(_V2_TOPICS)
    rows: dict[str, list[dict[str, Any]]] = {p.lower(): [] for p in pools}
    headers: dict[int, dict[str, Any]] = {}
    for lo in range(0, head + 1, span):
        hi = min(lo + span - 1, head)
        logs = w3.eth.get_logs(
            {
                "address": [Web3.to_checksum_address(p) for p in pools],
                "fromBlock": lo,
                "toBlock": hi,
                "topics": [topics],
            }
        )
        for log in logs:
            n = int(log["blockNumber"])
            if n not in headers:
                b = w3.eth.get_block(n)
                headers[n] = {"timestamp": int(b["timestamp"]), "baseFeePerGas": int(b.get("baseFeePerGas") or 0)}
            raw = {
                "topics": ["0x" + bytes(t).hex() for t in log["topics"]],
                "data": "0x" + bytes(log["data"]).hex(),
                "blockNumber": n,
                "blockHash": "0x" + bytes(log["blockHash"]).hex(),
                "transactionHash": "0x" + bytes(log["transactionHash"]).hex(),
                "transactionIndex": int(log["transactionIndex"]),
                "logIndex": int(log["logIndex"]),
            }
            addr = str(log["address"]).lower()
            rows[addr].append(_row(raw, headers[n], kinds[addr]))
    total = 0
    for addr, pool_rows in rows.items():
        table = pa.Table.from_pylist(pool_rows, schema=EVENT_SCHEMA)
        pq.write_table(table, out / f"{addr}.parquet", compression="zstd")
        total += table.num_rows
    return total


def bench_ingest(n_events: int, repeats: int, work: Path) -> dict[str, Any]:
    from keel.chain import ChainClient, DevSigner, GasPolicy, HardhatNode, TransactionManager, TxJournal, deploy_testbed
    from keel.chain.ingest import ingest
    from keel.chain.signer import HARDHAT_DEV_KEYS
    from tests.ingest.chaingen import generate

    node = HardhatNode.start(log_dir=work / "hardhat")
    try:

        async def deploy() -> Any:
            client = await ChainClient.connect(node.url, expected_chain_id=31337)
            try:
                tm = await TransactionManager.open(client, DevSigner(HARDHAT_DEV_KEYS[0]), TxJournal(None), GasPolicy())
                return await deploy_testbed(client, tm, rpc_url=node.url)
            finally:
                await client.close()

        tb = asyncio.run(deploy())
        t0 = time.perf_counter()
        stats = asyncio.run(generate(node.url, tb, n_events, seed=11))
        gen_s = time.perf_counter() - t0
        pools = [p.address for p in tb.pools]
        kinds = {p.address.lower(): p.kind for p in tb.pools}

        async def head_of() -> int:
            client = await ChainClient.connect(node.url)
            try:
                return await client.block_number()
            finally:
                await client.close()

        head = asyncio.run(head_of())
        keel_s: list[float] = []
        keel_cpu: list[float] = []
        plain_s: list[float] = []
        plain_cpu: list[float] = []
        rows_keel = rows_plain = 0
        for i in range(repeats):  # interleaved: keel, plain, keel, plain, ...
            d = work / f"keel{i}"
            c0, t = time.process_time(), time.perf_counter()
            r = asyncio.run(ingest(node.url, pools, 0, head, d, confirmations=0, span=2000))
            keel_s.append(time.perf_counter() - t)
            keel_cpu.append(time.process_time() - c0)
            rows_keel = r.events
            shutil.rmtree(d)
            d = work / f"plain{i}"
            d.mkdir()
            c0, t = time.process_time(), time.perf_counter()
            rows_plain = web3_loop(node.url, pools, kinds, head, 2000, d)
            plain_s.append(time.perf_counter() - t)
            plain_cpu.append(time.process_time() - c0)
            shutil.rmtree(d)
        return {
            "events_generated": {"swaps": stats.swaps, "mints": stats.mints, "burns": stats.burns, "txs": stats.txs},
            "generate_s": gen_s,
            "blocks": head + 1,
            "rows": {"keel": rows_keel, "web3_loop": rows_plain},
            "keel_ingest_s": _stats(keel_s),
            "keel_ingest_cpu_s": _stats(keel_cpu),
            "web3_loop_s": _stats(plain_s),
            "web3_loop_cpu_s": _stats(plain_cpu),
            "keel_events_per_s": _stats([rows_keel / s for s in keel_s]),
            "web3_loop_events_per_s": _stats([rows_plain / s for s in plain_s]),
            "note": "keel also reads and stores every block header (hash, parent, timestamp, base fee) of the range "
            "and writes per-pool/day files and checkpoints; the loop reads only the headers of blocks with logs",
        }
    finally:
        node.stop()


def bench_query(repeats: int) -> dict[str, Any]:
    import polars as pl

    from keel.marketdata.catalog import Catalog
    from keel.sim.paths import catalog_path, uniswap_swap_path

    start, end = 1704412800 * 10**9, 1704499200 * 10**9
    out: dict[str, list[float]] = {"catalog_events": [], "csv_polars": [], "catalog_path": [], "csv_loader": []}
    n = {}
    for _ in range(repeats):
        t = time.perf_counter()
        df = Catalog(ROOT / "data" / "catalog").events(1, POOL, start, end, event="Swap")
        out["catalog_events"].append(time.perf_counter() - t)
        n["catalog_events"] = df.height
        t = time.perf_counter()
        csv = pl.read_csv(DAY / f"{STEM}.tick.csv", infer_schema_length=0).filter(pl.col("tx_type") == "SWAP")
        out["csv_polars"].append(time.perf_counter() - t)
        n["csv_polars"] = csv.height
        t = time.perf_counter()
        s = catalog_path(ROOT / "data" / "catalog", 1, POOL, start, end, base="ETH")
        out["catalog_path"].append(time.perf_counter() - t)
        n["catalog_path"] = len(s)
        t = time.perf_counter()
        p = uniswap_swap_path(DAY / f"{STEM}.tick.csv")
        out["csv_loader"].append(time.perf_counter() - t)
        n["csv_loader"] = len(p)
    return {k: {**_stats(v), "rows": n[k]} for k, v in out.items()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=5000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--query-only", action="store_true", help="only the catalog-vs-CSV query timings")
    args = ap.parse_args()
    load_before = os.getloadavg()
    query = bench_query(max(args.repeats, 7))
    ingest_result: dict[str, Any] = {}
    if not args.query_only:
        with tempfile.TemporaryDirectory(prefix="keel-bench-ingest-") as tmp:
            ingest_result = bench_ingest(args.events, args.repeats, Path(tmp))
    import polars
    import pyarrow
    import web3

    result = {
        "when_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "versions": {"web3": web3.__version__, "pyarrow": pyarrow.__version__, "polars": polars.__version__},
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "ingest": ingest_result,
        "query": query,
    }
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    out = ROOT / "bench" / "results" / f"ingest{'-query' if args.query_only else ''}-{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
