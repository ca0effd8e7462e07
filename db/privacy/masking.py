"""Masking of personal data that associations write into their questions."""

from __future__ import annotations

import re
import unicodedata

# Ten or twelve digits with an optional separator before the last four: 850312-1234,
# 19850312-1234, 8503121234, 850312+1234 (the plus marks a person over a hundred).
_ID_NUMBER = re.compile(r"(?<![\d-])(?:19|20|16)?\d{6}[-+ ]?\d{4}(?![\d-])")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# Swedish numbers: +46 / 0046 / 0, then groups of digits with spaces or dashes, e.g.
# 070-123 45 67, 08-123 456 78, +46 70 123 45 67, +46 (0)70-123 45 67.
_PHONE = re.compile(
    r"(?<![\w-])(?:(?:\+46|0046)[\s-]?(?:\(0\)\s?)?|0)\d{1,3}(?:[\s-]?\d{2,4}){2,4}(?![\w-])"
)

MASKS = {"personnummer": "[personnummer]", "email": "[e-post]", "phone": "[telefon]"}


def luhn_valid(digits: str) -> bool:
    """Tell whether a string of digits passes the Luhn check (as personnummer do)."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char) * (2 if index % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def _is_date(digits: str) -> bool:
    """Tell whether YYMMDD is a plausible birth date (day + 60 for a samordningsnummer)."""
    month, day = int(digits[2:4]), int(digits[4:6])
    return 1 <= month <= 12 and (1 <= day <= 31 or 61 <= day <= 91)


def _classify(match: str) -> str | None:
    """Return the kind of an identity-number-like match: personnummer, phone or None (keep)."""
    digits = re.sub(r"\D", "", match)
    if len(digits) == 12:
        if digits.startswith("16"):
            return None  # 16 + organisation number
        digits = digits[2:]
    if int(digits[2]) >= 2:
        return None  # an organisation number (the "month" is 20 or more), e.g. 802400-1234
    if not _is_date(digits):
        return None
    written_as_id = len(match) > 10 and match[-5] in "-+ "
    if digits.startswith("0") and not written_as_id and not luhn_valid(digits):
        return "phone"  # 0701234567: a mobile number, not someone born 2007
    return "personnummer"


def mask_personal_data(text: str) -> str:
    """Replace personal identity numbers, e-mail addresses and phone numbers with placeholders.

    Organisation numbers (the third digit ≥ 2, e.g. 802400-1234 or 8024001234) are kept: they
    identify an association, not a person. Dates, years, times and amounts are kept too.
    """
    text = _EMAIL.sub(MASKS["email"], text)

    def _id(match: re.Match[str]) -> str:
        kind = _classify(match.group(0))
        return MASKS[kind] if kind else match.group(0)

    text = _ID_NUMBER.sub(_id, text)
    return _PHONE.sub(MASKS["phone"], text)


JOINERS = "\u200c\u200d"
"""Zero-width non-joiner and joiner: format characters that belong to Persian (می‌خواهم) and
other scripts' spelling, so they are kept; bidirectional controls and the rest are dropped."""


def clean_text(text: str) -> str:
    """Drop control and format characters (keeping line breaks, tabs, joiners) and trim."""
    kept = []
    for ch in text:
        if ch in "\n\t" or ch in JOINERS:
            kept.append(ch)
        elif unicodedata.category(ch) in {"Cc", "Cf", "Cs", "Co", "Cn"}:
            continue
        else:
            kept.append(ch)
    return "".join(kept).strip()
