"""Services for the action server, created on first use (never at import time)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from sqlalchemy.engine import Engine

from bot.settings import PROJECT_ROOT, Settings, load_settings
from bot.understanding.routing import Thresholds, load_thresholds
from db.plumbing.session import make_engine


@dataclass(frozen=True)
class ActionContext:
    """What every action needs: settings, a database engine and the routing thresholds."""

    settings: Settings
    engine: Engine
    threshold: float | Thresholds


def build_context(settings: Settings) -> ActionContext:
    """Create the action context for the given settings."""
    return ActionContext(
        settings=settings,
        engine=make_engine(settings.database_url),
        threshold=load_thresholds(PROJECT_ROOT / "config.yml"),
    )


@cache
def default_context() -> ActionContext:
    """Return the process-wide context built from the environment on first use."""
    return build_context(load_settings())
