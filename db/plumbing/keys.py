"""Channel-neutral keys of inbound messages (`<channel>:<conversation>:<message>`).

A message key names one inbound message; the same key never makes two enquiries, and the
replies to a message are keyed `<message key>:<tag>` so that a message handled twice is
answered once. Keys written before the keys became channel-neutral (`tg:<chat>:<message>`)
stay valid: `older_keys` names them, and the lookups match either.
"""

from __future__ import annotations

import hashlib

from db.models import CHAT_APP

MAX_KEY_LENGTH = 64
"""The longest key stored as it is (the enquiry's `message_key` column); longer ones are hashed."""

OLDER_PREFIXES: dict[str, tuple[str, ...]] = {CHAT_APP.value: ("tg",)}
"""The prefixes a channel's keys and Rasa sender ids had before (the first build's chat-app
keys and sender ids began `tg`)."""


def prefixes(channel: str) -> tuple[str, ...]:
    """Return what a channel's keys and sender ids may begin with: its name, then its older
    prefixes (`OLDER_PREFIXES`)."""
    return (channel, *OLDER_PREFIXES.get(channel, ()))


def message_key(channel: str, conversation: str, message: str) -> str:
    """Return the key of one inbound message: `<channel>:<conversation>:<message>`.

    Hashed (`<channel>:h:<sha256 hex[:40]>`) when longer than 64 characters (an e-mail's
    Message-ID can be long).
    """
    key = f"{channel}:{conversation}:{message}"
    if len(key) <= MAX_KEY_LENGTH:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()[:40]
    return f"{channel}:h:{digest}"


def older_keys(key: str) -> list[str]:
    """Return the key and what the same key was written as before (`OLDER_PREFIXES`).

    Works on reply keys too (`<message key>:<tag>`): only the prefix differs.
    """
    channel, sep, rest = key.partition(":")
    if not sep:
        return [key]
    return [key, *(f"{older}:{rest}" for older in OLDER_PREFIXES.get(channel, ()))]
