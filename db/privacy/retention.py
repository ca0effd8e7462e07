"""Retention (gallring): personal data is kept only as long as the settings say, then removed.

Only under a recorded disposal decision (db/privacy/disposal.py): a kind of data no decision
covers is kept whatever the settings say, and each kind is kept at least as long as its
decision says; every disposal is logged with its kind, count and decision.

Enquiries are public records: a closed enquiry's texts are replaced by the marker "[gallrad]"
but the row, reference, department, timestamps and history stay (statistics and public-records
duty). Processed updates in the inbox are deleted; sent outbox messages lose their parameters and
address; audit
rows older than the audit retention are deleted (the only way they are ever deleted); Rasa
tracker events older than the tracker retention are deleted from the tracker store.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import ColumnElement, and_, delete, false, func, or_, true, update
from sqlmodel import Session, SQLModel, col, select
from sqlmodel.sql.expression import SelectOfScalar

from db.models import (
    AnswerRecord,
    AuditEntry,
    DeskLoginThrottle,
    DeskLoginToken,
    DeskSession,
    Enquiry,
    EnquiryEvent,
    EnquiryStatus,
    Feedback,
    InboundMail,
    InboxUpdate,
    OutboxMessage,
    RateLimitRefusal,
    TrainingCandidate,
    WebChat,
    utcnow,
)
from db.plumbing.audit import record, retention_purge
from db.plumbing.phrases import N_, Phrase
from db.privacy.catalogue import CHANNEL_STORES, dispose, expired, store
from db.privacy.catalogue import count as count_rows
from db.privacy.disposal import COUNT_KINDS, KINDS, Cover, coverage, log_disposal

log = logging.getLogger(__name__)

PURGED = "[gallrad]"
RETENTION_ACTOR = "retention"

COUNTED = {
    "enquiries_anonymised": N_("ärenden anonymiserade"),
    "erasure_requests_closed": N_("begäranden om radering avslutade"),
    "training_candidates_redacted": N_("träningsförslag rensade"),
    "inbox_updates_deleted": N_("Telegram-uppdateringar i inkorgen raderade"),
    "outbox_messages_deleted": N_("meddelanden i utkorgen raderade"),
    "outbox_messages_redacted": N_("meddelanden i utkorgen rensade"),
    "audit_entries_deleted": N_("rader i ändringsloggen raderade"),
    "tracker_events_deleted": N_("händelser i Rasas samtalshistorik raderade"),
    "desk_sign_ins_deleted": N_("inloggningar i skrivbordet raderade"),
    # Translators: the per person and day counts of messages the rate limit refused.
    "rate_limit_refusals_deleted": N_("räkningar av avvisade meddelanden raderade"),
    "feedback_comments_deleted": N_("föreningarnas kommentarer till svar raderade"),
    "inbound_mails_redacted": N_("inkomna e-postmeddelanden rensade"),
    "web_chats_deleted": N_("webbchattar raderade"),
}
"""What a purge or an erasure counts, by the name it counts it under."""

TRACKER_STATES = {
    "not checked": N_("inte undersökt"),
    "no events table yet": N_("ingen händelsetabell ännu"),
    "checked": N_("undersökt"),
}
"""What a purge or an erasure found in Rasa's tracker store, by its code."""

CUTOFFS = {
    "enquiry texts": N_("ärendetexter"),
    "inbox and outbox": N_("inkorg och utkorg"),
    "audit": N_("ändringsloggen"),
    "tracker": N_("Rasas samtalshistorik"),
    "feedback comments": N_("kommentarer till svar"),
    "inbound mail": N_("inkommen e-post"),
    "web chats": N_("webbchattar"),
}
"""The retention limits a purge applies, by the name the audit records them under."""


def count_lines(counts: Mapping[str, int], tracker_store: str) -> list[Phrase]:
    """Return one phrase per count, then what was found in the tracker store."""
    lines = [
        # Translators: a line of a purge or erasure report, e.g. "enquiries anonymised: 3".
        Phrase(N_("{what}: {count}"), {"what": Phrase(COUNTED.get(name, name)), "count": count})
        for name, count in counts.items()
    ]
    state = Phrase(TRACKER_STATES.get(tracker_store, tracker_store))
    # Translators: the tracker store is where Rasa keeps conversation history.
    lines.append(Phrase(N_("Rasas samtalshistorik: {state}"), {"state": state}))
    return lines


