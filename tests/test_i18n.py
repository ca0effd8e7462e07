"""One text system: the catalogues are complete and every message renders in every language."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.i18n import LANGUAGES, LOCALE_DIR, catalogue_path, t, translate
from bot.i18n.catalogue import extract, load, placeholders, problems
from bot.messages import RENDERERS, render
from bot.settings import PROJECT_ROOT
from db import crud
from db import notifications as notify
from db.models import OutboxMessage
from db.notifications import Kind
from db.phrases import Phrase
from db.session import session_scope
from tests.workflow_helpers import escalated_enquiry, local, routed_enquiry

NOW = local(2026, 3, 16, 9)


def test_every_message_is_translated_in_every_shipped_language() -> None:
    found = [str(problem) for problem in problems()]
    assert found == [], "run `python -m bot.i18n update` and translate:\n" + "\n".join(found)


def test_the_check_finds_a_missing_translation(tmp_path: Path) -> None:
    assert placeholders("Ärende {reference} är {status!r}") == {"reference", "status"}
    assert placeholders(("{count} ärende", "{count} ärenden")) == {"count"}
    assert len(extract()) > 200
    assert t("en", "Ett meddelande som inte finns i katalogen") == (
        "Ett meddelande som inte finns i katalogen"
    )
    assert translate("en", Phrase("{where}: {problem}", {"where": "x", "problem": Phrase("filen")}))
    assert translate("en", Phrase("filen")) == "file"


def test_every_kind_has_a_renderer() -> None:
    assert set(RENDERERS) == {kind.value for kind in Kind} - {Kind.PROMPT}


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_kind_renders_in_every_language(engine: Engine, language: str) -> None:
    with session_scope(engine) as session:
        routed = routed_enquiry(session, now=NOW)
        enquiry, escalation_id = escalated_enquiry(session, now=NOW)
        routed.answer_text = "Svar från förvaltningen."
        user = crud.get_or_create_user(session=session, telegram_user_id=1, chat_id=1)
        department = crud.department_by_key(session=session, key="kultur_fritid")
        assert department is not None and department.id is not None
        rows = _one_of_each(session, language, routed, escalation_id, user.id, department.id)
        texts = {row.kind: render(session, row).text for row in rows}
    assert set(texts) == set(RENDERERS)
    for kind, text in texts.items():
        assert text.strip(), kind
        assert "{" not in text and "}" not in text, (kind, text)
    assert enquiry.reference in texts[Kind.CARD]


def _one_of_each(
    session: Session,
    language: str,
    routed: object,
    escalation_id: int,
    user_id: int | None,
    department_id: int,
) -> list[OutboxMessage]:
    """Return one unsaved outbox row of every kind, with typical parameters."""
    params = {
        Kind.CANCELLED: {"waited": True},
        Kind.STATUS: {"reference": None},
        Kind.TOO_LONG: {"length": 5000},
        Kind.SMALLTALK: {"intent": "thanks"},
        Kind.ROUTED: {"department": "kultur_fritid"},
        Kind.ESCALATED: {"reason": "human"},
        Kind.ANSWER: {"department": "kultur_fritid"},
        Kind.CLOSED: {"reason": "duplicate"},
        Kind.REROUTED: {"department": "teknik"},
        Kind.FORWARD: {"deadline": NOW.isoformat()},
        Kind.REMINDER: {"deadline": NOW.isoformat()},
        Kind.ROUTE_REVIEW: {"intents": ["topic_bidrag"]},
        Kind.TEXT: {"text": "En text från Rasa.", "choices": [[["Ja", "say:/affirm"]]]},
    }
    recipients = {
        Kind.FORWARD: (notify.Recipient.DEPARTMENT, department_id),
        Kind.REMINDER: (notify.Recipient.DEPARTMENT, department_id),
        Kind.CARD: (notify.Recipient.COORDINATORS, None),
        Kind.ROUTE_REVIEW: (notify.Recipient.STAFF, 42),
    }
    rows = []
    for kind in RENDERERS:
        recipient, recipient_id = recipients.get(
            Kind(kind), (notify.Recipient.ASSOCIATION, user_id)
        )
        rows.append(
            OutboxMessage(
                kind=kind,
                recipient=recipient,
                recipient_id=recipient_id,
                language=language,
                params=params.get(Kind(kind), {}),
                enquiry_id=getattr(routed, "id", None),
                escalation_id=escalation_id if kind == Kind.CARD else None,
            )
        )
    return rows


SEND_CALLS = {"reply_text": 0, "send_message": 1, "answer": 0, "edit_message_text": 0}
"""Telegram calls that show text to a person, and the position of their text argument."""


def _literal_texts(path: Path) -> list[str]:
    """Return every string literal a module hands straight to a person (it must be a message)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call):
            continue
        name = (
            node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        )
        args = list(node.args)
        if name in SEND_CALLS and len(args) > SEND_CALLS[name]:
            shown = args[SEND_CALLS[name]]
        elif name in {"Message", "Choice", "BotCommand"} and args:
            shown = args[0] if name != "BotCommand" else args[-1]
        else:
            continue
        if isinstance(shown, ast.JoinedStr) or (
            isinstance(shown, ast.Constant) and isinstance(shown.value, str)
        ):
            found.append(f"{path.relative_to(PROJECT_ROOT)}:{node.lineno}")
    return found


