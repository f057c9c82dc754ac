"""Bad input gives one clear `error:` line and leaves nothing half-written; a node that refuses large log
queries, times out or fails transiently is answered with smaller ranges and retries."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from keel.chain import free_port
from keel.chain.ingest import IngestProgress, ingest
from keel.cli.app import main
from keel.marketdata.catalog import Catalog, CatalogError
from tests.ingest.conftest import Chain, run


def _one_error_line(capsys: pytest.CaptureFixture[str], *needles: str) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    for needle in needles:
        assert needle in err[0], err[0]
    return err[0]


def _nothing_written(catalog: Path) -> None:
    assert not catalog.exists() or not any(catalog.rglob("pool.json"))
    assert not catalog.exists() or not any(catalog.rglob("*.tmp"))


def test_bad_rpc_url(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    catalog = tmp_path / "cat"
    dead = f"http://127.0.0.1:{free_port()}"
    pool = "0x88e6a0c2ddd26feeb64f039a2c41296fcb3f5640"
    assert main(["ingest", "--rpc", dead, "--pool", pool, "--from", "0", "--catalog", str(catalog), "--quiet"]) == 2
    _one_error_line(capsys, dead, "eth_chainId")
    _nothing_written(catalog)
    assert main(["ingest", "--rpc", "ftp://x", "--pool", pool, "--from", "0", "--catalog", str(catalog)]) == 2
    _one_error_line(capsys, "rpc", "http")
    _nothing_written(catalog)


def test_inverted_range_and_bad_blocks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    catalog = tmp_path / "cat"
    args = ["ingest", "--rpc", "http://127.0.0.1:1", "--pool", "0x" + "11" * 20, "--catalog", str(catalog)]
    assert main([*args, "--from", "10", "--to", "5"]) == 2
    _one_error_line(capsys, "--to", "inverted")
    assert main([*args, "--from", "ten"]) == 2
    _one_error_line(capsys, "--from")
    _nothing_written(catalog)


@pytest.mark.hardhat
def test_non_pool_addresses(chain5k: Chain, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    catalog = tmp_path / "cat"
    base = ["ingest", "--rpc", chain5k.url, "--from", "0", "--catalog", str(catalog), "--confirmations", "0"]
    token = chain5k.testbed.usdc  # a contract, but not a pool
    assert main([*base, "--pool", f"{chain5k.pools[0]},{token}", "--quiet"]) == 2
    _one_error_line(capsys, token, "not a Uniswap v2 or v3 pool")
    _nothing_written(catalog)  # the good pool before it was not started either
    eoa = "0x" + "12" * 20
    assert main([*base, "--pool", eoa, "--quiet"]) == 2
    _one_error_line(capsys, "no contract")
    assert main([*base, "--pool", "0x1234", "--quiet"]) == 2
    _one_error_line(capsys, "0x1234", "address")
    _nothing_written(catalog)


@pytest.mark.hardhat
def test_corrupt_parquet_file_is_named(chain5k: Chain, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    catalog = tmp_path / "cat"
    pool = chain5k.pools[0]
    args = ["ingest", "--rpc", chain5k.url, "--pool", pool, "--from", "0", "--to", str(chain5k.head)]
    assert main([*args, "--catalog", str(catalog), "--confirmations", "0", "--quiet"]) == 0
    capsys.readouterr()
    assert main(["catalog", "show", pool, "--catalog", str(catalog)]) == 0
    assert "Swap" in capsys.readouterr().out
    victim = sorted(catalog.rglob("events-*.parquet"))[-1]
    victim.write_bytes(victim.read_bytes()[: victim.stat().st_size // 2])  # truncated
    assert main(["catalog", "show", pool, "--catalog", str(catalog)]) == 2
    _one_error_line(capsys, victim.name, "not a readable Parquet file")
    with pytest.raises(CatalogError, match=victim.name):
        Catalog(catalog).events(31337, pool)
    victim.write_bytes(b"\x00garbage\xff" * 10)
    with pytest.raises(CatalogError, match=victim.name):
        Catalog(catalog).pool_state(31337, pool, chain5k.head)
    assert main(["catalog", "show", "0x" + "34" * 20, "--catalog", str(catalog)]) == 2
    _one_error_line(capsys, "not in catalog")


class _FlakyNode:
    """A proxy in front of the Hardhat node: refuses log queries over ``max_logs_span`` blocks like a public
    RPC ("more than 10000 results"), times out once on a large one, and answers the first request 503."""

    def __init__(self, upstream: str, max_logs_span: int) -> None:
        self.upstream = upstream
        self.max_span = max_logs_span
        self.seen = 0
        self.refused = 0
        self.timed_out = 0
        self.spans: list[int] = []

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        payload: Any = json.loads(body)
        self.seen += 1
        if self.seen == 1:
            return web.Response(status=503, text="warming up")
        if isinstance(payload, dict) and payload.get("method") == "eth_getLogs":
            q = payload["params"][0]
            span = int(q["toBlock"], 16) - int(q["fromBlock"], 16) + 1
            self.spans.append(span)
            if span > 4 * self.max_span and not self.timed_out:
                self.timed_out += 1
                await asyncio.sleep(2.0)
            if span > self.max_span:
                self.refused += 1
                error = {"code": -32005, "message": "query returned more than 10000 results"}
                return web.json_response({"jsonrpc": "2.0", "id": payload["id"], "error": error})
        async with aiohttp.ClientSession() as s, s.post(self.upstream, data=body, headers=request.headers) as r:
            return web.Response(body=await r.read(), status=r.status, content_type="application/json")


@pytest.mark.hardhat
def test_adaptive_ranges_retries_and_backoff(chain5k: Chain, tmp_path: Path) -> None:
    flaky = _FlakyNode(chain5k.url, max_logs_span=8)
    direct = Catalog(tmp_path / "direct")
    run(ingest(chain5k.url, chain5k.pools, 0, chain5k.head, direct, confirmations=0))
    spans: list[int] = []

    async def through_proxy() -> None:
        app = web.Application()
        app.router.add_post("/", flaky.handle)
        runner = web.AppRunner(app)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        try:
            await ingest(
                f"http://127.0.0.1:{port}", chain5k.pools, 0, chain5k.head, tmp_path / "proxied", confirmations=0,
                span=64, max_span=64, rpc_timeout_s=1.0, progress=lambda p: spans.append(p.span),
            )  # fmt: skip
        finally:
            await runner.cleanup()

    run(through_proxy())
    assert flaky.timed_out == 1 and flaky.refused >= 2
    assert max(s for s in flaky.spans if s <= flaky.max_span) <= 8 and min(spans) <= 8
    proxied = Catalog(tmp_path / "proxied")
    for m in direct.pools():
        a = direct.events(m.chain_id, m.address, by="block")
        b = proxied.events(m.chain_id, m.address, by="block")
        assert a.equals(b)
    assert isinstance(spans, list) and all(isinstance(s, int) for s in spans)
    assert IngestProgress  # the type the progress callback receives
