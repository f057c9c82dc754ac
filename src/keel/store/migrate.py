"""Schema migrations, run programmatically from the Alembic scripts shipped in ``keel/store/migrations``.

``upgrade`` brings a database to ``head`` (an empty database gets every table); ``downgrade`` to
``base`` drops them again.  A database stamped with a revision this Keel does not know was made by
a newer Keel: :func:`check_revision` refuses it before anything is written.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from keel.store.types import StoreError

__all__ = ["MIGRATIONS", "VERSION_TABLE", "check_revision", "current_revision", "downgrade", "head_revision", "upgrade"]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# Keel's own Alembic version table: tools sharing the database (Optuna's study storage runs its own
# Alembic) keep theirs in ``alembic_version``, so the two never read each other's revision.
VERSION_TABLE = "keel_alembic_version"


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(_config())


def head_revision() -> str:
    head = _script().get_current_head()
    assert head is not None
    return str(head)


def current_revision(connection: Connection) -> str | None:
    """The revision the database is stamped with (``None`` for an empty database)."""
    rev = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE}).get_current_revision()
    return None if rev is None else str(rev)


def check_revision(connection: Connection, where: str) -> str | None:
    """Refuse a database whose schema revision this Keel does not know (it was made by a newer Keel)."""
    rev = current_revision(connection)
    if rev is None:
        return None
    known = {s.revision for s in _script().walk_revisions()}
    if rev not in known:
        raise StoreError(
            f"db={where}: schema revision {rev!r} is newer than this keel knows (head {head_revision()!r}); "
            "upgrade keel to use this database"
        )
    return rev


def upgrade(connection: Connection, target: str = "head") -> None:
    command.upgrade(_config(connection), target)


def downgrade(connection: Connection, target: str = "base") -> None:
    command.downgrade(_config(connection), target)
