"""`python -m bot.i18n update|check`: merge new messages into the catalogues, or list gaps."""

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
    print("usage: python -m bot.i18n update|check", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
