"""The actions: route or escalate an enquiry, report an enquiry's status, answer small talk."""

from __future__ import annotations

import abc
import asyncio
import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlmodel import Session

from bot.actions import metadata
from bot.actions.context import ActionContext, default_context
from bot.i18n import LANGUAGES, normalise_language
from bot.understanding.language import identify
from bot.understanding.routing import Decision, decide
from db import intake
from db.enquiries import crud
from db.enquiries import notifications as notify
from db.enquiries.notifications import Kind
from db.people import identities
from db.plumbing.session import session_scope
from db.routing.authorities import intent_map

log = logging.getLogger(__name__)

SMALLTALK = {"greet", "goodbye", "thanks", "affirm", "deny"}


class _LotsenAction(Action, abc.ABC):  # type: ignore[misc]
    """Base class holding the shared context (abstract, so rasa-sdk does not register it)."""

    @abc.abstractmethod
    def name(self) -> str:
        """Return the action's name in the domain."""

    def __init__(self, context: ActionContext | None = None) -> None:
        self._context = context

    @property
    def context(self) -> ActionContext:
        """Return the context, creating the default one on first use."""
        if self._context is None:
            self._context = default_context()
        return self._context


def _metadata(tracker: Tracker) -> dict[str, Any]:
    """Return the latest message's metadata in the keys the domain reads (older ones too)."""
    meta = tracker.latest_message.get("metadata") or {}
    return metadata.current(meta) if isinstance(meta, dict) else {}


def _message(tracker: Tracker) -> intake.Message:
    """Return the message as its channel sent it (languages identified there), else as Rasa
    got it (Rasa used directly: no writer, the languages identified now)."""
    sent = intake.Message.from_metadata(_metadata(tracker))
    if sent is not None:
        return sent
    meta = _metadata(tracker)
    text = str(tracker.latest_message.get("text") or "")
    saved = normalise_language(meta.get("language"))
    found = identify(text, saved=saved, languages=LANGUAGES)
    bare = intake.Message.from_metadata(
        {**meta, "text": text, "reply_language": found.reply, "written_language": found.written}
    )
    assert bare is not None
    return replace(
        bare, languages=replace(bare.languages, unsupported=found.unsupported, preferred=saved)
    )


def for_intake(
    decision: Decision, parse: dict[str, Any], routes: dict[str, str]
) -> intake.Decision:
    """Return the pure decision as the one intake carries it out (db/intake.py)."""
    if decision.escalate:
        outcome = intake.Outcome.ESCALATE
    elif decision.refer is not None:
        outcome = intake.Outcome.REFER
    elif decision.confirm is not None:
        outcome = intake.Outcome.CONFIRM
    else:
        outcome = intake.Outcome.ROUTE
    return intake.Decision(
        outcome=outcome,
        intent=decision.intent,
        confidence=decision.confidence,
        department=decision.department,
        reason=decision.reason,
        guesses=decision.department_scores,
        authority=decision.refer,
        options=decision.confirm,
        option_intents=_best_intents(parse, routes) if decision.confirm else {},
    )


def _decide(
    session: Session,
    context: ActionContext,
    parse: dict[str, Any],
    routes: dict[str, str] | None = None,
) -> Decision:
    """Decide with the routing table (`routes`, read here when not given) and the authorities
    table as they are now."""
    return decide(
        parse,
        routes if routes is not None else crud.routes_map(session=session),
        context.threshold,
        authorities=intent_map(session=session),
    )


def _is_enquiry(context: ActionContext, tracker: Tracker) -> bool:
    """Tell whether the routing decision makes the latest message an enquiry."""
    with session_scope(context.engine) as session:
        return _decide(session, context, tracker.latest_message).is_enquiry


def _best_intents(parse: dict[str, Any], routes: dict[str, str]) -> dict[str, str]:
    """Return each department's likeliest intent in the parse (what a choice of it teaches)."""
    best: dict[str, str] = {}
    for item in parse.get("intent_ranking") or []:
        name = item.get("name") if isinstance(item, dict) else None
        department = routes.get(name) if isinstance(name, str) else None
        if department and department not in best and isinstance(name, str):
            best[department] = name
    return best


