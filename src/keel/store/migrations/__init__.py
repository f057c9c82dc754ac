"""Alembic migrations of the Keel store, run programmatically by :mod:`keel.store.migrate` (no alembic.ini)."""
