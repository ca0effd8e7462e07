"""The department inbox and the e-mail link over HTTP: what staff see, do, and may not see."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot.channels.desk.app import build_desk_app
from bot.channels.email.outbox import prepare
from bot.messages import render
from db.enquiries import deadlines, lifecycle, queue, workflow
from db.enquiries.notifications import Kind
from db.models import (
    AuditEntry,
    DeskLoginToken,
    Enquiry,
    EnquiryEvent,
    EnquiryStatus,
    OutboxMessage,
)
from db.people import departments
from db.plumbing.session import session_scope
from harness.database import set_group_chat
from harness.desk import COORDINATOR_ID, OTHER_STAFF_ID, STAFF_ID, Clock, add_staff, csrf_of, person
from harness.desk import login_path as login_link
from harness.people import staff_id, staff_member
from harness.smtp import SmtpServer
from harness.workflow import DEPARTMENT_CHAT, as_sent, local, routed_enquiry

NOW = local(2026, 3, 16, 9)
MAILBOX = "foreningsservice@storasa.example"
COLLEAGUE_ID = 444
TOKEN = re.compile(r"/desk/link\?token=([A-Za-z0-9_.\-]+)")


@pytest.fixture
async def desk(engine: Engine, database_url: str) -> AsyncIterator[tuple[TestClient, Clock]]:
    """Yield a client on the desk (frozen clock) with staff; kultur_fritid takes e-mail."""
    add_staff(engine)
    with session_scope(engine) as session:
        culture = departments.department_by_key(session=session, key="kultur_fritid")
        assert culture is not None
        culture.channels = "email"
        staff_member(session, COLLEAGUE_ID, "staff", culture.id, name="Alva")
    clock = Clock(NOW)
    settings = SmtpServer(port=1).settings(database_url)
    client = TestClient(TestServer(build_desk_app(settings, engine, clock=clock)))
    await client.start_server()
    try:
        yield client, clock
    finally:
        await client.close()


def _enquiry(
    engine: Engine, *, department: str = "kultur_fritid", hours_ago: int = 0, **kw: Any
) -> tuple[int, str]:
    """Route and forward an enquiry (by e-mail to kultur_fritid); return its id and reference."""
    now = NOW - timedelta(hours=hours_ago)
    with session_scope(engine) as session:
        enquiry = routed_enquiry(
            session, now=now, department_key=department, department_chat=None, **kw
        )
        target = departments.department_by_key(session=session, key=department)
        assert target is not None
        lifecycle.forwarded(session=session, enquiry=enquiry, department=target, now=now)
        assert enquiry.id is not None and enquiry.reference is not None
        return enquiry.id, enquiry.reference


async def _sign_in(client: TestClient, engine: Engine, user_id: int) -> None:
    path = login_link(engine, user_id, NOW)
    page = await client.get(path)
    response = await client.post(
        "/desk/login",
        data={"csrf": csrf_of(await page.text()), "token": path.split("token=")[1]},
        allow_redirects=False,
    )
    assert response.status == 303


async def _post(client: TestClient, path: str, form_page: str, **data: str) -> tuple[int, str]:
    csrf = csrf_of(await (await client.get(form_page)).text())
    response = await client.post(path, data={"csrf": csrf, **data}, allow_redirects=False)
    return response.status, await response.text()


def _state(engine: Engine, enquiry_id: int) -> tuple[str, int, int]:
    """Return an enquiry's status, its number of events and of outbox rows."""
    with Session(engine) as session:
        enquiry = session.get(Enquiry, enquiry_id)
        assert enquiry is not None
        events = session.exec(select(EnquiryEvent).where(EnquiryEvent.enquiry_id == enquiry_id))
        rows = session.exec(select(OutboxMessage).where(OutboxMessage.enquiry_id == enquiry_id))
        return enquiry.status, len(events.all()), len(rows.all())


def _link_of(
    engine: Engine, database_url: str, now: datetime = NOW, kind: str = Kind.FORWARD
) -> str:
    """Return the token of the link in the next mail of a kind (as the e-mail channel makes it)."""
    mails = prepare(engine, SmtpServer(port=1).settings(database_url), now)
    with Session(engine) as session:
        kinds = {m.row_id: session.get(OutboxMessage, m.row_id).kind for m in mails}  # type: ignore[union-attr]
    found = [t for mail in mails if kinds[mail.row_id] == kind for t in TOKEN.findall(mail.text)]
    assert found, [m.text for m in mails]
    return found[0]


