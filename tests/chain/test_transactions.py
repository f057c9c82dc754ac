"""TransactionManager on a real Hardhat node: sends, confirmations, nonce gaps and replacements,
speed-up and cancel, reorgs (evm_snapshot/evm_revert) re-broadcast or dropped, gas at 'pending'."""

from __future__ import annotations

from typing import Any

import pytest
from eth_account import Account

from keel.chain import (
    ChainClient,
    DevSigner,
    GasPolicy,
    TestbedAddresses,
    TransactionManager,
    TxDroppedError,
    TxJournal,
    TxRequest,
    call_request,
    deploy_testbed,
)
from keel.chain.signer import HARDHAT_DEV_KEYS
from tests.chain.conftest import run

pytestmark = pytest.mark.hardhat

RECIPIENT = "0x000000000000000000000000000000000000dEaD"


async def _manager(url: str, key: str = HARDHAT_DEV_KEYS[1]) -> tuple[ChainClient, TransactionManager]:
    client = await ChainClient.connect(url, expected_chain_id=31337)
    tm = await TransactionManager.open(client, DevSigner(key), TxJournal(None), GasPolicy())
    return client, tm


def test_send_confirms_and_is_idempotent_per_intent(hardhat: Any, clean_chain: TestbedAddresses) -> None:
    async def go() -> None:
        client, tm = await _manager(hardhat.url)
        before = await client.balance(RECIPIENT)
        start_nonce = await client.nonce(tm.address, "latest")
        r1 = await tm.send("pay-1", TxRequest(to=RECIPIENT, value=12345))
        # the same intent id again: no second transaction
        r2 = await tm.send("pay-1", TxRequest(to=RECIPIENT, value=12345))
        assert r1.tx_hash == r2.tx_hash and r1.status == 1
        assert await client.balance(RECIPIENT) - before == 12345
        assert await client.nonce(tm.address, "latest") == start_nonce + 1
        # three confirmations: wait needs two more blocks
        p = await tm.submit("pay-2", TxRequest(to=RECIPIENT, value=1))
        await client.rpc("hardhat_mine", ["0x2"])
        r3 = await tm.wait(p, confirmations=3, timeout_s=10)
        assert await client.block_number() - r3.block_number + 1 >= 3
        tx = await client.transaction(r3.tx_hash)
        assert tx is not None and int(tx["type"]) == 2 and int(tx["chainId"]) == 31337
        await client.close()

    run(go())


def test_nonce_gap_is_refilled_and_external_use_is_adopted(hardhat: Any, clean_chain: TestbedAddresses) -> None:
    async def go() -> None:
        client, tm = await _manager(hardhat.url)
        base = await client.nonce(tm.address, "latest")
        # a nonce reserved and given back (the node never saw it) leaves no gap
        n = tm.nonces.reserve()
        assert n == base
        tm.nonces.release(n)
        r = await tm.send("after-release", TxRequest(to=RECIPIENT, value=1))
        tx = await client.transaction(r.tx_hash)
        assert tx is not None and int(tx["nonce"]) == base
        # another process with the same key uses the next nonce behind our back
        client2, other = await _manager(hardhat.url)
        await other.send("other-process", TxRequest(to=RECIPIENT, value=2))
        await client2.close()
        # ours collides: the node answers "nonce too low", the manager resyncs and re-signs once
        r = await tm.send("after-external", TxRequest(to=RECIPIENT, value=3))
        tx = await client.transaction(r.tx_hash)
        assert tx is not None and int(tx["nonce"]) == base + 2
        assert tm.nonces.gaps(await client.nonce(tm.address, "latest")) == []
        await client.close()

    run(go())


