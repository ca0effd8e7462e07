"""The shape of the catalogue (db/privacy/catalogue.py) and the one walker behind purge,
erasure and export.

A `Store` describes one table holding personal data: how a person's rows are found (`mine`),
what an erasure does with them (`erase` rules), what the end of retention does (`purge`
rules) and under which key the export lists them (`export`). A `Rule` is one of three kinds
(delete, blank columns, mark) and says which rows it takes (by default the person's) and which
count of a report it adds to. `find` resolves a rule to the keys of its rows before anything
is written; `carry_out` then deletes or updates exactly those rows. Nothing here names a
table: retention.py, erasure.py and personal_data.py iterate the catalogue through it.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, inspect, tuple_, update
from sqlalchemy import select as sa_select
from sqlmodel import Session, SQLModel, col, select

from db.models import AssociationUser, ChannelIdentity

PURGED = "[gallrad]"
CHUNK = 500  # keys per statement (SQLite limits the number of bound values)


class Found(enum.StrEnum):
    """How a person's rows of a table are found (documentation: the README's table)."""

    PERSON = "the person's row (association_user)"
    IDENTITY = "channel_identity.person_id"
    ENQUIRY = "the person's enquiries (enquiry.user_id)"
    STAFF = "the staff person behind the person's identities (staff_identity)"
    EMAIL = "the person's e-mail addresses (channel_identity, channel email) or enquiries"
    WEB_VISITOR = "the person's web-chat visitor ids (channel_identity, channel web)"
    PERSON_KEY = "the person key (channel:address of an identity)"
    NOT_BY_PERSON = "not by person (kept under its own retention only)"


class Erasure(enum.StrEnum):
    """What an erasure does with a person's rows."""

    DELETE = "delete"
    BLANK = "blank"  # the row stays (a public record, statistics), the columns are blanked
    MARK = "mark"  # the person's row stays with erased_at set
    KEEP = "keep"  # not erased (staff roles: removed with `lotsen staff remove`)


@dataclass(frozen=True)
class Subject:
    """Whose rows an erasure or an export looks for: a person (or only an identity, for
    data of someone who never wrote as an association) and their enquiries."""

    person: AssociationUser | None
    identities: tuple[tuple[str, str], ...]  # (channel, address)
    enquiry_ids: tuple[int, ...] = ()
    anonymised_ids: tuple[int, ...] = ()  # enquiries whose texts go (not erasure requests)

    @property
    def person_id(self) -> int | None:
        return self.person.id if self.person is not None else None

    def addresses(self, channel: str) -> list[str]:
        """Return the person's addresses on one channel."""
        return [address for kind, address in self.identities if kind == channel]


@dataclass(frozen=True)
class Cut:
    """What a purge looks for: rows of a kind of data past its cutoff `at`, at `now`."""

    at: datetime
    now: datetime


Where = Callable[[Any], ColumnElement[bool]]  # takes a Subject (erasure) or a Cut (purge)
Values = Mapping[str, Any] | Callable[[Any, datetime], Mapping[str, Any]]  # (row, now) → values
Holds = Callable[[Any, Any], bool]  # (context, row) → whether the rule takes the row


@dataclass(frozen=True)
class Rule:
    """One thing a purge or an erasure does to rows of a table."""

    action: Erasure
    where: Where | None = None  # None: the store's `mine` (erasure only)
    values: Values = field(default_factory=dict)  # BLANK, MARK: column → value
    holds: Holds | None = None  # a further test of each row, in Python
    count: str | None = None  # the report's count it adds to (None: part of another count)
    kept: tuple[str, str] | None = None  # purge: (setting, kind) when not the store's
    guard: Callable[[Session, Cut], AbstractContextManager[Any]] | None = None


def deleting(where: Where | None = None, *, count: str | None = None, **kw: Any) -> Rule:
    """A rule deleting rows."""
    return Rule(Erasure.DELETE, where, count=count, **kw)


def blanking(
    values: Values, where: Where | None = None, *, count: str | None = None, **kw: Any
) -> Rule:
    """A rule blanking columns of rows that stay."""
    return Rule(Erasure.BLANK, where, values, count=count, **kw)


def marking(values: Values, where: Where | None = None) -> Rule:
    """A rule marking the person's row (erased) and blanking what it holds."""
    return Rule(Erasure.MARK, where, values)


Shown = Callable[[Session, SQLModel], Any]


@dataclass(frozen=True)
class Store:
    """One table holding personal data."""

    model: type[SQLModel]
    columns: tuple[str, ...]
    found: Found
    export: str | None = None  # the key in the export, None when it is not exported
    mine: Where | None = None  # a person's rows (a Subject → condition), None: not by person
    erase: tuple[Rule, ...] = ()
    purge: tuple[Rule, ...] = ()
    setting: str | None = None  # the retention setting (days), None: kept while needed
    kind: str | None = None  # the disposal decision's kind of data
    note: str = ""
    shown: Shown | None = None  # how a row appears in the export (default: all its columns)
    single: bool = False  # the export holds one row (or null), not a list
    nested: bool = False  # exported inside another store's rows (under the same key)

    @property
    def table(self) -> str:
        return str(self.model.__tablename__)

    @property
    def erasure(self) -> Erasure:
        """What erasure does (its first rule's kind; KEEP without rules)."""
        return self.erase[0].action if self.erase else Erasure.KEEP

    @property
    def blanked(self) -> dict[str, Any]:
        """The columns the rules blank with fixed values (column → value)."""
        found: dict[str, Any] = {}
        for rule in (*self.erase, *self.purge):
            if rule.action == Erasure.BLANK and isinstance(rule.values, Mapping):
                found.update(rule.values)
        return found


