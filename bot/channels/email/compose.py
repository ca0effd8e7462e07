"""Wrap a rendered notification into an e-mail: subject, plain text, simple HTML, headers."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

from bot.i18n import t
from bot.messages import Message
from db.enquiries.notifications import Kind
from db.models import utcnow
from db.plumbing.phrases import N_

SUBJECTS: dict[str, str] = {
    # Translators: e-mail subjects; {reference} is the enquiry's number, e.g. LOT-2026-00042.
    Kind.FORWARD: N_("Ny fråga från en förening: {reference}"),
    Kind.REMINDER: N_("Påminnelse: {reference} väntar på svar"),
    Kind.RETURNED: N_("{reference} har gått tillbaka till samordnaren"),
    Kind.REASSIGNED: N_("{reference} är skickat till en annan förvaltning"),
    Kind.ASSIGNED: N_("{reference} är tilldelat en kollega"),
    Kind.MAIL_FAILED: N_("E-post kunde inte levereras ({reference})"),
    Kind.DIGEST: N_("Samordnarens kö: öppna ärenden"),
    Kind.MAIL_HELD: N_("E-post hålls kvar för samordnaren"),
    Kind.MAIL_REFUSED: N_("Ditt e-postmeddelande har inte skickats vidare"),
    Kind.FOLLOW_UP: N_("Föreningen har skrivit mer: {reference}"),
}
OTHER_SUBJECT = N_("Meddelande från Lotsen ({reference})")

_BLANK_LINES = re.compile(r"\n\s*\n")


@dataclass(frozen=True)
class Link:
    """A link under the text: where it goes, what the button says, and a note beside it."""

    url: str
    label: str
    note: str = ""


@dataclass(frozen=True)
class Thread:
    """Where a mail to an association goes in its own thread: its subject and the ids."""

    subject: str
    in_reply_to: str | None
    references: tuple[str, ...] = ()


@dataclass(frozen=True)
class Mail:
    """One e-mail ready to go: the outbox row it comes from and everything it says."""

    row_id: int
    to: str
    reply_to: str
    subject: str
    text: str
    html: str
    message_id: str
    language: str
    in_reply_to: str | None = None
    """The Message-ID this mail answers (a reply in the writer's thread), with `references`."""
    references: tuple[str, ...] = ()

    def email(self, sender: str) -> EmailMessage:
        """Return the message as it goes over SMTP (plain text with an HTML alternative)."""
        message = EmailMessage()
        message["From"] = sender
        message["To"] = self.to
        message["Reply-To"] = self.reply_to
        message["Subject"] = self.subject
        message["Date"] = format_datetime(utcnow())
        message["Message-ID"] = self.message_id
        if self.in_reply_to:
            message["In-Reply-To"] = self.in_reply_to
            chain = [*dict.fromkeys((*self.references, self.in_reply_to))]
            message["References"] = " ".join(chain[-20:])
        # RFC 3834, and Exchange's equivalent: no auto-replies (out-of-office) to Lotsen's mail.
        message["Auto-Submitted"] = "auto-generated"
        message["X-Auto-Response-Suppress"] = "All"
        message["Content-Language"] = self.language
        message.set_content(self.text)
        message.add_alternative(self.html, subtype="html")
        return message


def subject(kind: str, reference: str, language: str) -> str:
    """Return the subject of a kind of message, with the enquiry's reference."""
    return t(language, SUBJECTS.get(kind, OTHER_SUBJECT), reference=reference)


def footer(language: str, municipality: str, *, answer_by_reply: bool = False) -> str:
    """Return the line under every e-mail: where it comes from and where a reply goes."""
    if answer_by_reply:
        return t(
            language,
            "Det här meddelandet kommer från Lotsen, {municipality}s väg in för föreningar. "
            "Svarar du på e-postmeddelandet går ditt svar till föreningen: skriv det överst; "
            "det citerade och din signatur tas bort.",
            municipality=municipality,
        )
    return t(
        language,
        "Det här meddelandet kommer från Lotsen, {municipality}s väg in för föreningar. "
        "Svarar du på e-postmeddelandet går svaret till er egen adress, inte till föreningen: "
        "svara föreningen genom länken.",
        municipality=municipality,
    )


def message_id(row_id: int, sender: str, installation: str) -> str:
    """Return the Message-ID of an outbox row's e-mail: the same on every attempt, and unique
    across installations that send from one domain (a test system beside the real one)."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    return f"<lotsen.{installation}.{row_id}@{domain}>"


def _paragraphs(text: str) -> str:
    parts = [part.strip("\n") for part in _BLANK_LINES.split(text.strip()) if part.strip()]
    return "\n".join(
        "<p>" + "<br>\n".join(html.escape(line) for line in part.split("\n")) + "</p>"
        for part in parts
    )


def _button(link: Link) -> str:
    style = (
        "display:inline-block;padding:.6em 1.2em;background:#0b5cad;color:#ffffff;"
        "text-decoration:none;border-radius:4px;font-weight:bold"
    )
    note = f'<br><span style="color:#4a5560">{html.escape(link.note)}</span>' if link.note else ""
    return (
        f'<p><a href="{html.escape(link.url, quote=True)}" style="{style}">'
        f"{html.escape(link.label)}</a>{note}</p>"
    )


def compose(
    *,
    row_id: int,
    kind: str,
    message: Message,
    reference: str,
    to: str,
    reply_to: str,
    sender: str,
    language: str,
    municipality: str,
    link: Link | None,
    installation: str = "outbox",
    answer_by_reply: bool = False,
    thread: Thread | None = None,
) -> Mail:
    """Return the e-mail of a rendered notification (the link, when given, goes under it).

    `answer_by_reply`: the Reply-To is a reply address, and the footer says a reply reaches
    the association. `thread`: a mail to an association, in the thread it wrote in (its
    subject, In-Reply-To and References), with the footer for associations.
    """
    if thread is not None:
        bottom = t(
            language,
            "Det här meddelandet kommer från Lotsen, {municipality}s väg in för föreningar. "
            "Svara på det här e-postmeddelandet om du vill lägga till något i ditt ärende.",
            municipality=municipality,
        )
    else:
        bottom = footer(language, municipality, answer_by_reply=answer_by_reply)
    title = thread.subject if thread is not None else subject(kind, reference, language)
    main = message.text.rstrip()
    labels = [choice.label for row in message.choices for choice in row]
    if thread is not None and labels:
        # An association answers a question with buttons by replying with one of them.
        # Translators: above the numbered choices of a question in a mail to an association.
        main += "\n\n" + t(language, "Svara med ett av alternativen (eller dess nummer):")
        main += "".join(f"\n{number}. {label}" for number, label in enumerate(labels, 1))
    text = main
    if link is not None:
        text += f"\n\n{link.label}:\n{link.url}"
        if link.note:
            text += f"\n{link.note}"
    text += f"\n\n-- \n{bottom}\n"
    body = _paragraphs(main)
    if link is not None:
        body += "\n" + _button(link)
    page = (
        f'<!doctype html>\n<html lang="{html.escape(language)}">\n<head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title></head>\n"
        '<body style="font-family:system-ui,sans-serif;line-height:1.5;color:#1b1f23;'
        f'max-width:40em">\n{body}\n'
        f'<hr>\n<p style="color:#4a5560;font-size:.9em">{html.escape(bottom)}</p>\n'
        "</body>\n</html>\n"
    )
    return Mail(
        row_id=row_id,
        to=to,
        reply_to=reply_to,
        subject=title,
        text=text,
        html=page,
        message_id=message_id(row_id, sender, installation),
        language=language,
        in_reply_to=thread.in_reply_to if thread is not None else None,
        references=thread.references if thread is not None else (),
    )


def is_address(value: str) -> bool:
    """Tell whether a value is a plain e-mail address an SMTP server can be given."""
    try:
        Address(addr_spec=value)
    except (ValueError, IndexError):
        return False
    return "@" in value and "\n" not in value and "\r" not in value
