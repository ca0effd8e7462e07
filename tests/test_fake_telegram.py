"""Tests of the fake Telegram Bot API server, driven through PTB's real ``Bot``/``Application``."""

from __future__ import annotations

import asyncio
import datetime as dtm
import time
import warnings
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web
from telegram import (
    Bot,
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    ReplyParameters,
    Update,
)
from telegram.error import (
    BadRequest,
    Conflict,
    EndPointNotFound,
    InvalidToken,
    NetworkError,
    RetryAfter,
)
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from harness.fake_telegram import FakeTelegram, start_fake_telegram
from harness.wait import eventually

BIG_USER = 7_000_000_000
SUPERGROUP = -1_001_234_567_890


@pytest_asyncio.fixture
async def bot(fake: FakeTelegram) -> AsyncIterator[Bot]:
    """An initialised PTB ``Bot`` talking to the fake."""
    async with Bot(fake.token, base_url=fake.base_url) as client:
        yield client


async def _echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    await update.effective_message.reply_text(f"echo: {update.effective_message.text}")


async def _start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    await update.effective_message.reply_text(f"started with {context.args}")


async def _on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None and query.message is not None
    context.bot_data.setdefault("seen", []).append(query)
    await query.answer("ok")
    await query.edit_message_text(f"chosen: {query.data}")


@pytest_asyncio.fixture
async def app(fake: FakeTelegram) -> AsyncIterator[Application[Any, Any, Any, Any, Any, Any]]:
    """A PTB application polling the fake, with echo, /start and button handlers."""
    application = ApplicationBuilder().token(fake.token).base_url(fake.base_url).build()
    application.add_handler(CommandHandler("start", _start))
    application.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, _echo))
    application.add_handler(CallbackQueryHandler(_on_button))
    async with application:
        await application.start()
        assert application.updater is not None
        await application.updater.start_polling(poll_interval=0, timeout=1)
        yield application
        await application.updater.stop()
        await application.stop()


async def _raw(
    fake: FakeTelegram, method: str, http_method: str = "POST", token: str | None = None, **kw: Any
) -> tuple[int, dict[str, Any]]:
    url = f"{fake.api_root}/bot{token or fake.token}/{method}"
    async with aiohttp.ClientSession() as session, session.request(http_method, url, **kw) as resp:
        return resp.status, await resp.json()


# ---------------------------------------------------------------------------- basics


@pytest.mark.asyncio
async def test_get_me_and_urls(fake: FakeTelegram, bot: Bot) -> None:
    me = await bot.get_me()
    assert me.id == fake.bot_id == 123456
    assert me.is_bot and me.username == "lotsen_test_bot"
    assert fake.base_url == f"{fake.api_root}/bot"
    assert fake.api_root.startswith("http://127.0.0.1:")
    assert fake.calls("getMe")  # Bot.initialize + get_me
    assert all(r.ok for r in fake.requests)


@pytest.mark.asyncio
async def test_unknown_token_and_unknown_method(fake: FakeTelegram, bot: Bot) -> None:
    with pytest.raises(InvalidToken):
        async with Bot("999:WRONG", base_url=fake.base_url):
            pass
    status, body = await _raw(fake, "getMe", token="999:WRONG")
    assert (status, body) == (
        401,
        {"ok": False, "error_code": 401, "description": "Unauthorized"},
    )
    status, body = await _raw(fake, "fooBar")
    assert (status, body) == (404, {"ok": False, "error_code": 404, "description": "Not Found"})
    with pytest.raises(EndPointNotFound):
        await bot.do_api_request("fooBar")


