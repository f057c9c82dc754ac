"""Real servers for the tests: PostgreSQL at 127.0.0.1:5432 and NATS JetStream at 127.0.0.1:4222.

Each test creates and drops its own database or stream.  When ``CI`` is set and a server does not
answer, the test fails; elsewhere it is skipped with one line saying which server is missing.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator

import pytest

POSTGRES_HOST = os.environ.get("KEEL_TEST_PG_HOST", "127.0.0.1")
POSTGRES_PORT = int(os.environ.get("KEEL_TEST_PG_PORT", "5432"))
POSTGRES_USER = os.environ.get("KEEL_TEST_PG_USER", "postgres")
NATS_URL = os.environ.get("KEEL_TEST_NATS_URL", "nats://127.0.0.1:4222")


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def require_server(name: str, host: str, port: int) -> None:
    """Fail under CI, skip elsewhere, when ``host:port`` does not answer."""
    if _answers(host, port):
        return
    message = f"{name} does not answer at {host}:{port}"
    if os.environ.get("CI"):
        pytest.fail(message + " (CI is set: the server must run)")
    pytest.skip(message)


def require_postgres() -> None:
    require_server("PostgreSQL", POSTGRES_HOST, POSTGRES_PORT)


def require_nats() -> tuple[str, int]:
    hostport = NATS_URL.split("://", 1)[-1]
    host, _, port = hostport.partition(":")
    require_server("NATS", host, int(port or 4222))
    return host, int(port or 4222)


def postgres_admin_url(database: str = "postgres") -> str:
    return f"postgresql+psycopg://{POSTGRES_USER}@{POSTGRES_HOST}:{POSTGRES_PORT}/{database}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test (dropped afterwards); yields its SQLAlchemy URL."""
    require_postgres()
    import psycopg

    name = f"keel_test_{uuid.uuid4().hex[:12]}"
    conninfo = f"host={POSTGRES_HOST} port={POSTGRES_PORT} user={POSTGRES_USER} dbname=postgres"
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield postgres_admin_url(name)
    finally:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def nats_stream_name() -> str:
    """A unique JetStream stream name for one test; the test deletes its stream when done."""
    require_nats()
    return f"KEEL_TEST_{uuid.uuid4().hex[:12].upper()}"
