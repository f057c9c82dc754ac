"""Chain fixtures: one Hardhat node per session (started here, on a free loopback port) with the
testbed deployed on it, and eth-tester in process for the fast tests."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import Iterator
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

ROOT = Path(__file__).resolve().parents[2]


def _ensure_node_modules() -> None:
    if (ROOT / "node_modules" / ".bin" / "hardhat").exists():
        return
    npm = shutil.which("npm")
    assert npm is not None, "npm is needed to install hardhat (node_modules missing)"
    subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=ROOT, check=True)


def run(coro: Any) -> Any:
    """Run a coroutine to completion (tests are plain functions; no asyncio plugin needed)."""
    return asyncio.run(coro)


@pytest.fixture(scope="session")
def hardhat(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HardhatNode]:
    _ensure_node_modules()
    node = HardhatNode.start(log_dir=tmp_path_factory.mktemp("hardhat"))
    try:
        yield node
    finally:
        node.stop()


async def _deploy(url: str) -> TestbedAddresses:
    client = await ChainClient.connect(url, expected_chain_id=31337)
    try:
        tm = await TransactionManager.open(client, DevSigner(HARDHAT_DEV_KEYS[0]), TxJournal(None), GasPolicy())
        return await deploy_testbed(client, tm, rpc_url=url)
    finally:
        await client.close()


@pytest.fixture(scope="session")
def testbed(hardhat: HardhatNode) -> TestbedAddresses:
    return run(_deploy(hardhat.url))


async def _rpc(url: str, method: str, params: list[Any] | None = None) -> Any:
    client = await ChainClient.connect(url)
    try:
        return await client.rpc(method, params)
    finally:
        await client.close()


@pytest.fixture
def clean_chain(hardhat: HardhatNode, testbed: TestbedAddresses) -> Iterator[TestbedAddresses]:
    """The testbed, restored (evm_revert) after the test, with automine back on."""
    snap = run(_rpc(hardhat.url, "evm_snapshot"))
    try:
        yield testbed
    finally:
        run(_rpc(hardhat.url, "evm_setAutomine", [True]))
        assert run(_rpc(hardhat.url, "evm_revert", [snap])) is True
