"""Parse JSON lines with a trained Rasa model. Runs in the Rasa environment (Python 3.10).

Reads `{"text": ...}` lines on stdin and writes Rasa's parse result, one JSON line each,
so `lotsen route` and `lotsen eval` need no running server. Run as
`python -m lotsen_rasa.parse_batch MODEL`.

The messages go through the model's NLU graph `BATCH` at a time (the same graph and the
same result as `Agent.parse_message`, one message after the other): the encoder embeds a
batch in one call, which costs a fraction of one call per message.
"""

import json
import logging
import sys
from collections.abc import Iterable, Iterator
from typing import Any

BATCH = 64
"""Messages per run of the NLU graph."""


def parse_many(processor: Any, texts: list[str]) -> list[dict[str, Any]]:
    """Return the parse of every text, like `MessageProcessor.parse_message` one by one."""
    from rasa.core.channels.channel import UserMessage
    from rasa.engine.constants import PLACEHOLDER_MESSAGE, PLACEHOLDER_TRACKER
    from rasa.shared.core.trackers import DialogueStateTracker
    from rasa.shared.nlu.constants import (
        ENTITIES,
        INTENT,
        INTENT_NAME_KEY,
        PREDICTED_CONFIDENCE_KEY,
        TEXT,
    )

    if not texts:
        return []
    messages = [UserMessage(text) for text in texts]
    tracker = DialogueStateTracker.from_events(messages[0].sender_id, [])
    target = processor.model_metadata.nlu_target
    results = processor.graph_runner.run(
        inputs={PLACEHOLDER_MESSAGE: messages, PLACEHOLDER_TRACKER: tracker}, targets=[target]
    )
    parses = []
    for parsed in results[target]:
        parse: dict[str, Any] = {
            TEXT: "",
            INTENT: {INTENT_NAME_KEY: None, PREDICTED_CONFIDENCE_KEY: 0.0},
            ENTITIES: [],
        }
        parse.update(parsed.as_dict(only_output_properties=True))
        processor._update_full_retrieval_intent(parse)
        parses.append(parse)
    return parses


def batches(lines: Iterable[str], size: int = BATCH) -> Iterator[list[str]]:
    """Yield the texts of the non-empty JSON lines, `size` at a time."""
    batch: list[str] = []
    for line in lines:
        line = line.strip()
        if not line:
            continue
        batch.append(json.loads(line).get("text", ""))
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _main(model_path: str) -> None:
    from lotsen_rasa.speedups import for_parsing_only

    for_parsing_only()
    from rasa.core.agent import Agent

    agent = Agent.load(model_path)
    for texts in batches(sys.stdin):
        for parse in parse_many(agent.processor, texts):
            sys.stdout.write(json.dumps(parse, ensure_ascii=False, default=float) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    logging.disable(logging.WARNING)
    _main(sys.argv[1])
