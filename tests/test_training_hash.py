"""The model's training hash: Rasa's inputs, not the app's decision thresholds."""

from __future__ import annotations

import shutil
from pathlib import Path

from bot.settings import PROJECT_ROOT
from bot.understanding.rasa_env import training_hash


def _project(tmp_path: Path) -> Path:
    for name in ("config.yml", "domain.yml"):
        shutil.copy(PROJECT_ROOT / name, tmp_path / name)
    shutil.copytree(PROJECT_ROOT / "nlu", tmp_path / "nlu")
    shutil.copytree(PROJECT_ROOT / "stories", tmp_path / "stories")
    return tmp_path


def test_thresholds_and_comments_in_config_need_no_new_model(tmp_path: Path) -> None:
    root = _project(tmp_path)
    before = training_hash(root)
    config = root / "config.yml"
    text = config.read_text(encoding="utf-8")
    config.write_text(
        "# a new comment\n" + text.replace("confirm_below: 0.35", "confirm_below: 0.4"),
        encoding="utf-8",
    )
    assert "confirm_below: 0.4" in config.read_text(encoding="utf-8")
    assert training_hash(root) == before


def test_a_pipeline_or_data_change_needs_a_new_model(tmp_path: Path) -> None:
    root = _project(tmp_path)
    before = training_hash(root)
    config = root / "config.yml"
    config.write_text(
        config.read_text(encoding="utf-8").replace("scale: 60", "scale: 61"), encoding="utf-8"
    )
    changed = training_hash(root)
    assert changed != before
    with (root / "nlu" / "out_of_scope.yml").open("a", encoding="utf-8") as handle:
        handle.write("    - Vilken färg har himlen på Mars?\n")
    assert training_hash(root) != changed
