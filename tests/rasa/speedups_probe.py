"""Parse texts as a Lotsen Rasa process does: one at a time (the server) and in one batch.

Started by tests/test_parse_speedups.py with `.venv-rasa/bin/python probe MODEL MODE` (MODE
`batch`: the start of `lotsen route`'s batch parser; `serve`: the start of the Rasa server)
and the texts as JSON lines on stdin; `LOTSEN_RASA_SPEEDUPS=0` switches the speed-ups off.
Prints both parses and whether TensorFlow was imported.
"""

import asyncio
import json
import logging
import sys


async def _single(agent: object, texts: list) -> list:
    return [await agent.parse_message(text) for text in texts]  # type: ignore[attr-defined]


def main() -> None:
    logging.disable(logging.WARNING)
    from lotsen_rasa import speedups
    from lotsen_rasa.startup import import_skops_first

    if sys.argv[2] == "batch":
        speedups.for_parsing_only()
    else:
        import_skops_first()
        speedups.for_serving()
    from lotsen_rasa.parse_batch import parse_many
    from rasa.core.agent import Agent

    agent = Agent.load(sys.argv[1])
    texts = [json.loads(line)["text"] for line in sys.stdin if line.strip()]
    single = asyncio.run(_single(agent, texts))
    batch = parse_many(agent.processor, texts)
    out = {"single": single, "batch": batch, "tensorflow": "tensorflow" in sys.modules}
    print(json.dumps(out, default=float))


if __name__ == "__main__":
    main()
