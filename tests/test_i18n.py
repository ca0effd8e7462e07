"""One text system: the catalogues are complete and every message renders in every language."""

from __future__ import annotations

import ast
import builtins
import hashlib
import os
import re
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import jinja2
import pytest
import yaml
from babel.messages.plurals import get_plural
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.i18n import (
    LANGUAGES,
    LOCALE_DIR,
    catalogue_path,
    compile_all,
    compile_po,
    load_catalogue,
    nt,
    t,
    translate,
)
from bot.i18n.catalogue import extract, load, placeholders, problems
from bot.messages import RENDERERS, render
from bot.messages.languages import EnquiryLanguages, languages_line
from bot.settings import PROJECT_ROOT
from db.enquiries import notifications as notify
from db.enquiries.notifications import Kind
from db.models import OutboxMessage
from db.people import departments
from db.plumbing.phrases import Phrase
from db.plumbing.session import session_scope
from harness.people import telegram_person
from harness.workflow import escalated_enquiry, local, routed_enquiry

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
        user = telegram_person(session=session, telegram_user_id=1, chat_id=1)
        department = departments.department_by_key(session=session, key="kultur_fritid")
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
        Kind.REFERRED: {"authority": "skatteverket"},
        Kind.CONFIRM: {"options": ["kultur_fritid", "teknik"]},
        Kind.ANSWER: {"department": "kultur_fritid"},
        Kind.FEEDBACK_COMMENT: {"feedback": 1},
        Kind.FEEDBACK_COMMENT_TOO_LONG: {"limit": 2000},
        Kind.CLOSED: {"reason": "duplicate"},
        Kind.REROUTED: {"department": "teknik"},
        Kind.FORWARD: {"deadline": NOW.isoformat()},
        Kind.REMINDER: {"deadline": NOW.isoformat()},
        Kind.ROUTE_REVIEW: {"intents": ["topic_bidrag"]},
        Kind.REASSIGNED: {"to": "teknik"},
        Kind.ASSIGNED: {"assignee": "Alva"},
        Kind.MAIL_FAILED: {"failed_kind": "forward", "address": "x@y.se", "problem": "550"},
        Kind.DIGEST: {"day": "2026-03-16"},
        Kind.MAIL_HELD: {"sender": "x@y.se", "subject": "Svar", "reason": "foreign_sender"},
        Kind.MAIL_REFUSED: {"subject": "Svar", "reason": "too_big", "limit_mb": 10, "to": "x@y.se"},
        Kind.TEXT: {"text": "En text från Rasa.", "choices": [[["Ja", "say:/affirm"]]]},
    }
    recipients = {
        Kind.FORWARD: (notify.Recipient.DEPARTMENT, department_id),
        Kind.REMINDER: (notify.Recipient.DEPARTMENT, department_id),
        Kind.CARD: (notify.Recipient.COORDINATORS, None),
        Kind.ROUTE_REVIEW: (notify.Recipient.STAFF, 42),
        Kind.RETURNED: (notify.Recipient.DEPARTMENT, department_id),
        Kind.REASSIGNED: (notify.Recipient.DEPARTMENT, department_id),
        Kind.ASSIGNED: (notify.Recipient.DEPARTMENT, department_id),
        Kind.MAIL_FAILED: (notify.Recipient.COORDINATORS, None),
        Kind.DIGEST: (notify.Recipient.COORDINATORS, None),
        Kind.MAIL_HELD: (notify.Recipient.COORDINATORS, None),
        Kind.FOLLOW_UP: (notify.Recipient.DEPARTMENT, department_id),
        Kind.MAIL_REFUSED: (notify.Recipient.MAILBOX, None),
        Kind.ASSIGNED_TO_YOU: (notify.Recipient.STAFF, 42),
    }
    rows = []
    for kind in RENDERERS:
        recipient, recipient_id = recipients.get(
            Kind(kind), (notify.Recipient.ASSOCIATION, user_id)
        )
        rows.append(
            OutboxMessage(
                channel="telegram",
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


MAILBOX_KINDS = (
    Kind.FORWARD,
    Kind.REMINDER,
    Kind.RETURNED,
    Kind.REASSIGNED,
    Kind.ASSIGNED,
    Kind.MAIL_FAILED,
    Kind.DIGEST,
    Kind.MAIL_HELD,
    Kind.MAIL_REFUSED,
    Kind.FOLLOW_UP,
)


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_kind_a_mailbox_receives_renders_as_an_email(engine: Engine, language: str) -> None:
    from bot.channels.email.compose import compose, subject

    with session_scope(engine) as session:
        routed = routed_enquiry(session, now=NOW)
        _enquiry, escalation_id = escalated_enquiry(session, now=NOW)
        user = telegram_person(session=session, telegram_user_id=1, chat_id=1)
        department = departments.department_by_key(session=session, key="kultur_fritid")
        assert department is not None and department.id is not None
        rows = _one_of_each(session, language, routed, escalation_id, user.id, department.id)
        mails = []
        for row in rows:
            if row.kind not in MAILBOX_KINDS:
                continue
            row.channel = notify.Channel.EMAIL
            row.id = 1
            mails.append(
                compose(
                    row_id=1,
                    kind=row.kind,
                    message=render(session, row),
                    reference=str(routed.reference),
                    to="a@b.se",
                    reply_to="a@b.se",
                    sender="Lotsen <l@b.se>",
                    language=language,
                    municipality="Storåsa kommun",
                    link=None,
                )
            )
    assert len(mails) == len(MAILBOX_KINDS)
    for mail in mails:
        for text in (mail.subject, mail.text, mail.html):
            assert text.strip() and "{" not in text and "}" not in text, text
    forward = mails[0].text
    # The routed enquiry is too short to tell, from a Swedish-speaking association.
    assert languages_line(EnquiryLanguages(None, "sv", "sv"), language) in forward
    if language == "en":
        assert "Language: cannot tell · the association's language: Swedish" in forward
        assert "Why it came to you" in forward
        assert subject(Kind.FORWARD, "LOT-1", "en") == "New question from an association: LOT-1"
    elif language == "sv":
        assert "Språk: går inte att avgöra · föreningens språk: svenska" in forward
        assert "Varför till er" in forward
    else:
        assert "Varför till er" not in forward and subject(Kind.FORWARD, "LOT-1", language) != (
            subject(Kind.FORWARD, "LOT-1", "sv")
        )


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


# --- the desk: no text outside the catalogues ----------------------------------------------

DESK = PROJECT_ROOT / "bot" / "channels" / "desk"
NON_WORDS = {"Lotsen", "CSV", "JSON", "LOT"}
"""Words a desk page may show outside the catalogues: a name, formats, the reference prefix."""
TEXT_HELPERS = {"_", "gettext", "ngettext", "bi", "pbi", "plain", "sentence"}
TEXT_ATTRIBUTES = {"aria-label", "placeholder", "title", "alt", "label"}
WORD = re.compile(r"[^\W\d_]+")
PROSE = re.compile(r"[^\W\d_]{2,} +[^\W\d_]{2,}")
TAG = re.compile(r"<[^<>]*>|<[^<>]*$|^[^<>]*>")
CAPITALISED = re.compile(r"\b[A-ZÅÄÖ][a-zåäö]+")


def _words(text: str) -> list[str]:
    return [word for word in WORD.findall(text) if word not in NON_WORDS]


def _reads_as_text(value: str, *, capitalised: bool = False) -> bool:
    """Tell whether a literal reads as words for a person (not a key, a path or markup)."""
    value = TAG.sub(" ", value)
    if not _words(value):
        return False
    return bool(
        PROSE.search(value)
        or any(ch.isalpha() and not ch.isascii() for ch in value)
        or (capitalised and CAPITALISED.search(value))
    )


class _ShownText(HTMLParser):
    """Collect what a browser shows or reads out: text, and attributes that carry text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[int, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in TEXT_ATTRIBUTES and value and _words(value):
                self.found.append((self.getpos()[0], f"{name}={value}"))

    def handle_data(self, data: str) -> None:
        if _words(data):
            self.found.append((self.getpos()[0], data.strip(" \n§")))


def _template_texts(path: Path) -> list[str]:
    """Return every text of a template outside `_()`, `{% trans %}` and the desk's helpers."""
    lexer = jinja2.Environment(extensions=["jinja2.ext.i18n"])
    shown: list[str] = []  # the template with every Jinja construct blanked out
    found: list[tuple[int, str]] = []
    calls: list[str | None] = []
    last: tuple[str, str] = ("", "")
    in_trans = False
    for line, kind, value in lexer.lex(path.read_text(encoding="utf-8")):
        if kind == "whitespace":
            shown.append("\n" * value.count("\n"))
            continue
        if kind == "name" and last[0] == "block_begin" and value in ("trans", "endtrans"):
            in_trans = value == "trans"
        if kind == "operator" and value == "(":
            calls.append(last[1] if last[0] == "name" else None)
        elif kind == "operator" and value == ")" and calls:
            calls.pop()
        elif kind == "string" and (not calls or calls[-1] not in TEXT_HELPERS):
            found.extend([(line, value)] if _reads_as_text(value, capitalised=True) else [])
        if kind == "data" and not in_trans:
            shown.append(value)
        else:
            shown.append("§" if kind.endswith("_begin") else "")
            shown.append("\n" * value.count("\n"))
        last = (kind, value)
    parser = _ShownText()
    parser.feed("".join(shown))
    parser.close()
    name = path.relative_to(PROJECT_ROOT)
    return [f"{name}:{line}: {text!r}" for line, text in sorted(found + parser.found)]


LOG_METHODS = {"debug", "info", "warning", "error", "exception", "critical"}
CATALOGUE_CALLS = {"N_", "t", "pt", "nt"}
SILENT_MODULES = {"passwords.py", "password_pool.py", "throttle.py"}
"""Desk modules that show a person nothing: password hashing, its pool, the sign-in counters."""
BUILTIN_ERRORS = {name for name in dir(builtins) if name.endswith(("Error", "Exception"))}


def _exempt(node: ast.Call) -> bool:
    """Tell whether a call's literals are not for a person, or are catalogue messages already."""
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    if isinstance(func, ast.Attribute) and name in LOG_METHODS:
        return True  # a log line, for the operator
    return name in CATALOGUE_CALLS or name in BUILTIN_ERRORS


def _python_texts(path: Path) -> list[str]:
    """Return every literal of a desk module that reads as text but is no catalogue message."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Expr):
            skipped.add(id(node.value))  # a docstring: a string statement is never shown
        if isinstance(node, ast.Call) and _exempt(node):
            skipped.update(id(inner) for inner in ast.walk(node))
    return [
        f"{path.relative_to(PROJECT_ROOT)}:{node.lineno}: {node.value!r}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in skipped
        and _reads_as_text(node.value)
    ]


def test_no_desk_template_has_text_outside_the_catalogues() -> None:
    templates = sorted((DESK / "templates").glob("*.html"))
    assert len(templates) >= 14
    found = [place for template in templates for place in _template_texts(template)]
    assert found == [], "wrap these in _(), {% trans %}, bi() or plain():\n" + "\n".join(found)


def test_no_desk_module_holds_a_literal_text() -> None:
    modules = sorted(m for m in DESK.glob("*.py") if m.name not in SILENT_MODULES)
    assert len(modules) > 10
    found = [place for module in modules for place in _python_texts(module)]
    assert found == [], "mark these with N_() and show them as a Phrase:\n" + "\n".join(found)


def test_the_desk_finders_find_texts(tmp_path: Path) -> None:
    template = PROJECT_ROOT / "var" / "literal_probe.html"
    template.parent.mkdir(exist_ok=True)
    template.write_text(
        "<h1>{{ bi('Rubrik') }} Lotsen</h1>\n"
        "<p>{% trans %}En mening med {{ x }}.{% endtrans %} CSV · JSON · 12 %</p>\n"
        '<p>Kvar här <a href="/desk" aria-label="Till start">→</a></p>\n'
        "<dd>{{ a or 'Okänd' }}{{ b or 'key' }}{{ plain('Alla %(n)s', n=c) }}</dd>\n",
        encoding="utf-8",
    )
    module = PROJECT_ROOT / "var" / "literal_probe.py"
    module.write_text(
        '"""A docstring is no text."""\n'
        'import logging\nlog = logging.getLogger("x")\n'
        'DONE = {"claim": ("Ärendet är ditt.", "The case is yours.")}\n'
        'OK = {"claim": N_("Ärendet är ditt."), "header": "Cache-Control"}\n'
        'log.info("a line for the operator")\n'
        'raise ValueError("a message for a developer")\n',
        encoding="utf-8",
    )
    try:
        assert [place.split(": ", 1)[1] for place in _template_texts(template)] == [
            "'Kvar här'",
            "'aria-label=Till start'",
            "\"'Okänd'\"",
        ]
        assert len(_python_texts(module)) == 2
    finally:
        template.unlink()
        module.unlink()


def test_a_template_translator_comment_reaches_the_catalogue() -> None:
    found = {message.id: message for message in extract() if message.id == "Stämmer"}
    assert found["Stämmer"].auto_comments, "{# Translators: … #} above bi('Stämmer') is lost"
    assert any("department.html" in place for place, _ in found["Stämmer"].locations)


GLOSSARY_TERMS = {
    # The Swedish source of each glossary term, as it appears in message ids.
    "förening": r"förening(?!sservice)",
    "förvaltning": r"förvaltning",
    "ärende": r"ärende(?!nummer)",
    "referensnummer": r"ärendenummer|referensnummer",
    "samordnare": r"samordnar",
    "skrivbord": r"skrivbord",
}
TRANSLATED = [language for language in LANGUAGES if language not in ("sv", "en")]


def test_ten_languages_ship_with_catalogues_and_glossaries() -> None:
    assert LANGUAGES == ("sv", "en", "ar", "fa", "so", "fi", "uk", "pl", "tr", "bs")
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


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_catalogue_has_its_languages_plural_forms(language: str) -> None:
    wanted = get_plural(language)
    catalogue = load(language)
    assert catalogue.num_plurals == wanted.num_plurals
    assert f"nplurals={wanted.num_plurals};" in catalogue.plural_forms
    plurals = [m for m in catalogue if m.id and isinstance(m.id, tuple)]
    assert len(plurals) >= 10
    for message in plurals:
        assert isinstance(message.string, tuple) and len(message.string) == wanted.num_plurals
        assert all(message.string), message.id


SESSIONS = ("{count} öppen session avslutad", "{count} öppna sessioner avslutade")


@pytest.mark.parametrize(
    ("language", "forms"),
    [
        (
            "pl",
            {
                1: "otwartą sesję",
                2: "otwarte sesje",
                5: "otwartych sesji",
                12: "otwartych",
                22: "otwarte",
            },
        ),
        (
            "bs",
            {
                1: "otvorena sesija",
                3: "otvorene sesije",
                5: "otvorenih",
                11: "otvorenih",
                21: "otvorena sesija",
            },
        ),
        ("tr", {1: "1 açık oturum", 2: "2 açık oturum"}),
        (
            "uk",
            {
                1: "1 відкритий сеанс",
                3: "відкриті сеанси",
                5: "відкритих сеансів",
                21: "21 відкритий",
            },
        ),
    ],
)
def test_plural_forms_are_chosen_by_each_languages_rule(
    language: str, forms: dict[int, str]
) -> None:
    for count, words in forms.items():
        assert words in nt(language, *SESSIONS, count), (language, count)


@pytest.mark.parametrize("language", LANGUAGES)
def test_translator_comments_reach_every_catalogue(language: str) -> None:
    wanted = {(m.id, m.context): m.auto_comments for m in extract() if m.id and m.auto_comments}
    assert len(wanted) > 50
    have = {(m.id, m.context): m.auto_comments for m in load(language) if m.id}
    missing = [str(key[0])[:60] for key, comments in wanted.items() if have.get(key) != comments]
    assert missing == []


def test_a_channel_the_domain_names_is_shown_by_its_name_in_the_readers_language() -> None:
    from db.plumbing.validation import CHAT_ID_PROBLEM
    from db.privacy.disposal import kind_phrase

    # The domain passes the channel's value; the application names it (bot.i18n.CHANNEL_NAMES).
    assert translate("en", kind_phrase("inbox")) == "processed Telegram updates"
    assert translate("sv", kind_phrase("inbox")) == "behandlade Telegram-uppdateringar"
    problem = Phrase(CHAT_ID_PROBLEM, {"value": "anna", "channel": notify.CHAT_APP})
    assert translate("en", problem) == "anna is not a Telegram id. An id is digits only."
    assert "تلگرام" in translate("fa", problem)  # the name in Persian, from the catalogue
    assert translate("en", Phrase("{channel}", {"channel": notify.Channel.EMAIL})) == "E-mail"
    # A plain text value is shown as it is, even when it spells a channel's value.
    assert translate("en", Phrase("{channel}", {"channel": "telegram"})) == "telegram"
    assert translate("en", kind_phrase("audit")) == t("en", "ändringsloggen")


HELP = 'msgid "Hjälp"\nmsgstr "Help"\n'


def _catalogue_copy(folder: Path) -> Path:
    """Copy the English catalogue into a folder of its own (the shipped one is left alone)."""
    po_file = folder / "lotsen.po"
    source = catalogue_path("en").read_text()
    assert source.count(HELP) == 1
    po_file.write_text(source)
    return po_file


def test_a_start_reads_the_compiled_catalogue_kept_for_the_po(tmp_path: Path) -> None:
    po_file = _catalogue_copy(tmp_path)
    assert load_catalogue(po_file, "en").gettext("Hjälp") == "Help"
    [kept] = tmp_path.glob("lotsen-*.mo")
    # The next start reads the kept file, not the .po: a file with another text under the same
    # name is what it serves.
    other = po_file.read_text().replace(HELP, 'msgid "Hjälp"\nmsgstr "Help (kept)"\n')
    kept.write_bytes(compile_po(other.encode(), "en"))
    assert load_catalogue(po_file, "en").gettext("Hjälp") == "Help (kept)"


def test_a_changed_po_is_served_never_its_stale_compiled_file(tmp_path: Path) -> None:
    po_file = _catalogue_copy(tmp_path)
    assert load_catalogue(po_file, "en").gettext("Hjälp") == "Help"
    [stale] = tmp_path.glob("lotsen-*.mo")
    po_file.write_text(po_file.read_text().replace(HELP, 'msgid "Hjälp"\nmsgstr "Assistance"\n'))
    os.utime(po_file, (0, 0))  # older than the compiled file: its content decides, not its time
    assert load_catalogue(po_file, "en").gettext("Hjälp") == "Assistance"
    [fresh] = tmp_path.glob("lotsen-*.mo")
    assert fresh != stale and not stale.exists()  # the stale one is gone, the new one kept


def test_a_catalogue_that_cannot_be_kept_is_compiled_in_memory(tmp_path: Path) -> None:
    po_file = _catalogue_copy(tmp_path)
    unwritable = tmp_path / "not-a-folder"
    unwritable.write_text("a file where the compiled catalogues would go")
    for _ in range(2):  # every start compiles it again, and serves it all the same
        assert load_catalogue(po_file, "en", unwritable).gettext("Hjälp") == "Help"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lotsen.po", "not-a-folder"]


def test_every_shipped_catalogue_is_compiled_and_kept_beside_its_po() -> None:
    kept = compile_all()
    assert len(kept) == len(LANGUAGES)
    for path in kept:
        po_file = path.with_name("lotsen.po")
        assert path.name == f"lotsen-{hashlib.sha256(po_file.read_bytes()).hexdigest()[:16]}.mo"
    # Not committed: git ignores them.
    ignored = subprocess.run(
        ["git", "check-ignore", *map(str, kept)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
    )
    assert ignored.returncode == 0 and len(ignored.stdout.splitlines()) == len(kept)
