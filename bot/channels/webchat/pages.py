"""The chat's templates: the desk's text helpers (views, catalogues) on the chat's own pages."""

from __future__ import annotations

from pathlib import Path

import jinja2

from bot.channels.desk.pages import View, environment

TEMPLATES = Path(__file__).resolve().parent / "templates"
STATIC = Path(__file__).resolve().parent / "static"


def chat_environment(view: View) -> jinja2.Environment:
    """Return the Jinja environment (autoescaped) of the chat's pages in a view."""
    return environment(view, TEMPLATES)
