"""Parameter sweeps and tuning: many simulations across grid values and seeds, on Ray.

``sweep(config, grid, seeds)`` runs every combination of grid values (dotted config keys, e.g.
``hedge.policy``) with every seed as one Ray task each (:class:`keel.runtime.RayBackend`: a
local Ray by default, a cluster with ``address``), and returns one row per run.  Each task is
``run_simulation(config with overrides, seed=seed)``: a pure function of its inputs, so every
run's summary is byte-identical to running that config and seed alone, whichever worker ran it,
in whatever order, and after however many retries of a killed worker.

Everything is checked before any task starts: grid syntax, that each key exists in the config,
that each combination validates (the scenario's own pydantic rules name the key), and the seeds.

:func:`optimize` tunes the grid's keys with Optuna: categorical lists stay categorical, numeric
ranges become continuous (or integer) parameters, each trial runs every seed as Ray tasks and
scores an objective such as ``mean_pnl - 2*std_pnl``.  The study lives in the state database
(the same URL as ``keel.store``), so several workers or a resumed sweep share it.
"""

from __future__ import annotations

import ast
import copy
import itertools
import json
import math
import operator
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from keel.errors import ConfigError, KeelError
from keel.runtime.distributed import RayBackend
from keel.sim.config import ScenarioConfig, files_beside_the_config, load_config, validate_config

__all__ = [
    "OBJECTIVE_NAMES",
    "Objective",
    "SweepPlan",
    "combination_stats",
    "flatten_summary",
    "optimize",
    "parse_grid",
    "parse_seeds",
    "plan_sweep",
    "run_one",
    "sweep",
    "write_sweep_outputs",
]

# ----------------------------------------------------------------------------- parsing


def _coerce(text: str) -> Any:
    t = text.strip()
    if t.lower() in ("true", "false"):
        return t.lower() == "true"
    try:
        return int(t)
    except ValueError:
        pass
    try:
        v = float(t)
    except ValueError:
        return t
    if not math.isfinite(v):
        raise ConfigError("grid", text, "values must be finite")
    return v


def parse_grid_value(key: str, spec: str) -> list[Any]:
    """``a,b,c`` (a list; ints, floats, booleans or words) or ``LO:HI:N`` (N evenly spaced values, ends included)."""
    if not spec.strip():
        raise ConfigError(f"grid {key}", spec, "has no values")
    parts = spec.split(":")
    if len(parts) == 3 and "," not in spec:
        lo, hi, n = (_coerce(p) for p in parts)
        if not all(isinstance(x, int | float) and not isinstance(x, bool) for x in (lo, hi)):
            raise ConfigError(f"grid {key}", spec, "LO:HI:N needs numbers LO and HI")
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 10_000:
            raise ConfigError(f"grid {key}", spec, "LO:HI:N needs an int N in [1, 10000]")
        if n == 1:
            return [lo]
        points = np.linspace(float(lo), float(hi), n)
        if isinstance(lo, int) and isinstance(hi, int) and (hi - lo) % (n - 1) == 0:
            return [round(float(v)) for v in points]
        return [float(f"{v:.12g}") for v in points]
    if ":" in spec:
        raise ConfigError(f"grid {key}", spec, "use a,b,c or LO:HI:N")
    values = [_coerce(p) for p in spec.split(",")]
    if any(isinstance(v, str) and not v for v in values):
        raise ConfigError(f"grid {key}", spec, "has an empty value")
    return values


def parse_grid(specs: Iterable[str]) -> dict[str, list[Any]]:
    """``["hedge.policy=fixed,leland", "hedge.cost=0.0005:0.003:6"]`` -> ``{key: values}`` (keys in order given)."""
    grid: dict[str, list[Any]] = {}
    for spec in specs:
        key, sep, values = spec.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError("grid", spec, "use KEY=a,b,c or KEY=LO:HI:N (e.g. hedge.cost=0.0005:0.003:6)")
        if key in grid:
            raise ConfigError("grid", spec, f"{key} is given twice")
        grid[key] = parse_grid_value(key, values)
    return grid


