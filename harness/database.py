"""A real database for tests and benchmarks: migrated to head and seeded with the demo."""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlmodel import select

from bot.settings import PROJECT_ROOT
from db.models import Department, DepartmentChannels
from db.plumbing.migrate import upgrade
from db.plumbing.session import make_engine, session_scope
from db.routing.seed import seed


def migrate_and_seed(url: str, *, demo_channels: bool = False) -> Engine:
    """Migrate a database to head, load the demo municipality, and return an engine.

    The shipped demo municipality's departments take e-mail (`channels: email`). The tests'
    municipality keeps them on Telegram, as most tests give a department a Telegram group and
    expect the forward there; `demo_channels=True` keeps the shipped choice (tests/test_reach.py).
    """
    upgrade(url)
    engine = make_engine(url)
    with session_scope(engine) as session:
        seed(
            session=session,
            municipality_file=PROJECT_ROOT / "db" / "municipality.yml",
            routes_file=PROJECT_ROOT / "db" / "seed_routes.yml",
            authorities_file=PROJECT_ROOT / "db" / "seed_authorities.yml",
        )
        if not demo_channels:
            for department in session.exec(select(Department)).all():
                department.channels = DepartmentChannels.GROUP_CHAT
    return engine


def set_group_chat(department: Department, chat_id: int | None) -> None:
    """Give a department a chat group (its Telegram chat id), or take it away with None."""
    department.group_chat = None if chat_id is None else str(chat_id)
