"""Associations write to one address (INBOUND_ADDRESS): a mail is a message like any other.

The sender's address is a channel identity (`Writer(channel="email", address=<lower-cased
sender>, conversation=<the thread's root Message-ID>)`), and the text (without the quoted mail
and the signature) goes through the one conversation and intake as a Telegram message does: the
same language, question, routing and rate limit. Lotsen's replies are outbox rows for the
person on the e-mail channel, sent in the same thread (`threads.py`).

- A mail in the thread of an enquiry (its In-Reply-To/References name a mail of that enquiry,
  ours or theirs) or with the enquiry's reference in the subject adds to that enquiry (a
  follow-up, `db/enquiries/lifecycle/follow_up.py`) instead of making a new one; only the
  person's own.
- A new address is asked for its association by reply, unless the mail says it
  ("Förening: Storåsa IF", see `ASSOCIATION_LINE`); its question is routed at once all the same.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlmodel import Session, col, select

from bot.channels.email.department import answer_text
from bot.channels.email.inbound import refuse
from bot.channels.email.parse import Incoming
from bot.conversation import Conversation, association_actor, parse_association
from bot.i18n import LANGUAGES
from bot.messages import choices, render
from bot.services import Services
from bot.understanding.language import identify as identify_language
from db.enquiries import crud
from db.enquiries import notifications as notify
from db.enquiries.lifecycle.follow_up import FollowUpRefused, add_follow_up
from db.enquiries.notifications import Kind
from db.enquiries.workflow import WorkflowError, record_feedback
from db.intake import Writer, message_key
from db.models import (
    AssociationUser,
    Enquiry,
    EnquiryStatus,
    InboundMail,
    InboundMailState,
    OutboxMessage,
)
from db.people.identities import find_identity, identify
from db.privacy.masking import mask_personal_data

CHANNEL = "email"
ASSOCIATION_LINE = re.compile(
    r"^[ \t>]*(?:förening(?:en|ens namn)?|association|organisation|organization|yhdistys|"
    r"stowarzyszenie|dernek|udruženje|ururka|جمعية|انجمن|об[ʼ’']єднання)"
    r"[ \t]*[:：][ \t]*(.+?)[ \t]*$",
    re.IGNORECASE | re.MULTILINE,
)
"""A line that names the association ("Förening: Storåsa IF, 802000-0000")."""
REFERENCE = re.compile(r"\bLOT-\d{4}-\d{5,}\b", re.IGNORECASE)
OPEN = (
    EnquiryStatus.RECEIVED,
    EnquiryStatus.ROUTED,
    EnquiryStatus.FORWARDED,
    EnquiryStatus.ESCALATED,
    EnquiryStatus.CONFIRMING,
    EnquiryStatus.ANSWERED,
)
"""An enquiry a mail can still add to (a closed one gets a new enquiry)."""


def association_named(text: str) -> tuple[str, str | None] | None:
    """Return the association a mail names on a line of its own, if any."""
    found = ASSOCIATION_LINE.search(text)
    return parse_association(found.group(1)) if found else None


def enquiry_of_thread(
    session: Session, person: AssociationUser, incoming: Incoming
) -> Enquiry | None:
    """Return the person's open enquiry this mail belongs to (its thread, or the reference)."""
    ids: Sequence[str] = [
        *incoming.references,
        *([incoming.in_reply_to] if incoming.in_reply_to else []),
    ]
    candidates: list[int] = []
    if ids:
        candidates += [
            i
            for i in session.exec(
                select(InboundMail.enquiry_id).where(
                    col(InboundMail.key).in_(list(ids)), col(InboundMail.enquiry_id).is_not(None)
                )
            ).all()
            if i is not None
        ]
        candidates += [
            i
            for i in session.exec(
                select(OutboxMessage.enquiry_id).where(
                    col(OutboxMessage.external_id).in_(list(ids)),
                    col(OutboxMessage.enquiry_id).is_not(None),
                )
            ).all()
            if i is not None
        ]
    for reference in REFERENCE.findall(incoming.subject or ""):
        found = crud.enquiry_by_reference(session=session, reference=reference)
        if found is not None and found.id is not None:
            candidates.append(found.id)
    for enquiry_id in reversed(candidates):  # the newest mention first
        enquiry = session.get(Enquiry, enquiry_id)
        if enquiry is not None and enquiry.user_id == person.id and enquiry.status in OPEN:
            return enquiry
    return None