class RetentionSettings(Protocol):
    """The retention periods in days (bot.settings.Settings has them)."""

    @property
    def retention_enquiry_text_days(self) -> int: ...

    @property
    def retention_tracker_days(self) -> int: ...

    @property
    def retention_audit_days(self) -> int: ...

    @property
    def retention_inbox_days(self) -> int: ...

    @property
    def retention_feedback_comment_days(self) -> int: ...

    @property
    def retention_inbound_mail_days(self) -> int: ...

    @property
    def retention_web_chat_days(self) -> int: ...


class PurgeSettings(RetentionSettings, Protocol):
    """The retention periods and where the data lives."""

    @property
    def database_url(self) -> str: ...

    @property
    def tracker_url(self) -> str: ...


@dataclass
class PurgeReport:
    """What a purge did (or, in a dry run, would do), counted per kind of data."""

    now: datetime
    dry_run: bool = False
    enquiries_anonymised: int = 0
    training_candidates_redacted: int = 0
    inbox_updates_deleted: int = 0
    outbox_messages_redacted: int = 0
    audit_entries_deleted: int = 0
    tracker_events_deleted: int = 0
    desk_sign_ins_deleted: int = 0
    rate_limit_refusals_deleted: int = 0
    feedback_comments_deleted: int = 0
    inbound_mails_redacted: int = 0
    web_chats_deleted: int = 0
    tracker_store: str = "not checked"
    cutoffs: dict[str, datetime] = field(default_factory=dict)
    # Kinds of data (db/privacy/disposal.py KINDS) with the decision that allowed their
    # disposal, and the kinds no decision covers (kept, whatever the settings say).
    decisions: dict[str, str] = field(default_factory=dict)
    refused: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """Return the counts per kind of data."""
        return {
            "enquiries_anonymised": self.enquiries_anonymised,
            "training_candidates_redacted": self.training_candidates_redacted,
            "inbox_updates_deleted": self.inbox_updates_deleted,
            "outbox_messages_redacted": self.outbox_messages_redacted,
            "audit_entries_deleted": self.audit_entries_deleted,
            "tracker_events_deleted": self.tracker_events_deleted,
            "desk_sign_ins_deleted": self.desk_sign_ins_deleted,
            "rate_limit_refusals_deleted": self.rate_limit_refusals_deleted,
            "feedback_comments_deleted": self.feedback_comments_deleted,
            "inbound_mails_redacted": self.inbound_mails_redacted,
            "web_chats_deleted": self.web_chats_deleted,
        }

    @property
    def total(self) -> int:
        """Return how many rows were (or would be) changed in all."""
        return sum(self.counts().values())

    def lines(self) -> list[Phrase]:
        """Return the report: a heading, then the lines that belong indented under it."""
        head = (
            Phrase(N_("Provkörning, inget ändrades. Skulle gallra:"))
            if self.dry_run
            else Phrase(N_("Gallrat:"))
        )
        cutoffs = [
            # Translators: a line of a purge report: the limit before which data is removed.
            Phrase(
                N_("gräns för {what}: {moment}"),
                {"what": Phrase(CUTOFFS.get(name, name)), "moment": moment.isoformat()},
            )
            for name, moment in self.cutoffs.items()
        ]
        return [head, *count_lines(self.counts(), self.tracker_store), *cutoffs, *self._why()]

    def _why(self) -> list[Phrase]:
        """Return the decisions the purge acted under and what it kept for want of one."""
        lines = [
            # Translators: a line of a purge report: the disposal decision a kind was disposed of
            # under, e.g. "ändringsloggen: enligt beslut KS 2026/123 § 45".
            Phrase(
                N_("{what}: enligt beslut {reference}"),
                {"what": Phrase(KINDS[kind]), "reference": reference},
            )
            for kind, reference in self.decisions.items()
        ]
        if self.refused and not self.decisions:
            # Translators: `lotsen register decision add` is a command; keep it as it is.
            lines.append(
                Phrase(
                    N_(
                        "Inget gallrades: inget gallringsbeslut finns. Gallring kräver ett "
                        "beslut; registrera det med `lotsen register decision add`."
                    )
                )
            )
        lines.extend(
            # Translators: a line of a purge report: a kind of data that was kept.
            Phrase(
                N_("{what}: behålls, inget gallringsbeslut omfattar det"),
                {"what": Phrase(KINDS[kind])},
            )
            for kind in self.refused
        )
        return lines


