"""A small async client for the Rasa server's REST channel and HTTP API."""

from __future__ import annotations

from typing import Any

import httpx


class RasaError(RuntimeError):
    """Rasa could not be reached or answered with an error."""


class RasaClient:
    """Talk to the Rasa server over HTTP."""

    def __init__(self, base_url: str, *, timeout: float) -> None:
        self._client = httpx.AsyncClient(base_url=base_url, timeout=timeout)

    async def send(
        self, *, sender: str, text: str, metadata: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Send a user message through the REST channel and return Rasa's messages."""
        try:
            response = await self._client.post(
                "/webhooks/rest/webhook",
                json={"sender": sender, "message": text, "metadata": metadata},
            )
            response.raise_for_status()
            data = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise RasaError(f"Rasa did not answer: {type(exc).__name__}") from exc
        if not isinstance(data, list):
            raise RasaError("Rasa answered with something other than a list")
        return [m for m in data if isinstance(m, dict)]

    async def parse(self, text: str) -> dict[str, Any]:
        """Return the NLU parse of a text (intent, ranking, entities)."""
        try:
            response = await self._client.post("/model/parse", json={"text": text})
            response.raise_for_status()
            result: dict[str, Any] = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise RasaError(f"Rasa did not parse: {type(exc).__name__}") from exc
        return result

    async def ready(self) -> bool:
        """Tell whether the server is up with a model loaded."""
        try:
            response = await self._client.get("/status")
            return response.status_code == 200 and bool(response.json().get("model_file"))
        except (httpx.HTTPError, ValueError):
            return False

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()
