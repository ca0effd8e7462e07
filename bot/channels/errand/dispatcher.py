"""The errand dispatcher: files the outbox's errand rows in the case system, each once.

Modelled on SupportManagement (`POST /{municipalityId}/{namespace}/errands`). A round (the
outbox dispatchers' one skeleton, bot/channels/dispatch.py) queues the enquiries received
since the last one (db/records/errands.py), claims the due rows, renders each enquiry's errand
(title, classification, priority, status, reporter, stakeholders, the external tag with
Lotsen's reference), marks the row as being sent and commits; then it talks HTTP outside any
transaction; then it records each outcome: the errand's id (from the Location header) and
number, kept with the enquiry.

A system that cannot be reached, or answers 5xx, is nobody's fault: the rows wait, uncounted,
while the dispatcher backs off. A row whose request may have arrived (a timeout, a crash) is
checked first by its tag, so an enquiry never becomes two errands. A refusal (4xx) gives up on
the row and asks the registrar (REGISTRAR_EMAIL) by e-mail to register the enquiry by hand.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any

import httpx
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.channels import dispatch
from bot.messages import render
from bot.settings import Settings
from db.enquiries import notifications as notify
from db.enquiries.notifications import Channel
from db.enquiries.sla import LOCAL
from db.models import Enquiry, OutboxMessage, utcnow
from db.plumbing.session import session_scope
from db.records.errands import TAG_KEY, errand_body, filing_of, queue_new, record_filing

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 10
BATCH = 20

Clock = dispatch.Clock


@dataclass
class Filing:
    """One enquiry to file: its outbox row, reference and request body."""

    row_id: int
    enquiry_id: int
    reference: str
    body: dict[str, Any]
    check_first: bool  # an earlier request may have arrived: look for the errand first


@dataclass
class Outcome:
    """What the case system said to one filing."""

    row_id: int
    errand_id: str | None = None
    errand_number: str | None = None
    refused: str | None = None  # a refusal for good (4xx), with the problem


class Unavailable(Exception):
    """The case system cannot be reached or fails (5xx): try again later."""


def waiting_errands(engine: Engine) -> int:
    """Return how many enquiries wait to be filed (for a notice while the adapter is off)."""
    return dispatch.waiting(engine, Channel.ERRAND, MAX_ATTEMPTS)


def file_from(settings: Settings) -> datetime | None:
    """Return the first moment whose enquiries are filed (ERRAND_FILE_FROM, local midnight)."""
    if settings.errand_file_from is None:
        return None
    return datetime.combine(settings.errand_file_from, time.min, tzinfo=LOCAL)


def prepare(
    engine: Engine, settings: Settings, now: datetime, *, limit: int = BATCH
) -> list[Filing]:
    """Queue new enquiries, claim the due rows and render their requests (one transaction)."""
    filings: list[Filing] = []
    with session_scope(engine) as session:
        queue_new(session=session, now=now, file_from=file_from(settings))
        for row in dispatch.claim_due(session, Channel.ERRAND, MAX_ATTEMPTS, now, limit):
            assert row.id is not None
            enquiry = session.get(Enquiry, row.enquiry_id) if row.enquiry_id else None
            if enquiry is None or enquiry.id is None or enquiry.reference is None:
                row.attempts, row.error, row.claimed_until = MAX_ATTEMPTS, "no enquiry", None
                continue
            if filing_of(session=session, enquiry_id=enquiry.id) is not None:
                row.sent_at, row.claimed_until = now, None  # filed already
                continue
            title = render(session, row).text
            body = errand_body(
                session=session, enquiry=enquiry, title=title, status=settings.errand_status
            )
            filings.append(
                Filing(row.id, enquiry.id, enquiry.reference, body, row.sending_at is not None)
            )
            row.sending_at = now
    return filings


def _base(settings: Settings) -> str:
    assert settings.errand_enabled
    return (
        f"{settings.errand_base_url}/{settings.errand_municipality_id}/{settings.errand_namespace}"
    )


def _headers(settings: Settings) -> dict[str, str]:
    headers = {"Accept": "application/json"}
    if settings.errand_token is not None and settings.errand_token.get_secret_value():
        headers["Authorization"] = f"Bearer {settings.errand_token.get_secret_value()}"
    return headers


async def _found(client: httpx.AsyncClient, base: str, reference: str) -> dict[str, Any] | None:
    """Return the errand already carrying this reference's tag, if the case system has one."""
    wanted = f"externalTags.key:'{TAG_KEY}' and externalTags.value:'{reference}'"
    response = await client.get(f"{base}/errands", params={"filter": wanted, "size": 1})
    if response.status_code >= 500:
        raise Unavailable(f"HTTP {response.status_code}")
    if response.status_code != 200:
        return None
    content = response.json().get("content") or []
    return content[0] if content else None


