"""Mount the web chat on the desk's web server (`lotsen run`, `lotsen chat`, the tests)."""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import web

from bot.channels.webchat import views
from bot.channels.webchat.delivery import Hub
from bot.channels.webchat.pages import STATIC
from bot.conversation import Conversation
from bot.ratelimit import RateLimiter, create_rate_limiter
from bot.services import Services
from db.enquiries.notifications import Channel
from db.people.limits import Limit

START_LIMIT = Limit(rate=20 / 3600, burst=20)
"""Chats one address may start (and resume attempts it may make): 20 at once, 20 an hour."""


def mount_webchat(
    app: web.Application,
    services: Services,
    *,
    limiter: RateLimiter | None = None,
    start_limiter: RateLimiter | None = None,
) -> None:
    """Add the chat's pages to the web application, with its delivery loop."""
    app[views.CONVERSATION] = Conversation(services, channel=Channel.WEB)
    app[views.HUB] = hub = Hub(services.engine, recover=lambda: views.recover(app))
    app[views.LIMITER] = limiter or create_rate_limiter(services.settings, services.engine)
    app[views.START_LIMITER] = start_limiter or create_rate_limiter(
        services.settings, services.engine, limit=START_LIMIT
    )

    async def run_hub(app: web.Application):  # type: ignore[no-untyped-def]
        await app[views.CONVERSATION].prepare()
        task = asyncio.get_running_loop().create_task(hub.run())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await app[views.LIMITER].aclose()
        await app[views.START_LIMITER].aclose()

    app.cleanup_ctx.append(run_hub)
    app.router.add_get("/chatt", views.chat_page)
    app.router.add_post("/chatt", views.chat_post)
    app.router.add_get("/chatt/events", views.events)
    app.router.add_get("/chatt/integritet", views.privacy_page)
    app.router.add_get("/chatt/tillganglighet", views.accessibility_page)
    app.router.add_get("/chatt/embed.js", views.embed_script)
    app.router.add_get(r"/chatt/fortsatt/{key}/{signature}", views.resume_page)
    app.router.add_post(r"/chatt/fortsatt/{key}/{signature}", views.resume_submit)
    app.router.add_static("/chatt/static", STATIC, append_version=True)
