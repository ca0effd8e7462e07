"""The desk's pages: which languages a page is shown in, and the Jinja environment for each.

A page is shown in a *view*: one language alone (Swedish unless the reader chose another with
`?lang=`, kept in a cookie, or their browser's Accept-Language names a reply language), or, when
asked for explicitly (`?lang=sv,en`), one language with another beside it. Each view has its own
Jinja environment whose text helpers (`_`/`{% trans %}`/`ngettext` for sentences, `bi` for
labels, `plain` for attributes, `sentence` for a `Phrase` from Python, `named` for names the
data holds in both languages, `language_named` and the `language` filter for a language's name)
render catalogue messages in the view's languages; the conventions are at the top of
templates/macros.html. Arabic and Persian pages are right to left (`dir="rtl"` on `<html>`); a
text beside the main one that runs the other way carries its own `dir`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup, escape

from bot.i18n import (
    LANGUAGE_NAMES,
    LANGUAGES,
    RIGHT_TO_LEFT,
    SOURCE_LANGUAGE,
    translate,
    translations,
)
from bot.messages.languages import language_label
from db.enquiries.sla import LOCAL
from db.plumbing.phrases import Phrase

TEMPLATES = Path(__file__).resolve().parent / "templates"
LANGUAGE_COOKIE = "lotsen_desk_lang"
SENTENCE = Markup('{main} <span lang="{language}"{direction}>{beside}</span>')
LABEL = Markup('{main} <span lang="{language}"{direction} class="en">/ {beside}</span>')


def direction(language: str) -> str:
    """Return the writing direction of a language: "rtl" or "ltr"."""
    return "rtl" if language in RIGHT_TO_LEFT else "ltr"


@dataclass(frozen=True)
class View:
    """The languages a page is shown in: the main one, and the one beside it (or none)."""

    main: str
    beside: str | None = None

    @property
    def languages(self) -> tuple[str, ...]:
        """Return the view's languages, the main one first."""
        return (self.main,) if self.beside is None else (self.main, self.beside)

    @property
    def code(self) -> str:
        """Return the view as `?lang=` names it ("sv,en", "en")."""
        return ",".join(self.languages)

    @property
    def name(self) -> str:
        """Return the view's name in its own languages ("Svenska / English")."""
        return " / ".join(LANGUAGE_NAMES.get(language, language) for language in self.languages)

    @property
    def beside_direction(self) -> str:
        """Return the `dir` attribute the text beside needs (none when it runs like the page)."""
        if self.beside is None or direction(self.beside) == direction(self.main):
            return ""
        return f' dir="{direction(self.beside)}"'


BILINGUAL = View(SOURCE_LANGUAGE, "en")
"""Swedish with English beside it (only when asked for: `?lang=sv,en`)."""

DEFAULT_VIEW = View(SOURCE_LANGUAGE)
"""The view of a reader who chose nothing and whose browser asks for no reply language."""

VIEWS = tuple(View(language) for language in LANGUAGES)
"""The views the page footer offers: one language each."""


def view_accepted(header: str | None) -> View | None:
    """Return the view of the first reply language an Accept-Language header asks for.

    Languages are taken by their weight (`q`, 1 when left out; 0 means "not this one"), a
    regional variant standing for its language ("en-GB" is English); None when it names none.
    """
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate((header or "").split(",")):
        tag, _, params = part.strip().partition(";")
        weight = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        code = tag.strip().lower().split("-")[0]
        if weight > 0 and code in LANGUAGES:
            ranked.append((-weight, index, code))
    return View(min(ranked)[2]) if ranked else None


def view_named(value: str) -> View | None:
    """Return the view a `?lang=` value names ("sv", "en", "sv,en"); None for anything else."""
    codes = [code.strip().lower() for code in value.split(",")]
    if not 1 <= len(codes) <= 2 or len(set(codes)) != len(codes):
        return None
    if any(code not in LANGUAGES for code in codes):
        return None
    return View(codes[0], codes[1] if len(codes) == 2 else None)


