"""`python -m bench.webchat` prints the web chat and the Telegram path side by side in one run,
each question recorded once on both paths (a few people, Rasa unreachable)."""

from __future__ import annotations

import json

import pytest

from bench.webchat import main

pytestmark = pytest.mark.slow


def test_one_run_prints_both_paths_in_one_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--visitors", "3"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    header = next(line for line in lines if "web chat" in line and "Telegram" in line)
    table = lines[lines.index(header) : lines.index(header) + 11]
    assert any(line.startswith("reply latency p95 (ms)") for line in table)
    assert any(line.startswith("KiB per open connection") for line in table)
    figures = json.loads(lines[-1])
    for path in ("webchat", "telegram"):
        assert (figures[path]["questions_recorded"], figures[path]["lost"]) == (3, 0), figures
        assert figures[path]["doubled"] == 0
        latency = figures[path]["latency"]
        assert 0 < latency["p50_ms"] <= latency["p95_ms"]
        assert figures[path]["rss_peak_kib"] >= figures[path]["rss_before_kib"] > 0
    assert figures["webchat"]["kib_per_open_stream"] is not None
