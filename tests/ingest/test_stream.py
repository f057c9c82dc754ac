"""Streaming: an engine process that takes its market from NATS JetStream while the ingester follows the
testbed makes the same decisions as the same run fed in process from the catalog; re-published events are
dropped by message id.  Needs NATS at 127.0.0.1:4222 (fails under CI, skips elsewhere)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from keel.cli.app import main
from keel.marketdata.catalog import Catalog
from keel.runtime.stream import EventPublisher
from tests.ingest.chaingen import generate
from tests.ingest.conftest import ROOT, Chain, rpc, run
from tests.service_support import NATS_URL

pytestmark = [pytest.mark.usefixtures("nats_stream_name"), pytest.mark.hardhat, pytest.mark.slow]


async def _delete_stream(name: str) -> None:
    import nats

    nc = await nats.connect(NATS_URL)
    try:
        await nc.jetstream().delete_stream(name)
    except Exception:  # already gone
        pass
    finally:
        await nc.close()


def _config(path: Path, catalog: str, pool: str, start_s: int) -> Path:
    start = dt.datetime.fromtimestamp(start_s, tz=dt.UTC)
    expiry = start + dt.timedelta(days=7)
    iso = "%Y-%m-%dT%H:%M:%SZ"
    path.write_text(
        f"""name = "stream_parity"
seed = 5

[market]
kind = "catalog"
catalog = "{catalog}"
pool = "{pool}"
chain_id = 31337
asset = "ETH"
start = "{start.strftime(iso)}"
hours = 0.1

[pool]
fee = 500
liquidity = 12453647101533358277

[options]
half_spread_vol = 0.01
[[options.svi]]
expiry = "{expiry.strftime(iso)}"
a = 0.004
b = 0.02
rho = -0.2
m = 0.0
sigma = 0.05

