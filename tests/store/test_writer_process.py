"""StoreRecorder's writer process (keel.store._writer): same rows as the writer thread, back-pressure, errors
raised in the run, a dead child noticed, flush before a checkpoint, the child ends with its parent."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from keel.store import StoreError, StoreRecorder, open_store
from keel.store.store import Store
from keel.store.types import FillRow, IntentRow, OracleRow, PnlRow, PositionRow

ROOT = Path(__file__).resolve().parents[2]


def _record(rec: StoreRecorder, n: int) -> None:
    for b in range(n):
        rec.record(b, "s", "k", "ETH", float(b), math.nan, 1.5 * b, f'{{"b":{b}}}')
        rec.position(PositionRow(b, b, "desk", "WETH", 10**30 + b, 18))
        rec.pnl(PnlRow(b, b, "total", float(b)))
        rec.oracle(OracleRow(b, b, "aggregate", 1800.0 + b, math.nan, "ok"))
        rec.fill(FillRow(f"tx-{b}", b, b, "hedger", "WETH", "USDC", "WETH", 2**90 + b, b))
        rec.intent(IntentRow(f"tx-{b}", b, b, "hedge", "USDC", "", 2**90 + b, 0, "submitted"))
        rec.intent(IntentRow(f"tx-{b}", b, b, "hedge", "USDC", "", 2**90 + b, 0, "filled", updated_ns=b + 1))


def _contents(store: Store, run_id: str) -> list[object]:
    def rows(xs: list[object]) -> list[str]:
        return [repr(x) for x in xs]  # NaN compares unequal; its repr does not

    return [
        rows(store.events(run_id)),  # type: ignore[arg-type]
        rows(store.fills(run_id)),  # type: ignore[arg-type]
        rows(store.intents(run_id)),  # type: ignore[arg-type]
        rows(store.positions(run_id)),  # type: ignore[arg-type]
        rows(store.pnl(run_id)),  # type: ignore[arg-type]
        rows(store.oracle(run_id)),  # type: ignore[arg-type]
    ]


@pytest.mark.parametrize("append_only", [False, True])
def test_process_writer_records_what_the_thread_writer_records(store_url: str, append_only: bool) -> None:
    with open_store(store_url) as store:
        a, b = store.create_run("process", config_text=""), store.create_run("thread", config_text="")
        with StoreRecorder(store, a.id, batch_rows=97, append_only=append_only) as rec:
            assert rec.writer == "process"
            _record(rec, 300)
        with StoreRecorder(store, b.id, batch_rows=97, append_only=append_only, writer="thread") as rec2:
            assert rec2.writer == "thread"
            _record(rec2, 300)
        assert rec.rows_written == rec2.rows_written == 2100
        assert rec.batches_written == rec2.batches_written == math.ceil(2100 / 97)
        assert _contents(store, a.id) == _contents(store, b.id)
        assert len(store.events(a.id)) == 300


def test_stores_a_child_cannot_open_use_the_thread(tmp_path: Path) -> None:
    memory = Store(sa.create_engine("sqlite://"), "sqlite://")
    with pytest.raises(StoreError, match="child process cannot open"):
        StoreRecorder(memory, "r", writer="process")
    with open_store(f"sqlite:///{tmp_path / 'keel.db'}") as store:
        run = store.create_run("patched", config_text="")
        real = store.write_rows
        store.write_rows = lambda *a, **k: real(*a, **k)  # type: ignore[method-assign]
        with StoreRecorder(store, run.id) as rec:  # a write path replaced in this process: the thread
            assert rec.writer == "thread"
            rec.record(1, "s", "k")
        assert len(store.events(run.id)) == 1
    with pytest.raises(StoreError, match="writer='x'"):
        StoreRecorder(memory, "r", writer="x")  # type: ignore[arg-type]


def _hold_write_lock(store_url: str, tmp_path: Path) -> object:
    """A slow database: another connection holds the events table (PostgreSQL) or the write lock (SQLite)."""
    if store_url.startswith("sqlite"):
        import sqlite3

        conn: object = sqlite3.connect(tmp_path / "keel.db", isolation_level=None, check_same_thread=False)
        conn.execute("BEGIN IMMEDIATE")  # type: ignore[attr-defined]
    else:
        import psycopg

        conn = psycopg.connect(store_url.replace("postgresql+psycopg", "postgresql"))
        conn.execute("LOCK TABLE events IN ACCESS EXCLUSIVE MODE")  # type: ignore[attr-defined]
    return conn


def test_a_slow_database_blocks_the_producer_and_loses_no_row(store_url: str, tmp_path: Path) -> None:
    with open_store(store_url) as store:
        run = store.create_run("slow", config_text="")
        rec = StoreRecorder(store, run.id, batch_rows=100, max_batches=2)
        assert rec.writer == "process"
        rec.flush()  # the child is up and has the store open
        lock = _hold_write_lock(store_url, tmp_path)
        pad = "x" * 2000  # 200 kB a batch: more than a pipe holds, so the queue bound is what limits
        done = threading.Event()

        def produce() -> None:
            for i in range(1000):
                rec.record(i, "src", "tick", value=float(i), detail=f"{i}{pad}")  # distinct: pickled apiece
            done.set()

        t = threading.Thread(target=produce)
        t.start()
        time.sleep(1.5)
        blocked = not done.is_set()
        written = rec.rows_written
        lock.rollback()  # type: ignore[attr-defined]
        lock.close()  # type: ignore[attr-defined]
        t.join(timeout=60)
        rec.close()
        assert (blocked, written) == (True, 0)  # the producer waited for the writer: back-pressure
        assert [e.seq for e in store.events(run.id)] == list(range(1000))  # and no row was dropped
        assert rec.rows_written == 1000 and rec.batches_written == 10


def test_a_failed_write_in_the_child_is_raised_in_the_run(store_url: str) -> None:
    with open_store(store_url) as store:
        run = store.create_run("fail", config_text="")
        rec = StoreRecorder(store, run.id, batch_rows=1, max_batches=1)
        assert rec.writer == "process"
        rec.record(0, "s", "k")
        rec.add_row("events", (1, None, "s", "k", "", None, None, None, ""))  # ts_ns NOT NULL: the child fails
        with pytest.raises(StoreError, match=f"writing run {run.id} failed: .*(?i:null)") as err:
            for i in range(2, 1000):
                rec.record(i, "s", "k")
            rec.flush()
        assert "\n" not in str(err.value)
        with pytest.raises(StoreError, match="(?i:null)"):
            rec.close()  # close says it again (and ends the child) rather than hanging
        rec.close()  # closed: nothing more to say
        assert [e.seq for e in store.events(run.id)] == [0]  # the failed batch rolled back, no later one ran


def test_a_killed_child_is_noticed_without_hanging(store_url: str) -> None:
    with open_store(store_url) as store:
        run = store.create_run("killed", config_text="")
        rec = StoreRecorder(store, run.id, batch_rows=10, max_batches=1)
        rec.record(0, "s", "k")
        rec.flush()
        assert rec._process is not None
        os.kill(rec._process.pid, signal.SIGKILL)
        t0 = time.monotonic()
        with pytest.raises(StoreError, match="writer process exited with code -9"):
            for i in range(1, 100_000):
                rec.record(i, "s", "k", detail="y" * 1000)
            rec.flush()
        with pytest.raises(StoreError, match="writer process exited"):
            rec.close()  # close says so too, and returns
        assert time.monotonic() - t0 < 20
        assert [e.seq for e in store.events(run.id)] == [0]  # what was flushed before the kill is committed


def test_flush_commits_every_row_before_a_checkpoint(store_url: str) -> None:
    with open_store(store_url) as store, open_store(store_url) as reader:
        run = store.create_run("cp", config_text="")
        rec = StoreRecorder(store, run.id, batch_rows=1000, max_batches=4)
        for block in (10, 20, 30):
            _record(rec, block)  # fewer rows than a batch: they wait in the run's process until the flush
            rec.flush()
            # what the checkpoint follows is committed, seen by another connection, before it is saved
            assert len(reader.events(run.id)) == sum(range(10, block + 1, 10))
            store.save_checkpoint(run.id, block, block, b"state")
        rec.close()
        assert len(reader.events(run.id)) == 60


def test_the_child_serves_the_next_recorder_and_not_after_a_failure(tmp_path: Path) -> None:
    with open_store(f"sqlite:///{tmp_path / 'keel.db'}") as store:
        runs = [store.create_run(f"r{i}", config_text="") for i in range(2)]
        with StoreRecorder(store, runs[0].id) as first:
            first.record(0, "s", "k")
            assert first._process is not None
            pid = first._process.pid
        with StoreRecorder(store, runs[1].id) as second:
            second.record(0, "s", "k")
            assert second._process is not None and second._process.pid == pid  # no second start-up
        bad = StoreRecorder(store, runs[0].id, batch_rows=1)
        assert bad._process is not None and bad._process.pid == pid
        with pytest.raises(StoreError):
            bad.add_row("events", (5, None, "s", "k", "", None, None, None, ""))
            bad.close()
        with StoreRecorder(store, runs[1].id, event_seq=1) as third:
            assert third._process is not None and third._process.pid != pid  # a failed child is not reused
            third.record(1, "s", "k")
        assert [len(store.events(r.id)) for r in runs] == [1, 2]


def test_the_child_ends_when_the_run_process_dies(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import os, signal, sys
        from keel.store import StoreRecorder, open_store
        store = open_store({f"sqlite:///{tmp_path / 'keel.db'}"!r})
        run = store.create_run("dies", config_text="")
        rec = StoreRecorder(store, run.id)
        rec.record(0, "s", "k")
        rec.flush()
        print(rec._process.pid, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == -9, proc.stderr
    child = int(proc.stdout.split()[0])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{child}/stat", encoding="ascii") as fh:
                if fh.read().rsplit(")", 1)[-1].split()[0] == "Z":
                    break  # ended, not yet reaped by whoever adopted it
        except OSError:
            break
        time.sleep(0.05)
    else:
        pytest.fail(f"writer process {child} outlived its run's process")