def _store(
    erasure: Erasure | None,
    model: type[SQLModel],
    columns: tuple[str, ...],
    found: Found,
    retained: tuple[str, str] | None,
    rules: Sequence[Rule],
    kw: dict[str, Any],
) -> Store:
    """Return a store; without rules of its own, its erasure is one rule of its kind taking
    the person's rows (`count`, `values`)."""
    count, values = kw.pop("count", None), kw.pop("values", {})
    if erasure is not None and kw.get("mine") is not None and not rules:
        rules = [Rule(erasure, count=count, values=values)]
    setting, kind = retained or (None, None)
    return Store(model, columns, found, erase=tuple(rules), setting=setting, kind=kind, **kw)


def deleted(
    model: type[SQLModel],
    columns: tuple[str, ...],
    found: Found,
    retained: tuple[str, str] | None = None,
    *rules: Rule,
    **kw: Any,
) -> Store:
    """A table whose rows of an erased person are deleted (`count` names the report's count)."""
    return _store(Erasure.DELETE, model, columns, found, retained, rules, kw)


def blanked(
    model: type[SQLModel],
    columns: tuple[str, ...],
    found: Found,
    retained: tuple[str, str] | None = None,
    *rules: Rule,
    **kw: Any,
) -> Store:
    """A table whose rows stay with their personal columns blanked (`values`)."""
    return _store(Erasure.BLANK, model, columns, found, retained, rules, kw)


def marked(
    model: type[SQLModel], columns: tuple[str, ...], found: Found, *rules: Rule, **kw: Any
) -> Store:
    """A table whose row of an erased person stays, marked (the person's own row)."""
    return _store(Erasure.MARK, model, columns, found, None, rules, kw)


def kept(
    model: type[SQLModel],
    columns: tuple[str, ...],
    found: Found,
    retained: tuple[str, str] | None = None,
    **kw: Any,
) -> Store:
    """A table an erasure leaves as it is (found for the export, purged by its own rules)."""
    return _store(None, model, columns, found, retained, (), kw)


# -- the walker -------------------------------------------------------------------------------


def _key_columns(model: type[SQLModel]) -> list[Any]:
    return list(inspect(model).primary_key)


def _key_condition(model: type[SQLModel], keys: Sequence[Any]) -> ColumnElement[bool]:
    columns = _key_columns(model)
    if len(columns) == 1:
        single: ColumnElement[bool] = columns[0].in_(keys)
        return single
    return tuple_(*columns).in_(keys)


def _chunks(keys: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(keys), CHUNK):
        yield keys[start : start + CHUNK]


def condition(store: Store, rule: Rule, context: Any) -> ColumnElement[bool]:
    """Return the condition a rule's rows meet (its own, or the store's `mine`)."""
    where = rule.where or store.mine
    assert where is not None, f"{store.table}: a rule without a condition"
    return where(context)


def find(session: Session, store: Store, rule: Rule, context: Any) -> list[Any]:
    """Return the keys of the rows a rule takes (before anything is written)."""
    where = condition(store, rule, context)
    columns = _key_columns(store.model)
    if rule.holds is not None:
        rows = session.exec(select(store.model).where(where)).all()
        return [_key_of(row, columns) for row in rows if rule.holds(context, row)]
    found = session.execute(sa_select(*columns).where(where)).all()
    return [tuple(row) if len(columns) > 1 else row[0] for row in found]


def _key_of(row: SQLModel, columns: list[Any]) -> Any:
    values = tuple(getattr(row, c.key) for c in columns)
    return values if len(values) > 1 else values[0]


def carry_out(
    session: Session, store: Store, rule: Rule, keys: Sequence[Any], now: datetime, cut: Any = None
) -> None:
    """Delete, blank or mark exactly the rows `find` returned."""
    if not keys:
        return
    guard = rule.guard(session, cut) if rule.guard is not None else nullcontext()
    with guard:
        for chunk in _chunks(list(keys)):
            where = _key_condition(store.model, chunk)
            if rule.action == Erasure.DELETE:
                session.exec(delete(store.model).where(where))
            elif isinstance(rule.values, Mapping):
                statement = update(store.model).where(where).values(**rule.values)
                session.exec(statement)
            else:
                for row in session.exec(select(store.model).where(where)).all():
                    for column, value in rule.values(row, now).items():
                        setattr(row, column, value)
    session.flush()


def rows_of(session: Session, store: Store, subject: Subject) -> list[SQLModel]:
    """Return a person's rows of a store, in the order of its key."""
    assert store.mine is not None
    query = select(store.model).where(store.mine(subject))
    return list(session.exec(query.order_by(*_key_columns(store.model))).all())


def subject_of(
    session: Session, person: AssociationUser | None, identities: Sequence[ChannelIdentity] = ()
) -> Subject:
    """Return the subject of a person's erasure or export: their identities and enquiries."""
    from db.models import Enquiry

    ids: tuple[int, ...] = ()
    if person is not None:
        query = select(Enquiry.id).where(Enquiry.user_id == person.id).order_by(col(Enquiry.id))
        ids = tuple(i for i in session.exec(query).all() if i is not None)
    return Subject(
        person=person,
        identities=tuple((i.channel, i.address) for i in identities),
        enquiry_ids=ids,
        anonymised_ids=ids,
    )
