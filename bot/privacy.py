"""Masking of personal data that associations write into their questions."""

from __future__ import annotations

import re
import unicodedata

_PERSONNUMMER = re.compile(r"(?<!\d)(?:19|20)?\d{6}[-+ ]?\d{4}(?!\d)")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"(?<![\w-])(?:\+46|0046|0)[\s-]?\d{1,3}(?:[\s-]?\d{2,4}){2,4}(?![\w-])")
_ORGNUMMER = re.compile(r"(?<!\d)[2-9]\d{5}-\d{4}(?!\d)")

MASKS = {"personnummer": "[personnummer]", "email": "[e-post]", "phone": "[telefon]"}


def _looks_like_org_number(match: str) -> bool:
    digits = re.sub(r"\D", "", match)
    return len(digits) == 10 and digits[2] in "2345679" and _ORGNUMMER.fullmatch(match) is not None


def mask_personal_data(text: str) -> str:
    """Replace personal identity numbers, e-mail addresses and phone numbers with placeholders.

    Organisation numbers (the third digit ≥ 2, e.g. 802400-1234) are kept: they identify an
    association, not a person.
    """
    text = _EMAIL.sub(MASKS["email"], text)
    text = _PERSONNUMMER.sub(
        lambda m: m.group(0) if _looks_like_org_number(m.group(0)) else MASKS["personnummer"], text
    )
    return _PHONE.sub(MASKS["phone"], text)


def clean_text(text: str) -> str:
    """Drop control and format characters (keeping line breaks and tabs) and trim whitespace."""
    kept = []
    for ch in text:
        if ch in "\n\t":
            kept.append(ch)
        elif unicodedata.category(ch) in {"Cc", "Cf", "Cs", "Co", "Cn"}:
            continue
        else:
            kept.append(ch)
    return "".join(kept).strip()
