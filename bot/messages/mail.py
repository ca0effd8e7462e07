"""What Lotsen says about inbound e-mail: a refusal to its sender, a note to the coordinators."""

from __future__ import annotations

from bot.i18n import t
from bot.messages.base import Message, Notice, Renderer
from bot.messages.formats import department_name, reference
from db.enquiries.notifications import Kind, Recipient
from db.models import EnquiryEvent, EnquiryStatus
from db.plumbing.phrases import N_

REASONS = {
    # Translators: why an inbound e-mail was not relayed (shown to its sender and to the
    # coordinator in `lotsen inbox mail`).
    "bad_token": N_("svarsadressen är ogiltig eller har ändrats"),
    "expired": N_("svarsadressen har gått ut"),
    "foreign_sender": N_("svaret kom från en adress som inte är förvaltningens"),
    "empty": N_("meddelandet innehåller ingen text (citat och signatur räknas inte)"),
    "no_text": N_("meddelandet har ingen text, bara bilagor eller inget alls"),
    "too_big": N_("meddelandet är större än {limit} MB"),
    "attachment_type": N_("en bilaga är varken ett dokument eller en bild"),
    "malformed": N_("meddelandet kunde inte läsas (felaktiga rubriker eller teckenkodning)"),
    "not_open": N_("ärendet kan inte längre besvaras"),
    "too_long": N_("svaret är för långt"),
    "rate_limited": N_("för många meddelanden från samma adress på kort tid"),
    "unknown_address": N_("meddelandet kom till en adress Lotsen inte tar emot på"),
    "kept_failing": N_("meddelandet kunde inte hanteras automatiskt"),
}


def reason_text(reason: str | None, language: str, limit: int = 10) -> str:
    """Return the human-readable reason an inbound e-mail was refused or held."""
    phrase = REASONS.get(reason or "")
    return t(language, phrase, limit=limit) if phrase else (reason or "–")


def _limit(notice: Notice) -> int:
    value = notice.params.get("limit_mb")
    return value if isinstance(value, int) else 10


def _mail_refused(notice: Notice) -> Message:
    reason = reason_text(str(notice.params.get("reason") or ""), notice.language, _limit(notice))
    if notice.params.get("audience") == "association":
        return Message(
            t(
                notice.language,
                "Ditt e-postmeddelande ”{subject}” har inte kommit fram till kommunen: "
                "{reason}.\n\nSkriv din fråga som vanlig text i ett e-postmeddelande till "
                "{address}. Dokument och bilder går bra att bifoga.",
                subject=str(notice.params.get("subject") or "–"),
                reason=reason,
                address=str(notice.params.get("write_to") or "–"),
            )
        )
    return Message(
        t(
            notice.language,
            "Ditt e-postmeddelande ”{subject}” har inte skickats vidare: {reason}.\n\n"
            "Svara på en fråga från Lotsen genom att svara på just det e-postmeddelandet, eller "
            "genom länken i det. Skriv svaret överst, med vanlig text.",
            subject=str(notice.params.get("subject") or "–"),
            reason=reason,
        )
    )


def _mail_held(notice: Notice) -> Message:
    reason = reason_text(str(notice.params.get("reason") or ""), notice.language, _limit(notice))
    return Message(
        t(
            notice.language,
            "Ett e-postmeddelande från {sender} (”{subject}”) hålls kvar: {reason}.\n"
            "Se det med lotsen inbox mail och släpp eller släng det.",
            sender=str(notice.params.get("sender") or "–"),
            subject=str(notice.params.get("subject") or "–"),
            reason=reason,
        )
    )


def _follow_up_text(notice: Notice) -> str:
    event_id = notice.params.get("event_id")
    event = notice.session.get(EnquiryEvent, event_id) if isinstance(event_id, int) else None
    return str(event.detail.get("text") or "") if event is not None else ""


def _follow_up(notice: Notice) -> Message:
    text = t(
        notice.language,
        "Föreningen har skrivit mer om ärende {reference}:\n\n{text}",
        reference=reference(notice.enquiry),
        text=_follow_up_text(notice) or "–",
    )
    if notice.row.recipient == Recipient.COORDINATORS:
        # Translators: under an association's follow-up, to the coordinators (Telegram, e-mail).
        text += "\n\n" + t(notice.language, "Ärendet väntar i samordnarens kö.")
    return Message(text)


def _follow_up_added(notice: Notice) -> Message:
    enquiry = notice.enquiry
    if enquiry.status in (EnquiryStatus.ROUTED, EnquiryStatus.FORWARDED):
        return Message(
            t(
                notice.language,
                "Tack! Det du skrev är tillagt i ärende {reference}, och {department} ser det.",
                reference=reference(enquiry),
                department=department_name(notice.department(), notice.language),
            )
        )
    return Message(
        t(
            notice.language,
            "Tack! Det du skrev är tillagt i ärende {reference}.",
            reference=reference(enquiry),
        )
    )


RENDERERS: dict[str, Renderer] = {
    Kind.MAIL_REFUSED: _mail_refused,
    Kind.MAIL_HELD: _mail_held,
    Kind.FOLLOW_UP: _follow_up,
    Kind.FOLLOW_UP_ADDED: _follow_up_added,
}
