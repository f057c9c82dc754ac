"""``keel simulate CONFIG.toml``: run a scenario with a progress bar, print the summary, write the run folder.

The command only parses arguments and prints: the run is ``keel.runtime.run_simulation``."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import typer

from keel.cli.app import app


@app.command("simulate")
def simulate_command(
    config_path: Path = typer.Argument(..., help="scenario TOML file (see examples/)"),
    out: Path = typer.Option(Path("runs"), "--out", help="parent folder of the run folder runs/NAME"),
    seed: int | None = typer.Option(None, "--seed", help="override the config's seed"),
    quiet: bool = typer.Option(False, "--quiet", help="no progress bar"),
    db: str | None = typer.Option(
        None, "--db", help="store URL (sqlite:///PATH, postgresql://...); default $KEEL_DB_URL, else OUT/keel.db"
    ),
    checkpoint_every: int | None = typer.Option(
        None, "--checkpoint-every", help="checkpoint the run into the store every N blocks"
    ),
    resume: str | None = typer.Option(None, "--resume", help="continue the killed run RUN_ID from its last checkpoint"),
    market: str | None = typer.Option(
        None, "--market", help="nats://HOST:PORT/STREAM: market.kind 'catalog' read from `keel ingest --publish`"
    ),
    serve: bool = typer.Option(False, "--serve", help="dashboard, API and metrics of this run while it steps"),
    host: str = typer.Option("127.0.0.1", "--host", help="with --serve: address to bind (loopback by default)"),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="with --serve: TCP port"),
) -> None:
    """Run a derivatives book through a simulated chain; write report.html, events.parquet, summary.json."""
    if seed is not None and not 0 <= seed < 2**63:
        from keel.errors import ValidationError

        raise ValidationError("--seed", seed, "must be in [0, 2**63)")
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    from keel.runtime.registry import simulate_recorded
    from keel.sim.config import load_config
    from keel.sim.scenario import PNL_PARTS

    if market is not None:  # the same config with market.catalog = the stream (keel.runtime.stream)
        import tempfile

        from keel.runtime.stream import config_with_market

        config_path = config_with_market(config_path, market, Path(tempfile.mkdtemp(prefix="keel-market-")))
    config = load_config(config_path)
    console = Console()
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("blocks"),
        TimeElapsedColumn(),
        console=console,
        disable=quiet,
        transient=False,
    )
    task: Any = None

    def update(done: int, total: int) -> None:  # the bar appears once the run steps: a refusal prints only its error
        nonlocal task
        if task is None:
            progress.start()
            task = progress.add_task(config.name, total=None)
        progress.update(task, completed=done, total=total)

    try:
        with contextlib.ExitStack() as stack:
            extra: dict[str, Any] = {}
            if serve:  # keel.service: the run publishes to the dashboard while it steps (stops with the run)
                from keel.service import serving

                extra = stack.enter_context(serving(config, db=db, out=out, host=host, port=port, echo=console.print))
            recorded = simulate_recorded(
                config_path, out=out, db=db, seed=seed, checkpoint_every=checkpoint_every, resume=resume,
                root=Path("."), progress=update, **extra,
            )  # fmt: skip
    finally:
        if task is not None:
            progress.stop()
    s, run_dir = recorded.summary, recorded.folder
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
        f"oracle              {s['oracle_halted_blocks']} halted blocks; "
        f"ledger imbalance {s['ledger_imbalance']} base units",
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
    names = ("report.html", "events.parquet", "summary.json")
    console.print("wrote " + ", ".join(str(run_dir / name) for name in names))
    console.print(f"run {recorded.run_id} recorded in {recorded.db} (keel runs show {recorded.run_id})")