# ---------------------------------------------------------------------------------- the inbox


async def test_the_inbox_lists_the_department_nearest_deadline_first(
    desk: tuple[TestClient, Clock], engine: Engine
) -> None:
    client, _ = desk
    _, newer = _enquiry(engine, hours_ago=1, association="Storåsa Schackklubb")
    _, older = _enquiry(
        engine, hours_ago=72, association="IF Storåsa Bandy", detected_language="ar"
    )
    _, technical = _enquiry(engine, department="teknik")
    await _sign_in(client, engine, STAFF_ID)
    page = await (await client.get("/desk/inbox")).text()
    assert older in page and newer in page and technical not in page
    assert page.index(older) < page.index(newer)
    english = await (await client.get("/desk/inbox?lang=en")).text()
    assert "arbetstimmar" in page and "working hours" in english
    assert "IF Storåsa Bandy" in page
    # The language each question is written in, in its own column.
    assert '<td class="language">arabiska</td>' in page
    client.session.cookie_jar.clear()
    await _sign_in(client, engine, COORDINATOR_ID)
    everything = await (await client.get("/desk/inbox")).text()
    assert all(reference in everything for reference in (older, newer, technical))


async def test_another_departments_enquiry_is_404_and_logged(
    desk: tuple[TestClient, Clock], engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    client, _ = desk
    enquiry_id, reference = _enquiry(engine)
    await _sign_in(client, engine, OTHER_STAFF_ID)
    before = _state(engine, enquiry_id)
    with caplog.at_level(logging.WARNING, logger="bot.channels.desk.web"):
        page = await client.get(f"/desk/inbox/{reference}")
        missing = await client.get("/desk/inbox/LOT-2026-99999")
        status, _ = await _post(
            client, f"/desk/inbox/{reference}/answer", "/desk/inbox", text="Vi tar det."
        )
    assert page.status == 404 and missing.status == 404 and status == 404
    assert await page.text() == await missing.text()
    assert _state(engine, enquiry_id) == before
    refusals = [r.getMessage() for r in caplog.records if "refused" in r.getMessage()]
    assert len(refusals) == 2 and all(
        f"staff:{person(engine, OTHER_STAFF_ID)}" in r for r in refusals
    )


async def test_the_clerk_answers_and_the_association_hears_it_in_its_language(
    desk: tuple[TestClient, Clock], engine: Engine
) -> None:
    client, _ = desk
    enquiry_id, reference = _enquiry(engine, language="en", text="How do we apply for a grant?")
    await _sign_in(client, engine, STAFF_ID)
    page = await (await client.get(f"/desk/inbox/{reference}")).text()
    assert "How do we apply for a grant?" in page
    assert '<dd class="reply-language">engelska</dd>' in page
    assert "Varför till er" in page
    status, _ = await _post(
        client,
        f"/desk/inbox/{reference}/answer",
        f"/desk/inbox/{reference}",
        text="Apply in the e-service by 15 April.",
    )
    assert status == 303
    with Session(engine) as session:
        enquiry = session.get(Enquiry, enquiry_id)
        assert enquiry is not None
        assert enquiry.status == EnquiryStatus.ANSWERED
        assert enquiry.answered_by == f"web:staff:{person(engine, STAFF_ID)}"
        [answer] = session.exec(
            select(OutboxMessage).where(
                OutboxMessage.enquiry_id == enquiry_id, OutboxMessage.kind == Kind.ANSWER
            )
        ).all()
        sent = as_sent(session, answer)
    assert answer.channel == "telegram" and "Apply in the e-service by 15 April." in sent.text
    assert "Culture and Leisure" in sent.text and "Did the answer help?" in sent.text
    done = await (await client.get(f"/desk/inbox/{reference}?done=answer")).text()
    assert "Svaret är skickat till föreningen" in done


@pytest.mark.parametrize(("text", "says"), [("   ", "Svaret är tomt"), ("x" * 10_000, "10000")])
async def test_an_empty_or_too_long_answer_changes_nothing(
    desk: tuple[TestClient, Clock], engine: Engine, text: str, says: str
) -> None:
    client, _ = desk
    enquiry_id, reference = _enquiry(engine)
    await _sign_in(client, engine, STAFF_ID)
    before = _state(engine, enquiry_id)
    status, page = await _post(
        client, f"/desk/inbox/{reference}/answer", f"/desk/inbox/{reference}", text=text
    )
    assert status == 409
    assert says in page and 'id="err-answer"' in page and 'lang="en"' in page
    if len(text) > 100:
        assert text in page  # what the clerk wrote is kept to shorten
    assert _state(engine, enquiry_id) == before


async def test_every_form_needs_the_csrf_token(
    desk: tuple[TestClient, Clock], engine: Engine
) -> None:
    client, _ = desk
    enquiry_id, reference = _enquiry(engine)
    await _sign_in(client, engine, STAFF_ID)
    before = _state(engine, enquiry_id)
    for action, field in (("answer", "text"), ("notours", "reason"), ("note", "note")):
        response = await client.post(
            f"/desk/inbox/{reference}/{action}", data={field: "x", "csrf": "forged"}
        )
        assert response.status == 403
    assert _state(engine, enquiry_id) == before


async def test_not_ours_needs_a_reason_which_reaches_the_coordinator(
    desk: tuple[TestClient, Clock], engine: Engine
) -> None:
    client, _ = desk
    enquiry_id, reference = _enquiry(engine)
    await _sign_in(client, engine, STAFF_ID)
    before = _state(engine, enquiry_id)
    path, form = f"/desk/inbox/{reference}/notours", f"/desk/inbox/{reference}"
    status, page = await _post(client, path, form, reason="  ")
    assert status == 409 and "Skriv kort varför" in page
    assert _state(engine, enquiry_id) == before
    status, _ = await _post(client, path, form, reason="Gäller detaljplanen, inte bidrag.")
    assert status == 303
    with Session(engine) as session:
        enquiry = session.get(Enquiry, enquiry_id)
        assert enquiry is not None and enquiry.status == EnquiryStatus.ESCALATED
        kinds = [
            r.kind
            for r in session.exec(
                select(OutboxMessage).where(OutboxMessage.enquiry_id == enquiry_id)
            )
        ]
        [card] = session.exec(select(OutboxMessage).where(OutboxMessage.kind == Kind.CARD)).all()
        assert "Gäller detaljplanen, inte bidrag." in as_sent(session, card).text
    assert Kind.RETURNED in kinds
    shown = await (await client.get(f"/desk/inbox/{reference}")).text()
    assert "Ärendet ligger hos samordnaren." in shown and 'id="send-answer"' not in shown


async def test_assign_to_a_colleague_and_internal_notes(
    desk: tuple[TestClient, Clock], engine: Engine
) -> None:
    client, _ = desk
    enquiry_id, reference = _enquiry(engine, detected_language="uk")
    await _sign_in(client, engine, STAFF_ID)
    form = f"/desk/inbox/{reference}"
    status, page = await _post(client, f"{form}/assign", form, colleague="12345")
    assert status == 409 and "Välj en kollega" in page
    status, _ = await _post(
        client, f"{form}/assign", form, colleague=str(person(engine, COLLEAGUE_ID))
    )
    assert status == 303
    status, _ = await _post(client, f"{form}/note", form, note="Ring föreningen på fredag.")
    assert status == 303
    status, page = await _post(client, f"{form}/note", form, note="")
    assert status == 409 and "Anteckningen är tom" in page
    page = await (await client.get(form)).text()
    assert "Ring föreningen på fredag." in page and 'id="assignee">Alva<' in page
    with Session(engine) as session:
        enquiry = session.get(Enquiry, enquiry_id)
        assert enquiry is not None and enquiry.assigned_to == person(engine, COLLEAGUE_ID)
        rows = session.exec(
            select(OutboxMessage)
            .where(OutboxMessage.enquiry_id == enquiry_id)
            .order_by(col(OutboxMessage.id))
        ).all()
    assert [(r.kind, r.channel, r.recipient) for r in rows] == [
        (Kind.FORWARD, "email", "department"),
        (Kind.ASSIGNED, "email", "department"),
        (Kind.ASSIGNED_TO_YOU, "telegram", "staff"),
    ]
    assert rows[2].recipient_id == person(
        engine, COLLEAGUE_ID
    )  # nothing to the association: a note stays here
    with Session(engine) as session:
        told = render(session, rows[2]).text
    assert reference in told and "Språk: ukrainska · föreningens språk: svenska" in told


# ------------------------------------------------------------------------------ the e-mail link


async def test_the_link_opens_one_enquiry_after_the_button_and_only_once(
    desk: tuple[TestClient, Clock],
    engine: Engine,
    database_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client, _ = desk
    enquiry_id, reference = _enquiry(engine)
    _, other = _enquiry(engine, text="En annan fråga till samma förvaltning.")
    token = _link_of(engine, database_url)
    for _ in range(2):  # a mail filter's scanner fetches the link: it stays unused
        page = await client.get(f"/desk/link?token={token}")
        assert page.status == 200 and 'id="open-enquiry"' in await page.text()
    with Session(engine) as session:
        assert all(r.used_at is None for r in session.exec(select(DeskLoginToken)))
    forged = await client.post("/desk/link", data={"token": token, "csrf": "x"})
    assert forged.status == 403
    page = await client.get(f"/desk/link?token={token}")
    response = await client.post(
        "/desk/link",
        data={"token": token, "csrf": csrf_of(await page.text())},
        allow_redirects=False,
    )
    assert response.status == 303 and response.headers["Location"] == f"/desk/inbox/{reference}"
    shown = await (await client.get(f"/desk/inbox/{reference}")).text()
    assert "Hur söker vi aktivitetsstöd" in shown and MAILBOX in shown
    for elsewhere in ("/desk", "/desk/department/kultur_fritid", "/desk/queue", "/desk/enquiries"):
        moved = await client.get(elsewhere, allow_redirects=False)
        assert (moved.status, moved.headers["Location"]) == (303, f"/desk/inbox/{reference}")
    listed = await (await client.get("/desk/inbox")).text()
    assert reference in listed and other not in listed
    with caplog.at_level(logging.WARNING, logger="bot.channels.desk.web"):
        assert (await client.get(f"/desk/inbox/{other}")).status == 404
    assert any(f"mail:{MAILBOX}" in r.getMessage() for r in caplog.records)

    status, _ = await _post(
        client, f"/desk/inbox/{reference}/answer", f"/desk/inbox/{reference}", text="Ja, det går."
    )
    assert status == 303
    with Session(engine) as session:
        enquiry = session.get(Enquiry, enquiry_id)
        assert enquiry is not None and enquiry.answered_by == f"mail:{MAILBOX}"
    client.session.cookie_jar.clear()
    again = await client.get(f"/desk/link?token={token}")
    assert again.status == 410 and "Ärendet är redan besvarat" in await again.text()


async def test_a_used_altered_or_expired_link_changes_nothing(
    desk: tuple[TestClient, Clock], engine: Engine, database_url: str
) -> None:
    client, clock = desk
    enquiry_id, _ = _enquiry(engine)
    token = _link_of(engine, database_url)
    page = await client.get(f"/desk/link?token={token}")
    csrf = csrf_of(await page.text())
    first = await client.post(
        "/desk/link", data={"token": token, "csrf": csrf}, allow_redirects=False
    )
    assert first.status == 303
    client.session.cookie_jar.clear()
    page = await client.get(f"/desk/link?token={token}")
    assert page.status == 410 and "Länken är redan använd" in await page.text()

    before = _state(engine, enquiry_id)
    for altered in (token[:-1] + ("A" if token[-1] != "A" else "B"), token[:20], "x.1.y", ""):
        response = await client.get(f"/desk/link?token={altered}")
        assert response.status == 400 and "Länken fungerar inte" in await response.text()
        posted = await client.post("/desk/link", data={"token": altered, "csrf": "x"})
        assert posted.status == 400
    with session_scope(engine) as session:
        enquiry = session.get(Enquiry, enquiry_id)
        assert enquiry is not None and enquiry.reminder_due_at is not None
        reminded_at = enquiry.reminder_due_at
        assert deadlines.sweep_deadlines(session=session, now=reminded_at).reminded
    fresh = _link_of(engine, database_url, now=reminded_at, kind=Kind.REMINDER)  # not yet used
    assert fresh != token
    before = _state(engine, enquiry_id)
    clock.now = reminded_at + timedelta(days=7, minutes=1)
    page = await client.get(f"/desk/link?token={fresh}")
    text = await page.text()
    assert (
        page.status == 410 and "Länken har gått ut" in text and "samordnare@storasa.example" in text
    )
    assert _state(engine, enquiry_id) == before
    assert (await client.get("/desk", allow_redirects=False)).headers["Location"] == "/desk/login"


async def test_a_link_stops_working_when_the_enquiry_leaves_the_mailbox(
    desk: tuple[TestClient, Clock], engine: Engine, database_url: str
) -> None:
    client, _ = desk
    enquiry_id, reference = _enquiry(engine)
    token = _link_of(engine, database_url)
    page = await client.get(f"/desk/link?token={token}")
    response = await client.post(
        "/desk/link",
        data={"token": token, "csrf": csrf_of(await page.text())},
        allow_redirects=False,
    )
    assert response.status == 303
    with session_scope(engine) as session:
        enquiry = session.get(Enquiry, enquiry_id)
        assert enquiry is not None
        escalation = workflow.not_ours(session=session, enquiry=enquiry, actor="staff:1", now=NOW)
        assert escalation.id is not None
        teknik = departments.department_by_key(session=session, key="teknik")
        assert teknik is not None
        set_group_chat(teknik, DEPARTMENT_CHAT)  # the reroute's forward goes to its group
        queue.route(
            session=session,
            escalation_id=escalation.id,
            department_key="teknik",
            staff_user_id=staff_id(session, COORDINATOR_ID),
            email_enabled=True,
            now=NOW,
        )
    gone = await client.get(f"/desk/inbox/{reference}", allow_redirects=False)
    assert (gone.status, gone.headers["Location"]) == (303, "/desk/login")
    client.session.cookie_jar.clear()
    _enquiry(engine)
    token = _link_of(engine, database_url)  # the second enquiry's forward
    with session_scope(engine) as session:
        culture = departments.department_by_key(session=session, key="kultur_fritid")
        assert culture is not None
        culture.mailbox = "ny.adress@storasa.example"
    page = await client.get(f"/desk/link?token={token}")
    assert page.status == 410 and "inte längre hos er" in await page.text()


async def test_the_link_and_the_enquiry_follow_the_chosen_language(
    desk: tuple[TestClient, Clock], engine: Engine, database_url: str
) -> None:
    client, _ = desk
    _, reference = _enquiry(engine)
    token = _link_of(engine, database_url)
    refused = await client.get("/desk/link?token=x.1.y&lang=en")
    text = await refused.text()
    assert refused.status == 400 and '<html lang="en">' in text
    assert "The link does not work" in text and "Nothing was changed." in text
    assert "Länken fungerar inte" not in text and "<span lang=" not in text
    page = await client.get(f"/desk/link?token={token}")  # the ?lang=en cookie holds
    text = await page.text()
    assert f"Open enquiry {reference}" in text and "Öppna ärende" not in text
    response = await client.post(
        "/desk/link", data={"token": token, "csrf": csrf_of(text)}, allow_redirects=False
    )
    assert response.status == 303
    shown = await (await client.get(f"/desk/inbox/{reference}")).text()
    assert "Why it came to you" in shown and "Lotsen read the question as" in shown
    assert "working hours left" in shown and "Varför till er" not in shown
    assert "Lotsen tolkade" not in shown and "<span lang=" not in shown
    both = await (await client.get(f"/desk/inbox/{reference}?lang=sv,en")).text()
    assert 'Varför till er <span lang="en" class="en">/ Why it came to you</span>' in both
    assert "Lotsen tolkade frågan som" in both and "Lotsen read the question as" in both


# ------------------------------------------------------------------------ the department page


async def test_staff_choose_the_channels_and_the_mailbox_audited(
    desk: tuple[TestClient, Clock], engine: Engine
) -> None:
    client, _ = desk
    await _sign_in(client, engine, STAFF_ID)
    form = "/desk/department/kultur_fritid"
    page = await (await client.get(form)).text()
    assert 'value="email" checked' in page and MAILBOX in page
    status, page = await _post(
        client, f"{form}/channels", form, channels="both", mailbox="fel.adress@"
    )
    assert status == 400 and "Det ser inte ut som en e-postadress" in page
    status, page = await _post(client, f"{form}/channels", form, channels="pigeon", mailbox="")
    assert status == 400 and "Välj telegram, email eller both" in page
    status, _ = await _post(
        client, f"{form}/channels", form, channels="both", mailbox="kultur@storasa.example"
    )
    assert status == 303
    with Session(engine) as session:
        culture = departments.department_by_key(session=session, key="kultur_fritid")
        assert culture is not None
        assert (culture.channels, culture.mailbox) == ("both", "kultur@storasa.example")
        entry = session.exec(
            select(AuditEntry)
            .where(AuditEntry.entity == "department", AuditEntry.entity_key == "kultur_fritid")
            .order_by(col(AuditEntry.id).desc())
        ).first()
    assert entry is not None and entry.actor == f"web:staff:{person(engine, STAFF_ID)}"
    assert entry.before is not None and entry.after is not None
    assert (entry.before["channels"], entry.after["channels"]) == ("email", "both")
    assert entry.after["mailbox"] == "kultur@storasa.example"
    status, _ = await _post(client, "/desk/department/teknik/channels", form, channels="email")
    assert status == 404
