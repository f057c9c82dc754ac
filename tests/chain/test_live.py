"""Live mode end to end on Hardhat: the simulation's DeltaHedger trades through the real routers with
signed transactions, and the account's token balances equal, to the wei, what keel.venues predicted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from keel.chain import (
    ChainClient,
    DevSigner,
    GasPolicy,
    KeystoreSigner,
    TestbedAddresses,
    TransactionManager,
    TxJournal,
    VaultClient,
    call_request,
    fund_account,
    write_keystore,
)
from keel.chain.signer import HARDHAT_DEV_KEYS
from keel.cli import main
from keel.cli.live import run_live
from keel.sim.config import load_config
from tests.chain.conftest import ROOT, run

pytestmark = [pytest.mark.hardhat, pytest.mark.slow]

KEY = "0x" + "3c" * 32
CONFIG = ROOT / "examples" / "eth_options_desk.toml"


async def _fund(url: str, tb: TestbedAddresses, account: str) -> None:
    client = await ChainClient.connect(url)
    tm = await TransactionManager.open(client, DevSigner(HARDHAT_DEV_KEYS[0]), TxJournal(None), GasPolicy())
    await fund_account(client, tm, tb, account, eth=10 * 10**18, weth=40 * 10**18, usdc=2_000_000 * 10**6)
    await client.close()


def test_live_hedger_matches_venues_to_the_wei(hardhat: Any, clean_chain: TestbedAddresses, tmp_path: Path) -> None:
    tb = clean_chain
    keystore = tmp_path / "ks.json"
    account = write_keystore(keystore, KEY, "live-pw", iterations=2**10)
    run(_fund(hardhat.url, tb, account))

    async def deposit() -> None:  # collateral the margin engine reads from the vault before quoting
        client = await ChainClient.connect(hardhat.url)
        tm = await TransactionManager.open(client, KeystoreSigner(keystore, password="live-pw"), TxJournal(None))
        usdc = client.contract("KeelToken", tb.usdc)
        await tm.send("approve-vault", call_request(usdc, "approve", tb.vault, 250_000 * 10**6))
        await VaultClient(client, tm, tb.vault).deposit("deposit", 250_000 * 10**6)
        await client.close()

    run(deposit())
    config = load_config(CONFIG)
    lines: list[str] = []
    journal = tmp_path / "journal.jsonl"
    result = run(
        run_live(
            hardhat.url,
            config,
            keystore=keystore,
            pool_address=tb.pool("uniswap_v3", config.pool.fee).address,
            v3_router=tb.swap_router,
            v2_router=tb.v2_router,
            journal=journal,
            blocks=3,
            mine=True,
            anchor_to_chain=True,
            expected_chain_id=31337,
            vault=tb.vault,
            echo=lambda *a: lines.append(" ".join(str(x) for x in a)),
            prompt=lambda _: "live-pw",
        )
    )
    out = "\n".join(lines)
    # announced before trading: chain id, account, balances
    assert "chain id 31337" in out and account in out and "USDC" in out and "WETH" in out
    assert result.vault_collateral == 250_000 * 10**6 and "margin   portfolio" in out
    assert result.initial_margin_usd > result.maintenance_margin_usd > 0
    assert result.hedges, "a short call strip has delta: the agent must hedge"
    for h in result.hedges:
        assert h.status == "ok" and h.amount_out == h.predicted_out, result.hedges
    assert result.balances_match, (result.end_balances, result.predicted_balances)
    fills = [e for e in result.events if e["kind"] == "hedge_fill"]
    assert len(fills) == len(result.hedges)  # the agent booked one fill per receipt, as in simulation
    assert result.book_balances == result.end_balances  # the agent booked exactly what the chain did
    assert result.start_balances["USDC"] != result.end_balances["USDC"]
    assert abs(result.end_delta) < abs(result.start_delta)
    text = out + result.to_json() + journal.read_text()
    assert KEY[2:] not in text.lower()


def test_live_cli_requires_flag_and_runs(
    hardhat: Any, clean_chain: TestbedAddresses, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    tb = clean_chain
    keystore = tmp_path / "ks.json"
    account = write_keystore(keystore, KEY, "live-pw", iterations=2**10)
    run(_fund(hardhat.url, tb, account))
    addresses = tmp_path / "addresses.json"
    addresses.write_text(tb.to_json())
    monkeypatch.setenv("KEEL_KEYSTORE_PASSWORD", "live-pw")
    common = ["--rpc", hardhat.url, "--keystore", str(keystore), "--addresses", str(addresses)]
    assert main(["run", str(CONFIG), *common]) == 2
    assert "--live" in capsys.readouterr().err
    wrong = ["run", "--live", str(CONFIG), *common, "--chain-id", "1", "--journal", str(tmp_path / "j0.jsonl")]
    assert main(wrong) == 2
    assert "chain_id=31337" in capsys.readouterr().err
    report = tmp_path / "report.json"
    journal = tmp_path / "j.jsonl"
    argv = ["run", "--live", str(CONFIG), *common, "--blocks", "2", "--mine", "--anchor-to-chain"]
    assert main([*argv, "--journal", str(journal), "--report", str(report)]) == 0
    out = capsys.readouterr()
    assert "chain id 31337" in out.out and account in out.out
    assert "to the wei" in out.out
    everything = out.out + out.err + report.read_text() + journal.read_text()
    assert KEY[2:] not in everything.lower()
