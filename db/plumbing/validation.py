"""Field checks shared by staff edits (CLI, Telegram, web): one exception that names the field."""

from __future__ import annotations

import re
from typing import Any

from db.models import DepartmentChannels
from db.plumbing.phrases import N_, DomainError

EMAIL_RE = re.compile(r"^[^@\s,;:<>()\[\]\"]+@[^@\s,;:<>()\[\]\"]+\.[A-Za-z]{2,}$")
PHONE_RE = re.compile(r"^\+?[0-9][0-9 ()\-/]*$")
DEPARTMENT_KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
MAX_TELEGRAM_ID = 2**63 - 1


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
TELEGRAM_ID_PROBLEM = N_("{value} är inte ett Telegram-id. Ett id är bara siffror.")
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
    """Return where a department takes enquiries (telegram, email, both) or raise."""
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


def parse_telegram_id(value: object, field: str = "telegram_user_id") -> int:
    """Return a numeric Telegram id (64-bit) or raise ValidationProblem."""
    text = str(value).strip()
    if isinstance(value, bool) or not re.fullmatch(r"-?[0-9]{1,19}", text):
        raise ValidationProblem(field, TELEGRAM_ID_PROBLEM, value=text)
    number = int(text)
    if number == 0 or abs(number) > MAX_TELEGRAM_ID:
        raise ValidationProblem(field, TELEGRAM_ID_PROBLEM, value=text)
    return number
