"""The actions: route or escalate an enquiry, report an enquiry's status, answer small talk."""

from __future__ import annotations

import abc
import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.actions.context import ActionContext, default_context
from bot.language import detect_language
from bot.replies import enquiry_reply, escalated_reply, routed_reply, status_reply
from bot.routing import decide
from bot.texts import normalise_language, t
from db import crud
from db.models import Enquiry
from db.session import session_scope
from db.workflow import forward_to_department, notify_coordinator

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


def _language(tracker: Tracker) -> str:
    meta = _metadata(tracker)
    text = tracker.latest_message.get("text") or ""
    preferred = normalise_language(meta.get("language"))
    return normalise_language(
        meta.get("reply_language") or detect_language(text, default=preferred)
    )


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


class ActionHandleEnquiry(_LotsenAction):
    """Log the enquiry, then route it to a department or escalate it to the coordinator."""

    def name(self) -> str:
        """Return the action's name in the domain."""
        return "action_handle_enquiry"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Decide, record the enquiry before replying, and reply."""
        parse = tracker.latest_message
        language = _language(tracker)
        meta = _metadata(tracker)
        with session_scope(self.context.engine) as session:
            decision = decide(parse, crud.routes_map(session=session), self.context.threshold)
            if not decision.is_enquiry:
                dispatcher.utter_message(text=t(_smalltalk_key(decision.intent), language))
                return []
            user_id, chat_id = _user_ids(tracker)
            user = (
                crud.get_or_create_user(
                    session=session, telegram_user_id=user_id, chat_id=chat_id, language=language
                )
                if user_id is not None
                else None
            )
            text = meta.get("text") if isinstance(meta.get("text"), str) else parse.get("text")
            enquiry, created = crud.create_enquiry(
                session=session,
                text=str(text or ""),
                language=language,
                user=user,
                message_key=meta.get("message_key")
                if isinstance(meta.get("message_key"), str)
                else None,
            )
            if not created:
                reply = enquiry_reply(session=session, enquiry=enquiry, language=language)
            else:
                reply = self._decide_and_record(session, enquiry, decision, language)
            payload = {"lotsen": {"enquiry_id": enquiry.id, "reference": enquiry.reference}}
        dispatcher.utter_message(text=reply, json_message=payload)
        return []

    def _decide_and_record(
        self, session: Any, enquiry: Enquiry, decision: Any, language: str
    ) -> str:
        enquiry.intent = decision.intent
        enquiry.confidence = decision.confidence
        enquiry.guesses = [[key, round(score, 4)] for key, score in decision.department_scores]
        department = (
            crud.department_by_key(session=session, key=decision.department)
            if decision.department
            else None
        )
        if decision.escalate or department is None:
            reason = decision.reason or "unsure"
            escalation = crud.escalate_enquiry(
                session=session, enquiry=enquiry, reason=reason, actor="lotsen"
            )
            notify_coordinator(
                session=session,
                escalation=escalation,
                coordinator_chat_id=self.context.settings.coordinator_chat_id,
            )
            return escalated_reply(enquiry=enquiry, reason=reason, language=language)
        crud.route_enquiry(session=session, enquiry=enquiry, department=department, actor="lotsen")
        forward_to_department(session=session, enquiry=enquiry, department=department)
        return routed_reply(
            session=session, enquiry=enquiry, department=department, language=language
        )


def _smalltalk_key(intent: str) -> str:
    return intent if intent in SMALLTALK else "greet"


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
        dispatcher.utter_message(text=t(_smalltalk_key(intent), _language(tracker)))
        return []


class ActionEnquiryStatus(_LotsenAction):
    """Tell the association where its enquiries stand; a hidden question becomes an enquiry."""

    def name(self) -> str:
        """Return the action's name in the domain."""
        return "action_enquiry_status"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Look up the user's enquiries; never reveal someone else's."""
        if _is_enquiry(self.context, tracker):
            return await ActionHandleEnquiry(self.context).run(dispatcher, tracker, domain)
        language = _language(tracker)
        references = [
            str(e.get("value"))
            for e in tracker.latest_message.get("entities") or []
            if e.get("entity") == "reference" and e.get("value")
        ]
        user_id, chat_id = _user_ids(tracker)
        with session_scope(self.context.engine) as session:
            user = (
                crud.get_or_create_user(session=session, telegram_user_id=user_id, chat_id=chat_id)
                if user_id is not None
                else None
            )
            mine = list(crud.open_enquiries_for_user(session=session, user=user)) if user else []
            if references:
                wanted = references[0].upper()
                found: Enquiry | None = crud.enquiry_by_reference(session=session, reference=wanted)
                if found is None or user is None or found.user_id != user.id:
                    dispatcher.utter_message(
                        text=t("status_unknown_reference", language, reference=wanted)
                    )
                    return []
                text = status_reply(session=session, enquiries=[found], language=language)
            else:
                text = status_reply(session=session, enquiries=mine, language=language)
        dispatcher.utter_message(text=text)
        return []