CHANNEL_COUNTS: dict[type[SQLModel], str] = {
    InboundMail: "inbound_mails_redacted",
    WebChat: "web_chats_deleted",
}
"""The count of a purge or an erasure each channel store's disposal goes into."""
CHANNEL_CUTOFFS: dict[type[SQLModel], str] = {InboundMail: "inbound mail", WebChat: "web chats"}


def _redact_detail(detail: dict[str, object]) -> dict[str, object] | None:
    """Return the event detail with free text replaced, or None when it holds none."""
    if "text" not in detail or detail["text"] == PURGED:
        return None
    return {**detail, "text": PURGED}


def anonymise_enquiry(*, session: Session, enquiry: Enquiry) -> None:
    """Replace an enquiry's free texts (question, answers, answer in history, comments on its
    answers) with the marker."""
    enquiry.text = PURGED
    if enquiry.answer_text is not None:
        enquiry.answer_text = PURGED
    session.exec(
        update(AnswerRecord).where(col(AnswerRecord.enquiry_id) == enquiry.id).values(text=PURGED)
    )
    session.exec(
        update(Feedback)
        .where(col(Feedback.enquiry_id) == enquiry.id, col(Feedback.comment).is_not(None))
        .values(comment=PURGED)
    )
    for event in session.exec(select(EnquiryEvent).where(EnquiryEvent.enquiry_id == enquiry.id)):
        redacted = _redact_detail(event.detail or {})
        if redacted is not None:
            event.detail = redacted


def _expired_enquiries(*, session: Session, cutoff: datetime) -> list[Enquiry]:
    """Return finished enquiries (closed, or referred to another authority) finished before the
    cutoff whose texts are still there."""
    closed_at = func.coalesce(col(Enquiry.closed_at), col(Enquiry.updated_at))
    finished = (EnquiryStatus.CLOSED, EnquiryStatus.REFERRED)
    return list(
        session.exec(
            select(Enquiry).where(
                col(Enquiry.status).in_(finished),
                closed_at < cutoff,
                (col(Enquiry.text) != PURGED)
                | (col(Enquiry.answer_text).is_not(None) & (col(Enquiry.answer_text) != PURGED)),
            )
        ).all()
    )


def _candidates_to_redact(
    *, session: Session, enquiry_ids: Iterable[int | None]
) -> list[TrainingCandidate]:
    """Return the not-accepted training candidates of these enquiries that still hold text."""
    ids = [i for i in enquiry_ids if i is not None]
    if not ids:
        return []
    return list(
        session.exec(
            select(TrainingCandidate).where(
                col(TrainingCandidate.enquiry_id).in_(ids),
                col(TrainingCandidate.accepted).is_not(True),
                TrainingCandidate.text != PURGED,
            )
        ).all()
    )


def _count(session: Session, query: SelectOfScalar[int]) -> int:
    return int(session.exec(query).one())


