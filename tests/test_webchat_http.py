"""The web chat over plain HTTP, as a browser without JavaScript uses it (Rasa down here: the
question is registered and escalated with a reference, as on Telegram), on both backends."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr
from sqlalchemy import func, inspect
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from bot.channels.email.outbox import EmailDispatcher
from bot.channels.webchat.delivery import deliver
from bot.channels.webchat.views import recover
from bot.ratelimit import DatabaseRateLimiter
from bot.services import create_services
from bot.settings import Settings
from db import webchat
from db.enquiries.workflow import answer_enquiry
from db.models import Enquiry, EnquiryStatus, Municipality, OutboxMessage, WebChat, WebChatEntry
from db.people.limits import Limit
from db.plumbing.migrate import downgrade, upgrade
from db.plumbing.session import make_engine, session_scope
from harness.ports import free_port
from harness.smtp import body, smtp_server
from harness.webchat import Visitor, build_chat_app, buttons_of, entries_of
from tests.test_web_probe import raw

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _settings(engine: Engine, tmp_path: Any) -> Settings:
    return Settings(
        database_url=engine.url.render_as_string(hide_password=False),
        rasa_url=f"http://127.0.0.1:{free_port()}",  # nothing listens: Rasa is down
        link_secret=SecretStr("web chat tests"),
        _env_file=None,  # type: ignore[call-arg]
    )


@pytest.fixture
async def client(engine: Engine, tmp_path: Any) -> AsyncIterator[TestClient[Any, Any]]:
    """Yield a client of the web server with the chat (Rasa unreachable)."""
    settings = _settings(engine, tmp_path)
    services = create_services(settings)
    app = build_chat_app(settings, engine, services)
    test_client = TestClient(TestServer(app))
    await test_client.start_server()
    try:
        yield test_client
    finally:
        await test_client.close()
        await services.aclose()


def _visitor(client: TestClient[Any, Any]) -> Visitor:
    return Visitor(client.session, str(client.make_url("")).rstrip("/"))


def _count(engine: Engine, model: Any) -> int:
    with Session(engine) as session:
        return int(session.exec(select(func.count()).select_from(model)).one())


async def test_the_first_page_offers_the_languages_and_sets_no_cookie(
    client: TestClient[Any, Any], engine: Engine
) -> None:
    response = await client.get("/chatt")
    page = await response.text()
    assert response.status == 200
    assert "Set-Cookie" not in response.headers
    assert 'href="/chatt/integritet"' in page and 'href="/chatt/tillganglighet"' in page
    for code, name in (("sv", "Svenska"), ("ar", "العربية"), ("fa", "فارسی"), ("so", "Soomaali")):
        assert f'value="{code}" lang="{code}"' in page and name in page
    assert 'value="ar" lang="ar" dir="rtl"' in page
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "default-src 'none'" in policy
    assert response.headers["Server"] == "Lotsen" and response.headers["X-Frame-Options"] == "DENY"
    assert _count(engine, WebChat) == 0


async def test_a_question_without_javascript_gets_a_reference_and_later_the_answer(
    client: TestClient[Any, Any], engine: Engine
) -> None:
    visitor = _visitor(client)
    await visitor.open()
    response = await visitor.post({"lang": "sv"})
    cookie = next(c for c in client.session.cookie_jar if c.key == "lotsen_chatt")
    assert cookie["httponly"] and cookie["samesite"] == "Lax" and cookie["path"] == "/chatt"
    assert response.status == 200 and "Vilket språk" in visitor.transcript
    assert "förening" in visitor.entries[-1].text.lower()  # asks for the association
    await visitor.say("Storåsa Bollklubb, 802455-0101")
    assert "Storåsa Bollklubb" in visitor.transcript
    await visitor.say("Hur söker vi bidrag för vår förening?")
    with Session(engine) as session:
        enquiry = session.exec(select(Enquiry)).one()
    assert enquiry.status == EnquiryStatus.ESCALATED and enquiry.reference is not None
    assert enquiry.reference in visitor.entries[-1].text  # Rasa down: escalated, with reference
    mine = [entry for entry in visitor.entries if not entry.outbound]
    assert [entry.text for entry in mine][-1] == "Hur söker vi bidrag för vår förening?"
    await visitor.press("Mina ärenden")
    assert enquiry.reference in visitor.entries[-1].text
    with session_scope(engine) as session:
        found = session.get(Enquiry, enquiry.id)
        assert found is not None
        answer_enquiry(
            session=session, enquiry=found, text="Sök före den 1 maj.", actor="coordinator:1"
        )
    await visitor.open()
    assert "Sök före den 1 maj." in visitor.entries[-1].text
    yes = next(label for label, action in buttons_of(visitor.page).items() if action.endswith(":y"))
    await visitor.press(yes)
    with Session(engine) as session:
        answered = session.get(Enquiry, enquiry.id)
        assert answered is not None and answered.helpful is True
    with Session(engine) as session:
        waiting = session.exec(
            select(OutboxMessage).where(
                OutboxMessage.channel == "web", col(OutboxMessage.sent_at).is_(None)
            )
        ).all()
    assert waiting == []


async def test_arabic_is_laid_out_right_to_left(client: TestClient[Any, Any]) -> None:
    visitor = _visitor(client)
    await visitor.start("ar")
    assert '<html lang="ar" dir="rtl">' in visitor.page
    welcome, *replies = visitor.entries  # the welcome is Swedish, as on Telegram
    assert (welcome.language, welcome.direction) == ("sv", "ltr")
    assert replies and all(entry.language == "ar" and entry.direction == "rtl" for entry in replies)


async def test_a_message_posted_twice_is_recorded_once(
    client: TestClient[Any, Any], engine: Engine
) -> None:
    visitor = _visitor(client)
    await visitor.start()
    await visitor.say("Storåsa Bollklubb")
    form = visitor.page
    await visitor.say("Var bokar vi en lokal?")
    visitor.page = form  # the same form again: a double click, a reload, a retried fetch
    await visitor.say("Var bokar vi en lokal?")
    with Session(engine) as session:
        assert len(session.exec(select(Enquiry)).all()) == 1
    asked = [e for e in visitor.entries if e.text == "Var bokar vi en lokal?"]
    assert len(asked) == 1


async def test_javascript_posts_get_json_and_the_stream_catches_up(
    client: TestClient[Any, Any],
) -> None:
    visitor = _visitor(client)
    await visitor.start()
    last = visitor.entries[-1].id
    fields = {"csrf": visitor.page.split('name="csrf" value="')[1].split('"')[0]}
    fields["msg"] = visitor.page.split('name="msg" value="')[1].split('"')[0]
    fields["text"] = "Storåsa Bollklubb"
    response = await client.post("/chatt", data=fields, headers={"X-Lotsen-Fetch": "1"})
    answer = await response.json()
    assert response.status == 200 and answer["reload"] is False and answer["next"]
    seen: list[dict[str, Any]] = []
    async with client.get("/chatt/events", headers={"Last-Event-ID": str(last)}) as stream:
        assert stream.headers["Content-Type"].startswith("text/event-stream")
        while len(seen) < 2:
            line = await asyncio.wait_for(stream.content.readline(), 10)
            if line.startswith(b"data: "):
                seen.append(json.loads(line[6:]))
    assert [item["id"] for item in seen] == sorted(item["id"] for item in seen)
    assert all(item["id"] > last for item in seen)
    shown = entries_of("".join(item["html"] for item in seen))
    assert shown[0].text == "Storåsa Bollklubb" and not shown[0].outbound
    assert "Storåsa Bollklubb" in shown[1].text and shown[1].outbound


async def test_bad_input_gets_the_polite_page_and_changes_nothing(
    client: TestClient[Any, Any], engine: Engine
) -> None:
    visitor = _visitor(client)
    await visitor.start()
    await visitor.say("Storåsa Bollklubb")
    before = (_count(engine, WebChatEntry), _count(engine, Enquiry), _count(engine, WebChat))
    page = visitor.page
    refused = [
        ({"text": "   "}, 400),
        ({"text": "x" * 9000}, 413),
        ({"text": "a\x00b"}, 400),
        ({"text": "hej", "csrf": "ö" * 10}, 403),
        ({"text": "hej", "msg": "x"}, 400),
        ({"action": "fb:999999:y"}, 400),
        ({"action": "lang:xx"}, 400),
        ({"email": "inte en adress"}, 400),
    ]
    for data, status in refused:
        visitor.page = page
        response = await visitor.post(data)
        assert response.status == status, data
        assert "Ingenting har ändrats." in visitor.page, data
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert (_count(engine, WebChatEntry), _count(engine, Enquiry), _count(engine, WebChat)) == (
        before
    )
    tampered = await client.get("/chatt", cookies={"lotsen_chatt": "\udcff" + "x" * 40})
    assert tampered.status == 200 and "Välj språk för att börja" in await tampered.text()
    for path in ("/chatt/fortsatt/cabc/0000", "/chatt/nowhere", "/chatt/events"):
        fresh = await client.get(path, cookies={"lotsen_chatt": "forged"})
        assert fresh.status == 404 and "<html" in await fresh.text(), path
    foreign = await client.post("/chatt", data={"lang": "sv"}, headers={"Origin": "https://x.ex"})
    assert foreign.status == 403
    assert _count(engine, WebChat) == before[2]


async def test_the_reference_and_the_link_resume_the_chat_on_another_device(
    client: TestClient[Any, Any], engine: Engine
) -> None:
    visitor = _visitor(client)
    await visitor.start()
    await visitor.say("Storåsa Bollklubb")
    await visitor.say("Hur bokar vi en plan?")
    shown = visitor.page.split('<p class="resume"><a href="')[1].split('"')[0]
    assert shown.startswith("http://127.0.0.1:8080/chatt/fortsatt/")  # DESK_BASE_URL's address
    link = shown.removeprefix("http://127.0.0.1:8080")
    with Session(engine) as session:
        reference = session.exec(select(Enquiry.reference)).one()
    assert reference is not None
    transcript = visitor.transcript
    client.session.cookie_jar.clear()
    other = _visitor(client)
    await other.open(link)
    await other.post({"reference": "XX-0000-0000"}, path=link)
    assert other.status == 400 and "hör inte till" in other.page
    await other.open(link)
    await other.post({"reference": reference.lower()}, path=link)
    assert other.status == 200 and other.transcript == transcript
    tampered = await client.get(link[:-4] + "0000")
    assert tampered.status == 404


async def test_the_answer_also_reaches_the_address_the_visitor_left(
    client: TestClient[Any, Any], engine: Engine
) -> None:
    visitor = _visitor(client)
    await visitor.start()
    await visitor.say("Storåsa Bollklubb")
    await visitor.post({"email": "Ordf@Storasa-BK.example"})
    assert visitor.status == 200 and 'value="ordf@storasa-bk.example"' in visitor.page
    await visitor.say("Hur söker vi bidrag för vår förening?")
    with session_scope(engine) as session:
        assert session.exec(select(WebChat.email)).one() == "ordf@storasa-bk.example"
        enquiry = session.exec(select(Enquiry)).one()
        answer_enquiry(session=session, enquiry=enquiry, text="Sök före 1 maj.", actor="c:1")
        reference = enquiry.reference
    await visitor.open()  # the tab is open once more; then it is closed
    assert "Sök före 1 maj." in visitor.entries[-1].text
    with smtp_server() as server:
        settings = server.settings(engine.url.render_as_string(hide_password=False))
        assert await EmailDispatcher(settings, engine).step() >= 1
        mails = server.inbox.to("ordf@storasa-bk.example")
    assert len(mails) == 1 and "Sök före 1 maj." in body(mails[0])
    assert reference is not None and reference in str(mails[0]["Subject"]) + body(mails[0])


async def test_starting_chats_is_limited_per_address(engine: Engine, tmp_path: Any) -> None:
    settings = _settings(engine, tmp_path)
    services = create_services(settings)
    strict = DatabaseRateLimiter(engine, Limit(rate=0.0001, burst=2))
    app = build_chat_app(settings, engine, services, start_limiter=strict)
    async with TestClient(TestServer(app)) as test_client:
        statuses = []
        for _ in range(3):
            test_client.session.cookie_jar.clear()
            visitor = _visitor(test_client)
            await visitor.start()
            statuses.append(visitor.status)
        assert statuses == [200, 200, 429]
        assert "Vänta en stund" in visitor.page
    await services.aclose()
    assert _count(engine, WebChat) == 2


async def test_a_flood_is_refused_once_per_visitor(engine: Engine, tmp_path: Any) -> None:
    settings = _settings(engine, tmp_path)
    services = create_services(settings)
    strict = DatabaseRateLimiter(engine, Limit(rate=0.0001, burst=2))
    app = build_chat_app(settings, engine, services, limiter=strict)
    async with TestClient(TestServer(app)) as test_client:
        visitor = _visitor(test_client)
        await visitor.start()
        for text in ("Storåsa Bollklubb", "en fråga", "en till", "och en till"):
            await visitor.say(text)
        inbound = [e.text for e in visitor.entries if not e.outbound]
    await services.aclose()
    assert inbound == ["Storåsa Bollklubb", "en fråga"]
    assert sum("många meddelanden på kort tid" in e.text for e in visitor.entries) == 1


async def test_each_outbox_row_is_delivered_once_in_order(
    client: TestClient[Any, Any], engine: Engine
) -> None:
    visitor = _visitor(client)
    await visitor.start()
    await visitor.say("Storåsa Bollklubb")
    for n in range(3):
        await visitor.post({"action": "cmd:help", "msg": f"help-message-{n:08d}"})
    with session_scope(engine) as session:
        assert deliver(session) == set()  # everything is in the transcript already
    with Session(engine) as session:
        rows = session.exec(
            select(OutboxMessage.id).where(OutboxMessage.channel == "web").order_by("id")
        ).all()
        delivered = session.exec(
            select(WebChatEntry.outbox_id)
            .where(col(WebChatEntry.outbox_id).is_not(None))
            .order_by(col(WebChatEntry.id))
        ).all()
    assert list(delivered) == list(rows)


async def test_the_other_pages_and_the_embed_script(client: TestClient[Any, Any]) -> None:
    statement = await client.get("/chatt/tillganglighet?lang=ar")
    assert statement.status == 200 and 'lang="ar" dir="rtl"' in await statement.text()
    privacy = await client.get("/chatt/integritet")
    assert "kaka" in await privacy.text()
    embed = await client.get("/chatt/embed.js")
    script = await embed.text()
    assert embed.headers["Content-Type"].startswith("text/javascript")
    assert '"Fråga kommunen"' in script and "/chatt" in script and len(script.encode()) < 4096


def test_migration_0120_adds_and_removes_the_chat_tables_around_existing_data(
    database_url: str,
) -> None:
    upgrade(database_url, "0080")
    engine = make_engine(database_url)
    with session_scope(engine) as session:
        session.add(Municipality(name="Migrationsby"))
    upgrade(database_url, "0120")
    with session_scope(engine) as session:
        chat = WebChat(key="c1", visitor="v1", token_hash="h" * 64)
        session.add(chat)
        session.flush()
        assert chat.id is not None
        session.add(WebChatEntry(chat_id=chat.id, text="Hej", message_key="web:c1:1"))
    with Session(engine) as session:
        assert session.exec(select(WebChatEntry.text)).all() == ["Hej"]
    downgrade(database_url, "0080")
    assert not {"web_chat", "web_chat_entry"} & set(inspect(engine).get_table_names())
    with Session(engine) as session:
        assert session.exec(select(Municipality.name)).all() == ["Migrationsby"]
    upgrade(database_url)
    with Session(engine) as session:
        assert session.exec(select(WebChatEntry)).all() == []
    engine.dispose()


async def test_the_probes_inputs_on_the_chat_answer_politely(
    client: TestClient[Any, Any], engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    port = client.port
    assert port is not None
    cookie = b"Cookie: lotsen_chatt=\xff\xfe\xfd\r\n"
    get = b"GET /chatt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + cookie + b"\r\n"
    page = await raw(port, get)
    assert page[0] == 200 and "Välj språk för att börja" in page[2]
    body = b"csrf=%C3%A5%C3%A4&lang=sv"
    posted = await raw(
        port,
        b"POST /chatt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\n"
        + f"Content-Length: {len(body)}\r\n".encode()
        + cookie
        + b"\r\n"
        + body,
    )
    assert posted[0] == 403 and "Ingenting har ändrats." in posted[2]
    binary = b"\xff\xfe\x00\x01" * 64
    garbage = await raw(
        port,
        b"POST /chatt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        b"Content-Type: application/x-www-form-urlencoded; charset=utf-8\r\n"
        + f"Content-Length: {len(binary)}\r\n\r\n".encode()
        + binary,
    )
    assert garbage[0] in (400, 403) and "<html" in garbage[2]
    assert _count(engine, WebChat) == 0
    assert not [record for record in caplog.records if record.exc_info]


async def test_a_message_recorded_before_a_crash_is_handed_in_once(
    client: TestClient[Any, Any], engine: Engine
) -> None:
    """The web process died after writing the visitor's message down and before handing it
    to the conversation: the recovery hands it in, once, however often it runs."""
    visitor = _visitor(client)
    await visitor.start()
    await visitor.say("Storåsa Bollklubb")
    with session_scope(engine) as session:
        chat = session.exec(select(WebChat)).one()
        recorded = webchat.record_inbound(
            session=session,
            chat=chat,
            key=f"web:{chat.key}:before-the-crash-01",
            text="Var bokar vi en lokal?",
            language="sv",
        )
        assert recorded is not None
        recorded.created_at = recorded.created_at - timedelta(minutes=5)
    assert await recover(client.app) == 1
    assert await recover(client.app) == 0
    with Session(engine) as session:
        enquiries = session.exec(select(Enquiry)).all()
        assert [e.text for e in enquiries] == ["Var bokar vi en lokal?"]
        assert all(e.handled for e in session.exec(select(WebChatEntry)).all())
    await visitor.open()
    assert enquiries[0].reference is not None
    assert enquiries[0].reference in visitor.entries[-1].text