def parse_seeds(spec: str | Iterable[int]) -> list[int]:
    """``"0-49"``, ``"1,2,7"``, ``"0-9,20"`` or ints -> a sorted list of distinct seeds >= 0."""
    out: list[int] = []
    if isinstance(spec, str):
        for part in spec.split(","):
            p = part.strip()
            lo, dash, hi = p.partition("-")
            try:
                if dash:
                    a, b = int(lo), int(hi)
                    if b < a:
                        raise ConfigError("seeds", spec, f"range {p} runs backwards")
                    if b - a > 1_000_000:
                        raise ConfigError("seeds", spec, f"range {p} is too long")
                    out.extend(range(a, b + 1))
                else:
                    out.append(int(p))
            except ValueError:
                raise ConfigError("seeds", spec, "use N, A-B or a comma list (e.g. 0-49)") from None
    else:
        for s in spec:
            if isinstance(s, bool) or not isinstance(s, int | np.integer):
                raise ConfigError("seeds", s, "must be ints")
            out.append(int(s))
    if not out:
        raise ConfigError("seeds", spec, "no seeds")
    if any(s < 0 or s >= 2**63 for s in out):
        raise ConfigError("seeds", spec, "seeds must be in [0, 2**63)")
    return sorted(set(out))


# ----------------------------------------------------------------------------- config overrides


def _set_dotted(data: dict[str, Any], key: str, value: Any) -> None:
    parts = key.split(".")
    node: Any = data
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        where = ".".join(parts[: i + 1])
        if isinstance(node, dict):
            if part not in node:
                raise ConfigError(key, value, f"unknown config key ({where} does not exist)")
            if last:
                node[part] = value
            else:
                node = node[part]
        elif isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise ConfigError(key, value, f"unknown config key ({where}: no such list entry)")
            if last:
                node[int(part)] = value
            else:
                node = node[int(part)]
        else:
            raise ConfigError(key, value, f"unknown config key ({'.'.join(parts[:i])} is a value, not a section)")


def _load(
    config: ScenarioConfig | str | Path | Mapping[str, Any], root: str | Path | None = None
) -> tuple[dict[str, Any], str]:
    """The config as a plain dict (every field, defaults included) and a name for it; relative file paths that
    are found only beside the config file made absolute (the tasks resolve the rest under ``root``)."""
    if isinstance(config, ScenarioConfig):
        model = config
    elif isinstance(config, Mapping):
        model = validate_config(dict(config))
    else:
        model = load_config(Path(config))  # the one TOML loader: its errors name the file and the key
    data = model.model_dump(mode="json", exclude_none=False)
    for key, path in files_beside_the_config(model, Path(root if root is not None else ".")).items():
        _set_dotted(data, key, path)
    return data, model.name


@dataclass(frozen=True)
class SweepPlan:
    """Every run of a sweep, validated: ``runs[i] = (combination index, overrides, seed)``."""

    name: str
    base: dict[str, Any]
    grid: dict[str, list[Any]]
    seeds: list[int]
    combinations: list[dict[str, Any]]
    configs: list[dict[str, Any]] = field(repr=False)
    runs: list[tuple[int, dict[str, Any], int]] = field(repr=False)


