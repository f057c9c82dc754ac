"""Service fixtures: ``store``, an open state store on SQLite and on PostgreSQL (``store_url``, tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture
def store(store_url: str) -> Iterator[Any]:
    from keel.store import open_store

    s = open_store(store_url)
    yield s
    s.close()
