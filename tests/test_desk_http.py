"""The desk over HTTP (aiohttp test client): sign-in, CSRF, roles, edits, queue, report."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from bot.channels.desk.accounts import add_account
from bot.channels.desk.app import build_desk_app
from bot.settings import Settings
from db.models import (
    AuditEntry,
    Contact,
    Department,
    DeskSession,
    Enquiry,
    Escalation,
    OutboxMessage,
)
from db.people.sign_in import create_login_link
from db.plumbing.session import session_scope
from harness.desk import (
    COORDINATOR_ID,
    OTHER_STAFF_ID,
    STAFF_ID,
    Clock,
    add_staff,
    csrf_of,
    login_path,
    person,
)
from harness.people import staff_id
from harness.workflow import (
    ASSOCIATION_CHAT,
    COORDINATOR_CHAT,
    as_sent,
    escalated_enquiry,
    local,
)

NOW = local(2026, 3, 16, 9)


@pytest.fixture
async def desk(engine: Engine) -> AsyncIterator[tuple[TestClient, Clock]]:
    """Yield a test client on the desk with a frozen clock, with staff in the database."""
    add_staff(engine)
    clock = Clock(NOW)
    settings = Settings(database_url="sqlite://", _env_file=None)  # type: ignore[call-arg]
    client = TestClient(TestServer(build_desk_app(settings, engine, clock=clock)))
    await client.start_server()
    try:
        yield client, clock
    finally:
        await client.close()


async def _login(client: TestClient, engine: Engine, user_id: int) -> None:
    path = login_path(engine, user_id, NOW)
    page = await client.get(path)
    assert page.status == 200
    response = await client.post(
        "/desk/login",
        data={"csrf": csrf_of(await page.text()), "token": path.split("token=")[1]},
        allow_redirects=False,
    )
    assert response.status == 303 and response.headers["Location"] == "/desk"
    cookie = response.cookies["lotsen_desk"]
    assert cookie["httponly"] and cookie["samesite"] == "Lax"


async def _csrf(client: TestClient, path: str) -> str:
    return csrf_of(await (await client.get(path)).text())


def test_login_link_only_for_staff(engine: Engine) -> None:
    add_staff(engine)
    with session_scope(engine) as session:
        assert create_login_link(session=session, person_id=None, base_url="x") is None
        link = create_login_link(
            session=session, person_id=staff_id(session, STAFF_ID), base_url="http://h/"
        )
    assert link is not None and link.startswith("http://h/desk/login?token=")


async def test_one_time_link_signs_in_once(desk: tuple[TestClient, Clock], engine: Engine) -> None:
    client, _ = desk
    assert (await client.get("/desk", allow_redirects=False)).headers["Location"] == "/desk/login"
    path = login_path(engine, COORDINATOR_ID, NOW)
    token = path.split("token=")[1]
    await _login_helper_with(client, token, expect_ok=True)
    home = await client.get("/desk")
    assert home.status == 200 and "Cora" in await home.text()
    client.session.cookie_jar.clear()
    page = await _login_helper_with(client, token, expect_ok=False)
    assert "Länken fungerar inte längre" in page
    with session_scope(engine) as session:
        assert len(session.exec(select(DeskSession)).all()) == 1


async def _login_helper_with(client: TestClient, token: str, *, expect_ok: bool) -> str:
    page = await client.get(f"/desk/login?token={token}")
    response = await client.post(
        "/desk/login",
        data={"csrf": csrf_of(await page.text()), "token": token},
        allow_redirects=False,
    )
    assert response.status == (303 if expect_ok else 400)
    return await response.text()


async def test_expired_link_is_refused(desk: tuple[TestClient, Clock], engine: Engine) -> None:
    client, clock = desk
    token = login_path(engine, STAFF_ID, NOW).split("token=")[1]
    clock.now = NOW + timedelta(minutes=11)
    page = await _login_helper_with(client, token, expect_ok=False)
    assert "gäller i 10 minuter" in page
    assert (await client.get("/desk", allow_redirects=False)).status == 303


async def test_login_without_csrf_is_refused(
    desk: tuple[TestClient, Clock], engine: Engine
) -> None:
    client, _ = desk
    token = login_path(engine, STAFF_ID, NOW).split("token=")[1]
    response = await client.post("/desk/login", data={"token": token, "csrf": "x"})
    assert response.status == 403
    # The token was not used up: it still works with the form's token.
    await _login_helper_with(client, token, expect_ok=True)


async def test_post_without_csrf_token_changes_nothing(
    desk: tuple[TestClient, Clock], engine: Engine
) -> None:
    client, _ = desk
    await _login(client, engine, STAFF_ID)
    response = await client.post(
        "/desk/department/kultur_fritid/contact/contact",
        data={"role": "Ny roll", "email": "ny@storasa.se", "phone": "", "hours": ""},
    )
    assert response.status == 403
    response = await client.post(
        "/desk/department/kultur_fritid/contact/contact",
        data={"csrf": "wrong", "role": "Ny roll", "email": "ny@storasa.se"},
    )
    assert response.status == 403
    with session_scope(engine) as session:
        assert (
            session.exec(select(AuditEntry).where(AuditEntry.actor.startswith("web:"))).all() == []
        )  # type: ignore[attr-defined]


async def test_roles_limit_what_staff_see(desk: tuple[TestClient, Clock], engine: Engine) -> None:
    client, _ = desk
    await _login(client, engine, STAFF_ID)
    assert (await client.get("/desk/queue")).status == 403
    # Another department's page is "not found", exactly like a department that does not exist.
    other, missing = (
        await client.get("/desk/department/teknik"),
        await client.get("/desk/department/finns_inte"),
    )
    assert other.status == missing.status == 404
    assert await other.text() == await missing.text()
    assert (await client.get("/desk/department/kultur_fritid")).status == 200
    csrf = await _csrf(client, "/desk/department/kultur_fritid")
    response = await client.post(
        "/desk/department/teknik/contact/contact",
        data={"csrf": csrf, "role": "X", "email": "x@storasa.se"},
    )
    assert response.status == 404


async def test_invalid_email_shows_error_and_saves_nothing(
    desk: tuple[TestClient, Clock], engine: Engine
) -> None:
    client, _ = desk
    await _login(client, engine, STAFF_ID)
    with session_scope(engine) as session:
        before = {c.id: (c.email, c.role) for c in session.exec(select(Contact)).all()}
        audits = len(session.exec(select(AuditEntry)).all())
    csrf = await _csrf(client, "/desk/department/kultur_fritid")
    response = await client.post(
        "/desk/department/kultur_fritid/contact/contact",
        data={"csrf": csrf, "role": "Föreningsservice", "email": "inte-en-adress", "phone": ""},
    )
    assert response.status == 400
    html = await response.text()
    assert 'id="contact-contact-email-error"' in html
    assert "Det ser inte ut som en e-postadress: inte-en-adress" in html
    assert 'value="inte-en-adress"' in html
    with session_scope(engine) as session:
        assert {c.id: (c.email, c.role) for c in session.exec(select(Contact)).all()} == before
        assert len(session.exec(select(AuditEntry)).all()) == audits


async def test_valid_edit_is_saved_and_audited(
    desk: tuple[TestClient, Clock], engine: Engine
) -> None:
    client, _ = desk
    await _login(client, engine, STAFF_ID)
    csrf = await _csrf(client, "/desk/department/kultur_fritid")
    response = await client.post(
        "/desk/department/kultur_fritid/contact/deputy",
        data={
            "csrf": csrf,
            "role": "Ersättare föreningsservice",
            "email": "ersattare@storasa.se",
            "phone": "+46 70 123 45 67",
            "hours": "Mån–fre 9–15",
        },
        allow_redirects=False,
    )
    assert response.status == 303
    with session_scope(engine) as session:
        entry = session.exec(select(AuditEntry).order_by(col(AuditEntry.id).desc())).first()
    assert entry is not None
    assert entry.actor == f"web:staff:{person(engine, STAFF_ID)}"
    assert entry.entity == "contact" and entry.entity_key == "kultur_fritid/deputy"
    assert entry.after is not None and entry.after["email"] == "ersattare@storasa.se"
    page = await (await client.get("/desk/department/kultur_fritid")).text()
    assert "ersattare@storasa.se" in page and f"web:staff:{person(engine, STAFF_ID)}" in page


async def test_absence_with_bad_date_is_refused(
    desk: tuple[TestClient, Clock], engine: Engine
) -> None:
    client, _ = desk
    await _login(client, engine, STAFF_ID)
    csrf = await _csrf(client, "/desk/department/kultur_fritid")
    response = await client.post(
        "/desk/department/kultur_fritid/absence/contact",
        data={"csrf": csrf, "absent_from": "2026-07-01", "absent_until": "första augusti"},
    )
    assert response.status == 400
    assert "Skriv datumet som ÅÅÅÅ-MM-DD" in await response.text()
    response = await client.post(
        "/desk/department/kultur_fritid/absence/contact",
        data={"csrf": csrf, "absent_from": "2026-07-01", "absent_until": "2026-07-31"},
        allow_redirects=False,
    )
    assert response.status == 303
    page = await (await client.get("/desk/department/kultur_fritid")).text()
    assert 'value="2026-07-31"' in page


async def test_queue_claim_and_answer_queue_a_message_for_the_association(
    desk: tuple[TestClient, Clock], engine: Engine
) -> None:
    client, _ = desk
    with session_scope(engine) as session:
        enquiry, escalation_id = escalated_enquiry(session, now=NOW - timedelta(hours=3))
        enquiry_id = enquiry.id
    await _login(client, engine, COORDINATOR_ID)
    queue_page = await (await client.get("/desk/queue?filter=unclaimed")).text()
    assert f"/desk/queue/{escalation_id}" in queue_page
    csrf = await _csrf(client, f"/desk/queue/{escalation_id}")
    claimed = await client.post(f"/desk/queue/{escalation_id}/claim", data={"csrf": csrf})
    assert claimed.status == 200 and "Ärendet är ditt" in await claimed.text()
    mine = await (await client.get("/desk/queue?filter=mine")).text()
    assert f"/desk/queue/{escalation_id}" in mine
    empty = await client.post(
        f"/desk/queue/{escalation_id}/answer", data={"csrf": csrf, "text": " "}
    )
    refusal = await empty.text()
    assert empty.status == 409 and "Svaret är tomt" in refusal  # one language: Swedish
    assert "The answer is empty" not in refusal
    answered = await client.post(
        f"/desk/queue/{escalation_id}/answer",
        data={"csrf": csrf, "text": "Ni kan söka bidraget senast 1 maj."},
    )
    assert answered.status == 200
    with session_scope(engine) as session:
        messages = [
            as_sent(session, row)
            for row in session.exec(
                select(OutboxMessage).where(OutboxMessage.enquiry_id == enquiry_id)
            ).all()
        ]
        stored = session.get(Enquiry, enquiry_id)
    assert stored is not None and stored.status == "answered"
    assert stored.answered_by == f"staff:{person(engine, COORDINATOR_ID)}"
    (message,) = [m for m in messages if m.kind == "answer"]
    assert message.chat_id == ASSOCIATION_CHAT
    assert "Ni kan söka bidraget senast 1 maj." in message.text
    again = await client.post(
        f"/desk/queue/{escalation_id}/close", data={"csrf": csrf, "reason": "spam"}
    )
    assert again.status == 409 and "är redan löst" in await again.text()


@pytest.mark.parametrize("smtp", [False, True], ids=["no-smtp", "smtp"])
async def test_queue_route_to_a_department_nobody_can_reach_says_so(
    engine: Engine, smtp: bool
) -> None:
    """teknik takes Telegram but has no group: by e-mail with SMTP, else back in the queue."""
    add_staff(engine)
    with session_scope(engine) as session:
        enquiry, escalation_id = escalated_enquiry(session, now=NOW - timedelta(hours=3))
        enquiry_id = enquiry.id
        teknik = session.exec(select(Department).where(Department.key == "teknik")).one()
        assert teknik.channels == "telegram" and teknik.group_chat is None
        teknik_id = teknik.id
    settings = Settings(
        database_url="sqlite://",
        smtp_host="127.0.0.1" if smtp else None,
        _env_file=None,  # type: ignore[call-arg]
    )
    client = TestClient(TestServer(build_desk_app(settings, engine, clock=Clock(NOW))))
    await client.start_server()
    try:
        await _login(client, engine, COORDINATOR_ID)
        csrf = await _csrf(client, f"/desk/queue/{escalation_id}")
        response = await client.post(
            f"/desk/queue/{escalation_id}/route",
            data={"csrf": csrf, "department": "teknik"},
            allow_redirects=False,
        )
        assert response.status == 303
        location = response.headers["Location"]
        page = await (await client.get(location)).text()
    finally:
        await client.close()
    with session_scope(engine) as session:
        stored = session.get(Enquiry, enquiry_id)
        assert stored is not None and stored.department_id == teknik_id
        escalations = session.exec(
            select(Escalation)
            .where(Escalation.enquiry_id == enquiry_id)
            .order_by(col(Escalation.id))
        ).all()
        rows = session.exec(
            select(OutboxMessage)
            .where(OutboxMessage.enquiry_id == enquiry_id)
            .order_by(col(OutboxMessage.id))
        ).all()
        kinds = [(row.kind, row.channel, row.recipient) for row in rows]
        sent = [as_sent(session, row) for row in rows if row.kind == "rerouted"]
    assert escalations[0].resolution == "rerouted"
    if smtp:  # the e-mail fallback: teknik's mailbox has it, the association is told
        assert location == f"/desk/queue/{escalation_id}?done=route"
        assert "Ärendet skickades till förvaltningen." in page
        assert stored.status == "forwarded" and len(escalations) == 1
        assert ("forward", "email", "department") in kinds
        [told] = sent
        assert told.chat_id == ASSOCIATION_CHAT and "Tekniska förvaltningen" in told.text
    else:  # nobody can be reached: a new escalation (unreachable), the coordinator told
        [_first, again] = escalations
        assert again.reason == "unreachable" and again.resolved_at is None
        assert location == f"/desk/queue/{again.id}?done=unreachable"
        assert "Förvaltningen kan inte nås" in page and "ligger kvar i kön" in page
        assert stored.status == "escalated"
        assert not any(kind == "forward" for kind, _, _ in kinds)
        assert [(k, r) for k, _, r in kinds if k == "card"] == [("card", "coordinators")]
        assert sent == []  # the association is not told it was sent


async def test_enquiry_search_is_limited_to_the_staff_department(
    desk: tuple[TestClient, Clock], engine: Engine
) -> None:
    client, _ = desk
    from harness.workflow import routed_enquiry

    with session_scope(engine) as session:
        mine = routed_enquiry(session, now=NOW, association="Storåsa IF")
        theirs = routed_enquiry(session, now=NOW, department_key="teknik", association="Storåsa IF")
        mine_ref, theirs_ref = mine.reference, theirs.reference
    await _login(client, engine, STAFF_ID)
    page = await (await client.get("/desk/enquiries?association=storåsa")).text()
    assert mine_ref in page and theirs_ref not in page
    # Another department's enquiry answers exactly like one that does not exist (no oracle).
    theirs_page = await client.get(f"/desk/enquiries/{theirs_ref}")
    missing_page = await client.get("/desk/enquiries/LOT-2026-99999")
    assert theirs_page.status == missing_page.status == 404
    assert await theirs_page.text() == await missing_page.text()
    assert (await client.get(f"/desk/enquiries/{mine_ref}")).status == 200
    client.session.cookie_jar.clear()
    await _login(client, engine, OTHER_STAFF_ID)
    page = await (await client.get(f"/desk/enquiries?reference={theirs_ref}")).text()
    assert theirs_ref in page


async def test_local_account_signs_in_with_password(
    desk: tuple[TestClient, Clock], engine: Engine
) -> None:
    client, _ = desk
    with session_scope(engine) as session:
        add_account(
            session=session,
            username="Samordnare",
            password="ett långt lösenord",
            role="coordinator",
        )
    page = await client.get("/desk/login")
    wrong = await client.post(
        "/desk/login",
        data={"csrf": csrf_of(await page.text()), "username": "samordnare", "password": "fel"},
    )
    assert wrong.status == 400 and "Fel användarnamn eller lösenord" in await wrong.text()
    page = await client.get("/desk/login")
    right = await client.post(
        "/desk/login",
        data={
            "csrf": csrf_of(await page.text()),
            "username": "samordnare",
            "password": "ett långt lösenord",
        },
    )
    assert right.status == 200 and "samordnare" in await right.text()
    assert (await client.get("/desk/queue")).status == 200
    csrf = await _csrf(client, "/desk")
    out = await client.post("/desk/logout", data={"csrf": csrf}, allow_redirects=False)
    assert out.status == 303
    assert (await client.get("/desk/queue", allow_redirects=False)).status == 303


async def test_public_report_and_downloads(desk: tuple[TestClient, Clock], engine: Engine) -> None:
    client, _ = desk
    page = await client.get("/rapport")
    html = await page.text()
    assert (
        page.status == 200 and '<html lang="sv">' in html and "Inga frågor under perioden" in html
    )
    data = await (await client.get("/rapport.json")).json()
    assert data["rows"] == [] and data["suppression_threshold"] == 5
    csv = await (await client.get("/rapport.csv")).text()
    assert csv.splitlines()[0].startswith('"month","department",')


async def test_desk_answer_reaches_the_association_through_the_dispatcher(
    desk: tuple[TestClient, Clock], engine: Engine
) -> None:
    from telegram import Bot

    from bot.channels.telegram.outbox import dispatch_once
    from harness.fake_telegram import start_fake_telegram

    client, _ = desk
    with session_scope(engine) as session:
        _, escalation_id = escalated_enquiry(session, now=NOW - timedelta(hours=1))
    await _login(client, engine, COORDINATOR_ID)
    csrf = await _csrf(client, f"/desk/queue/{escalation_id}")
    response = await client.post(
        f"/desk/queue/{escalation_id}/answer",
        data={"csrf": csrf, "text": "Välkomna att boka lokalen via kommunens webb."},
    )
    assert response.status == 200
    async with start_fake_telegram() as fake, Bot(fake.token, base_url=fake.base_url) as bot:
        assert await dispatch_once(bot, engine, COORDINATOR_CHAT) >= 1
    (sent,) = fake.sent_messages(ASSOCIATION_CHAT)
    assert "Välkomna att boka lokalen via kommunens webb." in sent["text"]
