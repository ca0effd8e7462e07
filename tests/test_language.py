"""Which language a message is written in and answered in (bot/understanding/language.py)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bot.i18n import LANGUAGES
from bot.settings import PROJECT_ROOT
from bot.understanding.language import (
    FEW_WORDS,
    choose,
    foreign_letters,
    identify,
    language_text,
    word_count,
)

CLEAR = {
    "sv": "Hur söker vår förening aktivitetsbidrag för hösten?",
    "en": "How does our association apply for an activity grant for the autumn?",
    "ar": "كيف يمكن لجمعيتنا أن تتقدم بطلب منحة للأنشطة في الخريف؟",
    "fa": "انجمن ما چطور می‌تواند برای پاییز درخواست کمک هزینه فعالیت بدهد؟",
    "so": "Sidee ayuu ururkayagu u codsan karaa deeqda hawlaha dayrta?",
    "fi": "Miten yhdistyksemme voi hakea toiminta-avustusta syksyksi?",
    "uk": "Як наша асоціація може подати заявку на грант для діяльності восени?",
    "pl": "Jak nasze stowarzyszenie może złożyć wniosek o dotację na jesień?",
    "tr": "Derneğimiz sonbahar için faaliyet desteğine nasıl başvurabilir?",
    "bs": "Kako naše udruženje može podnijeti zahtjev za grant za aktivnosti na jesen?",
}
UNSUPPORTED = {
    "de": "Wie kann unser Verein einen Zuschuss für Aktivitäten im Herbst beantragen?",
    "es": "¿Cómo puede nuestra asociación solicitar una subvención para el otoño?",
    "ru": "Как наша ассоциация может подать заявку на грант на осень?",
    "sl": "Kako lahko naše društvo zaprosi za subvencijo za dejavnosti jeseni?",
    "cs": "Jak může naše sdružení požádat o dotaci na podzimní aktivity?",
}
NEW = {
    # (written, reply): a short question (under six words) and a long message.
    ("pl", "pl"): (
        "Jak złożyć wniosek o dotację?",
        "Dzień dobry, jesteśmy małym stowarzyszeniem sportowym dla dzieci i młodzieży. "
        "Chcielibyśmy wynająć salę gimnastyczną w soboty i złożyć wniosek o dofinansowanie "
        "obozu letniego. Jakie dokumenty musimy przygotować i do kiedy?",
    ),
    ("tr", "tr"): (
        "Spor salonu nasıl kiralanır?",
        "Merhaba, biz gençler için futbol kulübü olan küçük bir derneğiz. Cumartesi günleri "
        "spor salonu kiralamak ve yaz kampı için destek başvurusu yapmak istiyoruz. Hangi "
        "belgeleri hazırlamamız gerekiyor ve son başvuru tarihi ne zaman?",
    ),
    ("hr", "bs"): (
        "Kako unajmiti športsku dvoranu?",
        "Dobar dan, mi smo mala sportska udruga za djecu i mlade. Željeli bismo unajmiti "
        "sportsku dvoranu subotom i podnijeti zahtjev za financijsku potporu za ljetni kamp. "
        "Koje dokumente trebamo pripremiti i do kada?",
    ),
    ("sr", "bs"): (
        "Како да изнајмимо спортску салу?",
        "Добар дан, ми смо мало спортско удружење за децу и омладину. Желели бисмо да "
        "изнајмимо спортску салу суботом и да поднесемо захтев за финансијску подршку за "
        "летњи камп. Које документе треба да припремимо и до када?",
    ),
}
"""Bosnian, Croatian and Serbian in Latin letters: the detector mixes them up (hr or bs), so
only the reply is fixed; Serbian in Cyrillic it names itself."""
BCS_LATIN = (
    "Kako iznajmiti sportsku dvoranu?",
    "Kako da iznajmimo sportsku salu?",
    "Dobar dan, mi smo malo sportsko udruženje za djecu i omladinu. Željeli bismo iznajmiti "
    "sportsku dvoranu subotom i podnijeti zahtjev za finansijsku podršku za ljetni kamp.",
    "Dobar dan, mi smo malo sportsko udruženje za decu i omladinu. Želeli bismo da iznajmimo "
    "sportsku salu subotom i da podnesemo zahtev za finansijsku podršku za letnji kamp.",
)
FOREIGN_SCRIPTS = {
    # A question about a grant for young people's activities, in scripts no reply language uses.
    "ti": ("ማሕበርና ንንጥፈታት መንእሰያት ካብ ኮሙን ሓገዝ ገንዘብ ብኸመይ ክንሓትት ንኽእል?", None),
    "am": ("ማኅበራችን ለወጣቶች እንቅስቃሴ ከማዘጋጃ ቤቱ የገንዘብ ድጋፍ እንዴት ማመልከት ይችላል?", None),
    "zh": ("我们协会怎样向市政府申请青少年活动补助？", "zh"),
    "th": ("สมาคมของเราจะขอเงินสนับสนุนกิจกรรมเยาวชนจากเทศบาลได้อย่างไร", "th"),
    "ko": ("우리 협회는 청소년 활동 보조금을 어떻게 신청합니까?", "ko"),
    "el": ("Πώς μπορεί ο σύλλογός μας να ζητήσει επιχορήγηση για δραστηριότητες νέων;", "el"),
}
"""Ethiopic (Tigrinya, Amharic) is a script lingua has no language for: the language is not told."""
SHORT = ["hello", "hej", "tack", "bidrag", "شكرا جزيلا", "kiitos", "ok", "IOP", "???", ""]


def test_all_ten_languages_are_answered_in() -> None:
    assert LANGUAGES == ("sv", "en", "ar", "fa", "so", "fi", "uk", "pl", "tr", "bs")
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


@pytest.mark.parametrize(("written", "reply"), sorted(NEW))
@pytest.mark.parametrize("length", ["short", "long"])
def test_polish_turkish_croatian_and_serbian_short_and_long_are_answered_in_kind(
    written: str, reply: str, length: str
) -> None:
    text = NEW[written, reply][0 if length == "short" else 1]
    assert (word_count(text) < FEW_WORDS) == (length == "short")
    found = identify(text, saved="ar", languages=LANGUAGES)
    assert (found.written, found.reply, found.unsupported) == (written, reply, False)


def test_serbian_letters_are_never_taken_for_ukrainian() -> None:
    question = "Да ли нам треба дозвола за бувљак на тргу?"  # the trigrams alone say Ukrainian
    found = identify(question, saved="uk", languages=LANGUAGES)
    assert (found.written, found.reply) == ("sr", "bs")
    assert identify(CLEAR["uk"], saved="bs", languages=LANGUAGES).reply == "uk"


@pytest.mark.parametrize("text", BCS_LATIN)
def test_bosnian_croatian_and_serbian_in_latin_letters_get_the_one_catalogue(text: str) -> None:
    found = identify(text, saved="fi", languages=LANGUAGES)
    assert found.written in ("bs", "hr", "sr") and (found.reply, found.unsupported) == ("bs", False)


@pytest.mark.parametrize("code", sorted(FOREIGN_SCRIPTS))
@pytest.mark.parametrize("saved", ["sv", "fi", "ar"])
def test_a_script_no_reply_language_uses_is_answered_in_english(code: str, saved: str) -> None:
    text, written = FOREIGN_SCRIPTS[code]
    found = identify(text, saved=saved, languages=LANGUAGES)
    assert (found.written, found.reply, found.unsupported) == (written, "en", True)
    # With the reference number and masked data around it, too.
    found = identify(f"LOT-2026-00042 [e-post] {text}", saved=saved, languages=LANGUAGES)
    assert (found.reply, found.unsupported) == ("en", True)


def test_a_few_foreign_letters_in_a_message_in_a_reply_language_change_nothing() -> None:
    mixed = "Vi vill boka en lokal för föreningen 中国协会 i Storåsa nästa vecka"
    assert identify(mixed, saved="fi", languages=LANGUAGES).reply == "sv"
    assert identify("好", saved="fi", languages=LANGUAGES) == identify(
        "ok", saved="fi", languages=LANGUAGES
    )
    assert foreign_letters("好", LANGUAGES) is None
    assert foreign_letters("谢谢! :)", LANGUAGES) == "谢谢"
    assert foreign_letters("谢谢 ok", LANGUAGES) is None  # as many letters in Latin
    # A script is foreign to the languages answered in, not to the world: Ukrainian's Cyrillic.
    assert foreign_letters(CLEAR["uk"], LANGUAGES) is None
    assert foreign_letters(CLEAR["uk"], ("sv", "en")) is not None


def test_ethiopic_loads_no_language_models() -> None:
    """Lingua has no Ethiopic language; handed such a text, it loads every model it has (60 MB)."""
    probe = (
        "import resource\n"
        "from bot.i18n import LANGUAGES\n"
        "from bot.understanding.language import identify, warm_up\n"
        "warm_up()\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        f"found = identify({FOREIGN_SCRIPTS['ti'][0]!r}, saved='sv', languages=LANGUAGES)\n"
        f"found = identify({FOREIGN_SCRIPTS['am'][0]!r}, saved='sv', languages=LANGUAGES)\n"
        "grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before\n"
        "print(found.reply, grown // 1024)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    reply, grown_mb = done.stdout.split()
    assert reply == "en" and int(grown_mb) < 20


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
    assert reply([("de", 0.95), ("nl", 0.05)]) == ("de", "en", True)
    assert reply([("pl", 0.95), ("cs", 0.05)]) == ("pl", "pl", False)
    # Bosnian, Croatian and Serbian count together for the one catalogue.
    assert reply([("hr", 0.5), ("bs", 0.3), ("sl", 0.2)]) == ("bs", "bs", False)
    assert reply([("hr", 0.9), ("sl", 0.1)]) == ("hr", "bs", False)
    assert reply([("sr", 0.97), ("ru", 0.03)], words=4) == ("sr", "bs", False)
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
