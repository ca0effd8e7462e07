"""Build the Telegram application (all wiring in one place) and run it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta
from typing import Any

from sqlalchemy.exc import OperationalError
from telegram import BotCommand, Update
from telegram.error import NetworkError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    MessageHandler,
    filters,
)

from bot.channels.telegram import association, coordinator, department, staff
from bot.channels.telegram.common import Context, services
from bot.channels.telegram.inbox import InboxProcessor
from bot.channels.telegram.outbox import run_dispatcher
from bot.channels.telegram.ratelimit import RateLimiter
from bot.conversation import Conversation
from bot.services import Services, create_services
from bot.settings import Settings
from db.models import utcnow
from db.session import session_scope
from db.workflow import sweep_deadlines

log = logging.getLogger(__name__)

COMMANDS = [
    BotCommand("start", "Börja här / Start here"),
    BotCommand("help", "Hjälp / Help"),
    BotCommand("status", "Mina ärenden / My enquiries"),
    BotCommand("language", "Byt språk / Change language"),
    BotCommand("cancel", "Avbryt / Cancel"),
]


async def post_init(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Create the services, start the outbox dispatcher and the deadline sweep."""
    settings: Settings = application.bot_data["settings"]
    svc = create_services(settings)
    application.bot_data["services"] = svc
    application.bot_data["conversation"] = Conversation(svc)
    application.bot_data["rate_limiter"] = RateLimiter(
        rate=settings.rate_limit_per_second, burst=settings.rate_limit_burst
    )
    kick = asyncio.Event()
    application.bot_data["outbox_kick"] = kick
    application.bot_data["outbox_task"] = asyncio.get_running_loop().create_task(
        run_dispatcher(application.bot, svc.engine, kick)
    )
    with contextlib.suppress(Exception):
        await application.bot.set_my_commands(COMMANDS)
    if application.job_queue is not None:
        application.job_queue.run_repeating(sweep_job, interval=timedelta(minutes=1), first=1)
        application.job_queue.run_repeating(daily_job, interval=timedelta(hours=24), first=60)


async def post_shutdown(application: Application[Any, Any, Any, Any, Any, Any]) -> None:
    """Stop the dispatcher and close the services."""
    task = application.bot_data.pop("outbox_task", None)
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    svc = application.bot_data.pop("services", None)
    if svc is not None:
        await svc.aclose()


async def sweep_job(context: Context) -> None:
    """Send due reminders and escalate enquiries past their deadline."""
    svc = services(context)

    def sweep() -> None:
        with session_scope(svc.engine) as session:
            sweep_deadlines(
                session=session, now=utcnow(), coordinator_chat_id=svc.settings.coordinator_chat_id
            )

    await asyncio.to_thread(sweep)
    kick = context.bot_data.get("outbox_kick")
    if kick is not None:
        kick.set()


async def daily_job(context: Context) -> None:
    """Remind staff of routes due for review and purge what is past its retention."""
    svc = services(context)

    def daily() -> None:
        from bot.channels.telegram.staff import queue_route_reminders

        with session_scope(svc.engine) as session:
            queue_route_reminders(session, utcnow())
        try:
            from db.retention import run_purge
        except ImportError:
            return
        report = run_purge(svc.settings)
        log.info("Daily purge: %s", report)

    await asyncio.to_thread(daily)
    kick = context.bot_data.get("outbox_kick")
    if kick is not None:
        kick.set()


async def error_handler(update: object, context: Context) -> None:
    """Log any error with its traceback and mark the update for another try from the inbox."""
    if isinstance(context.error, OperationalError | NetworkError):
        # The database or Telegram is briefly unreachable: the update is tried again.
        log.warning("Transient failure while handling an update (%r)", context.error)
    else:
        log.error("Error while handling an update", exc_info=context.error)
    if isinstance(update, Update):
        context.bot_data.setdefault("failed_updates", set()).add(update.update_id)


