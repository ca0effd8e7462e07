"""A forward always reaches someone: which channels carry it to a department, and if none can.

A department chooses where it takes enquiries (`Department.channels`: its chat group, e-mail
or both). `department_reach` says which of the chosen channels can carry a forward right now and,
for those that cannot, why (`Unreachable`). When none can, the forward goes by e-mail to the
department's functional mailbox, else to the e-mail address of its contact who answers today,
provided e-mail is switched on (SMTP configured); otherwise the department cannot be reached.

The lifecycle's `routed` (db/enquiries/lifecycle/) hands a routed enquiry to its department
with these channels, or, when nothing can reach it, escalates it to the coordinator at once
with the reason `EscalationReason.UNREACHABLE` — never silence. Its result says which
happened, so the association is told "sent" only when a notification to the department was
queued. `lotsen routes check` and the start of `lotsen run` name the
departments nobody can reach (`unreachable_problems`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from db.enquiries.notifications import CHAT_APP, Channel
from db.models import BY_GROUP_CHAT, BY_MAIL, Department
from db.people.departments import department_mailbox
from db.plumbing.phrases import N_, Phrase


class Unreachable(enum.StrEnum):
    """Why a channel cannot carry a forward to a department."""

    NO_GROUP = "no_group"  # the chat app chosen, but the department has no chat group
    NO_ADDRESS = "no_address"  # no functional mailbox, and today's contact has no e-mail
    EMAIL_OFF = "email_off"  # e-mail is switched off (SMTP_HOST is not set)


WHY = {
    # Translators: why a department cannot be reached (joined with "; " into a sentence);
    # {channel} is the chat app's name.
    Unreachable.NO_GROUP: N_("{channel} är valt men förvaltningen har ingen {channel}-grupp"),
    # Translators: why a department cannot be reached.
    Unreachable.NO_ADDRESS: N_("ingen e-postadress (varken funktionsbrevlåda eller kontakt)"),
    # Translators: why a department cannot be reached; SMTP_HOST is a setting's name.
    Unreachable.EMAIL_OFF: N_("e-posten är avstängd (SMTP_HOST saknas)"),
}


@dataclass(frozen=True)
class Reach:
    """How a forward reaches a department right now.

    `channels` carry it (empty: nobody can be reached); `problems` say why a chosen channel
    cannot, and, when `channels` is empty, why the e-mail fallback cannot either; `fallback`
    is True when the forward goes by e-mail although the department did not choose it (or its
    chosen channels all fail).
    """

    channels: tuple[Channel, ...]
    problems: tuple[Unreachable, ...] = ()
    fallback: bool = False

    @property
    def reachable(self) -> bool:
        """Tell whether any channel carries the forward."""
        return bool(self.channels)


def department_reach(
    *, session: Session, department: Department, email_enabled: bool, now: datetime | None = None
) -> Reach:
    """Return the channels that carry a forward to the department now, and what fails."""
    chosen = department.channels
    mailbox = department_mailbox(session=session, department=department, now=now)
    channels: list[Channel] = []
    problems: list[Unreachable] = []
    if chosen in BY_GROUP_CHAT:
        if department.group_chat is not None:
            channels.append(CHAT_APP)
        else:
            problems.append(Unreachable.NO_GROUP)
    if chosen in BY_MAIL:
        if not mailbox:
            problems.append(Unreachable.NO_ADDRESS)
        elif not email_enabled:
            problems.append(Unreachable.EMAIL_OFF)
        else:
            channels.append(Channel.EMAIL)
    if channels:
        return Reach(tuple(channels), tuple(problems))
    if mailbox and email_enabled:
        return Reach((Channel.EMAIL,), tuple(problems), fallback=True)
    blocker = Unreachable.NO_ADDRESS if not mailbox else Unreachable.EMAIL_OFF
    if blocker not in problems:
        problems.append(blocker)
    return Reach((), tuple(problems))


def why_unreachable(reach: Reach) -> Phrase:
    """Return the reasons of a reach as one phrase ("…; …")."""
    parts = [Phrase(WHY[p], {"channel": CHAT_APP}) for p in reach.problems]
    phrase = parts[0]
    for part in parts[1:]:
        phrase = Phrase("{first}; {second}", {"first": phrase, "second": part})
    return phrase


UNREACHABLE = N_("förvaltningen '{key}' kan inte nås: {why}; frågorna går direkt till samordnaren")
NO_MAIL_ADDRESS = N_("förvaltningen '{key}' ska få frågor per e-post men har ingen e-postadress")


def reach_problems(
    *, session: Session, department: Department, email_enabled: bool, now: datetime | None = None
) -> list[Phrase]:
    """Return why a department cannot be reached (nothing when it can), and a chosen e-mail
    without an address."""
    reach = department_reach(
        session=session, department=department, email_enabled=email_enabled, now=now
    )
    key = {"key": department.key}
    problems: list[Phrase] = []
    if department.channels in BY_MAIL and Unreachable.NO_ADDRESS in reach.problems:
        problems.append(Phrase(NO_MAIL_ADDRESS, key))
    said_all = bool(problems) and set(reach.problems) == {Unreachable.NO_ADDRESS}
    if not reach.reachable and not said_all:  # the line above may say all there is to say
        problems.append(Phrase(UNREACHABLE, {**key, "why": why_unreachable(reach)}))
    return problems


def unreachable_problems(
    *, session: Session, email_enabled: bool, now: datetime | None = None
) -> list[Phrase]:
    """Return `reach_problems` for every department (for the start of `lotsen run`)."""
    problems: list[Phrase] = []
    for department in session.exec(select(Department).order_by(col(Department.key))).all():
        problems += reach_problems(
            session=session, department=department, email_enabled=email_enabled, now=now
        )
    return problems
