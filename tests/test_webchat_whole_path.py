"""The web chat's whole path with the really trained model, over plain HTTP without JavaScript:
language, association, a question routed by the model, the reference; the department answers in
the desk; the answer appears in the chat. An Arabic question is answered in Arabic, right to
left."""

from __future__ import annotations

from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr
from sqlmodel import Session, select

from bot.channels.desk.app import build_desk_app
from bot.settings import Settings
from db.models import Enquiry, EnquiryStatus, utcnow
from db.people.staff_identities import find_staff_person
from db.plumbing.session import make_engine
from harness.desk import STAFF_ID, add_staff, sign_in
from harness.webchat import LiveChat, Visitor, visitor_session


async def test_the_whole_path_with_the_trained_model(rasa_stack: Settings) -> None:
    engine = make_engine(rasa_stack.database_url)
    settings = rasa_stack.model_copy(update={"link_secret": SecretStr("whole path")})
    with Session(engine) as session:
        staffed = find_staff_person(session=session, channel="telegram", address=str(STAFF_ID))
        if staffed is None:  # the session's stack database may have them already
            add_staff(engine)
    with LiveChat(settings, engine) as live:
        async with visitor_session() as http:
            visitor = Visitor(http, live.url)
            await visitor.start("sv")
            await visitor.say("Storåsa Bollklubb, 802455-0101")
            await visitor.say("Hur söker vi bidrag för vår förening?")
            answer = visitor.entries[-1].text
            with Session(engine) as session:
                enquiry = session.exec(
                    select(Enquiry).where(Enquiry.text == "Hur söker vi bidrag för vår förening?")
                ).all()[-1]
            assert enquiry.reference is not None and enquiry.reference in answer
            assert "Kultur- och fritidsförvaltningen" in answer
            assert enquiry.status in (EnquiryStatus.ROUTED, EnquiryStatus.FORWARDED)

            desk = TestClient(TestServer(build_desk_app(settings, engine)))
            await desk.start_server()
            try:
                await sign_in(desk, engine, STAFF_ID, utcnow())
                case = await (await desk.get(f"/desk/inbox/{enquiry.reference}")).text()
                csrf = case.split('name="csrf" value="')[1].split('"')[0]
                done = await desk.post(
                    f"/desk/inbox/{enquiry.reference}/answer",
                    data={"csrf": csrf, "text": "Ansök i e-tjänsten före den 1 maj."},
                )
                assert done.status == 200
            finally:
                await desk.close()
            await visitor.open()  # the next page load shows it
            assert "Ansök i e-tjänsten före den 1 maj." in visitor.entries[-1].text

        async with visitor_session() as http:
            arabic = Visitor(http, live.url)
            await arabic.start("ar")
            await arabic.say("نادي الصداقة")
            await arabic.say("كيف نتقدم بطلب للحصول على منحة لجمعيتنا؟")
            last = arabic.entries[-1]
            assert last.outbound and last.language == "ar" and last.direction == "rtl"
            assert '<html lang="ar" dir="rtl">' in arabic.page
    engine.dispose()
