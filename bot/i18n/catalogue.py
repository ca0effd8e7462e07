"""Keep the catalogues in step with the code: extract the message ids, merge, check.

`python -m bot.i18n update` extracts every marked message from `bot/`, `db/` and the desk
templates into `lotsen.pot` and merges it into each language's catalogue (new messages get an
empty translation, Swedish copies its source). `python -m bot.i18n check` lists what is
missing; the test suite runs the same check.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from bot.i18n import DOMAIN, LANGUAGES, LOCALE_DIR, SOURCE_LANGUAGE, catalogue_path

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = LOCALE_DIR.parent / f"{DOMAIN}.pot"
SOURCES = ("bot", "db")
KEYWORDS: dict[str, Any] = {
    "t": (2,),
    "pt": ((2, "c"), 3),
    "nt": (2, 3),
    "N_": None,
    "_": None,
    "gettext": None,
    "ngettext": (1, 2),
    "pgettext": ((1, "c"), 2),
    # The desk's template helpers (bot/channels/desk/pages.py): a label, a label with a context,
    # text for attributes, a sentence from Python.
    "bi": None,
    "pbi": ((1, "c"), 2),
    "plain": None,
    "sentence": None,
}
METHODS = [
    ("**/templates/**.html", "jinja2"),
    ("**.py", "python"),
]
OPTIONS = {
    # As the desk renders them (bot/channels/desk/pages.py), so message ids match.
    "**/templates/**.html": {
        "extensions": "jinja2.ext.i18n",
        "trimmed": "true",
        "newstyle_gettext": "true",
        "trim_blocks": "true",
        "lstrip_blocks": "true",
    }
}
COMMENT_TAGS = ("Translators:",)
PLACEHOLDER = re.compile(r"\{(\w+)[^{}]*\}|%\((\w+)\)")
"""A `{name}` placeholder (Python code) or a `%(name)s` one (desk templates)."""


def extract() -> Catalog:
    """Return every message id the code and templates mark, with comments and places."""
    catalogue = Catalog(domain=DOMAIN, project="Lotsen", charset="utf-8")
    for folder in SOURCES:
        found = extract_from_dir(
            ROOT / folder,
            method_map=METHODS,
            options_map=OPTIONS,
            keywords=KEYWORDS,
            comment_tags=COMMENT_TAGS,
            strip_comment_tags=True,
        )
        for filename, line, message, comments, context in found:
            catalogue.add(
                message,
                None,
                [(f"{folder}/{filename}", line)],
                auto_comments=comments,
                context=context,
            )
    return catalogue


def load(language: str) -> Catalog:
    """Return a language's catalogue (empty when the file does not exist yet)."""
    path = catalogue_path(language)
    if not path.exists():
        return Catalog(locale=language, domain=DOMAIN)
    with path.open("rb") as handle:
        return read_po(handle, locale=language, domain=DOMAIN)


def _save(catalogue: Catalog, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        write_po(handle, catalogue, width=100, omit_header=False, sort_output=False)


def update(languages: Iterable[str] = LANGUAGES) -> None:
    """Re-extract the template and merge it into every catalogue (keeping translations)."""
    template = extract()
    _save(template, TEMPLATE)
    for language in languages:
        catalogue = load(language)
        catalogue.update(copy.deepcopy(template), no_fuzzy_matching=True)
        if language == SOURCE_LANGUAGE:
            for message in catalogue:
                if message.id and not _translated(message):
                    message.string = message.id  # the source: a plural copies both forms
        catalogue.obsolete.clear()
        _save(catalogue, catalogue_path(language))


def placeholders(text: object) -> set[str]:
    """Return the `{names}` a message uses (all forms of a plural message together)."""
    forms = (
        (text,)
        if isinstance(text, str)
        else tuple(text or ())
        if isinstance(text, tuple | list)
        else ()
    )
    return {
        brace or percent
        for form in forms
        for brace, percent in PLACEHOLDER.findall(str(form or ""))
    }


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a catalogue."""

    language: str
    message: str
    what: str

    def __str__(self) -> str:
        """Return the problem as one line."""
        return f"{self.language}: {self.what}: {self.message[:70]!r}"


def _translated(message: Message) -> bool:
    strings = message.string if isinstance(message.string, tuple) else (message.string,)
    return all(strings)


def problems(languages: Iterable[str] = LANGUAGES) -> Iterator[Problem]:
    """Yield every missing, fuzzy or mismatched translation, and every stale message."""
    template = extract()
    wanted = {(m.id, m.context): m for m in template if m.id}
    for language in languages:
        catalogue = load(language)
        have = {(m.id, m.context): m for m in catalogue if m.id}
        for key, source in wanted.items():
            text = key[0] if isinstance(key[0], str) else key[0][0]
            found = have.get(key)
            if found is None:
                yield Problem(language, text, "not in the catalogue")
            elif not _translated(found):
                yield Problem(language, text, "not translated")
            elif found.fuzzy:
                yield Problem(language, text, "marked fuzzy")
            elif placeholders(found.string) != placeholders(source.id):
                yield Problem(language, text, "placeholders differ")
        for key in have.keys() - wanted.keys():
            text = key[0] if isinstance(key[0], str) else key[0][0]
            yield Problem(language, text, "no longer used")
