"""The state store: one interface over SQLite (embedded, WAL) and PostgreSQL (psycopg 3).

``open_store(url)`` checks the URL, connects, refuses a database made by a newer Keel, and only
then migrates it to the current schema: a bad URL, an unreachable server or a newer schema raise
:class:`StoreError` (one line) and write nothing.  Writers are idempotent per key (a fill, an event,
an oracle reading or an alert is recorded once; positions, risk, PnL and intents per block are
replaced), so a resumed or restarted run that replays a few blocks never records a thing twice.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import socket
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import URL, Connection, Engine, make_url

from keel import __version__
from keel.errors import KeelError
from keel.store import migrate
from keel.store import schema as t
from keel.store.types import (
    CONTROL_ACTIONS,
    RUN_MODES,
    RUN_STATUSES,
    AlertRow,
    Amount,
    CheckpointRow,
    ControlRow,
    EventRow,
    FillRow,
    IntentRow,
    LeaseInfo,
    OracleRow,
    PnlRow,
    PositionRow,
    RiskRow,
    RunInfo,
    StoreError,
    TransactionRow,
)

__all__ = ["DEFAULT_URL", "ROW_COLUMNS", "Store", "config_hash", "new_run_id", "open_store", "resolve_url"]

DEFAULT_URL = "sqlite:///runs/keel.db"
ENV_URL = "KEEL_DB_URL"
_HOST = socket.gethostname()
_ACTIVE = ("running", "paused")  # a run whose process still steps it


def config_hash(config_text: str) -> str:
    """SHA-256 of the configuration text (hex)."""
    return hashlib.sha256(config_text.encode("utf-8")).hexdigest()


def new_run_id(now_ns: int | None = None) -> str:
    """``YYYYmmddTHHMMSSZ-xxxxxx``: UTC start time (sorts by age) and 24 random bits."""
    ns = time.time_ns() if now_ns is None else now_ns
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(ns // 1_000_000_000))
    return f"{stamp}-{secrets.token_hex(3)}"


def resolve_url(url: str | None) -> tuple[URL, str]:
    """The SQLAlchemy URL for ``url`` (else ``$KEEL_DB_URL``, else ``sqlite:///runs/keel.db``) and its
    printable form (password hidden).  ``postgresql://`` and ``postgres://`` use psycopg 3."""
    raw = url if url is not None else os.environ.get(ENV_URL) or DEFAULT_URL
    shown = raw
    if not isinstance(raw, str) or not raw.strip() or "\n" in raw or "\x00" in raw:
        raise StoreError(f"db={raw!r}: not a database URL (use sqlite:///PATH or postgresql://USER@HOST/DB)")
    try:
        parsed = make_url(raw)
        shown = parsed.render_as_string(hide_password=True)
    except Exception:
        raise StoreError(f"db={raw!r}: not a database URL (use sqlite:///PATH or postgresql://USER@HOST/DB)") from None
    backend = parsed.get_backend_name()
    driver = parsed.get_driver_name()
    if backend in ("postgresql", "postgres"):
        if driver not in ("psycopg", "postgresql", "postgres", ""):
            raise StoreError(
                f"db={shown!r}: driver {driver!r} not supported (use postgresql:// or postgresql+psycopg://)"
            )
        parsed = parsed.set(drivername="postgresql+psycopg")
        if not parsed.database:
            raise StoreError(f"db={shown!r}: names no database (postgresql://USER@HOST:PORT/DATABASE)")
    elif backend == "sqlite":
        if driver not in ("pysqlite", ""):
            raise StoreError(f"db={shown!r}: driver {driver!r} not supported (use sqlite:///PATH)")
        if not parsed.database or parsed.database == ":memory:":
            raise StoreError(f"db={shown!r}: names no file (use sqlite:///PATH; an in-memory store keeps nothing)")
        if parsed.host or parsed.port or parsed.username:
            raise StoreError(f"db={shown!r}: a SQLite URL has no host (use sqlite:///relative or sqlite:////absolute)")
    else:
        raise StoreError(f"db={shown!r}: unsupported database {backend!r} (use sqlite:///PATH or postgresql://...)")
    return parsed, parsed.render_as_string(hide_password=True)


ROW_COLUMNS: dict[str, tuple[sa.Table, tuple[str, ...], tuple[str, ...], bool]] = {
    # kind: (table, columns of a row tuple after run_id, conflict key, replace on conflict)
    "events": (
        t.events,
        ("seq", "ts_ns", "source", "kind", "instrument", "quantity", "price", "value", "detail"),
        ("run_id", "seq"),
        False,
    ),
    "fills": (
        t.fills,
        (
            "fill_id",
            "ts_ns",
            "block_number",
            "source",
            "instrument",
            "token_in",
            "token_out",
            "amount_in",
            "amount_out",
            "fee",
            "fee_token",
            "quantity",
            "price",
            "intent_id",
            "tx_hash",
        ),
        ("run_id", "fill_id"),
        False,
    ),
    "intents": (
        t.intents,
        (
            "intent_id",
            "created_ns",
            "updated_ns",
            "block_number",
            "kind",
            "token_in",
            "token_out",
            "amount_in",
            "min_amount_out",
            "deadline_block",
            "status",
            "detail",
        ),
        ("run_id", "intent_id"),
        True,
    ),
    "positions": (
        t.positions,
        ("block_number", "ts_ns", "account", "asset", "amount", "decimals"),
        ("run_id", "block_number", "account", "asset"),
        True,
    ),
    "risk": (
        t.risk_snapshots,
        (
            "block_number",
            "ts_ns",
            "account",
            "equity_usd",
            "initial_margin_usd",
            "maintenance_margin_usd",
            "margin_ratio",
            "delta",
            "status",
            "gamma",
            "vega",
            "theta",
        ),
        ("run_id", "block_number", "account"),
        True,
    ),
    "pnl": (t.pnl, ("block_number", "ts_ns", "component", "usd"), ("run_id", "block_number", "component"), True),
    "oracle": (
        t.oracle_readings,
        ("seq", "ts_ns", "block_number", "source", "price", "confidence", "status"),
        ("run_id", "seq"),
        False,
    ),
    "alerts": (
        t.alerts,
        ("seq", "ts_ns", "block_number", "severity", "kind", "message"),
        ("run_id", "seq"),
        False,
    ),
}


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (killed, not yet reaped by its parent) is dead for our purposes.
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return True


def _holder_alive(host: str, pid: int) -> bool:
    """Whether a process recorded as (host, pid) may still run: known dead only on this host."""
    return host != _HOST or _pid_alive(pid)


def _nan_to_none(x: float) -> float | None:
    return None if x != x else float(x)


def _opt(x: Any) -> float | None:
    """A measure that may be absent: NULL (or NaN) as None, else the float."""
    return None if x is None or x != x else float(x)


def _none_to_nan(x: Any) -> float:
    return float("nan") if x is None else float(x)


def _sqlite_engine(url: URL) -> Engine:
    path = Path(str(url.database))
    engine = sa.create_engine(url, connect_args={"timeout": 30.0, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (below)
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable across a process kill
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Writers take the write lock at BEGIN: no lost update between a read and a write (leases).
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("immediate") else "BEGIN")

    del path
    return engine


class Store:
    """A connected, migrated store.  Thread-safe (one SQLAlchemy engine; a connection per operation)."""

    def __init__(self, engine: Engine, shown_url: str) -> None:
        self.engine = engine
        self.url = shown_url
        self.dialect = engine.dialect.name
        self._sql_cache: dict[str, tuple[str, tuple[int, ...]]] = {}

    def __repr__(self) -> str:
        return f"Store({self.url!r})"

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _write(self) -> Any:
        """A transaction that holds the write lock from its start (SQLite BEGIN IMMEDIATE)."""
        if self.dialect == "sqlite":
            return self.engine.execution_options(immediate=True).begin()
        return self.engine.begin()

    # ---- generic upserts ------------------------------------------------------------------------
    def _insert(
        self,
        conn: Connection,
        table: sa.Table,
        rows: Sequence[dict[str, Any]],
        keys: Sequence[str],
        update: bool,
    ) -> None:
        if not rows:
            return
        ins: Any = (sqlite_dialect.insert if self.dialect == "sqlite" else pg_dialect.insert)(table)
        if update:
            cols = {c.name: ins.excluded[c.name] for c in table.columns if c.name not in keys}
            stmt = ins.on_conflict_do_update(index_elements=list(keys), set_=cols)
        else:
            stmt = ins.on_conflict_do_nothing(index_elements=list(keys))
        try:
            conn.execute(stmt, list(rows))
        except sa.exc.StatementError as exc:
            if isinstance(exc.orig, KeelError):  # a refused value (a float amount): the batch rolls back
                raise exc.orig from None
            raise

    # ---- runs -----------------------------------------------------------------------------------
    def create_run(
        self,
        name: str,
        *,
        config_text: str,
        mode: str = "sim",
        seed: int | None = None,
        chain_id: int | None = None,
        account: str = "",
        run_id: str | None = None,
        parent_run: str = "",
        out_dir: str = "",
        started_ns: int | None = None,
    ) -> RunInfo:
        """Register a new run with status ``running``; returns it."""
        if mode not in RUN_MODES:
            raise StoreError(f"mode={mode!r}: must be one of {', '.join(RUN_MODES)}")
        rid = run_id or new_run_id(started_ns)
        row = {
            "id": rid,
            "name": name,
            "status": "running",
            "mode": mode,
            "keel_version": __version__,
            "config_text": config_text,
            "config_hash": config_hash(config_text),
            "seed": seed,
            "chain_id": chain_id,
            "account": account,
            "started_ns": time.time_ns() if started_ns is None else started_ns,
            "ended_ns": None,
            "parent_run": parent_run,
            "out_dir": out_dir,
            "host": _HOST,
            "pid": os.getpid(),
            "summary_json": "",
        }
        with self._write() as conn:
            if conn.execute(sa.select(t.runs.c.id).where(t.runs.c.id == rid)).first() is not None:
                raise StoreError(f"run={rid!r}: already exists")
            conn.execute(t.runs.insert(), row)
        return self.run(rid)

    def adopt_run(self, run_id: str) -> RunInfo:
        """Take over a run to resume it: status ``running`` again, owned by this process.  Control requests the
        earlier process never applied are closed unapplied (``applied_block`` None): a resumed run starts fresh."""
        self.run(run_id)
        with self._write() as conn:
            conn.execute(
                t.runs.update()
                .where(t.runs.c.id == run_id)
                .values(status="running", ended_ns=None, host=_HOST, pid=os.getpid())
            )
            rc = t.run_controls
            conn.execute(
                rc.update().where(rc.c.run_id == run_id, rc.c.applied_ns.is_(None)).values(applied_ns=time.time_ns())
            )
        return self.run(run_id)

    def finish_run(
        self, run_id: str, status: str, *, summary_json: str | None = None, out_dir: str | None = None
    ) -> None:
        """Close a run: ``status`` finished, failed or killed; the summary and run folder are kept with it."""
        if status not in RUN_STATUSES or status in _ACTIVE:
            raise StoreError(f"status={status!r}: must be finished, failed or killed")
        values: dict[str, Any] = {"status": status, "ended_ns": time.time_ns()}
        if summary_json is not None:
            values["summary_json"] = summary_json
        if out_dir is not None:
            values["out_dir"] = out_dir
        with self._write() as conn:
            conn.execute(t.runs.update().where(t.runs.c.id == run_id).values(**values))

    def set_out_dir(self, run_id: str, out_dir: str) -> None:
        with self._write() as conn:
            conn.execute(t.runs.update().where(t.runs.c.id == run_id).values(out_dir=out_dir))

    @staticmethod
    def _run_info(r: Any) -> RunInfo:
        status = r.status
        if status in _ACTIVE and not _holder_alive(r.host, r.pid):
            status = "killed"  # its process is gone without closing the run
        return RunInfo(
            id=r.id,
            name=r.name,
            status=status,
            keel_version=r.keel_version,
            config_hash=r.config_hash,
            config_text=r.config_text,
            seed=r.seed,
            mode=r.mode,
            chain_id=r.chain_id,
            account=r.account,
            started_ns=r.started_ns,
            ended_ns=r.ended_ns,
            parent_run=r.parent_run,
            out_dir=r.out_dir,
            host=r.host,
            pid=r.pid,
            summary_json=r.summary_json,
        )

    def runs(self, *, name: str | None = None, limit: int | None = None) -> list[RunInfo]:
        """Every run, oldest first (optionally only those called ``name``; ``limit`` keeps the newest)."""
        q = sa.select(t.runs)
        if name is not None:
            q = q.where(t.runs.c.name == name)
        if limit is not None:
            q = q.order_by(t.runs.c.started_ns.desc(), t.runs.c.id.desc()).limit(limit)
        else:
            q = q.order_by(t.runs.c.started_ns, t.runs.c.id)
        with self.engine.connect() as conn:
            out = [self._run_info(r) for r in conn.execute(q)]
        return out[::-1] if limit is not None else out

    def run(self, run_id: str) -> RunInfo:
        """One run by id (a unique prefix of an id is accepted); unknown -> :class:`StoreError`."""
        with self.engine.connect() as conn:
            r = conn.execute(sa.select(t.runs).where(t.runs.c.id == run_id)).first()
            if r is None and isinstance(run_id, str) and len(run_id) >= 4:
                like = run_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
                found = conn.execute(sa.select(t.runs).where(t.runs.c.id.like(like, escape="\\")).limit(2)).all()
                if len(found) == 1:
                    r = found[0]
        if r is None:
            raise StoreError(f"run={run_id!r}: no such run in {self.url}")
        return self._run_info(r)

    # ---- run control: keel serve asks, the process running the run applies ------------------------
    @staticmethod
    def _check_run_id(run_id: Any) -> str:
        if not isinstance(run_id, str) or not run_id or len(run_id) > 40 or "\n" in run_id or "\x00" in run_id:
            raise StoreError(f"run={run_id!r}: not a run id")
        return run_id

    @staticmethod
    def _check_count(name: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
            raise StoreError(f"{name}={value!r}: must be an int in [0, 2**63)")
        return value

    def request_control(self, run_id: str, action: str, *, requester: str | None = None) -> int:
        """Ask run ``run_id`` (its exact id) to ``kill``, ``pause`` or ``resume``; returns the request's number.

        The process that runs it reads :meth:`pending_controls` at its block boundaries, applies them in
        order and marks each with :meth:`mark_control_applied`.  ``requester``: who asks (default
        ``host:pid`` of this process; the service writes ``"api"``).  Refused with :class:`StoreError`,
        nothing written: an action other than kill/pause/resume, an unknown run, a run that has ended
        (or whose process on this host is gone)."""
        if not isinstance(action, str) or action not in CONTROL_ACTIONS:
            raise StoreError(f"action={action!r}: must be one of {', '.join(CONTROL_ACTIONS)}")
        who = f"{_HOST}:{os.getpid()}" if requester is None else requester
        if not isinstance(who, str) or not who.strip() or len(who) > 300 or "\n" in who or "\x00" in who:
            raise StoreError(f"requester={who!r}: must be one non-empty line of at most 300 characters")
        self._check_run_id(run_id)
        rc = t.run_controls
        with self._write() as conn:
            # the run's row locked (PostgreSQL): concurrent requests number themselves one after the other
            r = conn.execute(sa.select(t.runs).where(t.runs.c.id == run_id).with_for_update()).first()
            if r is None:
                raise StoreError(f"run={run_id!r}: no such run in {self.url}")
            status = self._run_info(r).status
            if status not in _ACTIVE:
                raise StoreError(f"run={run_id!r}: has already ended ({status}); there is nothing to {action}")
            last = conn.execute(sa.select(sa.func.max(rc.c.seq)).where(rc.c.run_id == run_id)).scalar()
            seq = 0 if last is None else int(last) + 1
            conn.execute(
                rc.insert(),
                {
                    "run_id": run_id,
                    "seq": seq,
                    "action": action,
                    "requested_ns": time.time_ns(),
                    "requester": who,
                    "applied_ns": None,
                    "applied_block": None,
                },
            )
        return seq

    @staticmethod
    def _control_row(r: Any) -> ControlRow:
        return ControlRow(r.seq, r.action, r.requested_ns, r.requester, r.applied_ns, r.applied_block)

    def controls(self, run_id: str) -> list[ControlRow]:
        """Every control request of the run, applied or not, in the order they were made."""
        rc = t.run_controls
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(rc).where(rc.c.run_id == run_id).order_by(rc.c.seq)).all()
        return [self._control_row(r) for r in rows]

    def pending_controls(self, run_id: str) -> list[ControlRow]:
        """The run's requests not yet applied, in the order they were made (one indexed query: cheap to poll)."""
        rc = t.run_controls
        q = sa.select(rc).where(rc.c.run_id == run_id, rc.c.applied_ns.is_(None)).order_by(rc.c.seq)
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
        return [self._control_row(r) for r in rows]

    def mark_control_applied(self, run_id: str, seq: int, block_number: int) -> None:
        """Record that request ``seq`` took effect after block ``block_number``; a pause or resume also sets
        the run's status to ``paused`` or ``running`` in the same transaction (a kill's status, ``killed``, is
        written when the run ends).  Refused, nothing written: an unknown request, one already applied."""
        self._check_run_id(run_id)
        self._check_count("seq", seq)
        self._check_count("block_number", block_number)
        rc = t.run_controls
        with self._write() as conn:
            r = conn.execute(sa.select(rc).where(rc.c.run_id == run_id, rc.c.seq == seq).with_for_update()).first()
            if r is None:
                raise StoreError(f"run={run_id!r} seq={seq}: no such control request in {self.url}")
            if r.applied_ns is not None:
                raise StoreError(f"run={run_id!r} seq={seq}: control request already applied")
            conn.execute(
                rc.update()
                .where(rc.c.run_id == run_id, rc.c.seq == seq)
                .values(applied_ns=time.time_ns(), applied_block=block_number)
            )
            status = {"pause": "paused", "resume": "running"}.get(r.action)
            if status is not None:
                conn.execute(
                    t.runs.update().where(t.runs.c.id == run_id, t.runs.c.status.in_(_ACTIVE)).values(status=status)
                )

    def set_run_status(self, run_id: str, status: str) -> None:
        """Mark a run that is still going ``paused`` or ``running`` (its agents stopped or deciding again).
        Refused, nothing written: another status, an unknown run, a run that has ended."""
        if status not in _ACTIVE:
            raise StoreError(f"status={status!r}: must be running or paused (finish_run ends a run)")
        self._check_run_id(run_id)
        with self._write() as conn:
            r = conn.execute(sa.select(t.runs).where(t.runs.c.id == run_id).with_for_update()).first()
            if r is None:
                raise StoreError(f"run={run_id!r}: no such run in {self.url}")
            if r.status not in _ACTIVE:
                raise StoreError(f"run={run_id!r}: has already ended ({r.status})")
            conn.execute(t.runs.update().where(t.runs.c.id == run_id).values(status=status))

    # ---- writers (batches; idempotent per key) --------------------------------------------------
    def write_events(self, run_id: str, rows: Iterable[EventRow]) -> None:
        data = [
            {
                "run_id": run_id,
                "seq": r.seq,
                "ts_ns": r.ts_ns,
                "source": r.source,
                "kind": r.kind,
                "instrument": r.instrument,
                "quantity": _nan_to_none(r.quantity),
                "price": _nan_to_none(r.price),
                "value": _nan_to_none(r.value),
                "detail": r.detail,
            }
            for r in rows
        ]
        with self._write() as conn:
            self._insert(conn, t.events, data, ("run_id", "seq"), update=False)

    def write_fills(self, run_id: str, rows: Iterable[FillRow]) -> None:
        data = [
            {**asdict(r), "run_id": run_id, "quantity": _nan_to_none(r.quantity), "price": _nan_to_none(r.price)}
            for r in rows
        ]
        with self._write() as conn:
            self._insert(conn, t.fills, data, ("run_id", "fill_id"), update=False)

    def write_intents(self, run_id: str, rows: Iterable[IntentRow]) -> None:
        data = [{**asdict(r), "run_id": run_id, "updated_ns": r.updated_ns or r.created_ns} for r in rows]
        with self._write() as conn:
            self._insert(conn, t.intents, data, ("run_id", "intent_id"), update=True)

    def write_positions(self, run_id: str, rows: Iterable[PositionRow]) -> None:
        data = [{**asdict(r), "run_id": run_id} for r in rows]
        with self._write() as conn:
            self._insert(conn, t.positions, data, ("run_id", "block_number", "account", "asset"), update=True)

    def write_risk(self, run_id: str, rows: Iterable[RiskRow]) -> None:
        data = []
        for r in rows:
            d = asdict(r)
            for k in ("equity_usd", "initial_margin_usd", "maintenance_margin_usd", "margin_ratio", "delta"):
                d[k] = _nan_to_none(d[k])
            for k in ("gamma", "vega", "theta"):
                d[k] = _opt(d[k])
            data.append({**d, "run_id": run_id})
        with self._write() as conn:
            self._insert(conn, t.risk_snapshots, data, ("run_id", "block_number", "account"), update=True)

    def write_pnl(self, run_id: str, rows: Iterable[PnlRow]) -> None:
        data = [{**asdict(r), "run_id": run_id, "usd": _nan_to_none(r.usd)} for r in rows]
        with self._write() as conn:
            self._insert(conn, t.pnl, data, ("run_id", "block_number", "component"), update=True)

    def write_oracle(self, run_id: str, rows: Iterable[tuple[int, OracleRow]]) -> None:
        """``rows``: (seq, reading) pairs; ``seq`` numbers the readings of the run."""
        data = [
            {
                **asdict(r),
                "run_id": run_id,
                "seq": seq,
                "price": _nan_to_none(r.price),
                "confidence": _nan_to_none(r.confidence),
            }
            for seq, r in rows
        ]
        with self._write() as conn:
            self._insert(conn, t.oracle_readings, data, ("run_id", "seq"), update=False)

    def write_alerts(self, run_id: str, rows: Iterable[tuple[int, AlertRow]]) -> None:
        """``rows``: (seq, alert) pairs; ``seq`` numbers the alerts of the run."""
        data = [{**asdict(r), "run_id": run_id, "seq": seq} for seq, r in rows]
        with self._write() as conn:
            self._insert(conn, t.alerts, data, ("run_id", "seq"), update=False)

    def write_batch(self, run_id: str, batch: dict[str, list[Any]]) -> None:
        """Write several kinds in one transaction (the recorder's unit of work)."""
        with self._write() as conn:
            self._write_kinds(conn, run_id, batch)

    def _write_kinds(self, conn: Connection, run_id: str, batch: dict[str, list[Any]]) -> None:
        writers = {
            "events": (t.events, ("run_id", "seq"), False),
            "fills": (t.fills, ("run_id", "fill_id"), False),
            "intents": (t.intents, ("run_id", "intent_id"), True),
            "positions": (t.positions, ("run_id", "block_number", "account", "asset"), True),
            "risk": (t.risk_snapshots, ("run_id", "block_number", "account"), True),
            "pnl": (t.pnl, ("run_id", "block_number", "component"), True),
            "oracle": (t.oracle_readings, ("run_id", "seq"), False),
            "alerts": (t.alerts, ("run_id", "seq"), False),
        }
        for kind, rows in batch.items():
            if kind not in writers:
                raise StoreError(f"kind={kind!r}: not a table the store records")
            table, keys, update = writers[kind]
            self._insert(conn, table, [{**r, "run_id": run_id} for r in rows], keys, update)

    # ---- the recorder's fast path: tuples in column order, one executemany per table ---------------
    def _fast_sql(self, kind: str) -> tuple[str, tuple[int, ...]]:
        cached = self._sql_cache.get(kind)
        if cached is not None:
            return cached
        if kind not in ROW_COLUMNS:
            raise StoreError(f"kind={kind!r}: not a table the store records")
        table, cols, keys, update = ROW_COLUMNS[kind]
        names = ("run_id", *cols)
        mark = "?" if self.dialect == "sqlite" else "%s"
        sql = f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({', '.join(mark for _ in names)}) "
        sql += f"ON CONFLICT ({', '.join(keys)}) "
        if update:
            sql += "DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in cols if c not in keys)
        else:
            sql += "DO NOTHING"
        amounts = tuple(i + 1 for i, c in enumerate(cols) if isinstance(table.c[c].type, Amount))
        self._sql_cache[kind] = (sql, amounts)
        return sql, amounts

    def write_rows(self, run_id: str, batch: dict[str, list[tuple[Any, ...]]], *, append_only: bool = False) -> None:
        """Write tuples (columns as in :data:`ROW_COLUMNS`, without ``run_id``) in one transaction.

        Amount columns must hold ints (checked by :class:`keel.store.StoreRecorder` before they get here).
        ``append_only``: the caller guarantees no row of the batch exists yet (a fresh run, or a resumed one
        after :meth:`discard_after`); PostgreSQL then takes the rows by COPY (intents are always upserted)."""
        sqlite = self.dialect == "sqlite"
        with self._write() as conn:
            for kind, rows in batch.items():
                if not rows:
                    continue
                sql, amounts = self._fast_sql(kind)
                if append_only and not sqlite and kind != "intents":
                    table, cols, _keys, _update = ROW_COLUMNS[kind]
                    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
                    with cursor.copy(f"COPY {table.name} (run_id, {', '.join(cols)}) FROM STDIN") as copy:
                        for r in rows:
                            copy.write_row((run_id, *r))
                    continue
                if amounts and sqlite:
                    data = []
                    for r in rows:
                        full = [run_id, *r]
                        for i in amounts:
                            if full[i] is not None:
                                full[i] = str(full[i])
                        data.append(tuple(full))
                else:
                    data = [(run_id, *r) for r in rows]
                conn.exec_driver_sql(sql, data)

    def discard_after(self, run_id: str, block_number: int, *, event_seq: int, oracle_seq: int, alert_seq: int) -> None:
        """Delete what a killed run recorded after its checkpoint at ``block_number`` (it is recorded again,
        identically, when the run resumes from that checkpoint)."""
        with self._write() as conn:
            conn.execute(t.events.delete().where(t.events.c.run_id == run_id, t.events.c.seq >= event_seq))
            conn.execute(
                t.oracle_readings.delete().where(
                    t.oracle_readings.c.run_id == run_id, t.oracle_readings.c.seq >= oracle_seq
                )
            )
            conn.execute(t.alerts.delete().where(t.alerts.c.run_id == run_id, t.alerts.c.seq >= alert_seq))
            for table in (t.fills, t.positions, t.risk_snapshots, t.pnl):
                conn.execute(table.delete().where(table.c.run_id == run_id, table.c.block_number > block_number))

    # ---- readers (the service's API) ------------------------------------------------------------
    def _select(
        self,
        table: sa.Table,
        run_id: str,
        order: Sequence[str],
        limit: int | None,
        offset: int,
        *,
        newest_first: Sequence[str] = (),
    ) -> list[Any]:
        q = sa.select(table).where(table.c.run_id == run_id)
        q = q.order_by(*(table.c[o] for o in order), *(table.c[o].desc() for o in newest_first))
        if limit is not None:
            q = q.limit(limit)
        if offset:
            q = q.offset(offset)
        with self.engine.connect() as conn:
            return list(conn.execute(q))

    def events(self, run_id: str, *, limit: int | None = None, offset: int = 0) -> list[EventRow]:
        return [
            EventRow(
                r.seq,
                r.ts_ns,
                r.source,
                r.kind,
                r.instrument,
                _none_to_nan(r.quantity),
                _none_to_nan(r.price),
                _none_to_nan(r.value),
                r.detail,
            )
            for r in self._select(t.events, run_id, ("seq",), limit, offset)
        ]

    def fills(self, run_id: str, *, limit: int | None = None, offset: int = 0) -> list[FillRow]:
        """The run's fills in block order (each recorded once)."""
        out = []
        for r in self._select(t.fills, run_id, ("block_number", "ts_ns", "fill_id"), limit, offset):
            d = r._asdict()
            d.pop("run_id")
            d["quantity"] = _none_to_nan(d["quantity"])
            d["price"] = _none_to_nan(d["price"])
            out.append(FillRow(**d))
        return out

    def intents(self, run_id: str, *, status: str | None = None) -> list[IntentRow]:
        q = sa.select(t.intents).where(t.intents.c.run_id == run_id)
        if status is not None:
            q = q.where(t.intents.c.status == status)
        with self.engine.connect() as conn:
            rows = conn.execute(q.order_by(t.intents.c.created_ns, t.intents.c.intent_id)).all()
        out = []
        for r in rows:
            d = r._asdict()
            d.pop("run_id")
            out.append(IntentRow(**d))
        return out

    def positions(self, run_id: str, *, block: int | None = None) -> list[PositionRow]:
        """Positions per block, in block order; ``block=N`` gives each holding as of block N."""
        if block is None:
            rows = self._select(t.positions, run_id, ("block_number", "account", "asset"), None, 0)
        else:
            p = t.positions
            last = (
                sa.select(p.c.account, p.c.asset, sa.func.max(p.c.block_number).label("b"))
                .where(p.c.run_id == run_id, p.c.block_number <= block)
                .group_by(p.c.account, p.c.asset)
                .subquery()
            )
            q = (
                sa.select(p)
                .join(
                    last,
                    sa.and_(p.c.account == last.c.account, p.c.asset == last.c.asset, p.c.block_number == last.c.b),
                )
                .where(p.c.run_id == run_id)
                .order_by(p.c.account, p.c.asset)
            )
            with self.engine.connect() as conn:
                rows = list(conn.execute(q))
        return [PositionRow(r.block_number, r.ts_ns, r.account, r.asset, r.amount, r.decimals) for r in rows]

    def next_sequences(self, run_id: str) -> tuple[int, int, int]:
        """The next event, oracle-reading and alert sequence numbers of ``run_id`` (0 for a run with none): where a
        recorder continuing the run's rows starts (a restarted live run)."""
        self._check_run_id(run_id)
        out = []
        with self.engine.connect() as conn:
            for table in (t.events, t.oracle_readings, t.alerts):
                last = conn.execute(sa.select(sa.func.max(table.c.seq)).where(table.c.run_id == run_id)).scalar()
                out.append(int(last) + 1 if last is not None else 0)
        return out[0], out[1], out[2]

    def latest_positions(self, run_id: str) -> dict[tuple[str, str], int]:
        """{(account, asset): amount in base units} as of the last recorded block."""
        return {(p.account, p.asset): p.amount for p in self.positions(run_id, block=2**62)}

    @staticmethod
    def _risk_row(r: Any) -> RiskRow:
        return RiskRow(
            r.block_number,
            r.ts_ns,
            r.account,
            _none_to_nan(r.equity_usd),
            _none_to_nan(r.initial_margin_usd),
            _none_to_nan(r.maintenance_margin_usd),
            _none_to_nan(r.margin_ratio),
            _none_to_nan(r.delta),
            r.status,
            _opt(r.gamma),
            _opt(r.vega),
            _opt(r.theta),
        )

    def risk(self, run_id: str, *, limit: int | None = None, offset: int = 0) -> list[RiskRow]:
        rows = self._select(t.risk_snapshots, run_id, ("block_number", "account"), limit, offset)
        return [self._risk_row(r) for r in rows]

    def pnl(self, run_id: str, *, limit: int | None = None, offset: int = 0) -> list[PnlRow]:
        return [
            PnlRow(r.block_number, r.ts_ns, r.component, _none_to_nan(r.usd))
            for r in self._select(t.pnl, run_id, ("block_number", "component"), limit, offset)
        ]

    @staticmethod
    def _oracle_row(r: Any) -> OracleRow:
        return OracleRow(r.ts_ns, r.block_number, r.source, _none_to_nan(r.price), _none_to_nan(r.confidence), r.status)

    def oracle(self, run_id: str, *, limit: int | None = None, offset: int = 0) -> list[OracleRow]:
        return [self._oracle_row(r) for r in self._select(t.oracle_readings, run_id, ("seq",), limit, offset)]

    # ---- the newest state and the rows after a cursor (the service's pages and streams) ----------
    def blocks_recorded(self, run_ids: Sequence[str]) -> dict[str, int]:
        """The last block recorded per run (the newest risk snapshot: one per block), in one query; runs with
        no block yet are left out."""
        if not run_ids:
            return {}
        r = t.risk_snapshots
        q = sa.select(r.c.run_id, sa.func.max(r.c.block_number)).where(r.c.run_id.in_(list(run_ids)))
        with self.engine.connect() as conn:
            return {str(rid): int(b) for rid, b in conn.execute(q.group_by(r.c.run_id)) if b is not None}

    def pnl_as_of(self, run_id: str, block: int) -> dict[str, float]:
        """Each PnL component's value as of ``block``: its last row at or before it (rows are written only where a
        component changed)."""
        p = t.pnl
        last = (
            sa.select(p.c.component, sa.func.max(p.c.block_number).label("b"))
            .where(p.c.run_id == run_id, p.c.block_number <= block)
            .group_by(p.c.component)
            .subquery()
        )
        q = (
            sa.select(p.c.component, p.c.usd)
            .join(last, sa.and_(p.c.component == last.c.component, p.c.block_number == last.c.b))
            .where(p.c.run_id == run_id)
            .order_by(p.c.component)
        )
        with self.engine.connect() as conn:
            return {str(c): _none_to_nan(u) for c, u in conn.execute(q)}

    def pnl_by_block(self, run_id: str) -> list[tuple[int, int, dict[str, float]]]:
        """``(block_number, ts_ns, {component: usd})`` for every block with a PnL row, each component carried
        forward from its last change (the value at block N is its last row at or before N)."""
        out: list[tuple[int, int, dict[str, float]]] = []
        current: dict[str, float] = {}
        for row in self.pnl(run_id):
            current[row.component] = row.usd
            if out and out[-1][0] == row.block_number:
                out[-1][2][row.component] = row.usd
            else:
                out.append((row.block_number, row.ts_ns, dict(current)))
        return out

    def latest_risk(self, run_id: str) -> RiskRow | None:
        """The newest risk snapshot of the run (None before its first block)."""
        rows = self._select(t.risk_snapshots, run_id, (), 1, 0, newest_first=("block_number", "account"))
        return self._risk_row(rows[0]) if rows else None

    def latest_oracle(self, run_id: str) -> OracleRow | None:
        """The newest oracle reading of the run (None before its first)."""
        rows = self._select(t.oracle_readings, run_id, (), 1, 0, newest_first=("seq",))
        return self._oracle_row(rows[0]) if rows else None

    def stream_start(self, run_id: str, backlog: int) -> tuple[int, int]:
        """Where a new stream of the run starts: the event seq and the journal seq that leave the newest
        ``backlog`` event rows and ``backlog`` journal rows still to send."""
        ev, tx = t.events, t.transactions
        with self.engine.connect() as conn:
            last = conn.execute(sa.select(sa.func.max(ev.c.seq)).where(ev.c.run_id == run_id)).scalar()
            first_tx = conn.execute(
                sa.select(tx.c.seq)
                .where(tx.c.run_id == run_id)
                .order_by(tx.c.seq.desc())
                .limit(1)
                .offset(max(backlog - 1, 0))
            ).scalar()
        return (
            max(0, int(last) + 1 - backlog) if last is not None else 0,
            int(first_tx) if first_tx is not None else 0,
        )

    def events_after(
        self, run_id: str, seq: int, *, kinds: Iterable[str], limit: int
    ) -> tuple[list[tuple[int, str, str]], int | None]:
        """``([(seq, kind, detail)...], newest)``: event rows of the given kinds with seq >= ``seq`` and at most
        the newest seq committed now (``newest``, None without rows), in order, at most ``limit`` of them.
        Rows up to ``newest`` are all committed (one writer, in order), so a reader may move past the kinds it
        did not ask for without reading them again."""
        ev = t.events
        with self.engine.connect() as conn:
            newest = conn.execute(sa.select(sa.func.max(ev.c.seq)).where(ev.c.run_id == run_id)).scalar()
            if newest is None or newest < seq:
                return [], (int(newest) if newest is not None else None)
            rows = conn.execute(
                sa.select(ev.c.seq, ev.c.kind, ev.c.detail)
                .where(ev.c.run_id == run_id, ev.c.seq >= seq, ev.c.seq <= newest, ev.c.kind.in_(list(kinds)))
                .order_by(ev.c.seq)
                .limit(limit)
            ).all()
        return [(int(s), str(k), str(d)) for s, k, d in rows], int(newest)

    def journal_after(
        self, run_id: str, seq: int, *, events: Iterable[str], limit: int
    ) -> list[tuple[int, str, str, str]]:
        """``[(seq, event, intent, record JSON)...]``: the run's journal rows of the given events (signed, mined,
        dropped, ...) with seq >= ``seq``, in journal order, at most ``limit``."""
        tx = t.transactions
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(tx.c.seq, tx.c.event, tx.c.intent, tx.c.record)
                .where(tx.c.run_id == run_id, tx.c.seq >= seq, tx.c.event.in_(list(events)))
                .order_by(tx.c.seq)
                .limit(limit)
            ).all()
        return [(int(s), str(e), str(i), str(r)) for s, e, i, r in rows]

    def alerts_after(self, run_id: str, seq: int, *, limit: int) -> list[tuple[int, AlertRow]]:
        """``[(seq, alert)...]``: the run's alerts with seq >= ``seq``, in order, at most ``limit``."""
        al = t.alerts
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(al).where(al.c.run_id == run_id, al.c.seq >= seq).order_by(al.c.seq).limit(limit)
            ).all()
        return [(int(r.seq), AlertRow(r.ts_ns, r.severity, r.kind, r.message, r.block_number)) for r in rows]

    def alerts(self, run_id: str, *, limit: int | None = None, offset: int = 0) -> list[AlertRow]:
        return [
            AlertRow(r.ts_ns, r.severity, r.kind, r.message, r.block_number)
            for r in self._select(t.alerts, run_id, ("seq",), limit, offset)
        ]

    def transactions(
        self, run_id: str | None = None, *, sender: str | None = None, chain_id: int | None = None
    ) -> list[TransactionRow]:
        """Each intent's transaction as the journal knows it (by run, or by account ``sender``/``chain_id``)."""
        q = sa.select(t.transactions).order_by(t.transactions.c.seq)
        if run_id is not None:
            q = q.where(t.transactions.c.run_id == run_id)
        if sender is not None:
            q = q.where(t.transactions.c.sender == sender.lower())
        if chain_id is not None:
            q = q.where(t.transactions.c.chain_id == chain_id)
        state: dict[tuple[str, int, str], dict[str, Any]] = {}
        with self.engine.connect() as conn:
            for r in conn.execute(q):
                key = (r.sender, r.chain_id, r.intent)
                rec = json.loads(r.record)
                s = state.get(key)
                if r.event == "signed":
                    if s is None or s["status"] == "released":
                        s = state[key] = {
                            "intent": r.intent,
                            "run_id": r.run_id,
                            "sender": r.sender,
                            "chain_id": r.chain_id,
                            "nonce": int(rec["nonce"]),
                            "tx_hash": rec["tx_hash"],
                            "status": "signed",
                            "attempts": 0,
                            "block_number": -1,
                            "tx_status": -1,
                        }
                    s["attempts"] += 1
                    s["tx_hash"] = rec["tx_hash"]
                    if s["status"] != "sent":
                        s["status"] = "signed"
                    continue
                if s is None:
                    continue
                if r.event == "sent" and s["status"] == "signed":
                    s["status"] = "sent"
                elif r.event == "mined":
                    s.update(
                        status="mined",
                        tx_hash=rec["tx_hash"],
                        block_number=int(rec["block_number"]),
                        tx_status=int(rec["status"]),
                    )
                elif r.event == "unmined":
                    s.update(status="sent", block_number=-1, tx_status=-1)
                elif r.event in ("dropped", "released"):
                    s["status"] = r.event
        return [TransactionRow(**s) for s in state.values()]

    # ---- checkpoints ----------------------------------------------------------------------------
    def save_checkpoint(self, run_id: str, block_number: int, ts_ns: int, payload: bytes) -> int:
        """Store an engine checkpoint taken after ``block_number``; returns its sequence number."""
        with self._write() as conn:
            last = conn.execute(
                sa.select(sa.func.max(t.checkpoints.c.seq)).where(t.checkpoints.c.run_id == run_id)
            ).scalar()
            seq = 0 if last is None else int(last) + 1
            conn.execute(
                t.checkpoints.insert(),
                {"run_id": run_id, "seq": seq, "block_number": block_number, "ts_ns": ts_ns, "payload": payload},
            )
            # Keep the two newest: a torn write of the newest still leaves one good checkpoint.
            conn.execute(t.checkpoints.delete().where(t.checkpoints.c.run_id == run_id, t.checkpoints.c.seq < seq - 1))
        return seq

    def latest_checkpoint(self, run_id: str) -> CheckpointRow | None:
        q = (
            sa.select(t.checkpoints)
            .where(t.checkpoints.c.run_id == run_id)
            .order_by(t.checkpoints.c.seq.desc())
            .limit(1)
        )
        with self.engine.connect() as conn:
            r = conn.execute(q).first()
        if r is None:
            return None
        return CheckpointRow(r.run_id, r.seq, r.block_number, r.ts_ns, bytes(r.payload))

    # ---- leases (one writer per account and chain) ----------------------------------------------
    def acquire_lease(self, key: str, run_id: str, ttl_s: float = 30.0) -> LeaseInfo:
        """Take the single-writer lease on ``key``; refuse, naming the holder, while another live run holds it.

        A lease expires ``ttl_s`` after its last renewal, or at once when its holder's process on this
        host is gone (a SIGKILLed run does not block its own restart)."""
        now = time.time_ns()
        expires = now + int(ttl_s * 1e9)
        with self._write() as conn:
            if self.dialect == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": key})
            r = conn.execute(sa.select(t.leases).where(t.leases.c.key == key)).first()
            if r is not None:
                mine = r.host == _HOST and r.pid == os.getpid()  # this process (a resumed run may rename it)
                if not mine and r.expires_ns > now and _holder_alive(r.host, r.pid):
                    left = (r.expires_ns - now) / 1e9
                    raise StoreError(
                        f"account {key}: held by run {r.run_id} (pid {r.pid} on {r.host}); "
                        f"it expires {left:.0f} s after that run stops renewing it"
                    )
                conn.execute(t.leases.delete().where(t.leases.c.key == key))
            info = LeaseInfo(key, run_id, _HOST, os.getpid(), now, expires)
            conn.execute(t.leases.insert(), asdict(info))
        return info

    def renew_lease(self, key: str, run_id: str, ttl_s: float = 30.0) -> bool:
        """Extend our lease; False when it is no longer ours (expired and taken by another run)."""
        with self._write() as conn:
            res = conn.execute(
                t.leases.update()
                .where(
                    t.leases.c.key == key,
                    t.leases.c.run_id == run_id,
                    t.leases.c.host == _HOST,
                    t.leases.c.pid == os.getpid(),
                )
                .values(expires_ns=time.time_ns() + int(ttl_s * 1e9))
            )
        return bool(res.rowcount)

    def release_lease(self, key: str, run_id: str) -> None:
        with self._write() as conn:
            conn.execute(t.leases.delete().where(t.leases.c.key == key, t.leases.c.run_id == run_id))

    def lease(self, key: str) -> LeaseInfo | None:
        with self.engine.connect() as conn:
            r = conn.execute(sa.select(t.leases).where(t.leases.c.key == key)).first()
        return None if r is None else LeaseInfo(r.key, r.run_id, r.host, r.pid, r.acquired_ns, r.expires_ns)

    # ---- journal rows (used by keel.store.journal.StoreJournal) ---------------------------------
    def append_journal(
        self,
        sender: str,
        chain_id: int,
        run_id: str,
        record: dict[str, Any],
        also: dict[str, list[dict[str, Any]]] | None = None,
    ) -> None:
        """Append one journal record; committed (durable) when this returns.  ``also``: rows for the run's
        tables (as :meth:`write_batch`) committed in the same transaction (a fill with the note announcing it)."""
        row = {
            "sender": sender.lower(),
            "chain_id": chain_id,
            "run_id": run_id,
            "intent": record.get("intent", ""),
            "event": record["event"],
            "nonce": record.get("nonce"),
            "tx_hash": record.get("tx_hash", ""),
            "block_number": record.get("block_number"),
            "record": json.dumps(record, sort_keys=True),
        }
        with self._write() as conn:
            conn.execute(t.transactions.insert(), row)
            if also:
                self._write_kinds(conn, run_id, also)

    def journal_records(self, sender: str, chain_id: int) -> list[dict[str, Any]]:
        q = (
            sa.select(t.transactions.c.record)
            .where(t.transactions.c.sender == sender.lower(), t.transactions.c.chain_id == chain_id)
            .order_by(t.transactions.c.seq)
        )
        with self.engine.connect() as conn:
            return [json.loads(r) for (r,) in conn.execute(q)]


