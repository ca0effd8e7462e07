"""Alembic environment: migrations are generated from and checked against SQLModel.metadata."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, Engine, event
from sqlmodel import SQLModel

import db.models  # noqa: F401  (registers the tables)
from db.plumbing.session import make_engine

config = context.config
target_metadata = SQLModel.metadata


def run_migrations_offline() -> None:
    """Emit SQL without a database connection."""
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _without_foreign_keys_on_sqlite(engine: Engine) -> None:
    """Let SQLite migrations rebuild a table that others refer to (batch mode copies it).

    With foreign keys on, dropping the old copy of a referenced table fails; Alembic's advice
    is to switch them off while migrating. `_check_foreign_keys` checks every reference after.
    """
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _off(dbapi_conn, _record):  # type: ignore[no-untyped-def]
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA foreign_keys=OFF")
        cursor.close()


def _check_foreign_keys(connection: Connection) -> None:
    """Fail the migration if a reference points nowhere (SQLite, checked after the fact)."""
    if connection.dialect.name != "sqlite":
        return
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
    if broken:
        raise RuntimeError(f"the migration left references pointing nowhere: {broken[:5]}")


def run_migrations_online() -> None:
    """Run migrations on a live connection."""
    url = config.get_main_option("sqlalchemy.url")
    assert url is not None
    engine = make_engine(url)
    _without_foreign_keys_on_sqlite(engine)
    with engine.connect() as connection:
        context.configure(
            connection=connection, target_metadata=target_metadata, render_as_batch=True
        )
        with context.begin_transaction():
            context.run_migrations()
            _check_foreign_keys(connection)
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
