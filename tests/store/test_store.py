"""The store's contract on SQLite and PostgreSQL: runs oldest first, exact amounts, idempotent writers,
readers, checkpoints, bounded-queue recording, and one-line errors that write nothing."""

from __future__ import annotations

import math
import os
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from keel.store import (
    AlertRow,
    EventRow,
    FillRow,
    IntentRow,
    OracleRow,
    PnlRow,
    PositionRow,
    RiskRow,
    StoreError,
    StoreRecorder,
    config_hash,
    open_store,
)


def test_runs_oldest_first_with_contract_fields(store_url: str) -> None:
    with open_store(store_url) as store:
        a = store.create_run("alpha", config_text="seed = 1\n", seed=1, started_ns=1_000)
        b = store.create_run("beta", config_text="seed = 2\n", seed=2, started_ns=2_000)
        c = store.create_run("alpha", config_text="seed = 1\n", seed=1, started_ns=1_500)
        runs = store.runs()
        assert [r.id for r in runs] == [a.id, c.id, b.id]
        r = runs[0]
        assert (r.name, r.status, r.mode) == ("alpha", "running", "sim")
        assert r.keel_version and r.config_hash == config_hash("seed = 1\n")
        store.finish_run(a.id, "finished", summary_json='{"x": 1}\n')
        assert store.run(a.id).status == "finished"
        assert store.run(a.id).summary_json == '{"x": 1}\n'
        assert [x.id for x in store.runs(name="alpha")] == [a.id, c.id]
        assert [x.id for x in store.runs(limit=1)] == [b.id]
        with pytest.raises(StoreError, match="no such run"):
            store.run("nope-0000")
        with pytest.raises(StoreError, match="must be finished, failed or killed"):
            store.finish_run(a.id, "done")


def test_run_of_a_dead_process_reads_killed(store_url: str) -> None:
    with open_store(store_url) as store:
        run = store.create_run("k", config_text="")
        with store.engine.begin() as conn:  # as if a process that is gone had created it
            conn.execute(sa.text("UPDATE runs SET pid = 2147483000 WHERE id = :i"), {"i": run.id})
        assert store.run(run.id).status == "killed"


def test_amounts_are_exact_ints_beyond_64_bits(store_url: str) -> None:
    big = 2**255 - 19
    with open_store(store_url) as store:
        run = store.create_run("exact", config_text="")
        store.write_fills(run.id, [FillRow("0xabc", 5, 1, "hedger", "ETH", "USDC", "WETH", big, -big, fee=10**30 + 1)])
        store.write_positions(run.id, [PositionRow(1, 5, "desk", "WETH", -big, 18)])
        f = store.fills(run.id)[0]
        assert (f.amount_in, f.amount_out, f.fee) == (big, -big, 10**30 + 1)
        assert type(f.amount_in) is int
        assert store.latest_positions(run.id) == {("desk", "WETH"): -big}
        with pytest.raises(ValueError, match="must be an int in base units"):
            store.write_positions(run.id, [PositionRow(2, 6, "desk", "WETH", 1.5, 18)])  # type: ignore[arg-type]
        assert store.latest_positions(run.id) == {("desk", "WETH"): -big}  # the refused batch wrote nothing


def test_writers_record_each_key_once(store_url: str) -> None:
    with open_store(store_url) as store:
        run = store.create_run("once", config_text="")
        fill = FillRow("0x01", 10, 3, "hedger", "ETH", "USDC", "WETH", 100, 200, quantity=0.5, price=1800.0)
        store.write_fills(run.id, [fill])
        store.write_fills(run.id, [fill])  # a replay after a restart
        assert store.fills(run.id) == [fill]
        store.write_positions(run.id, [PositionRow(3, 10, "desk", "WETH", 5, 18)])
        store.write_positions(run.id, [PositionRow(3, 10, "desk", "WETH", 7, 18)])  # same block: replaced
        store.write_positions(run.id, [PositionRow(4, 11, "desk", "USDC", 9, 6)])
        assert [(p.block_number, p.asset, p.amount) for p in store.positions(run.id)] == [
            (3, "WETH", 7),
            (4, "USDC", 9),
        ]
        assert [(p.asset, p.amount) for p in store.positions(run.id, block=3)] == [("WETH", 7)]
        intent = IntentRow("h-1", 10, 3, "hedge", "USDC", "WETH", 100, 90, "open")
        store.write_intents(run.id, [intent])
        store.write_intents(
            run.id, [IntentRow("h-1", 10, 3, "hedge", "USDC", "WETH", 100, 90, "filled", updated_ns=12)]
        )
        assert [(i.intent_id, i.status, i.updated_ns) for i in store.intents(run.id)] == [("h-1", "filled", 12)]
        assert store.intents(run.id, status="open") == []


