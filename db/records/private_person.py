"""One-person associations: staff say that an "association" is one private person.

Then the register records the sender as a private person: the public register (/diarium) and
every public figure show "Privatperson", never the name; the archive export marks the agent as
a natural person with a GDPR restriction naming it; the case system gets it as a private
stakeholder. The flag is set by staff (the desk, `lotsen register private-person`), audited.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from db.models import Association, utcnow
from db.plumbing.audit import record
from db.plumbing.phrases import N_, DomainError

AUDIT_ENTITY = "association"


def find_association(*, session: Session, name_or_id: str) -> Association:
    """Return the association named (exactly, any case) or numbered `#12` / `12`.

    Refuses an unknown name, and a name several associations carry (name the number then).
    """
    wanted = name_or_id.strip()
    number = wanted.removeprefix("#")
    if number.isdigit():
        found = session.get(Association, int(number))
        if found is not None:
            return found
    matches = [
        a
        for a in session.exec(select(Association).order_by(col(Association.id))).all()
        if a.name.casefold() == wanted.casefold()
    ]
    if not matches:
        raise DomainError(N_("Ingen förening heter {name}."), name=wanted)
    if len(matches) > 1:
        raise DomainError(
            N_("Flera föreningar heter {name}; ange numret: {numbers}"),
            name=wanted,
            numbers=", ".join(f"#{a.id}" for a in matches),
        )
    return matches[0]


def set_private_person(
    *,
    session: Session,
    association: Association,
    private_person: bool,
    actor: str,
    now: datetime | None = None,
) -> bool:
    """Set whether the association is one private person; audited. Return whether it changed."""
    assert association.id is not None
    if association.private_person == private_person:
        return False
    record(
        session=session,
        actor=actor[:64],
        entity=AUDIT_ENTITY,
        key=str(association.id),
        action="private_person",
        before={"private_person": association.private_person},
        after={"private_person": private_person},
        now=now or utcnow(),
    )
    association.private_person = private_person
    session.flush()
    return True