def purge(
    *,
    session: Session,
    retention: RetentionSettings,
    now: datetime | None = None,
    dry_run: bool = False,
    tracker_url: str | None = None,
) -> PurgeReport:
    """Apply the retention periods; idempotent (a second run finds nothing to do)."""
    now = now or utcnow()
    report = PurgeReport(now=now, dry_run=dry_run)
    # Only what a disposal decision covers is disposed of, kept at least as long as it says.
    covered = coverage(session=session, on=now.date())
    report.refused = [kind for kind in KINDS if kind not in covered]
    report.decisions = {kind: cover.decision.reference for kind, cover in covered.items()}

    def cutoff(kind: str, days: int) -> datetime:
        cover = covered.get(kind)
        return now - timedelta(days=max(days, cover.days if cover is not None else days))

    enquiry_cutoff = cutoff("enquiry_texts", retention.retention_enquiry_text_days)
    inbox_cutoff = cutoff("inbox", retention.retention_inbox_days)
    outbox_cutoff = cutoff("outbox", retention.retention_inbox_days)
    sign_in_cutoff = cutoff("desk_sign_ins", retention.retention_inbox_days)
    audit_cutoff = cutoff("audit", retention.retention_audit_days)
    tracker_cutoff = cutoff("tracker", retention.retention_tracker_days)
    comment_cutoff = cutoff("feedback_comments", retention.retention_feedback_comment_days)
    report.cutoffs = {
        "enquiry texts": enquiry_cutoff,
        "inbox and outbox": inbox_cutoff,
        "audit": audit_cutoff,
        "tracker": tracker_cutoff,
        "feedback comments": comment_cutoff,
    }

    # Closed enquiries: anonymise, keep the rows. Training candidates that were not accepted
    # into the training data go with them (accepted ones are reviewed training examples).
    enquiries = (
        _expired_enquiries(session=session, cutoff=enquiry_cutoff)
        if "enquiry_texts" in covered
        else []
    )
    candidates = _candidates_to_redact(session=session, enquiry_ids=(e.id for e in enquiries))
    report.enquiries_anonymised = len(enquiries)
    report.training_candidates_redacted = len(candidates)

    def allowed(kind: str) -> ColumnElement[bool]:
        """A condition that holds only when a decision covers the kind (else nothing matches)."""
        return true() if kind in covered else false()

    inbox_expired = (
        allowed("inbox"),
        col(InboxUpdate.processed_at).is_not(None),
        col(InboxUpdate.processed_at) < inbox_cutoff,
    )
    outbox_expired = (
        allowed("outbox"),
        col(OutboxMessage.sent_at).is_not(None),
        col(OutboxMessage.sent_at) < outbox_cutoff,
        col(OutboxMessage.address).is_not(None),
    )
    audit_expired = and_(allowed("audit"), col(AuditEntry.at) < audit_cutoff)
    # Comments on answers may hold personal data: gone after their own period (the tap stays).
    comments_expired = (
        allowed("feedback_comments"),
        col(Feedback.comment).is_not(None),
        col(Feedback.comment) != PURGED,
        col(Feedback.comment_at) < comment_cutoff,
    )
    report.feedback_comments_deleted = _count(
        session, select(func.count()).select_from(Feedback).where(*comments_expired)
    )
    report.inbox_updates_deleted = _count(
        session, select(func.count()).select_from(InboxUpdate).where(*inbox_expired)
    )
    report.outbox_messages_redacted = _count(
        session, select(func.count()).select_from(OutboxMessage).where(*outbox_expired)
    )
    report.audit_entries_deleted = _count(
        session, select(func.count()).select_from(AuditEntry).where(audit_expired)
    )
    # Desk sign-ins that can no longer be used (links, sessions, throttling of failed sign-ins),
    # kept as long as the inbox and outbox.
    sign_ins_expired = {
        DeskLoginToken: (allowed("desk_sign_ins"), col(DeskLoginToken.expires_at) < sign_in_cutoff),
        DeskSession: (
            allowed("desk_sign_ins"),
            or_(
                col(DeskSession.expires_at) < sign_in_cutoff,
                col(DeskSession.ended_at) < sign_in_cutoff,
            ),
        ),
        DeskLoginThrottle: (
            allowed("desk_sign_ins"),
            col(DeskLoginThrottle.window_started_at) < sign_in_cutoff,
            or_(
                col(DeskLoginThrottle.locked_until).is_(None),
                col(DeskLoginThrottle.locked_until) < now,
            ),
        ),
    }
    report.desk_sign_ins_deleted = sum(
        _count(session, select(func.count()).select_from(model).where(*where))
        for model, where in sign_ins_expired.items()
    )

    # The rate limit's refusals per person and day (for the coordinator's view of floods),
    # kept as long as the inbox: they name the person writing.
    refusals_expired = (allowed("inbox"), col(RateLimitRefusal.day) < inbox_cutoff.date())
    report.rate_limit_refusals_deleted = _count(
        session, select(func.count()).select_from(RateLimitRefusal).where(*refusals_expired)
    )

    # The channels' own stores (raw inbound e-mail, web chats), as db/privacy/catalogue.py
    # describes them: their setting, their kind of data and how they are disposed of.
    channel_expired: dict[type[SQLModel], ColumnElement[bool]] = {}
    for channel_store in CHANNEL_STORES:
        described = store(channel_store)
        assert described.setting is not None and described.kind is not None
        moment = cutoff(described.kind, getattr(retention, described.setting))
        report.cutoffs[CHANNEL_CUTOFFS[channel_store]] = moment
        past = and_(allowed(described.kind), expired(channel_store, moment))
        channel_expired[channel_store] = past
        setattr(report, CHANNEL_COUNTS[channel_store], count_rows(session, channel_store, past))

    # The tracker store first: on SQLite it may share the file, so before this session writes.
    if tracker_url is not None and "tracker" in covered:
        _purge_tracker(report, tracker_url=tracker_url, cutoff=tracker_cutoff, dry_run=dry_run)

    if not dry_run:
        for enquiry in enquiries:
            anonymise_enquiry(session=session, enquiry=enquiry)
        for candidate in candidates:
            candidate.text = PURGED
            if candidate.reviewed_at is None:
                candidate.accepted = False
                candidate.reviewed_at = now
                candidate.reviewed_by = RETENTION_ACTOR
        session.exec(delete(InboxUpdate).where(*inbox_expired))
        for channel_store, condition in channel_expired.items():
            dispose(session, channel_store, condition)
        session.exec(update(Feedback).where(*comments_expired).values(comment=PURGED))
        session.exec(update(OutboxMessage).where(*outbox_expired).values(params={}, address=None))
        for model, where in sign_ins_expired.items():
            session.exec(delete(model).where(*where))
        session.exec(delete(RateLimitRefusal).where(*refusals_expired))
        with retention_purge(session, before=audit_cutoff):
            session.exec(delete(AuditEntry).where(audit_expired))

    if not dry_run:
        _log_disposals(session=session, report=report, covered=covered)
    if not dry_run and report.total:
        # The purge itself is recorded (gallring is documented), after the audit cutoff.
        record(
            session=session,
            actor=RETENTION_ACTOR,
            entity="retention",
            key=now.date().isoformat(),
            action="purge",
            before=None,
            after={**report.counts(), "cutoffs": report.cutoffs},
            now=now,
        )
    session.flush()
    return report