def test_readers_round_trip_every_table(store_url: str) -> None:
    with open_store(store_url) as store:
        run = store.create_run("rt", config_text="")
        store.write_events(run.id, [EventRow(0, 1, "oracle", "price", "ETH", math.nan, 1800.5, math.nan, "")])
        store.write_risk(
            run.id, [RiskRow(1, 1, "desk", 1e6, 2e4, 1e4, 100.0, -0.5), RiskRow(2, 2, "desk", 1e6, 0, 0, math.nan, 0)]
        )
        store.write_pnl(run.id, [PnlRow(1, 1, "theta", 1.25), PnlRow(1, 1, "total", 1.25)])
        store.write_oracle(
            run.id,
            [
                (0, OracleRow(1, 1, "aggregate", 1800.5, 0.9, "ok")),
                (1, OracleRow(2, 2, "aggregate", math.nan, math.nan, "halted")),
            ],
        )
        store.write_alerts(run.id, [(0, AlertRow(2, "critical", "oracle_halted", "no quorum", 2))])
        e = store.events(run.id)[0]
        assert (e.seq, e.kind, e.price, math.isnan(e.quantity)) == (0, "price", 1800.5, True)
        risk = store.risk(run.id)
        assert risk[0] == RiskRow(1, 1, "desk", 1e6, 2e4, 1e4, 100.0, -0.5) and math.isnan(risk[1].margin_ratio)
        assert [(p.component, p.usd) for p in store.pnl(run.id)] == [("theta", 1.25), ("total", 1.25)]
        o = store.oracle(run.id)
        assert (
            o[0] == OracleRow(1, 1, "aggregate", 1800.5, 0.9, "ok")
            and o[1].status == "halted"
            and math.isnan(o[1].price)
        )
        assert store.alerts(run.id) == [AlertRow(2, "critical", "oracle_halted", "no quorum", 2)]


def test_newest_state_and_rows_after_a_cursor(store_url: str) -> None:
    """The readers the service pages and streams with: PnL as of a block (rows exist only where a component
    changed), the newest risk and oracle rows, blocks per run, and event/journal/alert rows after a cursor."""
    with open_store(store_url) as store:
        run = store.create_run("cursor", config_text="")
        other = store.create_run("other", config_text="")
        assert store.latest_risk(run.id) is None and store.latest_oracle(run.id) is None
        assert store.blocks_recorded([run.id, other.id]) == {} and store.pnl_as_of(run.id, 5) == {}
        assert store.stream_start(run.id, 10) == (0, 0)
        store.write_pnl(
            run.id,
            [
                PnlRow(1, 10, "funding", 0.0), PnlRow(1, 10, "theta", 1.0), PnlRow(1, 10, "total", 1.0),
                PnlRow(2, 20, "theta", 2.0), PnlRow(2, 20, "total", 2.0),
                PnlRow(4, 40, "gas", -0.5), PnlRow(4, 40, "total", 1.5),
            ],
        )  # fmt: skip
        store.write_pnl(other.id, [PnlRow(9, 90, "theta", 99.0)])
        assert store.pnl_as_of(run.id, 1) == {"funding": 0.0, "theta": 1.0, "total": 1.0}
        assert store.pnl_as_of(run.id, 3) == {"funding": 0.0, "theta": 2.0, "total": 2.0}
        assert store.pnl_as_of(run.id, 99) == {"funding": 0.0, "gas": -0.5, "theta": 2.0, "total": 1.5}
        assert store.pnl_by_block(run.id) == [
            (1, 10, {"funding": 0.0, "theta": 1.0, "total": 1.0}),
            (2, 20, {"funding": 0.0, "theta": 2.0, "total": 2.0}),
            (4, 40, {"funding": 0.0, "gas": -0.5, "theta": 2.0, "total": 1.5}),
        ]
        store.write_risk(run.id, [RiskRow(b, b * 10, "desk", 1e6 + b, 0, 0, 2.0, -b) for b in (1, 2, 3, 4)])
        store.write_risk(other.id, [RiskRow(7, 70, "desk", 1.0, 0, 0, 2.0, 0.0)])
        assert store.latest_risk(run.id) == RiskRow(4, 40, "desk", 1e6 + 4, 0, 0, 2.0, -4)
        assert store.blocks_recorded([run.id, other.id, "nope"]) == {run.id: 4, other.id: 7}
        store.write_oracle(run.id, [(i, OracleRow(i * 10, i, "aggregate", 1800.0 + i, 1.0, "ok")) for i in range(3)])
        assert store.latest_oracle(run.id) == OracleRow(20, 2, "aggregate", 1802.0, 1.0, "ok")
        kinds = ("fill", "oracle", "fill", "receipt", "fill")
        store.write_events(run.id, [EventRow(i, i, "a", k, "", 0.0, 0.0, 0.0, f"d{i}") for i, k in enumerate(kinds)])
        fills = [(0, "fill", "d0"), (2, "fill", "d2"), (4, "fill", "d4")]
        assert store.events_after(run.id, 0, kinds=("fill",), limit=10) == (fills, 4)
        assert store.events_after(run.id, 1, kinds=("fill", "receipt"), limit=2) == (
            [(2, "fill", "d2"), (3, "receipt", "d3")],
            4,
        )
        assert store.events_after(run.id, 5, kinds=("fill",), limit=10) == ([], 4)
        assert store.events_after(other.id, 0, kinds=("fill",), limit=10) == ([], None)
        assert store.stream_start(run.id, 2) == (3, 0)
        store.write_alerts(run.id, [(i, AlertRow(i, "warning", "margin_ratio", f"m{i}", i)) for i in range(3)])
        assert store.alerts_after(run.id, 1, limit=1) == [(1, AlertRow(1, "warning", "margin_ratio", "m1", 1))]
        assert store.alerts_after(run.id, 3, limit=5) == []


