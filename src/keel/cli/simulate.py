"""``keel simulate CONFIG.toml``: run a scenario with a progress bar, print the summary, write the run folder."""

from __future__ import annotations

from pathlib import Path

import typer

from keel.cli.app import app


@app.command("simulate")
def simulate_command(
    config_path: Path = typer.Argument(..., help="scenario TOML file (see examples/)"),
    out: Path = typer.Option(Path("runs"), "--out", help="parent folder of the run folder runs/NAME"),
    seed: int | None = typer.Option(None, "--seed", help="override the config's seed"),
    quiet: bool = typer.Option(False, "--quiet", help="no progress bar"),
) -> None:
    """Run a derivatives book through a simulated chain; write report.html, events.parquet, summary.json."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from keel.sim.config import load_config
    from keel.sim.report import write_outputs
    from keel.sim.scenario import PNL_PARTS, run_scenario

    config = load_config(config_path)
    if seed is not None:
        config = config.model_copy(update={"seed": seed})
    console = Console()
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("blocks"),
        TimeElapsedColumn(),
        console=console,
        disable=quiet,
        transient=False,
    ) as progress:
        task = progress.add_task(config.name, total=None)

        def update(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        result = run_scenario(config, Path("."), update)
    s = result.summary
    table = Table(title=f"{config.name}: PnL attribution (USD)")
    table.add_column("component")
    table.add_column("USD", justify="right")
    for key in PNL_PARTS:
        table.add_row(key.replace("_", " "), f"{s['pnl'][key] or 0.0:,.2f}")
    table.add_row("[bold]total", f"[bold]{s['pnl']['total'] or 0.0:,.2f}")
    console.print(table)
    mm = s["min_margin_ratio"]
    lines = [
        f"max drawdown        {s['max_drawdown_usd']:,.2f} USD",
        (
            f"min margin ratio    {mm:,.3f} (equity / maintenance; below 1 is liquidatable)"
            if mm is not None
            else "min margin ratio    n/a (no margined positions)"
        ),
        f"liquidations        {s['liquidations']}",
        f"chain               {s['blocks']} blocks, {s['chain']['transactions']} txs, {s['chain']['reverts']} reverts, "
        f"{s['chain']['sandwiches']} sandwiches, {s['chain']['arbitrages']} arbitrages, "
        f"base fee mean {s['chain']['base_fee_gwei_mean']} gwei",
    ]
    if "perp" in s:
        p = s["perp"]
        lines.append(
            f"perp venue          {p['liquidations']} liquidations, bad debt {p['bad_debt_usd']:,.2f} USD, "
            f"insurance {p['insurance_fund_start_usd']:,.0f} -> {p['insurance_fund_end_usd']:,.0f} USD"
        )
    for line in lines:
        console.print(line)
    paths = write_outputs(result, out / config.name, config.description)
    console.print(f"wrote {paths['report']}, {paths['events']}, {paths['summary']}")
