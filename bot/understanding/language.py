"""A small, dependency-free guess of whether a message is Swedish or English.

Heuristic: Swedish letters (å, ä, ö) and Swedish function words (also in their ascii
spellings; "for" and "pa" are left out as English or too ambiguous) count
for Swedish; English function words count for English. A tie, including a message with
no signal at all ("IOP", "ok", "LOT-2026-00042"), returns the default.
"""

from __future__ import annotations

import re

SUPPORTED = ("sv", "en")

_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
_SWEDISH_LETTERS = frozenset("åäöÅÄÖ")


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_SWEDISH_WORDS = _words(
    """
    och att det som är ar på en ett den de vi jag du ni han hon hur vad vem var varför
    varfor när nar vår vårt vart våra vara oss min mitt mina med till från fran om inte
    har hade kan får far vill ska skulle måste maste också ocksa eller men så sa efter
    även aven här där dar kommunen kommun förening forening föreningen foreningen
    föreningar foreningar hej hejsan tack bidrag nej ja jo någon nagon något nagot finns
    behöver behover undrar gäller galler mycket mig dig sig sin sitt sina deras hos
    eftersom bara redan vilka vilken vilket själv sjalv göra gora
    """
)

_ENGLISH_WORDS = _words(
    """
    the and to of is are was were we our us you your he she they their it its this that
    these those what which who whom how why when where there here with from about would
    could should will can do does did have has had not need want like please hello hi
    hey thanks thank my me an be been being on by if or but so any some into out up
    municipality association associations club apply get help just also yes no
    """
)


def detect_language(text: str, default: str = "sv") -> str:
    """Return "sv" or "en" for the text; `default` when the text gives no clear signal."""
    fallback = default if default in SUPPORTED else "sv"
    if not text:
        return fallback
    words = [w.lower() for w in _WORD.findall(text)]
    swedish = sum(1 for w in words if w in _SWEDISH_WORDS)
    english = sum(1 for w in words if w in _ENGLISH_WORDS)
    if any(ch in _SWEDISH_LETTERS for ch in text):
        swedish += 2
    if swedish > english:
        return "sv"
    if english > swedish:
        return "en"
    return fallback
