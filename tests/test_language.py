"""Which language a message is written in and answered in (bot/understanding/language.py)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bot.i18n import LANGUAGES
from bot.settings import PROJECT_ROOT
from bot.understanding.language import choose, identify, language_text

CLEAR = {
    "sv": "Hur söker vår förening aktivitetsbidrag för hösten?",
    "en": "How does our association apply for an activity grant for the autumn?",
    "ar": "كيف يمكن لجمعيتنا أن تتقدم بطلب منحة للأنشطة في الخريف؟",
    "fa": "انجمن ما چطور می‌تواند برای پاییز درخواست کمک هزینه فعالیت بدهد؟",
    "so": "Sidee ayuu ururkayagu u codsan karaa deeqda hawlaha dayrta?",
    "fi": "Miten yhdistyksemme voi hakea toiminta-avustusta syksyksi?",
    "uk": "Як наша асоціація може подати заявку на грант для діяльності восени?",
}
UNSUPPORTED = {
    "pl": "Jak nasze stowarzyszenie może złożyć wniosek o dotację na jesień?",
    "tr": "Derneğimiz sonbahar için faaliyet desteğine nasıl başvurabilir?",
    "de": "Wie kann unser Verein einen Zuschuss für Aktivitäten im Herbst beantragen?",
    "es": "¿Cómo puede nuestra asociación solicitar una subvención para el otoño?",
}
SHORT = ["hello", "hej", "tack", "bidrag", "شكرا جزيلا", "kiitos", "ok", "IOP", "???", ""]


def test_all_seven_languages_are_answered_in() -> None:
    assert LANGUAGES == ("sv", "en", "ar", "fa", "so", "fi", "uk")
    assert set(CLEAR) == set(LANGUAGES)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("saved", ["sv", "en", "ar"])
def test_a_clear_message_is_answered_in_its_language_whatever_was_saved(
    language: str, saved: str
) -> None:
    found = identify(CLEAR[language], saved=saved, languages=LANGUAGES)
    assert (found.written, found.reply, found.unsupported) == (language, language, False)


@pytest.mark.parametrize("text", SHORT)
@pytest.mark.parametrize("saved", LANGUAGES)
def test_a_short_message_keeps_the_saved_language(text: str, saved: str) -> None:
    found = identify(text, saved=saved, languages=LANGUAGES)
    assert (found.written, found.reply, found.unsupported) == (None, saved, False)


@pytest.mark.parametrize("code", sorted(UNSUPPORTED))
def test_an_unsupported_language_is_answered_in_english(code: str) -> None:
    found = identify(UNSUPPORTED[code], saved="ar", languages=LANGUAGES)
    assert (found.written, found.reply, found.unsupported) == (code, "en", True)


@pytest.mark.parametrize(
    "text",
    [
        "Hvordan kan foreningen vår søke om aktivitetstilskudd for høsten?",
        "Hvordan kan vores forening søge om aktivitetstilskud til efteråret?",
        "hur soker vi bidrag till foreningen nar vi ar nystartade",
        "Vi vill boka en lokal",
    ],
)
def test_norwegian_danish_and_swedish_without_diacritics_are_answered_in_swedish(
    text: str,
) -> None:
    found = identify(text, saved="en", languages=LANGUAGES)
    assert found.reply == "sv" and not found.unsupported


def test_tokens_without_language_are_left_out_before_identifying() -> None:
    noise = "LOT-2026-00042 [e-post] [telefon] 070-123 45 67 /status https://t.me/lotsen 2026-03-13"
    assert language_text(noise) == ""
    assert identify(noise, saved="fi", languages=LANGUAGES).reply == "fi"
    question = f"{CLEAR['uk']} {noise} anna@example.se"
    assert identify(question, saved="sv", languages=LANGUAGES).reply == "uk"


def test_an_unknown_saved_language_falls_back_to_the_first() -> None:
    assert identify("IOP", saved="de", languages=LANGUAGES).reply == "sv"


def test_the_policy_on_a_detectors_confidences() -> None:
    def reply(scores: list[tuple[str, float]], words: int = 8) -> tuple[str | None, str, bool]:
        found = choose(scores, saved="fi", words=words, languages=LANGUAGES)
        return found.written, found.reply, found.unsupported

    assert reply([("ar", 0.7), ("fa", 0.3)]) == ("ar", "ar", False)
    # Swedish and its neighbours count together; the best single one must be clear itself.
    assert reply([("nb", 0.4), ("sv", 0.35), ("da", 0.25)]) == ("sv", "sv", False)
    assert reply([("nb", 0.9), ("nn", 0.1)]) == ("nb", "sv", False)
    # Neither a reply language nor another one is clear: the saved language.
    assert reply([("de", 0.55), ("sv", 0.45)]) == (None, "fi", False)
    assert reply([("pl", 0.95), ("cs", 0.05)]) == ("pl", "en", True)
    # Few words need more confidence.
    assert reply([("uk", 0.8), ("ru", 0.2)], words=4) == (None, "fi", False)
    assert reply([("uk", 0.95), ("ru", 0.05)], words=4) == ("uk", "uk", False)
    assert reply([]) == (None, "fi", False)


def test_identification_needs_no_network() -> None:
    probe = (
        "import socket\n"
        "def refuse(*a, **k): raise OSError('no network')\n"
        "socket.socket.connect = refuse\n"
        "socket.create_connection = refuse\n"
        "socket.getaddrinfo = refuse\n"
        "from bot.i18n import LANGUAGES\n"
        "from bot.understanding.language import identify\n"
        f"print(identify({CLEAR['so']!r}, saved='sv', languages=LANGUAGES).reply)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin", "HOME": "/nonexistent"},
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "so"


def test_the_language_benchmark_runs_offline() -> None:
    from bench.language_id import LENGTHS, run

    result = run(("lingua-low",))["lingua-low"]
    assert "error" not in result and result["network_attempts"] == 0
    expected = {f"{group}/{length}" for group in ("supported", "unsupported") for length in LENGTHS}
    assert set(result["cells"]) == expected | {"unknown/medium", "unknown/long"}
    for cell in result["cells"].values():
        shares = cell["right"] + cell["kept_saved"] + cell["wrong"]
        assert cell["n"] > 0 and shares == pytest.approx(1.0, abs=0.002)
