"""Errands are filed at intake: the outbox row that files an enquiry in the case system is written
in the transaction that records it (db/intake.py, `case_system=True`), so a process killed
between recording and filing still files it, exactly once.

A real process records the enquiry and dies (`os._exit`, as after `kill -9`) at each point of
the way; a new dispatcher then files against the local SupportManagement server that validates
every request against the published OpenAPI description.
"""

from __future__ import annotations

import asyncio
import sys
import textwrap
from datetime import timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from bot.channels.errand.dispatcher import ErrandDispatcher
from db import intake
from db.enquiries.notifications import Channel
from db.models import Enquiry, ErrandFiling, OutboxMessage, utcnow
from db.plumbing.session import session_scope
from db.records.errands import TAG_KEY
from harness.fake_support_management import SupportManagement
from tests.test_errand import Clock, _settings, server  # noqa: F401 (the server fixture)

QUESTION = "Hur söker vi föreningsbidrag för hösten?"


def _message(key: str) -> intake.Message:
    return intake.Message(
        key=key,
        writer=intake.Writer(channel=Channel.TELEGRAM, address="4711", conversation="4711"),
        text=QUESTION,
        languages=intake.Languages(reply="sv", written="sv"),
    )


DECISION = intake.Decision(
    intake.Outcome.ROUTE, intent="topic_bidrag", confidence=0.93, department="kultur_fritid"
)


def test_the_filing_row_is_written_with_the_enquiry_and_only_when_configured(
    engine: Engine,
) -> None:
    with session_scope(engine) as session:
        filed = intake.receive(
            session=session,
            message=_message("telegram:4711:1"),
            decision=DECISION,
            email_enabled=False,
            case_system=True,
        )
        plain = intake.receive(
            session=session,
            message=_message("telegram:4711:2"),
            decision=DECISION,
            email_enabled=False,
        )
        again = intake.receive(
            session=session,
            message=_message("telegram:4711:1"),
            decision=DECISION,
            email_enabled=False,
            case_system=True,
        )
        assert not again.created
        rows = session.exec(select(OutboxMessage).where(OutboxMessage.channel == "errand")).all()
        assert [row.enquiry_id for row in rows] == [filed.enquiry.id]
        assert rows[0].dedupe_key == f"errand:{filed.enquiry.id}"
        assert plain.enquiry.id != filed.enquiry.id
    # A transaction that fails records neither the enquiry nor its filing.
    with pytest.raises(RuntimeError), session_scope(engine) as session:
        intake.receive(
            session=session,
            message=_message("telegram:4711:3"),
            decision=DECISION,
            email_enabled=False,
            case_system=True,
        )
        raise RuntimeError("the process fails before its commit")
    with session_scope(engine) as session:
        keys = [e.message_key for e in session.exec(select(Enquiry)).all()]
        assert "telegram:4711:3" not in keys
        assert (
            len(session.exec(select(OutboxMessage).where(OutboxMessage.channel == "errand")).all())
            == 1
        )


CRASHING = textwrap.dedent(
    """
    import asyncio, os, sys
    import httpx
    from bot.channels.errand import dispatcher
    from db.plumbing.session import make_engine, session_scope
    from db.models import utcnow
    from tests.test_errand_intake import DECISION, _message
    from tests.test_errand import _settings
    from db import intake

    url, server, point = sys.argv[1], sys.argv[2], sys.argv[3]
    engine = make_engine(url)
    with session_scope(engine) as session:
        intake.receive(session=session, message=_message("telegram:4711:9"), decision=DECISION,
                       email_enabled=False, case_system=True)
    if point == "recorded":
        os._exit(9)  # killed after the commit, before any filing
    settings = _settings(server)
    [filing] = dispatcher.prepare(engine, settings, utcnow())

    async def post() -> None:
        async with httpx.AsyncClient(headers=dispatcher._headers(settings)) as client:
            outcome = await dispatcher.file_one(client, dispatcher._base(settings), filing)
            assert outcome.errand_id
    asyncio.run(post())
    os._exit(9)  # killed after the case system made the errand, before it was recorded
    """
)


@pytest.mark.parametrize("point", ["recorded", "posted"])
async def test_a_crash_between_recording_and_filing_still_files_once(
    engine: Engine,
    server: SupportManagement,  # noqa: F811
    point: str,
) -> None:
    url = engine.url.render_as_string(hide_password=False)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CRASHING, url, server.url, point
    )
    assert await process.wait() == 9
    assert len(server.posts()) == (1 if point == "posted" else 0)
    with session_scope(engine) as session:
        [enquiry] = session.exec(
            select(Enquiry).where(Enquiry.message_key == "telegram:4711:9")
        ).all()
        reference = enquiry.reference
        assert session.exec(select(ErrandFiling)).all() == []
    # A new process: at once for a row never sent; after the dead claim's lease for one in doubt.
    later = utcnow() + (timedelta(minutes=11) if point == "posted" else timedelta(seconds=1))
    dispatcher = ErrandDispatcher(_settings(server.url), engine, clock=Clock(later))
    assert await dispatcher.step() == 1
    assert await dispatcher.step() == 0
    assert len(server.errands) == 1 and len(server.posts()) == 1
    [errand] = server.errands.values()
    assert errand["externalTags"] == [{"key": TAG_KEY, "value": reference}]
    assert errand["classification"]["category"] == "KULTUR_FRITID"
    with session_scope(engine) as session:
        [filing] = session.exec(select(ErrandFiling)).all()
        assert filing.enquiry_id == enquiry.id and filing.errand_number
