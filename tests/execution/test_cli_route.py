"""`keel route` on the rebuilt real pool state."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from keel.cli import main
from keel.cli.app import app


def test_route_json_plan_is_consistent() -> None:
    res = CliRunner().invoke(app, ["route", "USDC", "WETH", "2500000", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["amount_in"] == "2500000.000000"
    assert len(out["legs"]) >= 2  # a 2.5M trade is worth splitting across tiers
    total_in = sum(float(leg["amount_in"]) for leg in out["legs"])
    assert abs(total_in - 2_500_000) < 1e-6
    assert float(out["net_amount_out"]) >= float(out["best_single_net_out"])


def test_route_bad_input_is_one_line(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["route", "USDC", "DAI", "5"]) == 2
    assert "buy='DAI': unknown token" in capsys.readouterr().err
    assert main(["route", "USDC", "WETH", "--", "-5"]) == 2
    assert main(["route", "USDC", "WETH", "0.0000001"]) == 2  # finer than USDC's 6 decimals
