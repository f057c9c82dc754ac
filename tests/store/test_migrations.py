"""Migrations on SQLite and PostgreSQL: an empty database goes up to head (exactly the tables of
keel.store.schema) and down to base again; a database from a newer schema is refused untouched."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from keel.store import RiskRow, StoreError, migrate, open_store, resolve_url
from keel.store.schema import SCHEMA_HEAD, metadata


def _engine(url: str) -> sa.Engine:
    return sa.create_engine(resolve_url(url)[0])


def test_upgrade_to_head_and_downgrade_to_base(store_url: str) -> None:
    engine = _engine(store_url)
    try:
        with engine.begin() as conn:
            assert migrate.current_revision(conn) is None
            migrate.upgrade(conn)
        with engine.connect() as conn:
            assert migrate.current_revision(conn) == migrate.head_revision() == SCHEMA_HEAD
            tables = set(sa.inspect(conn).get_table_names())
            assert tables == set(metadata.tables) | {"keel_alembic_version"}
            diff = compare_metadata(
                MigrationContext.configure(conn, opts={"compare_type": False, "version_table": migrate.VERSION_TABLE}),
                metadata,
            )
            assert diff == []
        with engine.begin() as conn:
            migrate.downgrade(conn)
        with engine.connect() as conn:
            assert set(sa.inspect(conn).get_table_names()) <= {"keel_alembic_version"}
            assert migrate.current_revision(conn) is None
        with engine.begin() as conn:  # and up again: the downgrade left nothing behind
            migrate.upgrade(conn)
    finally:
        engine.dispose()


def test_run_controls_migration_up_and_down_keeps_the_runs(store_url: str) -> None:
    """0001 -> 0002 adds run_controls beside existing rows; 0002 -> 0001 drops only that table."""
    engine = _engine(store_url)
    try:
        with engine.begin() as conn:
            migrate.upgrade(conn, "0001")
        with engine.begin() as conn:
            assert "run_controls" not in sa.inspect(conn).get_table_names()
            conn.execute(
                sa.text(
                    "INSERT INTO runs (id, name, status, mode, keel_version, config_text, config_hash, account, "
                    "started_ns, parent_run, out_dir, host, pid, summary_json) VALUES ('r1', 'n', 'running', 'sim', "
                    "'0', '', '', '', 1, '', '', 'h', 1, '')"
                )
            )
        with engine.begin() as conn:
            migrate.upgrade(conn, "0002")
        with engine.begin() as conn:
            assert migrate.current_revision(conn) == "0002"
            assert "run_controls" in sa.inspect(conn).get_table_names()
            conn.execute(
                sa.text(
                    "INSERT INTO run_controls (run_id, seq, action, requested_ns, requester) "
                    "VALUES ('r1', 0, 'pause', 5, 'api')"
                )
            )
        with engine.begin() as conn:
            migrate.downgrade(conn, "0001")
        with engine.connect() as conn:
            assert migrate.current_revision(conn) == "0001"
            assert "run_controls" not in sa.inspect(conn).get_table_names()
            assert conn.execute(sa.text("SELECT id FROM runs")).scalars().all() == ["r1"]
        with engine.begin() as conn:
            migrate.upgrade(conn)
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM run_controls")).scalar() == 0
    finally:
        engine.dispose()


def test_risk_greeks_migration_keeps_the_rows_recorded_before(store_url: str) -> None:
    """0002 -> 0003 adds gamma, vega and theta to risk_snapshots: rows recorded before stay, their Greeks NULL
    (None when read); 0003 -> 0002 drops the three columns and keeps the rows."""
    engine = _engine(store_url)
    try:
        with engine.begin() as conn:
            migrate.upgrade(conn, "0002")
            conn.execute(
                sa.text(
                    "INSERT INTO runs (id, name, status, mode, keel_version, config_text, config_hash, account, "
                    "started_ns, parent_run, out_dir, host, pid, summary_json) VALUES ('r1', 'n', 'finished', 'sim', "
                    "'0', '', '', '', 1, '', '', 'h', 1, '')"
                )
            )
            conn.execute(
                sa.text(
                    "INSERT INTO risk_snapshots (run_id, block_number, account, ts_ns, equity_usd, margin_ratio, "
                    "delta, status) VALUES ('r1', 7, 'desk', 70, 1000.5, 2.5, -3.25, 'ok')"
                )
            )
        engine.dispose()
        with open_store(store_url) as store:  # opening migrates to head
            old = store.latest_risk("r1")
            assert old is not None and (old.block_number, old.delta, old.margin_ratio) == (7, -3.25, 2.5)
            assert (old.gamma, old.vega, old.theta) == (None, None, None)
            store.write_risk("r1", [RiskRow(8, 80, "desk", 1.0, 0.0, 0.0, 2.0, 0.5, "ok", -0.25, -40.0, 12.5)])
            assert store.latest_risk("r1") == RiskRow(8, 80, "desk", 1.0, 0.0, 0.0, 2.0, 0.5, "ok", -0.25, -40.0, 12.5)
        with engine.begin() as conn:
            assert migrate.current_revision(conn) == SCHEMA_HEAD == "0003"
            migrate.downgrade(conn, "0002")
        with engine.connect() as conn:
            columns = {c["name"] for c in sa.inspect(conn).get_columns("risk_snapshots")}
            assert not columns & {"gamma", "vega", "theta"} and "delta" in columns
            rows = conn.execute(sa.text("SELECT block_number, delta FROM risk_snapshots ORDER BY block_number"))
            assert [tuple(r) for r in rows] == [(7, -3.25), (8, 0.5)]
    finally:
        engine.dispose()


def test_open_store_migrates_once_and_reopens(store_url: str) -> None:
    with open_store(store_url) as store:
        run = store.create_run("m", config_text="")
    with open_store(store_url) as store:
        assert [r.id for r in store.runs()] == [run.id]


def test_newer_schema_is_refused_and_nothing_written(store_url: str) -> None:
    engine = _engine(store_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE keel_alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)"))
            conn.execute(sa.text("INSERT INTO keel_alembic_version VALUES ('9001')"))
        try:
            open_store(store_url)
        except StoreError as exc:
            message = str(exc)
        else:
            raise AssertionError("a newer schema was accepted")
        assert "schema revision '9001' is newer than this keel knows" in message and "\n" not in message
        with engine.connect() as conn:
            assert set(sa.inspect(conn).get_table_names()) == {"keel_alembic_version"}
    finally:
        engine.dispose()


def test_processes_opening_a_fresh_database_together_migrate_once(store_url: str) -> None:
    import subprocess
    import sys

    code = "import sys; from keel.store import open_store; open_store(sys.argv[1]).close()"
    procs = [subprocess.Popen([sys.executable, "-c", code, store_url], stderr=subprocess.PIPE) for _ in range(4)]
    errors = [p.communicate()[1].decode() for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], errors
    with open_store(store_url) as store:
        assert store.runs() == []
