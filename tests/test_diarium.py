"""The public register at /diarium over HTTP: public facts only, search, bad input answered."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from urllib.parse import unquote

from sqlalchemy.engine import Engine
from sqlmodel import select

from db.models import RegisterMark
from db.plumbing.session import session_scope
from db.records.register import mark
from harness.desk import (
    STAFF_ID,
    Clock,
    add_staff,
    csrf_of,
    desk_client,
    desk_settings,
    person,
    sign_in,
)
from harness.workflow import escalated_enquiry, local, new_enquiry, routed_enquiry

NOW = local(2026, 4, 15, 12)
SECRET_TEXT = "Vår kassör 850312-1234 har en skuld till kommunen"


def _fill(engine: Engine) -> dict[str, str]:
    with session_scope(engine) as session:
        culture = routed_enquiry(session, now=local(2026, 4, 1, 9))
        technical = routed_enquiry(
            session, now=local(2026, 4, 10, 9), department_key="teknik", association="Båtklubben"
        )
        secret = routed_enquiry(session, now=local(2026, 4, 12, 9), text=SECRET_TEXT)
        mark(session=session, enquiry=secret, personal_data=True, secret=True, actor="t")
        private, _ = escalated_enquiry(session, now=local(2026, 4, 13, 9), association=None)
        new_enquiry(session, now=local(2026, 4, 14, 9), text="Ring mig på 070-123 45 67")
        return {
            "culture": str(culture.reference),
            "technical": str(technical.reference),
            "secret": str(secret.reference),
            "private": str(private.reference),
        }


def _rows(page: str) -> list[str]:
    return re.findall(r'<th scope="row">([^<]+)</th>', page)


async def test_the_diarium_lists_public_facts_without_texts(engine: Engine) -> None:
    refs = _fill(engine)
    async with desk_client(engine, Clock(NOW)) as client:
        response = await client.get("/diarium")
        page = await response.text()
    assert response.status == 200
    assert set(refs.values()) <= set(_rows(page))
    assert "Föreningsbidrag" in page and "Båtklubben" in page
    # Never a text: not the question, not a masked detail, not the secret one's topic.
    for words in ("aktivitetsstöd", "850312", "kassör", "070-123"):
        assert words not in page
    secret_row = page[page.index(refs["secret"]) :].split("</tr>")[0]
    assert "Sekretessprövas" in secret_row and "Storåsa IF" not in secret_row
    assert "Kultur- och fritidsförvaltningen" in secret_row
    private_row = page[page.index(refs["private"]) :].split("</tr>")[0]
    assert "Ämnet är inte bestämt" in private_row
    # Asking for a record: a mail to the registrar (the municipality's coordinator e-mail).
    links = [html.unescape(link) for link in re.findall(r'href="(mailto:[^"]+)"', page)]
    assert links and all(link.startswith("mailto:") for link in links)
    assert any(refs["culture"] in unquote(link) for link in links)


async def test_the_diarium_is_searched_by_date_department_topic_and_reference(
    engine: Engine,
) -> None:
    refs = _fill(engine)
    async with desk_client(engine, Clock(NOW)) as client:

        async def found(**query: str) -> list[str]:
            response = await client.get("/diarium", params=query)
            assert response.status == 200
            return _rows(await response.text())

        assert await found(department="teknik") == [refs["technical"]]
        assert await found(reference=refs["culture"].lower()) == [refs["culture"]]
        assert await found(**{"from": "2026-04-10", "to": "2026-04-12"}) == [
            refs["secret"],
            refs["technical"],
        ]
        topic = await found(topic="topic_bidrag", department="kultur_fritid")
        assert set(topic) == {refs["culture"], refs["secret"]}


async def test_bad_search_input_is_answered_politely(engine: Engine) -> None:
    refs = _fill(engine)
    async with desk_client(engine, Clock(NOW)) as client:
        response = await client.get(
            "/diarium",
            params={"from": "igår", "to": "2026-13-45", "department": "<script>", "page": "x"},
        )
        page = await response.text()
        assert response.status == 200
        assert "skriv datumet som 2026-03-31" in page and "<script>" not in page
        assert set(refs.values()) <= set(_rows(page))  # the rest of the search still works
        backwards = await client.get("/diarium", params={"from": "2026-04-12", "to": "2026-04-01"})
        assert "Slutdatumet ligger före startdatumet" in await backwards.text()
        odd = await client.get("/diarium", params={"reference": "%' OR 1=1 --"})
        assert _rows(await odd.text()) == []


async def test_the_diarium_pages_through_many_entries(engine: Engine) -> None:
    with session_scope(engine) as session:
        for minute in range(55):
            new_enquiry(session, now=local(2026, 4, 2, 9) + timedelta(minutes=minute))
    async with desk_client(engine, Clock(NOW)) as client:
        first = await (await client.get("/diarium")).text()
        second = await (await client.get("/diarium", params={"page": "2"})).text()
    assert len(_rows(first)) == 50 and len(_rows(second)) == 5
    assert not set(_rows(first)) & set(_rows(second))
    assert 'rel="next"' in first and 'rel="prev"' in second


async def test_the_registrar_setting_names_where_requests_go(engine: Engine) -> None:
    _fill(engine)
    settings = desk_settings().model_copy(update={"registrar_email": "diarium@kommun.example"})
    async with desk_client(engine, Clock(NOW), settings=settings) as client:
        page = await (await client.get("/diarium")).text()
    assert "mailto:diarium@kommun.example?subject=" in page


async def test_staff_mark_an_enquiry_in_the_desk_and_the_diarium_holds_it_back(
    engine: Engine,
) -> None:
    refs = _fill(engine)
    add_staff(engine)
    culture, technical = refs["culture"], refs["technical"]
    async with desk_client(engine, Clock(NOW)) as client:
        await sign_in(client, engine, STAFF_ID, NOW)  # a clerk of Kultur och fritid
        page = await (await client.get(f"/desk/enquiries/{culture}")).text()
        assert 'id="r-secret"' in page and 'r-secret" name="secret" value="1" checked' not in page
        token = csrf_of(page)
        marked = await client.post(
            f"/desk/enquiries/{culture}/register",
            data={"csrf": token, "secret": "1"},
            allow_redirects=False,
        )
        assert marked.status == 303
        assert marked.headers["Location"] == f"/desk/enquiries/{culture}?done=register#register"
        again = await (await client.get(f"/desk/enquiries/{culture}?done=register")).text()
        assert 'name="secret" value="1" checked' in again
        # Not their department: not found, nothing marked.
        other = await client.post(
            f"/desk/enquiries/{technical}/register",
            data={"csrf": token, "secret": "1"},
            allow_redirects=False,
        )
        assert other.status == 404
        # Without the form's token: refused.
        forged = await client.post(
            f"/desk/enquiries/{culture}/register", data={"secret": "0"}, allow_redirects=False
        )
        assert forged.status in (400, 403)
        public = await (await client.get("/diarium")).text()
    row = public[public.index(culture) :].split("</tr>")[0]
    assert "Sekretessprövas" in row and "Föreningsbidrag" not in row
    with session_scope(engine) as session:
        marks = session.exec(select(RegisterMark)).all()
        assert [(m.secret, m.marked_by) for m in marks if m.marked_by != "t"] == [
            (True, f"web:staff:{person(engine, STAFF_ID)}")
        ]
