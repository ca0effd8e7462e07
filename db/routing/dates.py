"""Dates of the routing table: the YAML and the CLI speak in local (Swedish) calendar days."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from db.enquiries.sla import LOCAL

# --- dates: the YAML and the CLI speak in local (Swedish) calendar days ----------------------


def day_start(day: date) -> datetime:
    """Return the UTC moment a local calendar day begins."""
    return datetime.combine(day, time(0), tzinfo=LOCAL).astimezone(UTC)


def local_day(moment: datetime) -> date:
    """Return the local calendar day of a moment."""
    return moment.astimezone(LOCAL).date()


def absence_start(value: date | datetime | None) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return _aware(value)
    return day_start(value)


def absence_end(value: date | datetime | None) -> datetime | None:
    """Turn an inclusive last day into the exclusive end moment (a datetime is kept as is)."""
    if value is None or isinstance(value, datetime):
        return _aware(value)
    return day_start(value + timedelta(days=1))


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.utcoffset() is None:
        raise ValueError("datetimes must be timezone-aware")
    return value


def last_absent_day(moment: datetime | None) -> date | None:
    if moment is None:
        return None
    return (moment.astimezone(LOCAL) - timedelta(microseconds=1)).date()
