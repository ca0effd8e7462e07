"""The reply address of a forward: `svar+<token>@<domain of INBOUND_ADDRESS>`.

The token names the enquiry and the department it was forwarded to, and when it stops being
accepted, signed with the key that signs the desk links (LINK_SECRET), for its own purpose:
`<enquiry>-<department>-<expires, days since 1970>-<signature>`, lower-case letters and digits
only, so that a mail gateway that folds the case of addresses does not break it. A clerk who
presses "Reply" reaches Lotsen, and Lotsen knows which enquiry the answer is for.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.settings import Settings

PREFIX = "svar+"
VALID_DAYS = 90
"""How long a forward can be answered by replying (a reminder carries a fresh address)."""
_PURPOSE = b"\x00reply-to"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class ReplyToken:
    """What a reply address says: the enquiry and department it answers for."""

    enquiry_id: int
    department_id: int


class BadToken(ValueError):
    """A reply address that was not made by Lotsen, was changed, or has expired."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason  # "bad_token" or "expired"


def _signature(secret: bytes, body: str) -> str:
    return hmac.new(secret + _PURPOSE, body.encode(), hashlib.sha256).hexdigest()[:24]


def reply_address(
    settings: Settings, *, enquiry_id: int, department_id: int, now: datetime
) -> str | None:
    """Return the reply address of a forward (None while INBOUND_ADDRESS is unset)."""
    domain = settings.inbound_domain
    if domain is None:
        return None
    expires = (now + timedelta(days=VALID_DAYS) - _EPOCH).days
    body = f"{enquiry_id}-{department_id}-{expires}"
    return f"{PREFIX}{body}-{_signature(settings.link_signing_key(), body)}@{domain}"


def is_reply_address(settings: Settings, address: str) -> bool:
    """Tell whether an address is one of Lotsen's reply addresses (whatever its token)."""
    local, _, domain = address.strip().lower().rpartition("@")
    return local.startswith(PREFIX) and domain == settings.inbound_domain


def read_reply_address(settings: Settings, address: str, *, now: datetime) -> ReplyToken:
    """Return what a reply address names; BadToken when it is changed or expired."""
    local = address.strip().lower().rpartition("@")[0]
    parts = local.removeprefix(PREFIX).split("-")
    if len(parts) != 4 or not all(part.isalnum() for part in parts):
        raise BadToken("bad_token")
    enquiry, department, expires, signature = parts
    body = f"{enquiry}-{department}-{expires}"
    expected = _signature(settings.link_signing_key(), body)
    if not hmac.compare_digest(expected, signature) or not (
        enquiry.isdigit() and department.isdigit() and expires.isdigit()
    ):
        raise BadToken("bad_token")
    if (now - _EPOCH).days > int(expires):
        raise BadToken("expired")
    return ReplyToken(enquiry_id=int(enquiry), department_id=int(department))
