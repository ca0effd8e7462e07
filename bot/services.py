"""The services a running bot needs, created in one factory and closed together."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.engine import Engine

from bot.settings import Settings
from bot.understanding.rasa_client import RasaClient
from db.session import make_engine


@dataclass
class Services:
    """Settings, database engine and Rasa client shared by handlers and jobs."""

    settings: Settings
    engine: Engine
    rasa: RasaClient

    async def aclose(self) -> None:
        """Close the Rasa client and dispose of the engine."""
        await self.rasa.aclose()
        self.engine.dispose()


def create_services(settings: Settings) -> Services:
    """Create the services for these settings (nothing is connected until first use)."""
    return Services(
        settings=settings,
        engine=make_engine(settings.database_url),
        rasa=RasaClient(settings.rasa_url, timeout=settings.rasa_timeout_seconds),
    )
