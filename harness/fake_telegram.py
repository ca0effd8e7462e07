"""A local fake of the Telegram Bot API for driving the real PTB stack over HTTP in tests.

The fake is an aiohttp application bound to ``127.0.0.1`` on a free port. It implements the
subset of the Bot API Lotsen uses with Telegram's observable semantics (``getUpdates`` offset
confirmation and long polling, webhook delivery with retries and ``409 Conflict``, per-chat
message ids, "message is not modified" errors, ...), records every request, lets tests inject
realistic updates and makes failures (429/5xx) and slowness injectable.

Typical use::

    async with start_fake_telegram() as fake:
        app = ApplicationBuilder().token(fake.token).base_url(fake.base_url).build()
        ...
        fake.user_message(7_000_000_000, "hello")
        params = await fake.wait_for("sendMessage", lambda p: p["chat_id"] == 7_000_000_000)

Notes on fidelity:

* Form/multipart parameters arrive as strings; they are decoded by name (text-like fields stay
  strings, JSON objects/arrays, ints, floats and booleans are decoded for all other fields).
* Like Telegram, updates whose type is excluded by ``allowed_updates`` are dropped; by default
  ``chat_member``, ``message_reaction`` and ``message_reaction_count`` are excluded.
* Like Telegram, ``editMessageText`` without ``reply_markup`` removes the inline keyboard.
* ``Request.at`` is a :func:`time.monotonic` timestamp (suited to measuring intervals).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import json
import re
import time
from collections.abc import Awaitable, Callable, Generator, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import aiohttp
from aiohttp import web

__all__ = [
    "ApiError",
    "FakeTelegram",
    "MethodHandler",
    "Request",
    "start_fake_telegram",
]

JSONDict = dict[str, Any]
ChatId = int | str
MethodHandler = Callable[[JSONDict], Any | Awaitable[Any]]
"""A custom method implementation: receives decoded params, returns the ``result`` value."""

DEFAULT_TOKEN = "123456:TEST"

# Parameters that are always strings in the Bot API and must never be decoded as JSON/numbers.
_STRING_PARAMS = frozenset(
    {
        "action",
        "address",
        "business_connection_id",
        "callback_query_id",
        "caption",
        "custom_emoji_id",
        "data",
        "description",
        "emoji",
        "first_name",
        "foursquare_id",
        "inline_message_id",
        "invite_link",
        "ip_address",
        "language_code",
        "last_name",
        "message_effect_id",
        "name",
        "parse_mode",
        "phone_number",
        "query",
        "question",
        "secret_token",
        "short_description",
        "sticker",
        "text",
        "title",
        "url",
        "username",
    }
)
_INT_RE = re.compile(r"-?\d+")
_FLOAT_RE = re.compile(r"-?\d+\.\d*(?:[eE][-+]?\d+)?")
_TOKEN_RE = re.compile(r"(\d+):[\w-]+")
_PATH_RE = re.compile(r"/bot([^/]+)/([A-Za-z0-9_]+)/?")
_COMMAND_RE = re.compile(r"[a-z0-9_]{1,32}")

_DEFAULT_EXCLUDED_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
_CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_ERROR_DESCRIPTIONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
_QUERY_INVALID = "Bad Request: query is too old and response timeout expired or query ID is invalid"
_WEBHOOK_CONFLICT = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)
_POLL_CONFLICT = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)


class ApiError(Exception):
    """An error answered to the client as ``{"ok": false, "error_code": ..., ...}``.

    Custom handlers registered with :meth:`FakeTelegram.register_method` may raise it.
    """

    def __init__(self, status: int, description: str, parameters: JSONDict | None = None) -> None:
        super().__init__(f"{status}: {description}")
        self.status = status
        self.description = description
        self.parameters = parameters

    def payload(self) -> JSONDict:
        """Return the Telegram-style error body."""
        body: JSONDict = {"ok": False, "error_code": self.status, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


@dataclass
class Request:
    """One request received by the fake.

    ``status`` is ``None`` while the request is still being answered (e.g. long polling or an
    injected delay), afterwards the HTTP status sent back. ``response`` holds the ``result``
    of successful calls.
    """

    method: str
    params: JSONDict
    at: float
    status: int | None = None
    response: Any = None

    @property
    def ok(self) -> bool:
        """Whether the request was answered successfully."""
        return self.status == 200


@dataclass
class _Fault:
    status: int
    description: str
    parameters: JSONDict | None
    remaining: int


@dataclass
class _Pending:
    update: JSONDict
    forced: bool = False  # a redelivery that ignores the confirmed offset once


@dataclass
class _WebhookState:
    url: str = ""
    secret_token: str | None = None
    max_connections: int = 40
    ip_address: str | None = None
    last_error_date: int | None = None
    last_error_message: str | None = None
    deliveries: list[JSONDict] = field(default_factory=list)


class _Signal:
    """A broadcast wake-up: every current waiter is released by :meth:`fire`."""

    def __init__(self) -> None:
        self._waiters: set[asyncio.Future[None]] = set()

    def fire(self) -> None:
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(None)
        self._waiters.clear()

    async def wait(self, timeout: float | None) -> None:
        """Wait until the next :meth:`fire` or until ``timeout`` seconds have passed."""
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.add(waiter)
        try:
            await asyncio.wait_for(waiter, timeout)
        except TimeoutError:
            pass
        finally:
            self._waiters.discard(waiter)


def _decode_value(name: str, value: Any) -> Any:
    if not isinstance(value, str) or name in _STRING_PARAMS:
        return value
    stripped = value.strip()
    if stripped[:1] in ("{", "["):
        try:
            return json.loads(stripped)
        except ValueError as exc:
            raise ApiError(400, f"Bad Request: can't parse {name} JSON object") from exc
    if stripped in ("true", "false"):
        return stripped == "true"
    if _INT_RE.fullmatch(stripped):
        return int(stripped)
    if _FLOAT_RE.fullmatch(stripped):
        return float(stripped)
    return value


def _decode_params(raw: Mapping[str, Any]) -> JSONDict:
    """Decode Bot API parameters sent as form fields/JSON into Python values."""
    return {name: _decode_value(name, value) for name, value in raw.items()}


def _update_type(update: Mapping[str, Any]) -> str:
    return next((key for key in update if key != "update_id"), "unknown")


def _strip_reply(message: JSONDict) -> JSONDict:
    """A copy of ``message`` fit for nesting as ``reply_to_message`` (no further nesting)."""
    nested = copy.deepcopy(message)
    nested.pop("reply_to_message", None)
    return nested


def _summarise(request: Request, width: int = 160) -> str:
    params = json.dumps(request.params, ensure_ascii=False, default=str)
    if len(params) > width:
        params = params[: width - 3] + "..."
    status = "pending" if request.status is None else request.status
    return f"{request.method} [{status}] {params}"


class FakeTelegram:
    """A fake Telegram Bot API server for one bot token.

    Create and start it with :func:`start_fake_telegram` (or ``await FakeTelegram().start()``);
    stop it with :meth:`close`. All state is per instance.
    """

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        *,
        bot_username: str = "lotsen_test_bot",
        bot_first_name: str = "Lotsen",
        webhook_retry_delay: float = 0.2,
        webhook_new_connections: bool = False,
    ) -> None:
        match = _TOKEN_RE.fullmatch(token)
        if match is None:
            raise ValueError(f"not a Telegram bot token: {token!r}")
        self.token = token
        self.bot_user: JSONDict = {
            "id": int(match.group(1)),
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }
        self.webhook_retry_delay = webhook_retry_delay
        # Telegram delivers over several connections; a new one per update spreads the updates
        # over processes that share the webhook port (SO_REUSEPORT), as Telegram's would.
        self.webhook_new_connections = webhook_new_connections
        self.requests: list[Request] = []

        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._closing = False
        self._request_signal = _Signal()
        self._state_signal = _Signal()

        self._pending: list[_Pending] = []
        self._seen_updates: list[JSONDict] = []
        self._update_ids = itertools.count(100_000_001)
        self._allowed_updates: list[str] = []
        self._poll_generation = 0

        self._webhook = _WebhookState()
        self._webhook_task: asyncio.Task[None] | None = None
        self._http: aiohttp.ClientSession | None = None

        self._chats: dict[ChatId, JSONDict] = {}
        self._channel_ids: dict[str, int] = {}
        self._message_ids: dict[ChatId, int] = {}
        self._messages: dict[tuple[ChatId, int], JSONDict] = {}
        self._callback_ids = itertools.count(4_000_000_000_000_000_001)
        self._open_callbacks: set[str] = set()
        self._file_ids = itertools.count(1)
        self._commands: dict[tuple[str, str], list[JSONDict]] = {}

        self._faults: dict[str, list[_Fault]] = {}
        self._delays: dict[str, float] = {}
        self._lost_answers: dict[str, tuple[int, bool, ChatId | None]] = {}
        self._methods: dict[str, tuple[str, MethodHandler]] = {}
        for name, handler in (
            ("getMe", self._get_me),
            ("getUpdates", self._get_updates),
            ("setWebhook", self._set_webhook),
            ("deleteWebhook", self._delete_webhook),
            ("getWebhookInfo", self._get_webhook_info),
            ("sendMessage", self._send_message),
            ("sendDocument", self._send_document),
            ("editMessageText", self._edit_message_text),
            ("editMessageCaption", self._edit_message_caption),
            ("editMessageReplyMarkup", self._edit_message_reply_markup),
            ("answerCallbackQuery", self._answer_callback_query),
            ("setMyCommands", self._set_my_commands),
            ("deleteMyCommands", self._delete_my_commands),
            ("getMyCommands", self._get_my_commands),
            ("sendChatAction", self._send_chat_action),
            ("close", self._true),
            ("logOut", self._true),
        ):
            self.register_method(name, handler)

    # ------------------------------------------------------------------ lifecycle

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> FakeTelegram:
        """Start serving on ``host`` (a free port unless ``port`` is given); return ``self``."""
        if self._runner is not None:
            return self
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, host, port)
        await site.start()
        self._runner = runner
        self._port = int(runner.addresses[0][1])
        return self

    async def close(self) -> None:
        """Stop webhook delivery, release long polls and shut the server down."""
        if self._closing:
            return
        self._closing = True
        self._state_signal.fire()
        self._request_signal.fire()
        if self._webhook_task is not None:
            self._webhook_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._webhook_task
            self._webhook_task = None
        if self._http is not None:
            await self._http.close()
            self._http = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeTelegram:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def port(self) -> int:
        """The TCP port the fake listens on."""
        if self._port is None:
            raise RuntimeError("FakeTelegram is not started")
        return self._port

    @property
    def api_root(self) -> str:
        """``http://127.0.0.1:<port>`` — the value for the app's ``TELEGRAM_API_BASE_URL``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>/bot`` — for ``ApplicationBuilder().base_url(...)``."""
        return f"{self.api_root}/bot"

    @property
    def bot_id(self) -> int:
        """The bot's user id (the numeric part of the token)."""
        return int(self.bot_user["id"])

    # ------------------------------------------------------------------ inspection

    def calls(self, method: str) -> list[JSONDict]:
        """Params of all requests to ``method`` (case-insensitive), successful or not."""
        wanted = method.lower()
        return [r.params for r in self.requests if r.method.lower() == wanted]

    def sent_messages(self, chat_id: ChatId | None = None) -> list[JSONDict]:
        """Params of successful ``sendMessage`` calls, optionally only for ``chat_id``."""
        return [
            r.params
            for r in self.requests
            if r.method == "sendMessage"
            and r.ok
            and (chat_id is None or r.params.get("chat_id") == chat_id)
        ]

    def sent_documents(self, chat_id: ChatId | None = None) -> list[JSONDict]:
        """Params of successful ``sendDocument`` calls; an upload's ``document`` holds its
        ``file_name``, ``content_type``, ``size`` and ``content`` (the bytes)."""
        return [
            r.params
            for r in self.requests
            if r.method == "sendDocument"
            and r.ok
            and (chat_id is None or r.params.get("chat_id") == chat_id)
        ]

    def message(self, chat_id: ChatId, message_id: int) -> JSONDict:
        """The current state of a known (sent or injected) message; raises ``LookupError``."""
        return copy.deepcopy(self._lookup_message(chat_id, message_id))

    def pending_updates(self) -> list[JSONDict]:
        """Updates queued but not yet confirmed (polling) or acknowledged (webhook)."""
        return [copy.deepcopy(p.update) for p in sorted(self._pending, key=self._pending_key)]

    def my_commands(
        self, scope: JSONDict | None = None, language_code: str | None = None
    ) -> list[JSONDict]:
        """The command list stored by ``setMyCommands`` for a scope/language."""
        return copy.deepcopy(self._commands.get(self._commands_key(scope, language_code), []))

    @property
    def webhook_deliveries(self) -> list[JSONDict]:
        """Every webhook POST attempt: ``{"update_id", "url", "status", "at"}``."""
        return list(self._webhook.deliveries)

    async def wait_for(
        self,
        method: str,
        predicate: Callable[[JSONDict], bool] = lambda params: True,
        timeout: float = 10.0,
        *,
        new_only: bool = False,
    ) -> JSONDict:
        """Return the params of the first request to ``method`` matching ``predicate``.

        Past requests count too unless ``new_only`` is set (then only requests received after
        this call). Raises :class:`TimeoutError` listing what was received.
        """
        matches = await self.wait_for_count(
            method, 1, predicate, timeout, _start=len(self.requests) if new_only else 0
        )
        return matches[0]

    async def wait_for_count(
        self,
        method: str,
        count: int,
        predicate: Callable[[JSONDict], bool] = lambda params: True,
        timeout: float = 10.0,
        *,
        _start: int = 0,
    ) -> list[JSONDict]:
        """Wait until at least ``count`` requests to ``method`` match; return the first ``count``.

        Raises :class:`TimeoutError` listing what was received.
        """
        wanted = method.lower()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            matches = [
                r.params
                for r in self.requests[_start:]
                if r.method.lower() == wanted and predicate(r.params)
            ]
            if len(matches) >= count:
                return matches[:count]
            remaining = deadline - loop.time()
            if remaining <= 0 or self._closing:
                raise TimeoutError(self._timeout_report(method, count, len(matches), timeout))
            await self._request_signal.wait(remaining)

    def _timeout_report(self, method: str, count: int, found: int, timeout: float) -> str:
        lines = [
            f"Timed out after {timeout:g}s waiting for {count} matching {method} request(s) "
            f"({found} matched). Received {len(self.requests)} request(s):"
        ]
        shown = self.requests[-40:]
        if len(shown) < len(self.requests):
            lines.append(f"  ... {len(self.requests) - len(shown)} earlier request(s) omitted")
        lines.extend(f"  {_summarise(r)}" for r in shown)
        return "\n".join(lines)

    # ------------------------------------------------------------------ behaviour control

    def fail_next(
        self,
        method: str,
        status: int = 429,
        retry_after: int = 2,
        times: int = 1,
        *,
        description: str | None = None,
        parameters: JSONDict | None = None,
    ) -> None:
        """Make the next ``times`` calls of ``method`` fail with ``status``.

        429 answers ``Too Many Requests: retry after N`` with ``parameters.retry_after``;
        other statuses use ``description`` or a Telegram-like default. ``method="*"`` matches
        any method.
        """
        if status == 429:
            description = description or f"Too Many Requests: retry after {retry_after}"
            parameters = {"retry_after": retry_after, **(parameters or {})}
        elif description is None:
            description = _ERROR_DESCRIPTIONS.get(status, f"Error {status}")
        fault = _Fault(status, description, parameters, times)
        self._faults.setdefault(method.lower(), []).append(fault)

    def lose_answer(
        self, method: str, times: int = 1, *, hang: bool = False, chat_id: ChatId | None = None
    ) -> None:
        """Carry out the next ``times`` calls of ``method`` (to ``chat_id``) but never answer.

        The call takes effect (a sent message exists and counts as sent), then the connection
        is closed without a response, or with ``hang`` left open until the client gives up or
        the fake closes: what the bot sees when a network or its own process fails in between.
        ``times=0`` answers again.
        """
        if times <= 0:
            self._lost_answers.pop(method.lower(), None)
        else:
            self._lost_answers[method.lower()] = (times, hang, chat_id)

    def delay(self, method: str, seconds: float) -> None:
        """Make every call of ``method`` wait ``seconds`` before answering (0 removes it)."""
        if seconds > 0:
            self._delays[method.lower()] = seconds
        else:
            self._delays.pop(method.lower(), None)

    def register_method(self, name: str, handler: MethodHandler) -> None:
        """Implement (or override) a Bot API method; ``handler(params)`` returns ``result``.

        The handler may be sync or async and may raise :class:`ApiError`.
        """
        self._methods[name.lower()] = (name, handler)

    # ------------------------------------------------------------------ update injection

    def user(
        self,
        user_id: int,
        *,
        first_name: str = "Anna",
        username: str | None = None,
        last_name: str | None = None,
        language_code: str | None = None,
    ) -> JSONDict:
        """Build a Telegram ``User`` object for a human user."""
        user: JSONDict = {"id": user_id, "is_bot": False, "first_name": first_name}
        if last_name is not None:
            user["last_name"] = last_name
        if username is not None:
            user["username"] = username
        if language_code is not None:
            user["language_code"] = language_code
        return user

    def user_message(
        self,
        user_id: int,
        text: str | None,
        *,
        chat_id: int | None = None,
        first_name: str = "Anna",
        username: str | None = None,
        chat_type: str = "private",
        reply_to_message_id: int | None = None,
        chat_title: str | None = None,
        **extra: Any,
    ) -> JSONDict:
        """Queue a ``message`` update from a user and return it.

        ``chat_id`` defaults to ``user_id`` (private chat). Group chats need ``chat_type``
        ``"group"``/``"supergroup"`` and a negative ``chat_id``. ``reply_to_message_id`` must
        name a message known in that chat (e.g. one the bot sent). ``extra`` is merged into the
        message (e.g. ``entities``, ``message_thread_id``, ``photo``); ``text=None`` omits text.
        """
        sender = self.user(user_id, first_name=first_name, username=username)
        chat = self._user_chat(sender, chat_id, chat_type, chat_title)
        message: JSONDict = {
            "message_id": self._next_message_id(chat["id"]),
            "from": sender,
            "chat": chat,
            "date": int(time.time()),
        }
        if text is not None:
            message["text"] = text
        if reply_to_message_id is not None:
            replied = self._lookup_message(chat["id"], reply_to_message_id)
            message["reply_to_message"] = _strip_reply(replied)
        message.update(extra)
        self._messages[(chat["id"], message["message_id"])] = message
        return self._enqueue({"update_id": next(self._update_ids), "message": message})

    def command(
        self, user_id: int, command: str, *args: str, chat_id: int | None = None, **kwargs: Any
    ) -> JSONDict:
        """Queue a command message (e.g. ``command(uid, "/start", "ref42")``) with a
        ``bot_command`` entity; keyword arguments are as for :meth:`user_message`."""
        if not command.startswith("/"):
            command = "/" + command
        text = " ".join([command, *args])
        entities = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        entities.extend(kwargs.pop("entities", []))
        return self.user_message(user_id, text, chat_id=chat_id, entities=entities, **kwargs)

    def callback(
        self,
        user_id: int,
        data: str,
        *,
        message_id: int,
        chat_id: int | None = None,
        first_name: str = "Anna",
        username: str | None = None,
    ) -> JSONDict:
        """Queue a ``callback_query`` for a button on a known message (current state included).

        ``chat_id`` defaults to ``user_id``; raises ``LookupError`` for unknown messages.
        """
        chat_key = user_id if chat_id is None else chat_id
        message = self._lookup_message(chat_key, message_id)
        query_id = str(next(self._callback_ids))
        self._open_callbacks.add(query_id)
        query: JSONDict = {
            "id": query_id,
            "from": self.user(user_id, first_name=first_name, username=username),
            "message": copy.deepcopy(message),
            "chat_instance": str(abs(hash((self.bot_id, chat_key))) % 10**18),
            "data": data,
        }
        return self._enqueue({"update_id": next(self._update_ids), "callback_query": query})

    def non_text(
        self, user_id: int, kind: str, *, chat_id: int | None = None, **kwargs: Any
    ) -> JSONDict:
        """Queue a non-text message: ``kind`` in photo, voice, sticker, document, location.

        Keyword arguments are as for :meth:`user_message` (e.g. ``caption="..."``).
        """
        content: JSONDict
        if kind == "photo":
            content = {
                "photo": [
                    self._file(width=w, height=h, file_size=s, prefix="AgACAgIAAxkBAAI")
                    for w, h, s in ((90, 67, 1_234), (320, 240, 15_872), (1280, 960, 98_304))
                ]
            }
        elif kind == "voice":
            content = {
                "voice": self._file(
                    duration=3, mime_type="audio/ogg", file_size=9_876, prefix="AwACAgIAAxkBAAI"
                )
            }
        elif kind == "sticker":
            content = {
                "sticker": self._file(
                    type="regular",
                    width=512,
                    height=512,
                    is_animated=False,
                    is_video=False,
                    emoji="👍",
                    set_name="HotCherry",
                    file_size=23_456,
                    prefix="CAACAgIAAxkBAAI",
                )
            }
        elif kind == "document":
            content = {
                "document": self._file(
                    file_name="report.pdf",
                    mime_type="application/pdf",
                    file_size=54_321,
                    prefix="BQACAgIAAxkBAAI",
                )
            }
        elif kind == "location":
            content = {"location": {"latitude": 52.520008, "longitude": 13.404954}}
        else:
            raise ValueError(f"unsupported non-text kind: {kind!r}")
        return self.user_message(user_id, None, chat_id=chat_id, **{**content, **kwargs})

    def push_update(self, raw: JSONDict) -> JSONDict:
        """Queue an arbitrary update (``update_id`` is assigned if missing); return it.

        Messages contained in it become known (for replies, callbacks and edits).
        """
        update = copy.deepcopy(raw)
        if "update_id" not in update:
            update["update_id"] = next(self._update_ids)
        else:
            current = next(self._update_ids)
            self._update_ids = itertools.count(max(current, int(update["update_id"]) + 1))
        for value in update.values():
            if not isinstance(value, dict):
                continue
            message = value.get("message") if "chat" not in value else value
            if isinstance(message, dict) and "chat" in message and "message_id" in message:
                self._remember_message(message)
            if "chat_instance" in value and "id" in value:
                self._open_callbacks.add(str(value["id"]))
        return self._enqueue(update)

    def duplicate(self, update: JSONDict | int) -> JSONDict:
        """Deliver an update (or the one with this ``update_id``) again, ignoring the offset.

        Simulates Telegram redelivering an update, e.g. after a crash before confirmation.
        """
        if isinstance(update, int):
            found = next((u for u in self._seen_updates if u["update_id"] == update), None)
            if found is None:
                raise LookupError(f"unknown update_id {update}")
            update = found
        self._pending.append(_Pending(copy.deepcopy(update), forced=True))
        self._state_signal.fire()
        return update

    # ------------------------------------------------------------------ HTTP layer

    async def _handle(self, request: web.Request) -> web.Response:
        match = _PATH_RE.fullmatch(request.path)
        if match is None:
            return web.json_response(ApiError(404, "Not Found").payload(), status=404)
        token, method_name = match.groups()
        entry = self._methods.get(method_name.lower())
        method = entry[0] if entry else method_name
        try:
            params = await self._read_params(request)
        except ApiError as exc:
            params = {}
            parse_error: ApiError | None = exc
        else:
            parse_error = None
        record = Request(method, params, time.monotonic())
        self.requests.append(record)
        self._request_signal.fire()
        try:
            if token != self.token:
                raise ApiError(401, "Unauthorized")
            if parse_error is not None:
                raise parse_error
            seconds = self._delays.get(method.lower())
            if seconds:
                await self._sleep(seconds)
            self._raise_fault(method)
            if entry is None:
                raise ApiError(404, "Not Found")
            result = entry[1](params)
            if asyncio.iscoroutine(result):
                result = await result
        except ApiError as exc:
            record.status = exc.status
            self._request_signal.fire()
            return web.json_response(exc.payload(), status=exc.status)
        record.status = 200
        record.response = result
        self._request_signal.fire()
        lost = self._lost_answers.get(method.lower())
        if lost is not None and lost[2] in (None, params.get("chat_id")):
            times, hang, chat = lost
            if times <= 1:
                del self._lost_answers[method.lower()]
            else:
                self._lost_answers[method.lower()] = (times - 1, hang, chat)
            if hang:
                await self._sleep(3600)
            if request.transport is not None:
                request.transport.abort()
            raise web.HTTPServiceUnavailable  # never reaches the client: the connection is gone
        return web.json_response({"ok": True, "result": result})

    async def _read_params(self, request: web.Request) -> JSONDict:
        raw: dict[str, Any] = dict(request.query)
        if request.body_exists:
            if request.content_type == "application/json":
                try:
                    body = await request.json()
                except ValueError as exc:
                    raise ApiError(400, "Bad Request: can't parse JSON body") from exc
                if not isinstance(body, dict):
                    raise ApiError(400, "Bad Request: JSON body must be an object")
                raw.update(body)
            elif request.content_type in (
                "application/x-www-form-urlencoded",
                "multipart/form-data",
            ):
                form = await request.post()
                for name, value in form.items():
                    if isinstance(value, web.FileField):
                        content = value.file.read()
                        raw[name] = {
                            "file_name": value.filename,
                            "content_type": value.content_type,
                            "size": len(content),
                            "content": content,
                        }
                    else:
                        raw[name] = value
        return _decode_params(raw)

    def _raise_fault(self, method: str) -> None:
        for key in (method.lower(), "*"):
            faults = self._faults.get(key)
            if faults:
                fault = faults[0]
                fault.remaining -= 1
                if fault.remaining <= 0:
                    faults.pop(0)
                raise ApiError(fault.status, fault.description, fault.parameters)

    async def _sleep(self, seconds: float) -> None:
        """Delay an answer on purpose (an injected slowness is the behaviour under test)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while not self._closing and (remaining := deadline - loop.time()) > 0:
            await self._state_signal.wait(remaining)

    # ------------------------------------------------------------------ update queue

    @staticmethod
    def _pending_key(pending: _Pending) -> int:
        return int(pending.update["update_id"])

    def _enqueue(self, update: JSONDict) -> JSONDict:
        self._pending.append(_Pending(copy.deepcopy(update)))
        self._seen_updates.append(copy.deepcopy(update))
        self._state_signal.fire()
        return update

    def _is_allowed(self, update: JSONDict) -> bool:
        kind = _update_type(update)
        if self._allowed_updates:
            return kind in self._allowed_updates
        return kind not in _DEFAULT_EXCLUDED_UPDATES

    def _confirm(self, offset: int) -> None:
        if offset > 0:
            self._pending = [p for p in self._pending if p.forced or self._pending_key(p) >= offset]
        elif offset < 0:
            self._pending = sorted(self._pending, key=self._pending_key)[offset:]

    def _deliverable(self) -> list[_Pending]:
        """Pending updates in delivery order; updates excluded by allowed_updates are dropped."""
        self._pending = [p for p in self._pending if self._is_allowed(p.update)]
        return sorted(self._pending, key=self._pending_key)

    # ------------------------------------------------------------------ Bot API methods

    async def _true(self, params: JSONDict) -> bool:
        return True

    def _get_me(self, params: JSONDict) -> JSONDict:
        return dict(self.bot_user)

    async def _get_updates(self, params: JSONDict) -> list[JSONDict]:
        if self._webhook.url:
            raise ApiError(409, _WEBHOOK_CONFLICT)
        offset = int(params.get("offset") or 0)
        limit = min(max(int(params.get("limit") or 100), 1), 100)
        timeout = max(float(params.get("timeout") or 0), 0.0)
        if "allowed_updates" in params:
            self._allowed_updates = list(params["allowed_updates"] or [])
        self._poll_generation += 1
        generation = self._poll_generation
        self._state_signal.fire()  # terminates an older long poll with 409, like Telegram
        self._confirm(offset)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if self._closing:
                return []
            if generation != self._poll_generation:
                raise ApiError(409, _POLL_CONFLICT)
            if self._webhook.url:
                raise ApiError(409, _WEBHOOK_CONFLICT)
            batch = self._deliverable()[:limit]
            if batch:
                for pending in batch:
                    pending.forced = False
                return [copy.deepcopy(p.update) for p in batch]
            remaining = deadline - loop.time()
            if remaining <= 0:
                return []
            await self._state_signal.wait(remaining)

    def _set_webhook(self, params: JSONDict) -> bool:
        url = str(params.get("url") or "")
        if params.get("drop_pending_updates"):
            self._pending.clear()
        if "allowed_updates" in params:
            self._allowed_updates = list(params["allowed_updates"] or [])
        self._webhook.url = url
        self._webhook.secret_token = params.get("secret_token") or None
        self._webhook.max_connections = int(params.get("max_connections") or 40)
        self._webhook.ip_address = params.get("ip_address")
        self._webhook.last_error_date = None
        self._webhook.last_error_message = None
        if url and (self._webhook_task is None or self._webhook_task.done()):
            self._webhook_task = asyncio.get_running_loop().create_task(
                self._deliver_webhooks(), name="FakeTelegram webhook delivery"
            )
        self._state_signal.fire()
        return True

    def _delete_webhook(self, params: JSONDict) -> bool:
        if params.get("drop_pending_updates"):
            self._pending.clear()
        self._webhook = _WebhookState(deliveries=self._webhook.deliveries)
        self._state_signal.fire()
        return True

    def _get_webhook_info(self, params: JSONDict) -> JSONDict:
        hook = self._webhook
        info: JSONDict = {
            "url": hook.url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending),
        }
        if hook.url:
            info["max_connections"] = hook.max_connections
            if hook.ip_address:
                info["ip_address"] = hook.ip_address
            if self._allowed_updates:
                info["allowed_updates"] = list(self._allowed_updates)
            if hook.last_error_date is not None:
                info["last_error_date"] = hook.last_error_date
                info["last_error_message"] = hook.last_error_message
        return info

    async def _deliver_webhooks(self) -> None:
        """POST queued updates one by one to the webhook until each gets a 200."""
        while not self._closing and self._webhook.url:
            batch = self._deliverable()
            if not batch:
                await self._state_signal.wait(None)
                continue
            pending = batch[0]
            hook = self._webhook
            headers = {"Content-Type": "application/json"}
            if hook.secret_token:
                headers["X-Telegram-Bot-Api-Secret-Token"] = hook.secret_token
            if self._http is None:
                self._http = aiohttp.ClientSession(
                    timeout=aiohttp.ClientTimeout(total=10),
                    connector=aiohttp.TCPConnector(force_close=self.webhook_new_connections),
                )
            status: int | None = None
            error = ""
            try:
                async with self._http.post(
                    hook.url, data=json.dumps(pending.update), headers=headers
                ) as response:
                    status = response.status
                    error = f"Wrong response from the webhook: {status} {response.reason}"
            except (aiohttp.ClientError, TimeoutError) as exc:
                error = f"Connection failed: {exc!r}"
            hook.deliveries.append(
                {
                    "update_id": pending.update["update_id"],
                    "url": hook.url,
                    "status": status,
                    "at": time.monotonic(),
                }
            )
            if status == 200:
                if pending in self._pending:
                    self._pending.remove(pending)
                continue
            hook.last_error_date = int(time.time())
            hook.last_error_message = error
            await self._sleep(self.webhook_retry_delay)

    def _send_message(self, params: JSONDict) -> JSONDict:
        chat_id = params.get("chat_id")
        if chat_id is None or chat_id == "":
            raise ApiError(400, "Bad Request: chat_id is empty")
        text = params.get("text")
        if not isinstance(text, str) or not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if len(text) > 4096:
            raise ApiError(400, "Bad Request: message is too long")
        markup = self._checked_markup(params.get("reply_markup"))
        chat = self._chat_for(chat_id)
        message: JSONDict = {
            "message_id": self._next_message_id(chat["id"]),
            "from": dict(self.bot_user),
            "chat": chat,
            "date": int(time.time()),
        }
        if params.get("message_thread_id"):
            message["message_thread_id"] = params["message_thread_id"]
        replied = self._replied_message(chat["id"], params)
        if replied is not None:
            message["reply_to_message"] = _strip_reply(replied)
        message["text"] = text
        if params.get("entities"):
            message["entities"] = params["entities"]
        if markup is not None:
            message["reply_markup"] = markup
        self._messages[(chat["id"], message["message_id"])] = message
        return copy.deepcopy(message)

    def _send_document(self, params: JSONDict) -> JSONDict:
        chat_id = params.get("chat_id")
        if chat_id is None or chat_id == "":
            raise ApiError(400, "Bad Request: chat_id is empty")
        upload = params.get("document")
        if isinstance(upload, dict):
            if not upload.get("size"):
                raise ApiError(400, "Bad Request: file must be non-empty")
            document = self._file(
                prefix="BQACAgIAAxkBAAI",
                file_name=upload.get("file_name") or "document",
                mime_type=upload.get("content_type") or "application/octet-stream",
                file_size=upload["size"],
            )
        elif isinstance(upload, str) and upload:
            document = self._file(prefix="BQACAgIAAxkBAAI", file_name="document")
        else:
            raise ApiError(400, "Bad Request: there is no document in the request")
        caption = params.get("caption")
        if caption is not None and len(str(caption)) > 1024:
            raise ApiError(400, "Bad Request: message caption is too long")
        markup = self._checked_markup(params.get("reply_markup"))
        chat = self._chat_for(chat_id)
        message: JSONDict = {
            "message_id": self._next_message_id(chat["id"]),
            "from": dict(self.bot_user),
            "chat": chat,
            "date": int(time.time()),
            "document": document,
        }
        if caption:
            message["caption"] = caption
        if markup is not None:
            message["reply_markup"] = markup
        self._messages[(chat["id"], message["message_id"])] = message
        return copy.deepcopy(message)

    def _edit_message_caption(self, params: JSONDict) -> JSONDict | bool:
        caption = params.get("caption")
        if caption is not None and len(str(caption)) > 1024:
            raise ApiError(400, "Bad Request: message caption is too long")
        markup = self._checked_markup(params.get("reply_markup"))
        if params.get("inline_message_id"):
            return True
        message = self._editable_message(params)
        if "text" in message:
            raise ApiError(400, "Bad Request: there is no caption in the message to edit")
        if message.get("caption") == caption and message.get("reply_markup") == markup:
            raise ApiError(400, _NOT_MODIFIED)
        if caption:
            message["caption"] = caption
        else:
            message.pop("caption", None)
        self._set_markup(message, markup)
        message["edit_date"] = int(time.time())
        return copy.deepcopy(message)

    def _edit_message_text(self, params: JSONDict) -> JSONDict | bool:
        text = params.get("text")
        if not isinstance(text, str) or not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        if len(text) > 4096:
            raise ApiError(400, "Bad Request: message is too long")
        markup = self._checked_markup(params.get("reply_markup"))
        if params.get("inline_message_id"):
            return True
        message = self._editable_message(params)
        if "text" not in message:
            raise ApiError(400, "Bad Request: there is no text in the message to edit")
        if message.get("text") == text and message.get("reply_markup") == markup:
            raise ApiError(400, _NOT_MODIFIED)
        message["text"] = text
        if params.get("entities"):
            message["entities"] = params["entities"]
        else:
            message.pop("entities", None)
        self._set_markup(message, markup)
        message["edit_date"] = int(time.time())
        return copy.deepcopy(message)

    def _edit_message_reply_markup(self, params: JSONDict) -> JSONDict | bool:
        markup = self._checked_markup(params.get("reply_markup"))
        if params.get("inline_message_id"):
            return True
        message = self._editable_message(params)
        if message.get("reply_markup") == markup:
            raise ApiError(400, _NOT_MODIFIED)
        self._set_markup(message, markup)
        message["edit_date"] = int(time.time())
        return copy.deepcopy(message)

    def _answer_callback_query(self, params: JSONDict) -> bool:
        query_id = str(params.get("callback_query_id") or "")
        if query_id not in self._open_callbacks:
            raise ApiError(400, _QUERY_INVALID)
        self._open_callbacks.discard(query_id)
        return True

    def _set_my_commands(self, params: JSONDict) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise ApiError(400, "Bad Request: commands must be a list of at most 100 commands")
        for command in commands:
            if not isinstance(command, dict):
                raise ApiError(400, "Bad Request: can't parse BotCommand")
            if not _COMMAND_RE.fullmatch(str(command.get("command", ""))):
                raise ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", "")).strip()) <= 256:
                raise ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        key = self._commands_key(params.get("scope"), params.get("language_code"))
        self._commands[key] = [
            {"command": c["command"], "description": c["description"]} for c in commands
        ]
        return True

    def _delete_my_commands(self, params: JSONDict) -> bool:
        self._commands.pop(
            self._commands_key(params.get("scope"), params.get("language_code")), None
        )
        return True

    def _get_my_commands(self, params: JSONDict) -> list[JSONDict]:
        return self.my_commands(params.get("scope"), params.get("language_code"))

    def _send_chat_action(self, params: JSONDict) -> bool:
        if params.get("chat_id") in (None, ""):
            raise ApiError(400, "Bad Request: chat_id is empty")
        if params.get("action") not in _CHAT_ACTIONS:
            raise ApiError(400, "Bad Request: wrong parameter action in request")
        return True

    # ------------------------------------------------------------------ helpers

    @staticmethod
    def _commands_key(scope: Any, language_code: Any) -> tuple[str, str]:
        scope = scope or {"type": "default"}
        return json.dumps(scope, sort_keys=True), str(language_code or "")

    def _file(self, *, prefix: str, **fields: Any) -> JSONDict:
        number = next(self._file_ids)
        return {
            "file_id": f"{prefix}{number:06d}{'x' * 24}",
            "file_unique_id": f"AQAD{number:06d}",
            **fields,
        }

    def _next_message_id(self, chat_id: ChatId) -> int:
        value = self._message_ids.get(chat_id, 0) + 1
        self._message_ids[chat_id] = value
        return value

    def _remember_message(self, message: JSONDict) -> None:
        chat_id = message["chat"]["id"]
        self._chats.setdefault(chat_id, copy.deepcopy(message["chat"]))
        message_id = int(message["message_id"])
        self._messages[(chat_id, message_id)] = copy.deepcopy(message)
        self._message_ids[chat_id] = max(self._message_ids.get(chat_id, 0), message_id)

    def _lookup_message(self, chat_id: ChatId, message_id: int) -> JSONDict:
        key = (self._chat_key(chat_id), message_id)
        try:
            return self._messages[key]
        except KeyError:
            known = sorted(mid for cid, mid in self._messages if cid == key[0])
            raise LookupError(
                f"no message {message_id} known in chat {chat_id} (known ids: {known})"
            ) from None

    def _chat_key(self, chat_id: ChatId) -> ChatId:
        if isinstance(chat_id, str) and chat_id.startswith("@"):
            numeric: int = self._chat_for(chat_id)["id"]
            return numeric
        return chat_id

    def _user_chat(
        self, sender: JSONDict, chat_id: int | None, chat_type: str, title: str | None
    ) -> JSONDict:
        if chat_type == "private":
            chat_key = sender["id"] if chat_id is None else chat_id
            chat: JSONDict = {"id": chat_key, "type": "private"}
            chat.update(
                {k: sender[k] for k in ("first_name", "last_name", "username") if k in sender}
            )
        elif chat_type in ("group", "supergroup", "channel"):
            if chat_id is None or chat_id >= 0:
                raise ValueError(f"{chat_type} chats need a negative chat_id, got {chat_id!r}")
            known = self._chats.get(chat_id, {})
            chat = {"id": chat_id, "type": chat_type, "title": title or known.get("title")}
            chat["title"] = chat["title"] or f"Test {chat_type} {chat_id}"
        else:
            raise ValueError(f"unknown chat_type {chat_type!r}")
        self._chats[chat["id"]] = copy.deepcopy(chat)
        return chat

    def _chat_for(self, chat_id: ChatId) -> JSONDict:
        """The chat object for a target chat, inferred leniently if never seen before."""
        if isinstance(chat_id, str) and chat_id.startswith("@"):
            numeric = self._channel_ids.setdefault(
                chat_id.lower(), -1_009_000_000_000 - len(self._channel_ids)
            )
            self._chats.setdefault(
                numeric,
                {"id": numeric, "type": "channel", "title": chat_id[1:], "username": chat_id[1:]},
            )
            chat_id = numeric
        if not isinstance(chat_id, int):
            raise ApiError(400, "Bad Request: chat not found")
        if chat_id not in self._chats:
            if chat_id > 0:
                chat = {"id": chat_id, "type": "private", "first_name": "Anna"}
            elif str(chat_id).startswith("-100"):
                chat = {"id": chat_id, "type": "supergroup", "title": f"Supergroup {chat_id}"}
            else:
                chat = {"id": chat_id, "type": "group", "title": f"Group {chat_id}"}
            self._chats[chat_id] = chat
        return copy.deepcopy(self._chats[chat_id])

    def _replied_message(self, chat_id: ChatId, params: JSONDict) -> JSONDict | None:
        reply_chat: ChatId = chat_id
        reply_id = params.get("reply_to_message_id")
        reply_parameters = params.get("reply_parameters")
        if isinstance(reply_parameters, dict):
            reply_id = reply_parameters.get("message_id", reply_id)
            reply_chat = reply_parameters.get("chat_id", chat_id)
        if not isinstance(reply_id, int):
            return None
        return self._messages.get((self._chat_key(reply_chat), reply_id))

    def _editable_message(self, params: JSONDict) -> JSONDict:
        chat_id = params.get("chat_id")
        message_id = params.get("message_id")
        if chat_id in (None, "") or not isinstance(message_id, int):
            raise ApiError(400, "Bad Request: message identifier is not specified")
        message = self._messages.get((self._chat_key(chat_id), message_id))
        if message is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        if message.get("from", {}).get("id") != self.bot_id:
            raise ApiError(400, "Bad Request: message can't be edited")
        return message

    @staticmethod
    def _set_markup(message: JSONDict, markup: JSONDict | None) -> None:
        if markup is None:
            message.pop("reply_markup", None)
        else:
            message["reply_markup"] = markup

    @staticmethod
    def _checked_markup(markup: Any) -> JSONDict | None:
        """Validate ``reply_markup``; return it if it is an inline keyboard (echoed back)."""
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
        rows = markup.get("inline_keyboard")
        if rows is None:
            return None  # reply keyboards / remove / force_reply are not echoed by Telegram
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise ApiError(400, "Bad Request: can't parse inline keyboard button")
        for row in rows:
            for button in row:
                if not isinstance(button, dict) or not button.get("text"):
                    raise ApiError(400, "Bad Request: inline keyboard button text is empty")
                data = button.get("callback_data")
                if data is not None and not 1 <= len(str(data).encode()) <= 64:
                    raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
        return markup


class _FakeStarter:
    """Result of :func:`start_fake_telegram`: awaitable and an async context manager."""

    def __init__(self, fake: FakeTelegram) -> None:
        self._fake = fake

    def __await__(self) -> Generator[Any, None, FakeTelegram]:
        return self._fake.start().__await__()

    async def __aenter__(self) -> FakeTelegram:
        return await self._fake.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._fake.close()


def start_fake_telegram(token: str = DEFAULT_TOKEN, **options: Any) -> _FakeStarter:
    """Start a :class:`FakeTelegram` on a free local port.

    Use ``fake = await start_fake_telegram()`` (then ``await fake.close()``) or
    ``async with start_fake_telegram() as fake: ...``. ``options`` are passed to
    :class:`FakeTelegram` (``bot_username``, ``bot_first_name``, ``webhook_retry_delay``).
    """
    return _FakeStarter(FakeTelegram(token, **options))
