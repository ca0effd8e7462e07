"""The association's side of a conversation, shared by every channel (Telegram, the console).

Each method records what the association said or asked for and what it must hear back, in
one transaction: replies are outbox notifications (db/enquiries/notifications.py), keyed by
the inbound message so that handling a message twice answers it once. The channel's dispatcher
renders and sends them. Questions go to Rasa outside any transaction; if Rasa cannot handle one,
it is
still recorded and escalated, and the association gets its reference number.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlmodel import Session

from bot.i18n import LANGUAGES, normalise_language
from bot.messages import choices
from bot.messages.association import language_params
from bot.messages.department import already_handled, button_invalid
from bot.services import Services
from bot.understanding.language import identify, warm_up
from bot.understanding.rasa_client import RasaError
from db import feedback, intake
from db.enquiries import crud
from db.enquiries import notifications as notify
from db.enquiries.inbox import UNREADABLE_TEXT
from db.enquiries.notifications import Channel, Kind
from db.enquiries.tracker_events import sender_id
from db.enquiries.workflow import WorkflowError
from db.intake import Writer
from db.models import AssociationUser, Enquiry, EscalationReason
from db.people import identities
from db.people.limits import Verdict
from db.privacy import erasure
from db.privacy.masking import clean_text, mask_personal_data
from db.routing.confirmation import choose
from db.routing.referral import dispute_referral

log = logging.getLogger(__name__)
T = TypeVar("T")

ORG_NUMBER = re.compile(r"\b(\d{6}-?\d{4})\b")


@dataclass
class Reply:
    """A text Rasa itself said (a response, not an action): text, buttons and enquiry id."""

    text: str
    buttons: list[list[tuple[str, str]]] = field(default_factory=list)
    enquiry_id: int | None = None


def parse_association(text: str) -> tuple[str, str | None] | None:
    """Split 'Name, 802400-1234' into a name and an optional organisation number."""
    org = ORG_NUMBER.search(text)
    org_number = None
    if org:
        digits = org.group(1).replace("-", "")
        org_number = f"{digits[:6]}-{digits[6:]}"
        text = text.replace(org.group(1), "")
    name = " ".join(text.replace(",", " ").split())
    if not 2 <= len(name) <= 200:
        return None
    return name, org_number


class Turn:
    """The replies to one inbound message, each deduplicated by the message's key."""

    def __init__(self, session: Session, user: AssociationUser, key: str | None) -> None:
        self.session = session
        self.user = user
        self.key = key
        self._count = 0

    @property
    def language(self) -> str:
        """Return the user's language."""
        return normalise_language(self.user.language)

    def say(
        self, kind: Kind, *, enquiry: Enquiry | None = None, tag: str | None = None, **params: Any
    ) -> None:
        """Queue one reply (in the user's language) for this message."""
        self._count += 1
        dedupe = f"{self.key}:{tag or self._count}" if self.key else None
        notify.to_association(
            session=self.session,
            user=self.user,
            kind=kind,
            language=params.pop("language", None) or self.language,
            enquiry=enquiry,
            dedupe_key=dedupe,
            **params,
        )


def association_actor(person: AssociationUser) -> str:
    """Return how the history names a person writing for an association (their row)."""
    return f"association:person:{person.id}"


Admit = Callable[[Session], Verdict]
"""The per-person rate limit, taken in the caller's transaction (`RateLimiter.admit_in`)."""


def _refuse_flood(turn: Turn, text: str | None) -> None:
    """Tell the writer once that they write too fast: in the language the refused message is
    clearly written in, else in their own."""
    language = turn.language
    if text and text.strip():
        masked = mask_personal_data(text)
        language = identify(masked, saved=language, languages=LANGUAGES).reply
    turn.say(Kind.RATE_LIMITED, language=language)