@pytest.mark.asyncio
async def test_get_and_json_bodies_are_accepted(fake: FakeTelegram) -> None:
    status, body = await _raw(fake, "getMe", "GET")
    assert status == 200 and body["result"]["id"] == fake.bot_id
    status, body = await _raw(
        fake,
        "sendMessage",
        json={"chat_id": BIG_USER, "text": "123", "reply_markup": {"inline_keyboard": []}},
    )
    assert status == 200 and body["result"]["text"] == "123"
    status, body = await _raw(fake, "sendMessage", "GET", params={"chat_id": "5", "text": "[x]"})
    assert status == 200 and body["result"]["chat"]["id"] == 5
    assert fake.sent_messages(5) == [{"chat_id": 5, "text": "[x]"}]
    assert fake.sent_messages(BIG_USER)[0]["text"] == "123"  # text stays a string


@pytest.mark.asyncio
async def test_send_message_with_inline_keyboard_is_recorded(fake: FakeTelegram, bot: Bot) -> None:
    keyboard = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("Ja", callback_data="yes"),
                InlineKeyboardButton("Nej", url="https://example.org"),
            ]
        ]
    )
    first = await bot.send_message(BIG_USER, "Välj", reply_markup=keyboard)
    second = await bot.send_message(BIG_USER, "42")
    other = await bot.send_message(SUPERGROUP, "hej gruppen")

    assert first.reply_markup == keyboard
    assert first.from_user is not None and first.from_user.id == fake.bot_id
    assert first.chat.id == BIG_USER and first.chat.type == "private"
    assert (first.message_id, second.message_id, other.message_id) == (1, 2, 1)
    assert other.chat.type == "supergroup"
    assert isinstance(first.date, dtm.datetime)

    sent = fake.sent_messages(BIG_USER)
    assert [p["text"] for p in sent] == ["Välj", "42"]
    assert sent[0]["chat_id"] == BIG_USER and isinstance(sent[0]["chat_id"], int)
    assert sent[0]["reply_markup"] == {
        "inline_keyboard": [
            [
                {"text": "Ja", "callback_data": "yes"},
                {"text": "Nej", "url": "https://example.org"},
            ]
        ]
    }
    assert fake.sent_messages(SUPERGROUP)[0]["chat_id"] == SUPERGROUP
    assert len(fake.sent_messages()) == 3
    assert await fake.wait_for("sendMessage", lambda p: p["text"] == "42") == sent[1]

    with pytest.raises(BadRequest, match=r"(?i)BUTTON_DATA_INVALID"):
        too_long = InlineKeyboardButton("x", callback_data="x" * 65)
        await bot.send_message(BIG_USER, "bad", reply_markup=InlineKeyboardMarkup([[too_long]]))
    with pytest.raises(BadRequest, match=r"(?i)message text is empty"):
        await bot.send_message(BIG_USER, " ")
    assert len(fake.sent_messages()) == 3  # failed calls are recorded, but not as sent
    assert len(fake.calls("sendMessage")) == 5


# ---------------------------------------------------------------------------- polling


@pytest.mark.asyncio
async def test_polling_application_echoes_and_offsets_are_confirmed(
    fake: FakeTelegram, app: Application[Any, Any, Any, Any, Any, Any]
) -> None:
    update = fake.user_message(BIG_USER, "hallå", first_name="Åsa")
    reply = await fake.wait_for("sendMessage", lambda p: p["text"] == "echo: hallå")
    assert reply["chat_id"] == BIG_USER

    # PTB confirms by polling with offset = update_id + 1; then the update is gone for good.
    await fake.wait_for("getUpdates", lambda p: p.get("offset", 0) > update["update_id"])
    await fake.wait_for("getUpdates", new_only=True, timeout=5)  # the confirming poll returned
    confirming = next(
        r for r in fake.requests if r.method == "getUpdates" and r.params.get("offset")
    )
    assert confirming.response == []  # not delivered again
    assert fake.pending_updates() == []
    assert len(fake.sent_messages(BIG_USER)) == 1

    # Telegram may redeliver an update (e.g. after a crash): duplicate() delivers it again.
    fake.duplicate(update)
    echoes = await fake.wait_for_count("sendMessage", 2, lambda p: p["text"] == "echo: hallå")
    assert len(echoes) == 2

    # New updates keep flowing after the redelivery.
    fake.command(BIG_USER, "/start", "ref42")
    started = await fake.wait_for("sendMessage", lambda p: p["text"].startswith("started"))
    assert started["text"] == "started with ['ref42']"


