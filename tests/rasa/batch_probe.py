"""Parse texts one by one (Agent.parse_message) and in one batch (parse_batch); print both.

Started by tests/test_parse_batch.py with `.venv-rasa/bin/python probe MODEL` and the texts
as JSON lines on stdin.
"""

import asyncio
import json
import logging
import sys

from lotsen_rasa.parse_batch import parse_many
from rasa.core.agent import Agent


async def _single(agent: Agent, texts: list) -> list:
    return [await agent.parse_message(text) for text in texts]


def main() -> None:
    logging.disable(logging.WARNING)
    agent = Agent.load(sys.argv[1])
    texts = [json.loads(line)["text"] for line in sys.stdin if line.strip()]
    single = asyncio.run(_single(agent, texts))
    batch = parse_many(agent.processor, texts)
    print(json.dumps({"single": single, "batch": batch}, default=float))


if __name__ == "__main__":
    main()
