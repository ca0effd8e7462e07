"""Shared helpers of the data model."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Return the current time, timezone-aware in UTC (the storage convention)."""
    return datetime.now(UTC)
