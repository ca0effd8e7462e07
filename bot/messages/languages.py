"""The languages of an enquiry as staff see them, for every staff channel (Telegram cards, the
desk, e-mail): what the question is written in, the association's own language, and the
language the association is answered in.

`enquiry_languages` gathers the facts; `languages_line` is the one line Telegram cards and
e-mails show, e.g. "Språk: arabiska · föreningens språk: svenska".
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session

from bot.i18n import language_name, t
from db.models import AssociationUser, Enquiry

UNDETERMINED = "und"
"""The code staff filter and count by for questions too short to tell (ISO 639-2 "undetermined")."""


@dataclass(frozen=True)
class EnquiryLanguages:
    """The language codes of an enquiry (ISO 639-1)."""

    written: str | None
    """What the question is written in; None when it was too short or ambiguous to tell."""
    association: str | None
    """The language the association chose (None without a known user)."""
    reply: str
    """The language the association is answered in for this enquiry."""


def enquiry_languages(*, session: Session, enquiry: Enquiry) -> EnquiryLanguages:
    """Return the languages of an enquiry."""
    user = session.get(AssociationUser, enquiry.user_id) if enquiry.user_id is not None else None
    return EnquiryLanguages(
        written=enquiry.detected_language,
        association=user.language if user is not None else None,
        reply=enquiry.language,
    )


def language_label(code: str | None, language: str) -> str:
    """Return a language's name in `language` (staff read Swedish), or why there is none."""
    if code is None or code == UNDETERMINED:
        # Translators: the language of a question that was too short or unclear to tell.
        return t(language, "går inte att avgöra")
    return language_name(code, language) or code


def languages_line(languages: EnquiryLanguages, language: str) -> str:
    """Return the one-line summary of an enquiry's languages for staff."""
    # Translators: on a card; {written} and {association} are language names, e.g. "arabiska".
    return t(
        language,
        "Språk: {written} · föreningens språk: {association}",
        written=language_label(languages.written, language),
        association=language_label(languages.association, language)
        if languages.association
        else "–",
    )