def _words(text: str) -> str:
    return " ".join(re.sub(r"[^\w]+", " ", text.casefold()).split())


def _replied_to(session: Session, incoming: Incoming, text: str) -> OutboxMessage | None:
    """Return our mail to an association with choices that a one-line reply answers."""
    if not incoming.in_reply_to or "\n" in text.strip():
        return None
    return session.exec(
        select(OutboxMessage).where(
            OutboxMessage.external_id == incoming.in_reply_to[:64],
            OutboxMessage.recipient == notify.Recipient.ASSOCIATION,
        )
    ).first()


def chosen_action(session: Session, incoming: Incoming, text: str) -> str | None:
    """Return the choice a one-line reply to one of our mails with choices names, if any:
    its label ("Ja") or its number ("1")."""
    row = _replied_to(session, incoming, text)
    if row is None:
        return None
    try:
        message = render(session, row)
    except (KeyError, LookupError):
        return None
    said = _words(text)
    options = [choice for line in message.choices for choice in line]
    for number, choice in enumerate(options, 1):
        if said in (_words(choice.label), str(number)):
            return choice.action
    return None


def unanswered_choice(session: Session, incoming: Incoming, text: str) -> OutboxMessage | None:
    """Return the question between departments that a one-line reply naming none of its
    choices answers, while its enquiry still waits for that choice (it is asked again)."""
    row = _replied_to(session, incoming, text)
    if row is None or row.kind != Kind.CONFIRM or row.enquiry_id is None:
        return None
    enquiry = session.get(Enquiry, row.enquiry_id)
    waiting = enquiry is not None and enquiry.status == EnquiryStatus.CONFIRMING
    return row if waiting else None


def ask_again(session: Session, row: OutboxMessage, key: str) -> None:
    """Ask the question between departments again, saying the reply named none of them."""
    person = session.get(AssociationUser, row.recipient_id) if row.recipient_id else None
    enquiry = session.get(Enquiry, row.enquiry_id) if row.enquiry_id else None
    if person is None or enquiry is None:
        return
    notify.to_association(
        session=session,
        user=person,
        kind=Kind.CONFIRM,
        language=row.language,
        enquiry=enquiry,
        dedupe_key=f"{key}:answer"[:128],
        **{**row.params, "again": True},
    )