@pytest.mark.asyncio
async def test_get_updates_offset_limit_and_long_polling(fake: FakeTelegram, bot: Bot) -> None:
    ids = [fake.user_message(1, f"m{i}")["update_id"] for i in range(5)]
    assert ids == sorted(ids) and len(set(ids)) == 5

    first = await bot.get_updates(limit=2)
    assert [u.update_id for u in first] == ids[:2]
    again = await bot.get_updates()  # nothing confirmed yet
    assert [u.update_id for u in again] == ids
    rest = await bot.get_updates(offset=ids[3])  # confirms ids[0..2] forever
    assert [u.update_id for u in rest] == ids[3:]
    assert [u.update_id for u in await bot.get_updates()] == ids[3:]
    assert [u.update_id for u in await bot.get_updates(offset=-1)] == ids[4:]
    assert await bot.get_updates(offset=ids[4] + 1) == ()

    # Long polling returns as soon as an update is queued ...
    loop = asyncio.get_running_loop()
    loop.call_later(0.3, fake.user_message, 1, "late")
    started = time.monotonic()
    late = await bot.get_updates(offset=ids[4] + 1, timeout=5)
    assert [u.message.text for u in late if u.message] == ["late"]
    assert time.monotonic() - started < 3
    # ... and otherwise honours the timeout.
    started = time.monotonic()
    assert await bot.get_updates(offset=late[0].update_id + 1, timeout=1) == ()
    assert 0.9 <= time.monotonic() - started < 3


@pytest.mark.asyncio
async def test_second_long_poll_terminates_the_first(fake: FakeTelegram, bot: Bot) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=5))
    await fake.wait_for("getUpdates")
    async with Bot(fake.token, base_url=fake.base_url) as other_instance:
        second = asyncio.create_task(other_instance.get_updates(timeout=5))
        with pytest.raises(Conflict, match=r"(?i)terminated by other getUpdates"):
            await first
        fake.user_message(2, "x")
        assert len(await second) == 1


@pytest.mark.asyncio
async def test_allowed_updates_filtering(fake: FakeTelegram, bot: Bot) -> None:
    member = {"chat": {"id": -5, "type": "group", "title": "G"}, "from": fake.user(9)}
    fake.push_update({"chat_member": {**member, "date": 0}})
    fake.user_message(9, "hi")
    updates = await bot.get_updates()
    assert [u.message.text for u in updates if u.message] == ["hi"]
    assert len(updates) == 1  # chat_member is excluded by default, like Telegram


# ---------------------------------------------------------------------------- injected updates


@pytest.mark.asyncio
async def test_reply_to_message_resolves(fake: FakeTelegram, bot: Bot) -> None:
    question = await bot.send_message(BIG_USER, "Vad heter föreningen?")
    fake.user_message(BIG_USER, "Schackklubben", reply_to_message_id=question.message_id)
    (update,) = await bot.get_updates()
    assert update.message is not None
    replied = update.message.reply_to_message
    assert replied is not None
    assert replied.text == "Vad heter föreningen?"
    assert replied.from_user is not None and replied.from_user.id == fake.bot_id
    assert replied.from_user.is_bot
    assert update.message.message_id == question.message_id + 1  # shared per-chat counter

    answer = await bot.send_message(
        BIG_USER, "Tack!", reply_parameters=ReplyParameters(update.message.message_id)
    )
    assert answer.reply_to_message is not None
    assert answer.reply_to_message.text == "Schackklubben"
    with pytest.raises(LookupError):
        fake.user_message(BIG_USER, "x", reply_to_message_id=999)


