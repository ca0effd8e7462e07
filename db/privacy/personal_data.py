"""A person's personal data: find the person by any of their identities and export everything
held (erasure: erasure.py).

A person writes from one or more channel identities (channel, address); the export covers all
of them: every store of db/privacy/catalogue.py that names an export key lists the person's
rows under it, and the Rasa conversations of every identity are added. Someone who never wrote
as an association (a staff member) can export what is held about one identity of theirs.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session

from db.models import AssociationUser, utcnow
from db.people.identities import find_person, identities_of
from db.plumbing.phrases import N_, DomainError
from db.privacy import catalogue, shapes
from db.privacy.rules import CHAT_APP_ID, chat_user_ids
from db.privacy.stores import Subject, rows_of, subject_of

NO_PERSON = N_("Det finns ingen föreningsanvändare med identiteten {identity}.")
NOTHING_HELD = N_("Inga uppgifter finns sparade om {identity}.")


class UnknownUser(DomainError, LookupError):
    """No data is held about this identity (`channel`, `address`)."""

    def __init__(self, message: str, /, *, channel: str, address: str) -> None:
        super().__init__(message, identity=f"{channel}:{address}")
        self.channel, self.address = channel, address


def find_by_identity(*, session: Session, channel: str, address: str) -> AssociationUser | None:
    """Return the person with this channel identity, or None."""
    return find_person(session=session, channel=channel, address=address)


def known_person(*, session: Session, channel: str, address: str) -> AssociationUser:
    """Return the person `find_by_identity` finds, or raise UnknownUser."""
    person = find_by_identity(session=session, channel=channel, address=address)
    if person is None:
        raise UnknownUser(NO_PERSON, channel=channel, address=address)
    return person


def export_identity(
    *,
    session: Session,
    channel: str,
    address: str,
    tracker_url: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Return everything held about the person with this identity (all their identities).

    Someone who never wrote as an association (a staff member) still gets what is held about
    the identity itself (staff roles, desk sign-ins, stored updates); nothing: UnknownUser.
    """
    person = find_by_identity(session=session, channel=channel, address=address)
    if person is not None:
        return export_person(
            session=session,
            person=person,
            tracker_url=tracker_url,
            now=now,
            first=(channel, address),
        )
    subject = Subject(person=None, identities=((channel, address),))
    data = _export(session=session, subject=subject, tracker_url=tracker_url, now=now)
    if not any(data[s.export] for s in catalogue.STORES if s.export and s.export in data):
        raise UnknownUser(NOTHING_HELD, channel=channel, address=address)
    return data


def export_person(
    *,
    session: Session,
    person: AssociationUser,
    tracker_url: str | None = None,
    now: datetime | None = None,
    first: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """Return everything held about a person, across all their channel identities (`first`:
    the identity asked about, named first)."""
    assert person.id is not None
    identities = sorted(
        identities_of(session=session, person_id=person.id),
        key=lambda i: (i.channel, i.address) != first,
    )
    subject = subject_of(session, person, identities)
    return _export(session=session, subject=subject, tracker_url=tracker_url, now=now)


def _export(
    *, session: Session, subject: Subject, tracker_url: str | None, now: datetime | None
) -> dict[str, Any]:
    """Walk the catalogue: each exported store's rows of the subject under its key."""
    chat_app = chat_user_ids(subject)
    data: dict[str, Any] = {
        "exported_at": (now or utcnow()).isoformat(),
        CHAT_APP_ID: chat_app[0] if chat_app else None,
    }
    for described in catalogue.STORES:
        if described.export is None or described.nested or described.mine is None:
            continue
        shown = described.shown or shapes.plain
        rows = [shown(session, row) for row in rows_of(session, described, subject)]
        if described.single:
            data[described.export] = rows[0] if rows else None
        else:
            data.setdefault(described.export, []).extend(rows)
    data["tracker_events"] = None
    if tracker_url is not None:
        from db.enquiries.tracker_events import tracker_store, user_events

        with tracker_store(tracker_url) as connection:
            known = list(subject.identities)
            data["tracker_events"] = (
                user_events(connection, known) if connection is not None else []
            )
    return data
