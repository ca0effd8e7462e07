"""Train Rasa NLU models into temporary folders and parse texts with them."""

from __future__ import annotations

import re
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.settings import PROJECT_ROOT, Settings
from bot.understanding import rasa_env
from bot.understanding.batch import parse_with_model
from bot.understanding.routing import Thresholds, decide, load_authorities, load_thresholds

_YAML_NAME = re.compile(r"[\w./-]+\.ya?ml")


def alternative_config(root: Path = PROJECT_ROOT) -> Path | None:
    """Return the alternative pipeline named in nlu/EVALUATION.md, if it names one that exists."""
    notes = root / "nlu" / "EVALUATION.md"
    if not notes.exists():
        return None
    names: list[str] = _YAML_NAME.findall(notes.read_text(encoding="utf-8"))
    for name in names:
        for candidate in (root / name, root / "nlu" / name):
            if not candidate.is_file() or candidate.resolve() == (root / "config.yml").resolve():
                continue
            try:
                data = yaml.safe_load(candidate.read_text(encoding="utf-8"))
            except yaml.YAMLError:
                continue
            if isinstance(data, dict) and data.get("pipeline"):
                return candidate
    return None


@dataclass(frozen=True)
class TrainedModel:
    """A model trained for the benchmark and how long training took."""

    path: Path
    seconds: float


def train_nlu(settings: Settings, config: Path, nlu: Path, out: Path) -> TrainedModel:
    """Train an NLU-only model from `nlu` (file or folder) with `config` into folder `out`."""
    command = [
        str(rasa_env.rasa_bin(settings)),
        "train",
        "nlu",
        "--config",
        str(config),
        "--nlu",
        str(nlu),
        "--out",
        str(out),
        "--fixed-model-name",
        rasa_env.MODEL_NAME,
    ]
    started = time.perf_counter()
    done = subprocess.run(
        command, cwd=PROJECT_ROOT, env=rasa_env.rasa_env(), capture_output=True, check=False
    )
    if done.returncode != 0:
        tail = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"rasa train nlu failed: {tail[0]}")
    return TrainedModel(out / f"{rasa_env.MODEL_NAME}.tar.gz", time.perf_counter() - started)


def parse_with(settings: Settings, model: Path, texts: Sequence[str]) -> list[dict[str, Any]]:
    """Parse texts with a model file in the Rasa environment (never a running server)."""
    return parse_with_model(settings, model, texts)


def decisions(
    parses: Sequence[Mapping[str, Any]], routes: Mapping[str, str], threshold: Thresholds
) -> list[tuple[str | None, bool, str | None]]:
    """Return (department, escalate, refer) per parse, exactly as `lotsen route` decides."""
    authorities = load_authorities(PROJECT_ROOT / "domain.yml")
    out = []
    for parse in parses:
        decision = decide(parse, routes, threshold, authorities=authorities)
        out.append((decision.department, decision.escalate, decision.refer))
    return out


def threshold_for(config: Path) -> Thresholds:
    """Return the config's decision thresholds (the shipped ones when it has none)."""
    text = config.read_text(encoding="utf-8")
    if "department_threshold" in text:
        return load_thresholds(config)
    return load_thresholds(PROJECT_ROOT / "config.yml")


def write_nlu(examples: Sequence[tuple[str, str]], path: Path) -> None:
    """Write (intent, text) examples as one Rasa 3 NLU file (regexes copied from nlu/)."""
    by_intent: dict[str, list[str]] = {}
    for intent, text in examples:
        by_intent.setdefault(intent, []).append(text)
    nlu: list[dict[str, Any]] = [
        {"intent": intent, "examples": "".join(f"- {t}\n" for t in texts)}
        for intent, texts in sorted(by_intent.items())
    ]
    regex = PROJECT_ROOT / "nlu" / "regex.yml"
    if regex.exists():
        nlu += (yaml.safe_load(regex.read_text(encoding="utf-8")) or {}).get("nlu") or []
    path.write_text(
        yaml.safe_dump({"version": "3.1", "nlu": nlu}, allow_unicode=True, sort_keys=False),
        encoding="utf-8",
    )


def temp_dir() -> tempfile.TemporaryDirectory[str]:
    """Return a temporary folder for models (removed when closed)."""
    return tempfile.TemporaryDirectory(prefix="lotsen-bench-")
