"""The web chat's record: chats, their visitors' secrets, and each chat's transcript.

A chat is started when a visitor first chooses a language; the browser then holds a random
secret (a first-party cookie) whose SHA-256 is stored, never the secret itself. The transcript
holds what the visitor wrote (masked, keyed by the message so that a message posted twice is
recorded once) and what Lotsen said (outbox rows delivered into the chat, each exactly once).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from db.models import ChannelIdentity, WebChat, WebChatEntry, utcnow

TOKEN_BYTES = 32
MAX_EMAIL = 320
WEB = "web"  # the channel (db.enquiries.notifications.Channel.WEB)


def token_hash(token: str) -> str:
    """Return the stored hash of a chat's secret (any text, even one that is not UTF-8)."""
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


def start_chat(*, session: Session, now: datetime | None = None) -> tuple[WebChat, str]:
    """Start a chat; return it and the secret the visitor's browser keeps (shown only now)."""
    secret = secrets.token_urlsafe(TOKEN_BYTES)
    when = now or utcnow()
    chat = WebChat(
        key=f"c{secrets.token_hex(12)}",
        visitor=f"v{secrets.token_hex(12)}",
        token_hash=token_hash(secret),
        created_at=when,
        last_seen_at=when,
    )
    session.add(chat)
    session.flush()
    return chat, secret


def chat_by_token(*, session: Session, token: str | None) -> WebChat | None:
    """Return the chat a browser's secret opens (None for no, an unknown or a tampered one)."""
    if not token or len(token) > 128:
        return None
    return session.exec(select(WebChat).where(WebChat.token_hash == token_hash(token))).first()


def chat_by_key(*, session: Session, key: str | None) -> WebChat | None:
    """Return the chat with this id (None for an unknown one)."""
    if not key or len(key) > 32:
        return None
    return session.exec(select(WebChat).where(WebChat.key == key)).first()


def renew_secret(*, session: Session, chat: WebChat) -> str:
    """Give a chat a new secret (resumed on another device); the old one stops working."""
    secret = secrets.token_urlsafe(TOKEN_BYTES)
    chat.token_hash = token_hash(secret)
    session.add(chat)
    return secret


def set_email(*, session: Session, chat: WebChat, email: str | None) -> None:
    """Store (or with None, forget) the address the chat's answers also go to."""
    chat.email = email.strip().lower()[:MAX_EMAIL] if email else None
    session.add(chat)


def record_inbound(
    *,
    session: Session,
    chat: WebChat,
    key: str,
    text: str,
    language: str,
    action: str | None = None,
) -> WebChatEntry | None:
    """Write down what the visitor wrote (or the button pressed), unhandled, once per message
    key (None: recorded before)."""
    found = session.exec(select(WebChatEntry).where(WebChatEntry.message_key == key)).first()
    if found is not None:
        return None
    assert chat.id is not None
    entry = WebChatEntry(
        chat_id=chat.id,
        message_key=key,
        text=text,
        language=language,
        action=action,
        handled=False,
    )
    chat.last_seen_at = utcnow()
    session.add(entry)
    session.add(chat)
    session.flush()
    return entry


def record_outbound(
    *,
    session: Session,
    chat: WebChat,
    outbox_id: int,
    text: str,
    choices: list[Any],
    language: str,
) -> WebChatEntry | None:
    """Put a delivered outbox row into the transcript, once per row (None: it is there)."""
    found = session.exec(select(WebChatEntry.id).where(WebChatEntry.outbox_id == outbox_id)).first()
    if found is not None:
        return None
    assert chat.id is not None
    entry = WebChatEntry(
        chat_id=chat.id,
        outbound=True,
        outbox_id=outbox_id,
        text=text,
        choices=choices,
        language=language,
    )
    try:
        with session.begin_nested():
            session.add(entry)
            session.flush()
    except IntegrityError:
        return None  # another process delivered it at the same moment
    return entry


def entries_after(
    *, session: Session, chat: WebChat, after: int = 0, limit: int = 500
) -> list[WebChatEntry]:
    """Return the chat's transcript after entry `after`, oldest first (at most `limit`)."""
    return list(
        session.exec(
            select(WebChatEntry)
            .where(WebChatEntry.chat_id == chat.id, col(WebChatEntry.id) > after)
            .order_by(col(WebChatEntry.id))
            .limit(limit)
        ).all()
    )


def last_entry_id(*, session: Session, chat: WebChat) -> int:
    """Return the id of the chat's newest entry (0 for an empty chat)."""
    found = session.exec(
        select(WebChatEntry.id)
        .where(WebChatEntry.chat_id == chat.id)
        .order_by(col(WebChatEntry.id).desc())
    ).first()
    return found or 0


def person_of(*, session: Session, chat: WebChat) -> int | None:
    """Return the id of the person writing in a chat (None before their first message)."""
    found = session.exec(
        select(ChannelIdentity.person_id).where(
            ChannelIdentity.channel == WEB, ChannelIdentity.address == chat.visitor
        )
    ).first()
    return found


def record_notice(
    *, session: Session, chat: WebChat, key: str, text: str, language: str
) -> WebChatEntry | None:
    """Put a refusal the page itself says (a button already used) into the transcript, once."""
    found = session.exec(select(WebChatEntry.id).where(WebChatEntry.message_key == key)).first()
    if found is not None:
        return None
    assert chat.id is not None
    entry = WebChatEntry(
        chat_id=chat.id, outbound=True, message_key=key, text=text, language=language
    )
    session.add(entry)
    session.flush()
    return entry


def mark_handled(*, session: Session, key: str) -> None:
    """Note that the visitor's message with this key was handed to the conversation."""
    entry = session.exec(select(WebChatEntry).where(WebChatEntry.message_key == key)).first()
    if entry is not None and not entry.handled:
        entry.handled = True
        session.add(entry)


def unhandled(
    *, session: Session, before: datetime, limit: int = 50
) -> list[tuple[WebChat, WebChatEntry]]:
    """Return visitors' messages recorded before `before` and never handed in, oldest first."""
    rows = session.exec(
        select(WebChat, WebChatEntry)
        .join(WebChatEntry, col(WebChatEntry.chat_id) == col(WebChat.id))
        .where(
            col(WebChatEntry.handled).is_(False),
            col(WebChatEntry.outbound).is_(False),
            col(WebChatEntry.created_at) < before,
        )
        .order_by(col(WebChatEntry.id))
        .limit(limit)
    ).all()
    return [(chat, entry) for chat, entry in rows]
