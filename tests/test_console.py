"""The console chat end to end: real Rasa model, real action server, real database."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlmodel import Session, select

from bot.channels.console import CONSOLE_USER_ID, run_console
from bot.services import create_services
from bot.settings import Settings
from db.models import Enquiry
from db.people.identities import find_person
from db.plumbing.session import make_engine


def _script(lines: list[str]) -> Callable[[str], Awaitable[str | None]]:
    queue = list(lines)

    async def read(_prompt: str) -> str | None:
        return queue.pop(0) if queue else None

    return read


async def test_console_routes_a_question(rasa_stack: Settings) -> None:
    output: list[str] = []
    services = create_services(rasa_stack)
    try:
        await run_console(
            services,
            _script(
                [
                    "1",
                    "Storåsa Bollklubb, 802455-0101",
                    "Hur söker vi bidrag för vår förening?",
                    "/status",
                    "/quit",
                ]
            ),
            output.append,
        )
    finally:
        await services.aclose()
    transcript = "\n".join(output)
    engine = make_engine(rasa_stack.database_url)
    with Session(engine) as session:
        user = find_person(session=session, channel="console", address=str(CONSOLE_USER_ID))
        assert user is not None
        enquiry = session.exec(select(Enquiry).where(Enquiry.user_id == user.id)).one()
    engine.dispose()
    assert "Vilket språk" in transcript
    assert "Storåsa Bollklubb" in transcript
    assert enquiry.reference is not None and enquiry.reference in transcript
    assert "Kultur- och fritidsförvaltningen" in transcript
    assert "foreningsservice@storasa.example" in transcript
    assert enquiry.association_id is not None
    assert transcript.count(enquiry.reference) >= 2  # the answer and /status


async def test_console_welcomes_a_returning_association_back(rasa_stack: Settings) -> None:
    output: list[str] = []
    services = create_services(rasa_stack)
    try:
        await run_console(
            services, _script(["/start", "1", "Lilla Körföreningen", "/quit"]), output.append
        )
        output.clear()
        await run_console(services, _script(["/help", "/quit"]), output.append)
    finally:
        await services.aclose()
    transcript = "\n".join(output)
    assert "Välkommen tillbaka! Du skriver för Lilla Körföreningen." in transcript
    assert "Vilket språk" not in transcript
    assert "/status" in transcript  # the help text
