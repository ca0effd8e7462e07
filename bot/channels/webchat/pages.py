"""The chat's templates: the desk's text helpers (views, catalogues), the chat's own pages."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import jinja2

from bot.channels.desk.pages import PageTexts, View, direction

TEMPLATES = Path(__file__).resolve().parent / "templates"
STATIC = Path(__file__).resolve().parent / "static"


@cache
def chat_environment(view: View) -> jinja2.Environment:
    """Return the Jinja environment (autoescaped) of the chat's pages in a view."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
        extensions=["jinja2.ext.i18n"],
    )
    env.policies["ext.i18n.trimmed"] = True
    texts = PageTexts(view)
    env.install_gettext_callables(  # type: ignore[attr-defined]
        texts.gettext, texts.ngettext, newstyle=True
    )
    env.globals.update(
        bi=texts.bi,
        sentence=texts.sentence,
        plain=texts.plain,
        page_language=view.main,
        page_direction=direction(view.main),
        direction=direction,
    )
    return env
