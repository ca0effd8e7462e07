"""The audit trail: append-only rows written in the same transaction as the change they record."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.orm import Mapper, ORMExecuteState
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, col, select

from db.models import AuditEntry, utcnow


class AppendOnlyError(RuntimeError):
    """Raised when code tries to change or delete an audit row."""


def _refuse_change(_mapper: Mapper[Any], _connection: Any, target: AuditEntry) -> None:
    raise AppendOnlyError(f"audit_entry is append-only: row {target.id} cannot be changed")


# The one exception: a bulk DELETE inside `retention_purge(session, before=cutoff)`
# (db/privacy/retention.py removes audit rows older than the audit retention period). Updates stay
# refused, always. On PostgreSQL a trigger (migration 0003) enforces the same in the database,
# for raw SQL too: it lets a DELETE through only while the transaction-local setting below holds
# a cutoff at least a day old, and only for rows older than that cutoff.
_RETENTION_FLAG = "lotsen_audit_retention_purge"
PURGE_SETTING = "lotsen.audit_purge_before"


def _set_purge_cutoff(session: OrmSession, value: str) -> None:
    session.execute(
        text("SELECT set_config(:name, :value, true)"), {"name": PURGE_SETTING, "value": value}
    )


@contextmanager
def retention_purge(session: OrmSession, *, before: datetime) -> Iterator[None]:
    """Allow deleting audit rows older than `before` in this session, only inside the block."""
    in_database = session.get_bind().dialect.name == "postgresql"
    session.info[_RETENTION_FLAG] = True
    try:
        if in_database:
            aware = before if before.tzinfo else before.replace(tzinfo=UTC)
            _set_purge_cutoff(session, aware.isoformat())
        yield
        if in_database:
            _set_purge_cutoff(session, "")
    finally:
        session.info.pop(_RETENTION_FLAG, None)


def _refuse_bulk(state: ORMExecuteState) -> None:
    if not (state.is_update or state.is_delete):
        return
    if state.is_delete and state.session.info.get(_RETENTION_FLAG):
        return
    if any(m.class_ is AuditEntry for m in state.all_mappers):
        raise AppendOnlyError("audit_entry is append-only: bulk update/delete refused")


# Registered once, when this module is imported (db.models imports it at its end).
if not event.contains(AuditEntry, "before_update", _refuse_change):
    event.listen(AuditEntry, "before_update", _refuse_change)
    event.listen(AuditEntry, "before_delete", _refuse_change)
    event.listen(OrmSession, "do_orm_execute", _refuse_bulk)


def jsonable(value: Any) -> Any:
    """Return a JSON-friendly copy of a snapshot value (dates as ISO strings)."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def record(
    *,
    session: Session,
    actor: str,
    entity: str,
    key: str,
    action: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    now: datetime | None = None,
) -> AuditEntry:
    """Add one audit row to the session (committed or rolled back with the change)."""
    entry = AuditEntry(
        at=now or utcnow(),
        actor=actor,
        entity=entity,
        entity_key=key,
        action=action,
        before=jsonable(before) if before is not None else None,
        after=jsonable(after) if after is not None else None,
    )
    session.add(entry)
    return entry


def history(
    *, session: Session, limit: int = 50, entity: str | None = None
) -> Sequence[AuditEntry]:
    """Return the newest audit rows first, optionally only for one kind of entity."""
    query = select(AuditEntry)
    if entity:
        query = query.where(AuditEntry.entity == entity)
    query = query.order_by(col(AuditEntry.at).desc(), col(AuditEntry.id).desc()).limit(limit)
    return session.exec(query).all()