def plan_sweep(
    config: ScenarioConfig | str | Path | Mapping[str, Any],
    grid: Mapping[str, Sequence[Any]],
    seeds: str | Iterable[int],
    *,
    root: str | Path | None = None,
) -> SweepPlan:
    """Check everything a sweep needs before anything runs (one clear error naming the key); ``root``: where the
    tasks resolve relative data paths (default: the working directory)."""
    base, name = _load(config, root)
    if not isinstance(grid, Mapping):
        raise ConfigError("grid", grid, "must map dotted config keys to lists of values")
    clean: dict[str, list[Any]] = {}
    for key, values in grid.items():
        if not isinstance(key, str) or not key:
            raise ConfigError("grid", key, "keys are dotted config keys such as hedge.cost")
        if key in ("seed", "name"):
            raise ConfigError("grid", key, "use seeds=... for seeds; the name is not a parameter")
        vals = [values] if isinstance(values, str | bytes) or not isinstance(values, Sequence) else list(values)
        if not vals:
            raise ConfigError(key, values, "needs at least one value")
        for v in vals:
            if isinstance(v, float) and not math.isfinite(v):
                raise ConfigError(key, v, "values must be finite")
        clean[key] = vals
    seed_list = parse_seeds(seeds)
    keys = list(clean)
    combos = [dict(zip(keys, vals, strict=True)) for vals in itertools.product(*(clean[k] for k in keys))]
    if len(combos) * len(seed_list) > 1_000_000:
        raise ConfigError("grid", len(combos) * len(seed_list), "more than 1,000,000 runs")
    configs = []
    for combo in combos:
        data = copy.deepcopy(base)
        for key, value in combo.items():
            _set_dotted(data, key, value)
        try:
            validate_config(data)
        except ConfigError as exc:
            raise ConfigError("grid", ", ".join(f"{k}={v}" for k, v in combo.items()), str(exc)) from None
        configs.append(data)
    runs = [(i, combo, s) for i, combo in enumerate(combos) for s in seed_list]
    return SweepPlan(name, base, clean, seed_list, combos, configs, runs)


# ----------------------------------------------------------------------------- one run


def run_one(config: Mapping[str, Any], root: str, seed: int) -> dict[str, Any]:
    """One sweep task: the summary of ``config`` at ``seed`` (data paths resolved under ``root``)."""
    from keel.runtime.simulate import run_simulation

    model = validate_config(dict(config))
    return run_simulation(model, seed=seed, root=Path(root))


def flatten_summary(summary: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """The summary's scalar fields (numbers, strings, booleans, None), nested keys joined with dots."""
    out: dict[str, Any] = {}
    for key in sorted(summary):
        value = summary[key]
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten_summary(value, name + "."))
        elif value is None or isinstance(value, bool | int | float | str):
            out[name] = value
    return out


# ----------------------------------------------------------------------------- statistics


def _num(summary: Mapping[str, Any], dotted: str) -> float:
    node: Any = summary
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return math.nan
        node = node[part]
    return float(node) if isinstance(node, int | float) and not isinstance(node, bool) else math.nan


OBJECTIVE_NAMES = (
    "mean_pnl",
    "std_pnl",
    "median_pnl",
    "p05_pnl",
    "p95_pnl",
    "min_pnl",
    "sharpe",
    "mean_drawdown",
    "worst_drawdown",
    "mean_hedge_cost",
    "mean_mev_loss",
    "runs",
)


def combination_stats(summaries: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """Distribution of one combination's runs (USD): PnL quantiles, mean, std (ddof 1), Sharpe
    (mean / std across seeds), drawdowns, hedge cost (slippage + gas) and MEV loss."""
    pnl = np.array([_num(s, "pnl.total") for s in summaries], dtype=np.float64)
    dd = np.array([_num(s, "max_drawdown_usd") for s in summaries], dtype=np.float64)
    hedge = np.array([-(_num(s, "pnl.hedging_slippage") + _num(s, "pnl.gas")) for s in summaries])
    mev = np.array([-_num(s, "pnl.mev_loss") for s in summaries])
    n = len(pnl)
    std = float(np.std(pnl, ddof=1)) if n > 1 else 0.0
    mean = float(np.mean(pnl)) if n else math.nan
    q = np.quantile(pnl, [0.05, 0.5, 0.95]) if n else [math.nan] * 3
    return {
        "runs": float(n),
        "mean_pnl": mean,
        "std_pnl": std,
        "median_pnl": float(q[1]),
        "p05_pnl": float(q[0]),
        "p95_pnl": float(q[2]),
        "min_pnl": float(np.min(pnl)) if n else math.nan,
        "sharpe": mean / std if std > 0 else math.nan,
        "mean_drawdown": float(np.mean(dd)) if n else math.nan,
        "worst_drawdown": float(np.max(dd)) if n else math.nan,
        "mean_hedge_cost": float(np.mean(hedge)) if n else math.nan,
        "mean_mev_loss": float(np.mean(mev)) if n else math.nan,
    }


_BINOPS: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}


