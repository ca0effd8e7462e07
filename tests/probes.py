"""Run a probe script in Rasa's environment (Python 3.10) and read the facts it printed."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from bot.settings import PROJECT_ROOT, Settings
from bot.understanding import rasa_env


def run_rasa_probe(
    probe: Path,
    *args: str,
    settings: Settings | None = None,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
    timeout: int = 300,
) -> dict[str, Any]:
    """Run `probe` with Rasa's Python; return the JSON object on its last line of output."""
    python = rasa_env.rasa_python(settings or Settings(_env_file=None))
    done = subprocess.run(
        [str(python), str(probe), *args],
        input=stdin,
        cwd=PROJECT_ROOT,
        env={**rasa_env.rasa_env(), **(env or {})},
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result
