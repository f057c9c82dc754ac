"""Soak: 20 live runs, each killed with SIGKILL at a seeded random moment (a transaction journaled but not yet
sent, sent but its receipt not yet read, its receipt read but the fill not yet booked), each restarted on the same
journal; sometimes the chain's clock jumps past the journaled deadlines while the process is dead.  At the end:
no transaction was sent twice, none was lost, every fill equals keel.venues' prediction and the final token
balances equal the start balances plus the predicted fills, to the wei."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from keel.chain import (
    ChainClient,
    DevSigner,
    GasPolicy,
    SwapExecutor,
    TestbedAddresses,
    TransactionManager,
    TxJournal,
)
from keel.chain.signer import HARDHAT_DEV_KEYS
from tests.chain.conftest import ROOT, run
from tests.chain.live_support import CONFIG, PASSWORD, USDC, funded_account, nonce, rpc, token_balance

pytestmark = [pytest.mark.hardhat, pytest.mark.slow]

RUNS = 20
STEPS = ("signed", "sent", "mined")
WORKER = Path(__file__).with_name("live_soak_worker.py")


def _soak_config(tmp: Path) -> Path:
    """The example desk with one-minute blocks, a narrow fixed band and the pool as its oracle."""
    text = CONFIG.read_text()
    text = text.replace("block_time_s = 12", "block_time_s = 60")
    text = text.replace('policy = "whalley_wilmott"', 'policy = "fixed"\nband = 0.5')
    cex = 'name = "cex"             # the reference market (the real path)\nfeed = "reference"\nweight = 2.0'
    assert cex in text
    text = text.replace(cex, 'name = "cex"\nfeed = "pool"\nweight = 2.0')  # the pool moves: the desk re-hedges
    path = tmp / "soak.toml"
    path.write_text(text)
    return path


async def _move_market(url: str, tb: TestbedAddresses, k: int) -> None:
    """Another trader (the deployer) swaps on the pool between runs, so the book has delta to hedge again."""
    client = await ChainClient.connect(url)
    try:
        tm = await TransactionManager.open(client, DevSigner(HARDHAT_DEV_KEYS[0]), TxJournal(None), GasPolicy())
        ex = SwapExecutor(client, tm, v3_router=tb.swap_router, v2_router=tb.v2_router)
        for token in (tb.usdc, tb.weth):
            await ex.approve(f"move-approve-{token}", token, "uniswap_v3")
        sell_weth = k % 2 == 0
        token_in, token_out = (tb.weth, tb.usdc) if sell_weth else (tb.usdc, tb.weth)
        amount = 150 * 10**18 if sell_weth else 250_000 * 10**6
        await ex.swap_exact_in(
            f"move-{k}", kind="uniswap_v3", token_in=token_in, token_out=token_out, amount_in=amount,
            min_amount_out=0, fee=500,
        )  # fmt: skip
    finally:
        await client.close()


def test_soak_sigkill_restart_no_double_send_none_lost(
    hardhat: Any, clean_chain: TestbedAddresses, tmp_path: Path
) -> None:
    tb = clean_chain
    keystore, account = funded_account(hardhat.url, tb, tmp_path, "0x" + "9b" * 32, vault=20_000_000 * USDC)
    start = {t: token_balance(hardhat.url, a, account) for t, a in (("USDC", tb.usdc), ("WETH", tb.weth))}
    start_nonce = nonce(hardhat.url, account)
    journal = tmp_path / "journal.jsonl"
    config = _soak_config(tmp_path)
    addresses = tmp_path / "addresses.json"
    addresses.write_text(tb.to_json())
    rng = random.Random(20261202)
    zygote = subprocess.Popen(
        [sys.executable, str(WORKER), hardhat.url, str(addresses), str(config), str(keystore), str(journal), PASSWORD],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip
    assert zygote.stdin is not None and zygote.stdout is not None
    killed, exits, kinds = 0, [], set()
    try:
        for i in range(RUNS + 1):
            last = i == RUNS
            step, nth = (STEPS[0], 10**9) if last else (rng.choice(STEPS), rng.randint(1, 2))
            zygote.stdin.write(f"{step} {nth} 2\n")
            zygote.stdin.flush()
            answer = zygote.stdout.readline().split()
            assert answer[:1] == ["EXIT"], answer
            code = int(answer[1])
            exits.append(code)
            err = journal.with_name("child-error.txt")
            assert code in (0, -signal.SIGKILL), err.read_text() if err.exists() else code
            killed += code == -signal.SIGKILL
            if code == -signal.SIGKILL:
                kinds.add(step)
            if not (code == -signal.SIGKILL and step == "signed"):  # nothing journaled waits to be sent
                run(_move_market(hardhat.url, tb, i))
            if not last and rng.random() < 0.3:  # the process stays dead past every journaled deadline
                rpc(hardhat.url, "evm_increaseTime", 3 * 3600)
                rpc(hardhat.url, "evm_mine")
    finally:
        zygote.stdin.close()
        zygote.wait(timeout=60)
    assert killed >= RUNS * 3 // 4, exits  # the seeded kill points are reached
    assert kinds == set(STEPS)  # killed before send, after send (before the receipt is read), before booking

    records = [json.loads(x) for x in journal.read_text().splitlines()]
    assert records[-1]["event"] == "closed"
    signed: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        if r["event"] == "signed":
            signed.setdefault(r["intent"], []).append(r)
    final: dict[str, str] = {}
    mined_nonces: list[int] = []
    for r in records:
        if r["event"] in ("mined", "dropped", "released"):
            final[r["intent"]] = r["event"]
        if r["event"] == "mined":
            mined_nonces.append(next(s["nonce"] for s in signed[r["intent"]]))
    # none lost: every signed transaction ended mined or dropped (never left open)
    assert set(final) == set(signed), set(signed) - set(final)
    # none sent twice: one signature per intent, one mined nonce per mined intent, nothing else on chain
    assert all(len(v) == 1 for v in signed.values())
    assert len(mined_nonces) == len(set(mined_nonces))
    assert nonce(hardhat.url, account) - start_nonce == len(mined_nonces)
    # every fill equals the prediction, and the balances equal start + predicted fills
    fills = [r["data"] for r in records if r["event"] == "note" and r["kind"] == "fill"]
    assert len({f["intent"] for f in fills}) == len(fills)  # each hedge booked once
    filled = [f for f in fills if f["status"] == "filled"]
    assert filled and all(f["amount_out"] == f["predicted_out"] for f in filled)
    predicted = dict(start)
    for f in filled:
        predicted[f["token_in"]] -= f["amount_in"]
        predicted[f["token_out"]] += f["predicted_out"]
    end = {t: token_balance(hardhat.url, a, account) for t, a in (("USDC", tb.usdc), ("WETH", tb.weth))}
    assert end == predicted
    last_summary = json.loads(journal.with_name("last.json").read_text())
    assert last_summary["predicted_balances"] == end and last_summary["status"] == "completed"
    assert any(r["event"] == "rebroadcast" for r in records)  # journaled-but-unsent transactions were resent
