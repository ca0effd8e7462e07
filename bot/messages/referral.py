"""What an association hears when its question is another authority's, or when it must choose.

A referral names the authority (in the writer's language), its website and phone, with a
button "that is not right"; a confirmation lists the two likeliest departments, each with a
line on what it handles, as buttons with "something else" (the coordinator).
"""

from __future__ import annotations

from bot.i18n import t
from bot.messages import choices
from bot.messages.base import Choice, Message, Notice, Renderer
from bot.messages.formats import department_name, handles_line, reference
from db.enquiries.notifications import Kind
from db.routing.authorities import authority_by_key, name_in


def _referred(notice: Notice) -> Message:
    language = notice.language
    enquiry = notice.enquiry
    key = str(notice.params.get("authority") or enquiry.referred_to or "")
    authority = authority_by_key(session=notice.session, key=key) if key else None
    name = name_in(authority, language) if authority is not None else key
    # Translators: the answer to a question that belongs to another authority; {authority}
    # is its name (e.g. "Skatteverket (the Swedish Tax Agency)").
    lines = [t(language, "Det här är en fråga för {authority}, inte för kommunen.", authority=name)]
    if authority is not None and authority.website:
        lines.append(t(language, "Webbplats: {website}", website=authority.website))
    if authority is not None and authority.phone:
        lines.append(t(language, "Telefon: {phone}", phone=authority.phone))
    lines.append("")
    # Translators: under a referral to another authority; {reference} e.g. LOT-2026-00042.
    lines.append(
        t(
            language,
            "Jag har sparat frågan som {reference}. Stämmer det inte? Tryck på knappen, "
            "så skickar jag den till kommunens samordnare.",
            reference=reference(enquiry),
        )
    )
    assert enquiry.id is not None
    # Translators: button under a referral to another authority.
    button = t(language, "Det stämmer inte – skicka till samordnaren")
    return Message("\n".join(lines), [[Choice(button, choices.referral_wrong(enquiry.id))]])


def _confirm(notice: Notice) -> Message:
    language = notice.language
    enquiry = notice.enquiry
    assert enquiry.id is not None
    options = [str(key) for key in notice.params.get("options") or []]
    departments = [d for d in (notice.department(key) for key in options) if d is not None]
    # Translators: asks an association to choose between two departments (listed below it,
    # each with what it handles, and as buttons).
    lines = [
        t(
            language,
            "Jag är inte helt säker på vilken förvaltning din fråga gäller. "
            "Välj den som passar bäst:",
        ),
        "",
    ]
    if notice.params.get("again"):
        # Translators: before the same choice again, when a reply by e-mail named none of them.
        lines[:0] = [t(language, "Jag förstod inte vilket alternativ du menade."), ""]
    rows: list[list[Choice]] = []
    for department in departments:
        name = department_name(department, language)
        what = handles_line(department, language)
        lines.append(f"• {name}" + (f" – {what}" if what else ""))
        rows.append([Choice(name, choices.confirm(enquiry.id, department.key))])
    lines.append("")
    # Translators: under the two departments to choose from; {reference} e.g. LOT-2026-00042.
    lines.append(
        t(
            language,
            "Passar ingen av dem? Välj ”Något annat”, så skickar jag frågan till kommunens "
            "samordnare. Ditt ärendenummer: {reference}",
            reference=reference(enquiry),
        )
    )
    # Translators: button: none of the two departments offered (the coordinator decides).
    rows.append([Choice(t(language, "Något annat"), choices.confirm(enquiry.id, None))])
    return Message("\n".join(lines), rows)


RENDERERS: dict[str, Renderer] = {Kind.REFERRED: _referred, Kind.CONFIRM: _confirm}
