"""One description of where personal data is held, and the only one: which tables and columns,
how a person's rows are found, what the end of retention does with them (the retention setting
and the disposal decision's kind of data), what an erasure does and under which name the
export (`/mydata`, `lotsen export-user`) lists them.

`STORES` drives the purge (retention.py), the erasure (erasure.py) and the export
(personal_data.py) through the walker in stores.py, and the README's table of what is kept
(`readme_table`). tests/test_privacy_catalogue.py checks both ways: every table is described or
listed in `NO_PERSONAL_DATA`, every column named exists, every kind is a disposal kind, every
setting a setting, every export name in the export; and that a store added here is purged,
erased and exported without touching the walkers.

A store whose rows point at another store's rows comes after it (the walker writes in reverse
order, so web chat entries go before their chats).
"""

from __future__ import annotations

from sqlalchemy import or_
from sqlmodel import SQLModel, col, select

from db.models import (
    AnswerRecord,
    Association,
    AssociationUser,
    AuditEntry,
    ChannelIdentity,
    DeskLoginThrottle,
    DeskLoginToken,
    DeskSession,
    Enquiry,
    EnquiryEvent,
    Escalation,
    Feedback,
    InboundMail,
    InboxUpdate,
    OutboxMessage,
    RateLimitBucket,
    RateLimitRefusal,
    StaffIdentity,
    StaffInvite,
    StaffMember,
    StaffPerson,
    TrainingCandidate,
    WebChat,
    WebChatEntry,
)
from db.plumbing.audit import retention_purge
from db.privacy import shapes
from db.privacy.rules import (
    HANDLED_MAIL,
    MAIL_BLANK,
    before,
    candidate_erased,
    candidate_retired,
    chats_of,
    enquiry_texts,
    event_texts,
    finished_before,
    mail_of,
    not_to_person,
    of_anonymised,
    of_enquiries,
    of_finished,
    person_erased,
    person_keys,
    staff_of,
    to_person,
)
from db.privacy.stores import (
    PURGED,
    Erasure,
    Found,
    Store,
    blanked,
    blanking,
    deleted,
    deleting,
    kept,
    marked,
    marking,
)

__all__ = ["NO_PERSONAL_DATA", "PURGED", "STORES", "Erasure", "Found", "Store", "readme_table"]

USER_ID = "person_id"  # the column of staff roles and desk sign-ins naming the staff person

ENQUIRY_TEXTS = ("retention_enquiry_text_days", "enquiry_texts")
INBOX = ("retention_inbox_days", "inbox")

SIGN_INS = ("retention_inbox_days", "desk_sign_ins")