def _in_transaction(context: ActionContext, work: Callable[[Session], None]) -> None:
    """Run `work` in one transaction (called on a worker thread, never in the event loop)."""
    with session_scope(context.engine) as session:
        work(session)


HANDLED = {"lotsen": {"handled": True}}
"""Marks a Rasa reply as handled by these actions (the replies themselves are in the outbox)."""


def _reply(session: Session, message: intake.Message, kind: Kind, tag: str, **params: Any) -> None:
    """Queue a reply that is not about an enquiry (small talk, status), once per message."""
    writer = message.writer
    if writer is None:
        return
    user = identities.identify(session=session, writer=writer, language=message.languages.reply)
    notify.to_association(
        session=session,
        user=user,
        kind=kind,
        language=message.languages.reply,
        dedupe_key=f"{message.key}:{tag}" if message.key else None,
        **params,
        **message.languages.reply_params(),
    )


class ActionHandleEnquiry(_LotsenAction):
    """Hand the enquiry to the one intake (db/intake.py), or answer small talk."""

    def name(self) -> str:
        """Return the action's name in the domain."""
        return "action_handle_enquiry"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Decide, and record the enquiry and its reply in one transaction (on a thread)."""
        payload = await asyncio.to_thread(self._handle, tracker)
        dispatcher.utter_message(json_message=payload)
        return []

    def _handle(self, tracker: Tracker) -> dict[str, Any]:
        message = _message(tracker)
        with session_scope(self.context.engine) as session:
            # The routing table read once: the decision and the intake use the same.
            routes = crud.routes_map(session=session)
            decision = _decide(session, self.context, tracker.latest_message, routes)
            if not decision.is_enquiry:
                intent = decision.intent if decision.intent in SMALLTALK else "greet"
                _reply(session, message, Kind.SMALLTALK, "smalltalk", intent=intent)
                return HANDLED
            received = intake.receive(
                session=session,
                message=message,
                decision=for_intake(decision, tracker.latest_message, routes),
                email_enabled=self.context.settings.email_enabled,
                case_system=self.context.settings.errand_enabled,
            )
            enquiry = received.enquiry
            return {"lotsen": {"enquiry_id": enquiry.id, "reference": enquiry.reference}}


class ActionSmalltalk(_LotsenAction):
    """Answer greetings, thanks, goodbyes, yes and no; a hidden question becomes an enquiry."""

    def name(self) -> str:
        """Return the action's name in the domain."""
        return "action_smalltalk"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Reply in the association's language, or handle the message as an enquiry."""
        if await asyncio.to_thread(_is_enquiry, self.context, tracker):
            return await ActionHandleEnquiry(self.context).run(dispatcher, tracker, domain)
        intent = (tracker.latest_message.get("intent") or {}).get("name") or "greet"
        await asyncio.to_thread(
            _in_transaction,
            self.context,
            lambda session: _reply(
                session,
                _message(tracker),
                Kind.SMALLTALK,
                "smalltalk",
                intent=intent if intent in SMALLTALK else "greet",
            ),
        )
        dispatcher.utter_message(json_message=HANDLED)
        return []


class ActionEnquiryStatus(_LotsenAction):
    """Tell the association where its enquiries stand; a hidden question becomes an enquiry."""

    def name(self) -> str:
        """Return the action's name in the domain."""
        return "action_enquiry_status"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Queue the status of the user's enquiries; never reveal someone else's."""
        if await asyncio.to_thread(_is_enquiry, self.context, tracker):
            return await ActionHandleEnquiry(self.context).run(dispatcher, tracker, domain)
        references = [
            str(e.get("value")).upper()
            for e in tracker.latest_message.get("entities") or []
            if e.get("entity") == "reference" and e.get("value")
        ]
        await asyncio.to_thread(
            _in_transaction,
            self.context,
            lambda session: _reply(
                session,
                _message(tracker),
                Kind.STATUS,
                "status",
                reference=references[0] if references else None,
            ),
        )
        dispatcher.utter_message(json_message=HANDLED)
        return []