@pytest.mark.asyncio
async def test_callback_query_deserializes_and_edits(fake: FakeTelegram, bot: Bot) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Ja", callback_data="yes")]])
    sent = await bot.send_message(SUPERGROUP, "Stämmer det?", reply_markup=keyboard)
    fake.callback(BIG_USER, "yes", message_id=sent.message_id, chat_id=SUPERGROUP)

    (update,) = await bot.get_updates()
    query = update.callback_query
    assert query is not None and isinstance(query.message, Message)  # not InaccessibleMessage
    assert query.data == "yes" and query.from_user.id == BIG_USER
    assert query.message.text == "Stämmer det?"
    assert query.message.chat.id == SUPERGROUP
    assert query.message.reply_markup == keyboard

    assert await query.answer("Tack") is True
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await query.answer("twice")

    edited = await bot.edit_message_text("Bekräftat", SUPERGROUP, sent.message_id)
    assert isinstance(edited, Message)
    assert edited.text == "Bekräftat" and edited.edit_date is not None
    assert edited.reply_markup is None  # editing text without markup drops the keyboard
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text("Bekräftat", SUPERGROUP, sent.message_id)
    markup = await bot.edit_message_reply_markup(SUPERGROUP, sent.message_id, reply_markup=keyboard)
    assert isinstance(markup, Message) and markup.reply_markup == keyboard
    assert fake.message(SUPERGROUP, sent.message_id)["text"] == "Bekräftat"
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("x", SUPERGROUP, 999)


@pytest.mark.asyncio
async def test_callback_through_application(
    fake: FakeTelegram, app: Application[Any, Any, Any, Any, Any, Any]
) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("B", callback_data="b")]])
    sent = await app.bot.send_message(BIG_USER, "Välj område", reply_markup=keyboard)
    fake.callback(BIG_USER, "b", message_id=sent.message_id)
    edit = await fake.wait_for("editMessageText")
    assert edit == {"chat_id": BIG_USER, "message_id": sent.message_id, "text": "chosen: b"}
    answer = await fake.wait_for("answerCallbackQuery")
    assert answer["text"] == "ok"
    (query,) = app.bot_data["seen"]
    assert isinstance(query.message, Message) and query.message.text == "Välj område"


@pytest.mark.asyncio
async def test_command_and_group_messages_with_large_ids(fake: FakeTelegram, bot: Bot) -> None:
    fake.command(
        BIG_USER, "/start@lotsen_test_bot", "a", "b", chat_id=SUPERGROUP, chat_type="supergroup"
    )
    fake.user_message(BIG_USER, "hej", chat_id=-42, chat_type="group", username="asa")
    command, group = await bot.get_updates()
    assert command.message is not None and group.message is not None
    assert command.message.text == "/start@lotsen_test_bot a b"
    entity = command.message.entities[0]
    assert (entity.type, entity.offset, entity.length) == ("bot_command", 0, 22)
    assert command.message.chat.id == SUPERGROUP and command.message.chat.type == "supergroup"
    assert command.message.from_user is not None and command.message.from_user.id == BIG_USER
    assert group.message.chat.type == "group" and group.message.from_user is not None
    assert group.message.from_user.username == "asa"
    with pytest.raises(ValueError, match=r"(?i)negative"):
        fake.user_message(1, "x", chat_id=5, chat_type="group")


@pytest.mark.asyncio
async def test_non_text_messages_deserialize(fake: FakeTelegram, bot: Bot) -> None:
    for kind in ("photo", "voice", "sticker", "document", "location"):
        fake.non_text(BIG_USER, kind)
    photo, voice, sticker, document, location = (u.message for u in await bot.get_updates())
    assert photo is not None and len(photo.photo) == 3 and photo.photo[-1].width == 1280
    assert photo.photo[0].file_id and photo.text is None
    assert voice is not None and voice.voice is not None and voice.voice.mime_type == "audio/ogg"
    assert voice.voice.to_dict()["duration"] == 3
    assert sticker is not None and sticker.sticker is not None and sticker.sticker.emoji == "👍"
    assert document is not None and document.document is not None
    assert document.document.file_name == "report.pdf"
    assert location is not None and location.location is not None
    assert location.location.latitude == pytest.approx(52.52, abs=0.01)
    with pytest.raises(ValueError):
        fake.non_text(BIG_USER, "hologram")


