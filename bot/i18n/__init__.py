"""Every user-facing word, from gettext catalogues: Swedish is the source, the rest translate it.

The catalogues are `locale/<language>/LC_MESSAGES/lotsen.po` beside this module. A process loads
them compiled: `lotsen-<hash>.mo` beside each .po (not committed), named by the hash of the .po's
content, written by `make setup` (`python -m bot.i18n compile`) or by the first process that
needs it, so a changed .po is compiled again and never served stale; where nothing can be
written (a read-only install) the .po is compiled in memory at each start.

Message ids are the Swedish texts; `{name}` placeholders are filled after translation, so a
translator may move them. Translator comments (`# Translators: …` above a
call) travel into the catalogues. `python -m bot.i18n update` re-extracts and merges them.
"""

from __future__ import annotations

import gettext
import hashlib
import os
from functools import cache
from io import BytesIO
from pathlib import Path
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from db.plumbing.phrases import N_, Phrase

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "lotsen"
SOURCE_LANGUAGE = "sv"
LANGUAGES: tuple[str, ...] = ("sv", "en", "ar", "fa", "so", "fi", "uk", "pl", "tr", "bs")
"""The shipped languages, in the order they are offered (Swedish in easy-to-read style).

`bs` is one catalogue for Bosnian, Croatian and Serbian, in Latin letters (ijekavian): Croatian
and Serbian writers, also those who write Serbian in Cyrillic, are answered in it.
"""

ALIASES = {"hr": "bs", "sr": "bs", "sh": "bs", "cnr": "bs"}
"""Codes of languages a shipped catalogue answers for (Croatian, Serbian, Serbo-Croatian,
Montenegrin: the Bosnian/Croatian/Serbian catalogue)."""

LANGUAGE_NAMES = {
    "sv": "Svenska",
    "en": "English",
    "ar": "العربية",
    "fa": "فارسی",
    "so": "Soomaali",
    "fi": "Suomi",
    "uk": "Українська",
    "pl": "Polski",
    "tr": "Türkçe",
    "bs": "Bosanski / Hrvatski / Srpski",
}
"""Each language's name in itself (for the language choice)."""

CHANNEL_NAMES: dict[str, str] = {
    # Translators: a channel's name (the desk's enquiry page; sentences that name a channel).
    "telegram": N_("Telegram"),
    "web": N_("Webbchatten"),
    "email": N_("E-post"),
    "console": N_("Konsolen"),
}
"""The channels' names as people know them, by the channel's value (`db.models.Channel`). The
domain names a channel by its value (a `Channel` among a phrase's values); `translate` shows its
name here, in the reader's language."""

RIGHT_TO_LEFT = frozenset({"ar", "fa"})
"""Languages written from right to left (their texts isolate left-to-right tokens)."""


def catalogue_path(language: str) -> Path:
    """Return the .po file of a language."""
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def compiled_path(po_file: Path, digest: str, cache_dir: Path | None = None) -> Path:
    """Return where the compiled catalogue of this content of a .po file is kept: beside it
    (or in `cache_dir`), named by the content's hash, so a changed .po never finds a stale one."""
    return (cache_dir or po_file.parent) / f"{po_file.stem}-{digest[:16]}.mo"


def compile_po(source: bytes, language: str) -> bytes:
    """Return a .po file's content compiled (.mo), fuzzy translations left out."""
    catalogue = read_po(BytesIO(source), locale=language, domain=DOMAIN)
    compiled = BytesIO()
    write_mo(compiled, catalogue, use_fuzzy=False)
    return compiled.getvalue()


def load_catalogue(
    po_file: Path, language: str, cache_dir: Path | None = None
) -> gettext.GNUTranslations:
    """Return a .po file's catalogue, from its compiled file when one matches its content.

    Compiles it when none does and keeps the result (written whole, then renamed into place,
    older ones of the same catalogue removed); when it cannot be kept (a read-only install), the
    catalogue is compiled in memory, as the first start always is.
    """
    return _load(po_file, language, cache_dir)[0]


