"""Rasa message metadata as the domain reads it, also when a tracker is older than the codec.

The domain has one codec of Rasa's message metadata (`db.intake.Message.as_metadata` /
`from_metadata`: `channel`, `address`, `conversation`). Messages sent before the writer became
channel-neutral stay in Rasa's trackers and may still reach the action server: they came from
the chat app, named its user `user_id` or `telegram_user_id` and its chat `chat_id` (numbers),
and may carry no `channel`. `current` turns them into the codec's keys, here in the layer that
talks to Rasa, so that the domain reads one shape only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from db.enquiries.notifications import Channel

OLDER_USER_KEYS = ("user_id", "telegram_user_id")
"""Where metadata written before the writer was channel-neutral held the user's id."""
OLDER_CHAT_KEY = "chat_id"


def _number(value: object) -> str | None:
    """Return a whole number (not a bool) as its decimal string, else None."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else None


def current(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """Return message metadata in the keys the domain reads (`db.intake.Message`).

    Metadata that has a writer's `address` is returned as it is; older metadata gets its
    writer from the older keys (the chat app, unless it names its channel).
    """
    if isinstance(metadata.get("address"), str):
        return dict(metadata)
    user = next((metadata[key] for key in OLDER_USER_KEYS if key in metadata), None)
    address = _number(user)
    if address is None:
        return dict(metadata)
    channel = metadata.get("channel")
    return {
        **metadata,
        "channel": channel if isinstance(channel, str) else Channel.TELEGRAM.value,
        "address": address,
        "conversation": _number(metadata.get(OLDER_CHAT_KEY)),
    }