[desk]
strategy = "short_call_strip"
strikes_pct = [101.0, 103.0]
contracts = 200
initial_usd = 5000000
"""
    )
    return path


def _summary(out: Path) -> dict[str, object]:
    found = sorted(out.rglob("summary.json"))
    assert found, f"no summary.json under {out}"
    return dict(json.loads(found[0].read_text()))


def test_engine_fed_from_nats_decides_like_in_process(
    fresh_chain: Chain, tmp_path: Path, nats_stream_name: str
) -> None:
    stream_url = f"{NATS_URL}/{nats_stream_name}"
    pool = fresh_chain.testbed.pool("uniswap_v3", 500).address
    catalog = tmp_path / "catalog"
    head = run(rpc(fresh_chain.url, "eth_getBlockByNumber", ["latest", False]))
    start_s = int(head["timestamp"], 16) + 30
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    ingest_cmd = [
        sys.executable, "-m", "keel", "ingest", "--rpc", fresh_chain.url, "--pool", pool, "--from", "0",
        "--catalog", str(catalog), "--confirmations", "0", "--follow", "--publish", stream_url, "--poll", "0.2",
        "--quiet",
    ]  # fmt: skip
    ingester = subprocess.Popen(ingest_cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    engine_cfg = _config(tmp_path / "engine.toml", "unused-by-the-stream-run", pool, start_s)
    engine_cmd = [
        sys.executable, "-m", "keel", "simulate", str(engine_cfg), "--market", stream_url,
        "--out", str(tmp_path / "out_stream"), "--quiet",
    ]  # fmt: skip
    engine = subprocess.Popen(engine_cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # the market happens while both processes run: ~5 rounds of swaps/mints/burns, 100 s apart
        stats = run(generate(fresh_chain.url, fresh_chain.testbed, 800, seed=21, seconds_per_round=100))
        assert stats.events >= 800
        _, err = engine.communicate(timeout=400)
        assert engine.returncode == 0, err[-2000:]
        # the ingester keeps following until told to stop
        deadline = time.monotonic() + 60
        head_n = int(run(rpc(fresh_chain.url, "eth_blockNumber")), 16)
        meta_file = catalog / "chain=31337" / f"pool={pool.lower()}" / "pool.json"
        while json.loads(meta_file.read_text())["next_block"] <= head_n and time.monotonic() < deadline:
            time.sleep(0.2)
        assert ingester.poll() is None
        ingester.send_signal(signal.SIGTERM)
        iout, ierr = ingester.communicate(timeout=60)
        assert ingester.returncode == 0, ierr[-2000:]
        assert "ingested" in iout
    finally:
        for proc in (engine, ingester):
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
        run(_delete_stream(nats_stream_name))

    in_process_cfg = _config(tmp_path / "in_process.toml", str(catalog), pool, start_s)
    assert main(["simulate", str(in_process_cfg), "--out", str(tmp_path / "out_local"), "--quiet"]) == 0
    streamed, local = _summary(tmp_path / "out_stream"), _summary(tmp_path / "out_local")
    # where the market came from is the one difference allowed (the stream's own catalog vs the ingester's)
    where = {k for k in local["market"] if local["market"][k] != streamed["market"][k]}  # type: ignore[index]
    assert where <= {"source", "file", "catalog", "path"}, (where, local["market"], streamed["market"])
    for key in where:
        del local["market"][key], streamed["market"][key]  # type: ignore[attr-defined]
    assert streamed == local
    assert local["blocks"] and local["chain"]["transactions"]  # type: ignore[index]


def test_republished_events_are_deduplicated(chain5k: Chain, tmp_path: Path, nats_stream_name: str) -> None:
    cat = Catalog(tmp_path / "cat")
    from keel.chain.ingest import ingest

    run(ingest(chain5k.url, chain5k.pools[:1], 0, 60, cat, confirmations=0))
    meta = cat.pools()[0]
    rows = cat.events(meta.chain_id, meta.address, by="block").to_dicts()
    assert rows

    async def twice() -> tuple[int, int, int]:
        pub = await EventPublisher.connect(f"{NATS_URL}/{nats_stream_name}")
        try:
            await pub.publish_rows(meta.chain_id, meta, rows)
            await pub.publish_rows(meta.chain_id, meta, rows)  # an ingest restarted over the same blocks
            from keel.marketdata.catalog import consume_rows

            _, got = await consume_rows(f"{NATS_URL}/{nats_stream_name}", meta.chain_id, meta.address, idle_timeout_s=1)
            return pub.published, pub.duplicates, len(got)
        finally:
            await pub.close()

    try:
        published, duplicates, consumed = asyncio.run(twice())
    finally:
        run(_delete_stream(nats_stream_name))
    assert (published, duplicates, consumed) == (len(rows), len(rows), len(rows))


def test_reorg_message_drops_orphaned_rows(nats_stream_name: str) -> None:
    from keel.marketdata.catalog import PoolMeta, consume_rows

    meta = PoolMeta(
        chain_id=31337, address="0x" + "cd" * 20, kind="uniswap_v2", token0="0x" + "01" * 20, token1="0x" + "02" * 20,
        token0_symbol="USDC", token1_symbol="WETH", token0_decimals=6, token1_decimals=18, fee=3000, tick_spacing=0,
        from_block=1, next_block=1,
    )  # fmt: skip

    def rows(blocks: range, branch: str) -> list[dict[str, object]]:
        return [
            {"block_number": b, "block_hash": f"0x{branch}{b:063x}", "log_index": 0, "ts_ns": b * 10**9} for b in blocks
        ]

    async def scenario() -> list[dict[str, object]]:
        url = f"{NATS_URL}/{nats_stream_name}"
        pub = await EventPublisher.connect(url)
        try:
            await pub.publish_rows(meta.chain_id, meta, rows(range(1, 11), "a"))
            await pub.publish_reorg(meta.chain_id, meta, 6, "0xold")
            await pub.publish_reorg(meta.chain_id, meta, 6, "0xold")  # told twice (a crash): one message
            await pub.publish_rows(meta.chain_id, meta, rows(range(6, 13), "b"))
            _, got = await consume_rows(url, meta.chain_id, meta.address, idle_timeout_s=1)
            return got
        finally:
            await pub.close()

    try:
        got = asyncio.run(scenario())
    finally:
        run(_delete_stream(nats_stream_name))
    assert [(r["block_number"], str(r["block_hash"])[2]) for r in got] == [(b, "a") for b in range(1, 6)] + [
        (b, "b") for b in range(6, 13)
    ]