class PageTexts:
    """The text helpers of one view, as its templates (and views) call them."""

    def __init__(self, view: View) -> None:
        self.view = view

    def _shown(self, text_in: Callable[[str], Markup], look: Markup) -> Markup:
        main = text_in(self.view.main)
        if self.view.beside is None:
            return main
        beside = text_in(self.view.beside)
        if beside == main:
            return main
        return look.format(
            main=main,
            language=self.view.beside,
            direction=Markup(self.view.beside_direction),
            beside=beside,
        )

    def gettext(self, message: str) -> Markup:
        """Return a template sentence in the view's languages (Jinja fills its placeholders)."""
        return self._shown(
            lambda language: Markup(translations(language).gettext(message)), SENTENCE
        )

    def ngettext(self, singular: str, plural: str, count: int) -> Markup:
        """Return the form of a template sentence that fits `count`, in the view's languages."""
        return self._shown(
            lambda language: Markup(translations(language).ngettext(singular, plural, count)),
            SENTENCE,
        )

    def bi(self, message: str | Phrase, /, **values: Any) -> Markup:
        """Return a label in the view's languages (the English one muted, after a slash)."""
        return self._shown(lambda language: _markup(language, message, values), LABEL)

    def pbi(self, context: str, message: str, /, **values: Any) -> Markup:
        """Return a label whose Swedish words mean different things in different places."""
        return self._shown(
            lambda language: Markup(translations(language).pgettext(context, message)) % values,
            LABEL,
        )

    def sentence(self, message: str | Phrase, /, **values: Any) -> Markup:
        """Return a sentence (a phrase from Python, such as a refusal) in the view's languages."""
        return self._shown(lambda language: _markup(language, message, values), SENTENCE)

    def plain(self, message: str | Phrase, /, **values: Any) -> str:
        """Return text without markup in the view's languages ("Alla / All")."""
        texts = (_text(language, message, values) for language in self.view.languages)
        return " / ".join(dict.fromkeys(texts))

    def named(self, swedish: str, english: str | None) -> Markup:
        """Return a name the data holds in Swedish and English, as a label."""
        names = {SOURCE_LANGUAGE: swedish, "en": english or swedish}
        return self._shown(lambda language: escape(names.get(language, swedish)), LABEL)

    def language_named(self, code: str | None) -> Markup:
        """Return a language's name (a code, or None: cannot tell) as a label."""
        return self._shown(lambda language: escape(language_label(code, language)), LABEL)

    def hours(self, value: float | None) -> str:
        """Return hours with one decimal, as the page's main language writes them."""
        return hours_in(self.view.main)(value)

    def language(self, code: str | None) -> str:
        """Return a language's name in the page's main language (None: cannot tell)."""
        return language_label(code, self.view.main)


def _text(language: str, message: str | Phrase, values: Mapping[str, Any]) -> str:
    if isinstance(message, Phrase):
        return translate(language, message)
    return translations(language).gettext(message) % values


def _markup(language: str, message: str | Phrase, values: Mapping[str, Any]) -> Markup:
    if isinstance(message, Phrase):
        return escape(translate(language, message))
    return Markup(translations(language).gettext(message)) % values


def local_time(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """Format a stored UTC moment in Swedish local time for the page."""
    if value is None:
        return ""
    return value.astimezone(LOCAL).strftime(fmt)


def last_day(value: datetime | None) -> str:
    """Format an exclusive absence end as the inclusive last local day."""
    if value is None:
        return ""
    return (value.astimezone(LOCAL) - timedelta(microseconds=1)).strftime("%Y-%m-%d")


def hours_in(language: str) -> Callable[[float | None], str]:
    """Return the filter that writes hours with one decimal (a decimal comma in Swedish)."""
    point = "," if language == SOURCE_LANGUAGE else "."

    def hours(value: float | None) -> str:
        return "" if value is None else f"{value:.1f}".replace(".", point)

    return hours


@cache
def environment(view: View, templates: Path = TEMPLATES) -> jinja2.Environment:
    """Return the Jinja environment (autoescaped) of a view, with its texts and filters.

    `templates` is the desk's folder unless another page set shares the helpers (the web chat).
    """
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates),
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
        pbi=texts.pbi,
        sentence=texts.sentence,
        plain=texts.plain,
        named=texts.named,
        language_named=texts.language_named,
        page_language=view.main,
        page_direction=direction(view.main),
        direction=direction,
    )
    env.filters["local"] = local_time
    env.filters["hours"] = hours_in(view.main)
    env.filters["lastday"] = last_day
    env.filters["language"] = texts.language
    return env
