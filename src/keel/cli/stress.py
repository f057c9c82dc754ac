"""``keel stress SCENARIO [--json]``: run a stress scenario through the clearing house.

``keel stress --list`` names the scenarios.  The JSON report carries ``bad_debt``,
``insurance_fund_start``, ``insurance_fund_end``, ``socialized_loss``, ``liquidations``,
``adl_volume`` and ``ledger_imbalance`` (exactly 0), plus context fields.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from keel.cli.app import app
from keel.errors import ValidationError
from keel.risk.stress import MARGIN_MODES, SCENARIOS, run_stress


@app.command("stress")
def stress_command(
    scenario: str = typer.Argument("", help="Scenario name (see --list)."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    list_: bool = typer.Option(False, "--list", help="List the scenarios and exit."),
    margin: str = typer.Option("predictive", "--margin", help="Margin for delta-one accounts: predictive or standard."),
    seed: int = typer.Option(7, "--seed", help="Seed of the account population."),
    data: Path | None = typer.Option(None, "--data", help="Data folder (default: the project's data/)."),
) -> None:
    """Replay a real incident (crash, oracle lag, squeeze) and report bad debt, insurance and ADL."""
    if list_:
        for name, sc in SCENARIOS.items():
            typer.echo(f"{name:22s} {sc.title}")
        return
    if not scenario:
        raise ValidationError("scenario", scenario, f"name one of {', '.join(SCENARIOS)} (or use --list)")
    if margin not in MARGIN_MODES:
        raise ValidationError("margin", margin, f"must be one of {', '.join(MARGIN_MODES)}")
    report = run_stress(scenario, data_dir=data, seed=seed, margin=margin)
    out = report.to_dict()
    out["margin"] = margin
    if as_json:
        typer.echo(json.dumps(out, indent=2))
        return
    for key, value in out.items():
        if key == "notes":
            for note in value:
                typer.echo(f"  note: {note}")
        else:
            typer.echo(f"{key:22s} {value}")
