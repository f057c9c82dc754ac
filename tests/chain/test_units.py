"""Pure parts of keel.chain: keystore signer (against eth-account's own recovery), gas policy,
nonce manager, journal replay and locking, retry policy."""

from __future__ import annotations

import copy
import json
import pickle
from pathlib import Path

import pytest
from eth_account import Account

from keel.chain import (
    Attempt,
    FeeQuote,
    GasPolicy,
    KeystoreError,
    KeystoreSigner,
    NonceManager,
    RetryPolicy,
    TxJournal,
    TxRequest,
    write_keystore,
)
from keel.errors import ChainError, ValidationError
from tests.chain.conftest import run

KEY = "0x" + "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"


def _keystore(tmp_path: Path, password: str = "correct horse") -> Path:
    path = tmp_path / "key.json"
    write_keystore(path, KEY, password, iterations=2**10)
    return path


def test_keystore_signer_signs_what_eth_account_recovers(tmp_path: Path) -> None:
    path = _keystore(tmp_path)
    signer = KeystoreSigner(path, password="correct horse")
    assert signer.address == Account.from_key(KEY).address
    tx = {
        "type": 2,
        "chainId": 31337,
        "nonce": 7,
        "to": "0x000000000000000000000000000000000000dEaD",
        "value": 10**15,
        "gas": 21000,
        "maxFeePerGas": 3 * 10**9,
        "maxPriorityFeePerGas": 10**9,
        "data": b"",
    }
    signed = run(signer.sign_transaction(tx))
    assert Account.recover_transaction(signed.raw) == signer.address
    assert signed.raw == bytes(Account.sign_transaction(tx, KEY).raw_transaction)
    # the file is private to the user
    assert path.stat().st_mode & 0o077 == 0


def test_keystore_errors_name_the_file_never_the_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _keystore(tmp_path)
    monkeypatch.delenv("KEEL_KEYSTORE_PASSWORD", raising=False)
    with pytest.raises(KeystoreError, match="locked"):
        KeystoreSigner(path)
    with pytest.raises(KeystoreError, match="wrong password"):
        KeystoreSigner(path, password="nope")
    monkeypatch.setenv("KEEL_KEYSTORE_PASSWORD", "nope")
    with pytest.raises(KeystoreError, match="wrong password"):
        KeystoreSigner(path)
    monkeypatch.setenv("KEEL_KEYSTORE_PASSWORD", "correct horse")
    assert KeystoreSigner(path).address == Account.from_key(KEY).address
    assert KeystoreSigner(path, password_env="OTHER_VAR", prompt=lambda _: "correct horse").address
    with pytest.raises(KeystoreError, match="cannot read"):
        KeystoreSigner(tmp_path / "missing.json", password="x")
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(KeystoreError, match="not an encrypted keystore"):
        KeystoreSigner(tmp_path / "bad.json", password="x")
    with pytest.raises(ValidationError, match="password"):
        write_keystore(tmp_path / "k2.json", KEY, "")


def test_signer_hides_the_key_from_repr_pickle_and_copy(tmp_path: Path) -> None:
    signer = KeystoreSigner(_keystore(tmp_path), password="correct horse")
    text = repr(signer) + str(signer) + repr(vars(signer) if hasattr(signer, "__dict__") else "")
    for slot in ("_address", "_path", "_sealed"):
        text += repr(getattr(signer, slot))
    assert KEY[2:].lower() not in text.lower()
    with pytest.raises(TypeError):
        pickle.dumps(signer)
    with pytest.raises(TypeError):
        pickle.dumps(signer._sealed)
    with pytest.raises(TypeError):
        copy.deepcopy(signer._sealed)
    # a malformed transaction: the error names the field, not the key
    with pytest.raises(ValidationError, match="chainId") as info:
        run(signer.sign_transaction({"nonce": 0}))
    assert KEY[2:] not in str(info.value)


def test_gas_policy() -> None:
    p = GasPolicy(margin_bps=2000)
    assert p.gas_limit(100_000) == 120_000
    assert p.gas_limit(100_001) == 120_002  # rounded up
    f = p.fees(10**9, 2 * 10**8)
    assert f == FeeQuote(2 * 10**9 + 2 * 10**8, 2 * 10**8)
    b = p.bump(f)
    assert b.max_priority_fee_per_gas * 1000 >= f.max_priority_fee_per_gas * 1125
    assert b.max_fee_per_gas * 1000 >= f.max_fee_per_gas * 1125
    assert p.bump(FeeQuote(0, 0)).max_fee_per_gas == 1  # always strictly up
    assert GasPolicy(priority_fee_wei=5).fees(10, 999).max_priority_fee_per_gas == 5
    with pytest.raises(ValidationError, match="max_fee_per_gas"):
        GasPolicy(max_fee_cap_wei=10).fees(10, 1)
    with pytest.raises(ValidationError, match="replacement_bump_bps"):
        GasPolicy(replacement_bump_bps=500)
    with pytest.raises(ValidationError, match="gas_estimate"):
        p.gas_limit(0)


