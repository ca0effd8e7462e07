"""One intake: every channel hands an association's question to `receive`, and nothing else
creates, routes, forwards or escalates an enquiry from a message.

API (typed; no dict travels between the callers):

- `Message` — the inbound message: its `key` (channel-neutral, `message_key(channel,
  conversation, message)`; the same key never makes two enquiries, nor does its older `tg:`
  form), the `Writer` (channel, the address within it and the conversation replies go back to;
  `db/people/identities.py` finds the person behind it), the `text` (masked and cleaned by
  the channel) and its `Languages` (identified once, where the message arrived; they travel
  with it, also through Rasa: `Message.as_metadata` / `Message.from_metadata` are the one
  codec of Rasa's message metadata).
- `Decision` — the routing decision as the domain needs it: an `Outcome` and its facts (the
  intent, the model's certainty, the department key, the escalation reason, the department
  guesses). The application turns the pure `bot.understanding.routing.decide()` result into it
  (`bot.understanding.routing.for_intake`); a caller that cannot decide (Rasa is down, the
  message kept failing) passes `Decision.escalated(reason)`.
- `receive(session=…, message=…, decision=…, email_enabled=…)` — in the caller's transaction:
  records the writer and the enquiry once (by message key), carries the decision out, and
  writes every notification (the forward or the coordinator's card, and the reply to the
  writer, keyed `<message key>:answer` so that a message handled twice is answered once).
  Returns `Received`: the enquiry, whether this call created it, and the reply it queued.

Callers: Rasa's action server (`bot/actions/enquiry.py`, on a worker thread) and the bot when
Rasa cannot answer (`bot/conversation.py`); the next channels (web chat, e-mail inbound) call
it the same way.

Adding an outcome (e.g. "refer to another authority", "confirm between two departments"):
add it to `Outcome`, give `Decision` the facts it needs (optional fields), write a handler
`(session, enquiry, decision, email_enabled, message) -> Reply | None` and register it in
`HANDLERS`; a test in tests/test_intake.py checks that every outcome has a handler. Referral
(`db/routing/referral.py`) and confirmation (`db/routing/confirmation.py`) are such outcomes.

The intake sits above every other concept of the domain (`db/intake.py`): it may use the
routing table, the referral and confirmation steps, and the enquiry lifecycle below them.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import Session

from db.enquiries import lifecycle
from db.enquiries import notifications as notify
from db.enquiries.lifecycle import SYSTEM_ACTOR
from db.enquiries.notifications import Kind
from db.models import AssociationUser, Enquiry, EscalationReason, utcnow
from db.people.departments import department_by_key
from db.people.identities import Writer, identify
from db.plumbing.keys import message_key
from db.routing.authorities import authority_by_key
from db.routing.confirmation import ask_to_confirm
from db.routing.referral import refer

__all__ = [
    "Decision",
    "Languages",
    "Message",
    "Outcome",
    "Received",
    "Reply",
    "Writer",
    "message_key",
    "receive",
]


UNDETERMINED = "und"
"""ISO 639's code for a language that cannot be told (the same as the channels' rendering)."""


@dataclass(frozen=True)
class Languages:
    """The languages of one message, identified once where it arrived."""

    reply: str
    """The shipped language the writer is answered in."""
    written: str | None = None
    """What the text is written in (ISO 639-1), None when too short or ambiguous to tell."""
    unsupported: bool = False
    """Clearly written in a language we do not answer in (answered in English)."""
    preferred: str | None = None
    """The writer's own language (what they chose), when known."""

    def reply_params(self) -> dict[str, Any]:
        """Return the reply's parameter asking for a line in Swedish (an unsupported language)."""
        if not self.unsupported:
            return {}
        # "und": a script no language was named for (Ethiopic: Tigrinya or Amharic).
        return {"unsupported_language": self.written or UNDETERMINED}


