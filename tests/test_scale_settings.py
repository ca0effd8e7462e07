"""Scale-out settings: refusals in one line, the replicas' plan and endpoints, stable spreading."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bot.processes.supervisor import Supervisor
from bot.settings import PROJECT_ROOT, Settings, SettingsError, load_settings
from bot.understanding import rasa_env
from bot.understanding.rasa_client import ranking
from harness.processes import clean_env

PG = "postgresql://lotsen:secret@db.example:5432/lotsen"


@pytest.mark.parametrize(
    ("values", "line"),
    [
        ({"rasa_replicas": 2, "database_url": PG}, r"RASA_REPLICAS=2 needs a Redis lock store"),
        (
            {"rasa_replicas": 2, "lock_store_url": "redis://127.0.0.1:6379/0"},
            r"RASA_REPLICAS=2 needs a tracker store the replicas share: PostgreSQL",
        ),
        ({"bot_workers": 2, "telegram_mode": "webhook"}, r"BOT_WORKERS=2 needs PostgreSQL"),
        ({"bot_workers": 2, "database_url": PG}, r"BOT_WORKERS=2 needs TELEGRAM_MODE=webhook"),
        ({"lock_store_url": "http://127.0.0.1:6379"}, r"LOCK_STORE_URL: .*redis://"),
        (
            {
                "rasa_replicas": 2,
                "action_servers": 3,
                "database_url": PG,
                "lock_store_url": "redis://r",
            },
            r"ACTION_SERVERS=3 is more than RASA_REPLICAS=2",
        ),
    ],
)
def test_a_scale_out_without_what_it_needs_is_refused_in_one_line(
    values: dict[str, object], line: str
) -> None:
    with pytest.raises(SettingsError, match=line) as refused:
        load_settings(_env_file=None, **values)
    assert "\n" not in str(refused.value)


def test_lotsen_run_refuses_replicas_without_a_lock_store_in_one_line(tmp_path: Path) -> None:
    env = clean_env(
        DATABASE_URL=f"sqlite:///{tmp_path / 'lotsen.db'}", RASA_REPLICAS="2", LOCK_STORE_URL=""
    )
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "run"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0
    assert "RASA_REPLICAS=2 needs a Redis lock store" in done.stderr


def _replicas(tmp_path: Path) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=PG,
        rasa_replicas=3,
        action_servers=2,
        rasa_port=6105,
        action_port=6155,
        rasa_url="http://127.0.0.1:6105",
        lock_store_url="redis://:pw@cache.example:6380/2",
        model_dir=tmp_path,
    )


def test_replicas_run_on_consecutive_ports_with_a_redis_lock_store(tmp_path: Path) -> None:
    settings = _replicas(tmp_path)
    plan = Supervisor(settings).plan()
    assert [(c.name, c.port) for c in plan] == [
        ("action server", 6155),
        ("action server 2", 6156),
        ("Rasa server", 6105),
        ("Rasa server 2", 6106),
        ("Rasa server 3", 6107),
    ]
    assert [c.log_path.name for c in plan] == [
        "actions.log",
        "actions-2.log",
        "rasa.log",
        "rasa-2.log",
        "rasa-3.log",
    ]
    third = plan[-1]
    assert third.command[third.command.index("--port") + 1] == "6107"
    assert third.env["TICKET_LOCK_LIFETIME"] == "10"  # half the 20 s Rasa timeout
    endpoints = yaml.safe_load(
        Path(third.command[third.command.index("--endpoints") + 1]).read_text()
    )
    assert endpoints["lock_store"] == {
        "type": "redis",
        "url": "cache.example",
        "port": 6380,
        "db": 2,
        "key_prefix": "lotsen",
        "password": "pw",
    }
    assert endpoints["action_endpoint"]["url"] == "http://127.0.0.1:6155/webhook"  # 3rd → 1st
    assert endpoints["tracker_store"]["dialect"] == "postgresql"
    assert settings.rasa_servers == [f"http://127.0.0.1:{port}" for port in (6105, 6106, 6107)]


def test_one_rasa_server_has_no_lock_store_and_keeps_its_names(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, model_dir=tmp_path)  # type: ignore[call-arg]
    plan = Supervisor(settings).plan()
    assert [c.name for c in plan] == ["action server", "Rasa server"]
    command = plan[1].command
    endpoints = yaml.safe_load(Path(command[command.index("--endpoints") + 1]).read_text())
    assert "lock_store" not in endpoints
    assert rasa_env.lock_lifetime(settings) == 10


def test_bot_workers_share_the_webhook_port_as_children_of_lotsen_run(tmp_path: Path) -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=PG,
        telegram_mode="webhook",
        bot_workers=2,
        webhook_port=8444,
        model_dir=tmp_path,
    )
    workers = [c for c in Supervisor(settings, bot_workers=2).plan() if c.shares_port]
    assert [(c.name, c.port, c.health_url) for c in workers] == [
        ("bot worker", 8444, "http://127.0.0.1:8444/health"),
        ("bot worker 2", 8444, "http://127.0.0.1:8444/health"),
    ]
    assert workers[0].env["BOT_WORKERS"] == "2"


def test_a_conversation_keeps_its_replica_and_only_a_lost_replicas_ones_move() -> None:
    servers = [f"http://127.0.0.1:{5005 + n}" for n in range(3)]
    senders = [f"telegram:{n}:{n}" for n in range(300)]
    first = {sender: ranking(sender, servers)[0] for sender in senders}
    assert first == {sender: ranking(sender, list(reversed(servers)))[0] for sender in senders}
    shares = [sum(1 for s in first.values() if s == server) for server in servers]
    assert min(shares) >= 60  # spread, not all on one
    without = servers[:1] + servers[2:]
    for sender in senders:
        if first[sender] != servers[1]:
            assert ranking(sender, without)[0] == first[sender]
