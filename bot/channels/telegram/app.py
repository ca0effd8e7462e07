"""Build the Telegram application (all wiring in one place) and run it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta
from typing import Any, cast

from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import Session
from telegram import BotCommand, Update
from telegram.error import NetworkError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    ExtBot,
    MessageHandler,
    filters,
)

from bot.channels.telegram import association, coordinator, department, inbox, outbox, staff
from bot.channels.telegram.common import BotData, Context, Jobs, kick_outbox, run_db
from bot.channels.telegram.inbox import InboxProcessor
from bot.channels.telegram.outbox import run_dispatcher
from bot.conversation import Conversation
from bot.i18n import LANGUAGES, SOURCE_LANGUAGE, t
from bot.ratelimit import create_rate_limiter
from bot.services import create_services
from bot.settings import Settings
from db.enquiries.deadlines import sweep_deadlines
from db.models import utcnow
from db.plumbing import claims
from db.plumbing.phrases import N_
from db.privacy.retention import run_purge
from db.routing.confirmation import sweep_unconfirmed
from db.routing.route_review import remind_route_reviews

log = logging.getLogger(__name__)

LotsenApp = Application[ExtBot[Any], Context, dict[Any, Any], dict[Any, Any], BotData, Jobs]

COMMANDS = {
    # Translators: the bot's command menu in Telegram (short: at most a few words each).
    "start": N_("Börja här"),
    "help": N_("Hjälp"),
    "status": N_("Mina ärenden"),
    "language": N_("Byt språk"),
    "cancel": N_("Avbryt"),
    "mydata": N_("Mina uppgifter"),
    "forget": N_("Radera mina uppgifter"),
}


def command_menu(language: str) -> list[BotCommand]:
    """Return the association commands as Telegram shows them, in a language."""
    return [BotCommand(name, t(language, text)) for name, text in COMMANDS.items()]


async def set_command_menus(application: LotsenApp) -> None:
    """Show the command menu in each user's Telegram language (Swedish by default)."""
    await application.bot.set_my_commands(command_menu(SOURCE_LANGUAGE))
    for language in LANGUAGES:
        await application.bot.set_my_commands(command_menu(language), language_code=language)


async def post_init(application: LotsenApp) -> None:
    """Create the services, start the outbox dispatcher and the deadline sweep."""
    data = application.bot_data
    settings = data.settings
    assert settings is not None
    data.services = create_services(settings)
    data.conversation = Conversation(data.services)
    await data.conversation.prepare()
    data.rate_limiter = create_rate_limiter(settings, data.services.engine)
    data.outbox_task = asyncio.get_running_loop().create_task(
        run_dispatcher(
            application.bot,
            data.services.engine,
            settings.coordinator_chat_id,
            data.outbox_kick,
            settings.tracker_url,
        )
    )
    with contextlib.suppress(Exception):
        await set_command_menus(application)
    if application.job_queue is not None:
        application.job_queue.run_repeating(sweep_job, interval=timedelta(minutes=1), first=1)
        application.job_queue.run_repeating(daily_job, interval=timedelta(hours=24), first=60)


async def post_shutdown(application: LotsenApp) -> None:
    """Stop the dispatcher and close the services."""
    data = application.bot_data
    task, data.outbox_task = data.outbox_task, None
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    limiter, data.rate_limiter = data.rate_limiter, None
    if limiter is not None:
        await limiter.aclose()
    services, data.services = data.services, None
    if services is not None:
        await services.aclose()


async def sweep_job(context: Context) -> None:
    """Send due reminders and escalate enquiries past their deadline (or their choice's)."""
    report = await run_db(context, lambda session: sweep_deadlines(session=session, now=utcnow()))
    report.escalated += await run_db(
        context, lambda session: sweep_unconfirmed(session=session, now=utcnow())
    )
    kick_outbox(context)
    # Every sweep is logged (at DEBUG when it found nothing), so an operator, and a test, can
    # tell a sweep that found nothing from one that never ran.
    log.log(
        logging.INFO if report.reminded or report.escalated else logging.DEBUG,
        "Deadline sweep: %d reminded, %d escalated",
        len(report.reminded),
        len(report.escalated),
    )


async def daily_job(context: Context) -> None:
    """Remind staff of routes due for review and purge what is past its retention."""

    def remind(session: Session) -> int:
        # Several bot workers run this job; one of them at a time reminds.
        if not claims.alone(session, "route-review reminders"):
            return 0
        return remind_route_reviews(session=session, now=utcnow())

    await run_db(context, remind)
    settings = context.bot_data.settings
    assert settings is not None
    report = await asyncio.to_thread(run_purge, settings)
    log.info("Daily purge: %s", report.counts())
    kick_outbox(context)


