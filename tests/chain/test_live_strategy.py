"""The custom strategy in examples/strategies/ (an [[agents]] user class) runs live on the testbed from the config
`keel simulate` runs (its market started at the testbed's price): built by keel.runtime.build_world, its swaps
signed, journaled and filled as predicted."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from keel.chain import TestbedAddresses
from keel.cli import main
from tests.chain.conftest import ROOT
from tests.chain.live_support import PASSWORD, USDC, funded_account, live_argv, nonce

pytestmark = [pytest.mark.hardhat, pytest.mark.slow]


def test_custom_strategy_runs_live(
    hardhat: Any,
    clean_chain: TestbedAddresses,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KEEL_KEYSTORE_PASSWORD", PASSWORD)
    tb = clean_chain
    keystore, account = funded_account(hardhat.url, tb, tmp_path, "0x" + "c7" * 32, usdc=500_000 * USDC, vault=0)
    addresses = tmp_path / "addresses.json"
    addresses.write_text(tb.to_json())
    # examples/custom_strategy.toml with its GBM path started at the testbed pool's price (2000, not 2270), so
    # the oracle's reference feed and the pool agree (on a mismatch the sells are refused: 'Too little received')
    text = (ROOT / "examples" / "custom_strategy.toml").read_text()
    assert "s0 = 2270.0" in text
    config = tmp_path / "custom_strategy.toml"
    config.write_text(text.replace("s0 = 2270.0", "s0 = 2000.0"))
    argv = live_argv(hardhat.url, keystore, addresses, tmp_path / "j.jsonl", "--anchor-to-chain", config=config)
    assert main([*argv, "--blocks", "3", "--json"]) == 0
    out = capsys.readouterr()
    summary = json.loads(out.out)
    assert "agents   rebalancer" in out.err  # the [[agents]] entry, built by build_world
    assert summary["hedges_filled"] >= 1, summary["hedges"]
    assert summary["hedges_failed"] == summary["hedges_refused"] == 0, summary["hedges"]
    assert all(h["amount_out"] == h["predicted_out"] for h in summary["hedges"]), summary["hedges"]
    assert summary["wei_check"] == "equal"
    assert {h["intent"].split(":")[0] for h in summary["hedges"]} == {"rebalancer"}
    assert nonce(hardhat.url, account) >= 3  # approvals (bounded by the balances) and the rebalancing swap(s)
