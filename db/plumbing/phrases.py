"""Sentences the domain says to people, kept as catalogue message ids; channels translate them.

The domain never imports the channels' translator. It marks its sentences with `N_` (so the
catalogue extraction finds them) and carries them as a `Phrase`: the Swedish message id and
its values. `str()` of a phrase is the Swedish source text; a channel shows it in the reader's
language with `bot.i18n.translate`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


def N_(message: str) -> str:
    """Mark a message id for the catalogues without translating it (gettext_noop)."""
    return message


@dataclass(frozen=True)
class Phrase:
    """A sentence for a person: its catalogue message id (Swedish) and the values it names."""

    message: str
    values: Mapping[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        """Return the Swedish source text with its values (and phrases among them) filled in."""
        return self.message.format(**self.values) if self.values else self.message


class DomainError(ValueError):
    """A refusal the domain explains to the person: the phrase says why; nothing was changed."""

    def __init__(self, message: str, /, **values: Any) -> None:
        self.phrase = Phrase(message, values)
        super().__init__(str(self.phrase))