class Conversation:
    """Turn what an association writes or presses into recorded replies."""

    def __init__(self, services: Services, channel: Channel = Channel.TELEGRAM) -> None:
        self.services = services
        self.channel = channel
        """The channel this conversation's channel hands writers in from (each `Writer`
        names its own channel; the conversation serves any)."""

    async def _turn(self, writer: Writer, key: str | None, work: Callable[[Turn], T]) -> T:
        """Run one turn: find (or create) the person writing and let `work` record what happens."""

        def call(session: Session) -> T:
            user = identities.identify(session=session, writer=writer, language="sv")
            return work(Turn(session, user, key))

        return await self.services.db(call)

    async def prepare(self) -> None:
        """Load the language detector before the first message (about a second)."""
        await asyncio.to_thread(warm_up)

    async def language_of(self, *, writer: Writer) -> str:
        """Return the language the user chose (Swedish by default)."""
        return await self._turn(writer, None, lambda turn: turn.language)

    async def start(self, *, writer: Writer, key: str | None) -> None:
        """Greet a new user, offer the language choice and ask for the association."""

        def work(turn: Turn) -> None:
            turn.user.awaiting = "association"
            turn.say(Kind.WELCOME)

        await self._turn(writer, key, work)

    async def resume(self, *, writer: Writer, key: str | None) -> bool:
        """Welcome back a user whose association is known; False for a first visit."""

        def work(turn: Turn) -> bool:
            if turn.user.association_id is None:
                return False
            turn.say(Kind.WELCOME_BACK)
            return True

        return await self._turn(writer, key, work)

    async def set_language(self, *, writer: Writer, language: str, key: str | None) -> None:
        """Store the user's language and say so; ask for the association if still missing."""

        def work(turn: Turn) -> None:
            turn.user.language = normalise_language(language)
            turn.say(Kind.LANGUAGE_SET)
            if turn.user.awaiting == "association":
                turn.say(Kind.ASK_ASSOCIATION)

        await self._turn(writer, key, work)

    async def cancel(self, *, writer: Writer, key: str | None) -> None:
        """Stop whatever the bot is waiting for."""

        def work(turn: Turn) -> None:
            waited, turn.user.awaiting = turn.user.awaiting, None
            turn.say(Kind.CANCELLED, waited=bool(waited))

        await self._turn(writer, key, work)

    async def reply(self, *, writer: Writer, kind: Kind, key: str | None) -> None:
        """Queue one reply that changes nothing (help, status, language choice, notices)."""
        await self._turn(writer, key, lambda turn: turn.say(kind))

    async def refuse_flood(self, *, writer: Writer, text: str | None, key: str | None) -> None:
        """Tell the writer once that they write too fast: in the language the refused message is
        clearly written in, else in their own."""

        await self._turn(writer, key, lambda turn: _refuse_flood(turn, text))

    async def request_erasure(self, *, writer: Writer, key: str | None) -> None:
        """File the user's request to erase their data in the coordinator's queue; confirm it."""

        def work(turn: Turn) -> None:
            request = erasure.request_erasure_for(
                session=turn.session, person=turn.user, actor=association_actor(turn.user)
            )
            turn.say(Kind.ERASURE_REQUESTED, enquiry=request.enquiry)

        await self._turn(writer, key, work)

    async def press(self, *, writer: Writer, data: str, key: str | None) -> str | None:
        """Record a press of a referral's or a confirmation's button (`ref:…`, `cf:…`).

        "That is not right" sends a referred enquiry to the coordinator; a department routes
        an enquiry waiting for the association's choice, "something else" escalates it. The
        answer is queued like any reply. Returns the refusal to show (someone else's enquiry,
        a malformed button, an enquiry handled already), None when the press was recorded.
        """
        parsed = choices.parse(data)

        def work(turn: Turn) -> str | None:
            wanted = parsed is not None and parsed.kind in ("ref", "cf")
            enquiry = turn.session.get(Enquiry, parsed.object_id) if parsed and wanted else None
            if parsed is None or enquiry is None or enquiry.user_id != turn.user.id:
                return button_invalid(turn.language)
            actor = association_actor(turn.user)
            dedupe = f"{turn.key}:choice" if turn.key else None
            try:
                if parsed.kind == "ref":
                    dispute_referral(
                        session=turn.session, enquiry=enquiry, actor=actor, dedupe_key=dedupe
                    )
                else:
                    choose(
                        session=turn.session,
                        enquiry=enquiry,
                        department_key=parsed.value if parsed.action == "choose" else None,
                        actor=actor,
                        email_enabled=self.services.settings.email_enabled,
                        dedupe_key=dedupe,
                    )
            except WorkflowError:
                return already_handled(normalise_language(enquiry.language))
            return None

        return await self._turn(writer, key, work)

    async def handle_text(
        self,
        *,
        writer: Writer,
        text: str,
        message_key: str | None,
        admit: Admit | None = None,
    ) -> Verdict:
        """Handle a text message: the association's name when asked for, otherwise a question.

        `admit` takes the per-person rate limit in the turn's own transaction (the database
        store, `RateLimiter.admit_in`): one session and one commit per message instead of two.
        A refused message changes nothing else; the first refusal of a flood gets the notice
        in the same transaction. Returns the limit's verdict (OK without `admit`).
        """
        cleaned = clean_text(text)

        def work(turn: Turn) -> str | None:
            if not cleaned:
                turn.say(Kind.EMPTY_MESSAGE)
                return None
            if feedback.comment_from_chat(session=turn.session, user=turn.user, text=cleaned):
                return None  # the comment on an answer the chat was asked for (db/feedback.py)
            if turn.user.awaiting == "association":
                parsed = parse_association(cleaned)
                if parsed is None:
                    turn.say(Kind.ASSOCIATION_INVALID)
                    return None
                crud.set_user_association(
                    session=turn.session, user=turn.user, name=parsed[0], org_number=parsed[1]
                )
                turn.user.awaiting = None
                turn.say(Kind.ASSOCIATION_SAVED)
                return None
            return turn.language

        def call(session: Session) -> tuple[Verdict, str | None]:
            verdict = admit(session) if admit is not None else Verdict.OK
            if verdict == Verdict.DROP:
                return verdict, None
            user = identities.identify(session=session, writer=writer, language="sv")
            turn = Turn(session, user, message_key)
            if verdict == Verdict.NOTIFY:
                _refuse_flood(turn, text)
                return verdict, None
            return verdict, work(turn)

        verdict, preferred = await self.services.db(call)
        if preferred is not None:
            await self.ask(
                writer=writer,
                text=cleaned,
                message_key=message_key,
                preferred=preferred,
            )
        return verdict

    async def ask(
        self, *, writer: Writer, text: str, message_key: str | None, preferred: str
    ) -> None:
        """Mask personal data, let Rasa route the question, and never lose it if Rasa fails.

        The question is answered in the language it is clearly written in, else in the
        association's own (`preferred`); see bot/understanding/language.py.
        """
        masked = mask_personal_data(text)
        found = identify(masked, saved=preferred, languages=LANGUAGES)
        language = found.reply
        limit = self.services.settings.max_message_chars
        if len(masked) > limit:
            await self._turn(
                writer,
                message_key,
                lambda turn: turn.say(
                    Kind.TOO_LONG,
                    tag="long",
                    language=language,
                    length=len(masked),
                    **language_params(found),
                ),
            )
        message = intake.Message(
            key=message_key,
            writer=writer,
            text=masked,
            languages=intake.Languages(
                reply=language,
                written=found.written,
                unsupported=found.unsupported,
                preferred=preferred,
            ),
        )
        try:
            messages = await self.services.rasa.send(
                sender=sender_id(
                    writer.channel, writer.conversation or writer.address, writer.address
                ),
                text=masked[:limit],
                metadata=message.as_metadata(),
            )
        except RasaError as exc:
            log.warning("Rasa unavailable, registering the enquiry for the coordinator: %s", exc)
            messages = []
        if handled_by_actions(messages):
            return
        said = merge_rasa_messages(messages)

        def work(turn: Turn) -> None:
            if said:
                for n, reply in enumerate(said):
                    turn.say(
                        Kind.TEXT,
                        tag=f"rasa:{n}",
                        language=language,
                        text=reply.text,
                        choices=[[list(button) for button in row] for row in reply.buttons],
                        **language_params(found),
                    )
                return
            self._register_for_coordinator(turn, message, EscalationReason.UNAVAILABLE)

        await self._turn(writer, message_key, work)

    async def register_failed(
        self, *, writer: Writer, text: str | None, message_key: str | None
    ) -> None:
        """Record a message that kept failing as an enquiry for the coordinator; apologise."""
        masked = mask_personal_data(clean_text(text or ""))

        def work(turn: Turn) -> None:
            found = identify(masked, saved=turn.language, languages=LANGUAGES)
            message = intake.Message(
                key=message_key,
                writer=writer,
                text=masked or UNREADABLE_TEXT,
                languages=intake.Languages(
                    reply=found.reply,
                    written=found.written,
                    unsupported=found.unsupported,
                    preferred=turn.language,
                ),
            )
            self._register_for_coordinator(turn, message, EscalationReason.FAILED)

        await self._turn(writer, message_key, work)

    def _register_for_coordinator(
        self, turn: Turn, message: intake.Message, reason: EscalationReason
    ) -> None:
        """Hand the message to the one intake as an enquiry for the coordinator.

        Keyed by the inbound message: an enquiry already recorded for it (by the action server,
        or by an earlier try) is neither recorded nor escalated again, and its answer is said
        once (db/intake.py).
        """
        intake.receive(
            session=turn.session,
            message=message,
            decision=intake.Decision.escalated(reason),
            email_enabled=self.services.settings.email_enabled,
            case_system=self.services.settings.errand_enabled,
        )


