"""keel.runtime.sweep on a local Ray of 2 CPUs: identical to sequential runs, retried after a worker
dies, Optuna studies that resume, Monte Carlo batches equal to the single-process price, and bad
input refused before anything starts."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from keel.cli import main
from keel.errors import ConfigError
from keel.pricing.mc import GBM, AsianArithmeticCall, price
from keel.runtime import run_simulation, sweep
from keel.runtime.sweeps import flatten_summary, optimize, parse_grid, parse_seeds, plan_sweep, run_one
from keel.sim.config import validate_config

GRID = {"hedge.policy": ["fixed", "leland"], "desk.contracts": [100, 250]}


def sequential(config: Path, grid: dict[str, list[Any]], seeds: list[int]) -> list[dict[str, Any]]:
    plan = plan_sweep(config, grid, seeds)
    return [run_simulation(validate_config(plan.configs[ci]), seed=seed, root=Path.cwd()) for ci, _, seed in plan.runs]


def test_sweep_equals_sequential_runs(small_config: Path, ray_backend: Any, tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    db = f"sqlite:///{tmp_path / 'keel.db'}"
    frame = sweep(small_config, GRID, [0, 1], backend=ray_backend, out=out, db=db)
    expected = sequential(small_config, GRID, [0, 1])
    assert frame.height == 8
    assert frame.columns[:3] == ["hedge.policy", "desk.contracts", "seed"]
    assert frame["seed"].to_list() == [0, 1] * 4
    for row, summary in zip(frame.iter_rows(named=True), expected, strict=True):
        for key, value in flatten_summary(summary).items():
            if key not in GRID:
                assert row[key] == value, key
    # byte-identical summaries: a task on a Ray worker against the same config and seed run here
    plan = plan_sweep(small_config, GRID, [1])
    remote = ray_backend.map(run_one, [(plan.configs[3], str(Path.cwd()), 1)])[0]
    assert json.dumps(remote, sort_keys=True) == json.dumps(expected[7], sort_keys=True)
    # outputs and the store
    combos = pl.read_parquet(out / "combinations.parquet")
    assert combos.height == 4 and set(combos.columns) >= {"mean_pnl", "std_pnl", "sharpe", "pareto", "objective"}
    assert pl.read_parquet(out / "runs.parquet").equals(frame)
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "Pareto front" in html and "http://" not in html.split("<script>")[0]
    assert html.count('"type":"box"') == 4  # one PnL distribution per combination
    best = json.loads((out / "best.json").read_text())
    assert best["objective"] == combos["objective"].max()
    from keel.store import open_store

    store = open_store(db)
    runs = store.runs()
    store.close()
    assert len(runs) == 8 and all(r.status == "finished" for r in runs)
    stored = sorted(json.loads(r.summary_json)["pnl"]["total"] for r in runs)
    assert stored == sorted(s["pnl"]["total"] for s in expected)


def test_killed_worker_task_is_retried_with_the_same_result(ray_backend: Any, tmp_path: Path) -> None:
    marker = tmp_path / "crashed-once"

    def crash_once_then_price(seed: int) -> float:
        if not marker.exists():
            marker.write_text("x")
            os._exit(1)  # the worker process dies mid-task
        return price(GBM(100.0, 0.0, 0.4), AsianArithmeticCall(100.0, 1.0, 12), n_paths=20_000, n_steps=12,
                     seed=seed).price  # fmt: skip

    got = ray_backend.map(crash_once_then_price, [(5,), (6,)])
    assert marker.exists()  # the first attempt really died
    want = [
        price(GBM(100.0, 0.0, 0.4), AsianArithmeticCall(100.0, 1.0, 12), n_paths=20_000, n_steps=12, seed=s).price
        for s in (5, 6)
    ]
    assert got == want


def test_optuna_study_resumes(small_config: Path, ray_backend: Any, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'keel.db'}"
    space = {"desk.contracts": [50, 300], "hedge.policy": ["fixed", "leland"]}
    first = optimize(small_config, space, [0], "mean_pnl", 2, study="s", db=db, backend=ray_backend)
    params = [t.params for t in first.trials]
    values = [t.value for t in first.trials]
    again = optimize(small_config, space, [0], "mean_pnl", 2, study="s", db=db, backend=ray_backend)
    assert len(again.trials) == 4
    assert [t.params for t in again.trials[:2]] == params and [t.value for t in again.trials[:2]] == values
    best = again.best_trial
    assert best.value == max(t.value for t in again.trials if t.value is not None)
    # the store's own tables and Optuna's live side by side in one database
    from keel.store import open_store

    open_store(db).close()


def test_monte_carlo_batches_on_ray_match_the_single_process_price(ray_backend: Any) -> None:
    model, payoff = GBM(100.0, 0.03, 0.6), AsianArithmeticCall(100.0, 0.5, 25)
    single = price(model, payoff, n_paths=100_001, n_steps=25, seed=9, control_variate="geometric", backend="cpu")
    dist = price(model, payoff, n_paths=100_001, n_steps=25, seed=9, control_variate="geometric", backend=ray_backend)
    assert (dist.price, dist.stderr) == (single.price, single.stderr)


@pytest.mark.parametrize(
    ("grid", "seeds", "needle"),
    [
        (["hedge.cots=1,2"], "0-1", "hedge.cots"),
        (["hedge.cost"], "0-1", "grid"),
        (["hedge.cost=1:2"], "0-1", "LO:HI:N"),
        (["hedge.policy=yolo"], "0-1", "hedge.policy"),
        (["hedge.cost=0.001"], "5-1", "seeds"),
        (["hedge.cost=0.001"], "x", "seeds"),
        (["desk.contracts=inf"], "0", "finite"),
    ],
)
def test_bad_grid_is_one_clear_line_before_anything_starts(
    small_config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], grid: list[str], seeds: str, needle: str
) -> None:
    args = [
        "sweep",
        str(small_config),
        "--seeds",
        seeds,
        "--out",
        str(tmp_path / "o"),
        "--db",
        f"sqlite:///{tmp_path}/k.db",
    ]
    for g in grid:
        args += ["--grid", g]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and needle in err[0], err
    assert not (tmp_path / "o").exists() and not (tmp_path / "k.db").exists()


def test_grid_and_seed_syntax() -> None:
    assert parse_grid(["hedge.cost=0.0005:0.003:6"]) == {"hedge.cost": [0.0005, 0.001, 0.0015, 0.002, 0.0025, 0.003]}
    assert parse_grid(["a.b=fixed,leland", "c.d=1:5:3"]) == {"a.b": ["fixed", "leland"], "c.d": [1, 3, 5]}
    assert parse_seeds("0-3,7,2") == [0, 1, 2, 3, 7]
    with pytest.raises(ConfigError, match="twice"):
        parse_grid(["a.b=1", "a.b=2"])


def test_stress_grid_equals_sequential_runs(ray_backend: Any) -> None:
    from keel.risk.stress import run_stress
    from keel.runtime import stress_grid

    frame = stress_grid(["black-thursday-2020", "thin-squeeze"], ["standard", "predictive"], [7], backend=ray_backend)
    assert frame.select(["scenario", "margin"]).rows() == [
        ("black-thursday-2020", "standard"),
        ("black-thursday-2020", "predictive"),
        ("thin-squeeze", "standard"),
        ("thin-squeeze", "predictive"),
    ]
    for row in frame.iter_rows(named=True):
        want = run_stress(row["scenario"], margin=row["margin"], seed=7).to_dict()
        assert row["bad_debt"] == want["bad_debt"] and row["liquidations"] == want["liquidations"]
        assert row["ledger_imbalance"] == 0
