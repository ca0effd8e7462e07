"""A real database for tests and benchmarks: migrated to head and seeded with the demo."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from bot.settings import PROJECT_ROOT
from db.plumbing.migrate import upgrade
from db.plumbing.session import make_engine, session_scope
from db.routing.seed import seed


def migrate_and_seed(url: str) -> Engine:
    """Migrate a database to head, load the demo municipality, and return an engine."""
    upgrade(url)
    engine = make_engine(url)
    with session_scope(engine) as session:
        seed(
            session=session,
            municipality_file=PROJECT_ROOT / "db" / "municipality.yml",
            routes_file=PROJECT_ROOT / "db" / "seed_routes.yml",
        )
    return engine
