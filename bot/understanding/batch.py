"""Parse many texts with the live model: through a running Rasa server, or the model file."""

from __future__ import annotations

import asyncio
import json
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from bot.settings import PROJECT_ROOT, Settings
from bot.understanding import rasa_env


def _server_has_model(settings: Settings) -> bool:
    try:
        response = httpx.get(f"{settings.rasa_url}/status", timeout=1.0)
        return response.status_code == 200 and bool(response.json().get("model_file"))
    except (httpx.HTTPError, ValueError):
        return False


async def _parse_via_server(settings: Settings, texts: list[str]) -> list[dict[str, Any]]:
    limit = asyncio.Semaphore(8)
    async with httpx.AsyncClient(base_url=settings.rasa_url, timeout=30.0) as client:

        async def one(text: str) -> dict[str, Any]:
            async with limit:
                response = await client.post("/model/parse", json={"text": text})
                response.raise_for_status()
                result: dict[str, Any] = response.json()
                return result

        return list(await asyncio.gather(*(one(t) for t in texts)))


def parse_with_model(settings: Settings, model: Path, texts: Sequence[str]) -> list[dict[str, Any]]:
    """Parse texts with a model file in the Rasa environment (no server needed)."""
    if not model.exists():
        raise rasa_env.RasaUnavailable("No trained model: run `make setup` (or `lotsen train`).")
    stdin = "".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in texts)
    done = subprocess.run(
        [str(rasa_env.rasa_python(settings)), "-m", "lotsen_rasa.parse_batch", str(model)],
        input=stdin,
        capture_output=True,
        text=True,
        env=rasa_env.rasa_env(),
        cwd=PROJECT_ROOT,
        check=False,
    )
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"the Rasa parser failed: {tail[0]}")
    # Rasa may log to stdout before the results: keep only the JSON lines.
    parses = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    if len(parses) != len(texts):
        raise RuntimeError(f"the Rasa parser returned {len(parses)} parses for {len(texts)} texts")
    return parses


def parse_texts(settings: Settings, texts: list[str]) -> list[dict[str, Any]]:
    """Return Rasa's parse of every text, using a running server when there is one."""
    if not texts:
        return []
    if _server_has_model(settings):
        return asyncio.run(_parse_via_server(settings, texts))
    return parse_with_model(settings, rasa_env.model_path(settings), texts)