@dataclass(frozen=True)
class Message:
    """An inbound message for the intake."""

    key: str | None
    writer: Writer | None
    """None when Rasa is used directly (no channel): the enquiry is recorded without a writer."""
    text: str
    languages: Languages

    def as_metadata(self) -> dict[str, Any]:
        """Return the message as Rasa's message metadata (read back with `from_metadata`)."""
        writer = self.writer
        return {
            "message_key": self.key,
            "channel": writer.channel if writer else None,
            "address": writer.address if writer else None,
            "conversation": writer.conversation if writer else None,
            "language": self.languages.preferred,
            "reply_language": self.languages.reply,
            "written_language": self.languages.written,
            "unsupported_language": self.languages.unsupported,
            "text": self.text,
        }

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, Any]) -> Message | None:
        """Return the message a channel sent through Rasa (None without its languages).

        Reads the keys `as_metadata` writes; metadata written before the writer became
        channel-neutral is read by the layer that talks to Rasa, which turns it into these
        keys first (`bot/actions/metadata.py`).
        """
        reply = metadata.get("reply_language")
        text = metadata.get("text")
        if not isinstance(reply, str) or not isinstance(text, str):
            return None
        written = metadata.get("written_language")
        preferred = metadata.get("language")
        key = metadata.get("message_key")
        return cls(
            key=key if isinstance(key, str) else None,
            writer=_writer_from(metadata),
            text=text,
            languages=Languages(
                reply=reply,
                written=written if isinstance(written, str) else None,
                unsupported=metadata.get("unsupported_language") is True,
                preferred=preferred if isinstance(preferred, str) else None,
            ),
        )


def _writer_from(metadata: Mapping[str, Any]) -> Writer | None:
    """Return the writer of Rasa message metadata, None without one."""
    channel = metadata.get("channel")
    address = metadata.get("address")
    conversation = metadata.get("conversation")
    if not isinstance(channel, str) or not isinstance(address, str):
        return None
    return Writer(
        channel=channel,
        address=address,
        conversation=conversation if isinstance(conversation, str) else None,
    )


class Outcome(enum.StrEnum):
    """What the routing decision does with an enquiry."""

    ROUTE = "route"  # to the department `Decision.department`
    ESCALATE = "escalate"  # to the coordinator, for `Decision.reason`
    REFER = "refer"  # to another authority, `Decision.authority` (the association is told)
    CONFIRM = "confirm"  # the association chooses between `Decision.options` first


@dataclass(frozen=True)
class Decision:
    """The routing decision for one enquiry, as the domain carries it out."""

    outcome: Outcome
    intent: str | None = None
    confidence: float | None = None
    department: str | None = None
    reason: EscalationReason | None = None
    guesses: tuple[tuple[str, float], ...] = ()
    authority: str | None = None
    """REFER: the key of the other authority (the authorities table)."""
    options: tuple[str, str] | None = None
    """CONFIRM: the two likeliest departments, best first."""
    option_intents: Mapping[str, str] = field(default_factory=dict)
    """CONFIRM: each option's likeliest intent (what the association's choice teaches)."""

    @classmethod
    def escalated(cls, reason: EscalationReason) -> Decision:
        """Return the decision to give the enquiry to the coordinator (nothing else known)."""
        return cls(Outcome.ESCALATE, reason=reason)


@dataclass(frozen=True)
class Reply:
    """What the writer is told about the enquiry: a message kind and its parameters."""

    kind: Kind
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Received:
    """What `receive` did."""

    enquiry: Enquiry
    created: bool
    """False when the message was received before (its key): nothing was done again."""
    reply: Reply | None
    """The reply queued for the writer (None when nothing new was done, or without a writer)."""


def _escalate(
    session: Session, enquiry: Enquiry, decision: Decision, email_enabled: bool, message: Message
) -> Reply:
    reason = decision.reason or EscalationReason.UNSURE
    lifecycle.escalated(session=session, enquiry=enquiry, reason=reason, actor=SYSTEM_ACTOR)
    return Reply(Kind.ESCALATED, {"reason": reason})


def _route(
    session: Session, enquiry: Enquiry, decision: Decision, email_enabled: bool, message: Message
) -> Reply:
    department = (
        department_by_key(session=session, key=decision.department) if decision.department else None
    )
    if department is None:  # a route to a department that no longer exists
        unsure = Decision.escalated(EscalationReason.UNSURE)
        return _escalate(session, enquiry, unsure, False, message)
    sent = lifecycle.routed(
        session=session,
        enquiry=enquiry,
        department=department,
        actor=SYSTEM_ACTOR,
        email_enabled=email_enabled,
    )
    if not sent.forwarded:  # nobody at the department can be reached: the coordinator has it
        return Reply(Kind.ESCALATED, {"reason": EscalationReason.UNREACHABLE})
    return Reply(Kind.ROUTED, {"department": department.key})


