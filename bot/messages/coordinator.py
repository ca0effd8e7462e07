"""What the coordinators see: escalation cards, their pickers, and the queue listing."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from bot.i18n import t
from bot.messages import choices
from bot.messages.base import Choice, Message, Notice, Renderer
from bot.messages.department import unknown_association
from bot.messages.formats import department_name, duration, reference, shortened
from bot.messages.languages import enquiry_languages, language_label, languages_line
from db.enquiries.notifications import Kind
from db.enquiries.queue import CLOSE_REASONS, list_queue
from db.enquiries.queue_facts import QueueItem, queue_item
from db.models import Department, Escalation, utcnow
from db.plumbing.phrases import N_
from db.records.register import entry_by_reference

MAX_GUESSES = 3

REASONS = {
    # Translators: why an enquiry is in the coordinator's queue; {department} is its name.
    "unsure": N_("osäker tolkning"),
    "out_of_scope": N_("utanför kommunens område"),
    "human": N_("vill prata med en människa"),
    "not_ours": N_("{department} säger att frågan inte är deras"),
    "not_helped": N_("föreningen tyckte inte att svaret hjälpte"),
    "sla": N_("{department} har inte svarat i tid"),
    "unavailable": N_("tolkningen var inte tillgänglig"),
    "failed": N_("meddelandet kunde inte hanteras automatiskt"),
    "erasure": N_("begäran om radering av personuppgifter"),
    "unreachable": N_("{department} kan inte nås (se lotsen routes check)"),
    "misreferred": N_("föreningen säger att hänvisningen till en annan myndighet inte stämmer"),
    "not_listed": N_("föreningen valde ”något annat” än de två förvaltningar boten föreslog"),
    "unconfirmed": N_("föreningen valde ingen av de två förvaltningar boten föreslog"),
}

CLOSE_LABELS = {
    # Translators: buttons with the reasons for closing an enquiry in the queue.
    "answered_elsewhere": N_("Besvarad på annat sätt"),
    "duplicate": N_("Dubblett"),
    "spam": N_("Skräp"),
    "not_municipal": N_("Inte kommunens fråga"),
    "other": N_("Annat"),
}


def reason_text(item: QueueItem, language: str) -> str:
    """Return the human-readable reason the enquiry is in the queue (with the sender's words)."""
    reason = item.escalation.reason
    message = REASONS.get(reason)
    if message is None:
        return reason
    text = t(language, message, department=department_name(item.department, language))
    if item.note:
        # Translators: a reason for the queue, then the words its sender gave, e.g. "…: wrong".
        text = t(language, "{reason}: ”{note}”", reason=text, note=shortened(item.note, 300))
    return text


def waited_text(item: QueueItem, language: str) -> str:
    """Return how long the escalation has waited: time, and working hours."""
    hours = f"{item.waited_working_hours:.1f}".rstrip("0").rstrip(".")
    return t(
        language,
        "{duration} ({work} arbetstimmar)",
        duration=duration(item.waited, language),
        work=hours,
    )


def guesses_text(*, session: Session, item: QueueItem, language: str) -> str:
    """Return the model's best guesses as 'Department 62 %, …'."""
    if not item.guesses:
        # Translators: the model has no guesses for the enquiry.
        return t(language, "inga")
    names = {d.key: d for d in session.exec(select(Department)).all()}
    parts = []
    for key, score in sorted(item.guesses, key=lambda g: -g[1])[:MAX_GUESSES]:
        known = names.get(key)
        parts.append(f"{department_name(known, language) if known else key} {round(score * 100)} %")
    return ", ".join(parts)


def card_choices(escalation_id: int, language: str) -> list[list[Choice]]:
    """Return the Claim / Answer / Route / Close buttons of a card."""
    return [
        [
            Choice(t(language, "Ta ärendet"), choices.queue("claim", escalation_id)),
            # Translators: card button: answer the association yourself.
            Choice(t(language, "Svara"), choices.queue("answer", escalation_id)),
        ],
        [
            Choice(t(language, "Skicka till förvaltning"), choices.queue("route", escalation_id)),
            Choice(t(language, "Avsluta"), choices.queue("close", escalation_id)),
        ],
    ]


def card_text(*, session: Session, item: QueueItem, language: str) -> str:
    """Return the text of a card for a queue item."""
    return t(
        language,
        "Ärende {reference} – {reason}\n"
        "Förening: {association}{rare}\n"
        "{languages}\n"
        "Väntat: {waited}\n"
        "Förslag: {guesses}\n"
        "Tagen av: {claimed}\n\n"
        "{question}",
        reference=reference(item.enquiry),
        reason=reason_text(item, language),
        association=item.association or unknown_association(language),
        rare=t(language, " (hör sällan av sig)") if item.rarely_in_contact else "",
        languages=languages_line(
            enquiry_languages(session=session, enquiry=item.enquiry), language
        ),
        waited=waited_text(item, language),
        guesses=guesses_text(session=session, item=item, language=language),
        claimed=item.claimed_by_name or t(language, "ingen än"),
        question=shortened(item.enquiry.text),
    )


def card(
    *, session: Session, escalation: Escalation, language: str, now: datetime | None = None
) -> Message:
    """Return the card of an escalation (also to refresh a sent card); no buttons once resolved."""
    assert escalation.id is not None
    item = queue_item(session=session, escalation=escalation, now=now or utcnow())
    text = card_text(session=session, item=item, language=language)
    if escalation.resolved_at is not None:
        return Message(text)
    return Message(text, card_choices(escalation.id, language))


def _card(notice: Notice) -> Message:
    assert notice.escalation is not None
    return card(session=notice.session, escalation=notice.escalation, language=notice.language)


def route_picker(*, session: Session, escalation_id: int, language: str) -> list[list[Choice]]:
    """Return one button per department, for routing an escalation."""
    departments = session.exec(select(Department).order_by(Department.name)).all()
    return [
        [Choice(department_name(d, language), choices.route_to(escalation_id, d.key))]
        for d in departments
        if choices.usable_department_key(d.key)
    ]


def close_picker(escalation_id: int, language: str) -> list[list[Choice]]:
    """Return one button per close reason."""
    return [
        [Choice(t(language, CLOSE_LABELS[code]), choices.close_reason(escalation_id, code))]
        for code in CLOSE_REASONS
    ]


def refusals_line(refused: list[tuple[str, int]], language: str) -> str | None:
    """Return the line naming whose messages the rate limit refused today (None: nobody's)."""
    if not refused:
        return None
    people = ", ".join(f"{person} ×{count}" for person, count in refused[:10])
    # Translators: above the queue; {people} lists "telegram:<id> ×<refused messages>".
    return t(
        language, "Avvisade meddelanden i dag (för många på kort tid): {people}", people=people
    )


def queue_listing(
    items: list[QueueItem],
    language: str,
    limit: int = 30,
    refused: list[tuple[str, int]] | None = None,
) -> str:
    """Return the /queue listing: a header and one line per open escalation, oldest first.

    A line names the language the question is written in when it could be told. `refused`
    (person, messages) names whose messages the rate limit refused today, above the queue.
    """
    floods = refusals_line(refused or [], language)
    if not items:
        empty = t(language, "Kön är tom.")
        return f"{floods}\n{empty}" if floods else empty
    lines = [floods] if floods else []
    lines += [
        t(
            language,
            "Öppna ärenden i kön ({count}), äldst först (★ = hör sällan av sig):",
            count=len(items),
        )
    ]
    for item in items[:limit]:
        hours = item.waited.total_seconds() / 3600
        marker = " ★" if item.rarely_in_contact else ""
        holder = (
            f" – {item.claimed_by_name or item.escalation.claimed_by}"
            if item.escalation.claimed_by
            else ""
        )
        written = item.enquiry.detected_language
        lines.append(
            f"#{item.escalation.id} {reference(item.enquiry)} · {item.association or '–'}{marker}"
            f" · {hours:.0f} h · {reason_text(item, language)}"
            + (f" · {language_label(written, language)}" if written else "")
            + holder
        )
    return "\n".join(lines)


def claimed(language: str, reference_number: str) -> str:
    """Return the notice that the coordinator now holds the enquiry."""
    return t(language, "Du har tagit ärende {reference}.", reference=reference_number)


def claimed_by_other(language: str, who: str) -> str:
    """Return the notice that someone else holds the enquiry."""
    return t(language, "Ärendet är redan taget av {who}.", who=who)


def routed(language: str, reference_number: str, department: str) -> str:
    """Return the notice that the enquiry went to a department."""
    return t(
        language,
        "Ärende {reference} är skickat till {department}.",
        reference=reference_number,
        department=department,
    )


def closed(language: str, reference_number: str) -> str:
    """Return the notice that the enquiry is closed."""
    return t(language, "Ärende {reference} är avslutat.", reference=reference_number)


FAILED_KINDS: dict[str, str] = {
    # Translators: which message could not be delivered by e-mail, in an alert to the coordinator.
    Kind.FORWARD: N_("en ny fråga"),
    Kind.REMINDER: N_("en påminnelse"),
    Kind.RETURNED: N_("ett besked om att ärendet gått tillbaka"),
    Kind.REASSIGNED: N_("ett besked om att ärendet skickats vidare"),
    Kind.ASSIGNED: N_("ett besked om att ärendet tilldelats en kollega"),
    Kind.DIGEST: N_("samordnarens dagliga sammanfattning"),
    Kind.MAIL_FAILED: N_("en varning om e-post"),
}


def _mail_failed(notice: Notice) -> Message:
    failed = FAILED_KINDS.get(str(notice.params.get("failed_kind")))
    what = t(notice.language, failed) if failed else str(notice.params.get("failed_kind") or "")
    enquiry_id = notice.row.enquiry_id
    about = reference(notice.enquiry) if enquiry_id is not None else "–"
    return Message(
        t(
            notice.language,
            "E-post kunde inte levereras till {address}, och Lotsen har slutat försöka.\n"
            "Meddelandet: {what} (ärende {reference})\n"
            "Felet: {problem}\n\n"
            "Kontrollera adressen på förvaltningens sida i skrivbordet. Ärendet finns kvar i "
            "förvaltningens inkorg i skrivbordet; hör av dig till förvaltningen på annat sätt "
            "om det brådskar.",
            address=str(notice.params.get("address") or "–"),
            what=what,
            reference=about,
            problem=str(notice.params.get("problem") or "–"),
        )
    )


def _digest(notice: Notice) -> Message:
    items = list_queue(session=notice.session)
    header = t(
        notice.language,
        "Samordnarens kö {day}: öppna ärenden som väntar på dig.",
        day=str(notice.params.get("day") or ""),
    )
    return Message("\n\n".join([header, queue_listing(items, notice.language, limit=100)]))


def _file_errand(notice: Notice) -> Message:
    """The errand's title in the case system: the reference and the topic in plain words."""
    entry = entry_by_reference(session=notice.session, reference=reference(notice.enquiry))
    topic = entry.description if entry is not None and entry.description else None
    return Message(
        t(
            notice.language,
            # Translators: an errand's title in the municipality's case system.
            "Fråga via Lotsen {reference}: {topic}",
            reference=reference(notice.enquiry),
            topic=topic or t(notice.language, "ämnet är inte bestämt"),
        )
    )


def _errand_failed(notice: Notice) -> Message:
    return Message(
        t(
            notice.language,
            "Ärende {reference} kunde inte registreras i ärendesystemet, och Lotsen har slutat "
            "försöka.\nFelet: {problem}\n\nRegistrera ärendet för hand. Registrets uppgifter "
            "om det finns i det öppna diariet (/diarium) under ärendets nummer.",
            reference=reference(notice.enquiry),
            problem=str(notice.params.get("problem") or "–"),
        )
    )


RENDERERS: dict[str, Renderer] = {
    Kind.FILE_ERRAND: _file_errand,
    Kind.ERRAND_FAILED: _errand_failed,
    Kind.CARD: _card,
    Kind.MAIL_FAILED: _mail_failed,
    Kind.DIGEST: _digest,
}