class AssociationMail:
    """Hand an association's mail to the conversation (or add it to its enquiry)."""

    def __init__(self, services: Services, conversation: Conversation | None = None) -> None:
        self.services = services
        self.conversation = conversation or Conversation(services, notify.Channel.EMAIL)

    async def __call__(self, mail: InboundMail, incoming: Incoming) -> tuple[str, str | None]:
        assert incoming.sender is not None and mail.id is not None
        text = answer_text(incoming.text or "")
        writer = Writer(channel=CHANNEL, address=incoming.sender, conversation=incoming.thread)
        key = message_key(CHANNEL, incoming.thread, incoming.message_id or mail.key)
        if not text:
            return await self.services.db(lambda s: self._refused(s, mail, incoming, "empty"))
        masked = mask_personal_data(text)
        found = identify_language(masked, saved="sv", languages=LANGUAGES)

        def before(session: Session) -> str:
            return _before(
                session,
                mail,
                incoming,
                writer,
                text,
                masked,
                key,
                found.reply,
                self.services.settings.email_enabled,
            )

        action = await self.services.db(lambda s: chosen_action(s, incoming, text))
        if action is not None:
            await self._choose(writer, action, key)
            return InboundMailState.DONE, None

        def again(session: Session) -> bool:
            row = unanswered_choice(session, incoming, text)
            if row is not None:
                ask_again(session, row, key)
            return row is not None

        if await self.services.db(again):
            return InboundMailState.DONE, None
        step = await self.services.db(before)
        if step == "done":
            return InboundMailState.DONE, None
        await self.conversation.handle_text(writer=writer, text=text, message_key=key)

        def after(session: Session) -> None:
            enquiry = session.exec(select(Enquiry).where(Enquiry.message_key == key)).first()
            if enquiry is not None:
                _link(session, mail, enquiry)
            if step == "ask":
                person = identify(session=session, writer=writer, language=found.reply)
                person.awaiting = "association"
                notify.to_association(
                    session=session,
                    user=person,
                    kind=Kind.ASK_ASSOCIATION,
                    language=enquiry.language if enquiry is not None else found.reply,
                    enquiry=enquiry,
                    dedupe_key=f"{key}:ask"[:128],
                )

        await self.services.db(after)
        return InboundMailState.DONE, None

    async def _choose(self, writer: Writer, action: str, key: str) -> None:
        """Do what a choice by reply says, as a button press would."""
        parsed = choices.parse(action)
        if parsed is None:
            return
        if parsed.kind == "lang":
            await self.conversation.set_language(writer=writer, language=parsed.action, key=key)
        elif parsed.kind == "fb":

            def feedback(session: Session) -> None:
                person = identify(session=session, writer=writer, language="sv")
                enquiry = session.get(Enquiry, parsed.object_id)
                if enquiry is None or enquiry.user_id != person.id:
                    return
                try:
                    record_feedback(
                        session=session,
                        enquiry=enquiry,
                        helpful=parsed.action == "y",
                        actor=association_actor(person),
                    )
                except WorkflowError:
                    return

            await self.services.db(feedback)
        else:
            refusal = await self.conversation.press(writer=writer, data=action, key=key)
            if refusal is not None:  # a button press hears it on the spot; a mail by mail

                def tell(session: Session) -> None:
                    person = identify(session=session, writer=writer, language="sv")
                    notify.to_association(
                        session=session,
                        user=person,
                        kind=Kind.TEXT,
                        language=person.language or "sv",
                        dedupe_key=f"{key}:answer"[:128],
                        text=refusal,
                    )

                await self.services.db(tell)

    def _refused(
        self, session: Session, mail: InboundMail, incoming: Incoming, reason: str
    ) -> tuple[str, str | None]:
        row = session.get(InboundMail, mail.id)
        assert row is not None
        return refuse(session, row, incoming, reason, self.services.settings)


def _named_in_reply(
    session: Session, person: AssociationUser, enquiry: Enquiry, text: str, key: str
) -> bool:
    """Save the association a one-line reply names when it was asked for; tell whether."""
    named = parse_association(text)
    if person.awaiting != "association" or named is None or "\n" in text.strip():
        return False
    association = crud.set_user_association(
        session=session, user=person, name=named[0], org_number=named[1]
    )
    person.awaiting = None
    if enquiry.association_id is None:  # asked for after its question was routed
        enquiry.association_id = association.id
    notify.to_association(
        session=session,
        user=person,
        kind=Kind.ASSOCIATION_SAVED,
        language=enquiry.language,
        dedupe_key=f"{key}:answer"[:128],
    )
    return True


def _before(
    session: Session,
    mail: InboundMail,
    incoming: Incoming,
    writer: Writer,
    text: str,
    masked: str,
    key: str,
    language: str,
    email_enabled: bool,
) -> str:
    """Record what a mail in an enquiry's thread says ("done"), or say how the conversation
    takes it: "ask" (a new address that did not name its association) or "new"."""
    known = find_identity(session=session, channel=CHANNEL, address=writer.address)
    person = identify(session=session, writer=writer, language=language)
    enquiry = enquiry_of_thread(session, person, incoming)
    if enquiry is not None:
        if not _named_in_reply(session, person, enquiry, text, key):
            person.awaiting = None
            try:
                add_follow_up(
                    session=session,
                    enquiry=enquiry,
                    user=person,
                    text=masked,
                    key=key,
                    language=enquiry.language,
                    email_enabled=email_enabled,
                )
            except FollowUpRefused:
                return "new"
        _link(session, mail, enquiry)
        return "done"
    if person.association_id is None and (named := association_named(text)):
        crud.set_user_association(session=session, user=person, name=named[0], org_number=named[1])
    return "ask" if known is None and person.association_id is None else "new"


def _link(session: Session, mail: InboundMail, enquiry: Enquiry) -> None:
    row = session.get(InboundMail, mail.id)
    if row is not None and enquiry.id is not None:
        row.enquiry_id = enquiry.id