def _log_disposals(*, session: Session, report: PurgeReport, covered: Mapping[str, Cover]) -> None:
    """Log each kind disposed of with its count and decision (nothing of what it was)."""
    per_kind: dict[str, int] = {}
    for name, count in report.counts().items():
        kind = COUNT_KINDS.get(name)
        if kind is not None and count:
            per_kind[kind] = per_kind.get(kind, 0) + count
    for kind, count in per_kind.items():
        log_disposal(
            session=session, kind=kind, count=count, decision=covered[kind].decision, now=report.now
        )


def _purge_tracker(
    report: PurgeReport, *, tracker_url: str, cutoff: datetime, dry_run: bool
) -> None:
    """Delete Rasa tracker events before the cutoff (nothing when the store has no table)."""
    from db.enquiries.tracker_events import events_before, tracker_store

    with tracker_store(tracker_url) as connection:
        if connection is None:
            report.tracker_store = "no events table yet"
            return
        report.tracker_events_deleted = events_before(connection, cutoff, dry_run=dry_run)
        report.tracker_store = "checked"


def run_purge(
    settings: PurgeSettings, now: datetime | None = None, dry_run: bool = False
) -> PurgeReport:
    """Purge the app database and the tracker store with the settings; log and return the report.

    Blocking (database I/O): from the bot's job queue call it via `asyncio.to_thread`.
    """
    from db.plumbing.session import make_engine, session_scope

    engine = make_engine(settings.database_url)
    try:
        with session_scope(engine) as session:
            report = purge(
                session=session,
                retention=settings,
                now=now,
                dry_run=dry_run,
                tracker_url=settings.tracker_url,
            )
    finally:
        engine.dispose()
    log.info(
        "Retention purge%s: %s",
        " (dry run)" if dry_run else "",
        ", ".join(f"{name}={count}" for name, count in report.counts().items()),
    )
    return report
