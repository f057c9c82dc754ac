"""One writer per account and chain: the store lease and the store-backed journal.

A second process on the same account refuses, naming the run that holds it; a SIGKILLed holder's lease
is taken over; a holder elsewhere that stopped renewing expires after its TTL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import sqlalchemy as sa

from keel.chain import Attempt, Journal, JournalBinding
from keel.errors import ChainError
from keel.store import StoreError, StoreJournal, open_store

ACCOUNT = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
HOLD = textwrap.dedent(
    """
    import sys, time
    from keel.store import open_store, StoreJournal
    store = open_store(sys.argv[1])
    run = store.create_run("holder", config_text="", mode="live", chain_id=31337, account=sys.argv[2])
    journal = StoreJournal(store, sys.argv[2], 31337, run.id, lease_ttl_s=float(sys.argv[3]))
    print(run.id, flush=True)
    time.sleep(600)
    """
)


def _holder(url: str, ttl: float = 15.0) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, url, ACCOUNT, str(ttl)], stdout=subprocess.PIPE, text=True, env={**os.environ}
    )
    assert proc.stdout is not None
    run_id = proc.stdout.readline().strip()
    assert run_id, "holder did not start"
    return proc, run_id


def test_second_process_refuses_naming_the_holder_then_takes_over_after_sigkill(store_url: str) -> None:
    proc, holder_run = _holder(store_url)
    try:
        with open_store(store_url) as store:
            mine = store.create_run("second", config_text="", mode="live", chain_id=31337, account=ACCOUNT)
            with pytest.raises(ChainError, match=f"held by run {holder_run} \\(pid {proc.pid} ") as err:
                StoreJournal(store, ACCOUNT, 31337, mine.id)
            assert "\n" not in str(err.value)
            assert store.transactions(sender=ACCOUNT) == []  # the refused one wrote nothing
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            journal = StoreJournal(store, ACCOUNT.lower(), 31337, mine.id)  # dead holder: taken over at once
            assert isinstance(journal, Journal)
            lease = store.lease(f"{ACCOUNT.lower()}@31337")
            assert lease is not None and lease.run_id == mine.id
            journal.close()
            assert store.lease(f"{ACCOUNT.lower()}@31337") is None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_lease_of_a_holder_elsewhere_expires_after_its_ttl(store_url: str) -> None:
    with open_store(store_url) as store:
        store.acquire_lease("acct@1", "run-a", ttl_s=0.5)
        with store.engine.begin() as conn:  # as if run-a ran on another machine
            conn.execute(sa.text("UPDATE leases SET host = 'elsewhere', pid = 1 WHERE key = 'acct@1'"))
        with pytest.raises(StoreError, match="held by run run-a \\(pid 1 on elsewhere\\)"):
            store.acquire_lease("acct@1", "run-b")
        time.sleep(0.6)
        info = store.acquire_lease("acct@1", "run-b")
        assert info.run_id == "run-b"
        assert not store.renew_lease("acct@1", "run-a")  # the old holder learns it lost the lease
        assert store.renew_lease("acct@1", "run-b")


def test_store_journal_restores_pending_transactions_after_a_kill(store_url: str) -> None:
    attempt = Attempt("0xaa", "0x02f8", ACCOUNT, 0, "0x", 21000, 10**10, 10**9)
    with open_store(store_url) as store:
        j = StoreJournal(store, ACCOUNT, 31337, "20261202T000000Z-000001", name="desk", config_text="seed = 7\n")
        binding = JournalBinding(31337, "0x" + "11" * 32, ACCOUNT, j.run_id)
        j.bind(binding)
        run = store.run(j.run_id)
        assert (run.mode, run.chain_id, run.account, run.status, run.name) == (
            "live",
            31337,
            ACCOUNT,
            "running",
            "desk",
        )
        j.record_signed(intent="hedge-1", sender=ACCOUNT, chain_id=31337, nonce=0, attempt=attempt, meta={"block": 7})
        j.record_sent("hedge-1", "0xaa")
        j.record_signed(
            intent="hedge-2",
            sender=ACCOUNT,
            chain_id=31337,
            nonce=1,
            attempt=Attempt("0xbb", "0x02f9", ACCOUNT, 0, "0x", 21000, 10**10, 10**9),
        )
        j.record_mined("hedge-1", "0xaa", 8, "0x" + "22" * 32, 1)
        fill = {"intent": "hedge-1", "status": "filled", "token_in": "USDC", "token_out": "WETH", "amount_in": 10**9,
                "amount_out": 2**100, "predicted_out": 2**100, "tx_hash": "0xaa"}  # fmt: skip
        j.note("fill", fill)
        j.note("baseline", {"actual": {"USDC": 5 * 10**12, "WETH": 2**100}, "predicted": {}, "fills": 1})
        # no close(): the process "dies"; its lease is ours (same pid), so a new journal may take it
        j._stop.set()
        k = StoreJournal(store, ACCOUNT, 31337, run.id)
        assert not k.closed
        assert k.binding == binding
        assert [s.intent for s in k.open_intents()] == ["hedge-2"]
        assert k.intents["hedge-1"].status == "mined" and k.intents["hedge-1"].meta == {"block": 7}
        assert k.intents["hedge-2"].latest.raw_hex == "0x02f9"  # the exact bytes to re-broadcast
        assert k.notes("fill") == [fill]
        assert [(f.fill_id, f.amount_in, f.amount_out) for f in store.fills(run.id)] == [("0xaa", 10**9, 2**100)]
        k.note("fill", fill)  # booked again after a restart: still one fill
        assert len(store.fills(run.id)) == 1
        assert store.latest_positions(run.id) == {
            (ACCOUNT.lower(), "USDC"): 5 * 10**12,
            (ACCOUNT.lower(), "WETH"): 2**100,
        }
        with pytest.raises(ChainError, match="already journaled at nonce 0"):
            k.record_signed(intent="hedge-1", sender=ACCOUNT, chain_id=31337, nonce=5, attempt=attempt)
        k.close({"hedges": 2, "end_balances": {"USDC": 4 * 10**12, "WETH": 2**100 + 1}})
        assert k.closed
        assert store.run(run.id).status == "finished" and '"hedges": 2' in store.run(run.id).summary_json
        end = {(ACCOUNT.lower(), "USDC"): 4 * 10**12, (ACCOUNT.lower(), "WETH"): 2**100 + 1}
        assert store.latest_positions(run.id) == end  # the store's positions are the chain's end balances
        rows = {t.intent: t for t in store.transactions(run.id)}
        assert rows["hedge-1"].status == "mined" and rows["hedge-1"].block_number == 8
        assert rows["hedge-2"].status == "signed" and rows["hedge-2"].nonce == 1
        assert len(k.lines()) == len(store.journal_records(ACCOUNT, 31337))
