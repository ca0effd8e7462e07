"""Dates typed into the desk's forms: YYYY-MM-DD within a range the clock can represent."""

from __future__ import annotations

from datetime import date

from db.plumbing.phrases import N_, Phrase

FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2199, 12, 31)
OUT_OF_RANGE = N_("Datumet måste ligga mellan {first} och {last} (inte {value}).")
NOT_A_DATE = N_("Skriv datumet som ÅÅÅÅ-MM-DD, till exempel 2026-07-01 (inte {value}).")


class DateProblem(ValueError):
    """A date field that is not YYYY-MM-DD, or lies outside the range the desk accepts."""

    def __init__(self, field: str, value: str, *, out_of_range: bool = False) -> None:
        self.field = field
        self.phrase = (
            Phrase(OUT_OF_RANGE, {"first": FIRST_DAY, "last": LAST_DAY, "value": value})
            if out_of_range
            else Phrase(NOT_A_DATE, {"value": value})
        )
        super().__init__(field, value)


def parse_day(value: str, field: str) -> date | None:
    """Return the day typed into a field (None when empty), or raise DateProblem."""
    text = value.strip()
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise DateProblem(field, text[:40]) from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise DateProblem(field, text, out_of_range=True)
    return day
