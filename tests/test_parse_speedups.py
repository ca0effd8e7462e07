"""The Rasa processes' speed-ups (rasa/lotsen_rasa/speedups.py) change no parse.

`lotsen route`'s batch parser starts without TensorFlow and both it and the Rasa server build
the logistic regression's input more cheaply: every text must get exactly the same parse
(intent ranking and confidences to the last bit, entities) as without the speed-ups, one at a
time and in a batch.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.settings import PROJECT_ROOT, load_settings
from bot.understanding import rasa_env
from tests.probes import run_rasa_probe
from tests.test_parse_batch import TEXTS as BATCH_TEXTS

pytestmark = pytest.mark.slow

PROBE = PROJECT_ROOT / "tests" / "rasa" / "speedups_probe.py"
TEXTS = [
    # The batch parser's texts (a reference number, Arabic, German, small talk), and two more:
    *BATCH_TEXTS,
    "tips på restaurang till föreningens julfest",
    "Kan vi få bidrag för att hyra lokal till vår danskurs för pensionärer i höst, och hur "
    "lång tid tar det innan beslutet kommer? Vi har sökt förut men fick inget svar.",
]


def _probe(mode: str, *, speedups: bool) -> dict[str, Any]:
    settings = load_settings()
    model = rasa_env.model_path(settings)
    if not model.exists():
        pytest.fail("No trained model: run `make setup` before the tests (make test does).")
    return run_rasa_probe(
        PROBE,
        str(model),
        mode,
        settings=settings,
        stdin="".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in TEXTS),
        env={"LOTSEN_RASA_SPEEDUPS": "1" if speedups else "0"},
        timeout=900,
    )


def test_speedups_change_no_parse() -> None:
    plain = _probe("serve", speedups=False)
    assert len(plain["single"]) == len(plain["batch"]) == len(TEXTS)
    assert plain["tensorflow"], "without the speed-ups Rasa imports TensorFlow"
    assert any(e["entity"] == "reference" for e in plain["single"][3]["entities"])
    fast = {mode: _probe(mode, speedups=True) for mode in ("batch", "serve")}
    for mode, parsed in fast.items():
        # Exactly equal: the same numbers, not approximately the same.
        assert parsed["single"] == plain["single"], mode
        assert parsed["batch"] == plain["batch"], mode
    # The batch parser's start no longer imports TensorFlow (the server's still does).
    assert fast["batch"]["tensorflow"] is False
    assert fast["serve"]["tensorflow"] is True
