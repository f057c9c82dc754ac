"""The private key never appears in any output: logs (every logger at DEBUG, web3's included),
error messages and tracebacks, reprs, the journal, the live report and the CLI's output."""

from __future__ import annotations

import base64
import io
import logging
import traceback
from pathlib import Path
from typing import Any

import pytest

from keel.chain import (
    ChainClient,
    GasPolicy,
    KeystoreSigner,
    SwapExecutor,
    TestbedAddresses,
    TransactionManager,
    TxJournal,
    TxRequest,
    VaultClient,
    write_keystore,
)
from keel.cli import main
from tests.chain.conftest import run

pytestmark = pytest.mark.hardhat

KEY_HEX = "9f" + "1e" * 30 + "a7"
KEY = "0x" + KEY_HEX


def _forms() -> list[str]:
    raw = bytes.fromhex(KEY_HEX)
    return [
        KEY_HEX.lower(),
        KEY_HEX.upper(),
        str(int(KEY_HEX, 16)),
        base64.b64encode(raw).decode(),
        repr(raw)[2:-1],
        str(list(raw))[1:-1],
    ]


def _assert_clean(text: str) -> None:
    for form in _forms():
        assert form not in text and form.lower() not in text.lower(), "private key material leaked"


def test_no_key_in_any_output(
    hardhat: Any, clean_chain: TestbedAddresses, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tb = clean_chain
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    collected: list[str] = []

    def keep(exc: BaseException) -> None:
        collected.append(str(exc))
        collected.append(repr(exc))
        collected.append("".join(traceback.format_exception(exc)))

    try:
        keystore = tmp_path / "ks.json"
        address = write_keystore(keystore, KEY, "pw", iterations=2**10)
        collected.append(keystore.read_text())  # the encrypted file itself holds no plain key

        async def go() -> None:
            client = await ChainClient.connect(hardhat.url, expected_chain_id=31337)
            await client.rpc("hardhat_setBalance", [address, hex(10**19)])
            for bad in ("wrong", ""):
                try:
                    KeystoreSigner(keystore, password=bad)
                except Exception as exc:
                    keep(exc)
            signer = KeystoreSigner(keystore, password="pw")
            journal = TxJournal(tmp_path / "journal.jsonl")
            tm = await TransactionManager.open(client, signer, journal, GasPolicy())
            r = await tm.send("pay", TxRequest(to=tb.deployer, value=123))
            collected.extend([repr(signer), str(signer), repr(tm), repr(client), repr(journal), repr(r)])
            collected.append(
                repr(
                    await signer.sign_transaction(
                        {"chainId": 1, "nonce": 0, "gas": 21000, "maxFeePerGas": 2, "maxPriorityFeePerGas": 1}
                    )
                )
            )
            ex = SwapExecutor(client, tm, v3_router=tb.swap_router, v2_router=tb.v2_router)
            vault = VaultClient(client, tm, tb.vault)
            failing = [
                tm.send("too-much", TxRequest(to=tb.deployer, value=10**30)),
                ex.swap_exact_in(
                    "no-usdc", kind="uniswap_v3", token_in=tb.usdc, token_out=tb.weth, amount_in=1, min_amount_out=0
                ),
                vault.deposit("no-allowance", 1),
                tm.send("revert", TxRequest(to=tb.weth, data=b"\x12\x34\x56\x78")),
                signer.sign_transaction({"nonce": 0}),
            ]
            for coro in failing:
                try:
                    await coro
                except Exception as exc:
                    keep(exc)
            collected.extend([repr(ex), repr(vault)])
            journal.close()
            await client.close()

        run(go())
        collected.append((tmp_path / "journal.jsonl").read_text())
        # the CLI: a wrong password and a testbed command, output captured
        monkey_env = {"KEEL_KEYSTORE_PASSWORD": "wrong"}
        import os

        old = os.environ.get("KEEL_KEYSTORE_PASSWORD")
        os.environ.update(monkey_env)
        try:
            addresses = tmp_path / "addresses.json"
            addresses.write_text(tb.to_json())
            argv = [
                "run",
                "--live",
                "examples/eth_options_desk.toml",
                "--rpc",
                hardhat.url,
                "--keystore",
                str(keystore),
                "--addresses",
                str(addresses),
                "--journal",
                str(tmp_path / "j2.jsonl"),
            ]
            assert main(argv) == 2
        finally:
            if old is None:
                os.environ.pop("KEEL_KEYSTORE_PASSWORD", None)
            else:
                os.environ["KEEL_KEYSTORE_PASSWORD"] = old
        out = capsys.readouterr()
        assert "wrong password" in out.err
        collected.extend([out.out, out.err])
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    logs = buffer.getvalue()
    assert "eth_sendRawTransaction" in logs, "web3's DEBUG request log was not captured: the scan would be vacuous"
    with pytest.raises(AssertionError):
        _assert_clean("prefix " + KEY_HEX.upper() + " suffix")  # the scanner does catch a leak
    collected.append(logs)
    assert len(collected) > 20
    for text in collected:
        _assert_clean(text)


def test_keystore_commands_never_show_key_or_password(
    hardhat: Any,
    clean_chain: TestbedAddresses,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`keel keystore new|import|address` and a live run with the imported key: the key and the password
    appear in no output, journal, summary or file other than the (encrypted) keystore."""
    import json
    import stat

    from eth_account import Account

    from tests.chain.live_support import _fund

    password = "Corr3ct-horse-battery"
    outputs: list[str] = []
    monkeypatch.delenv("KEEL_KEYSTORE_PASSWORD", raising=False)
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    imported, created = tmp_path / "imported.json", tmp_path / "created.json"
    key_file = tmp_path / "key.txt"
    key_file.write_text(KEY + "\n")
    # no password anywhere and no terminal: refused, nothing written
    assert main(["keystore", "import", str(imported), "--key-file", str(key_file)]) == 2
    out = capsys.readouterr()
    assert "KEEL_KEYSTORE_PASSWORD" in out.err and not imported.exists()
    outputs += [out.out, out.err]
    monkeypatch.setenv("KEEL_KEYSTORE_PASSWORD", password)
    assert main(["keystore", "import", str(imported), "--key-file", str(key_file)]) == 0
    out = capsys.readouterr()
    address = Account.from_key(KEY).address
    assert out.out.strip() == address
    assert stat.S_IMODE(imported.stat().st_mode) == 0o600
    assert json.loads(imported.read_text())["crypto"]["kdf"] == "scrypt"
    outputs += [out.out, out.err]
    assert main(["keystore", "import", str(imported), "--key-file", str(key_file)]) == 2  # never overwrites
    bad = tmp_path / "bad.txt"
    bad.write_text("zz" + KEY_HEX[2:])
    assert main(["keystore", "import", str(tmp_path / "x.json"), "--key-file", str(bad)]) == 2
    assert main(["keystore", "address", str(imported)]) == 0
    assert main(["keystore", "new", str(created)]) == 0
    out = capsys.readouterr()
    outputs += [out.out, out.err]
    lines = out.out.split()
    assert lines[0] == address and lines[-1].startswith("0x") and len(lines[-1]) == 42
    new_key = bytes(Account.decrypt(json.loads(created.read_text()), password)).hex()
    assert Account.from_key(new_key).address == lines[-1]

    # a live run signing with the imported keystore
    run(_fund(hardhat.url, clean_chain, address, 3_600_000 * 10**6, 10_000_000 * 10**6, 10 * 10**18))
    addresses = tmp_path / "addresses.json"
    addresses.write_text(clean_chain.to_json())
    journal, report = tmp_path / "j.jsonl", tmp_path / "r.json"
    argv = [
        "run", "--live", "examples/eth_options_desk.toml", "--rpc", hardhat.url, "--keystore", str(imported),
        "--addresses", str(addresses), "--journal", str(journal), "--report", str(report), "--mine",
        "--anchor-to-chain", "--blocks", "1", "--json",
    ]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr()
    outputs += [out.out, out.err, journal.read_text(), report.read_text()]
    everything = "\n".join(outputs)
    for text in outputs:
        _assert_clean(text)
    for secret in (new_key, new_key.upper(), password):
        assert secret not in everything
    for keystore in (imported, created):
        assert password not in keystore.read_text() and KEY_HEX not in keystore.read_text().lower()
