"""Shared test fixtures: paths to the project's real data (never ../shared)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh state store on SQLite and on PostgreSQL (its own database; skipped without a server unless CI)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'keel.db'}"
    return str(request.getfixturevalue("postgres_url"))


from tests.service_support import nats_stream_name, postgres_url  # noqa: E402, F401  (shared server fixtures)
