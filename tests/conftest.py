"""Shared test fixtures: paths to the project's real data (never ../shared)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA


from tests.service_support import nats_stream_name, postgres_url  # noqa: E402, F401  (shared server fixtures)
