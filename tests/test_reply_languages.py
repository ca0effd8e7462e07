"""Replies in ten languages: the renderers' language rules, on real databases (no Rasa)."""

from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.i18n import (
    LANGUAGE_NAMES,
    LANGUAGES,
    RIGHT_TO_LEFT,
    language_name,
    normalise_language,
    t,
)
from bot.messages import render
from bot.messages.association import language_choices, language_params
from bot.messages.bidi import LRI, PDI, isolate_ltr
from bot.messages.languages import (
    UNDETERMINED,
    enquiry_languages,
    language_label,
    languages_line,
)
from bot.understanding.language import identify
from db.enquiries.notifications import Kind, Recipient
from db.enquiries.workflow import answer_enquiry
from db.models import AssociationUser, Enquiry, OutboxMessage
from db.people import departments
from db.plumbing.session import session_scope
from db.privacy.masking import clean_text
from harness.workflow import local, outbox, routed_enquiry

NOW = local(2026, 3, 16, 9)
SWEDISH_LINE = (
    "Vi kan inte svara på ditt språk än, så vi svarar på engelska. Du kan också skriva på svenska."
)
DEPARTMENT_NOTE = "Förvaltningen kan svara på svenska eller engelska."
KULTUR_EMAIL = "foreningsservice@storasa.example"


def _row(enquiry: Enquiry, kind: Kind, language: str, **params: object) -> OutboxMessage:
    return OutboxMessage(
        channel="telegram",
        kind=kind,
        recipient=Recipient.ASSOCIATION,
        recipient_id=enquiry.user_id,
        language=language,
        params={"department": "kultur_fritid", **params},
        enquiry_id=enquiry.id,
    )


def _routed(session: Session, language: str) -> tuple[Enquiry, str]:
    enquiry = routed_enquiry(session, now=NOW, language=language)
    return enquiry, render(session, _row(enquiry, Kind.ROUTED, language)).text


@pytest.mark.parametrize("language", sorted(RIGHT_TO_LEFT))
def test_right_to_left_answers_keep_reference_email_and_phone_whole(
    engine: Engine, language: str
) -> None:
    with session_scope(engine) as session:
        enquiry, text = _routed(session, language)
        contact = departments.active_contact(
            session=session,
            department=departments.department_by_key(session=session, key="kultur_fritid"),
        )
        assert contact is not None and contact.phone
        assert f"{LRI}{enquiry.reference}{PDI}" in text
        assert KULTUR_EMAIL in text and contact.phone in text
        for token in (KULTUR_EMAIL, contact.phone, "/status"):
            before, _, after = text.partition(token)
            assert before.rfind(LRI) > before.rfind(PDI), token  # inside an open isolate
            assert PDI in after, token
        assert text.count(LRI) == text.count(PDI)
        assert t(language, DEPARTMENT_NOTE) in text


@pytest.mark.parametrize("language", [code for code in LANGUAGES if code not in RIGHT_TO_LEFT])
def test_left_to_right_answers_have_no_isolates(engine: Engine, language: str) -> None:
    with session_scope(engine) as session:
        enquiry, text = _routed(session, language)
    assert LRI not in text and PDI not in text
    assert f"{enquiry.reference}" in text and KULTUR_EMAIL in text


@pytest.mark.parametrize("language", LANGUAGES)
def test_routed_answers_say_the_department_may_reply_in_swedish_or_english(
    engine: Engine, language: str
) -> None:
    with session_scope(engine) as session:
        enquiry, text = _routed(session, language)
        rerouted = render(session, _row(enquiry, Kind.REROUTED, language)).text
    note = t(language, DEPARTMENT_NOTE)
    if language == "sv":
        assert DEPARTMENT_NOTE not in text and DEPARTMENT_NOTE not in rerouted
    else:
        assert note != DEPARTMENT_NOTE
        assert text.endswith(note) and rerouted.endswith(note)