async def error_handler(update: object, context: Context) -> None:
    """Log any error with its traceback and mark the update for another try from the inbox."""
    if isinstance(context.error, OperationalError | NetworkError):
        # The database or Telegram is briefly unreachable: the update is tried again.
        log.warning("Transient failure while handling an update (%r)", context.error)
    else:
        log.error("Error while handling an update", exc_info=context.error)
    if isinstance(update, Update):
        error = context.error
        context.bot_data.failed_updates[update.update_id] = f"{type(error).__name__}: {error}"


def build_application(settings: Settings) -> LotsenApp:
    """Wire every handler into one application (updates arrive through the durable inbox)."""
    if not settings.token:
        raise ValueError("TELEGRAM_BOT_TOKEN is not set")
    builder = (
        ApplicationBuilder()
        .token(settings.token)
        .base_url(f"{settings.telegram_api_base_url}/bot")
        .base_file_url(f"{settings.telegram_api_base_url}/file/bot")
        .context_types(ContextTypes(bot_data=BotData))
        .updater(None)
        .rate_limiter(AIORateLimiter(max_retries=3))
        .post_init(post_init)
        .post_shutdown(post_shutdown)
    )
    application = cast(LotsenApp, builder.build())
    application.bot_data.settings = settings
    private = filters.ChatType.PRIVATE
    groups = filters.ChatType.GROUPS

    application.add_handler(CommandHandler("start", association.start, filters=private))
    application.add_handler(CommandHandler("help", association.help_command, filters=private))
    application.add_handler(
        CommandHandler("language", association.language_command, filters=private)
    )
    application.add_handler(CommandHandler("status", association.status_command, filters=private))
    application.add_handler(CommandHandler("cancel", association.cancel_command, filters=private))
    application.add_handler(CommandHandler("mydata", association.mydata_command, filters=private))
    application.add_handler(CommandHandler("forget", association.forget_command, filters=private))
    application.add_handler(CommandHandler("queue", coordinator.queue_command))
    application.add_handler(CommandHandler("routes", staff.routes_command, filters=private))
    application.add_handler(CommandHandler("contact", staff.contact_command, filters=private))
    application.add_handler(CommandHandler("absent", staff.absent_command, filters=private))
    application.add_handler(CommandHandler("verify", staff.verify_command, filters=private))
    application.add_handler(CommandHandler("desk", staff.desk_command, filters=private))

    application.add_handler(CallbackQueryHandler(association.language_button, pattern=r"^lang:"))
    application.add_handler(CallbackQueryHandler(association.feedback_button, pattern=r"^fb:"))
    application.add_handler(CallbackQueryHandler(association.choice_button, pattern=r"^(ref|cf):"))
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


async def release_claims(engine: Engine) -> None:
    """Free what an earlier run of the only bot process had claimed in the inbox and outbox."""
    try:
        await asyncio.to_thread(inbox.release_claims, engine)
        await asyncio.to_thread(outbox.release_claims, engine)
    except OperationalError as exc:
        log.warning("Database unavailable (%s); earlier claims end with their lease", exc)


async def run_bot(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """Run the bot in polling or webhook mode until `stop` is set (or forever)."""
    from aiohttp import web

    from bot.channels.telegram.runner import poll_forever, process_safely, webhook_app

    stop = stop or asyncio.Event()
    application = build_application(settings)
    async with application:
        # post_init/post_shutdown are only called by PTB's run_polling/run_webhook, so here.
        await post_init(application)
        services, _ = application.bot_data.ready()
        if settings.bot_workers == 1:
            await release_claims(services.engine)
        processor = InboxProcessor(application, services.engine)
        runner: web.AppRunner | None = None
        try:
            await application.start()
            if settings.telegram_mode == "webhook":
                if not settings.webhook_url or not settings.webhook_secret:
                    raise ValueError("webhook mode needs WEBHOOK_URL and WEBHOOK_SECRET")
                runner = web.AppRunner(webhook_app(settings, processor))
                await runner.setup()
                await web.TCPSite(
                    runner,
                    settings.webhook_listen,
                    settings.webhook_port,
                    reuse_port=settings.bot_workers > 1,  # the workers share the port
                ).start()
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
            await processor.aclose()
            if runner is not None:
                await runner.cleanup()
            if application.running:
                await application.stop()
            await post_shutdown(application)
