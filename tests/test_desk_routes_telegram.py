"""A topic moved on the desk's routing page reaches its new department on the next question.

The real bot (PTB) on the fake Telegram server, the really trained Rasa model, the desk on a
real port; a coordinator signed in with a local desk account moves the grant topic.
"""

from __future__ import annotations

import secrets

import pytest
from typer.testing import CliRunner

from bot.channels.desk.accounts import add_account
from bot.cli import app as cli_app
from db.enquiries.crud import routes_map
from db.plumbing.session import session_scope
from db.routing.edits import set_route
from harness.desk import Clock, adopt_session, csrf_of, desk_client, password_attempt
from harness.telegram import Harness, ask, new_group_id, new_user_id
from harness.workflow import local

pytestmark = pytest.mark.usefixtures("no_handler_errors")

GRANT_QUESTION = "Hur söker vår förening aktivitetsstöd?"
GRANTS = "topic_bidrag"
PASSWORD = "ett riktigt långt lösenord"


async def test_a_topic_moved_on_the_desk_answers_with_the_new_department(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = harness
    username = f"samordnare{secrets.token_hex(3)}"
    with session_scope(h.engine) as session:
        add_account(session=session, username=username, password=PASSWORD, role="coordinator")
        assert routes_map(session=session)[GRANTS] == "kultur_fritid"
    user = new_user_id()
    try:
        with h.department_chat("utbildning", new_group_id()):
            before, first = await ask(h, user, GRANT_QUESTION)
            assert "Kultur- och fritidsförvaltningen" in before["text"]
            assert h.enquiry(first).intent == GRANTS

            async with desk_client(h.engine, Clock(local(2026, 3, 16, 9))) as desk:
                signed_in = await password_attempt(desk, username, PASSWORD)
                assert signed_in.status == 303
                adopt_session(desk, signed_in)
                page = await desk.get("/desk/routes")
                assert page.status == 200
                moved = await desk.post(
                    f"/desk/routes/{GRANTS}",
                    data={"csrf": csrf_of(await page.text()), "department": "utbildning"},
                )
                assert moved.status == 200
                assert "Ämnet är flyttat" in await moved.text()

            after, second = await ask(h, user, GRANT_QUESTION)
            assert "Utbildningsförvaltningen" in after["text"]
            assert "utbildning@storasa.example" in after["text"]  # its contact
            assert "Kultur- och fritidsförvaltningen" not in after["text"]
            assert h.enquiry(second).intent == GRANTS
            assert h.enquiry(second).department_id == h.department("utbildning").id

        monkeypatch.setenv("DATABASE_URL", h.settings.database_url)
        history = CliRunner().invoke(cli_app, ["routes", "history", "--entity", "route"])
        assert history.exit_code == 0, history.output
        newest = history.output.split("\n")[0]
        assert f"web:{username}" in newest and GRANTS in newest
        assert '"department": "utbildning"' in history.output.split(f"web:{username}")[1]
    finally:
        with session_scope(h.engine) as session:  # the stack's database is shared: put it back
            set_route(session=session, intent=GRANTS, department_key="kultur_fritid", actor="test")
