"""The Rasa project itself: training data validates, and the end-to-end test stories pass."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from bot.settings import PROJECT_ROOT, Settings
from bot.understanding import rasa_env


def _rasa(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(rasa_env.rasa_bin(settings)), *args],
        cwd=PROJECT_ROOT,
        env=rasa_env.rasa_env(),
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )


@pytest.fixture(scope="module")
def rasa_settings() -> Settings:
    """Return default settings (the project's Rasa environment and model folder)."""
    return Settings(_env_file=None)  # type: ignore[call-arg]


def test_training_data_validates(rasa_settings: Settings) -> None:
    result = _rasa(
        rasa_settings,
        "data",
        "validate",
        "--domain",
        "domain.yml",
        "--data",
        "nlu",
        "stories",
        "--config",
        "config.yml",
        "--fail-on-warnings",
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def test_model_is_current(rasa_settings: Settings) -> None:
    assert rasa_env.model_is_current(rasa_settings), "run `make setup` to retrain the model"


def test_end_to_end_stories_pass(rasa_settings: Settings, tmp_path: Path) -> None:
    result = _rasa(
        rasa_settings,
        "test",
        "core",
        "--model",
        str(rasa_env.model_path(rasa_settings)),
        "--stories",
        "tests/rasa/test_stories.yml",
        "--out",
        str(tmp_path / "results"),
        "--fail-on-prediction-errors",
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    failed = tmp_path / "results" / "failed_test_stories.yml"
    assert not failed.exists() or "# None of the test stories failed" in failed.read_text()


def test_rasa_processes_import_this_checkouts_components(rasa_settings: Settings) -> None:
    # The model is served with this checkout's rasa/lotsen_rasa, also when `.venv-rasa` is
    # shared with another checkout that has its own copy installed (the benchmark's baseline).
    found = subprocess.run(
        [
            str(rasa_env.rasa_python(rasa_settings)),
            "-c",
            "import lotsen_rasa; print(lotsen_rasa.__file__)",
        ],
        cwd=Path("/"),
        env=rasa_env.rasa_env(),
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    imported = Path(found.stdout.strip()).resolve()
    assert imported == (PROJECT_ROOT / "rasa" / "lotsen_rasa" / "__init__.py").resolve()
