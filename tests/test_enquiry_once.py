"""One inbound message makes one enquiry, also when the bot and the action server race for it."""

from __future__ import annotations

import threading

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from db.enquiries import crud, lifecycle
from db.models import Enquiry
from db.plumbing.session import session_scope


def test_an_enquiry_recorded_meanwhile_is_not_inserted_again(engine: Engine) -> None:
    with session_scope(engine) as session:
        first, created = lifecycle.received(
            session=session,
            text="Hur söker vi bidrag?",
            language="sv",
            user=None,
            message_key="tg:1:1",
        )
        assert created
    with session_scope(engine) as session:
        # What the other process finds when it checked before the first one committed.
        again = Enquiry(text="Hur söker vi bidrag?", language="sv", message_key="tg:1:1")
        assert crud.insert_once(session=session, enquiry=again) is None
        other = Enquiry(text="Och lokaler?", language="sv", message_key="tg:1:2")
        inserted = crud.insert_once(session=session, enquiry=other)
        assert inserted is not None and inserted.id is not None and inserted.id != first.id


def test_processes_recording_one_message_at_once_make_one_enquiry(engine: Engine) -> None:
    results: list[tuple[int | None, bool]] = []
    errors: list[BaseException] = []
    start = threading.Barrier(6)

    def record() -> None:
        start.wait()
        try:
            with session_scope(engine) as session:
                enquiry, created = lifecycle.received(
                    session=session,
                    text="Var bokar vi en lokal?",
                    language="sv",
                    user=None,
                    message_key="tg:7:42",
                )
                results.append((enquiry.id, created))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=record) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert len({enquiry_id for enquiry_id, _ in results}) == 1
    assert [created for _, created in results].count(True) == 1
    with Session(engine) as session:
        count = session.exec(
            select(func.count()).select_from(Enquiry).where(col(Enquiry.message_key) == "tg:7:42")
        ).one()
    assert count == 1
