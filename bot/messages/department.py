"""What a department hears: forwarded enquiries and reminders, and the replies to its actions.

A forward and a reminder end with what to do: on Telegram, press a button; in an e-mail, open
the link the e-mail channel puts under the text (the choices become that link). What only a
mailbox hears (an enquiry went back, elsewhere or to a colleague) has no choices.
"""

from __future__ import annotations

from datetime import datetime

from bot.i18n import t, translate
from bot.messages import choices
from bot.messages.base import Choice, Message, Notice, Renderer
from bot.messages.formats import deadline, department_name, reference, shortened
from bot.messages.languages import enquiry_languages, languages_line
from db.enquiries.notifications import Channel, Kind
from db.enquiries.queue_facts import association_name, escalation_note
from db.plumbing.phrases import N_, Phrase
from db.routing.edits import route_by_intent


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


def _by_email(notice: Notice) -> bool:
    return notice.row.channel == Channel.EMAIL


def routing_reason(notice: Notice) -> Phrase:
    """Return why the enquiry came to the department: the model's topic or the coordinator."""
    enquiry = notice.enquiry
    if notice.params.get("routed_by") == "coordinator":
        return Phrase(N_("Samordnaren skickade frågan till er."))
    route = (
        route_by_intent(session=notice.session, intent=enquiry.intent) if enquiry.intent else None
    )
    if route is None:
        return Phrase(N_("Lotsen sorterade frågan till er."))
    return Phrase(
        N_(
            "Lotsen tolkade frågan som {topic} (säkerhet {confidence} %); "
            "vägvalstabellen skickar det ämnet till er."
        ),
        {
            "topic": route.description or route.intent,
            "confidence": round((enquiry.confidence or 0) * 100),
        },
    )


def _forward_by_email(notice: Notice) -> Message:
    enquiry = notice.enquiry
    text = t(
        notice.language,
        "Ny fråga från en förening\n"
        "Ärende: {reference}\n"
        "Förening: {association}\n"
        "{languages}\n"
        "Svara inom {hours} arbetstimmar, senast {deadline}.\n"
        "Varför till er: {reason}\n\n"
        "{question}\n\n"
        "Öppna ärendet med länken nedan. Där svarar du föreningen (svaret når den genom "
        "Lotsen, på dess språk), säger att frågan inte är er eller ger den till en kollega.",
        hours=notice.params.get("sla_hours") or "–",
        reason=translate(notice.language, routing_reason(notice)),
        **_facts(notice),
    )
    assert enquiry.id is not None
    return Message(text, department_choices(enquiry.id, notice.language))


def _forward(notice: Notice) -> Message:
    if _by_email(notice):
        return _forward_by_email(notice)
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
    if _by_email(notice):
        text = t(
            notice.language,
            "Påminnelse: ärende {reference} väntar på svar.\n"
            "Förening: {association}\n"
            "{languages}\n"
            "Svara senast: {deadline}. Annars går ärendet till samordnaren.\n\n"
            "{question}\n\n"
            "Öppna ärendet med länken nedan för att svara.",
            **_facts(notice),
        )
    else:
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


def _returned(notice: Notice) -> Message:
    enquiry, escalation = notice.enquiry, notice.escalation
    why = escalation_note(session=notice.session, escalation=escalation) if escalation else None
    text = t(
        notice.language,
        "Ärende {reference} har gått tillbaka till samordnaren: någon på förvaltningen "
        "har sagt att frågan inte är er. Ni behöver inte göra något mer med den.",
        reference=reference(enquiry),
    )
    if why:
        text += "\n" + t(notice.language, "Skäl: {why}", why=why)
    return Message(text)


def _reassigned(notice: Notice) -> Message:
    to = notice.department(str(notice.params.get("to") or ""))
    return Message(
        t(
            notice.language,
            "Samordnaren har skickat ärende {reference} till {department}. "
            "Ni behöver inte göra något mer med det.",
            reference=reference(notice.enquiry),
            department=department_name(to, notice.language),
        )
    )


def _assigned(notice: Notice) -> Message:
    text = t(
        notice.language,
        "Ärende {reference} är tilldelat {assignee}.\n"
        "Förening: {association}\n"
        "{languages}\n"
        "Svara senast: {deadline}\n\n"
        "{question}\n\n"
        "Öppna ärendet med länken nedan.",
        assignee=str(notice.params.get("assignee") or "–"),
        **_facts(notice),
    )
    assert notice.enquiry.id is not None
    return Message(text, department_choices(notice.enquiry.id, notice.language))


RENDERERS: dict[str, Renderer] = {
    Kind.FORWARD: _forward,
    Kind.REMINDER: _reminder,
    Kind.RETURNED: _returned,
    Kind.REASSIGNED: _reassigned,
    Kind.ASSIGNED: _assigned,
}
