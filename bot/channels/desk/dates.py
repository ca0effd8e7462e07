"""Dates typed into the desk's forms: YYYY-MM-DD within a range the clock can represent."""

from __future__ import annotations

from datetime import date

FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2199, 12, 31)


class DateProblem(ValueError):
    """A date field that is not YYYY-MM-DD, or lies outside the range the desk accepts."""

    def __init__(self, field: str, value: str, *, out_of_range: bool = False) -> None:
        self.field = field
        self.value = value
        self.out_of_range = out_of_range
        super().__init__(f"{field}: not a usable date: {value}")

    def messages(self) -> tuple[str, str]:
        """Return the explanation in Swedish and English."""
        if self.out_of_range:
            return (
                f"Datumet måste ligga mellan {FIRST_DAY} och {LAST_DAY} (inte {self.value}).",
                f"The date must lie between {FIRST_DAY} and {LAST_DAY} (not {self.value}).",
            )
        return (
            f"Skriv datumet som ÅÅÅÅ-MM-DD, till exempel 2026-07-01 (inte {self.value}).",
            f"Write the date as YYYY-MM-DD, for example 2026-07-01 (not {self.value}).",
        )


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