class Objective:
    """A score to maximize, written over :data:`OBJECTIVE_NAMES` with + - * / and numbers,
    e.g. ``mean_pnl - 2*std_pnl``.  Anything else is refused when the objective is parsed."""

    def __init__(self, text: str) -> None:
        if not isinstance(text, str) or not text.strip() or len(text) > 500:
            raise ConfigError("optimize", text, "write an objective such as 'mean_pnl - 2*std_pnl'")
        self.text = text.strip()
        try:
            tree = ast.parse(self.text, mode="eval")
        except SyntaxError:
            raise ConfigError("optimize", text, "not an arithmetic expression") from None
        self._check(tree.body)
        self._tree = tree.body

    def _check(self, node: ast.AST) -> None:
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            self._check(node.left)
            self._check(node.right)
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            self._check(node.operand)
        elif isinstance(node, ast.Constant) and isinstance(node.value, int | float) and type(node.value) is not bool:
            if not math.isfinite(node.value):
                raise ConfigError("optimize", self.text, "numbers must be finite")
        elif isinstance(node, ast.Name):
            if node.id not in OBJECTIVE_NAMES:
                raise ConfigError("optimize", self.text, f"unknown name {node.id!r} (use {', '.join(OBJECTIVE_NAMES)})")
        else:
            raise ConfigError("optimize", self.text, "use names, numbers and + - * / only")

    def __call__(self, stats: Mapping[str, float]) -> float:
        return float(self._eval(self._tree, stats))

    def _eval(self, node: ast.AST, stats: Mapping[str, float]) -> float:
        if isinstance(node, ast.BinOp):
            left, right = self._eval(node.left, stats), self._eval(node.right, stats)
            if isinstance(node.op, ast.Div) and right == 0:
                return math.nan
            return _BINOPS[type(node.op)](left, right)
        if isinstance(node, ast.UnaryOp):
            v = self._eval(node.operand, stats)
            return -v if isinstance(node.op, ast.USub) else v
        if isinstance(node, ast.Constant):
            assert isinstance(node.value, int | float)
            return float(node.value)
        assert isinstance(node, ast.Name)
        return float(stats.get(node.id, math.nan))


# ----------------------------------------------------------------------------- the sweep


def _store_runs(db: str, plan: SweepPlan, results: Sequence[Mapping[str, Any]], started_ns: Sequence[int]) -> list[str]:
    from keel.store import open_store

    store = open_store(db)
    ids = []
    try:
        for (ci, combo, seed), summary, t0 in zip(plan.runs, results, started_ns, strict=True):
            text = json.dumps(plan.configs[ci], sort_keys=True)
            label = ",".join(f"{k}={v}" for k, v in combo.items())
            info = store.create_run(
                f"{plan.name}[{label}]" if label else plan.name, config_text=text, mode="sim", seed=seed,
                started_ns=t0,
            )  # fmt: skip
            store.finish_run(info.id, "finished", summary_json=json.dumps(summary, sort_keys=True))
            ids.append(info.id)
    finally:
        store.close()
    return ids


