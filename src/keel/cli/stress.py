"""``keel stress SCENARIO [--json]``: run a stress scenario through the clearing house.

``keel stress --list`` names the scenarios; ``keel stress --backtest`` runs the Kupiec
backtest of the predictive margin on the real minute data.  The JSON report carries ``bad_debt``,
``insurance_fund_start``, ``insurance_fund_end``, ``socialized_loss``, ``liquidations``,
``adl_volume`` and ``ledger_imbalance`` (exactly 0), plus context fields.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from keel.cli.app import app
from keel.errors import ValidationError


@app.command("stress")
def stress_command(
    scenario: str = typer.Argument("", help="Scenario name (see --list)."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    list_: bool = typer.Option(False, "--list", help="List the scenarios and exit."),
    backtest: bool = typer.Option(False, "--backtest", help="Kupiec backtest of the predictive margin on real data."),
    margin: str = typer.Option("predictive", "--margin", help="Margin for delta-one accounts: predictive or standard."),
    seed: int = typer.Option(7, "--seed", help="Seed of the account population."),
    data: Path | None = typer.Option(None, "--data", help="Data folder (default: the project's data/)."),
    grid: bool = typer.Option(False, "--grid", help="Every scenario (or the one named) x margin model x seed, on Ray."),
    margins: str = typer.Option("predictive,standard", "--margins", help="With --grid: margin models."),
    seeds: str = typer.Option("7", "--seeds", help="With --grid: seeds (N, A-B or a comma list)."),
    address: str | None = typer.Option(None, "--address", help="With --grid: Ray address (local, auto, ray://...)."),
    workers: int | None = typer.Option(None, "--workers", help="With --grid: local Ray CPUs."),
) -> None:
    """Replay a real incident (crash, oracle lag, squeeze) and report bad debt, insurance and ADL."""
    if grid:
        _stress_grid(scenario, margins, seeds, data, address, workers, as_json)
        return
    from keel.risk.backtest import backtest_real_data
    from keel.risk.stress import MARGIN_MODES, SCENARIOS, run_stress

    if list_:
        for name, sc in SCENARIOS.items():
            typer.echo(f"{name:22s} {sc.title}")
        return
    if backtest:
        rows = [
            {
                "series": b.series,
                "model": b.method,
                "apc": b.apc,
                "n": b.kupiec.n,
                "exceedances": b.kupiec.exceedances,
                "rate": b.kupiec.rate,
                "target": round(b.kupiec.target, 6),
                "kupiec_lr": b.kupiec.lr,
                "p_value": b.kupiec.p_value,
                "mean_range": b.mean_range,
            }
            for b in backtest_real_data(data)
        ]
        if as_json:
            typer.echo(json.dumps(rows, indent=2))
        else:
            for r in rows:
                typer.echo(
                    f"{r['series']:16s} {r['model']:5s} {r['apc']:15s} n={r['n']:5d} exceed={r['exceedances']:3d} "
                    f"rate={r['rate']:.2%} target={r['target']:.2%} LR={r['kupiec_lr']:7.2f} p={r['p_value']:.3f}"
                )
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


def _stress_grid(
    scenario: str, margins: str, seeds: str, data: Path | None, address: str | None, workers: int | None, as_json: bool
) -> None:
    from keel.runtime.distributed import RayBackend, ray_address_from_env
    from keel.runtime.sweeps import parse_seeds, stress_grid

    names = [scenario] if scenario else None
    mods = [m.strip() for m in margins.split(",") if m.strip()]
    seed_list = parse_seeds(seeds)
    backend = RayBackend(address or ray_address_from_env(), workers)
    with backend:
        frame = stress_grid(names, mods, seed_list, data_dir=data, backend=backend)
    if as_json:
        typer.echo(json.dumps(frame.to_dicts(), indent=2, default=str))
        return
    wanted = ("scenario", "margin", "seed", "bad_debt", "socialized_loss", "liquidations", "adl_volume")
    cols = [c for c in (*wanted, "ledger_imbalance") if c in frame.columns]
    typer.echo(" ".join(f"{c:>18s}" for c in cols))
    for row in frame.select(cols).iter_rows():
        typer.echo(" ".join(f"{v:>18,.2f}" if isinstance(v, float) else f"{v!s:>18s}" for v in row))