# ---------------------------------------------------------------------------- faults


@pytest.mark.asyncio
async def test_429_with_retry_after_then_success(fake: FakeTelegram, bot: Bot) -> None:
    fake.fail_next("sendMessage", status=429, retry_after=2)
    with pytest.raises(RetryAfter) as caught, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        await bot.send_message(1, "first")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        retry_after = caught.value.retry_after
    seconds = retry_after.total_seconds() if isinstance(retry_after, dtm.timedelta) else retry_after
    assert seconds == 2
    assert fake.sent_messages() == []

    message = await bot.send_message(1, "second")
    assert message.text == "second"
    assert [p["text"] for p in fake.sent_messages()] == ["second"]
    assert [r.status for r in fake.requests if r.method == "sendMessage"] == [429, 200]

    fake.fail_next("getMe", status=429, retry_after=7)
    status, body = await _raw(fake, "getMe")
    assert (status, body) == (
        429,
        {
            "ok": False,
            "error_code": 429,
            "description": "Too Many Requests: retry after 7",
            "parameters": {"retry_after": 7},
        },
    )


@pytest.mark.asyncio
async def test_5xx_faults_and_delay(fake: FakeTelegram, bot: Bot) -> None:
    fake.fail_next("sendMessage", status=500, times=2)
    fake.fail_next("sendMessage", status=502, description="Bad Gateway: try later")
    for _ in range(2):
        with pytest.raises(NetworkError, match=r"(?i)Internal Server Error"):
            await bot.send_message(1, "x")
    with pytest.raises(NetworkError, match=r"(?i)Bad Gateway: try later"):
        await bot.send_message(1, "x")
    assert (await bot.send_message(1, "ok")).text == "ok"

    fake.delay("sendChatAction", 0.5)
    started = time.monotonic()
    assert await bot.send_chat_action(1, "typing") is True
    assert time.monotonic() - started >= 0.5
    fake.delay("sendChatAction", 0)
    with pytest.raises(BadRequest, match=r"(?i)wrong parameter action"):
        await bot.send_chat_action(1, "dancing")


@pytest.mark.asyncio
async def test_wait_for_timeout_lists_received_requests(fake: FakeTelegram, bot: Bot) -> None:
    await bot.send_message(1, "something else")
    with pytest.raises(TimeoutError) as caught:
        await fake.wait_for("sendMessage", lambda p: p["text"] == "never", timeout=0.2)
    report = str(caught.value)
    assert "sendMessage" in report and "something else" in report and "getMe" in report
    with pytest.raises(TimeoutError):
        await fake.wait_for("getMe", timeout=0.1, new_only=True)


# ---------------------------------------------------------------------------- webhook


