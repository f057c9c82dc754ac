"""Live mode on the Hardhat testbed through `keel run --live` (in process): the config's hedger trades through
the real routers; nothing is signed before the preflight passes; results and exit codes are honest."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from keel.chain import (
    ChainClient,
    GasPolicy,
    KeystoreSigner,
    TestbedAddresses,
    TransactionManager,
    TxJournal,
    call_request,
)
from keel.cli import main
from tests.chain.conftest import ROOT, run
from tests.chain.live_support import (
    PASSWORD,
    USDC,
    allowance,
    funded_account,
    live_argv,
    nonce,
    token_balance,
)

pytestmark = [pytest.mark.hardhat, pytest.mark.slow]


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEEL_KEYSTORE_PASSWORD", PASSWORD)


def _addresses(tb: TestbedAddresses, tmp: Path) -> Path:
    path = tmp / "addresses.json"
    path.write_text(tb.to_json())
    return path


def test_live_hedges_equal_prediction_resume_and_80_columns(
    hardhat: Any, clean_chain: TestbedAddresses, tmp_path: Path, capsys: pytest.CaptureFixture[str], env: None
) -> None:
    tb = clean_chain
    key = "0x" + "3c" * 32
    keystore, account = funded_account(hardhat.url, tb, tmp_path, key)
    addresses = _addresses(tb, tmp_path)
    journal, report = tmp_path / "journal.jsonl", tmp_path / "report.json"
    argv = live_argv(hardhat.url, keystore, addresses, journal, "--anchor-to-chain", "--blocks", "3")
    assert main([*argv, "--report", str(report)]) == 0
    out = capsys.readouterr()
    lines = out.out.splitlines()
    assert "chain id 31337" in out.out and account in out.out
    assert "plan" in out.out and "margin   portfolio" in out.out
    ours = [line for line in lines if str(tmp_path) not in line]  # the user's own paths may be long
    assert max(len(line) for line in ours) <= 80, [line for line in ours if len(line) > 80]
    summary = json.loads(report.read_text())
    assert summary["hedges_sent"] == summary["hedges_filled"] > 0
    assert summary["hedges_failed"] == 0 and summary["rebroadcast"] == 0
    assert summary["wei_check"] == "equal" and summary["exit_code"] == 0
    for h in summary["hedges"]:
        assert h["status"] == "filled" and h["amount_out"] == h["predicted_out"]
    assert summary["end_balances"] == summary["predicted_balances"] == summary["book_balances"]
    assert "to the wei" in out.out
    # bounded approvals: what the plan needs, not max uint256
    assert 0 < allowance(hardhat.url, tb.usdc, account, tb.swap_router) < 10**30
    assert abs(summary["end_delta"]) < abs(summary["start_delta"])
    # the journal is bound and closed with the summary
    records = [json.loads(x) for x in journal.read_text().splitlines()]
    assert records[0]["event"] == "bind" and records[0]["chain_id"] == 31337 and records[0]["account"] == account
    assert records[-1]["event"] == "closed" and records[-1]["summary"]["hedges_filled"] == summary["hedges_filled"]

    # a second run on the same journal resumes it: same run id, --json on stdout, nothing re-sent
    sent_before = nonce(hardhat.url, account)
    assert main([*argv[:-2], "--blocks", "1", "--json"]) == 0
    out = capsys.readouterr()
    again = json.loads(out.out)
    assert again["run_id"] == summary["run_id"] and again["rebroadcast"] == 0
    assert {"hedges_sent", "hedges_filled", "hedges_failed", "hedges_refused", "rebroadcast"} <= set(again)
    approvals = sum(1 for v in again["approvals"].values() if v != "already allowed")  # topped up to the plan
    assert nonce(hardhat.url, account) == sent_before + again["hedges_sent"] + approvals
    assert again["wei_check"] in ("equal", "no fills")
    text = out.out + out.err + journal.read_text() + report.read_text()
    assert key[2:] not in text.lower() and PASSWORD not in text


def test_config_error_after_the_chain_is_reached_sends_nothing(
    hardhat: Any, clean_chain: TestbedAddresses, tmp_path: Path, capsys: pytest.CaptureFixture[str], env: None
) -> None:
    tb = clean_chain
    keystore, account = funded_account(hardhat.url, tb, tmp_path, "0x" + "4d" * 32)
    addresses = _addresses(tb, tmp_path)
    before = nonce(hardhat.url, account)
    # the example's expiry (2024-01-12) is in the past of the chain's clock: found only once the chain is read
    argv = live_argv(hardhat.url, keystore, addresses, tmp_path / "j.jsonl", "--blocks", "2")
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: options.svi.0.expiry=")
    assert "has already passed on this chain" in err
    assert nonce(hardhat.url, account) == before  # nothing signed, nothing sent
    assert allowance(hardhat.url, tb.usdc, account, tb.swap_router) == 0


def test_underfunded_and_undercollateralized_refused_before_any_signature(
    hardhat: Any, clean_chain: TestbedAddresses, tmp_path: Path, capsys: pytest.CaptureFixture[str], env: None
) -> None:
    tb = clean_chain
    # funded as the old README did: 100,000 USDC, no vault collateral
    keystore, account = funded_account(hardhat.url, tb, tmp_path, "0x" + "5e" * 32, usdc=100_000 * USDC, vault=0)
    addresses = _addresses(tb, tmp_path)
    argv = live_argv(hardhat.url, keystore, addresses, tmp_path / "j.jsonl", "--anchor-to-chain", "--blocks", "2")
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: preflight: USDC balance 100,000.000000 <") and "worst-case hedge" in err
    assert nonce(hardhat.url, account) == 0 and allowance(hardhat.url, tb.usdc, account, tb.swap_router) == 0

    # enough USDC, but no collateral against the book's maintenance margin
    keystore2, account2 = funded_account(hardhat.url, tb, tmp_path / "b", "0x" + "6f" * 32, vault=0)
    argv = live_argv(hardhat.url, keystore2, addresses, tmp_path / "j2.jsonl", "--anchor-to-chain", "--blocks", "1")
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "vault collateral 0.00 USDC < maintenance margin" in err and "--allow-undercollateralized" in err
    assert nonce(hardhat.url, account2) == 0
    # explicitly allowed: it trades, and says so (and --approve-max gives the routers unlimited allowances)
    assert main([*argv, "--allow-undercollateralized", "--approve-max"]) == 0
    out = capsys.readouterr().out
    assert "WARNING  vault collateral" in out and "unlimited (--approve-max)" in out
    assert nonce(hardhat.url, account2) > 0
    assert allowance(hardhat.url, tb.usdc, account2, tb.swap_router) >= 2**255


class _OutOfGas(GasPolicy):
    """A gas limit at 60% of the estimate: every swap runs out of gas on chain (status 0)."""

    def gas_limit(self, estimate: int) -> int:
        return max(30_000, estimate * 6 // 10)


def test_all_hedges_failing_exits_non_zero_with_right_counts(
    hardhat: Any,
    clean_chain: TestbedAddresses,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    env: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tb = clean_chain
    keystore, account = funded_account(hardhat.url, tb, tmp_path, "0x" + "71" * 32)

    async def approve() -> None:  # allowances in place, so the run sends hedges only
        client = await ChainClient.connect(hardhat.url)
        tm = await TransactionManager.open(client, KeystoreSigner(keystore, password=PASSWORD), TxJournal(None))
        for token in (tb.usdc, tb.weth):
            c = client.contract("KeelToken", token)
            await tm.send(f"approve-{token}", call_request(c, "approve", tb.swap_router, 10**40))
        await client.close()

    run(approve())
    before = nonce(hardhat.url, account)
    usdc_before = token_balance(hardhat.url, tb.usdc, account)
    monkeypatch.setattr("keel.runtime.live.GasPolicy", _OutOfGas)
    addresses = _addresses(tb, tmp_path)
    argv = live_argv(hardhat.url, keystore, addresses, tmp_path / "j.jsonl", "--anchor-to-chain", "--blocks", "3")
    assert main([*argv, "--json"]) == 1
    out = capsys.readouterr()
    s = json.loads(out.out)
    assert s["hedges_sent"] > 0 and s["hedges_failed"] == s["hedges_sent"] and s["hedges_filled"] == 0
    assert s["exit_code"] == 1 and s["wei_check"] == "no fills"
    assert all(h["status"].startswith("failed") for h in s["hedges"])
    assert nonce(hardhat.url, account) == before + s["hedges_sent"]  # each failed hedge was one mined tx
    assert token_balance(hardhat.url, tb.usdc, account) == usdc_before  # reverted: no token moved
    assert "FAILED on chain" in out.err and "to the wei" not in out.err


def test_live_refuses_without_flag_and_on_wrong_chain(
    hardhat: Any, clean_chain: TestbedAddresses, tmp_path: Path, capsys: pytest.CaptureFixture[str], env: None
) -> None:
    tb = clean_chain
    addresses = _addresses(tb, tmp_path)
    common = ["--rpc", hardhat.url, "--keystore", str(tmp_path / "none.json"), "--addresses", str(addresses)]
    assert main(["run", str(ROOT / "examples" / "eth_options_desk.toml"), *common]) == 2
    assert "--live" in capsys.readouterr().err
    wrong = ["run", "--live", str(ROOT / "examples" / "eth_options_desk.toml"), *common, "--chain-id", "1"]
    assert main([*wrong, "--journal", str(tmp_path / "j0.jsonl")]) == 2
    assert "chain_id=31337" in capsys.readouterr().err
    assert not (tmp_path / "j0.jsonl").exists()
