"""Time in-process parses with a trained model. Runs in the Rasa environment (Python 3.10).

Reads `{"text": ...}` lines on stdin, loads the model, parses one warm-up text, then parses
every line once, timing each call. Writes one JSON object: the load time, each parse's
wall-clock and CPU seconds (all threads of this process; on a busy machine the CPU time is
the steadier figure) and result, and the process's resident memory before loading, after
loading and after parsing. Used by the benchmarks (`make bench`); run as
`python -m lotsen_rasa.parse_timing MODEL`.
"""

import asyncio
import json
import logging
import sys
import time
from pathlib import Path

WARM_UP = "Hej! Hur söker vår förening bidrag?"


def rss_mb() -> float:
    """Return this process's resident memory (VmRSS) in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


async def _main(model_path: str) -> None:
    from lotsen_rasa.speedups import for_serving
    from lotsen_rasa.startup import import_skops_first

    # The Rasa server's start (lotsen_rasa.server): the same parse, at the same cost.
    import_skops_first()
    for_serving()
    from rasa.core.agent import Agent

    texts = [json.loads(line)["text"] for line in sys.stdin if line.strip()]
    before = rss_mb()
    started = time.perf_counter()
    agent = Agent.load(model_path)
    await agent.parse_message(WARM_UP)
    load_seconds = time.perf_counter() - started
    loaded = rss_mb()
    seconds, cpu_seconds, parses = [], [], []
    for text in texts:
        started, cpu_started = time.perf_counter(), time.process_time()
        parses.append(await agent.parse_message(text))
        seconds.append(time.perf_counter() - started)
        cpu_seconds.append(time.process_time() - cpu_started)
    out = {
        "load_s": load_seconds,
        "rss_before_mb": before,
        "rss_loaded_mb": loaded,
        "rss_after_mb": rss_mb(),
        "parse_s": seconds,
        "parse_cpu_s": cpu_seconds,
        "parses": parses,
    }
    sys.stdout.write(json.dumps(out, ensure_ascii=False, default=float) + "\n")


if __name__ == "__main__":
    logging.disable(logging.WARNING)
    asyncio.run(_main(sys.argv[1]))
