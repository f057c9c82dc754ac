"""A process killed mid-flight (SIGKILL) restarts from its journal: nothing is sent twice and the
transaction it had signed but not yet broadcast is not lost."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from keel.chain import ChainClient, TestbedAddresses, write_keystore
from tests.chain.conftest import run

pytestmark = [pytest.mark.hardhat, pytest.mark.slow]

WORKER = Path(__file__).with_name("journal_worker.py")
KEY = "0x" + "5a" * 32
RECIPIENT = "0x00000000000000000000000000000000000b0b00"


async def _rpc(url: str, method: str, params: list[Any] | None = None) -> Any:
    c = await ChainClient.connect(url)
    try:
        return await c.rpc(method, params)
    finally:
        await c.close()


def test_killed_process_restarts_without_double_send(
    hardhat: Any, clean_chain: TestbedAddresses, tmp_path: Path
) -> None:
    keystore = tmp_path / "ks.json"
    address = write_keystore(keystore, KEY, "s3cret", iterations=2**10)
    run(_rpc(hardhat.url, "hardhat_setBalance", [address, hex(10**20)]))
    journal = tmp_path / "journal.jsonl"
    env = dict(os.environ, KEEL_KEYSTORE_PASSWORD="s3cret")
    args = [sys.executable, str(WORKER), hardhat.url, str(journal), str(keystore)]

    run(_rpc(hardhat.url, "evm_setAutomine", [False]))  # broadcasts stay in the mempool
    first = subprocess.Popen(
        [*args, "first", RECIPIENT], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True
    )
    try:
        assert first.stdout is not None
        line = first.stdout.readline()
        assert line.strip() == "READY", first.stderr.read() if first.stderr else ""
    finally:
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=10)
    assert first.returncode == -signal.SIGKILL
    records = [json.loads(x) for x in journal.read_text().splitlines()]
    assert [r["intent"] for r in records if r["event"] == "signed"] == ["pay-0", "pay-1", "pay-2", "pay-3"]
    assert [r["intent"] for r in records if r["event"] == "sent"] == ["pay-0", "pay-1", "pay-2"]

    run(_rpc(hardhat.url, "evm_setAutomine", [True]))
    run(_rpc(hardhat.url, "evm_mine"))  # the three broadcast transactions are mined while the process is dead

    second = subprocess.run([*args, "second", RECIPIENT], capture_output=True, env=env, text=True, timeout=60)
    assert second.returncode == 0, second.stderr
    summary = json.loads(second.stdout.strip().splitlines()[-1])
    assert summary["signed_now"] == 1  # only pay-4 is new; pay-0..3 came from the journal
    assert summary["pending_at_recover"] == ["pay-3"]  # re-broadcast from its journaled bytes (mined below)
    signed = {r["intent"]: r["tx_hash"] for r in records if r["event"] == "signed"}
    for intent, tx_hash in signed.items():
        assert summary["hashes"][intent] == tx_hash
    # every payment arrived exactly once (distinct powers of two), and exactly five nonces were used
    assert run(_rpc(hardhat.url, "eth_getBalance", [RECIPIENT, "latest"])) == hex(1 + 2 + 4 + 8 + 16)
    assert int(run(_rpc(hardhat.url, "eth_getTransactionCount", [address, "latest"])), 16) == 5
    assert KEY[2:] not in journal.read_text() + second.stdout + second.stderr
