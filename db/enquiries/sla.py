"""Working-hours arithmetic for deadlines: weekends and time outside office hours do not count."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

LOCAL = ZoneInfo("Europe/Stockholm")


def add_working_hours(
    start: datetime, hours: float, *, day_start: int = 8, day_end: int = 16
) -> datetime:
    """Return the moment `hours` working hours after `start` (Mon–Fri, day_start–day_end local)."""
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware")
    remaining = timedelta(hours=hours)
    t = start.astimezone(LOCAL)
    while True:
        if t.weekday() >= 5:
            t = (t + timedelta(days=7 - t.weekday())).replace(
                hour=day_start, minute=0, second=0, microsecond=0
            )
            continue
        opening = t.replace(hour=day_start, minute=0, second=0, microsecond=0)
        closing = t.replace(hour=day_end, minute=0, second=0, microsecond=0)
        if t < opening:
            t = opening
        if t >= closing:
            t = (t + timedelta(days=1)).replace(hour=day_start, minute=0, second=0, microsecond=0)
            continue
        available = closing - t
        if remaining <= available:
            return (t + remaining).astimezone(start.tzinfo)
        remaining -= available
        t = (t + timedelta(days=1)).replace(hour=day_start, minute=0, second=0, microsecond=0)