def open_store(url: str | None = None, *, create: bool = True) -> Store:
    """Open (and migrate) the store at ``url``; ``None`` means ``$KEEL_DB_URL`` or ``sqlite:///runs/keel.db``.

    ``create=False`` (readers such as ``keel runs``) refuses a SQLite file that does not exist yet.

    Raises :class:`StoreError` with one line for a malformed URL, an unreachable server, a missing
    database, or a database whose schema is newer than this Keel; nothing is written then."""
    parsed, shown = resolve_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = Path(str(parsed.database))
        if path.exists() and not path.is_file():
            raise StoreError(f"db={shown!r}: {path} is not a file")
        if not create and not path.exists():
            raise StoreError(f"db={shown!r}: no store at {path} (no run has been recorded there)")
        if path.exists():
            with open(path, "rb") as fh:
                head = fh.read(16)
            if head and head != b"SQLite format 3\x00":
                raise StoreError(f"db={shown!r}: {path} is not a SQLite database")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"db={shown!r}: cannot create folder {path.parent}: {exc.strerror}") from None
        engine = _sqlite_engine(parsed)
    else:
        engine = sa.create_engine(parsed, pool_pre_ping=True, connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as conn:
            rev = migrate.check_revision(conn, repr(shown))
            conn.rollback()
        if rev != migrate.head_revision():
            # One migrator at a time (two processes opening a fresh database together): PostgreSQL takes an
            # advisory lock, SQLite the write lock (BEGIN IMMEDIATE); the revision is read again under it.
            sqlite = engine.dialect.name == "sqlite"
            with (engine.execution_options(immediate=True) if sqlite else engine).begin() as conn:
                if not sqlite:
                    conn.execute(sa.text("SELECT pg_advisory_xact_lock(7254810915)"))
                if migrate.check_revision(conn, repr(shown)) != migrate.head_revision():
                    migrate.upgrade(conn)
    except StoreError:
        engine.dispose()
        raise
    except sa.exc.SQLAlchemyError as exc:
        engine.dispose()
        reason = str(getattr(exc, "orig", exc) or exc).strip().splitlines()
        raise StoreError(f"db={shown!r}: cannot open: {reason[0] if reason else type(exc).__name__}") from None
    return Store(engine, shown)