def sweep(
    config: ScenarioConfig | str | Path | Mapping[str, Any],
    grid: Mapping[str, Sequence[Any]],
    seeds: str | Iterable[int],
    *,
    address: str | None = None,
    workers: int | None = None,
    root: str | Path | None = None,
    db: str | None = None,
    out: str | Path | None = None,
    objective: str = "mean_pnl - 2*std_pnl",
    backend: RayBackend | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Any:
    """Run every combination of ``grid`` values with every seed; one row per run (a polars DataFrame).

    Columns: one per grid key (named by its dotted key), ``seed``, and the run summary's scalar
    fields flattened with dots (``pnl.total``, ``end_equity_usd``, ``max_drawdown_usd``, ...).
    Rows are in (combination, seed) order whatever order the tasks finish in.

    ``address``: None/``"local"`` starts a local Ray with ``workers`` CPUs; ``"auto"`` or
    ``"ray://HOST:PORT"`` joins a cluster.  ``db``: also record every run in the state store.
    ``out``: write ``runs.parquet``, ``combinations.parquet`` and ``report.html`` there (the
    comparison per combination, the Pareto chart and the best combination under ``objective``).
    """
    import polars as pl

    plan = plan_sweep(config, grid, seeds, root=root)
    score = Objective(objective)
    base_root = str(Path(root if root is not None else Path.cwd()).resolve())
    if out is not None:
        from keel.runtime.registry import check_output_dir

        check_output_dir(Path(out))
    if db is not None:
        from keel.store import open_store

        open_store(db).close()  # a bad URL fails here, before any task
    own = backend is None
    ray_backend = backend or RayBackend(address, workers)
    calls = [(plan.configs[ci], base_root, seed) for ci, _, seed in plan.runs]
    results: list[dict[str, Any] | None] = [None] * len(calls)
    started: list[int] = [0] * len(calls)
    try:
        import time

        t0 = time.time_ns()
        refs = ray_backend.submit(run_one, calls)
        for done, (i, summary) in enumerate(ray_backend.as_completed(refs), start=1):
            results[i] = summary
            started[i] = t0
            if progress is not None:
                progress(done, len(calls))
    finally:
        if own:
            ray_backend.shutdown()
    summaries = [r for r in results if r is not None]
    if len(summaries) != len(calls):  # pragma: no cover - as_completed raises on a failed task
        raise KeelError(f"sweep: {len(calls) - len(summaries)} runs returned nothing")
    rows = []
    for (_, combo, seed), summary in zip(plan.runs, summaries, strict=True):
        row: dict[str, Any] = dict(combo)
        row["seed"] = seed
        for k, v in flatten_summary(summary).items():
            if k not in row:
                row[k] = v
        rows.append(row)
    frame = pl.DataFrame(rows, infer_schema_length=None)
    if db is not None:
        _store_runs(db, plan, summaries, started)
    if out is not None:
        write_sweep_outputs(Path(out), plan, summaries, frame, score)
    return frame


def _pareto(points: Sequence[tuple[float, float]]) -> list[bool]:
    """Non-dominated points when maximizing x (mean PnL) and minimizing y (risk)."""
    front = []
    for i, (x, y) in enumerate(points):
        dominated = any((x2 >= x and y2 <= y and (x2 > x or y2 < y)) for j, (x2, y2) in enumerate(points) if j != i)
        front.append(not dominated and math.isfinite(x) and math.isfinite(y))
    return front


def write_sweep_outputs(
    out: Path, plan: SweepPlan, summaries: Sequence[Mapping[str, Any]], frame: Any, objective: Objective
) -> dict[str, Any]:
    """``runs.parquet``, ``combinations.parquet`` and an offline ``report.html`` in ``out`` (written whole)."""
    import polars as pl

    stats = []
    n_seeds = len(plan.seeds)
    for ci, combo in enumerate(plan.combinations):
        block = summaries[ci * n_seeds : (ci + 1) * n_seeds]
        st = combination_stats(block)
        st["objective"] = objective(st)
        stats.append({"combination": ci, **{k: combo[k] for k in combo}, **st})
    front = _pareto([(s["mean_pnl"], s["std_pnl"]) for s in stats])
    for s, f in zip(stats, front, strict=True):
        s["pareto"] = f
    finite = [s for s in stats if math.isfinite(s["objective"])]
    best = max(finite, key=lambda s: (s["objective"], -s["combination"])) if finite else None
    combos = pl.DataFrame(stats, infer_schema_length=None)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    if tmp.exists():
        import shutil

        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    frame.write_parquet(tmp / "runs.parquet")
    combos.write_parquet(tmp / "combinations.parquet")
    pnls = [[_num(x, "pnl.total") for x in summaries[ci * n_seeds : (ci + 1) * n_seeds]] for ci in range(len(stats))]
    (tmp / "report.html").write_text(_report_html(plan, stats, best, objective, pnls), encoding="utf-8")
    (tmp / "best.json").write_text(json.dumps(best, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
    if out.exists():
        import shutil

        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        out.rename(old)
        tmp.rename(out)
        shutil.rmtree(old)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp.rename(out)
    return {"best": best, "combinations": stats}


def _report_html(
    plan: SweepPlan,
    stats: list[dict[str, Any]],
    best: dict[str, Any] | None,
    obj: Objective,
    pnls: Sequence[Sequence[float]] = (),
) -> str:
    """The comparison page: Pareto chart (front drawn, best starred, points labelled when few), the PnL
    distribution of every combination across seeds (box plots of each run's ``pnl.total``), and the table."""
    import html

    import plotly.graph_objects as go
    from plotly.offline import get_plotlyjs

    keys = list(plan.grid)

    def label(s: Mapping[str, Any]) -> str:
        return ", ".join(f"{k}={s[k]}" for k in keys) or "base"

    fig = go.Figure()
    few = len(stats) <= 24  # label points on the chart; beyond that, hover only
    for on_front in (False, True):
        pts = sorted((s for s in stats if bool(s["pareto"]) is on_front), key=lambda s: s["std_pnl"])
        fig.add_trace(
            go.Scatter(
                x=[s["std_pnl"] for s in pts],
                y=[s["mean_pnl"] for s in pts],
                mode=("lines+markers" if on_front else "markers") + ("+text" if few else ""),
                line={"dash": "dot"},
                textposition="top center",
                textfont={"size": 10},
                name="Pareto front (no other combination has higher mean and lower std)" if on_front else "dominated",
                text=[label(s) for s in pts],
                marker={"size": 11 if on_front else 8, "symbol": "diamond" if on_front else "circle"},
                hovertemplate="%{text}<br>mean %{y:,.0f} USD<br>std %{x:,.0f} USD<extra></extra>",
            )
        )
    if best is not None:
        fig.add_trace(
            go.Scatter(
                x=[best["std_pnl"]],
                y=[best["mean_pnl"]],
                mode="markers",
                name=f"best under {obj.text}",
                text=[label(best)],
                marker={"size": 18, "symbol": "star", "color": "gold", "line": {"width": 1, "color": "black"}},
                hovertemplate="best: %{text}<br>mean %{y:,.0f} USD<br>std %{x:,.0f} USD<extra></extra>",
            )
        )
    fig.update_layout(
        title="Mean PnL against its standard deviation across seeds (one point per combination)",
        xaxis_title="risk: std of PnL across seeds (USD)",
        yaxis_title="mean PnL (USD)",
        legend={"orientation": "h", "y": -0.2},
        margin={"l": 60, "r": 20, "t": 50, "b": 60},
        autosize=True,
    )
    chart = fig.to_html(full_html=False, include_plotlyjs=False, config={"responsive": True})
    dist = ""
    if pnls:
        box = go.Figure()
        order = sorted(range(len(stats)), key=lambda i: stats[i]["median_pnl"])
        for i in order:
            box.add_trace(go.Box(x=list(pnls[i]), name=label(stats[i]), boxpoints="all", jitter=0.3, pointpos=0))
        box.update_layout(
            title="PnL of each run across seeds, by combination (box: quartiles; whiskers: 1.5 IQR; dots: runs)",
            xaxis_title="run PnL, pnl.total (USD)",
            showlegend=False,
            height=max(260, 60 + 34 * len(stats)),
            margin={"l": 20, "r": 20, "t": 50, "b": 50},
            yaxis={"automargin": True},
            autosize=True,
        )
        dist = box.to_html(full_html=False, include_plotlyjs=False, config={"responsive": True})
    cols = [*keys, "runs", "mean_pnl", "std_pnl", "p05_pnl", "median_pnl", "p95_pnl", "sharpe", "mean_drawdown",
            "mean_hedge_cost", "mean_mev_loss", "objective", "pareto"]  # fmt: skip
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = []
    for s in sorted(stats, key=lambda s: -s["objective"] if math.isfinite(s["objective"]) else math.inf):
        cells = []
        for c in cols:
            v = s[c]
            if c == "runs":
                cells.append(f"<td>{int(v)}</td>")
            elif isinstance(v, float):
                cells.append(f"<td>{v:,.2f}</td>")
            else:
                cells.append(f"<td>{html.escape(str(v))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    best_line = (
        f"Best under <code>{html.escape(obj.text)}</code>: <b>{html.escape(label(best))}</b> "
        f"(objective {best['objective']:,.2f} USD; mean {best['mean_pnl']:,.2f}, std {best['std_pnl']:,.2f})"
        if best
        else "No combination has a finite objective."
    )
    return f"""<!doctype html><html><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Keel sweep: {html.escape(plan.name)}</title>
<style>body{{font-family:system-ui,sans-serif;margin:1rem;max-width:1200px}}
table{{border-collapse:collapse;font-size:.85rem;display:block;overflow-x:auto}}
td,th{{border:1px solid #ccc;padding:.25rem .5rem;text-align:right;white-space:nowrap}}</style>
<script>{get_plotlyjs()}</script></head><body>
<h1>Sweep: {html.escape(plan.name)}</h1>
<p>{len(stats)} combinations x {len(plan.seeds)} seeds ({len(plan.runs)} runs). PnL in USD; Sharpe is the mean over
the standard deviation of PnL across seeds; hedge cost is hedging slippage plus gas; drawdowns are per run.</p>
<p>{best_line}</p>
{chart}
{dist}
<h2>Combinations, best first</h2><table><tr>{head}</tr>{"".join(body)}</table>
</body></html>
"""


# ----------------------------------------------------------------------------- tuning


def _storage_url(db: str | None) -> str:
    from keel.store.store import resolve_url

    parsed, _ = resolve_url(db)
    if parsed.get_backend_name() == "sqlite":
        Path(str(parsed.database)).parent.mkdir(parents=True, exist_ok=True)
    return parsed.render_as_string(hide_password=False)


def optimize(
    config: ScenarioConfig | str | Path | Mapping[str, Any],
    space: Mapping[str, Sequence[Any]],
    seeds: str | Iterable[int],
    objective: str,
    trials: int,
    *,
    study: str | None = None,
    db: str | None = None,
    address: str | None = None,
    workers: int | None = None,
    root: str | Path | None = None,
    backend: RayBackend | None = None,
    sampler_seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> Any:
    """Tune ``space`` with Optuna (TPE, seeded); returns the ``optuna.Study``.

    ``space`` maps dotted keys to candidate lists: a list of two or more numbers from a
    ``LO:HI:N`` range becomes a continuous (int) parameter on ``[min, max]``; any other list is
    categorical.  Each trial runs all ``seeds`` as Ray tasks and maximizes ``objective``.  The
    study named ``study`` (default ``sweep:<config name>``) is stored at ``db`` (the state
    database); running again with the same name resumes it, and several processes may share it.
    """
    import optuna

    if isinstance(trials, bool) or not isinstance(trials, int) or not 1 <= trials <= 100_000:
        raise ConfigError("trials", trials, "must be an int in [1, 100000]")
    score = Objective(objective)
    plan = plan_sweep(config, {k: [v[0]] for k, v in space.items()}, seeds, root=root)
    for key, values in space.items():  # every candidate value must validate
        plan_sweep(plan.base, {key: list(values)}, plan.seeds[:1], root=root)
    base_root = str(Path(root if root is not None else Path.cwd()).resolve())
    storage = _storage_url(db)
    name = study or f"sweep:{plan.name}"
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    st = optuna.create_study(
        study_name=name,
        storage=storage,
        direction="maximize",
        load_if_exists=True,
        sampler=optuna.samplers.TPESampler(seed=sampler_seed),
    )
    own = backend is None
    ray_backend = backend or RayBackend(address, workers)

    def suggest(trial: Any) -> dict[str, Any]:
        params: dict[str, Any] = {}
        for key, values in space.items():
            vals = list(values)
            numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in vals)
            if numeric and len(vals) >= 2 and len(set(vals)) == len(vals) and vals == sorted(vals):
                lo, hi = vals[0], vals[-1]
                if all(isinstance(v, int) for v in vals):
                    params[key] = trial.suggest_int(key, int(lo), int(hi))
                else:
                    params[key] = trial.suggest_float(key, float(lo), float(hi))
            else:
                params[key] = trial.suggest_categorical(key, vals)
        return params

    try:
        for done in range(1, trials + 1):
            trial = st.ask()
            params = suggest(trial)
            data = copy.deepcopy(plan.base)
            for key, value in params.items():
                _set_dotted(data, key, value)
            validate_config(data)
            summaries = ray_backend.map(run_one, [(data, base_root, s) for s in plan.seeds])
            stats = combination_stats(summaries)
            value = score(stats)
            for k, v in stats.items():
                trial.set_user_attr(k, v)
            if math.isfinite(value):
                st.tell(trial, value)
            else:
                st.tell(trial, state=optuna.trial.TrialState.FAIL)
            if progress is not None:
                progress(done, trials)
    finally:
        if own:
            ray_backend.shutdown()
    return st


# ----------------------------------------------------------------------------- stress grids


def run_stress_one(scenario: str, data_dir: str | None, seed: int, margin: str) -> dict[str, Any]:
    """One stress-grid task: ``keel.risk.stress.run_stress`` as a dict."""
    from keel.risk.stress import run_stress

    report = run_stress(scenario, data_dir=None if data_dir is None else Path(data_dir), seed=seed, margin=margin)
    out: dict[str, Any] = report.to_dict()
    return out


def stress_grid(
    scenarios: Sequence[str] | None = None,
    margins: Sequence[str] | None = None,
    seeds: str | Iterable[int] = (7,),
    *,
    data_dir: str | Path | None = None,
    address: str | None = None,
    workers: int | None = None,
    backend: RayBackend | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Any:
    """Every incident across margin models and seeds, as Ray tasks; one row per run (polars),
    in (scenario, margin, seed) order, with the report's scalar fields."""
    import polars as pl

    from keel.risk.stress import MARGIN_MODES, SCENARIOS

    names = list(SCENARIOS) if not scenarios else list(scenarios)
    for n in names:
        if n not in SCENARIOS:
            raise ConfigError("scenario", n, f"unknown; choose from {', '.join(SCENARIOS)}")
    mods = list(MARGIN_MODES) if not margins else list(margins)
    for m in mods:
        if m not in MARGIN_MODES:
            raise ConfigError("margin", m, f"must be one of {', '.join(MARGIN_MODES)}")
    seed_list = parse_seeds(seeds)
    root = None if data_dir is None else str(Path(data_dir).resolve())
    calls = [(n, root, s, m) for n in names for m in mods for s in seed_list]
    own = backend is None
    ray_backend = backend or RayBackend(address, workers)
    results: list[dict[str, Any] | None] = [None] * len(calls)
    try:
        refs = ray_backend.submit(run_stress_one, calls)
        for done, (i, rep) in enumerate(ray_backend.as_completed(refs), start=1):
            results[i] = rep
            if progress is not None:
                progress(done, len(calls))
    finally:
        if own:
            ray_backend.shutdown()
    rows = []
    for (n, _, s, m), rep in zip(calls, results, strict=True):
        assert rep is not None
        row: dict[str, Any] = {"scenario": n, "margin": m, "seed": s}
        row.update({k: v for k, v in flatten_summary(rep).items() if k not in row})
        rows.append(row)
    return pl.DataFrame(rows, infer_schema_length=None)
