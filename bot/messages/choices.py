"""The actions behind choices (buttons): format and parse their short strings.

Telegram sends them back as callback data, the console as a numbered choice; the grammar is
the same, so one parser serves both.

Formats (at most 64 bytes each):
  lang:<sv|en>
  dept:answer:<enquiry_id>        dept:notours:<enquiry_id>
  fb:<enquiry_id>:<y|n>           fb:<feedback_id>:s  (no comment on the feedback)
  q:claim:<escalation_id>         q:answer:<escalation_id>
  q:route:<escalation_id>         q:to:<escalation_id>:<department_key>
  q:close:<escalation_id>         q:why:<escalation_id>:<reason_code>
  ref:<enquiry_id>                (a referral is not right: to the coordinator)
  cf:<enquiry_id>:<department_key>  cf:<enquiry_id>  (the association's choice; bare: other)

Parsing never raises: anything malformed gives None.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.i18n import LANGUAGES
from db.enquiries.queue import CLOSE_REASONS

MAX_BYTES = 64
MAX_ID = 10**12  # ids and department keys (≤ 40 chars) keep every format under 64 bytes
DEPARTMENT_ACTIONS = ("answer", "notours")
QUEUE_ACTIONS = ("claim", "answer", "route", "close")

_ID = re.compile(r"[1-9][0-9]{0,11}")
_KEY = re.compile(r"[a-z0-9_][a-z0-9_-]{0,39}")


@dataclass(frozen=True)
class Callback:
    """A parsed button press: its kind, the id it concerns and an optional argument.

    kind is one of "lang", "dept", "fb", "q", "ref", "cf"; action is e.g. "answer",
    "notours", "claim", "to", "why", "y"/"n" (feedback), "s" (no comment), "wrong" (referral),
    "choose"/"other" (confirmation) or the language code; value is the department key or
    reason code for "q:to"/"q:why"/"cf:choose", else None. object_id is 0 for "lang".
    """

    kind: str
    action: str
    object_id: int = 0
    value: str | None = None


def _checked(data: str) -> str:
    if len(data.encode("utf-8")) > MAX_BYTES:
        raise ValueError(f"callback data longer than {MAX_BYTES} bytes: {data!r}")
    return data


def _positive(object_id: int) -> int:
    if isinstance(object_id, bool) or not isinstance(object_id, int) or not 0 < object_id < MAX_ID:
        raise ValueError(f"id must be a positive integer, not {object_id!r}")
    return object_id


def language(code: str) -> str:
    """Return the data for a language button."""
    if code not in LANGUAGES:
        raise ValueError(f"unknown language {code!r}")
    return _checked(f"lang:{code}")


def department_answer(enquiry_id: int) -> str:
    """Return the data for a department's Answer button."""
    return _checked(f"dept:answer:{_positive(enquiry_id)}")


def department_not_ours(enquiry_id: int) -> str:
    """Return the data for a department's Not ours button."""
    return _checked(f"dept:notours:{_positive(enquiry_id)}")


def feedback(enquiry_id: int, helpful: bool) -> str:
    """Return the data for the association's Yes/No feedback button."""
    return _checked(f"fb:{_positive(enquiry_id)}:{'y' if helpful else 'n'}")


def feedback_skip(feedback_id: int) -> str:
    """Return the data for the Skip button under the question for a comment on feedback."""
    return _checked(f"fb:{_positive(feedback_id)}:s")


def queue(action: str, escalation_id: int) -> str:
    """Return the data for a coordinator card button (claim, answer, route, close)."""
    if action not in QUEUE_ACTIONS:
        raise ValueError(f"unknown queue action {action!r}")
    return _checked(f"q:{action}:{_positive(escalation_id)}")


def route_to(escalation_id: int, department_key: str) -> str:
    """Return the data for picking a department on a coordinator card."""
    if not _KEY.fullmatch(department_key):
        raise ValueError(f"unusable department key {department_key!r}")
    return _checked(f"q:to:{_positive(escalation_id)}:{department_key}")


def close_reason(escalation_id: int, reason_code: str) -> str:
    """Return the data for picking a close reason on a coordinator card."""
    if reason_code not in CLOSE_REASONS:
        raise ValueError(f"unknown close reason {reason_code!r}")
    return _checked(f"q:why:{_positive(escalation_id)}:{reason_code}")


def referral_wrong(enquiry_id: int) -> str:
    """Return the data for the association's "that is not right" button under a referral."""
    return _checked(f"ref:{_positive(enquiry_id)}")


def confirm(enquiry_id: int, department_key: str | None) -> str:
    """Return the data for choosing a department (None: "something else") for an enquiry."""
    if department_key is None:
        return _checked(f"cf:{_positive(enquiry_id)}")
    if not _KEY.fullmatch(department_key):
        raise ValueError(f"unusable department key {department_key!r}")
    return _checked(f"cf:{_positive(enquiry_id)}:{department_key}")


def usable_department_key(key: str) -> bool:
    """Tell whether a department key fits in callback data."""
    return bool(_KEY.fullmatch(key))


def _id(text: str) -> int | None:
    return int(text) if _ID.fullmatch(text) else None


def parse(data: object) -> Callback | None:
    """Parse callback data; return None for anything malformed or unknown."""
    if not isinstance(data, str) or not data or len(data.encode("utf-8")) > MAX_BYTES:
        return None
    parts = data.split(":")
    head, rest = parts[0], parts[1:]
    if head == "lang" and len(rest) == 1 and rest[0] in LANGUAGES:
        return Callback("lang", rest[0])
    if head == "dept" and len(rest) == 2 and rest[0] in DEPARTMENT_ACTIONS:
        found = _id(rest[1])
        return Callback("dept", rest[0], found) if found else None
    if head == "fb" and len(rest) == 2 and rest[1] in ("y", "n", "s"):
        found = _id(rest[0])
        return Callback("fb", rest[1], found) if found else None
    if head == "ref" and len(rest) == 1:
        found = _id(rest[0])
        return Callback("ref", "wrong", found) if found else None
    if head == "cf" and len(rest) in (1, 2):
        found = _id(rest[0])
        if not found:
            return None
        if len(rest) == 1:
            return Callback("cf", "other", found)
        return Callback("cf", "choose", found, rest[1]) if _KEY.fullmatch(rest[1]) else None
    if head != "q" or not rest:
        return None
    action = rest[0]
    if action in QUEUE_ACTIONS and len(rest) == 2:
        found = _id(rest[1])
        return Callback("q", action, found) if found else None
    if action in ("to", "why") and len(rest) == 3:
        found = _id(rest[1])
        value = rest[2]
        valid = _KEY.fullmatch(value) if action == "to" else value in CLOSE_REASONS
        return Callback("q", action, found, value) if found and valid else None
    return None
