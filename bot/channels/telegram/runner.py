"""Receive updates in polling or webhook mode, committing each one before acknowledging it."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import warnings
from typing import Any

from aiohttp import web
from sqlalchemy.exc import OperationalError
from telegram import Bot, Update
from telegram.error import NetworkError, RetryAfter, TimedOut
from telegram.ext import Application
from telegram.warnings import PTBUserWarning

from bot.channels.telegram.inbox import InboxProcessor, store_updates
from bot.settings import Settings

log = logging.getLogger(__name__)
POLL_TIMEOUT = 25
READ_MARGIN = 10
"""Seconds a long poll may take beyond its timeout before it counts as failed."""


async def poll_forever(
    application: Application[Any, Any, Any, Any, Any, Any],
    processor: InboxProcessor,
    stop: asyncio.Event,
    *,
    timeout: int = POLL_TIMEOUT,
) -> None:
    """Long-poll Telegram; confirm an offset only after its updates are committed."""
    engine = processor.engine
    await application.bot.delete_webhook(drop_pending_updates=False)
    await processor.process_pending()
    offset: int | None = None
    backoff = 1.0
    while not stop.is_set():
        try:
            updates = await fetch_updates(application.bot, offset=offset, timeout=timeout)
        except RetryAfter as exc:
            delay = exc.retry_after
            await asyncio.sleep(delay if isinstance(delay, int | float) else delay.total_seconds())
            continue
        except (TimedOut, NetworkError) as exc:
            log.warning("Polling failed (%s); retrying in %.0f s", exc, backoff)
            await asyncio.sleep(backoff)
            backoff = min(60.0, backoff * 2)
            continue
        backoff = 1.0
        if not updates:
            await process_safely(processor)
            continue
        while True:
            try:
                await asyncio.to_thread(store_updates, engine, updates)
                break
            except Exception as exc:
                # A brief outage (a database restart) is expected; a long one is an error.
                level = logging.ERROR if backoff >= 30 else logging.WARNING
                log.log(level, "Could not store updates (%s); retrying in %.0f s", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(60.0, backoff * 2)
        offset = max(int(u["update_id"]) for u in updates) + 1
        await process_safely(processor)


async def fetch_updates(bot: Bot, *, offset: int | None, timeout: int) -> list[dict[str, Any]]:
    """Long-poll for updates as Telegram sent them (an update PTB cannot parse is kept too).

    `Bot.get_updates` parses the batch, and one update it cannot read would fail the whole
    batch before it is stored; the raw call keeps every update, and the inbox turns one that
    cannot be processed into a dead letter.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBUserWarning)  # "use Bot.get_updates instead"
        result = await bot.do_api_request(
            "getUpdates",
            api_kwargs={"offset": offset, "timeout": timeout, "allowed_updates": Update.ALL_TYPES},
            read_timeout=timeout + READ_MARGIN,
        )
    updates = [
        u for u in result or [] if isinstance(u, dict) and isinstance(u.get("update_id"), int)
    ]
    if len(updates) != len(result or []):
        log.error("Telegram sent updates without an update id; they cannot be stored: %r", result)
    return updates


async def process_safely(processor: InboxProcessor) -> None:
    """Process pending updates; a database outage only delays them."""
    try:
        await processor.process_pending()
    except OperationalError as exc:
        log.warning("Database unavailable (%s); stored updates will be retried", exc)
    except Exception:
        log.exception("Could not process stored updates; they will be retried")


def webhook_app(settings: Settings, processor: InboxProcessor) -> web.Application:
    """Build the webhook server: check the secret, commit the update, then answer 200."""
    secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else ""

    async def receive(request: web.Request) -> web.Response:
        """Store one update from Telegram before acknowledging it."""
        given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        if not secret or not hmac.compare_digest(
            given.encode("utf-8", "surrogatepass"), secret.encode()
        ):
            return web.Response(status=403, text="forbidden")
        try:
            payload = json.loads(await request.read())
            if not isinstance(payload, dict) or not isinstance(payload.get("update_id"), int):
                raise ValueError("not an update")
        except ValueError:
            return web.Response(status=400, text="bad update")
        try:
            await asyncio.to_thread(store_updates, processor.engine, [payload])
        except Exception:
            log.exception("Could not store update; Telegram will retry")
            return web.Response(status=503, text="retry")
        asyncio.get_running_loop().create_task(processor.process_pending())
        return web.Response(text="ok")

    async def health(_request: web.Request) -> web.Response:
        """Answer the supervisor's health check."""
        return web.Response(text="ok")

    app = web.Application(client_max_size=1_000_000)
    app.router.add_post("/telegram", receive)
    app.router.add_get("/health", health)
    return app
