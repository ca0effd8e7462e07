"""Parse JSON lines with a trained Rasa model. Runs in the Rasa environment (Python 3.10).

Reads `{"text": ...}` lines on stdin and writes Rasa's parse result, one JSON line each,
so `lotsen route` and `lotsen eval` need no running server. Run as
`python -m lotsen_rasa.parse_batch MODEL`.
"""

import asyncio
import json
import logging
import sys


async def _main(model_path: str) -> None:
    from rasa.core.agent import Agent

    agent = Agent.load(model_path)
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        text = json.loads(line).get("text", "")
        result = await agent.parse_message(text)
        sys.stdout.write(json.dumps(result, ensure_ascii=False, default=float) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    logging.disable(logging.WARNING)
    asyncio.run(_main(sys.argv[1]))