def test_a_reply_to_an_unsupported_language_gets_one_line_in_swedish(engine: Engine) -> None:
    with session_scope(engine) as session:
        enquiry = routed_enquiry(session, now=NOW, language="en")
        plain = render(session, _row(enquiry, Kind.ESCALATED, "en", reason="human")).text
        polish = render(
            session, _row(enquiry, Kind.ESCALATED, "en", reason="human", unsupported_language="pl")
        ).text
    assert plain.startswith("Of course.") and SWEDISH_LINE not in plain
    assert polish == f"{plain}\n\n{SWEDISH_LINE}"
    assert polish.count("\n\n") == plain.count("\n\n") + 1


def test_later_notices_keep_the_language_the_enquiry_was_answered_in(engine: Engine) -> None:
    with session_scope(engine) as session:
        enquiry = routed_enquiry(session, now=NOW, language="sv")
        enquiry.language, enquiry.detected_language = "uk", "uk"
        user = session.get(AssociationUser, enquiry.user_id)
        assert user is not None
        user.language = "fi"  # the association picks another language afterwards
        answer_enquiry(session=session, enquiry=enquiry, text="Svar: ja.", actor="staff:1", now=NOW)
        [sent] = outbox(session, kind="answer")
    assert sent.row.language == "uk"
    assert sent.text.startswith("Ви отримали відповідь на звернення")
    assert "Svar: ja." in sent.text


LABELS = [
    *("Svenska", "English", "العربية", "فارسی", "Soomaali", "Suomi", "Українська"),
    *("Polski", "Türkçe", "Bosanski / Hrvatski / Srpski"),
]


def test_the_language_choice_offers_all_ten_in_their_own_names() -> None:
    rows = language_choices()
    labels = [choice.label for row in rows for choice in row]
    actions = [choice.action for row in rows for choice in row]
    assert actions == [f"lang:{code}" for code in LANGUAGES]
    assert labels == LABELS
    assert all(len(row) <= 3 for row in rows)
    assert rows[-1] == [rows[-1][0]] and rows[-1][0].action == "lang:bs"  # the long name alone
    for code in LANGUAGES:
        if code != "bs":
            assert LANGUAGE_NAMES[code].lower() == (language_name(code, code) or "").lower()
    # One catalogue, named in each of its three languages (Serbian in its Latin spelling).
    own_names = [language_name(code, code) for code in ("bs", "hr", "sr")]
    assert (
        LANGUAGE_NAMES["bs"].lower().split(" / ")
        == own_names
        == [
            "bosanski",
            "hrvatski",
            "srpski",
        ]
    )


@pytest.mark.parametrize(("code", "shipped"), [("hr", "bs"), ("sr-Latn", "bs"), ("sr", "bs")])
def test_croatian_and_serbian_codes_use_the_bosnian_croatian_serbian_catalogue(
    code: str, shipped: str
) -> None:
    assert normalise_language(code) == shipped
    assert t(code, "Välj språk:") == t("bs", "Välj språk:") == "Izaberite jezik:"


@pytest.mark.parametrize(
    "text",
    [
        "ማሕበርና ንንጥፈታት መንእሰያት ካብ ኮሙን ሓገዝ ገንዘብ ብኸመይ ክንሓትት ንኽእል?",  # Tigrinya
        "我们协会怎样向市政府申请青少年活动补助？",
    ],
)
def test_a_question_in_a_foreign_script_is_answered_in_english_with_the_swedish_line(
    engine: Engine, text: str
) -> None:
    found = identify(text, saved="fi", languages=LANGUAGES)
    params = language_params(found)
    assert found.reply == "en" and params["unsupported_language"] in (UNDETERMINED, "zh")
    with session_scope(engine) as session:
        enquiry = routed_enquiry(session, now=NOW, language="en")
        reply = render(session, _row(enquiry, Kind.ESCALATED, "en", reason="human", **params))
    assert reply.text.startswith("Of course.") and reply.text.endswith(f"\n\n{SWEDISH_LINE}")


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_confirmation_is_written_in_the_chosen_language(language: str) -> None:
    confirmed = t(language, "Nu skriver jag på svenska.")
    assert (confirmed == "Nu skriver jag på svenska.") == (language == "sv")
    assert (language in RIGHT_TO_LEFT) == (language in ("ar", "fa"))