def test_checkpoints_keep_the_newest(store_url: str) -> None:
    with open_store(store_url) as store:
        run = store.create_run("cp", config_text="")
        assert store.latest_checkpoint(run.id) is None
        for block in (10, 20, 30):
            store.save_checkpoint(run.id, block, block * 12, bytes([block]) * 1000)
        cp = store.latest_checkpoint(run.id)
        assert cp is not None and (cp.seq, cp.block_number, cp.payload) == (2, 30, bytes([30]) * 1000)


def test_recorder_batches_and_blocks_instead_of_dropping(store_url: str) -> None:
    with open_store(store_url) as store:
        run = store.create_run("rec", config_text="")
        slow_calls = []
        real = store.write_rows

        def slow(run_id: str, batch: dict, append_only: bool = False) -> None:  # a slow database
            slow_calls.append(sum(len(v) for v in batch.values()))
            time.sleep(0.05)
            real(run_id, batch, append_only=append_only)

        store.write_rows = slow  # type: ignore[method-assign]
        rec = StoreRecorder(store, run.id, batch_rows=100, max_batches=2)
        t0 = time.perf_counter()
        for i in range(1000):
            rec.record(i, "src", "tick", value=float(i))
        elapsed = time.perf_counter() - t0
        rec.close()
        assert len(store.events(run.id)) == 1000
        assert [e.seq for e in store.events(run.id)] == list(range(1000))
        assert slow_calls == [100] * 10
        assert elapsed >= 0.05 * (10 - 2 - 1)  # the producer waited for the writer: back-pressure, no drops


def test_recorder_raises_a_failed_write_in_the_run(store_url: str) -> None:
    with open_store(store_url) as store:
        run = store.create_run("fail", config_text="")

        def broken(run_id: str, batch: dict, append_only: bool = False) -> None:
            raise sa.exc.OperationalError("INSERT", {}, Exception("disk I/O error"))

        store.write_rows = broken  # type: ignore[method-assign]
        rec = StoreRecorder(store, run.id, batch_rows=1, max_batches=1)
        with pytest.raises(StoreError, match="writing run .* failed: disk I/O error"):
            for i in range(100):
                rec.record(i, "s", "k")
            rec.close()


def test_readers_work_while_a_run_writes(store_url: str) -> None:
    with open_store(store_url) as store, open_store(store_url) as reader:
        run = store.create_run("live-read", config_text="")
        rec = StoreRecorder(store, run.id, batch_rows=50)
        seen: list[int] = []
        stop = threading.Event()

        def read() -> None:
            while not stop.is_set():
                seen.append(len(reader.events(run.id)))

        t = threading.Thread(target=read)
        t.start()
        for i in range(2000):
            rec.record(i, "s", "k")
        rec.close()
        stop.set()
        t.join()
        assert len(reader.events(run.id)) == 2000
        assert seen == sorted(seen)  # readers see whole committed batches, growing


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("nonsense", "not a database URL"),
        ("", "not a database URL"),
        ("mysql://u@h/db", "unsupported database 'mysql'"),
        ("postgresql://postgres@127.0.0.1:1/keel", "cannot open"),
        ("postgresql://postgres@127.0.0.1:5432", "names no database"),
        ("sqlite://", "names no file"),
        ("sqlite:///:memory:", "names no file"),
    ],
)
def test_bad_urls_give_one_line_and_write_nothing(url: str, message: str, tmp_path: Path) -> None:
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        with pytest.raises(StoreError, match=message) as err:
            open_store(url)
    finally:
        os.chdir(cwd)
    assert "\n" not in str(err.value)
    assert list(tmp_path.iterdir()) == []


