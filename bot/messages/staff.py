"""What department staff read in a private chat: their routes and contacts, and reminders."""

from __future__ import annotations

from sqlmodel import Session, col, select

from bot.i18n import t
from bot.messages.base import Message, Notice, Renderer
from bot.messages.formats import deadline, reference
from bot.messages.languages import enquiry_languages, languages_line
from db.enquiries.notifications import Kind
from db.enquiries.queue_facts import association_name
from db.models import Contact, Department, Route


def overview(*, session: Session, department: Department, language: str) -> str:
    """Describe a department's contacts and routes for its staff."""
    contacts = session.exec(select(Contact).where(Contact.department_id == department.id)).all()
    lines = [f"{department.name} ({department.key})"]
    for contact in sorted(contacts, key=lambda c: c.kind):
        label = t(language, "Kontakt") if contact.kind == "contact" else t(language, "Ersättare")
        absent = ""
        if contact.absent_from or contact.absent_until:
            start = contact.absent_from.date().isoformat() if contact.absent_from else "…"
            end = contact.absent_until.date().isoformat() if contact.absent_until else "…"
            absent = " · " + t(language, "frånvarande {start} – {end}", start=start, end=end)
        lines.append(
            f"{label}: {contact.role}, {contact.email or '–'}, {contact.phone or '–'}, "
            f"{contact.hours or '–'}{absent}"
        )
    lines.append(t(language, "Ämnen som kommer till er:"))
    routes = session.exec(
        select(Route).where(Route.department_id == department.id).order_by(col(Route.intent))
    ).all()
    verified_label = t(language, "kontrollerad")
    for route in routes:
        verified = route.last_verified_at.date().isoformat() if route.last_verified_at else "–"
        lines.append(f"• {route.intent} – {route.description[:60]} ({verified_label} {verified})")
    lines.append(
        t(
            language,
            "Ändra: /contact email|phone|hours|role VÄRDE (ersättare: /contact deputy …)\n"
            "Frånvaro: /absent 2026-12-01 2026-12-10 eller /absent clear\n"
            "Kontrollerat: /verify ÄMNE eller /verify all",
        )
    )
    return "\n".join(lines)


def contact_usage(language: str) -> str:
    """Return how to write /contact."""
    return t(language, "Skriv så här: /contact email namn@kommun.se (eller phone, hours, role).")


def absent_usage(language: str) -> str:
    """Return how to write /absent."""
    return t(
        language,
        "Skriv så här: /absent 2026-12-01 2026-12-10 (från och till), eller /absent clear.",
    )


def verify_usage(language: str) -> str:
    """Return how to write /verify."""
    return t(language, "Skriv så här: /verify topic_bidrag eller /verify all.")


def unknown_route(language: str, intent: str) -> str:
    """Return the refusal for a topic that is not the department's."""
    return t(
        language,
        "Ämnet {intent} finns inte hos er förvaltning. Skriv /routes för att se ämnena.",
        intent=intent,
    )


def saved(language: str) -> str:
    """Return the confirmation of a saved change."""
    return t(language, "Sparat. Ändringen gäller från nästa fråga.")


def verified(language: str, count: int) -> str:
    """Return the confirmation of checked routes."""
    return t(language, "Tack! {count} ämnen är markerade som kontrollerade i dag.", count=count)


def invite_accepted(language: str, role: str) -> str:
    """Return the welcome for a staff member who used an invitation."""
    return t(language, "Välkommen! Du är nu registrerad i Lotsen med rollen {role}.", role=role)


def invite_refused(language: str) -> str:
    """Return the refusal of a used or expired invitation."""
    return t(language, "Inbjudan fungerar inte. Den kan vara använd eller för gammal. Be om en ny.")


def desk_link(language: str, link: str) -> str:
    """Return the message with a one-time sign-in link to the desk."""
    return t(
        language,
        "Här är din inloggningslänk till skrivbordet. Den fungerar en gång och i 10 minuter:\n"
        "{link}",
        link=link,
    )


def _route_review(notice: Notice) -> Message:
    intents = [str(i) for i in notice.params.get("intents") or []]
    return Message(
        t(
            notice.language,
            "Påminnelse: de här ämnena behöver kontrolleras (stämmer kontakten?):\n{routes}\n"
            "Skriv /routes för att se dem och /verify all när de stämmer.",
            routes="\n".join(f"• {intent}" for intent in intents),
        )
    )


def _assigned_to_you(notice: Notice) -> Message:
    enquiry = notice.enquiry
    text = t(
        notice.language,
        "Du har fått ärende {reference} ({association}). Svara senast {deadline}.\n"
        "Öppna det i skrivbordets inkorg; /desk ger dig en inloggningslänk.",
        reference=reference(enquiry),
        association=association_name(session=notice.session, enquiry=enquiry) or "–",
        deadline=deadline(enquiry.sla_due_at, notice.language),
    )
    languages = enquiry_languages(session=notice.session, enquiry=enquiry)
    return Message("\n".join((text, languages_line(languages, notice.language))))


RENDERERS: dict[str, Renderer] = {
    Kind.ROUTE_REVIEW: _route_review,
    Kind.ASSIGNED_TO_YOU: _assigned_to_you,
}
