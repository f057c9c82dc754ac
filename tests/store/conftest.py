"""The store suite runs on SQLite and on PostgreSQL: ``store_url`` (tests/conftest.py) gives a fresh database per
test, skipped without a server unless CI is set."""
