"""The association's side of a conversation, shared by the Telegram bot and the console chat."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

from bot.messages.replies import escalated_reply, status_reply
from bot.messages.texts import normalise_language, t
from bot.services import Services
from bot.understanding.language import detect_language
from bot.understanding.rasa_client import RasaError
from db import crud
from db.masking import clean_text, mask_personal_data
from db.models import Association, EscalationReason
from db.session import session_scope
from db.workflow import notify_coordinator

log = logging.getLogger(__name__)

ORG_NUMBER = re.compile(r"\b(\d{6}-?\d{4})\b")


@dataclass
class Reply:
    """One message for the association: text and optional buttons (label, callback data)."""

    text: str
    buttons: list[list[tuple[str, str]]] = field(default_factory=list)
    enquiry_id: int | None = None


def language_buttons() -> list[list[tuple[str, str]]]:
    """Return the language choice as one row of buttons."""
    return [[("Svenska", "lang:sv"), ("English", "lang:en")]]


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


class Conversation:
    """Turn an association's message into replies: record, ask Rasa, fall back safely."""

    def __init__(self, services: Services) -> None:
        self.services = services

    def user_language(self, *, user_id: int, chat_id: int | None) -> str:
        """Return the language the user chose (Swedish by default)."""
        with session_scope(self.services.engine) as session:
            user = crud.get_or_create_user(
                session=session, telegram_user_id=user_id, chat_id=chat_id
            )
            return normalise_language(user.language)

    def start(self, *, user_id: int, chat_id: int | None, municipality: str | None = None) -> Reply:
        """Greet a new user, offer the language choice and ask for the association."""
        with session_scope(self.services.engine) as session:
            user = crud.get_or_create_user(
                session=session, telegram_user_id=user_id, chat_id=chat_id
            )
            user.awaiting = "association"
            name = municipality or crud.get_municipality(session=session).name
            language = user.language
        return Reply(t("welcome", language, municipality=name), language_buttons())

    def resume(self, *, user_id: int, chat_id: int | None) -> Reply | None:
        """Welcome back a user whose association is known; None for a first visit."""
        with session_scope(self.services.engine) as session:
            user = crud.get_or_create_user(
                session=session, telegram_user_id=user_id, chat_id=chat_id
            )
            if user.association_id is None:
                return None
            association = session.get(Association, user.association_id)
            name = association.name if association else ""
            return Reply(t("welcome_back", user.language, name=name))

    def set_language(self, *, user_id: int, chat_id: int | None, language: str) -> list[Reply]:
        """Store the user's language and say so; ask for the association if still missing."""
        language = normalise_language(language)
        with session_scope(self.services.engine) as session:
            user = crud.get_or_create_user(
                session=session, telegram_user_id=user_id, chat_id=chat_id
            )
            user.language = language
            replies = [Reply(t("language_set", language))]
            if user.awaiting == "association":
                replies.append(Reply(t("ask_association", language)))
        return replies

    def cancel(self, *, user_id: int, chat_id: int | None) -> Reply:
        """Stop whatever the bot is waiting for."""
        with session_scope(self.services.engine) as session:
            user = crud.get_or_create_user(
                session=session, telegram_user_id=user_id, chat_id=chat_id
            )
            waited, user.awaiting = user.awaiting, None
            return Reply(t("cancelled" if waited else "nothing_to_cancel", user.language))

    def status(self, *, user_id: int, chat_id: int | None) -> Reply:
        """List the user's open enquiries."""
        with session_scope(self.services.engine) as session:
            user = crud.get_or_create_user(
                session=session, telegram_user_id=user_id, chat_id=chat_id
            )
            enquiries = crud.open_enquiries_for_user(session=session, user=user)
            return Reply(status_reply(session=session, enquiries=enquiries, language=user.language))

    async def handle_text(
        self, *, user_id: int, chat_id: int, text: str, message_key: str | None
    ) -> list[Reply]:
        """Handle a text message: association name when asked for, otherwise a question."""
        cleaned = clean_text(text)
        with session_scope(self.services.engine) as session:
            user = crud.get_or_create_user(
                session=session, telegram_user_id=user_id, chat_id=chat_id
            )
            preferred = normalise_language(user.language)
            if not cleaned:
                return [Reply(t("empty_message", preferred))]
            if user.awaiting == "association":
                parsed = parse_association(cleaned)
                if parsed is None:
                    return [Reply(t("association_invalid", user.language))]
                association = crud.set_user_association(
                    session=session, user=user, name=parsed[0], org_number=parsed[1]
                )
                user.awaiting = None
                return [Reply(t("association_saved", user.language, name=association.name))]
        return await self.ask(
            user_id=user_id,
            chat_id=chat_id,
            text=cleaned,
            message_key=message_key,
            preferred=preferred,
        )

    async def ask(
        self, *, user_id: int, chat_id: int, text: str, message_key: str | None, preferred: str
    ) -> list[Reply]:
        """Mask personal data, let Rasa route the question, and never lose it if Rasa fails."""
        masked = mask_personal_data(text)
        language = detect_language(masked, default=preferred)
        limit = self.services.settings.max_message_chars
        replies: list[Reply] = []
        if len(masked) > limit:
            replies.append(Reply(t("too_long", language, length=len(masked))))
        metadata = {
            "message_key": message_key,
            "telegram_user_id": user_id,
            "chat_id": chat_id,
            "language": preferred,
            "reply_language": language,
            "text": masked,
        }
        try:
            messages = await self.services.rasa.send(
                sender=f"tg:{chat_id}:{user_id}", text=masked[:limit], metadata=metadata
            )
        except RasaError as exc:
            log.warning("Rasa unavailable, registering the enquiry for the coordinator: %s", exc)
            messages = []
        answers = merge_rasa_messages(messages)
        if not answers:
            answers = [self._register_unrouted(user_id, chat_id, masked, language, message_key)]
        return replies + answers

    def _register_unrouted(
        self, user_id: int, chat_id: int, text: str, language: str, message_key: str | None
    ) -> Reply:
        """Record the question as an enquiry for the coordinator when Rasa could not handle it."""
        with session_scope(self.services.engine) as session:
            user = crud.get_or_create_user(
                session=session, telegram_user_id=user_id, chat_id=chat_id
            )
            enquiry, created = crud.create_enquiry(
                session=session, text=text, language=language, user=user, message_key=message_key
            )
            if created:
                escalation = crud.escalate_enquiry(
                    session=session,
                    enquiry=enquiry,
                    reason=EscalationReason.UNAVAILABLE,
                    actor="lotsen",
                )
                notify_coordinator(
                    session=session,
                    escalation=escalation,
                    coordinator_chat_id=self.services.settings.coordinator_chat_id,
                )
            reply = escalated_reply(
                enquiry=enquiry, reason=EscalationReason.UNAVAILABLE, language=language
            )
            return Reply(reply, enquiry_id=enquiry.id)


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
