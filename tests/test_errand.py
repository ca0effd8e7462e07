"""The errand adapter: each new enquiry filed in a SupportManagement-like case system, once.

Against a real HTTP server on loopback that validates every request against SupportManagement's
OpenAPI description (harness/fake_support_management.py) and can be made to fail.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest
from aiohttp import web
from pydantic import SecretStr
from sqlalchemy.engine import Engine
from sqlmodel import select

from bot.channels.email.outbox import mailbox_of
from bot.channels.errand.dispatcher import ErrandDispatcher, run_errands, waiting_errands
from bot.messages import render
from bot.settings import Settings
from db.enquiries.notifications import Channel, Kind, Recipient
from db.models import ErrandFiling, OutboxMessage
from db.plumbing.session import session_scope
from db.records.errands import TAG_KEY
from harness.fake_support_management import SupportManagement, problems
from harness.ports import free_port
from harness.workflow import escalated_enquiry, local, routed_enquiry

NOW = local(2026, 3, 16, 9)
TOKEN = "s3cret-token"


@pytest.fixture
async def server() -> AsyncIterator[SupportManagement]:
    fake = SupportManagement(token=TOKEN)
    # The service lives under a prefix: /api/{municipalityId}/{namespace}/errands.
    outer = web.Application()
    outer.add_subapp("/api", fake.app())
    runner = web.AppRunner(outer, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    fake.url = f"http://127.0.0.1:{port}/api"
    try:
        yield fake
    finally:
        if fake.hold is not None:
            fake.hold.set()
        await runner.cleanup()


def _settings(url: str, **extra: object) -> Settings:
    return Settings(
        database_url="sqlite://",
        errand_base_url=url,
        errand_municipality_id="2281",
        errand_namespace="LOTSEN",
        errand_token=SecretStr(TOKEN),
        registrar_email="registrator@kommun.example",
        _env_file=None,  # type: ignore[call-arg]
        **extra,
    )


class Clock:
    """A clock the test moves."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _routed(engine: Engine, minutes_ago: int = 5) -> str:
    with session_scope(engine) as session:
        enquiry = routed_enquiry(session, now=NOW - timedelta(minutes=minutes_ago))
        return str(enquiry.reference)


async def test_a_new_enquiry_is_filed_once_with_its_reference(
    engine: Engine, server: SupportManagement
) -> None:
    reference = _routed(engine)
    with session_scope(engine) as session:
        escalated, _ = escalated_enquiry(session, now=NOW - timedelta(seconds=10))
        too_new = str(escalated.reference)  # less than a minute old: routed first, filed later
    clock = Clock(NOW)
    dispatcher = ErrandDispatcher(_settings(server.url), engine, clock=clock)
    assert await dispatcher.step() == 1
    assert server.rejected == []
    [body] = server.posts()
    assert body["externalTags"] == [{"key": TAG_KEY, "value": reference}]
    assert body["title"] == f"Fråga via Lotsen {reference}: Föreningsbidrag"
    assert body["classification"] == {"category": "KULTUR_FRITID", "type": "TOPIC_BIDRAG"}
    assert body["status"] == "NEW" and body["priority"] == "MEDIUM"
    assert body["reporterUserId"] == "lotsen"
    assert body["stakeholders"] == [{"role": "CONTACT", "organizationName": "Storåsa IF"}]
    with session_scope(engine) as session:
        [filing] = session.exec(select(ErrandFiling)).all()
        assert filing.errand_number == "KC-26030001"
        assert filing.errand_id in server.errands
        [row] = session.exec(select(OutboxMessage).where(OutboxMessage.channel == "errand")).all()
        assert row.sent_at == NOW and row.external_id == filing.errand_id
    # Again: nothing more for the first; the second once it is a minute old.
    assert await dispatcher.step() == 0
    clock.now = NOW + timedelta(minutes=2)
    assert await dispatcher.step() == 1
    assert [p["externalTags"][0]["value"] for p in server.posts()] == [reference, too_new]
    assert server.posts()[1]["priority"] == "HIGH"  # waiting with the coordinator
    assert await dispatcher.step() == 0 and len(server.posts()) == 2


