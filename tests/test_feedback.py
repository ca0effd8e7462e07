"""Satisfaction in every channel: one tap, then an optional comment (db/feedback.py).

On real databases: every answer is kept as a record of its own; a tap is taken once per answer
and carried out by the lifecycle; a comment is masked, kept once, and waits in a chat for the
next text. Over HTTP: the public page /svar/<token> that the signed link in an e-mail or web
chat answer opens (one tap, then the comment form; altered and expired links are refused
politely and change nothing), and the e-mail that carries the link.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from pydantic import SecretStr
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from bot.channels.email.outbox import _link as email_link
from bot.messages import render
from bot.messages.feedback_link import with_feedback_url
from bot.settings import Settings
from db import feedback
from db.enquiries.answers import answers_of, latest_answer
from db.enquiries.notifications import Channel, Kind
from db.enquiries.workflow import WorkflowError, answer_enquiry
from db.models import (
    AnswerRecord,
    AssociationUser,
    Enquiry,
    EnquiryStatus,
    Escalation,
    Feedback,
    OutboxMessage,
)
from db.plumbing.session import session_scope
from harness.desk import COORDINATOR_ID, STAFF_ID, Clock, add_staff, desk_client, sign_in
from harness.workflow import local, routed_enquiry

NOW = local(2026, 5, 4, 10)
SECRET = "feedback-link-secret"


def _settings(**extra: object) -> Settings:
    values: dict[str, object] = {
        "database_url": "sqlite://",
        "desk_base_url": "https://lotsen.example.se",
        "link_secret": SecretStr(SECRET),
        **extra,
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg, arg-type]


def _answered(session: Session, *, language: str = "sv", channel: str = "telegram") -> Enquiry:
    enquiry = routed_enquiry(session, now=NOW - timedelta(hours=3), language=language)
    user = session.get(AssociationUser, enquiry.user_id)
    assert user is not None
    user.channel = channel
    answer_enquiry(
        session=session, enquiry=enquiry, text="Ansök senast 25 augusti.", actor="staff:1", now=NOW
    )
    return enquiry


def test_every_answer_is_kept_as_its_own_record(engine: Engine) -> None:
    with session_scope(engine) as session:
        enquiry = _answered(session)
        assert enquiry.id is not None
        feedback.rate(
            session=session,
            enquiry=enquiry,
            helpful=False,
            channel="telegram",
            actor="association:1",
            now=NOW + timedelta(minutes=5),
        )
        answer_enquiry(
            session=session,
            enquiry=enquiry,
            text="Rättelse: ansök senast 1 september.",
            actor="coordinator:2",
            now=NOW + timedelta(hours=1),
            by_coordinator=True,
        )
        [records] = answers_of(session=session, enquiry_ids=[enquiry.id]).values()
        assert [(r.number, r.text, r.by) for r in records] == [
            (1, "Ansök senast 25 augusti.", "kultur_fritid"),
            (2, "Rättelse: ansök senast 1 september.", "coordinator"),
        ]
        assert records[1].at == NOW + timedelta(hours=1)
        # The notification names its answer record, so the channel renders that text.
        rows = session.exec(select(OutboxMessage).where(OutboxMessage.kind == Kind.ANSWER)).all()
        assert [row.params["answer"] for row in rows] == [r.id for r in records]
        assert "25 augusti" in render(session, rows[0]).text
        assert "1 september" in render(session, rows[1]).text


def test_one_tap_per_answer_and_a_masked_comment(engine: Engine) -> None:
    with session_scope(engine) as session:
        enquiry = _answered(session)
        given = feedback.rate(
            session=session,
            enquiry=enquiry,
            helpful=True,
            channel="email",
            actor="association:1",
            now=NOW,
        )
        assert enquiry.status == EnquiryStatus.CLOSED and enquiry.helpful is True
        assert given.channel == "email" and given.answer_id is not None
        with pytest.raises(WorkflowError):
            feedback.rate(
                session=session, enquiry=enquiry, helpful=False, channel="web", actor="x", now=NOW
            )
        with pytest.raises(feedback.FeedbackError):
            feedback.add_comment(session=session, feedback=given, text="   ", now=NOW)
        with pytest.raises(feedback.FeedbackError):
            feedback.add_comment(session=session, feedback=given, text="x" * 2001, now=NOW)
        assert given.comment is None
        feedback.add_comment(
            session=session, feedback=given, text="Bra! Ring mig på 070-123 45 67.", now=NOW
        )
        assert given.comment is not None and "070" not in given.comment
        assert "[telefon]" in given.comment
        with pytest.raises(feedback.FeedbackError):
            feedback.add_comment(session=session, feedback=given, text="Igen", now=NOW)
        assert [
            f.id for f in feedback.feedback_of(session=session, enquiry_id=given.enquiry_id)
        ] == [given.id]


def test_in_a_chat_the_next_text_is_the_comment_or_the_skip_ends_it(engine: Engine) -> None:
    with session_scope(engine) as session:
        enquiry = _answered(session, language="en")
        user = session.get(AssociationUser, enquiry.user_id)
        assert user is not None
        given = feedback.rate(
            session=session, enquiry=enquiry, helpful=True, channel="telegram", actor="a", now=NOW
        )
        feedback.ask_in_chat(session=session, user=user, feedback=given)
        [ask] = session.exec(
            select(OutboxMessage).where(OutboxMessage.kind == Kind.FEEDBACK_COMMENT)
        ).all()
        asked = render(session, ask)
        assert ask.language == "en" and "comment" in asked.text.lower()
        assert [c.action for row in asked.choices for c in row] == [f"fb:{given.id}:s"]
        # Too long: refused politely, the wait goes on.
        assert feedback.comment_from_chat(session=session, user=user, text="x" * 3000, now=NOW)
        assert given.comment is None and user.awaiting == f"feedback:{given.id}"
        assert feedback.comment_from_chat(
            session=session, user=user, text="Quick and clear, thanks", now=NOW
        )
        assert given.comment == "Quick and clear, thanks" and user.awaiting is None
        thanks = session.exec(
            select(OutboxMessage).where(OutboxMessage.kind == Kind.FEEDBACK_THANKS)
        ).one()
        assert enquiry.reference and enquiry.reference in render(session, thanks).text
        # Nothing awaited now: the next text is a question again.
        assert not feedback.comment_from_chat(session=session, user=user, text="Ny fråga", now=NOW)

        second = _answered(session)
        other = session.get(AssociationUser, second.user_id)
        assert other is not None
        again = feedback.rate(
            session=session, enquiry=second, helpful=False, channel="telegram", actor="b", now=NOW
        )
        feedback.ask_in_chat(session=session, user=other, feedback=again)
        assert again.id is not None
        assert not feedback.skip_comment(session=session, user=other, feedback_id=again.id + 99)
        assert feedback.skip_comment(session=session, user=other, feedback_id=again.id)
        assert other.awaiting is None and again.comment is None
        # A wait older than a day is forgotten: the text is a question.
        feedback.ask_in_chat(session=session, user=other, feedback=again)
        later = NOW + feedback.COMMENT_WAIT + timedelta(minutes=1)
        assert not feedback.comment_from_chat(session=session, user=other, text="Hej", now=later)
        assert other.awaiting is None and again.comment is None


def _token(engine: Engine, *, language: str = "sv", channel: str = "email") -> tuple[str, int]:
    with session_scope(engine) as session:
        enquiry = _answered(session, language=language, channel=channel)
        assert enquiry.id is not None
        answer = latest_answer(session=session, enquiry_id=enquiry.id)
        assert answer is not None
        return feedback.link_token(secret=SECRET.encode(), answer=answer), enquiry.id


async def test_the_feedback_page_takes_one_tap_then_a_comment(engine: Engine) -> None:
    token, enquiry_id = _token(engine)
    clock = Clock(NOW + timedelta(hours=1))
    async with desk_client(engine, clock, settings=_settings()) as client:
        first = await client.get(f"/svar/{token}?lang=sv")
        page = await first.text()
        assert first.status == 200 and "Hjälpte svaret?" in page
        assert 'name="rating" value="yes"' in page and "<script" not in page
        with session_scope(engine) as session:
            assert session.exec(select(Feedback)).all() == []  # opening the link changes nothing
        tapped = await client.post(
            f"/svar/{token}?lang=sv", data={"rating": "no"}, allow_redirects=False
        )
        assert tapped.status == 303 and tapped.headers["Location"] == f"/svar/{token}?lang=sv"
        page = await (await client.get(f"/svar/{token}?lang=sv")).text()
        assert 'name="comment"' in page and "inte hjälpte" in page
        with session_scope(engine) as session:
            [given] = session.exec(select(Feedback)).all()
            enquiry = session.get(Enquiry, enquiry_id)
            assert enquiry is not None and enquiry.status == EnquiryStatus.ESCALATED
            assert given.helpful is False and given.channel == "email"
        # A second tap (another device) changes nothing.
        await client.post(f"/svar/{token}", data={"rating": "yes"}, allow_redirects=False)
        empty = await client.post(f"/svar/{token}", data={"comment": "  "})
        assert empty.status == 400 and "Kommentaren är tom" in await empty.text()
        done = await client.post(
            f"/svar/{token}?lang=sv",
            data={"comment": "Svaret gällde fel år. Mitt nummer: 850312-1234"},
            allow_redirects=False,
        )
        assert done.status == 303
        page = await (await client.get(f"/svar/{token}?lang=sv")).text()
        assert "Tack för din kommentar" in page and 'name="comment"' not in page
    with session_scope(engine) as session:
        [given] = session.exec(select(Feedback)).all()
        assert given.helpful is False
        assert given.comment is not None and "850312" not in given.comment


async def test_the_feedback_page_speaks_the_association_language(engine: Engine) -> None:
    token, _ = _token(engine, language="ar")
    async with desk_client(engine, Clock(NOW), settings=_settings()) as client:
        page = await (await client.get(f"/svar/{token}?lang=ar")).text()
    assert 'dir="rtl"' in page and "Hjälpte svaret?" not in page


async def test_altered_and_expired_links_get_the_polite_page_and_change_nothing(
    engine: Engine,
) -> None:
    token, _ = _token(engine)
    answer_id, expires, signature = token.split(".")
    altered = [
        f"{int(answer_id) + 1}.{expires}.{signature}",
        f"{answer_id}.{int(expires) + 86400}.{signature}",
        f"{answer_id}.{expires}.{signature[:-2]}",
        "nonsense",
        "1.2",
    ]
    async with desk_client(engine, Clock(NOW), settings=_settings()) as client:
        for bad in altered:
            for response in (
                await client.get(f"/svar/{bad}"),
                await client.post(f"/svar/{bad}", data={"rating": "yes"}),
            ):
                page = await response.text()
                assert response.status == 404, bad
                assert "Länken fungerar inte" in page and "Inget har ändrats" in page
    late = Clock(NOW + timedelta(days=feedback.LINK_DAYS, minutes=1))
    async with desk_client(engine, late, settings=_settings()) as client:
        response = await client.post(f"/svar/{token}", data={"rating": "yes"})
        assert response.status == 410 and "gått ut" in await response.text()
    # Signed with another installation's secret: not ours.
    other = _settings(link_secret=SecretStr("another-secret"))
    async with desk_client(engine, Clock(NOW), settings=other) as client:
        assert (await client.get(f"/svar/{token}")).status == 404
    with session_scope(engine) as session:
        assert session.exec(select(Feedback)).all() == []
        assert all(e.status == EnquiryStatus.ANSWERED for e in session.exec(select(Enquiry)))


async def test_an_answer_superseded_or_handled_cannot_be_rated_by_its_link(engine: Engine) -> None:
    token, enquiry_id = _token(engine)
    with session_scope(engine) as session:
        enquiry = session.get(Enquiry, enquiry_id)
        assert enquiry is not None
        feedback.rate(session=session, enquiry=enquiry, helpful=False, channel="x", actor="a")
        answer_enquiry(session=session, enquiry=enquiry, text="Nytt svar", actor="coordinator:1")
    async with desk_client(engine, Clock(NOW), settings=_settings()) as client:
        page = await (await client.get(f"/svar/{token}?lang=sv")).text()
        assert "kan inte längre få omdöme" not in page  # rated: the comment form instead
        assert 'name="comment"' in page
    with session_scope(engine) as session:
        newest = latest_answer(session=session, enquiry_id=enquiry_id)
        assert newest is not None and newest.number == 2
        fresh = feedback.link_token(secret=SECRET.encode(), answer=newest)
        enquiry = session.get(Enquiry, enquiry_id)
        assert enquiry is not None
        enquiry.status = EnquiryStatus.CLOSED
    async with desk_client(engine, Clock(NOW), settings=_settings()) as client:
        response = await client.post(f"/svar/{fresh}?lang=sv", data={"rating": "yes"})
        page = await response.text()
        assert "kan inte längre få omdöme" in page
    with session_scope(engine) as session:
        assert len(session.exec(select(Feedback)).all()) == 1


def test_an_answer_by_email_carries_the_signed_link(engine: Engine) -> None:
    settings = _settings()
    with session_scope(engine) as session:
        enquiry = _answered(session, channel="email", language="en")
        row = session.exec(select(OutboxMessage).where(OutboxMessage.kind == Kind.ANSWER)).one()
        assert row.channel == Channel.EMAIL
        url = with_feedback_url(session, row, settings)
        assert url is not None and url.startswith("https://lotsen.example.se/svar/")
        assert url.endswith("?lang=en") and row.params["feedback_url"] == url
        assert with_feedback_url(session, row, settings) == url  # the same link every time
        text = render(session, row).text
        assert url in text and render(session, row).choices == []
        token = re.search(r"/svar/([^?]+)", url)
        assert token is not None
        found = feedback.read_link(
            session=session, secret=SECRET.encode(), token=token.group(1), now=NOW
        )
        assert isinstance(found, feedback.LinkTarget) and found.enquiry.id == enquiry.id
        assert isinstance(found.answer, AnswerRecord) and found.may_rate


def test_the_email_button_under_an_answer_is_the_feedback_link(engine: Engine) -> None:
    settings = _settings(smtp_host="127.0.0.1")
    with session_scope(engine) as session:
        _answered(session, channel="email")
        row = session.exec(select(OutboxMessage).where(OutboxMessage.kind == Kind.ANSWER)).one()
        url = with_feedback_url(session, row, settings)
        link = email_link(session, row, "forening@example.se", settings, NOW)
        assert link is not None and link.url == url
        assert "ett klick" in link.label


async def test_the_department_and_the_coordinator_read_the_feedback_the_public_never(
    engine: Engine,
) -> None:
    with session_scope(engine) as session:
        enquiry = _answered(session)
        given = feedback.rate(
            session=session, enquiry=enquiry, helpful=False, channel="email", actor="a", now=NOW
        )
        feedback.add_comment(session=session, feedback=given, text="Fel blankett.", now=NOW)
        reference = str(enquiry.reference)
        [escalation] = session.exec(
            select(Escalation).where(Escalation.enquiry_id == enquiry.id)
        ).all()
        case = escalation.id
    add_staff(engine)
    async with desk_client(engine, Clock(NOW)) as client:
        await sign_in(client, engine, STAFF_ID, NOW)  # a clerk of the department
        page = await (await client.get(f"/desk/enquiries/{reference}")).text()
        assert "Fel blankett." in page and "Svaret hjälpte inte" in page
        assert "Ansök senast 25 augusti." in page  # the answer record
    async with desk_client(engine, Clock(NOW)) as client:
        await sign_in(client, engine, COORDINATOR_ID, NOW)
        page = await (await client.get(f"/desk/queue/{case}")).text()
        assert "Fel blankett." in page
    async with desk_client(engine, Clock(NOW)) as client:
        for path in ("/diarium", "/rapport", "/rapport.json", "/rapport.csv?table=overall"):
            assert "Fel blankett" not in await (await client.get(path)).text(), path
