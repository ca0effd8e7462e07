"""The services a running bot needs, created in one factory and closed together."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy.engine import Engine
from sqlmodel import Session

from bot.settings import Settings
from bot.understanding.rasa_client import RasaClient
from db.plumbing.session import make_engine, session_scope

T = TypeVar("T")


@dataclass
class Services:
    """Settings, database engine and Rasa client shared by handlers and jobs."""

    settings: Settings
    engine: Engine
    rasa: RasaClient

    async def db(self, work: Callable[[Session], T]) -> T:
        """Run database work in one transaction on a worker thread (the event loop stays free)."""

        def call() -> T:
            with session_scope(self.engine) as session:
                return work(session)

        return await asyncio.to_thread(call)

    async def aclose(self) -> None:
        """Close the Rasa client and dispose of the engine."""
        await self.rasa.aclose()
        self.engine.dispose()


def create_services(settings: Settings) -> Services:
    """Create the services for these settings (nothing is connected until first use)."""
    return Services(
        settings=settings,
        engine=make_engine(settings.database_url),
        rasa=RasaClient(settings.rasa_servers, timeout=settings.rasa_timeout_seconds),
    )
