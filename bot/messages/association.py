"""What an association hears: onboarding, replies to its questions, its enquiries' progress."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from sqlmodel import Session

from bot.i18n import LANGUAGE_NAMES, LANGUAGES, SOURCE_LANGUAGE, t
from bot.messages import choices
from bot.messages.base import Choice, Document, Message, Notice, Renderer
from bot.messages.formats import (
    contact_line,
    department_name,
    handles_line,
    reference,
    sla_days,
)
from bot.messages.languages import UNDETERMINED
from bot.understanding.language import Identified
from db.enquiries import crud
from db.enquiries.notifications import Kind
from db.models import Association, Department, Enquiry, EscalationReason
from db.people import departments
from db.plumbing.phrases import N_
from db.privacy.personal_data import export_person

LANGUAGES_PER_ROW = 3


def language_choices() -> list[list[Choice]]:
    """Return the language choice as rows of buttons, each language in its own name."""
    buttons = [Choice(LANGUAGE_NAMES[code], choices.language(code)) for code in LANGUAGES]
    return [
        buttons[start : start + LANGUAGES_PER_ROW]
        for start in range(0, len(buttons), LANGUAGES_PER_ROW)
    ]


def language_params(found: Identified) -> dict[str, Any]:
    """Return the parameter that asks a reply for a line in Swedish (an unsupported language).

    Its value is the language written in, or "und" for a script no language was named for
    (Ethiopic: Tigrinya or Amharic).
    """
    return {"unsupported_language": found.written or UNDETERMINED} if found.unsupported else {}


def with_swedish_line(message: Message, params: dict[str, object]) -> Message:
    """Add one line in Swedish to a reply to a message written in a language we do not speak."""
    if not params.get("unsupported_language"):
        return message
    # Translators: always shown in Swedish, under an English answer to someone who wrote in
    # a language we cannot answer in (German, Chinese…). Translate it for completeness.
    line = t(
        SOURCE_LANGUAGE,
        "Vi kan inte svara på ditt språk än, så vi svarar på engelska. "
        "Du kan också skriva på svenska.",
    )
    return replace(message, text="\n\n".join((message.text, line)))


def department_languages_line(language: str) -> str:
    """Return the note that a department answers in Swedish or English ('' in Swedish)."""
    if language == SOURCE_LANGUAGE:
        return ""
    # Translators: under a routed answer in every language but Swedish.
    return "\n\n" + t(language, "Förvaltningen kan svara på svenska eller engelska.")


def feedback_choices(enquiry_id: int, language: str) -> list[list[Choice]]:
    """Return the Yes / No buttons under an answer."""
    return [
        [
            # Translators: button under an answer, "Did the answer help?" – Yes.
            Choice(t(language, "Ja"), choices.feedback(enquiry_id, True)),
            # Translators: button under an answer, "Did the answer help?" – No.
            Choice(t(language, "Nej"), choices.feedback(enquiry_id, False)),
        ]
    ]


def _association_name(notice: Notice) -> str:
    user = notice.user
    association = (
        notice.session.get(Association, user.association_id)
        if user is not None and user.association_id is not None
        else None
    )
    return association.name if association is not None else ""


def _welcome(notice: Notice) -> Message:
    name = crud.get_municipality(session=notice.session).name
    # Translators: the first message; {municipality} is e.g. "Storåsa kommun". Buttons with
    # the reply languages, each in its own name, follow under the question.
    text = t(
        notice.language,
        "Hej och välkommen till {municipality}!\n"
        "Här kan din förening ställa frågor till kommunen. "
        "Skriv din fråga med egna ord, så skickar jag den till rätt förvaltning "
        "och ger dig ett ärendenummer.\n\n"
        "Vilket språk vill du använda?",
        municipality=name,
    )
    return Message(text, language_choices())


def _welcome_back(notice: Notice) -> Message:
    return Message(
        t(
            notice.language,
            "Välkommen tillbaka! Du skriver för {name}. Skriv din fråga med egna ord. "
            "(/start för att byta förening)",
            name=_association_name(notice),
        )
    )


def _language_choice(notice: Notice) -> Message:
    return Message(t(notice.language, "Välj språk:"), language_choices())


def _language_set(notice: Notice) -> Message:
    # Translators: confirms the language the user picked; write it in that language.
    return Message(t(notice.language, "Nu skriver jag på svenska."))


def _ask_association(notice: Notice) -> Message:
    return Message(
        t(
            notice.language,
            "Vilken förening skriver du för? Skriv föreningens namn. "
            "Du kan också skriva organisationsnumret efter ett kommatecken, "
            "till exempel: Storåsa IF, 802400-1234",
        )
    )


def _association_saved(notice: Notice) -> Message:
    return Message(
        t(
            notice.language,
            "Tack! Nu vet jag att du skriver för {name}. Skriv din fråga när du vill.",
            name=_association_name(notice),
        )
    )


def _association_invalid(notice: Notice) -> Message:
    return Message(
        t(notice.language, "Jag förstod inte föreningens namn. Skriv namnet med 2–200 tecken.")
    )


def help_text(language: str) -> str:
    """Return how the bot works and its commands."""
    # Translators: /help. Keep the commands (/status, /language, /cancel, /help) and the
    # example reference number as they are.
    return t(
        language,
        "Så här fungerar det:\n"
        "• Skriv din fråga med egna ord. Jag skickar den till rätt förvaltning.\n"
        "• Du får ett ärendenummer, till exempel LOT-2026-00042.\n"
        "• Du får svaret här i chatten.\n\n"
        "Kommandon:\n"
        "/status – se dina ärenden\n"
        "/language – byt språk\n"
        "/cancel – avbryt det du håller på med\n"
        "/help – visa den här hjälpen\n\n"
        "Vill du prata med en människa? Skriv det, så hjälper samordnaren dig.",
    )


def _help(notice: Notice) -> Message:
    return Message(help_text(notice.language))


def _cancelled(notice: Notice) -> Message:
    if notice.params.get("waited"):
        return Message(t(notice.language, "Okej, jag har avbrutit. Skriv en ny fråga när du vill."))
    return Message(t(notice.language, "Det finns inget att avbryta. Skriv en fråga när du vill."))


STATES = {
    # Translators: where an enquiry stands, in the /status list.
    "received": N_("mottaget"),
    "routed": N_("väntar på svar från förvaltningen"),
    "forwarded": N_("skickat till förvaltningen, väntar på svar"),
    "answered": N_("besvarat"),
    "escalated": N_("hos samordnaren"),
    "closed": N_("avslutat"),
    "referred": N_("hänvisat till en annan myndighet"),
    "confirming": N_("väntar på att du väljer förvaltning"),
}


def status_text(*, session: Session, enquiries: Sequence[Enquiry], language: str) -> str:
    """List enquiries with reference number, department and state."""
    if not enquiries:
        return t(language, "Du har inga öppna ärenden.")
    lines = [t(language, "Dina ärenden:")]
    for enquiry in enquiries:
        department = (
            session.get(Department, enquiry.department_id) if enquiry.department_id else None
        )
        state = STATES.get(enquiry.status)
        lines.append(
            f"{reference(enquiry)} – {department_name(department, language)} – "
            f"{t(language, state) if state else enquiry.status}"
        )
    return "\n".join(lines)


def _status(notice: Notice) -> Message:
    user = notice.user
    wanted = notice.params.get("reference")
    if wanted:
        found = crud.enquiry_by_reference(session=notice.session, reference=str(wanted))
        if found is None or user is None or found.user_id != user.id:
            return Message(
                t(
                    notice.language,
                    "Jag hittar inget ärende med numret {reference} bland dina ärenden.",
                    reference=wanted,
                )
            )
        enquiries: Sequence[Enquiry] = [found]
    else:
        enquiries = crud.open_enquiries_for_user(session=notice.session, user=user) if user else []
    return Message(
        status_text(session=notice.session, enquiries=enquiries, language=notice.language)
    )


def _empty_message(notice: Notice) -> Message:
    return Message(t(notice.language, "Ditt meddelande var tomt. Skriv din fråga med ord."))


def _too_long(notice: Notice) -> Message:
    return Message(
        t(
            notice.language,
            "Ditt meddelande är mycket långt ({length} tecken). Jag har sparat hela texten "
            "och sorterat frågan utifrån början av den.",
            length=notice.params.get("length", 0),
        )
    )


def _non_text(notice: Notice) -> Message:
    return Message(
        t(
            notice.language,
            "Jag kan bara läsa text. Skriv din fråga med ord. "
            "Vill du skicka en fil eller bild? Skriv först frågan, "
            "så får du kontaktuppgifter till rätt förvaltning.",
        )
    )


def _rate_limited(notice: Notice) -> Message:
    return Message(
        t(
            notice.language,
            "Du skickar många meddelanden på kort tid. Vänta en stund och skriv sedan igen.",
        )
    )


SMALLTALK = {
    "greet": N_("Hej! Skriv din fråga till kommunen med egna ord, så hjälper jag dig."),
    "goodbye": N_("Hej då! Välkommen tillbaka när du har fler frågor."),
    "thanks": N_("Varsågod! Hör av dig om du undrar något mer."),
    "affirm": N_("Bra! Skriv gärna din fråga."),
    "deny": N_("Okej. Skriv gärna din fråga med andra ord, så försöker jag igen."),
}


def _smalltalk(notice: Notice) -> Message:
    intent = str(notice.params.get("intent") or "greet")
    return Message(t(notice.language, SMALLTALK.get(intent, SMALLTALK["greet"])))


def routed_text(
    *, session: Session, enquiry: Enquiry, department: Department, language: str
) -> str:
    """Tell the association where its question went, whom to contact and what happens next."""
    contact = departments.active_contact(session=session, department=department)
    # Translators: the answer to a routed question. {department} is the department's name (in
    # Swedish, or English for English); {contact} its role, e-mail, phone and opening hours;
    # {reference} e.g. LOT-2026-00042; {sla_days} a number of working days.
    text = t(
        language,
        "Din fråga gäller {department}.\n"
        "Kontakt: {contact}\n"
        "Ditt ärendenummer: {reference}\n\n"
        "Vad händer nu? Jag har skickat frågan till förvaltningen. "
        "De svarar inom {sla_days} arbetsdagar. Du får svaret här. "
        "Skriv /status för att se hur det går.",
        department=department_name(department, language),
        contact=contact_line(contact, language),
        reference=reference(enquiry),
        sla_days=sla_days(session=session, department=department),
    )
    what = handles_line(department, language)
    if what:
        # Translators: under the answer to a routed question: what the department answers,
        # the first line of what it handles (kept by its staff in the desk), e.g. "föreningsbidrag
        # och andra bidrag till föreningar (…)".
        answers = t(language, "Förvaltningen svarar bland annat på: {what}", what=what)
        first, _, rest = text.partition("\n")
        text = f"{first}\n{answers}\n{rest}"
    return text + department_languages_line(language)


def _routed(notice: Notice) -> Message:
    department = notice.department()
    if department is None:
        return _escalated(notice)
    return Message(
        routed_text(
            session=notice.session,
            enquiry=notice.enquiry,
            department=department,
            language=notice.language,
        )
    )


# Translators: answers to a question that went to the coordinator (a person at the
# municipality); {reference} is the reference number, e.g. LOT-2026-00042.
ESCALATED = {
    EscalationReason.HUMAN: N_(
        "Självklart. Jag har skickat ditt meddelande till kommunens samordnare, "
        "en människa som kontaktar dig.\nDitt ärendenummer: {reference}"
    ),
    EscalationReason.OUT_OF_SCOPE: N_(
        "Det här verkar inte vara en fråga till kommunen från en förening. "
        "Jag har ändå sparat den och skickat den till kommunens samordnare, "
        "som hör av sig om vi kan hjälpa till.\nDitt ärendenummer: {reference}"
    ),
    EscalationReason.UNAVAILABLE: N_(
        "Tack! Din fråga är registrerad, men jag kan inte sortera den just nu. "
        "Kommunens samordnare tar hand om den.\nDitt ärendenummer: {reference}"
    ),
    EscalationReason.UNREACHABLE: N_(
        "Tack! Din fråga är registrerad, men förvaltningen som svarar på sådana frågor "
        "kan inte nås just nu. Kommunens samordnare tar hand om den.\n"
        "Ditt ärendenummer: {reference}"
    ),
    EscalationReason.FAILED: N_(
        "Förlåt, något gick fel när jag skulle hantera ditt meddelande. Det är sparat, och "
        "kommunens samordnare tar hand om det.\nDitt ärendenummer: {reference}"
    ),
    EscalationReason.MISREFERRED: N_(
        "Tack för att du säger till. Jag har skickat din fråga till kommunens samordnare, "
        "som hjälper dig vidare.\nDitt ärendenummer: {reference}"
    ),
    EscalationReason.NOT_LISTED: N_(
        "Okej. Jag har skickat din fråga till kommunens samordnare, som ser till att rätt "
        "förvaltning svarar.\nDitt ärendenummer: {reference}"
    ),
    EscalationReason.UNCONFIRMED: N_(
        "Du har inte valt någon förvaltning, så jag har skickat din fråga till kommunens "
        "samordnare, som hjälper dig vidare.\nDitt ärendenummer: {reference}"
    ),
}
ESCALATED_UNSURE = N_(
    "Jag är inte säker på vem som ska svara på din fråga. "
    "Därför har jag skickat den till kommunens samordnare, som hjälper dig vidare.\n"
    "Ditt ärendenummer: {reference}"
)


def _escalated(notice: Notice) -> Message:
    reason = str(notice.params.get("reason") or "")
    message = ESCALATED.get(reason, ESCALATED_UNSURE)  # type: ignore[call-overload]
    return Message(t(notice.language, message, reference=reference(notice.enquiry)))


EXPORT_FILE = "lotsen-data.json"


def _personal_data(notice: Notice) -> Message:
    user = notice.user
    if user is None:
        raise LookupError(f"outbox row {notice.row.id} is for no association user")
    data = export_person(session=notice.session, person=user, tracker_url=notice.tracker_url)
    content = json.dumps(data, ensure_ascii=False, indent=2).encode()
    caption = t(
        notice.language,
        "Här är allt som Lotsen har sparat om dig, som en JSON-fil. "
        "Vill du att uppgifterna raderas? Skriv /forget.",
    )
    return Message(caption, document=Document(EXPORT_FILE, content))


def _erasure_requested(notice: Notice) -> Message:
    return Message(
        t(
            notice.language,
            "Din begäran om att radera dina uppgifter är registrerad som {reference}. "
            "Kommunens samordnare går igenom den och hör av sig till dig här.",
            reference=reference(notice.enquiry),
        )
    )


def _answer(notice: Notice) -> Message:
    enquiry = notice.enquiry
    key = notice.params.get("department")
    who = department_name(notice.department(str(key)) if key else None, notice.language)
    assert enquiry.id is not None
    # Translators: relays an answer. {who} is the department's name or "the coordinator";
    # {text} is the answer as its writer wrote it (Swedish or English): it is not translated.
    text = t(
        notice.language,
        "Du har fått svar på ärende {reference}.\nSvar från {who}:\n\n{text}\n\nHjälpte svaret?",
        reference=reference(enquiry),
        who=who,
        text=enquiry.answer_text or "",
    )
    return Message(text, feedback_choices(enquiry.id, notice.language))


def _feedback_closed(notice: Notice) -> Message:
    return Message(
        t(
            notice.language,
            "Tack! Ärende {reference} är nu avslutat. Skriv en ny fråga när du vill.",
            reference=reference(notice.enquiry),
        )
    )


def _feedback_reopened(notice: Notice) -> Message:
    return Message(
        t(
            notice.language,
            "Tack för att du säger till. Kommunens samordnare tittar på ärende {reference} igen "
            "och hör av sig till dig.",
            reference=reference(notice.enquiry),
        )
    )


CLOSED_BECAUSE = {
    "answered_elsewhere": N_("Frågan har fått svar på annat sätt."),
    "duplicate": N_("Samma fråga finns redan i ett annat ärende."),
    "not_municipal": N_("Frågan gäller inte kommunen, så vi kan tyvärr inte svara på den."),
    "other": N_("Samordnaren har avslutat ärendet."),
}


def _closed(notice: Notice) -> Message:
    why = CLOSED_BECAUSE.get(str(notice.params.get("reason")))
    header = t(
        notice.language, "Ärende {reference} är avslutat.", reference=reference(notice.enquiry)
    )
    lines = [f"{header} {t(notice.language, why)}" if why else header]
    lines.append(t(notice.language, "Har du en ny fråga? Skriv den här."))
    return Message("\n".join(lines))


def _rerouted(notice: Notice) -> Message:
    department = (
        notice.department(str(notice.params.get("department") or "")) or notice.department()
    )
    text = t(
        notice.language,
        "Ärende {reference} är nu skickat till {department}. "
        "De svarar inom {sla_days} arbetsdagar. Du får svaret här.",
        reference=reference(notice.enquiry),
        department=department_name(department, notice.language),
        sla_days=sla_days(session=notice.session, department=department),
    )
    return Message(text + department_languages_line(notice.language))


def _text(notice: Notice) -> Message:
    rows = notice.params.get("choices") or []
    markup = notice.params.get("reply_markup") or {}
    if not rows and isinstance(markup, dict):
        rows = [
            [[button.get("text", ""), button.get("callback_data", "")] for button in row]
            for row in markup.get("inline_keyboard", [])
        ]
    return Message(
        str(notice.params.get("text") or ""),
        [[Choice(str(label), str(action)) for label, action in row] for row in rows],
    )


RENDERERS: dict[str, Renderer] = {
    Kind.WELCOME: _welcome,
    Kind.WELCOME_BACK: _welcome_back,
    Kind.LANGUAGE_CHOICE: _language_choice,
    Kind.LANGUAGE_SET: _language_set,
    Kind.ASK_ASSOCIATION: _ask_association,
    Kind.ASSOCIATION_SAVED: _association_saved,
    Kind.ASSOCIATION_INVALID: _association_invalid,
    Kind.HELP: _help,
    Kind.CANCELLED: _cancelled,
    Kind.STATUS: _status,
    Kind.EMPTY_MESSAGE: _empty_message,
    Kind.TOO_LONG: _too_long,
    Kind.NON_TEXT: _non_text,
    Kind.RATE_LIMITED: _rate_limited,
    Kind.SMALLTALK: _smalltalk,
    Kind.ROUTED: _routed,
    Kind.ESCALATED: _escalated,
    Kind.PERSONAL_DATA: _personal_data,
    Kind.ERASURE_REQUESTED: _erasure_requested,
    Kind.ANSWER: _answer,
    Kind.FEEDBACK_CLOSED: _feedback_closed,
    Kind.FEEDBACK_REOPENED: _feedback_reopened,
    Kind.CLOSED: _closed,
    Kind.REROUTED: _rerouted,
    Kind.TEXT: _text,
}
