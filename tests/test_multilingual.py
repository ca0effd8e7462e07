"""Associations writing in other languages, through the real bot, Rasa and action server.

German is deliberately absent from the training data (`test_german_is_not_in_the_training_data`),
so its question shows that the multilingual encoder, not a memorised phrase, routes it.
"""

from __future__ import annotations

import pytest
from sqlmodel import Session

from db.models import Department, EnquiryStatus
from harness.telegram import Harness, has, new_user_id
from tests.test_nlu_data import training_examples

pytestmark = pytest.mark.usefixtures("no_handler_errors")

GERMAN_GRANT_QUESTION = (
    "Wie kann unser Sportverein bei der Gemeinde einen Zuschuss für die Jugendarbeit beantragen?"
)
GERMAN_MARKERS = ("verein", "gemeinde", "zuschuss", "beantragen", " wie ", " und ")


def test_german_is_not_in_the_training_data() -> None:
    for examples in training_examples().values():
        for example in examples:
            padded = f" {example.casefold()} "
            assert not any(marker in padded for marker in GERMAN_MARKERS), example


async def test_question_in_a_language_absent_from_training_reaches_the_department(
    harness: Harness,
) -> None:
    h, fake = harness, harness.fake
    user = new_user_id()
    mark = h.mark()
    fake.user_message(user, GERMAN_GRANT_QUESTION)
    reply = await h.message_to(user, has("LOT-"), after=mark)
    [enquiry] = h.enquiries_of(user)
    assert enquiry.status in (EnquiryStatus.ROUTED, EnquiryStatus.FORWARDED)
    with Session(h.engine) as session:
        department = session.get(Department, enquiry.department_id)
    assert department is not None and department.key == "kultur_fritid"
    assert enquiry.reference is not None and enquiry.reference in reply["text"]


@pytest.mark.parametrize("greeting", ["مرحبا", "Дякую!", "Kiitos paljon"])
async def test_greetings_in_other_languages_are_small_talk(harness: Harness, greeting: str) -> None:
    h, fake = harness, harness.fake
    user = new_user_id()
    mark = h.mark()
    fake.user_message(user, greeting)
    reply = await h.message_to(user, after=mark)
    assert "LOT-" not in reply["text"]
    # An enquiry would have been written before the reply was sent.
    assert h.enquiries_of(user) == []


async def test_question_in_another_language_is_never_swallowed(harness: Harness) -> None:
    # Ukrainian, written for this test: where can our choir rehearse in the evenings?
    h, fake = harness, harness.fake
    user = new_user_id()
    mark = h.mark()
    fake.user_message(user, "Де наш хор може безкоштовно репетирувати по вечорах?")
    reply = await h.message_to(user, has("LOT-"), after=mark)
    [enquiry] = h.enquiries_of(user)
    assert enquiry.status in (
        EnquiryStatus.ROUTED,
        EnquiryStatus.FORWARDED,
        EnquiryStatus.ESCALATED,
    )
    assert enquiry.reference is not None and enquiry.reference in reply["text"]
