"""What a department hears: forwarded enquiries and reminders, and the replies to its actions."""

from __future__ import annotations

from datetime import datetime

from bot.i18n import t
from bot.messages import choices
from bot.messages.base import Choice, Message, Notice, Renderer
from bot.messages.formats import deadline, reference, shortened
from bot.messages.languages import enquiry_languages, languages_line
from db.notifications import Kind
from db.queue_facts import association_name


def unknown_association(language: str) -> str:
    """Return how an enquiry without a known association is named."""
    return t(language, "okänd förening")


def department_choices(enquiry_id: int, language: str) -> list[list[Choice]]:
    """Return the Answer / Not ours buttons under a forwarded enquiry."""
    return [
        [
            # Translators: button under a forwarded enquiry: answer the association.
            Choice(t(language, "Svara"), choices.department_answer(enquiry_id)),
            # Translators: button under a forwarded enquiry: the question is not ours.
            Choice(t(language, "Inte vårt"), choices.department_not_ours(enquiry_id)),
        ]
    ]


def _deadline(notice: Notice) -> datetime | None:
    """Return the deadline the message was queued with (it may have moved since)."""
    given = notice.params.get("deadline")
    return datetime.fromisoformat(given) if isinstance(given, str) else notice.enquiry.sla_due_at


def _facts(notice: Notice) -> dict[str, str]:
    enquiry = notice.enquiry
    return {
        "reference": reference(enquiry),
        "association": association_name(session=notice.session, enquiry=enquiry)
        or unknown_association(notice.language),
        "question": shortened(enquiry.text),
        "deadline": deadline(_deadline(notice), notice.language),
        "languages": languages_line(
            enquiry_languages(session=notice.session, enquiry=enquiry), notice.language
        ),
    }


def _forward(notice: Notice) -> Message:
    text = t(
        notice.language,
        "Ny fråga från en förening\n"
        "Ärende: {reference}\n"
        "Förening: {association}\n"
        "{languages}\n"
        "Svara senast: {deadline}\n\n"
        "{question}\n\n"
        "Tryck Svara och skriv svaret. Hör frågan inte till er? Tryck Inte vårt.",
        **_facts(notice),
    )
    assert notice.enquiry.id is not None
    return Message(text, department_choices(notice.enquiry.id, notice.language))


def _reminder(notice: Notice) -> Message:
    text = t(
        notice.language,
        "Påminnelse: ärende {reference} väntar på svar.\n"
        "Förening: {association}\n"
        "{languages}\n"
        "Svara senast: {deadline}. Annars går ärendet till samordnaren.\n\n"
        "{question}",
        **_facts(notice),
    )
    assert notice.enquiry.id is not None
    return Message(text, department_choices(notice.enquiry.id, notice.language))


def answer_prompt(language: str, reference_number: str) -> str:
    """Return the prompt that asks staff to reply with the answer."""
    return t(
        language,
        "Skriv svaret till föreningen som svar på det här meddelandet (ärende {reference}).",
        reference=reference_number,
    )


def answer_sent(language: str, reference_number: str) -> str:
    """Return the confirmation that an answer went to the association."""
    return t(
        language,
        "Tack! Svaret är skickat till föreningen (ärende {reference}).",
        reference=reference_number,
    )


def not_ours_done(language: str, reference_number: str) -> str:
    """Return the confirmation that the coordinator takes over."""
    return t(language, "Tack! Samordnaren tar över ärende {reference}.", reference=reference_number)


def already_handled(language: str) -> str:
    """Return the refusal for a button on an enquiry that was handled already."""
    return t(language, "Det här ärendet är redan hanterat.")


def button_invalid(language: str) -> str:
    """Return the answer to a button that no longer works."""
    return t(language, "Den här knappen fungerar inte längre.")


def not_allowed(language: str) -> str:
    """Return the refusal for someone without the role."""
    return t(language, "Du har inte behörighet att göra det här.")


RENDERERS: dict[str, Renderer] = {Kind.FORWARD: _forward, Kind.REMINDER: _reminder}