def handled_by_actions(messages: list[dict[str, Any]]) -> bool:
    """Tell whether Lotsen's actions handled the message (they mark what they send)."""
    return any(
        isinstance(m.get("custom"), dict) and isinstance(m["custom"].get("lotsen"), dict)
        for m in messages
    )


def merge_rasa_messages(messages: list[dict[str, object]]) -> list[Reply]:
    """Turn Rasa REST messages into replies; buttons become rows, custom data joins its text."""
    replies: list[Reply] = []
    for message in messages:
        custom = message.get("custom")
        info = custom.get("lotsen") if isinstance(custom, dict) else None
        enquiry_id = info.get("enquiry_id") if isinstance(info, dict) else None
        text = str(message.get("text") or "").strip()
        if not text:
            if isinstance(enquiry_id, int) and replies:
                replies[-1].enquiry_id = enquiry_id
            continue
        buttons: list[list[tuple[str, str]]] = []
        raw_buttons = message.get("buttons")
        if isinstance(raw_buttons, list):
            for button in raw_buttons:
                if isinstance(button, dict) and button.get("title"):
                    payload = str(button.get("payload") or button["title"])
                    buttons.append([(str(button["title"]), f"say:{payload}"[:64])])
        previous = replies[-1] if replies else None
        if previous is not None and not previous.buttons and not buttons:
            # Rasa splits a text at blank lines; keep one answer in one message.
            previous.text = f"{previous.text}\n\n{text}"
            if isinstance(enquiry_id, int):
                previous.enquiry_id = enquiry_id
            continue
        replies.append(Reply(text, buttons, enquiry_id if isinstance(enquiry_id, int) else None))
    return replies
