"""Right-to-left texts keep their left-to-right tokens whole: reference numbers, e-mail and web
addresses, phone numbers, dates, times, commands and names in Latin letters.

In Arabic or Persian text the Unicode bidirectional algorithm reorders the parts of a token
such as `LOT-2026-00042` or `0123-45 67 89` (the digits become numbers of their own, the hyphens
neutral), so Telegram would show `00042-2026-LOT`. Each left-to-right run of a line is therefore
wrapped in a left-to-right isolate (LRI … PDI): inside it the run reads left to right, outside it
counts as one neutral character and the sentence around it stays right to left.
"""

from __future__ import annotations

import unicodedata

LRI = "\u2066"
RLI = "\u2067"
FSI = "\u2068"
PDI = "\u2069"
OPENERS = frozenset({LRI, RLI, FSI})
LEADS = frozenset("+#/@(")
"""Characters that may start a run when a left-to-right character follows them."""
STOPS = frozenset({"R", "AL", "AN", "B", "S", "LRE", "RLE", "LRO", "RLO", "PDF"})
"""Bidirectional classes a run never crosses (right-to-left text, line and tab breaks)."""
ARABIC_SCRIPT = (
    ("\u0600", "\u06ff"),
    ("\u0750", "\u077f"),
    ("\ufb50", "\ufdff"),
    ("\ufe70", "\ufeff"),
)
"""Arabic-script blocks: their punctuation (، ؛) belongs to the sentence, not to a run."""


def _strong(char: str) -> bool:
    """Tell whether a character makes a run left to right: a Latin-like letter or 0–9."""
    return unicodedata.bidirectional(char) == "L" or "0" <= char <= "9"


def _inside(char: str) -> bool:
    return (
        char not in OPENERS
        and char != PDI
        and char != "\n"
        and unicodedata.bidirectional(char) not in STOPS
        and not any(low <= char <= high for low, high in ARABIC_SCRIPT)
    )


def _run_end(line: str, start: int) -> int:
    """Return where the run starting at `start` ends (exclusive), brackets kept in pairs."""
    end = start
    last = start
    for index in range(start, len(line)):
        char = line[index]
        if not _inside(char):
            break
        end = index + 1
        if _strong(char):
            last = end
    run = line[start:last]
    while run.count("(") > run.count(")") and last < end and line[last] == ")":
        last += 1
        run = line[start:last]
    return last


def _isolate_line(line: str) -> str:
    out: list[str] = []
    depth = 0
    index = 0
    while index < len(line):
        char = line[index]
        if char in OPENERS:
            depth += 1
        elif char == PDI and depth:
            depth -= 1
        starts = _strong(char) or (
            char in LEADS and index + 1 < len(line) and _strong(line[index + 1])
        )
        if depth or not starts:
            out.append(char)
            index += 1
            continue
        end = _run_end(line, index)
        if char == "(" and line.count(")", index, end) == 0:
            out.append(char)  # its closing bracket is outside the run: keep the pair outside
            index += 1
            continue
        out.append(f"{LRI}{line[index:end]}{PDI}")
        index = end
    return "".join(out)


def isolate_ltr(text: str) -> str:
    """Wrap every left-to-right run of each line in LRI … PDI (runs already isolated are kept)."""
    return "\n".join(_isolate_line(line) for line in text.split("\n"))
