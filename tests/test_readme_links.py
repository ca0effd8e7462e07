"""Every relative link in README.md, docs/*.md and nlu/EVALUATION.md leads somewhere.

A link to a file must name a file or folder of the repository; a link with `#anchor` must name
a heading of the target file, by GitHub's rule (lower case, spaces to hyphens, punctuation other
than hyphens and underscores dropped, a repeated heading numbered -1, -2, …).
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [
    ROOT / "README.md",
    *sorted((ROOT / "docs").glob("*.md")),
    ROOT / "nlu" / "EVALUATION.md",
]

FENCE = re.compile(r"^(```|~~~)")
INLINE_CODE = re.compile(r"(`+)(?:(?!\1).)+?\1")
# [text](target) and ![alt](target); the text may hold one level of brackets or an image.
LINK = re.compile(
    r"!?\[(?:[^\[\]]|\[[^\]]*\](?:\([^)]*\))?)*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)"
)
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
HTML_ANCHOR = re.compile(r"<a\s+(?:name|id)=\"([^\"]+)\"", re.IGNORECASE)


def _prose_lines(text: str) -> list[str]:
    """Return the lines outside fenced code blocks."""
    lines: list[str] = []
    fenced = False
    for line in text.splitlines():
        if FENCE.match(line.lstrip()):
            fenced = not fenced
            continue
        if not fenced:
            lines.append(line)
    return lines


def slug(heading: str) -> str:
    """Return GitHub's anchor for a heading's text."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link counts as its text
    text = re.sub(r"<[^>]+>", "", text)  # inline HTML tags
    text = text.lower()
    text = re.sub(r"[^\w\- ]", "", text)  # keeps letters, digits, _ and - of every script
    return text.replace(" ", "-")


@functools.cache
def anchors(path: Path) -> frozenset[str]:
    """Return every anchor a Markdown file offers."""
    found: set[str] = set()
    seen: dict[str, int] = {}
    for line in _prose_lines(path.read_text(encoding="utf-8")):
        found.update(HTML_ANCHOR.findall(line))
        match = HEADING.match(line)
        if not match:
            continue
        base = slug(match.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return frozenset(found)


def links(path: Path) -> list[tuple[int, str]]:
    """Return (line number, target) of every relative link in a Markdown file."""
    result: list[tuple[int, str]] = []
    fenced = False
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if FENCE.match(line.lstrip()):
            fenced = not fenced
            continue
        if fenced:
            continue
        for target in LINK.findall(INLINE_CODE.sub("", line)):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE):
                continue  # https:, mailto:, …
            result.append((number, target))
    return result


def broken_links(path: Path, root: Path = ROOT) -> list[str]:
    """Return a line per link of `path` that leads nowhere (named relative to `root`)."""
    problems: list[str] = []
    for number, target in links(path):
        file_part, _, anchor = target.partition("#")
        destination = (path.parent / unquote(file_part)).resolve() if file_part else path
        where = f"{path.relative_to(root)}:{number}: {target}"
        if not destination.exists():
            problems.append(f"{where}: no such file")
        elif anchor and destination.suffix == ".md":
            if unquote(anchor) not in anchors(destination):
                problems.append(f"{where}: no heading with this anchor")
        elif anchor and destination.is_dir():
            problems.append(f"{where}: an anchor into a folder")
    return problems


def test_slug_follows_githubs_rule() -> None:
    assert slug("What `make run` does") == "what-make-run-does"
    assert slug("The web chat on the municipality's site (`/chatt`)") == (
        "the-web-chat-on-the-municipalitys-site-chatt"
    )
    assert (
        slug("7 December 2026, 22:45 UTC: one more run") == "7-december-2026-2245-utc-one-more-run"
    )
    assert slug("Språk och e-post_adresser") == "språk-och-e-post_adresser"


def test_the_check_finds_a_broken_link(tmp_path: Path) -> None:
    (tmp_path / "other.md").write_text("# Other\n\n## A part\n", encoding="utf-8")
    page = tmp_path / "page.md"
    page.write_text(
        "# Page\n\n[fine](other.md#a-part) [self](#page) [gone](missing.md) "
        "[wrong](other.md#no-part) [web](https://example.org/#x)\n"
        "```\n[in code](missing-too.md)\n```\n",
        encoding="utf-8",
    )
    assert broken_links(page, root=tmp_path) == [
        "page.md:3: missing.md: no such file",
        "page.md:3: other.md#no-part: no heading with this anchor",
    ]


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(document: Path) -> None:
    assert document.exists()
    assert broken_links(document) == []
