"""A small async client for the Rasa servers' REST channel and HTTP API.

With several Rasa servers (replicas sharing one tracker store and one lock store), each
conversation goes to the same healthy replica every time: replicas are ranked per conversation
by rendezvous hashing, so every bot process agrees and a replica that goes away moves only its
own conversations. A replica that fails a request or its health check (`/status`, every
`HEALTH_INTERVAL` seconds) gets no messages until it answers its health check again; a message
it failed is sent to the next replica in the conversation's ranking.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Sequence
from typing import Any

import httpx

log = logging.getLogger(__name__)
HEALTH_INTERVAL = 2.0


class RasaError(RuntimeError):
    """Rasa could not be reached or answered with an error."""


def ranking(sender: str, servers: Sequence[str]) -> list[str]:
    """Return the servers in this conversation's order of preference (rendezvous hashing)."""

    def weight(server: str) -> bytes:
        return hashlib.blake2b(f"{server}\n{sender}".encode(), digest_size=8).digest()

    return sorted(servers, key=weight, reverse=True)


class RasaClient:
    """Talk to one or more Rasa servers over HTTP."""

    def __init__(self, servers: str | Sequence[str], *, timeout: float) -> None:
        self.servers = [servers] if isinstance(servers, str) else list(servers)
        if not self.servers:
            raise ValueError("no Rasa server")
        self._clients = {
            url: httpx.AsyncClient(base_url=url, timeout=timeout) for url in self.servers
        }
        self.down: set[str] = set()
        self._monitor: asyncio.Task[None] | None = None

    def _candidates(self, sender: str) -> list[str]:
        """Return the servers to try for a conversation: healthy ones first, in its order."""
        if len(self.servers) > 1 and self._monitor is None:
            self._monitor = asyncio.get_running_loop().create_task(self._watch())
        ranked = ranking(sender, self.servers)
        return [s for s in ranked if s not in self.down] + [s for s in ranked if s in self.down]

    def _failed(self, server: str, exc: BaseException) -> None:
        if len(self.servers) > 1 and server not in self.down:
            log.warning("Rasa server %s failed (%s); sending to the others", server, exc)
            self.down.add(server)

    async def send(
        self, *, sender: str, text: str, metadata: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Send a user message through the REST channel and return Rasa's messages."""
        problem: Exception | None = None
        for server in self._candidates(sender):
            try:
                response = await self._clients[server].post(
                    "/webhooks/rest/webhook",
                    json={"sender": sender, "message": text, "metadata": metadata},
                )
                response.raise_for_status()
                data = response.json()
            except httpx.TimeoutException as exc:
                # The replica may still be working on it: another try would only add load.
                raise RasaError(f"Rasa did not answer: {type(exc).__name__}") from exc
            except (httpx.HTTPError, ValueError) as exc:
                self._failed(server, exc)
                problem = exc
                continue
            if not isinstance(data, list):
                raise RasaError("Rasa answered with something other than a list")
            return [m for m in data if isinstance(m, dict)]
        raise RasaError(f"Rasa did not answer: {type(problem).__name__}") from problem

    async def parse(self, text: str) -> dict[str, Any]:
        """Return the NLU parse of a text (intent, ranking, entities)."""
        problem: Exception | None = None
        for server in self._candidates(text):
            try:
                response = await self._clients[server].post("/model/parse", json={"text": text})
                response.raise_for_status()
                result: dict[str, Any] = response.json()
            except (httpx.HTTPError, ValueError) as exc:
                self._failed(server, exc)
                problem = exc
                continue
            return result
        raise RasaError(f"Rasa did not parse: {type(problem).__name__}") from problem

    async def _healthy(self, server: str) -> bool:
        try:
            response = await self._clients[server].get("/status", timeout=2.0)
            return response.status_code == 200 and bool(response.json().get("model_file"))
        except (httpx.HTTPError, ValueError):
            return False

    async def _watch(self) -> None:
        """Check every server's health, taking failing ones out and healed ones back."""
        while True:
            checks = await asyncio.gather(*(self._healthy(s) for s in self.servers))
            for server, healthy in zip(self.servers, checks, strict=True):
                if healthy and server in self.down:
                    log.info("Rasa server %s is back", server)
                    self.down.discard(server)
                elif not healthy and server not in self.down:
                    log.warning("Rasa server %s fails its health check", server)
                    self.down.add(server)
            await asyncio.sleep(HEALTH_INTERVAL)

    async def ready(self) -> bool:
        """Tell whether some server is up with a model loaded."""
        checks = await asyncio.gather(*(self._healthy(s) for s in self.servers))
        return any(checks)

    async def aclose(self) -> None:
        """Stop the health checks and close the connection pools."""
        if self._monitor is not None:
            self._monitor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._monitor
            self._monitor = None
        for client in self._clients.values():
            await client.aclose()