STORES: tuple[Store, ...] = (
    marked(
        AssociationUser,
        ("channel", "language", "awaiting"),
        Found.PERSON,
        marking(person_erased),
        mine=lambda s: col(AssociationUser.id) == s.person_id,
        export="association_user",
        single=True,
        note="kept with erased_at (statistics), awaiting cleared",
    ),
    kept(
        Association,
        ("name", "org_number"),
        Found.PERSON,
        mine=lambda s: col(Association.id) == getattr(s.person, "association_id", None),
        export="association",
        single=True,
        note="an organisation, or one private person (then never published)",
    ),
    deleted(
        ChannelIdentity,
        ("address", "conversation"),
        Found.IDENTITY,
        mine=lambda s: col(ChannelIdentity.person_id) == s.person_id,
        export="channel_identities",
    ),
    blanked(
        Enquiry,
        ("text", "answer_text", "chat_id", "message_key"),
        Found.ENQUIRY,
        ENQUIRY_TEXTS,
        blanking(enquiry_texts, of_anonymised(Enquiry.id), count="enquiries_anonymised"),
        blanking({"chat_id": None, "message_key": None}),  # <channel>:<conversation>:…
        mine=of_enquiries(Enquiry.id),
        purge=(blanking(enquiry_texts, finished_before, count="enquiries_anonymised"),),
        export="enquiries",
        shown=shapes.enquiry,
        note="a public record: the row stays, its texts become [gallrad]",
    ),
    blanked(
        EnquiryEvent,
        ("detail",),
        Found.ENQUIRY,
        ENQUIRY_TEXTS,
        blanking(event_texts, of_anonymised(EnquiryEvent.enquiry_id)),
        mine=of_enquiries(EnquiryEvent.enquiry_id),
        purge=(blanking(event_texts, of_finished(EnquiryEvent.enquiry_id)),),
        export="enquiries",
        nested=True,
    ),
    kept(
        Escalation,
        ("claimed_by",),
        Found.ENQUIRY,
        mine=of_enquiries(Escalation.enquiry_id),
        export="enquiries",
        nested=True,
        note="queue entries, exported with their enquiry",
    ),
    blanked(
        AnswerRecord,
        ("text",),
        Found.ENQUIRY,
        ENQUIRY_TEXTS,
        blanking({"text": PURGED}, of_anonymised(AnswerRecord.enquiry_id)),
        mine=of_enquiries(AnswerRecord.enquiry_id),
        purge=(blanking({"text": PURGED}, of_finished(AnswerRecord.enquiry_id)),),
        export="enquiries",
        nested=True,
    ),
    blanked(
        Feedback,
        ("comment",),
        Found.ENQUIRY,
        ("retention_feedback_comment_days", "feedback_comments"),
        blanking(
            {"comment": PURGED},
            of_anonymised(Feedback.enquiry_id, col(Feedback.comment).is_not(None)),
        ),
        mine=of_enquiries(Feedback.enquiry_id),
        purge=(
            blanking(
                {"comment": PURGED},
                of_finished(Feedback.enquiry_id, col(Feedback.comment).is_not(None)),
                kept=ENQUIRY_TEXTS,
            ),
            # Comments may hold personal data: gone after their own period (the tap stays).
            blanking(
                {"comment": PURGED},
                before(
                    Feedback.comment_at,
                    col(Feedback.comment).is_not(None),
                    col(Feedback.comment) != PURGED,
                ),
                count="feedback_comments_deleted",
            ),
        ),
        export="feedback",
        note="the yes/no stays for the figures",
    ),
    blanked(
        TrainingCandidate,
        ("text",),
        Found.ENQUIRY,
        ENQUIRY_TEXTS,
        blanking(candidate_erased, count="training_candidates_redacted"),
        mine=of_enquiries(TrainingCandidate.enquiry_id),
        purge=(
            blanking(
                candidate_retired,
                of_finished(
                    TrainingCandidate.enquiry_id,
                    col(TrainingCandidate.accepted).is_not(True),
                    col(TrainingCandidate.text) != PURGED,
                ),
                count="training_candidates_redacted",
            ),
        ),
        note="accepted ones are reviewed training examples and stay",
    ),
    deleted(
        InboxUpdate,
        ("payload", "sender"),
        Found.PERSON_KEY,
        INBOX,
        mine=lambda s: col(InboxUpdate.sender).in_(person_keys(s)),
        count="inbox_updates_deleted",
        purge=(deleting(before(InboxUpdate.processed_at), count="inbox_updates_deleted"),),
        export="inbox_updates",
    ),
    blanked(
        OutboxMessage,
        ("params", "address"),
        Found.PERSON,
        ("retention_inbox_days", "outbox"),
        blanking(
            {"params": {}, "address": None},
            lambda s: to_person(s) & col(OutboxMessage.sent_at).is_not(None),
            holds=lambda _, row: bool(row.params) or row.address is not None,
            count="outbox_messages_redacted",
        ),
        blanking(  # messages to others about the person's enquiries
            {"params": {}},
            lambda s: col(OutboxMessage.enquiry_id).in_(s.enquiry_ids) & not_to_person(s),
            holds=lambda _, row: bool(row.params),
            count="outbox_messages_redacted",
        ),
        deleting(  # unsent messages to the person
            lambda s: to_person(s) & col(OutboxMessage.sent_at).is_(None),
            count="outbox_messages_deleted",
        ),
        mine=to_person,
        purge=(
            blanking(
                {"params": {}, "address": None},
                before(OutboxMessage.sent_at, col(OutboxMessage.address).is_not(None)),
                count="outbox_messages_redacted",
            ),
        ),
        export="outbox_messages",
        note="unsent messages to the person are deleted",
    ),
    deleted(
        DeskLoginToken,
        (USER_ID, "mailbox"),
        Found.STAFF,
        SIGN_INS,
        mine=lambda s: col(DeskLoginToken.person_id).in_(staff_of(s)),
        count="desk_sign_ins_deleted",
        purge=(deleting(before(DeskLoginToken.expires_at), count="desk_sign_ins_deleted"),),
        export="desk_sign_ins",
        shown=shapes.sign_in,
    ),
    deleted(
        DeskSession,
        (USER_ID,),
        Found.STAFF,
        SIGN_INS,
        mine=lambda s: col(DeskSession.person_id).in_(staff_of(s)),
        count="desk_sign_ins_deleted",
        purge=(
            deleting(
                lambda c: or_(col(DeskSession.expires_at) < c.at, col(DeskSession.ended_at) < c.at),
                count="desk_sign_ins_deleted",
            ),
        ),
        export="desk_sign_ins",
        shown=shapes.sign_in,
    ),
    kept(
        DeskLoginThrottle,
        ("key_hash",),
        Found.NOT_BY_PERSON,
        SIGN_INS,
        purge=(
            deleting(
                lambda c: (
                    (col(DeskLoginThrottle.window_started_at) < c.at)
                    & or_(
                        col(DeskLoginThrottle.locked_until).is_(None),
                        col(DeskLoginThrottle.locked_until) < c.now,
                    )
                ),
                count="desk_sign_ins_deleted",
            ),
        ),
    ),
    deleted(
        RateLimitBucket,
        ("person",),
        Found.PERSON_KEY,
        mine=lambda s: col(RateLimitBucket.person).in_(person_keys(s)),
    ),
    deleted(
        RateLimitRefusal,
        ("person",),
        Found.PERSON_KEY,
        INBOX,
        mine=lambda s: col(RateLimitRefusal.person).in_(person_keys(s)),
        purge=(
            deleting(
                lambda c: col(RateLimitRefusal.day) < c.at.date(),
                count="rate_limit_refusals_deleted",
            ),
        ),
    ),
    kept(
        StaffPerson,
        ("name",),
        Found.STAFF,
        mine=lambda s: col(StaffPerson.id).in_(staff_of(s)),
        export="staff_person",
        note="a colleague's name; erased when their last role goes (`lotsen staff remove`)",
    ),
    kept(
        StaffIdentity,
        ("address",),
        Found.STAFF,
        mine=lambda s: col(StaffIdentity.person_id).in_(staff_of(s)),
        export="staff_identities",
        note="a colleague's chat-app user id or e-mail address; erased with their last role",
    ),
    kept(
        StaffMember,
        (USER_ID,),
        Found.STAFF,
        mine=lambda s: col(StaffMember.person_id).in_(staff_of(s)),
        export="staff_roles",
        note="removed with `lotsen staff remove`",
    ),
    kept(
        StaffInvite,
        ("used_by",),
        Found.NOT_BY_PERSON,
        note="staff invitations, until used or expired",
    ),
    kept(
        AuditEntry,
        ("before", "after"),
        Found.NOT_BY_PERSON,
        ("retention_audit_days", "audit"),
        purge=(
            deleting(
                before(AuditEntry.at),
                count="audit_entries_deleted",
                guard=lambda session, c: retention_purge(session, before=c.at),
            ),
        ),
        note="names erased people by pseudonym only",
    ),
    blanked(
        InboundMail,
        ("sender", "subject", "raw", "error"),
        Found.EMAIL,
        ("retention_inbound_mail_days", "inbound_mail"),
        mine=mail_of,
        values=MAIL_BLANK,
        count="inbound_mails_redacted",
        purge=(
            blanking(
                MAIL_BLANK,
                before(
                    InboundMail.handled_at,
                    col(InboundMail.state).in_(list(HANDLED_MAIL)),
                    col(InboundMail.size) > 0,
                ),
                count="inbound_mails_redacted",
            ),
        ),
        export="inbound_mails",
        shown=shapes.mail,
        note="the row (its Message-ID, state, enquiry) stays so a mail is never handled twice",
    ),
    deleted(
        WebChat,
        ("visitor", "email"),
        Found.WEB_VISITOR,
        ("retention_web_chat_days", "web_chats"),
        mine=chats_of,
        count="web_chats_deleted",
        purge=(deleting(before(WebChat.last_seen_at), count="web_chats_deleted"),),
        export="web_chats",
        shown=shapes.chat,
        note="with its transcript",
    ),
    deleted(
        WebChatEntry,
        ("text", "action"),
        Found.WEB_VISITOR,
        ("retention_web_chat_days", "web_chats"),
        mine=lambda s: col(WebChatEntry.chat_id).in_(select(WebChat.id).where(chats_of(s))),
        purge=(
            deleting(
                lambda c: col(WebChatEntry.chat_id).in_(
                    select(WebChat.id).where(col(WebChat.last_seen_at) < c.at)
                )
            ),
        ),
        export="web_chats",
        nested=True,
    ),
)
"""Every table that holds personal data."""

NO_PERSONAL_DATA = frozenset(
    {
        "municipality",
        "department",
        "contact",  # departments' functional contacts (staff, public officials)
        "route",
        "authority",
        "desk_account",  # staff accounts (not the people the service is for)
        "register_mark",
        "disposal_decision",
        "disposal_log",
        "errand_filing",
        "alembic_version",
    }
)
"""Tables that hold no personal data of the people writing to Lotsen (checked by a test)."""


def store(model: type[SQLModel]) -> Store:
    """Return the description of a table."""
    return next(s for s in STORES if s.model is model)


def readme_table() -> list[str]:
    """Return the README's table of what is kept, for how long, how erased and exported."""
    lines = [
        "| table | personal data | found by | kept (setting / decision kind) | erasure | export |",
        "|---|---|---|---|---|---|",
    ]
    for s in STORES:
        kept_for = f"`{s.setting.upper()}` / `{s.kind}`" if s.setting and s.kind else "while needed"
        erasure = s.erasure.value + (f" ({s.note})" if s.note else "")
        lines.append(
            f"| `{s.table}` | {', '.join(s.columns)} | {s.found.value} | {kept_for} | {erasure} "
            f"| {f'`{s.export}`' if s.export else '—'} |"
        )
    return lines