def test_staff_see_the_written_and_the_association_language_in_swedish(engine: Engine) -> None:
    with session_scope(engine) as session:
        enquiry = routed_enquiry(session, now=NOW, language="sv", detected_language="ar")
        languages = enquiry_languages(session=session, enquiry=enquiry)
        line = languages_line(languages, "sv")
        short = routed_enquiry(session, now=NOW, language="fi")
        unknown = languages_line(enquiry_languages(session=session, enquiry=short), "sv")
    assert (languages.written, languages.association, languages.reply) == ("ar", "sv", "sv")
    assert line == "Språk: arabiska · föreningens språk: svenska"
    assert unknown == "Språk: går inte att avgöra · föreningens språk: finska"
    assert language_label("pl", "sv") == "polska"
    assert language_label("pl", "en") == "Polish"
    assert language_label("xx", "sv") == "xx"


def test_isolates_wrap_each_left_to_right_run_once() -> None:
    assert isolate_ltr("رقمك المرجعي: LOT-2026-00042") == f"رقمك المرجعي: {LRI}LOT-2026-00042{PDI}"
    text = "التواصل: Föreningsservice، anna@storasa.se، هاتف 0123-45 67 89 (mån–fre 9–12)."
    isolated = isolate_ltr(text)
    assert isolated == (
        f"التواصل: {LRI}Föreningsservice{PDI}، {LRI}anna@storasa.se{PDI}، "
        f"هاتف {LRI}0123-45 67 89 (mån–fre 9–12){PDI}."
    )
    assert isolate_ltr(isolated) == isolated
    assert isolate_ltr("جمعية النور") == "جمعية النور"
    assert isolate_ltr("اكتب /status\nLine two.") == f"اكتب {LRI}/status{PDI}\n{LRI}Line two{PDI}."
    assert isolate_ltr("ساعت (1491.4 ساعت کاری)") == f"ساعت ({LRI}1491.4{PDI} ساعت کاری)"


def test_cleaning_keeps_persian_joiners_and_drops_direction_controls() -> None:
    assert clean_text("می\u200cخواهیم") == "می\u200cخواهیم"
    assert clean_text("\u202eabc\u2066d\u2069") == "abcd"


@pytest.mark.parametrize("language", ["sv", "en", "ar"])
def test_the_routed_answer_says_what_the_department_answers(engine: Engine, language: str) -> None:
    """Under the department's name: what it answers (its first line), in the writer's language."""
    with session_scope(engine) as session:
        culture = departments.department_by_key(session=session, key="kultur_fritid")
        assert culture is not None and culture.handles
        _enquiry, text = _routed(session, language)
        what = t(language, culture.handles[0])
        assert what != culture.handles[0] or language == "sv"  # the demo line is translated
        second = text.split("\n")[1]
        expected = t(language, "Förvaltningen svarar bland annat på: {what}", what=what)
        assert second == (isolate_ltr(expected) if language in RIGHT_TO_LEFT else expected)


def test_the_routed_answer_follows_what_staff_wrote(engine: Engine) -> None:
    """A line staff keep in the desk is what the next answer says (as written, in Swedish)."""
    with session_scope(engine) as session:
        culture = departments.department_by_key(session=session, key="kultur_fritid")
        assert culture is not None
        culture.handles = ["lån av utrustning till föreningars arrangemang", *culture.handles[1:]]
        session.add(culture)
        session.flush()
        _enquiry, text = _routed(session, "sv")
        assert text.split("\n")[1] == (
            "Förvaltningen svarar bland annat på: lån av utrustning till föreningars arrangemang"
        )
