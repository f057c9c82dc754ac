"""``keel runs list | show RUN_ID | compare A B``: the run registry in the store."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import typer

from keel.cli.app import app

if TYPE_CHECKING:
    from keel.store import RunInfo, Store

runs_app = typer.Typer(help="List, show and compare recorded runs (the store: --db URL, $KEEL_DB_URL or runs/keel.db).")
app.add_typer(runs_app, name="runs")

_DB_HELP = "store URL: sqlite:///PATH or postgresql://USER@HOST/DB (default $KEEL_DB_URL, else sqlite:///runs/keel.db)"


def _open(db: str | None) -> Store:
    from keel.store import open_store

    return open_store(db, create=False)


def _when(ns: int | None) -> str:
    if ns is None:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ns // 1_000_000_000))


def _duration(run: RunInfo) -> str:
    if run.ended_ns is None:
        return "-"
    return f"{(run.ended_ns - run.started_ns) / 1e9:,.1f} s"


def _summary(run: RunInfo) -> dict[str, Any]:
    if run.summary_json:
        data = json.loads(run.summary_json)
        return data if isinstance(data, dict) else {}
    return {}


def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    if isinstance(data, dict):
        for key in sorted(data):
            out.update(_flatten(data[key], f"{prefix}{key}."))
    else:
        out[prefix.rstrip(".")] = data
    return out


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.4f}" if abs(value) < 100 else f"{value:,.2f}"
    if isinstance(value, list):
        return json.dumps(value)
    return str(value)


_LIST_COLUMNS = ("id", "name", "status", "mode", "seed", "started (UTC)", "duration", "keel", "config")
_LIST_OPTIONAL = ("config", "keel", "seed", "mode", "duration")  # left out in this order when the terminal is narrow


def _fit(widths: Sequence[int], width: int) -> list[int]:
    """The indexes of the columns to show (``widths``: each column's widest cell, header included): every one
    that fits in ``width`` (a rich table takes 3 characters per column and 1 more), leaving out
    ``_LIST_OPTIONAL`` in order until the rest fits."""
    keep = list(range(len(widths)))
    for name in _LIST_OPTIONAL:
        if sum(widths[i] + 3 for i in keep) + 1 <= width:
            break
        keep.remove(_LIST_COLUMNS.index(name))
    return keep


@runs_app.command("list")
def list_command(
    db: str | None = typer.Option(None, "--db", help=_DB_HELP),
    name: str | None = typer.Option(None, "--name", help="only runs of this name"),
    last: int | None = typer.Option(None, "--last", min=1, help="only the newest N runs"),
    as_json: bool = typer.Option(False, "--json", help="one JSON object per run and line (every field, for scripts)"),
) -> None:
    """Every run, oldest first: id, name, status, mode, seed, start, duration, keel version, config hash.

    A terminal narrower than the table drops config, keel, seed, mode, then duration (``keel runs show`` has
    them all); into a pipe or a file every column is written whole."""
    from rich.console import Console
    from rich.table import Table

    with _open(db) as store:
        runs = store.runs(name=name, limit=last)
        url = store.url
    if as_json:
        for r in runs:  # every field of the run but its config text and summary (keel runs show has those)
            fields = {k: v for k, v in dataclasses.asdict(r).items() if k not in ("config_text", "summary_json")}
            typer.echo(json.dumps(fields, sort_keys=True))
        return
    rows = [
        (
            r.id,
            r.name,
            r.status,
            r.mode,
            "-" if r.seed is None else str(r.seed),
            _when(r.started_ns),
            _duration(r),
            r.keel_version,
            r.config_hash[:12],
        )
        for r in runs
    ]
    widths = [max([len(c), *(len(r[i]) for r in rows)]) for i, c in enumerate(_LIST_COLUMNS)]
    console = Console()
    if not console.is_terminal:  # a pipe or a file: nothing cut
        console = Console(width=max(console.width, 1 + sum(w + 3 for w in widths)))
    keep = _fit(widths, console.width)
    table = Table(title=f"runs in {url}")
    for i in keep:
        col = _LIST_COLUMNS[i]
        justify: Any = "right" if col in ("seed", "duration") else "left"
        table.add_column(col, justify=justify, no_wrap=True, min_width=widths[0] if i == 0 else None)  # ids whole
    for row in rows:
        table.add_row(*(row[i] for i in keep))
    console.print(table)
    if not runs:
        typer.echo("no runs recorded yet")


@runs_app.command("show")
def show_command(
    run_id: str = typer.Argument(..., help="run id (or a unique prefix of it)"),
    db: str | None = typer.Option(None, "--db", help=_DB_HELP),
) -> None:
    """One run: identity, config, where its outputs are, what the store holds, and its summary."""
    from rich.console import Console
    from rich.table import Table

    with _open(db) as store:
        run = store.run(run_id)
        counts = {
            "fills": len(store.fills(run.id)),
            "position rows": len(store.positions(run.id)),
            "intents": len(store.intents(run.id)),
            "alerts": len(store.alerts(run.id)),
        }
    console = Console()
    table = Table(title=f"run {run.id}", show_header=False)
    table.add_column("field", no_wrap=True)
    table.add_column("value", overflow="fold")  # hashes and paths folded whole onto the next line, never cut
    rows = [
        ("name", run.name),
        ("status", run.status),
        ("mode", run.mode),
        ("keel version", run.keel_version),
        ("config sha256", run.config_hash),
        ("seed", "-" if run.seed is None else str(run.seed)),
        ("chain id", "-" if run.chain_id is None else str(run.chain_id)),
        ("account", run.account or "-"),
        ("started (UTC)", _when(run.started_ns)),
        ("ended (UTC)", _when(run.ended_ns)),
        ("duration", _duration(run)),
        ("resumed from", run.parent_run or "-"),
        ("outputs", run.out_dir or "-"),
        *((k, str(v)) for k, v in counts.items()),
    ]
    for k, v in rows:
        table.add_row(k, v)
    console.print(table)
    summary = _flatten(_summary(run))
    if summary:
        st = Table(title="summary")
        st.add_column("key")
        st.add_column("value", justify="right")
        for k, v in summary.items():
            st.add_row(k, _fmt(v))
        console.print(st)


@runs_app.command("compare")
def compare_command(
    run_a: str = typer.Argument(..., help="first run id"),
    run_b: str = typer.Argument(..., help="second run id"),
    db: str | None = typer.Option(None, "--db", help=_DB_HELP),
    all_rows: bool = typer.Option(False, "--all", help="also the rows that are equal"),
) -> None:
    """The two runs' summaries side by side (differing rows, or --all), with B - A for numbers."""
    from rich.console import Console
    from rich.table import Table

    with _open(db) as store:
        a = store.run(run_a)
        b = store.run(run_b)
    sa_, sb = _flatten(_summary(a)), _flatten(_summary(b))
    table = Table(title=f"{a.id} ({a.name}) vs {b.id} ({b.name})")
    table.add_column("key")
    table.add_column("A", justify="right")
    table.add_column("B", justify="right")
    table.add_column("B - A", justify="right")
    head = [
        ("status", a.status, b.status),
        ("keel version", a.keel_version, b.keel_version),
        ("config sha256", a.config_hash[:12], b.config_hash[:12]),
        ("seed", a.seed, b.seed),
    ]
    differing = 0
    for k, va, vb in head:
        table.add_row(k, _fmt(va), _fmt(vb), "" if va == vb else "differs")
    for key in sorted(set(sa_) | set(sb)):
        va, vb = sa_.get(key), sb.get(key)
        same = va == vb
        differing += not same
        if same and not all_rows:
            continue
        delta = ""
        if isinstance(va, int | float) and isinstance(vb, int | float) and not isinstance(va, bool):
            delta = _fmt(vb - va)
        elif not same:
            delta = "differs"
        table.add_row(key, _fmt(va), _fmt(vb), delta)
    Console().print(table)
    typer.echo(f"{differing} of {len(set(sa_) | set(sb))} summary values differ")
