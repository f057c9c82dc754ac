"""Ingest fixtures: Hardhat nodes on free loopback ports with the testbed deployed, and a chain with
at least 5,000 swaps, mints and burns across the testbed's three pools (two v3, one v2)."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from keel.chain import (
    ChainClient,
    DevSigner,
    GasPolicy,
    HardhatNode,
    TestbedAddresses,
    TransactionManager,
    TxJournal,
    deploy_testbed,
)
from keel.chain.signer import HARDHAT_DEV_KEYS
from tests.ingest.chaingen import GenStats, generate

ROOT = Path(__file__).resolve().parents[2]
REBUILD_EVENTS = 5_000


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def _ensure_node_modules() -> None:
    if (ROOT / "node_modules" / ".bin" / "hardhat").exists():
        return
    npm = shutil.which("npm")
    assert npm is not None, "npm is needed to install hardhat (node_modules missing)"
    subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=ROOT, check=True)


async def _deploy(url: str) -> TestbedAddresses:
    client = await ChainClient.connect(url, expected_chain_id=31337)
    try:
        tm = await TransactionManager.open(client, DevSigner(HARDHAT_DEV_KEYS[0]), TxJournal(None), GasPolicy())
        return await deploy_testbed(client, tm, rpc_url=url)
    finally:
        await client.close()


@dataclass
class Chain:
    node: HardhatNode
    testbed: TestbedAddresses
    stats: GenStats | None = None
    head: int = 0

    @property
    def url(self) -> str:
        return self.node.url

    @property
    def pools(self) -> list[str]:
        return [p.address for p in self.testbed.pools]


def start_chain(log_dir: Path) -> Chain:
    _ensure_node_modules()
    node = HardhatNode.start(log_dir=log_dir)
    try:
        return Chain(node, run(_deploy(node.url)))
    except BaseException:
        node.stop()
        raise


async def rpc(url: str, method: str, params: list[Any] | None = None) -> Any:
    client = await ChainClient.connect(url)
    try:
        return await client.rpc(method, params)
    finally:
        await client.close()


@pytest.fixture(scope="session")
def chain5k(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    """A testbed with >= 5,000 swaps, mints and burns (v3 pools at 0.05% and 0.3%, the v2 pair)."""
    chain = start_chain(tmp_path_factory.mktemp("hardhat5k"))
    try:
        chain.stats = run(generate(chain.url, chain.testbed, REBUILD_EVENTS, seed=11))
        chain.head = int(run(rpc(chain.url, "eth_blockNumber")), 16)
        yield chain
    finally:
        chain.node.stop()


@pytest.fixture
def fresh_chain(tmp_path: Path) -> Iterator[Chain]:
    chain = start_chain(tmp_path / "hardhat")
    try:
        yield chain
    finally:
        chain.node.stop()
