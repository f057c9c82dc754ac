"""Store throughput: events recorded per second on SQLite and PostgreSQL against the in-memory recorder,
and the 7,200-block desk day (examples/eth_options_desk.toml) with the store against without it.

(1) events/s: N event-log rows (the columns of events.parquet) through
    - ``memory``: keel.engine.EventRecorder.record, then write_parquet (what `keel simulate` does);
    - ``sqlite``: keel.store.StoreRecorder.record (batches behind a bounded queue, written by the writer
      process, ``writer="process"``), then close() (every row committed), into a fresh WAL file;
    - ``postgresql``: the same into a fresh database on 127.0.0.1:5432 (skipped if it does not answer);
    - ``sqlite/thread``, ``postgresql/thread``: the same with the writer thread (``writer="thread"``).
    Interleaved: one run of each variant per round, ROUNDS rounds; min/median/max.
(2) desk day: keel.runtime.run_simulation on the desk config without subscribers and with a
    keel.store.StoreSubscriber (every pipeline event, and per block positions, risk, PnL, oracle)
    on SQLite and on PostgreSQL; warm (a short run first compiles and loads everything); interleaved rounds.

The store's writer is a child process (or, in the ``/thread`` variants, one extra thread); its start-up is
inside the timed part.  Raw output: bench/results/store-<UTC time>.json.
Run: .venv/bin/python bench/store.py [--events N] [--rounds R] [--skip-day] [--day-rounds R] [--writers process,thread]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from keel.engine import EventRecorder
from keel.store import StoreRecorder, open_store

PG_HOST, PG_PORT, PG_USER = "127.0.0.1", 5432, "postgres"


def _pg_up() -> bool:
    try:
        with socket.create_connection((PG_HOST, PG_PORT), timeout=1.0):
            return True
    except OSError:
        return False


class _PgDatabase:
    """A fresh PostgreSQL database for one measurement, dropped afterwards."""

    def __enter__(self) -> str:
        import psycopg

        self.name = f"keel_bench_{uuid.uuid4().hex[:10]}"
        self.conninfo = f"host={PG_HOST} port={PG_PORT} user={PG_USER} dbname=postgres"
        with psycopg.connect(self.conninfo, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.name}"')
        return f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{self.name}"

    def __exit__(self, *exc: object) -> None:
        import psycopg

        with psycopg.connect(self.conninfo, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def _rows(n: int) -> list[tuple[int, str, str, str, float, float, float, str]]:
    kinds = ("hedge_fill", "revert", "arbitrage", "option_fill", "risk_reduce_only")
    return [
        (
            1_704_412_800_000_000_000 + i * 12_000_000_000,
            f"agent{i % 7}",
            kinds[i % 5],
            "ETH",
            i * 0.001,
            2250.0 + i % 97,
            float(i),
            "",
        )
        for i in range(n)
    ]


def _events_memory(rows: list[Any], tmp: Path) -> float:
    t0 = time.perf_counter()
    rec = EventRecorder()
    for r in rows:
        rec.record(*r)
    rec.write_parquet(tmp / "events.parquet")
    return time.perf_counter() - t0


def _split(variant: str) -> tuple[str, Any]:
    db, _, writer = variant.partition("/")
    return db, writer or "process"


def _variants(base: list[str], writers: list[str]) -> list[str]:
    dbs = ["sqlite"] + (["postgresql"] if _pg_up() else [])
    return base + [db if w == "process" else f"{db}/{w}" for db in dbs for w in writers]


def _events_store(rows: list[Any], url: str, writer: Any) -> float:
    store = open_store(url)
    run = store.create_run("bench", config_text="")
    t0 = time.perf_counter()
    rec = StoreRecorder(store, run.id, append_only=True, writer=writer)
    for r in rows:
        rec.record(*r)
    rec.close()
    elapsed = time.perf_counter() - t0
    assert len(store.events(run.id, limit=1, offset=len(rows) - 1)) == 1
    store.close()
    return elapsed


def bench_events(n: int, rounds: int, out: dict[str, Any], writers: list[str]) -> None:
    rows = _rows(n)
    variants = _variants(["memory"], writers)
    times: dict[str, list[float]] = {v: [] for v in variants}
    for _ in range(rounds):
        for v in variants:
            with tempfile.TemporaryDirectory() as d:
                db, writer = _split(v)
                if v == "memory":
                    times[v].append(_events_memory(rows, Path(d)))
                elif db == "sqlite":
                    times[v].append(_events_store(rows, f"sqlite:///{d}/keel.db", writer))
                else:
                    with _PgDatabase() as url:
                        times[v].append(_events_store(rows, url, writer))
    out["events"] = {"n": n, "rounds": rounds, "seconds": times}
    print(f"\n(1) {n:,} event rows, {rounds} interleaved rounds: events/s (min / median / max of rounds)")
    base = statistics.median(times["memory"])
    for v in variants:
        rates = sorted(n / t for t in times[v])
        print(
            f"  {v:<18} {rates[0]:>12,.0f} {statistics.median(rates):>12,.0f} {rates[-1]:>12,.0f}"
            f"   time x{statistics.median(times[v]) / base:,.1f} of memory"
        )


def bench_day(rounds: int, out: dict[str, Any], writers: list[str]) -> None:
    from keel.runtime import run_simulation
    from keel.sim.config import load_config
    from keel.store import StoreSubscriber

    config = load_config(ROOT / "examples" / "eth_options_desk.toml")
    short = config.model_copy(update={"market": config.market.model_copy(update={"hours": 1})})
    run_simulation(short, out=None)  # warm: compile and load everything

    def plain() -> float:
        t0 = time.perf_counter()
        run_simulation(config, out=None)
        return time.perf_counter() - t0

    def with_store(url: str, writer: Any) -> tuple[float, int]:
        store = open_store(url)
        run = store.create_run(config.name, config_text="bench", seed=config.seed)
        t0 = time.perf_counter()
        rec = StoreRecorder(store, run.id, append_only=True, writer=writer)
        run_simulation(config, out=None, subscribers=[StoreSubscriber(rec)])
        rec.close()
        elapsed = time.perf_counter() - t0
        rows = rec.rows_written
        store.close()
        return elapsed, rows

    variants = _variants(["without"], writers)
    times: dict[str, list[float]] = {v: [] for v in variants}
    rows: dict[str, int] = {}
    for _ in range(rounds):
        for v in variants:
            if v == "without":
                times[v].append(plain())
                continue
            db, writer = _split(v)
            with tempfile.TemporaryDirectory() as d:
                if db == "sqlite":
                    t, rows[v] = with_store(f"sqlite:///{d}/keel.db", writer)
                else:
                    with _PgDatabase() as url:
                        t, rows[v] = with_store(url, writer)
            times[v].append(t)
    out["desk_day"] = {"rounds": rounds, "seconds": times, "rows_written": rows}
    base = statistics.median(times["without"])
    print(f"\n(2) desk day, 7,200 blocks, {rounds} interleaved rounds (seconds min / median / max)")
    for v in variants:
        ts = sorted(times[v])
        extra = f"  rows {rows[v]:,}" if v in rows else ""
        print(
            f"  {v:<18} {ts[0]:>8.2f} {statistics.median(ts):>8.2f} {ts[-1]:>8.2f}"
            f"   x{statistics.median(ts) / base:.2f} of without (goal <= 1.5){extra}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--day-rounds", type=int, default=3)
    parser.add_argument("--skip-day", action="store_true")
    parser.add_argument("--skip-events", action="store_true")
    parser.add_argument("--writers", default="process,thread", help="StoreRecorder writers to measure")
    args = parser.parse_args()
    writers = [w for w in args.writers.split(",") if w]
    import sqlalchemy

    out: dict[str, Any] = {
        "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "python": platform.python_version(),
        "machine": f"{platform.machine()} {os.cpu_count()} CPUs",
        "sqlalchemy": sqlalchemy.__version__,
        "loadavg_start": os.getloadavg(),
        "postgresql": _pg_up(),
        "writers": writers,
    }
    print(f"machine {out['machine']}, Python {out['python']}, SQLAlchemy {out['sqlalchemy']}")
    print(f"load average at start {out['loadavg_start']}")
    if not args.skip_events:
        bench_events(args.events, args.rounds, out, writers)
    if not args.skip_day:
        bench_day(args.day_rounds, out, writers)
    out["loadavg_end"] = os.getloadavg()
    print(f"\nload average at end {out['loadavg_end']}")
    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    path = results / f"store-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.json"
    path.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    print(f"raw output: {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