@pytest.mark.asyncio
async def test_webhook_delivery_with_secret_and_retries(fake: FakeTelegram, bot: Bot) -> None:
    received: list[tuple[str | None, dict[str, Any]]] = []
    got_two = asyncio.Event()

    async def receive(request: web.Request) -> web.Response:
        received.append(
            (request.headers.get("X-Telegram-Bot-Api-Secret-Token"), await request.json())
        )
        if len(received) >= 2:
            got_two.set()
        return web.Response(status=500 if len(received) == 1 else 200)

    receiver = web.Application()
    receiver.router.add_post("/hook", receive)
    runner = web.AppRunner(receiver)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        url = f"http://127.0.0.1:{port}/hook"
        assert await bot.set_webhook(url, secret_token="s3cret") is True
        info = await bot.get_webhook_info()
        assert info.url == url and info.pending_update_count == 0
        with pytest.raises(Conflict, match=r"(?i)webhook is active"):
            await bot.get_updates()

        update = fake.user_message(BIG_USER, "via webhook")
        await asyncio.wait_for(got_two.wait(), 5)
        assert [secret for secret, _ in received] == ["s3cret", "s3cret"]
        assert [body for _, body in received] == [update, update]  # retried after the 500
        delivered = Update.de_json(received[1][1], bot).message
        assert delivered is not None and delivered.text == "via webhook"
        await eventually(lambda: not fake.pending_updates(), 1, 0.02)
        assert fake.pending_updates() == []
        assert [d["status"] for d in fake.webhook_deliveries] == [500, 200]
        info = await bot.get_webhook_info()
        assert info.last_error_message and "500" in info.last_error_message

        assert await bot.delete_webhook() is True
        assert (await bot.get_webhook_info()).url == ""
        fake.user_message(BIG_USER, "polling again")
        (polled,) = await bot.get_updates()
        assert polled.message is not None and polled.message.text == "polling again"
    finally:
        await runner.cleanup()


# ---------------------------------------------------------------------------- misc methods


@pytest.mark.asyncio
async def test_commands_close_and_logout(fake: FakeTelegram, bot: Bot) -> None:
    commands = [BotCommand("start", "Börja"), BotCommand("hjalp", "Hjälp")]
    assert await bot.set_my_commands(commands) is True
    assert await bot.get_my_commands() == tuple(commands)
    assert await bot.get_my_commands(language_code="en") == ()
    assert fake.my_commands() == [c.to_dict() for c in commands]
    with pytest.raises(BadRequest, match=r"(?i)BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand("Bad-Command", "x")])
    assert await bot.delete_my_commands() is True
    assert await bot.get_my_commands() == ()
    assert await bot.close() is True
    assert await bot.log_out() is True
    assert [r.method for r in fake.requests][-2:] == ["close", "logOut"]


@pytest.mark.asyncio
async def test_instances_are_independent() -> None:
    async with start_fake_telegram("42:A") as one, start_fake_telegram("43:B") as two:
        assert one.port != two.port
        one.user_message(1, "only in one")
        assert one.pending_updates() and not two.pending_updates()
    fake = await start_fake_telegram()
    await fake.close()
    await fake.close()  # idempotent


async def test_documents_are_uploaded_kept_and_their_captions_edited(
    fake: FakeTelegram, bot: Bot
) -> None:
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Ja", callback_data="fb:1:y")]])
    sent = await bot.send_document(
        BIG_USER, b'{"a": 1}', filename="data.json", caption="Din fil", reply_markup=markup
    )
    assert sent.document is not None and sent.document.file_name == "data.json"
    assert sent.caption == "Din fil" and sent.document.file_size == 8
    (params,) = fake.sent_documents(BIG_USER)
    assert params["document"]["content"] == b'{"a": 1}'
    assert params["caption"] == "Din fil"

    # Telegram's answers to edits, which tell a message of the bot from someone else's or none.
    with pytest.raises(BadRequest, match="not modified"):
        await bot.edit_message_caption(
            chat_id=BIG_USER, message_id=sent.message_id, caption="Din fil", reply_markup=markup
        )
    edited = await bot.edit_message_caption(
        chat_id=BIG_USER, message_id=sent.message_id, caption="Ny text", reply_markup=markup
    )
    assert isinstance(edited, Message) and edited.caption == "Ny text"
    with pytest.raises(BadRequest, match="no text in the message"):
        await bot.edit_message_text("text", chat_id=BIG_USER, message_id=sent.message_id)
    own = fake.user_message(BIG_USER, "hej")["message"]["message_id"]
    with pytest.raises(BadRequest, match="can't be edited"):
        await bot.edit_message_caption(chat_id=BIG_USER, message_id=own, caption="x")
    with pytest.raises(BadRequest, match="not found"):
        await bot.edit_message_text("x", chat_id=BIG_USER, message_id=own + 1)