def test_nonce_manager_gaps_and_replacements() -> None:
    n = NonceManager("0xabc")
    n.sync(latest=5, pending=5)
    assert [n.reserve() for _ in range(3)] == [5, 6, 7]
    n.release(6)  # signing failed: 6 is a gap until refilled
    assert n.gaps(5) == [6]
    assert n.reserve() == 6  # refilled first
    n.release(7)  # the top one given back: the counter steps down
    assert n.next_nonce == 7 and n.reserve() == 7
    n.done(5)
    n.sync(latest=6, pending=10)  # another process used 8 and 9
    assert n.reserve() == 10
    n.adopt(12)  # a journaled transaction from before a restart
    assert n.next_nonce == 13
    n.rewind(11)  # the node lost 11 and 12 (not journaled): hand them out again
    assert n.next_nonce == 11 and n.reserve() == 11
    with pytest.raises(ValidationError):
        n.release(99)
    with pytest.raises(ValidationError):
        n.sync(latest=5, pending=4)


def _attempt(h: str, fee: int = 10) -> Attempt:
    return Attempt(h, "0x02", "0x000000000000000000000000000000000000dEaD", 1, "0x", 21000, fee, 1)


def test_journal_replays_survives_a_torn_line_and_locks(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    j = TxJournal(path)
    j.record_signed(intent="a", sender="0xS", chain_id=1, nonce=3, attempt=_attempt("0x01"))
    j.record_sent("a", "0x01")
    j.record_signed(intent="a", sender="0xS", chain_id=1, nonce=3, attempt=_attempt("0x02", 12))  # speed-up
    j.record_signed(intent="b", sender="0xS", chain_id=1, nonce=4, attempt=_attempt("0x03"))
    j.record_mined("b", "0x03", 10, "0xbb", 1)
    with pytest.raises(ChainError, match="in use"):
        TxJournal(path)  # a second process cannot open it
    with pytest.raises(ChainError, match="already journaled"):
        j.record_signed(intent="b", sender="0xS", chain_id=1, nonce=9, attempt=_attempt("0x04"))
    j.close()
    with open(path, "a") as fh:
        fh.write('{"event": "signed", "intent": "c", "no')  # killed mid-write
    j2 = TxJournal(path)
    assert [a.tx_hash for a in j2.intents["a"].attempts] == ["0x01", "0x02"]
    assert j2.intents["a"].status == "sent" and j2.intents["b"].status == "mined"
    assert "c" not in j2.intents
    assert [s.intent for s in j2.open_intents()] == ["a"]
    assert all(json.loads(line) for line in j2.lines()[:-1])
    j2.close()
    mem = TxJournal(None)
    mem.record_signed(intent="m", sender="0xS", chain_id=1, nonce=0, attempt=_attempt("0x05"))
    assert len(mem.lines()) == 1


def test_request_and_retry_validation() -> None:
    with pytest.raises(ValidationError, match="to="):
        TxRequest(to="0x1234")
    with pytest.raises(ValidationError, match="value"):
        TxRequest(to="0x000000000000000000000000000000000000dEaD", value=-1)
    with pytest.raises(ValidationError, match="data"):
        TxRequest(to=None)
    with pytest.raises(ValidationError, match="gas"):
        TxRequest(to="0x000000000000000000000000000000000000dEaD", gas=100)
    r = RetryPolicy(attempts=4, base_delay_s=0.1, max_delay_s=0.3)
    assert [r.delay(i) for i in range(4)] == [0.1, 0.2, 0.3, 0.3]
    with pytest.raises(ValidationError):
        RetryPolicy(attempts=0)


def test_artifacts_are_the_pinned_npm_builds_and_vyper_compiles_offline() -> None:
    from eth_utils.crypto import keccak

    from keel.chain import ARTIFACT_NAMES, load_artifact

    for name in ARTIFACT_NAMES:
        art = load_artifact(name)
        assert art.abi and len(art.bytecode) > 100, name
    # the periphery libraries hard-code these init-code hashes: the core artifacts must match them,
    # or the routers would compute pool addresses where no pool is
    v3 = keccak(hexstr=load_artifact("UniswapV3Pool").bytecode).hex()
    v2 = keccak(hexstr=load_artifact("UniswapV2Pair").bytecode).hex()
    assert v3 == "e34f199b19b2b4f47f68442619d555527d244f78a3297ea89325f843f87b8b54"
    assert v2 == "96e8ac4277198ff8b6f785478aa9a39f403cb768dd02cbee326c3e7da348845f"
    vault = {e["name"] for e in load_artifact("CollateralVault").abi if e.get("type") == "function"}
    assert {"deposit", "withdraw", "open_option", "post_settlement_price", "settle", "collateral_of"} <= vault
    with pytest.raises(ValidationError, match="artifact"):
        load_artifact("NoSuchContract")