def test_speed_up_and_cancel_replace_at_the_same_nonce(hardhat: Any, clean_chain: TestbedAddresses) -> None:
    async def go() -> None:
        client, tm = await _manager(hardhat.url)
        await client.rpc("evm_setAutomine", [False])
        before = await client.balance(RECIPIENT)
        p = await tm.submit("slow", TxRequest(to=RECIPIENT, value=777))
        fast = await tm.speed_up(p)
        assert fast.nonce == p.nonce and fast.tx_hash != p.tx_hash
        old = tm.journal.intents["slow"].attempts[0]
        new = tm.journal.intents["slow"].attempts[1]
        assert new.max_fee_per_gas >= old.max_fee_per_gas * 1125 // 1000
        assert new.max_priority_fee_per_gas >= old.max_priority_fee_per_gas * 1125 // 1000
        q = await tm.submit("to-cancel", TxRequest(to=RECIPIENT, value=999))
        c = await tm.cancel(q)
        assert c.nonce == q.nonce
        await client.rpc("evm_mine")
        r = await tm.wait(p, timeout_s=10)
        assert r.tx_hash == fast.tx_hash  # the replacement, not the original, was mined
        rc = await tm.wait(q, timeout_s=10)
        assert rc.kind == "cancel" and rc.tx_hash == c.tx_hash
        assert await client.receipt(p.tx_hash) is None and await client.receipt(q.tx_hash) is None
        assert await client.balance(RECIPIENT) - before == 777  # the cancelled 999 never arrived
        await client.close()

    run(go())


def test_reorg_rebroadcasts_a_vanished_transaction(hardhat: Any, clean_chain: TestbedAddresses) -> None:
    async def go() -> None:
        client, tm = await _manager(hardhat.url)
        before = await client.balance(RECIPIENT)
        snap = await client.rpc("evm_snapshot")
        r1 = await tm.send("reorged", TxRequest(to=RECIPIENT, value=4242))
        assert await client.receipt(r1.tx_hash) is not None
        assert await client.rpc("evm_revert", [snap]) is True  # the block holding it is gone
        assert await client.receipt(r1.tx_hash) is None
        await client.rpc("evm_mine")  # a different block at that height
        pending = tm._pending(tm.journal.intents["reorged"])
        r2 = await tm.wait(pending, timeout_s=10)
        assert r2.tx_hash == r1.tx_hash  # the same signed bytes, mined again
        assert await client.balance(RECIPIENT) - before == 4242  # exactly once
        events = [line for line in tm.journal.lines() if '"intent": "reorged"' in line]
        assert any('"event": "unmined"' in e for e in events)
        await client.close()

    run(go())


def test_reorg_gap_found_by_a_later_send_is_refilled_from_the_journal(
    hardhat: Any, clean_chain: TestbedAddresses
) -> None:
    async def go() -> None:
        client, tm = await _manager(hardhat.url)
        before = await client.balance(RECIPIENT)
        snap = await client.rpc("evm_snapshot")
        r1 = await tm.send("first", TxRequest(to=RECIPIENT, value=100))
        await client.rpc("evm_revert", [snap])  # "first" vanished; nobody is waiting on it
        # the next send hits "nonce too high": the manager re-broadcasts "first" from its journal, then signs
        r2 = await tm.send("second", TxRequest(to=RECIPIENT, value=20))
        r1b = await tm.wait(tm._pending(tm.journal.intents["first"]), timeout_s=10)
        assert r1b.tx_hash == r1.tx_hash and r2.status == 1
        assert await client.balance(RECIPIENT) - before == 120  # each exactly once
        assert any('"event": "released"' in line and '"second"' in line for line in tm.journal.lines())
        await client.close()

    run(go())


def test_reorg_with_nonce_taken_marks_dropped(hardhat: Any, clean_chain: TestbedAddresses) -> None:
    async def go() -> None:
        client, tm = await _manager(hardhat.url)
        snap = await client.rpc("evm_snapshot")
        r1 = await tm.send("doomed", TxRequest(to=RECIPIENT, value=1))
        await client.rpc("evm_revert", [snap])
        # on the new branch another transaction of the same key takes that nonce
        tx = {
            "type": 2,
            "chainId": 31337,
            "nonce": tm.journal.intents["doomed"].nonce,
            "to": RECIPIENT,
            "value": 5,
            "gas": 21000,
            "maxFeePerGas": 10**10,
            "maxPriorityFeePerGas": 10**9,
        }
        raw = Account.sign_transaction(tx, HARDHAT_DEV_KEYS[1]).raw_transaction
        await client.send_raw(bytes(raw))
        with pytest.raises(TxDroppedError, match="doomed"):
            await tm.wait(tm._pending(tm.journal.intents["doomed"]), timeout_s=10)
        assert tm.journal.intents["doomed"].status == "dropped"
        assert await client.receipt(r1.tx_hash) is None
        await client.close()

    run(go())


