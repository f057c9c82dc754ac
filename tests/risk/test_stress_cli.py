"""The stress suite and ``keel stress``: bad debt stays within the insurance fund, the ledger
balances exactly at every step (run_stress asserts it per step)."""

from __future__ import annotations

import json
from functools import cache

import pytest

from keel.cli import main
from keel.errors import ValidationError
from keel.risk.stress import SCENARIOS, StressReport, run_stress


@cache
def _run(name: str, margin: str = "predictive") -> StressReport:
    return run_stress(name, margin=margin)


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_scenario_bad_debt_within_the_fund(name: str) -> None:
    r = _run(name)  # predictive margin; exact ledger identity checked at every step
    assert r.ledger_imbalance == 0
    assert r.liquidations > 0
    assert r.bad_debt <= r.insurance_fund_start
    assert r.socialized_loss == 0.0
    assert r.insurance_fund_end >= 0.0


def test_predictive_margin_beats_the_static_schedule_on_may_19() -> None:
    pred = _run("may-19-2021")
    std = _run("may-19-2021", "standard")
    assert std.ledger_imbalance == 0
    assert pred.bad_debt < std.bad_debt


def test_cli_list_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stress", "--list"]) == 0
    out = capsys.readouterr().out
    assert all(n in out for n in SCENARIOS)
    assert main(["stress", "thin-squeeze", "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    for key in (
        "bad_debt",
        "insurance_fund_start",
        "insurance_fund_end",
        "socialized_loss",
        "liquidations",
        "adl_volume",
        "ledger_imbalance",
    ):
        assert key in rep
    assert rep["ledger_imbalance"] == 0
    assert main(["stress", "no-such-crash"]) == 2
    assert "scenario='no-such-crash'" in capsys.readouterr().err
    with pytest.raises(ValidationError, match="margin"):
        run_stress("thin-squeeze", margin="magic")


def test_cli_backtest_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stress", "--backtest", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["series"] for r in rows} == {"BTC-2020-03-12", "BTC-2025-10-10", "ETH-2024-01-05"}
    best = [r for r in rows if r["model"] == "garch" and r["apc"] == "buffer"]
    assert len(best) == 3 and all(r["p_value"] > 0.05 for r in best)
    assert all(r["target"] == 0.01 for r in rows)