def test_password_never_shown(tmp_path: Path) -> None:
    with pytest.raises(StoreError) as err:
        open_store("postgresql://keel:hunter2@127.0.0.1:1/keel")
    assert "hunter2" not in str(err.value) and "***" in str(err.value)


def test_a_file_that_is_not_sqlite_is_refused_untouched(tmp_path: Path) -> None:
    f = tmp_path / "keel.db"
    f.write_bytes(b"this is a text file, not a database\n")
    with pytest.raises(StoreError, match="is not a SQLite database"):
        open_store(f"sqlite:///{f}")
    assert f.read_bytes() == b"this is a text file, not a database\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keel.db"]


def test_env_url_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEEL_DB_URL", f"sqlite:///{tmp_path / 'env.db'}")
    with open_store() as store:
        store.create_run("e", config_text="")
    assert (tmp_path / "env.db").exists()


def test_recorder_refuses_inexact_amounts_at_once(store_url: str) -> None:
    with open_store(store_url) as store:
        run = store.create_run("inexact", config_text="")
        with StoreRecorder(store, run.id) as rec:
            for bad in (1.5, True, 10**80):
                with pytest.raises(ValueError, match="amount="):
                    rec.position(PositionRow(1, 1, "desk", "WETH", bad, 18))  # type: ignore[arg-type]
            rec.position(PositionRow(1, 1, "desk", "WETH", 2**200, 18))
            rec.fill(FillRow("f", 1, 1, "s", "i", "A", "B", 2**100, -(2**100)))
        assert store.latest_positions(run.id) == {("desk", "WETH"): 2**200}
        assert (store.fills(run.id)[0].amount_in, store.fills(run.id)[0].amount_out) == (2**100, -(2**100))


def test_append_only_recording_and_discard_after_a_checkpoint(store_url: str) -> None:
    with open_store(store_url) as store:
        run = store.create_run("append", config_text="")
        with StoreRecorder(store, run.id, append_only=True) as rec:
            for b in range(1, 11):
                rec.record(b, "s", "k", value=float(b))
                rec.position(PositionRow(b, b, "desk", "WETH", 10**30 + b, 18))
                rec.pnl(PnlRow(b, b, "total", float(b)))
                greeks = (-0.5 * b, -100.0 * b, math.nan) if b % 2 else (None, None, None)  # NaN and None: NULL
                rec.risk(RiskRow(b, b, "desk", 1e6, 0.0, 0.0, 2.0, 0.25 * b, "ok", *greeks))
                rec.oracle(OracleRow(b, b, "aggregate", 1800.0 + b, math.nan, "ok"))
                rec.fill(FillRow(f"tx-{b}", b, b, "hedger", "WETH", "USDC", "WETH", 2**90 + b, b))
                rec.intent(IntentRow(f"tx-{b}", b, b, "hedge", "USDC", "", 2**90 + b, 0, "submitted"))
                rec.intent(IntentRow(f"tx-{b}", b, b, "hedge", "USDC", "", 2**90 + b, 0, "filled", updated_ns=b + 1))
        assert store.latest_positions(run.id) == {("desk", "WETH"): 10**30 + 10}
        risk = store.risk(run.id)  # PostgreSQL took these by COPY
        assert [(r.gamma, r.vega, r.theta) for r in risk[:2]] == [(-0.5, -100.0, None), (None, None, None)]
        assert [r.delta for r in risk] == [0.25 * b for b in range(1, 11)]
        assert [f.amount_in for f in store.fills(run.id)] == [2**90 + b for b in range(1, 11)]
        assert {i.status for i in store.intents(run.id)} == {"filled"}
        store.discard_after(run.id, 6, event_seq=6, oracle_seq=6, alert_seq=0)  # checkpoint after block 6
        assert len(store.events(run.id)) == 6 and len(store.oracle(run.id)) == 6
        assert [p.block_number for p in store.positions(run.id)] == list(range(1, 7))
        assert len(store.fills(run.id)) == len(store.pnl(run.id)) == 6
        with StoreRecorder(store, run.id, append_only=True, event_seq=6, oracle_seq=6) as rec:  # resumed
            for b in range(7, 11):
                rec.record(b, "s", "k", value=float(b))
                rec.fill(FillRow(f"tx-{b}", b, b, "hedger", "WETH", "USDC", "WETH", 2**90 + b, b))
        assert [e.seq for e in store.events(run.id)] == list(range(10))
        assert [f.fill_id for f in store.fills(run.id)] == [f"tx-{b}" for b in range(1, 11)]
