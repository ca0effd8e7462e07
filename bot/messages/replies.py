"""Compose the bot's answers from data: routed, escalated and status replies."""

from __future__ import annotations

import math
from collections.abc import Sequence

from sqlmodel import Session

from bot.messages.texts import t
from db import crud
from db.models import Contact, Department, Enquiry, EscalationReason

ESCALATION_TEXT = {
    EscalationReason.HUMAN: "escalated_human",
    EscalationReason.OUT_OF_SCOPE: "escalated_out_of_scope",
    EscalationReason.UNAVAILABLE: "registered_unavailable",
}


def department_name(department: Department | None, language: str) -> str:
    """Return the department's name in the language, or 'the coordinator'."""
    if department is None:
        return t("no_department", language)
    if language == "en" and department.name_en:
        return department.name_en
    return department.name


def contact_line(contact: Contact | None, language: str) -> str:
    """Return one line with a contact's role, e-mail, phone and opening hours."""
    if contact is None:
        return "–"
    return t(
        "contact_line",
        language,
        role=contact.role,
        email=contact.email or "",
        phone=t("phone_part", language, phone=contact.phone) if contact.phone else "",
        hours=t("hours_part", language, hours=contact.hours) if contact.hours else "",
    )


def routed_reply(
    *, session: Session, enquiry: Enquiry, department: Department, language: str
) -> str:
    """Tell the association where its question went, whom to contact and what happens next."""
    contact = crud.active_contact(session=session, department=department)
    working_days = max(1, math.ceil(department.sla_hours / 8))
    return t(
        "routed",
        language,
        department=department_name(department, language),
        contact=contact_line(contact, language),
        reference=enquiry.reference,
        sla_days=working_days,
    )


def escalated_reply(*, enquiry: Enquiry, reason: str, language: str) -> str:
    """Tell the association its question went to the coordinator, with the reference number."""
    key = ESCALATION_TEXT.get(EscalationReason(reason), "escalated")
    return t(key, language, reference=enquiry.reference)


def enquiry_reply(*, session: Session, enquiry: Enquiry, language: str) -> str:
    """Describe an enquiry's current handling (used again when a message is redelivered)."""
    department = session.get(Department, enquiry.department_id) if enquiry.department_id else None
    if department is not None:
        return routed_reply(
            session=session, enquiry=enquiry, department=department, language=language
        )
    return t("escalated", language, reference=enquiry.reference)


def status_reply(*, session: Session, enquiries: Sequence[Enquiry], language: str) -> str:
    """List enquiries with reference number, department and state."""
    if not enquiries:
        return t("status_none", language)
    lines = [t("status_header", language)]
    for enquiry in enquiries:
        department = (
            session.get(Department, enquiry.department_id) if enquiry.department_id else None
        )
        lines.append(
            t(
                "status_line",
                language,
                reference=enquiry.reference,
                department=department_name(department, language),
                state=t(f"state_{enquiry.status}", language),
            )
        )
    return "\n".join(lines)