async def _number(client: httpx.AsyncClient, base: str, errand_id: str) -> str | None:
    """Return an errand's number (None when it cannot be read now)."""
    with contextlib.suppress(httpx.HTTPError, ValueError):
        response = await client.get(f"{base}/errands/{errand_id}")
        if response.status_code == 200:
            number = response.json().get("errandNumber")
            return str(number) if number else None
    return None


async def file_one(client: httpx.AsyncClient, base: str, filing: Filing) -> Outcome:
    """File one enquiry; raise Unavailable when the case system is down or fails."""
    try:
        if filing.check_first:
            errand = await _found(client, base, filing.reference)
            if errand is not None and errand.get("id"):
                return Outcome(filing.row_id, str(errand["id"]), errand.get("errandNumber"))
        response = await client.post(f"{base}/errands", json=filing.body)
    except httpx.HTTPError as exc:
        raise Unavailable(repr(exc)) from exc
    if response.status_code >= 500:
        raise Unavailable(f"HTTP {response.status_code}: {response.text[:200]}")
    if response.status_code not in (200, 201):
        return Outcome(filing.row_id, refused=f"HTTP {response.status_code}: {response.text[:300]}")
    location = response.headers.get("Location", "")
    errand_id = location.rstrip("/").rsplit("/", 1)[-1] if location else ""
    if not errand_id:
        with contextlib.suppress(ValueError):
            errand_id = str(response.json().get("id") or "")
    if not errand_id:
        return Outcome(filing.row_id, refused="created, but the answer named no errand")
    return Outcome(filing.row_id, errand_id, await _number(client, base, errand_id))


def give_up(session: Session, row: OutboxMessage, problem: str) -> None:
    """Stop trying a row; the registrar is asked by e-mail to register the enquiry by hand."""
    row.attempts, row.error, row.claimed_until = MAX_ATTEMPTS, problem[:500], None
    log.error("Errand for enquiry %s given up: %s", row.enquiry_id, problem)
    notify.to_registrar(
        session=session,
        enquiry_id=row.enquiry_id,
        dedupe_key=f"errand_failed:{row.id}",
        problem=problem[:300],
    )


def _record_one(
    session: Session, row: OutboxMessage, filing: Filing, outcome: Outcome, now: datetime
) -> bool:
    """Record what the case system said to one filing; tell whether it filed it."""
    if outcome.refused is not None:
        give_up(session, row, outcome.refused)
        return False
    assert outcome.errand_id is not None
    record_filing(
        session=session,
        enquiry_id=filing.enquiry_id,
        errand_id=outcome.errand_id,
        errand_number=outcome.errand_number,
        now=now,
    )
    row.sent_at, row.external_id, row.error = now, outcome.errand_id[:64], None
    return True


def record(engine: Engine, filings: list[Filing], outcomes: list[Outcome], now: datetime) -> int:
    """Record each outcome; filings without one are released to go again; return filed."""

    def handle(session: Session, row: OutboxMessage, filing: Filing, outcome: Outcome) -> bool:
        return _record_one(session, row, filing, outcome, now)

    return dispatch.record_each(engine, filings, outcomes, handle)


class ErrandDispatcher(dispatch.Dispatcher[Filing, Outcome]):
    """File due enquiries every few seconds; back off while the case system is down."""

    what = "filings"

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        *,
        clock: Clock = utcnow,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(engine, clock=clock)
        self.settings = settings
        self.transport = transport

    def server_name(self) -> str:
        """Name the case system for the log."""
        return f"Errand system {self.settings.errand_base_url}"

    def prepare(self, now: datetime) -> list[Filing]:
        """Queue new enquiries, claim the due rows and render their requests."""
        return prepare(self.engine, self.settings, now)

    async def deliver(self, items: list[Filing]) -> dispatch.Delivery[Outcome]:
        """File each enquiry over HTTP; stop at the first sign that the system is down."""
        delivery: dispatch.Delivery[Outcome] = dispatch.Delivery()
        async with httpx.AsyncClient(
            headers=_headers(self.settings),
            timeout=self.settings.errand_timeout_seconds,
            transport=self.transport,
        ) as client:
            for filing in items:
                try:
                    delivery.outcomes.append(await file_one(client, _base(self.settings), filing))
                except Unavailable as exc:
                    delivery.problem = str(exc)
                    break
        return delivery

    def record(self, items: list[Filing], outcomes: list[Outcome], now: datetime) -> int:
        """Record the outcomes."""
        return record(self.engine, items, outcomes, now)


async def run_errands(settings: Settings, engine: Engine, stop: asyncio.Event) -> None:
    """Serve the outbox's errands until `stop` is set (nothing while the adapter is off)."""
    if not settings.errand_enabled:
        return
    await ErrandDispatcher(settings, engine).run(stop)