def test_gas_is_estimated_at_pending_with_margin(hardhat: Any, clean_chain: TestbedAddresses) -> None:
    """The manager estimates a v3 swap at the pending block (never below the 'latest' estimate) and pads it;
    a limit below what the swap needs reverts out of gas, the manager's limit mines."""
    tb = clean_chain

    async def go() -> None:
        client, tm = await _manager(hardhat.url, HARDHAT_DEV_KEYS[0])  # the deployer holds WETH
        tags: list[Any] = []
        real = client.estimate_gas

        async def spy(tx: dict[str, Any], block: int | str = "pending") -> int:
            tags.append(block)
            return await real(tx, block)

        client.estimate_gas = spy  # type: ignore[method-assign]
        router = client.contract("SwapRouter", tb.swap_router)
        weth = client.contract("WETH9", tb.weth)
        await tm.send("approve-router", call_request(weth, "approve", tb.swap_router, 2**256 - 1))

        async def swap_request() -> TxRequest:
            head = await client.get_block("latest")
            params = (tb.weth, tb.usdc, 3000, tm.address, int(head["timestamp"]) + 600, 10**18, 0, 0)
            return call_request(router, "exactInputSingle", params)

        await tm.send("swap-1", await swap_request())
        assert tags and all(t == "pending" for t in tags)
        req = await swap_request()
        tx = {"from": tm.address, "to": req.to, "data": req.data}
        at_latest = await real(tx, "latest")
        at_pending = await real(tx, "pending")
        assert at_pending >= at_latest
        r = await tm.send("swap-2", await swap_request())
        limit = tm.journal.intents["swap-2"].latest.gas
        assert limit == -(-at_pending * 12_000 // 10_000)  # +20%, rounded up
        assert r.status == 1 and r.gas_used < limit
        short = await tm.submit(
            "swap-short", TxRequest(to=req.to, data=(await swap_request()).data, gas=r.gas_used - 5000)
        )
        assert (await tm.wait(short, timeout_s=10)).status == 0  # out of gas
        await client.close()

    run(go())


def test_latest_block_estimate_runs_a_v3_swap_out_of_gas(hardhat: Any, clean_chain: TestbedAddresses) -> None:
    """The case the pending-block estimate exists for, reproduced on Hardhat: on a thin 0.3% pool, the second
    swap estimated at 'latest' (the previous swap's block) comes out short of what the mined swap needs
    (the pool's oracle observation write in the new block is not counted); a transaction with that limit
    reverts out of gas, while the manager's pending-block estimate + margin mines."""

    async def go() -> None:
        client, tm = await _manager(hardhat.url, HARDHAT_DEV_KEYS[0])
        await client.rpc("hardhat_setBalance", [tm.address, hex(10**24)])
        tb = await deploy_testbed(client, tm, weth_liquidity=400 * 10**18)  # a second, thinner testbed
        router = client.contract("SwapRouter", tb.swap_router)
        weth = client.contract("WETH9", tb.weth)
        await tm.send("approve-router", call_request(weth, "approve", tb.swap_router, 2**256 - 1))

        async def swap_request() -> TxRequest:
            head = await client.get_block("latest")
            params = (tb.weth, tb.usdc, 3000, tm.address, int(head["timestamp"]) + 6000, 10**18, 0, 0)
            return call_request(router, "exactInputSingle", params)

        await tm.send("swap-1", await swap_request())
        req = await swap_request()
        tx = {"from": tm.address, "to": req.to, "data": req.data}
        at_latest = await client.estimate_gas(tx, "latest")
        at_pending = await client.estimate_gas(tx, "pending")
        assert at_latest < at_pending
        short = await tm.submit("swap-latest-estimate", TxRequest(to=req.to, data=req.data, gas=at_latest))
        assert (await tm.wait(short, timeout_s=10)).status == 0
        ok = await tm.send("swap-managed", await swap_request())
        assert ok.status == 1
        await client.close()

    run(go())
