"""`python -m bot.i18n update|check|compile`: merge new messages into the catalogues, list gaps,
or compile the catalogues for a quick start (bot/i18n/__init__.py; `make setup` runs it)."""

from __future__ import annotations

import sys

from bot.i18n.catalogue import problems, update


def main(argv: list[str]) -> int:
    """Run the command named in argv; return the exit status."""
    if argv[:1] == ["update"]:
        update()
        return 0
    if argv[:1] == ["check"]:
        found = list(problems())
        for problem in found:
            print(problem)
        return 1 if found else 0
    if argv[:1] == ["compile"]:
        from bot.i18n import LANGUAGES, compile_all

        kept = compile_all()
        print(f"{len(kept)} of {len(LANGUAGES)} catalogues compiled and kept", file=sys.stderr)
        return 0
    print("usage: python -m bot.i18n update|check|compile", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