def test_no_user_facing_literal_is_left_in_handlers() -> None:
    modules = sorted((PROJECT_ROOT / "bot" / "channels").rglob("*.py"))
    modules += [PROJECT_ROOT / "bot" / "conversation.py"]
    modules += sorted((PROJECT_ROOT / "bot" / "messages").rglob("*.py"))
    assert len(modules) > 10
    found = [place for module in modules for place in _literal_texts(module)]
    assert found == []


def test_the_literal_finder_finds_a_literal(tmp_path: Path) -> None:
    module = PROJECT_ROOT / "var" / "literal_probe.py"
    module.parent.mkdir(exist_ok=True)
    module.write_text(
        "async def h(update, context):\n"
        '    await update.message.reply_text("Hej då!")\n'
        '    await context.bot.send_message(1, f"Ärende {1}")\n'
        '    await context.bot.send_message(1, t("sv", "Hej"))\n',
        encoding="utf-8",
    )
    try:
        assert len(_literal_texts(module)) == 2
    finally:
        module.unlink()


GLOSSARY_TERMS = {
    # The Swedish source of each glossary term, as it appears in message ids.
    "förening": r"förening(?!sservice)",
    "förvaltning": r"förvaltning",
    "ärende": r"ärende(?!nummer)",
    "referensnummer": r"ärendenummer|referensnummer",
    "samordnare": r"samordnar",
}
TRANSLATED = [language for language in LANGUAGES if language not in ("sv", "en")]


def test_seven_languages_ship_with_catalogues_and_glossaries() -> None:
    assert LANGUAGES == ("sv", "en", "ar", "fa", "so", "fi", "uk")
    for language in LANGUAGES:
        assert catalogue_path(language).is_file(), language
        assert len([m for m in load(language) if m.id]) == len([m for m in extract() if m.id])
    for language in TRANSLATED:
        glossary = yaml.safe_load((LOCALE_DIR / language / "glossary.yml").read_text("utf-8"))
        assert set(glossary) == set(GLOSSARY_TERMS), language
        for entry in glossary.values():
            assert entry["note"] and re.search(entry["stem"], entry["term"]), (language, entry)


@pytest.mark.parametrize("language", TRANSLATED)
def test_glossary_terms_are_used_consistently(language: str) -> None:
    glossary = yaml.safe_load((LOCALE_DIR / language / "glossary.yml").read_text("utf-8"))
    found = []
    for message in load(language):
        if not message.id:
            continue
        source = " ".join(message.id) if isinstance(message.id, tuple) else message.id
        target = " ".join(message.string) if isinstance(message.string, tuple) else message.string
        for term, pattern in GLOSSARY_TERMS.items():
            if re.search(pattern, source, re.IGNORECASE) and not re.search(
                glossary[term]["stem"], target, re.IGNORECASE
            ):
                found.append(f"{term}: {source[:60]!r} -> {target[:60]!r}")
    assert found == []


def test_the_glossary_check_finds_a_different_word() -> None:
    glossary = yaml.safe_load((LOCALE_DIR / "fi" / "glossary.yml").read_text("utf-8"))
    assert re.search(glossary["ärende"]["stem"], "Sinulla ei ole avoimia asioita.")
    assert not re.search(glossary["ärende"]["stem"], "Sinulla ei ole avoimia tapauksia.")
