"""Run `lotsen run`'s supervisor with only the action server until stdin closes (for tests).

Prints "ready" on stdout once the action server answers, or "Could not start: …" on stderr and
exits with status 2, as `lotsen run` does.
"""

from __future__ import annotations

import sys

from bot.processes.supervisor import Child, StartError, Supervisor
from bot.settings import load_settings


class ActionServerOnly(Supervisor):
    """The supervisor of `lotsen run`, planning only the action server (Rasa is slow to start)."""

    def plan(self) -> list[Child]:
        """Return only the action server."""
        return [child for child in super().plan() if child.name == "action server"]


def main() -> int:
    """Start the action server, report readiness, and stop it when stdin closes."""
    supervisor = ActionServerOnly(
        load_settings(), report=lambda line: print(line, file=sys.stderr, flush=True)
    )
    try:
        supervisor.start()
    except StartError as exc:
        print(f"Could not start: {exc}", file=sys.stderr, flush=True)
        supervisor.stop()
        return 2
    print("ready", flush=True)
    sys.stdin.read()
    supervisor.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
