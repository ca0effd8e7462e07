"""The `lotsen` command line: one Typer app assembled from one module per command group."""

from __future__ import annotations

import logging
import sys

import typer

from bot.cli import authorities, db, desk, inbox, nlu, privacy, queue, routes, run, staff

GROUPS = (db, nlu, run, routes, authorities, staff, queue, inbox, privacy, desk)


def build_app() -> typer.Typer:
    """Return the `lotsen` app with every command group attached."""
    root = typer.Typer(
        name="lotsen",
        help="Lotsen – en väg in för föreningar till rätt förvaltning.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
    )
    for group in GROUPS:
        group.register(root)
    return root


app = build_app()


def main() -> None:
    """Run the command line."""
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
