"""``keel sweep CONFIG``: a parameter grid across seeds on Ray, or Optuna tuning of it.

    keel sweep examples/eth_options_desk.toml --grid hedge.policy=fixed,leland,whalley_wilmott \\
        --grid hedge.cost=0.0005:0.003:6 --seeds 0-49 [--address auto|ray://HOST:PORT] [--workers N]
    keel sweep CONFIG --grid hedge.cost=0.0005:0.003:6 --seeds 0-9 --optimize 'mean_pnl - 2*std_pnl' --trials 40
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import typer

from keel.cli.app import app


@app.command("sweep")
def sweep_command(
    config: Path = typer.Argument(..., help="Scenario TOML (as for keel simulate)."),
    grid: list[str] = typer.Option([], "--grid", help="KEY=a,b,c or KEY=LO:HI:N (repeatable)."),
    seeds: str = typer.Option("0-9", "--seeds", help="Seeds: N, A-B or a comma list."),
    address: str | None = typer.Option(None, "--address", help="Ray: local, auto, HOST:PORT or ray://HOST:PORT."),
    workers: int | None = typer.Option(
        None, "--workers", help="Local Ray CPUs / tasks in flight (default: all cores)."
    ),
    db: str | None = typer.Option(None, "--db", help="State database URL (default $KEEL_DB_URL, runs/keel.db)."),
    out: Path | None = typer.Option(None, "--out", help="Output folder (default runs/NAME-sweep)."),
    objective: str = typer.Option("mean_pnl - 2*std_pnl", "--objective", help="Score that picks the best combination."),
    optimize: str | None = typer.Option(None, "--optimize", help="Tune with Optuna, maximizing this objective."),
    trials: int = typer.Option(20, "--trials", help="Optuna trials (with --optimize)."),
    study: str | None = typer.Option(None, "--study", help="Optuna study name (resumed when it exists)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Run every grid combination with every seed (Ray tasks) and compare their PnL distributions."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from keel.errors import ConfigError
    from keel.runtime.distributed import RayBackend, ray_address_from_env
    from keel.runtime.sweeps import OBJECTIVE_NAMES, Objective, parse_grid, plan_sweep, sweep
    from keel.runtime.sweeps import optimize as run_optimize
    from keel.store.store import resolve_url

    if not grid:
        raise ConfigError("grid", "", "give at least one --grid KEY=VALUES (e.g. --grid hedge.cost=0.0005:0.003:6)")
    if workers is not None and workers < 1:
        raise ConfigError("workers", workers, "must be >= 1")
    space = parse_grid(grid)
    Objective(optimize if optimize is not None else objective)  # a bad objective fails before anything starts
    plan = plan_sweep(config, space, seeds)
    db_url = resolve_url(db)[0].render_as_string(hide_password=False)
    target = out if out is not None else Path("runs") / f"{plan.name}-sweep"
    if optimize is None:
        from keel.runtime.registry import check_output_dir

        check_output_dir(target)
    backend = RayBackend(address or ray_address_from_env(), workers)
    with Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        transient=True, disable=as_json,
    ) as bar:  # fmt: skip
        if optimize is not None:
            task = bar.add_task("trials", total=trials)
            with backend:
                st = run_optimize(
                    config, space, plan.seeds, optimize, trials, study=study, db=db_url, backend=backend,
                    progress=lambda done, total: bar.update(task, completed=done),
                )  # fmt: skip
            best = st.best_trial
            result = {
                "study": st.study_name,
                "trials": len(st.trials),
                "objective": optimize,
                "best_value": best.value,
                "best_params": best.params,
                "best_stats": {k: best.user_attrs.get(k) for k in OBJECTIVE_NAMES},
            }
            if as_json:
                typer.echo(json.dumps(result, indent=2, sort_keys=True, default=str))
                return
            typer.echo(f"study {st.study_name}: {len(st.trials)} trials stored in {resolve_url(db)[1]}")
            typer.echo(f"best {optimize} = {best.value:,.2f} USD with {best.params}")
            return
        task = bar.add_task("runs", total=len(plan.runs))
        with backend:
            frame = sweep(
                config, space, plan.seeds, db=db_url, out=target, objective=objective, backend=backend,
                progress=lambda done, total: bar.update(task, completed=done),
            )  # fmt: skip
    best = json.loads((target / "best.json").read_text(encoding="utf-8"))
    if as_json:
        typer.echo(json.dumps({"runs": frame.height, "out": str(target), "best": best}, indent=2, sort_keys=True))
        return
    import polars as pl

    combos = pl.read_parquet(target / "combinations.parquet").sort("objective", descending=True, nulls_last=True)
    keys = list(space)
    typer.echo(f"{frame.height} runs ({len(plan.combinations)} combinations x {len(plan.seeds)} seeds); USD")
    header = " ".join(f"{k[-18:]:>18s}" for k in keys)
    typer.echo(f"{header} {'mean':>11s} {'std':>10s} {'p05':>11s} {'sharpe':>7s} {'objective':>11s}")
    for row in combos.iter_rows(named=True):
        vals = " ".join(f"{str(row[k])[-18:]:>18s}" for k in keys)
        sharpe = row["sharpe"]
        sh = f"{sharpe:7.2f}" if sharpe is not None and math.isfinite(sharpe) else f"{'-':>7s}"
        mark = " *" if row["pareto"] else ""
        typer.echo(
            f"{vals} {row['mean_pnl']:11,.0f} {row['std_pnl']:10,.0f} {row['p05_pnl']:11,.0f} {sh} "
            f"{row['objective']:11,.0f}{mark}"
        )
    if best:
        label = ", ".join(f"{k}={best[k]}" for k in keys)
        typer.echo(f"best under {objective}: {label}  (* = Pareto front of mean against std)")
    typer.echo(f"wrote {target}/report.html, runs.parquet, combinations.parquet; runs recorded in {resolve_url(db)[1]}")
