"""Read an inbound e-mail defensively: headers, addresses, thread, text and attachments.

Nothing here raises on a bad mail: malformed or 8-bit headers, unknown charsets, HTML only or
no text at all end up as facts (`Incoming.problem`, `text is None`) the handler answers or holds.
"""

from __future__ import annotations

import hashlib
import html
import re
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage, Message
from email.utils import getaddresses, parseaddr
from html.parser import HTMLParser

_MESSAGE_ID = re.compile(r"<[^<>\s]+>")
_SPACES = re.compile(r"[ \t]+\n")
_MANY_LINES = re.compile(r"\n{3,}")
DOCUMENT_TYPES = (
    "application/pdf",
    "application/msword",
    "application/rtf",
    "application/vnd.openxmlformats-officedocument.",
    "application/vnd.oasis.opendocument.",
    "application/vnd.ms-excel",
    "application/vnd.ms-powerpoint",
    "text/",
    "image/",
    "message/rfc822",
)
"""Attachments that are documents or pictures (anything else is refused politely)."""


@dataclass(frozen=True)
class Attachment:
    """A part that is not the text: its name, type and size in bytes."""

    name: str
    content_type: str
    size: int

    @property
    def is_document(self) -> bool:
        """Tell whether it is a document or a picture."""
        return self.content_type.startswith(DOCUMENT_TYPES)


@dataclass(frozen=True)
class Incoming:
    """What Lotsen needs to know of one inbound e-mail."""

    key: str
    """The Message-ID (or, without one, a hash of the message): the same mail, the same key."""
    message_id: str | None
    sender: str | None
    """The From address, lower-cased (None when there is no usable one)."""
    recipients: tuple[str, ...]
    """The addresses it was sent to (the envelope's, else To and Cc), lower-cased."""
    subject: str
    in_reply_to: str | None
    references: tuple[str, ...]
    text: str | None
    """The plain text (from the HTML part when there is no plain one); None without any."""
    html_only: bool
    attachments: tuple[Attachment, ...]
    headers: Message
    problem: str | None = None
    """Why the mail could not be read in full ("malformed"), None when it could."""

    @property
    def thread(self) -> str:
        """Return the thread's root Message-ID: the first reference, else the mail's own."""
        if self.references:
            return self.references[0]
        if self.in_reply_to:
            return self.in_reply_to
        return self.message_id or self.key

    def header(self, name: str) -> str:
        """Return a header's value as text ("" when absent or unreadable)."""
        return header(self.headers, name)


def header(message: Message, name: str) -> str:
    """Return a header's value as text ("" when absent or unreadable)."""
    try:
        value = message.get(name)
    except Exception:  # a header the parser cannot read: treated as absent
        return ""
    if value is None:
        return ""
    try:
        return str(value).strip()
    except Exception:
        return ""


def _ids(value: str) -> tuple[str, ...]:
    return tuple(_MESSAGE_ID.findall(value))


class _Text(HTMLParser):
    """The text of an HTML part: paragraphs and line breaks kept, scripts and styles left out."""

    BREAKS = frozenset({"br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "blockquote"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "head"):
            self.skip += 1
        elif tag in self.BREAKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "head"):
            self.skip = max(0, self.skip - 1)
        elif tag in ("p", "div", "blockquote"):
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.parts.append(data)


def html_text(markup: str) -> str:
    """Return the text of an HTML body."""
    parser = _Text()
    try:
        parser.feed(markup)
        parser.close()
    except Exception:
        return html.unescape(re.sub(r"<[^>]*>", " ", markup))
    return "".join(parser.parts)


def _content(part: Message) -> str | None:
    """Return a text part's content, also in an unknown or wrong charset (never raises)."""
    try:
        content = part.get_content()  # type: ignore[attr-defined]
        if isinstance(content, str):
            return content
    except Exception:  # LookupError (unknown charset), UnicodeError, a broken encoding
        pass
    try:
        payload = part.get_payload(decode=True)
    except Exception:
        return None
    if not isinstance(payload, bytes):
        return None
    try:
        return payload.decode("utf-8")
    except UnicodeDecodeError:
        return payload.decode("cp1252", errors="replace")


def _tidy(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    return _MANY_LINES.sub("\n\n", _SPACES.sub("\n", text)).strip()


def _body(message: EmailMessage) -> tuple[str | None, bool]:
    """Return the text (None without a text part) and whether it came from HTML only."""
    try:
        plain = message.get_body(preferencelist=("plain",))
        rich = message.get_body(preferencelist=("html",))
    except Exception:
        return None, False
    if plain is not None:
        text = _content(plain)
        if text is not None and text.strip():
            return _tidy(text), False
    if rich is not None:
        markup = _content(rich)
        if markup is not None and html_text(markup).strip():
            return _tidy(html_text(markup)), True
    return None, False


def _attachments(message: EmailMessage) -> tuple[Attachment, ...]:
    found: list[Attachment] = []
    try:
        parts = list(message.iter_attachments())
    except Exception:
        return ()
    for part in parts:
        try:
            payload = part.get_payload(decode=True)
            size = len(payload) if isinstance(payload, bytes) else len(str(part.get_payload()))
            name = part.get_filename() or ""
        except Exception:
            size, name = 0, ""
        found.append(Attachment(name=name, content_type=part.get_content_type(), size=size))
    return tuple(found)


def _address(value: str) -> str | None:
    address = parseaddr(value)[1].strip().lower()
    return address if "@" in address and " " not in address else None


def parse(raw: bytes, envelope_to: tuple[str, ...] = ()) -> Incoming:
    """Return what an inbound e-mail says; a mail that cannot be read becomes a `problem`."""
    problem: str | None = None
    try:
        message = message_from_bytes(raw, policy=policy.default)
        assert isinstance(message, EmailMessage)
        defects = list(getattr(message, "defects", ()))
    except Exception:
        message = EmailMessage()
        defects, problem = [], "malformed"
    message_id = next(iter(_ids(header(message, "Message-ID"))), None)
    key = message_id or "sha256:" + hashlib.sha256(raw).hexdigest()
    if len(key) > 255:
        key = "sha256:" + hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()
    sender = _address(header(message, "From"))
    if envelope_to:
        recipients = tuple(address.strip().lower() for address in envelope_to)
    else:
        try:
            pairs = getaddresses(
                [
                    header(message, name)
                    for name in ("To", "Cc", "Delivered-To")
                    if header(message, name)
                ]
            )
        except Exception:
            pairs = []
        recipients = tuple(dict.fromkeys(a.strip().lower() for _, a in pairs if "@" in a))
    text, html_only = _body(message)
    if sender is None and problem is None:
        problem = "malformed"
    if defects and text is None and problem is None:
        problem = "malformed"
    return Incoming(
        key=key,
        message_id=message_id,
        sender=sender,
        recipients=recipients,
        subject=header(message, "Subject"),
        in_reply_to=next(iter(_ids(header(message, "In-Reply-To"))), None),
        references=_ids(header(message, "References")),
        text=text,
        html_only=html_only,
        attachments=_attachments(message),
        headers=message,
        problem=problem,
    )
