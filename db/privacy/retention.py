"""Retention (gallring): personal data is kept only as long as the settings say, then removed.

Only under a recorded disposal decision (db/privacy/disposal.py): a kind of data no decision
covers is kept whatever the settings say, and each kind is kept at least as long as its
decision says; every disposal is logged with its kind, count and decision.

Enquiries are public records: a closed enquiry's texts are replaced by the marker "[gallrad]"
but the row, reference, department, timestamps and history stay (statistics and public-records
duty). What each table keeps, for how long and what its end of retention does is the
`purge` rules of its store in db/privacy/catalogue.py; `purge` only walks them (audit rows are
deleted there and nowhere else). Rasa tracker events older than the tracker retention are
deleted from the tracker store.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlmodel import Session

from db.models import utcnow
from db.plumbing.audit import record
from db.plumbing.phrases import N_, Phrase
from db.privacy import catalogue
from db.privacy.disposal import INBOX_CHANNEL, KINDS, Cover, coverage, kind_phrase, log_disposal
from db.privacy.rules import RETENTION_ACTOR
from db.privacy.stores import PURGED, Cut, Rule, Store, carry_out, find

__all__ = ["PURGED", "PurgeReport", "count_lines", "purge", "run_purge"]

log = logging.getLogger(__name__)


COUNTED = {
    "enquiries_anonymised": N_("ärenden anonymiserade"),
    "erasure_requests_closed": N_("begäranden om radering avslutade"),
    "training_candidates_redacted": N_("träningsförslag rensade"),
    # Translators: {channel} is the chat app's name.
    "inbox_updates_deleted": N_("{channel}-uppdateringar i inkorgen raderade"),
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


def _counted(name: str) -> Phrase:
    """Return what a purge or an erasure count is called (its name when nobody labelled it)."""
    return Phrase(COUNTED.get(name, name), {"channel": INBOX_CHANNEL})


def count_lines(counts: Mapping[str, int], tracker_store: str) -> list[Phrase]:
    """Return one phrase per count, then what was found in the tracker store."""
    lines = [
        # Translators: a line of a purge or erasure report, e.g. "enquiries anonymised: 3".
        Phrase(N_("{what}: {count}"), {"what": _counted(name), "count": count})
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
    more: dict[str, int] = field(default_factory=dict)  # counts of stores added since

    def add(self, name: str, count: int) -> None:
        """Add to a count (a new store's count goes into `more`)."""
        if name in self.__dataclass_fields__ and name != "more":
            setattr(self, name, getattr(self, name) + count)
        else:
            self.more[name] = self.more.get(name, 0) + count

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
            **self.more,
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
                {"what": kind_phrase(kind), "reference": reference},
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
                {"what": kind_phrase(kind)},
            )
            for kind in self.refused
        )
        return lines


CUTOFF_KINDS = {
    "enquiry texts": "enquiry_texts",
    "inbox and outbox": "inbox",
    "audit": "audit",
    "tracker": "tracker",
    "feedback comments": "feedback_comments",
    "inbound mail": "inbound_mail",
    "web chats": "web_chats",
}
"""The cutoffs a purge report shows (by the name the audit records them under) and their kind."""

KIND_SETTINGS = {"tracker": "retention_tracker_days"} | {
    s.kind: s.setting for s in catalogue.STORES if s.kind and s.setting
}
"""The retention setting of each kind of data."""


def purge(
    *,
    session: Session,
    retention: RetentionSettings,
    now: datetime | None = None,
    dry_run: bool = False,
    tracker_url: str | None = None,
) -> PurgeReport:
    """Apply the retention periods to every store db/privacy/catalogue.py describes (and the
    tracker store); idempotent (a second run finds nothing to do)."""
    now = now or utcnow()
    report = PurgeReport(now=now, dry_run=dry_run)
    # Only what a disposal decision covers is disposed of, kept at least as long as it says.
    covered = coverage(session=session, on=now.date())
    report.refused = [kind for kind in KINDS if kind not in covered]
    report.decisions = {kind: cover.decision.reference for kind, cover in covered.items()}

    def cutoff(kind: str, setting: str | None = None) -> datetime:
        days = getattr(retention, setting or KIND_SETTINGS[kind])
        cover = covered.get(kind)
        return now - timedelta(days=max(days, cover.days if cover is not None else days))

    report.cutoffs = {name: cutoff(kind) for name, kind in CUTOFF_KINDS.items()}
    # Every rule finds its rows before anything is written (dry run: only this).
    plan: list[tuple[Store, Rule, list[Any], Cut]] = []
    per_kind: dict[str, int] = {}
    for described in catalogue.STORES:
        for rule in described.purge:
            setting, kind = rule.kept or (described.setting, described.kind)
            assert setting is not None and kind is not None, described.table
            if kind not in covered:
                continue
            cut = Cut(at=cutoff(kind, setting), now=now)
            keys = find(session, described, rule, cut)
            plan.append((described, rule, keys, cut))
            if rule.count is not None:
                report.add(rule.count, len(keys))
                per_kind[kind] = per_kind.get(kind, 0) + len(keys)

    # The tracker store first: on SQLite it may share the file, so before this session writes.
    if tracker_url is not None and "tracker" in covered:
        _purge_tracker(
            report, tracker_url=tracker_url, cutoff=report.cutoffs["tracker"], dry_run=dry_run
        )
        per_kind["tracker"] = report.tracker_events_deleted

    if not dry_run:
        for described, rule, keys, cut in reversed(plan):
            carry_out(session, described, rule, keys, now, cut)
        _log_disposals(session=session, report=report, covered=covered, per_kind=per_kind)
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


def _log_disposals(
    *, session: Session, report: PurgeReport, covered: Mapping[str, Cover], per_kind: dict[str, int]
) -> None:
    """Log each kind disposed of with its count and decision (nothing of what it was)."""
    for kind, count in per_kind.items():
        if count:
            log_disposal(
                session=session,
                kind=kind,
                count=count,
                decision=covered[kind].decision,
                now=report.now,
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
