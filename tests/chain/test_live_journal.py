"""A journal is bound to its chain: after the testbed is restarted (a new genesis), the old journal is never
broadcast; the run refuses with one line naming the journal and what differs; --new-journal archives it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from keel.chain import (
    ChainClient,
    DevSigner,
    ForeignJournalError,
    GasPolicy,
    HardhatNode,
    JournalBinding,
    PoolInfo,
    TestbedAddresses,
    TransactionManager,
    TxJournal,
    deploy_testbed,
)
from keel.chain.signer import HARDHAT_DEV_KEYS
from keel.cli import main
from tests.chain.conftest import run
from tests.chain.live_support import PASSWORD, funded_account, live_argv, nonce

pytestmark = [pytest.mark.hardhat, pytest.mark.slow]


async def _deploy(url: str) -> TestbedAddresses:
    client = await ChainClient.connect(url, expected_chain_id=31337)
    try:
        tm = await TransactionManager.open(client, DevSigner(HARDHAT_DEV_KEYS[0]), TxJournal(None), GasPolicy())
        return await deploy_testbed(client, tm, rpc_url=url)
    finally:
        await client.close()


def test_restarted_testbed_old_journal_sends_nothing(
    hardhat: Any,
    clean_chain: TestbedAddresses,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KEEL_KEYSTORE_PASSWORD", PASSWORD)
    key = "0x" + "8a" * 32
    keystore, account = funded_account(hardhat.url, clean_chain, tmp_path, key)
    first = tmp_path / "first.json"
    first.write_text(clean_chain.to_json())
    journal = tmp_path / "journal.jsonl"
    assert main(live_argv(hardhat.url, keystore, first, journal, "--anchor-to-chain", "--blocks", "2")) == 0
    capsys.readouterr()
    journaled = [json.loads(x) for x in journal.read_text().splitlines()]
    assert sum(1 for r in journaled if r["event"] == "signed") >= 2  # approvals and hedges to be (not) re-sent

    # "keel testbed down / up / fund": a new node, a new genesis, the same account funded again
    node = HardhatNode.start(log_dir=tmp_path / "second")
    try:
        tb2 = run(_deploy(node.url))
        second = tmp_path / "second.json"
        second.write_text(tb2.to_json())
        funded_account(node.url, tb2, tmp_path / "b", key)
        before = nonce(node.url, account)
        text_before = journal.read_text()
        argv = live_argv(node.url, keystore, second, journal, "--anchor-to-chain", "--blocks", "2")
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1
        assert err.startswith(f"error: journal={str(journal)!r}: belongs to another chain or account (genesis ")
        assert "--new-journal" in err
        assert nonce(node.url, account) == before  # nothing from the old journal (nor anything else) was sent
        assert journal.read_text() == text_before  # and the old journal is untouched

        # --new-journal archives it and starts fresh on the new chain
        assert main([*argv, "--new-journal", "--json"]) == 0
        out = capsys.readouterr()
        summary = json.loads(out.out)
        assert summary["rebroadcast"] == 0 and summary["hedges_filled"] > 0
        archived = list(tmp_path.glob("journal.jsonl.archived-*"))
        assert len(archived) == 1 and archived[0].read_text() == text_before
        fresh = [json.loads(x) for x in journal.read_text().splitlines()]
        assert fresh[0]["event"] == "bind" and fresh[0]["genesis_hash"] != journaled[0]["genesis_hash"]
        assert "archived" in out.err
    finally:
        node.stop()


def test_journal_binding_unit(tmp_path: Path) -> None:
    """Binding rules without a chain: fresh, resume (run id kept), foreign, unbound-with-entries, closed flag."""
    path = tmp_path / "j.jsonl"
    a = JournalBinding(31337, "0x" + "11" * 32, "0x" + "ab" * 20, "run-1")
    with TxJournal(path) as j:
        assert j.bind(a) == a and not j.closed
    j = TxJournal(path)
    assert j.closed  # the last session ended with close()
    assert j.bind(JournalBinding(31337, "0x" + "11" * 32, "0x" + "ab" * 20, "run-2")).run_id == "run-1"
    j.close({"hedges_sent": 0})
    for other, word in (
        (JournalBinding(1, a.genesis_hash, a.account, "r"), "chain id 31337 != 1"),
        (JournalBinding(31337, "0x" + "22" * 32, a.account, "r"), "genesis 0x11111111… != 0x22222222…"),
        (JournalBinding(31337, a.genesis_hash, "0x" + "cd" * 20, "r"), "account"),
    ):
        j = TxJournal(path)
        with pytest.raises(ForeignJournalError, match="belongs to another chain or account") as err:
            j.bind(other)
        assert word in str(err.value) and str(path) in str(err.value)
        j.close()
    records = [json.loads(x) for x in path.read_text().splitlines()]
    assert [r["event"] for r in records] == ["bind", "closed", "resume", "closed"]
    assert records[-1]["summary"] == {"hedges_sent": 0}


def test_kill_switch_present_at_start_refuses(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    switch = tmp_path / "STOP"
    switch.write_text("")
    addresses = tmp_path / "a.json"
    fake = ["0x" + "00" * 19 + f"{i:02x}" for i in range(1, 16)]
    pools = tuple(PoolInfo("uniswap_v3", fake[12 + k], fake[2], fake[3], fee) for k, fee in enumerate((500, 3000)))
    addresses.write_text(TestbedAddresses(31337, *fake[:12], pools=pools).to_json())  # type: ignore[arg-type]
    argv = live_argv("http://127.0.0.1:9", tmp_path / "ks.json", addresses, tmp_path / "j.jsonl", "--blocks", "1")
    assert main([*argv, "--kill-switch", str(switch)]) == 2
    assert "kill_switch" in capsys.readouterr().err and not (tmp_path / "j.jsonl").exists()


def test_journaled_transaction_past_its_deadline_is_dropped_never_sent(
    hardhat: Any, clean_chain: TestbedAddresses, tmp_path: Path
) -> None:
    """Signed and journaled, never broadcast (the process died); the chain's clock passes its deadline: on restart
    it is marked dropped and never sent, and its nonce is used by the next transaction."""
    from keel.chain import KeystoreSigner, TxRequest, write_keystore

    keystore = tmp_path / "ks.json"
    address = write_keystore(keystore, "0x" + "e1" * 32, "pw", iterations=2**10)
    journal = tmp_path / "j.jsonl"

    async def go() -> None:
        client = await ChainClient.connect(hardhat.url, expected_chain_id=31337)
        await client.rpc("hardhat_setBalance", [address, hex(10**19)])
        genesis = await client.genesis_hash()
        head = await client.get_block("latest")
        j = TxJournal(journal)
        j.bind(JournalBinding(31337, genesis, address, "r"))
        tm = await TransactionManager.open(client, KeystoreSigner(keystore, password="pw"), j, GasPolicy())
        deadline = int(head["timestamp"]) + 60
        await tm.prepare("late", TxRequest(to=clean_chain.deployer, value=7), deadline_s=deadline)
        j.close()  # "killed": journaled, not sent
        await client.rpc("evm_increaseTime", [600])
        await client.rpc("evm_mine")
        j2 = TxJournal(journal)
        j2.bind(JournalBinding(31337, genesis, address, "r"))
        tm2 = await TransactionManager.open(client, KeystoreSigner(keystore, password="pw"), j2, GasPolicy())
        assert await tm2.recover() == []
        assert j2.intents["late"].status == "dropped" and tm2.rebroadcasts == []
        assert await client.nonce(address, "latest") == 0  # never sent
        r = await tm2.send("next", TxRequest(to=clean_chain.deployer, value=1))
        assert r.status == 1 and j2.intents["next"].nonce == 0  # the freed nonce is used
        j2.close()
        await client.close()

    run(go())
    records = [json.loads(x) for x in journal.read_text().splitlines()]
    dropped = [r for r in records if r["event"] == "dropped"]
    assert len(dropped) == 1 and "deadline" in dropped[0]["reason"]
    assert not [r for r in records if r["event"] in ("sent", "rebroadcast") and r["intent"] == "late"]


def test_reconciliation_adopts_external_tx_and_stops_on_rewritten_chain(
    hardhat: Any,
    clean_chain: TestbedAddresses,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from keel.chain import KeystoreSigner, TxRequest
    from tests.chain.live_support import rpc

    monkeypatch.setenv("KEEL_KEYSTORE_PASSWORD", PASSWORD)
    tb = clean_chain
    keystore, account = funded_account(hardhat.url, tb, tmp_path, "0x" + "f3" * 32)
    addresses = tmp_path / "addresses.json"
    addresses.write_text(tb.to_json())
    journal = tmp_path / "journal.jsonl"
    argv = live_argv(hardhat.url, keystore, addresses, journal, "--anchor-to-chain", "--blocks", "1")
    snapshot = rpc(hardhat.url, "evm_snapshot")
    assert main(argv) == 0
    capsys.readouterr()

    async def outside() -> None:  # the same key used elsewhere: a transaction the journal never saw
        client = await ChainClient.connect(hardhat.url)
        tm = await TransactionManager.open(client, KeystoreSigner(keystore, password=PASSWORD), TxJournal(None))
        await tm.send("elsewhere", TxRequest(to=tb.deployer, value=1))
        await client.close()

    run(outside())
    before = nonce(hardhat.url, account)
    assert main([*argv, "--json"]) == 0
    out = capsys.readouterr()
    assert json.loads(out.out)["external_txs"] == 1
    assert f"external tx nonce {before - 1} " in out.err and "(adopted)" in out.err
    records = [json.loads(x) for x in journal.read_text().splitlines()]
    assert [r["nonce"] for r in records if r["event"] == "external"] == [before - 1]

    # the chain is rewritten under the journal (same genesis): journaled mined transactions are gone
    assert rpc(hardhat.url, "evm_revert", snapshot) is True
    text = journal.read_text()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "the chain was reset or rewritten" in err and err.count("\n") == 1
    assert nonce(hardhat.url, account) == 2  # nothing sent (the two vault-deposit transactions of the funding)
    assert journal.read_text().startswith(text)


@pytest.mark.parametrize("blocks", ["0", "-3", str(10**30)])
def test_blocks_out_of_range_refused_before_the_node(
    blocks: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--blocks`` outside [1, a year of 1 s blocks]: exit 2, one line naming it, nothing journaled (no node)."""
    addresses = tmp_path / "a.json"
    fake = ["0x" + "00" * 19 + f"{i:02x}" for i in range(1, 16)]
    pools = tuple(PoolInfo("uniswap_v3", fake[12 + k], fake[2], fake[3], fee) for k, fee in enumerate((500, 3000)))
    addresses.write_text(TestbedAddresses(31337, *fake[:12], pools=pools).to_json())  # type: ignore[arg-type]
    argv = live_argv("http://127.0.0.1:9", tmp_path / "ks.json", addresses, tmp_path / "j.jsonl", "--blocks", blocks)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: blocks=") and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "j.jsonl").exists()