def build_application(settings: Settings) -> Application[Any, Any, Any, Any, Any, Any]:
    """Wire every handler into one application (updates arrive through the durable inbox)."""
    if not settings.token:
        raise ValueError("TELEGRAM_BOT_TOKEN is not set")
    application = (
        ApplicationBuilder()
        .token(settings.token)
        .base_url(f"{settings.telegram_api_base_url}/bot")
        .base_file_url(f"{settings.telegram_api_base_url}/file/bot")
        .updater(None)
        .rate_limiter(AIORateLimiter(max_retries=3))
        .post_init(post_init)
        .post_shutdown(post_shutdown)
        .build()
    )
    application.bot_data["settings"] = settings
    private = filters.ChatType.PRIVATE
    groups = filters.ChatType.GROUPS

    application.add_handler(CommandHandler("start", association.start, filters=private))
    application.add_handler(CommandHandler("help", association.help_command, filters=private))
    application.add_handler(
        CommandHandler("language", association.language_command, filters=private)
    )
    application.add_handler(CommandHandler("status", association.status_command, filters=private))
    application.add_handler(CommandHandler("cancel", association.cancel_command, filters=private))
    application.add_handler(CommandHandler("queue", coordinator.queue_command))
    application.add_handler(CommandHandler("routes", staff.routes_command, filters=private))
    application.add_handler(CommandHandler("contact", staff.contact_command, filters=private))
    application.add_handler(CommandHandler("absent", staff.absent_command, filters=private))
    application.add_handler(CommandHandler("verify", staff.verify_command, filters=private))
    application.add_handler(CommandHandler("desk", staff.desk_command, filters=private))

    application.add_handler(CallbackQueryHandler(association.language_button, pattern=r"^lang:"))
    application.add_handler(CallbackQueryHandler(association.feedback_button, pattern=r"^fb:"))
    application.add_handler(CallbackQueryHandler(association.rasa_button, pattern=r"^say:"))
    application.add_handler(CallbackQueryHandler(department.department_button, pattern=r"^dept:"))
    application.add_handler(CallbackQueryHandler(coordinator.queue_button, pattern=r"^q:"))
    application.add_handler(CallbackQueryHandler(department.unknown_button))

    application.add_handler(
        MessageHandler(
            filters.REPLY & filters.TEXT & ~filters.COMMAND & groups, department.staff_reply
        )
    )
    application.add_handler(
        MessageHandler(filters.TEXT & ~filters.COMMAND & private, association.text_message)
    )
    application.add_handler(
        MessageHandler(
            ~filters.TEXT & ~filters.COMMAND & private & ~filters.StatusUpdate.ALL,
            association.non_text_message,
        )
    )
    application.add_error_handler(error_handler)
    return application


async def run_bot(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Run the bot in polling or webhook mode until `stop` is set (or forever)."""
    from aiohttp import web

    from bot.channels.telegram.runner import poll_forever, process_safely, webhook_app

    stop = stop or asyncio.Event()
    application = build_application(settings)
    async with application:
        # post_init/post_shutdown are only called by PTB's run_polling/run_webhook, so here.
        await post_init(application)
        svc: Services = application.bot_data["services"]
        processor = InboxProcessor(application, svc.engine)
        runner: web.AppRunner | None = None
        try:
            await application.start()
            if settings.telegram_mode == "webhook":
                if not settings.webhook_url or not settings.webhook_secret:
                    raise ValueError("webhook mode needs WEBHOOK_URL and WEBHOOK_SECRET")
                runner = web.AppRunner(webhook_app(settings, processor))
                await runner.setup()
                await web.TCPSite(runner, settings.webhook_listen, settings.webhook_port).start()
                await application.bot.set_webhook(
                    settings.webhook_url,
                    secret_token=settings.webhook_secret.get_secret_value(),
                    allowed_updates=Update.ALL_TYPES,
                )
                while not stop.is_set():
                    await process_safely(processor)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), timeout=10)
            else:
                poller = asyncio.get_running_loop().create_task(
                    poll_forever(
                        application, processor, stop, timeout=settings.telegram_poll_timeout
                    )
                )
                await stop.wait()
                poller.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await poller
        finally:
            if runner is not None:
                await runner.cleanup()
            if application.running:
                await application.stop()
            await post_shutdown(application)