def _answer(message: Message) -> dict[str, Any]:
    """Return the once-only key and the languages line of the answer to this message."""
    return {
        "dedupe_key": f"{message.key}:answer" if message.key else None,
        **message.languages.reply_params(),
    }


def _refer(
    session: Session, enquiry: Enquiry, decision: Decision, email_enabled: bool, message: Message
) -> Reply | None:
    key = decision.authority
    if key is None or authority_by_key(session=session, key=key) is None:
        # gone from the table meanwhile: the coordinator has it, as out of scope
        gone = Decision.escalated(EscalationReason.OUT_OF_SCOPE)
        return _escalate(session, enquiry, gone, email_enabled, message)
    refer(
        session=session,
        enquiry=enquiry,
        authority_key=key,
        actor=SYSTEM_ACTOR,
        **_answer(message),
    )
    return None


def _confirm(
    session: Session, enquiry: Enquiry, decision: Decision, email_enabled: bool, message: Message
) -> Reply | None:
    options = decision.options
    if options is None or any(department_by_key(session=session, key=k) is None for k in options):
        return _route(session, enquiry, decision, email_enabled, message)
    ask_to_confirm(
        session=session,
        enquiry=enquiry,
        options=options,
        actor=SYSTEM_ACTOR,
        intents=dict(decision.option_intents),
        **_answer(message),
    )
    return None


Handler = Callable[[Session, Enquiry, Decision, bool, Message], "Reply | None"]
HANDLERS: dict[Outcome, Handler] = {
    Outcome.ROUTE: _route,
    Outcome.ESCALATE: _escalate,
    Outcome.REFER: _refer,
    Outcome.CONFIRM: _confirm,
}
"""How each outcome is carried out (session, the new enquiry, the decision, e-mail on, the
message). A handler returns the reply for `receive` to queue, or None when it queued its own
answer (a referral with its button, a question with the two departments)."""


def _writer(session: Session, message: Message) -> AssociationUser | None:
    writer = message.writer
    if writer is None:
        return None
    return identify(
        session=session,
        writer=writer,
        language=message.languages.preferred or message.languages.reply,
    )


def receive(
    *,
    session: Session,
    message: Message,
    decision: Decision,
    email_enabled: bool,
    case_system: bool = False,
) -> Received:
    """Record an association's question once, carry the decision out, and queue the reply.

    Everything happens in the caller's transaction: the enquiry, its events, the forward or
    the coordinator's card, the reply to the writer, and — with `case_system` (the errand
    adapter is configured: `Settings.errand_enabled`) — the outbox row that files it in the
    municipality's case system, so a crash after the commit still files it, once.
    """
    user = _writer(session, message)
    enquiry, created = lifecycle.received(
        session=session,
        text=message.text,
        language=message.languages.reply,
        detected_language=message.languages.written,
        user=user,
        message_key=message.key,
        conversation=message.writer.conversation if message.writer else None,
    )
    if not created:
        return Received(enquiry=enquiry, created=False, reply=None)
    enquiry.intent = decision.intent
    enquiry.confidence = decision.confidence
    enquiry.guesses = [[key, round(score, 4)] for key, score in decision.guesses]
    reply = HANDLERS[decision.outcome](session, enquiry, decision, email_enabled, message)
    if case_system:  # routed (or escalated) by now: the errand is rendered when it is sent
        notify.to_case_system(session=session, enquiry=enquiry, now=utcnow())
    if user is None or reply is None:
        return Received(enquiry=enquiry, created=True, reply=reply)
    notify.to_association(
        session=session,
        user=user,
        kind=reply.kind,
        language=message.languages.reply,
        enquiry=enquiry,
        dedupe_key=f"{message.key}:answer" if message.key else None,
        **reply.params,
        **message.languages.reply_params(),
    )
    return Received(enquiry=enquiry, created=True, reply=reply)
