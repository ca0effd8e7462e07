"""Field checks shared by staff edits (CLI, chat app, desk): one exception that names the field."""

from __future__ import annotations

import re
from typing import Any

from db.models import CHAT_APP, DepartmentChannels
from db.plumbing.phrases import N_, DomainError

EMAIL_RE = re.compile(r"^[^@\s,;:<>()\[\]\"]+@[^@\s,;:<>()\[\]\"]+\.[A-Za-z]{2,}$")
PHONE_RE = re.compile(r"^\+?[0-9][0-9 ()\-/]*$")
DEPARTMENT_KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
MAX_CHAT_ID = 2**63 - 1  # the chat app's ids are signed 64-bit numbers


class ValidationProblem(DomainError):
    """A value a person typed cannot be used; names the field and says why (a phrase)."""

    def __init__(self, field: str, message: str, /, **values: Any) -> None:
        self.field = field
        super().__init__(message, **values)


EMAIL_PROBLEM = N_(
    "Det ser inte ut som en e-postadress: {value}. Skriv till exempel namn@kommun.se."
)
PHONE_PROBLEM = N_(
    "Telefonnumret går inte att använda: {value}. Skriv siffror, gärna med +46 först."
)
NUMBER_PROBLEM = N_("Skriv ett heltal som är större än noll (inte {value}).")
# Translators: {channel} is the chat app's name.
CHAT_ID_PROBLEM = N_("{value} är inte ett {channel}-id. Ett id är bara siffror.")
DEPARTMENT_PROBLEM = N_("Det finns ingen förvaltning med nyckeln {value}.")
INTENT_PROBLEM = N_("Ämnet {value} finns inte hos boten.")
ROUTE_PROBLEM = N_("Det finns ingen väg för ämnet {value}.")
ROLE_TEXT_PROBLEM = N_("Skriv vilken funktion kontakten har, till exempel Föreningsservice.")
NO_CONTACT_PROBLEM = N_("Förvaltningen {value} har ingen sådan kontakt ännu.")
ABSENCE_ORDER_PROBLEM = N_("Sista dagen måste vara samma dag som första dagen eller senare.")
FIELD_PROBLEM = N_("Fältet {value} kan inte ändras här.")
KIND_PROBLEM = N_("Välj kontakt (contact) eller ersättare (deputy), inte {value}.")
STAFF_ROLE_PROBLEM = N_("Rollen {value} finns inte. Välj staff, coordinator eller admin.")
STAFF_DEPARTMENT_PROBLEM = N_("Personal med rollen staff måste höra till en förvaltning.")
INVITE_ROLE_PROBLEM = N_("En inbjudan kan bara ge rollen staff eller coordinator.")
# Translators: telegram, email and both are the values to write; keep them as they are.
CHANNELS_PROBLEM = N_("Välj telegram, email eller both, inte {value}.")
CHANNEL_CHOICES = tuple(choice.value for choice in DepartmentChannels)
HANDLES_MAX_ITEMS = 20
HANDLES_MAX_CHARS = 300
HANDLES_LIST_PROBLEM = N_("Skriv vad förvaltningen svarar på som en lista med korta texter.")
HANDLES_ITEM_PROBLEM = N_("Varje punkt ska vara en rad text med högst {max} tecken (inte {value}).")
HANDLES_DUPLICATE_PROBLEM = N_("Punkten {value} finns redan i listan.")
HANDLES_COUNT_PROBLEM = N_("Listan får ha högst {max} punkter.")


def clean_text(value: object) -> str | None:
    """Return the stripped text, or None for empty/missing values."""
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def check_email(value: object, field: str = "email") -> str | None:
    """Return the cleaned e-mail address (None when empty) or raise ValidationProblem."""
    text = clean_text(value)
    if text is not None and not EMAIL_RE.match(text):
        raise ValidationProblem(field, EMAIL_PROBLEM, value=text)
    return text


def check_channels(value: object, field: str = "channels") -> str:
    """Return where a department takes enquiries (one of CHANNEL_CHOICES) or raise."""
    text = (clean_text(value) or "").lower()
    if text not in CHANNEL_CHOICES:
        raise ValidationProblem(field, CHANNELS_PROBLEM, value=clean_text(value) or "")
    return text


def check_phone(value: object, field: str = "phone") -> str | None:
    """Return the cleaned phone number (None when empty) or raise ValidationProblem."""
    text = clean_text(value)
    if text is None:
        return None
    digits = sum(ch.isdigit() for ch in text)
    if not PHONE_RE.match(text) or not 5 <= digits <= 15:
        raise ValidationProblem(field, PHONE_PROBLEM, value=text)
    return text


def check_positive_int(value: object, field: str) -> int:
    """Return the value as a whole number above zero or raise ValidationProblem."""
    if isinstance(value, bool):
        raise ValidationProblem(field, NUMBER_PROBLEM, value=value)
    try:
        number = int(str(value).strip())
    except ValueError:
        raise ValidationProblem(field, NUMBER_PROBLEM, value=value) from None
    if number <= 0:
        raise ValidationProblem(field, NUMBER_PROBLEM, value=value)
    return number


def parse_chat_id(value: object, field: str) -> int:
    """Return the chat app's numeric id of a user or a group (64-bit, not zero) or raise."""
    text = str(value).strip()
    if isinstance(value, bool) or not re.fullmatch(r"-?[0-9]{1,19}", text):
        raise ValidationProblem(field, CHAT_ID_PROBLEM, value=text, channel=CHAT_APP)
    number = int(text)
    if number == 0 or abs(number) > MAX_CHAT_ID:
        raise ValidationProblem(field, CHAT_ID_PROBLEM, value=text, channel=CHAT_APP)
    return number


def check_group_chat(value: object, field: str = "group_chat") -> str | None:
    """Return the address of a chat group (None when empty) or raise ValidationProblem.

    A group on the chat app is addressed by its numeric id; it is kept as text, the way every
    channel's address is, and the chat channel reads the number back when it sends.
    """
    if clean_text(value) is None:
        return None
    return str(parse_chat_id(value, field))


def check_handles(value: object, field: str = "handles") -> list[str]:
    """Return what a department handles as clean one-line texts, or raise ValidationProblem.

    Empty items are dropped; an item may not span lines, be longer than HANDLES_MAX_CHARS or
    repeat another (ignoring case); at most HANDLES_MAX_ITEMS items.
    """
    if value is None:
        return []
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise ValidationProblem(field, HANDLES_LIST_PROBLEM)
    items: list[str] = []
    seen: set[str] = set()
    for item in value:
        if isinstance(item, bool) or not isinstance(item, str | int | float):
            raise ValidationProblem(field, HANDLES_LIST_PROBLEM)
        text = clean_text(item)
        if text is None:
            continue
        if "\n" in text or "\r" in text or len(text) > HANDLES_MAX_CHARS:
            shown = text if len(text) <= 40 else text[:39] + "…"
            raise ValidationProblem(
                field, HANDLES_ITEM_PROBLEM, max=HANDLES_MAX_CHARS, value=shown.splitlines()[0]
            )
        if text.casefold() in seen:
            raise ValidationProblem(field, HANDLES_DUPLICATE_PROBLEM, value=text)
        seen.add(text.casefold())
        items.append(text)
    if len(items) > HANDLES_MAX_ITEMS:
        raise ValidationProblem(field, HANDLES_COUNT_PROBLEM, max=HANDLES_MAX_ITEMS)
    return items