async def test_a_system_that_is_down_is_retried_and_nothing_is_doubled(
    engine: Engine, server: SupportManagement
) -> None:
    reference = _routed(engine)
    clock = Clock(NOW)
    settings = _settings(server.url)
    dispatcher = ErrandDispatcher(settings, engine, clock=clock)
    server.fail = True
    assert await dispatcher.step() == 0
    with session_scope(engine) as session:
        [row] = session.exec(select(OutboxMessage).where(OutboxMessage.channel == "errand")).all()
        assert row.sent_at is None and row.attempts == 0 and "503" in (row.error or "")
        assert row.claimed_until is None
    assert waiting_errands(engine) == 1
    # Paused: the next round within the pause talks to nobody.
    server.fail = False
    assert await dispatcher.step() == 0 and server.posts() == []
    clock.now = NOW + timedelta(seconds=10)
    assert await dispatcher.step() == 1
    assert len(server.errands) == 1 and waiting_errands(engine) == 0
    # It had reached the server before (a request in doubt): it looked for the errand first.
    assert any(method == "GET" and TAG_KEY in path for method, path, _ in server.requests)
    with session_scope(engine) as session:
        [filing] = session.exec(select(ErrandFiling)).all()
        assert server.errands[filing.errand_id]["externalTags"][0]["value"] == reference


async def test_an_answer_that_never_came_does_not_make_a_second_errand(
    engine: Engine, server: SupportManagement
) -> None:
    _routed(engine)
    clock = Clock(NOW)
    dispatcher = ErrandDispatcher(
        _settings(server.url, errand_timeout_seconds=0.3), engine, clock=clock
    )
    server.hold = asyncio.Event()  # the errand is made, the answer waits past the timeout
    assert await dispatcher.step() == 0
    assert len(server.errands) == 1
    server.hold.set()
    server.hold = None
    clock.now = NOW + timedelta(seconds=10)
    assert await dispatcher.step() == 1
    assert len(server.errands) == 1 and len(server.posts()) == 1
    with session_scope(engine) as session:
        [filing] = session.exec(select(ErrandFiling)).all()
        assert filing.errand_number == "KC-26030001"


async def test_a_refusal_gives_up_and_tells_the_registrar(
    engine: Engine, server: SupportManagement
) -> None:
    reference = _routed(engine)
    settings = _settings(server.url)
    server.refuse = True
    assert await ErrandDispatcher(settings, engine, clock=Clock(NOW)).step() == 0
    with session_scope(engine) as session:
        errand = session.exec(select(OutboxMessage).where(OutboxMessage.channel == "errand")).one()
        assert errand.sent_at is None and errand.attempts == 10 and "400" in (errand.error or "")
        mail = session.exec(
            select(OutboxMessage).where(OutboxMessage.kind == Kind.ERRAND_FAILED)
        ).one()
        assert (mail.channel, mail.recipient) == (Channel.EMAIL, Recipient.REGISTRAR)
        assert mailbox_of(session, mail, settings, NOW) == "registrator@kommun.example"
        text = render(session, mail).text
        assert reference in text and "unknown category" in text
        assert session.exec(select(ErrandFiling)).all() == []
    # Given up: the next round asks nothing.
    server.refuse = False
    assert await ErrandDispatcher(settings, engine, clock=Clock(NOW)).step() == 0
    assert len(server.posts()) == 1


async def test_the_adapter_is_off_while_its_address_is_unset(
    engine: Engine, server: SupportManagement
) -> None:
    _routed(engine)
    settings = Settings(database_url="sqlite://", _env_file=None)  # type: ignore[call-arg]
    assert not settings.errand_enabled
    stop = asyncio.Event()
    await asyncio.wait_for(run_errands(settings, engine, stop), timeout=5)  # returns at once
    assert server.requests == []
    with session_scope(engine) as session:
        rows = session.exec(select(OutboxMessage).where(OutboxMessage.channel == "errand"))
        assert rows.all() == []


def test_the_validator_refuses_what_the_description_does_not_allow() -> None:
    good = {"title": "x", "priority": "MEDIUM", "externalTags": [{"key": "k", "value": "v"}]}
    assert problems(good) == []
    assert problems({**good, "priority": "URGENT"}) != []
    assert problems({**good, "errandNumber": "KC-1"}) == ["errandNumber is read-only"]
    assert problems({**good, "parameters": [{"values": ["x"]}]}) != []  # a parameter needs a key


def test_settings_check_the_errand_address() -> None:
    from bot.settings import SettingsError, load_settings

    with pytest.raises(SettingsError, match="ERRAND_BASE_URL"):
        load_settings(errand_base_url="ftp://x", _env_file=None)
    with pytest.raises(SettingsError, match="ERRAND_NAMESPACE"):
        load_settings(errand_namespace="a b", _env_file=None)
    assert _settings("http://x/").errand_base_url == "http://x"
