"""Field checks shared by staff edits (CLI, Telegram, web): one exception, friendly in sv and en."""

from __future__ import annotations

import re
from typing import Any

EMAIL_RE = re.compile(r"^[^@\s,;:<>()\[\]\"]+@[^@\s,;:<>()\[\]\"]+\.[A-Za-z]{2,}$")
PHONE_RE = re.compile(r"^\+?[0-9][0-9 ()\-/]*$")
DEPARTMENT_KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
MAX_TELEGRAM_ID = 2**63 - 1


class ValidationProblem(ValueError):
    """A value a person typed cannot be used; carries the field and a text key."""

    def __init__(self, field: str, text_key: str, **values: Any) -> None:
        self.field = field
        self.text_key = text_key
        self.values = values
        super().__init__(f"{field}: {self.message('en')}")

    def message(self, language: str | None = "sv") -> str:
        """Return the explanation in the given language (Swedish by default)."""
        from bot.messages.texts import t

        return t(self.text_key, language, **self.values)


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
        raise ValidationProblem(field, "admin_err_email", value=text)
    return text


def check_phone(value: object, field: str = "phone") -> str | None:
    """Return the cleaned phone number (None when empty) or raise ValidationProblem."""
    text = clean_text(value)
    if text is None:
        return None
    digits = sum(ch.isdigit() for ch in text)
    if not PHONE_RE.match(text) or not 5 <= digits <= 15:
        raise ValidationProblem(field, "admin_err_phone", value=text)
    return text


def check_positive_int(value: object, field: str) -> int:
    """Return the value as a whole number above zero or raise ValidationProblem."""
    if isinstance(value, bool):
        raise ValidationProblem(field, "admin_err_number", value=value)
    try:
        number = int(str(value).strip())
    except ValueError:
        raise ValidationProblem(field, "admin_err_number", value=value) from None
    if number <= 0:
        raise ValidationProblem(field, "admin_err_number", value=value)
    return number


def parse_telegram_id(value: object, field: str = "telegram_user_id") -> int:
    """Return a numeric Telegram id (64-bit) or raise ValidationProblem."""
    text = str(value).strip()
    if isinstance(value, bool) or not re.fullmatch(r"-?[0-9]{1,19}", text):
        raise ValidationProblem(field, "admin_err_telegram_id", value=text)
    number = int(text)
    if number == 0 or abs(number) > MAX_TELEGRAM_ID:
        raise ValidationProblem(field, "admin_err_telegram_id", value=text)
    return number
