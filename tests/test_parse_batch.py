"""`lotsen route`'s batch parser gives exactly the parse of one message at a time."""

from __future__ import annotations

import json
import subprocess

import pytest

from bot.settings import PROJECT_ROOT, load_settings
from bot.understanding import rasa_env

pytestmark = pytest.mark.slow

PROBE = PROJECT_ROOT / "tests" / "rasa" / "batch_probe.py"
TEXTS = [
    "Hur söker vår förening aktivitetsstöd för barn och unga?",
    "När kommer min skatteåterbäring?",
    "hej",
    "Vi vill ha loppis på torget, vem ger tillstånd? LOT-2026-00042",
    "كيف نحجز قاعة رياضية للنادي؟",
    "Wie beantragen wir einen Zuschuss?",
]


def test_batch_parse_equals_single_parses() -> None:
    settings = load_settings()
    model = rasa_env.model_path(settings)
    if not model.exists():
        pytest.fail("No trained model: run `make setup` before the tests (make test does).")
    done = subprocess.run(
        [str(rasa_env.rasa_python(settings)), str(PROBE), str(model)],
        input="".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in TEXTS),
        capture_output=True,
        text=True,
        env=rasa_env.rasa_env(),
        cwd=PROJECT_ROOT,
        check=False,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    single, batch = result["single"], result["batch"]
    assert len(single) == len(batch) == len(TEXTS)
    for one, many in zip(single, batch, strict=True):
        assert one["text"] == many["text"]
        assert one["intent"]["name"] == many["intent"]["name"]
        assert one["intent"]["confidence"] == pytest.approx(many["intent"]["confidence"], abs=1e-5)
        ranked_one = [(i["name"], i["confidence"]) for i in one.get("intent_ranking", [])]
        ranked_many = [(i["name"], i["confidence"]) for i in many.get("intent_ranking", [])]
        assert [n for n, _ in ranked_one] == [n for n, _ in ranked_many]
        assert [c for _, c in ranked_one] == pytest.approx([c for _, c in ranked_many], abs=1e-5)
        assert one["entities"] == many["entities"]
    assert any(e["entity"] == "reference" for e in batch[3]["entities"])
