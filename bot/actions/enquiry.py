"""The actions: route or escalate an enquiry, report an enquiry's status, answer small talk."""

from __future__ import annotations

import abc
import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlmodel import Session

from bot.actions.context import ActionContext, default_context
from bot.i18n import LANGUAGES, normalise_language
from bot.messages.association import language_params
from bot.understanding.language import Identified, identify
from bot.understanding.routing import Decision, decide
from db.enquiries import crud
from db.enquiries import notifications as notify
from db.enquiries.notifications import Kind
from db.enquiries.workflow import SYSTEM_ACTOR, escalate, forward_to_department
from db.models import AssociationUser, Enquiry
from db.people import departments
from db.plumbing.session import session_scope

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
    meta = tracker.latest_message.get("metadata") or {}
    return meta if isinstance(meta, dict) else {}


def _languages(tracker: Tracker) -> Identified:
    """Return the message's languages as the conversation identified them (else identify now)."""
    meta = _metadata(tracker)
    if isinstance(meta.get("reply_language"), str):
        written = meta.get("written_language")
        return Identified(
            written if isinstance(written, str) else None,
            normalise_language(meta["reply_language"]),
            unsupported=meta.get("unsupported_language") is True,
        )
    text = tracker.latest_message.get("text") or ""
    saved = normalise_language(meta.get("language"))
    return identify(text, saved=saved, languages=LANGUAGES)


def _is_enquiry(context: ActionContext, tracker: Tracker) -> bool:
    """Tell whether the routing decision makes the latest message an enquiry."""
    with session_scope(context.engine) as session:
        routes = crud.routes_map(session=session)
    return decide(tracker.latest_message, routes, context.threshold).is_enquiry


def _user_ids(tracker: Tracker) -> tuple[int | None, int | None]:
    meta = _metadata(tracker)
    user_id, chat_id = meta.get("telegram_user_id"), meta.get("chat_id")
    return (
        int(user_id) if isinstance(user_id, int) else None,
        int(chat_id) if isinstance(chat_id, int) else None,
    )


def _message_key(tracker: Tracker) -> str | None:
    key = _metadata(tracker).get("message_key")
    return key if isinstance(key, str) else None


def _user(
    session: Session, tracker: Tracker, language: str | None = None
) -> AssociationUser | None:
    """Return the association user who wrote the message (None when Rasa is used directly)."""
    user_id, chat_id = _user_ids(tracker)
    if user_id is None:
        return None
    channel = _metadata(tracker).get("channel")
    user = crud.get_or_create_user(
        session=session, telegram_user_id=user_id, chat_id=chat_id, language=language or "sv"
    )
    if isinstance(channel, str) and channel in set(notify.Channel):
        user.channel = channel
    return user


HANDLED = {"lotsen": {"handled": True}}
"""Marks a Rasa reply as handled by these actions (the replies themselves are in the outbox)."""


def _reply(
    session: Session,
    tracker: Tracker,
    kind: Kind,
    tag: str,
    enquiry: Enquiry | None = None,
    **params: Any,
) -> None:
    """Queue the reply to the message in its language, once (keyed by the inbound message)."""
    user = _user(session, tracker)
    if user is None:
        return
    key = _message_key(tracker)
    languages = _languages(tracker)
    notify.to_association(
        session=session,
        user=user,
        kind=kind,
        language=languages.reply,
        enquiry=enquiry,
        dedupe_key=f"{key}:{tag}" if key else None,
        **params,
        **language_params(languages),
    )


class ActionHandleEnquiry(_LotsenAction):
    """Log the enquiry, then route it to a department or escalate it to the coordinator."""

    def name(self) -> str:
        """Return the action's name in the domain."""
        return "action_handle_enquiry"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Decide, record the enquiry and its reply in one transaction, and mark it handled."""
        parse = tracker.latest_message
        languages = _languages(tracker)
        meta = _metadata(tracker)
        with session_scope(self.context.engine) as session:
            decision = decide(parse, crud.routes_map(session=session), self.context.threshold)
            if not decision.is_enquiry:
                intent = decision.intent if decision.intent in SMALLTALK else "greet"
                _reply(session, tracker, Kind.SMALLTALK, "smalltalk", intent=intent)
                dispatcher.utter_message(json_message=HANDLED)
                return []
            text = meta.get("text") if isinstance(meta.get("text"), str) else parse.get("text")
            enquiry, created = crud.create_enquiry(
                session=session,
                text=str(text or ""),
                language=languages.reply,
                detected_language=languages.written,
                user=_user(session, tracker, languages.reply),
                message_key=_message_key(tracker),
            )
            if created:
                kind, params = self._decide_and_record(session, enquiry, decision)
                _reply(session, tracker, kind, "answer", enquiry, **params)
            payload = {"lotsen": {"enquiry_id": enquiry.id, "reference": enquiry.reference}}
        dispatcher.utter_message(json_message=payload)
        return []

    def _decide_and_record(
        self, session: Session, enquiry: Enquiry, decision: Decision
    ) -> tuple[Kind, dict[str, Any]]:
        """Route or escalate the new enquiry; return the reply's kind and parameters."""
        enquiry.intent = decision.intent
        enquiry.confidence = decision.confidence
        enquiry.guesses = [[key, round(score, 4)] for key, score in decision.department_scores]
        department = (
            departments.department_by_key(session=session, key=decision.department)
            if decision.department
            else None
        )
        if decision.escalate or department is None:
            reason = decision.reason or "unsure"
            escalate(session=session, enquiry=enquiry, reason=reason, actor=SYSTEM_ACTOR)
            return Kind.ESCALATED, {"reason": reason}
        crud.route_enquiry(
            session=session, enquiry=enquiry, department=department, actor=SYSTEM_ACTOR
        )
        forward_to_department(session=session, enquiry=enquiry, department=department)
        return Kind.ROUTED, {"department": department.key}


class ActionSmalltalk(_LotsenAction):
    """Answer greetings, thanks, goodbyes, yes and no; a hidden question becomes an enquiry."""

    def name(self) -> str:
        """Return the action's name in the domain."""
        return "action_smalltalk"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Reply in the association's language, or handle the message as an enquiry."""
        if _is_enquiry(self.context, tracker):
            return await ActionHandleEnquiry(self.context).run(dispatcher, tracker, domain)
        intent = (tracker.latest_message.get("intent") or {}).get("name") or "greet"
        with session_scope(self.context.engine) as session:
            _reply(
                session,
                tracker,
                Kind.SMALLTALK,
                "smalltalk",
                intent=intent if intent in SMALLTALK else "greet",
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
        if _is_enquiry(self.context, tracker):
            return await ActionHandleEnquiry(self.context).run(dispatcher, tracker, domain)
        references = [
            str(e.get("value")).upper()
            for e in tracker.latest_message.get("entities") or []
            if e.get("entity") == "reference" and e.get("value")
        ]
        with session_scope(self.context.engine) as session:
            _reply(
                session,
                tracker,
                Kind.STATUS,
                "status",
                reference=references[0] if references else None,
            )
        dispatcher.utter_message(json_message=HANDLED)
        return []