def _load(
    po_file: Path, language: str, cache_dir: Path | None = None
) -> tuple[gettext.GNUTranslations, Path | None]:
    """Return a .po file's catalogue (`load_catalogue`) and its compiled file, None if not kept."""
    source = po_file.read_bytes()
    target = compiled_path(po_file, hashlib.sha256(source).hexdigest(), cache_dir)
    try:
        return gettext.GNUTranslations(BytesIO(target.read_bytes())), target
    except (OSError, ValueError):
        pass  # not compiled yet (or unreadable): compile it below
    compiled = compile_po(source, language)
    try:
        _keep(target, compiled)
    except OSError:  # cannot be kept: served from memory
        return gettext.GNUTranslations(BytesIO(compiled)), None
    return gettext.GNUTranslations(BytesIO(compiled)), target


def _keep(target: Path, compiled: bytes) -> None:
    """Write a compiled catalogue atomically and remove the older ones of the catalogue."""
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        temporary.write_bytes(compiled)
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
    stem = target.name.rsplit("-", 1)[0]
    for older in target.parent.glob(f"{stem}-*.mo"):
        if older != target:
            older.unlink(missing_ok=True)


@cache
def translations(language: str) -> gettext.NullTranslations:
    """Return the compiled catalogue of a language (the Swedish source when there is none)."""
    path = catalogue_path(language)
    if not path.exists():
        return gettext.NullTranslations()
    return load_catalogue(path, language)


def compile_all() -> list[Path]:
    """Compile every shipped catalogue that has no compiled file for its content yet (`make
    setup`, `python -m bot.i18n compile`); return the compiled files that are kept."""
    kept = []
    for language in LANGUAGES:
        po_file = catalogue_path(language)
        if po_file.exists():
            _, target = _load(po_file, language)
            if target is not None:
                kept.append(target)
    return kept


def language_name(code: str | None, in_language: str = SOURCE_LANGUAGE) -> str | None:
    """Return the name of any language (ISO 639-1 code) in a language, from CLDR via Babel.

    The names of all languages a message can be identified in come from Unicode's CLDR, the
    same data every operating system uses, not from our catalogues. None for an unknown code.
    """
    if not code:
        return None
    try:
        return Locale.parse(normalise_language(in_language)).languages.get(code)
    except (ValueError, UnknownLocaleError):
        return None


def normalise_language(code: object) -> str:
    """Return a shipped language code for a code like 'en', 'EN', 'sv-SE' or 'hr' (else Swedish)."""
    text = str(code or "").strip().lower().replace("_", "-").split("-")[0]
    text = ALIASES.get(text, text)
    return text if text in LANGUAGES else SOURCE_LANGUAGE


def _fill(text: str, values: dict[str, Any]) -> str:
    return text.format(**values) if values else text


def t(language: str, message: str, /, **values: Any) -> str:
    """Return a message in the language, with its `{placeholders}` filled in."""
    return _fill(translations(normalise_language(language)).gettext(message), values)


def pt(language: str, context: str, message: str, /, **values: Any) -> str:
    """Return a message that needs a context to be translated right (e.g. a button label)."""
    return _fill(translations(normalise_language(language)).pgettext(context, message), values)


def nt(language: str, singular: str, plural: str, count: int, /, **values: Any) -> str:
    """Return the singular or plural form for `count` in the language (`{count}` is filled)."""
    text = translations(normalise_language(language)).ngettext(singular, plural, count)
    return _fill(text, {"count": count, **values})


def _shown(language: str, value: Any) -> Any:
    """Return a phrase's value as the reader sees it: a phrase translated, a channel named."""
    if isinstance(value, Phrase):
        return translate(language, value)
    # Imported here: the data model is loaded by every process that renders domain phrases,
    # and this module stays light for those that only translate (python -m bot.i18n).
    from db.models.enums import Channel

    if isinstance(value, Channel) and value in CHANNEL_NAMES:
        return t(language, CHANNEL_NAMES[value])
    return value


def translate(language: str, phrase: Phrase) -> str:
    """Return a domain phrase in the language (phrases among its values are translated too,
    channels named: `CHANNEL_NAMES`)."""
    values = {name: _shown(language, value) for name, value in phrase.values.items()}
    return t(language, phrase.message, **values)
