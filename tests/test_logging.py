"""The bot token and the webhook secret never reach the logs, whatever logs them."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import httpx
import pytest

from bot.logging_setup import RedactSecrets, setup_logging
from bot.settings import Settings

TOKEN = "7000000000:AAHk-Secret_TokenValue1234567890abcd"
SECRET = "webhook-secret-0123456789abcdef"


@pytest.fixture
def root_stream() -> Iterator[io.StringIO]:
    """Configure logging as the bot does, from an empty root logger; yield its handler's stream."""
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    root.handlers = []
    settings = Settings(
        telegram_bot_token=TOKEN,
        webhook_secret=SECRET,
        log_level="DEBUG",
        _env_file=None,
    )
    setup_logging(settings)
    [handler] = root.handlers
    assert isinstance(handler, logging.StreamHandler)
    stream = io.StringIO()
    handler.setStream(stream)
    try:
        yield stream
    finally:
        root.handlers = saved_handlers
        root.setLevel(saved_level)
        logging.getLogger("httpx").setLevel(logging.NOTSET)


def _assert_clean(output: str) -> None:
    assert TOKEN not in output
    assert SECRET not in output
    assert TOKEN.split(":", 1)[1] not in output


def test_plain_messages_and_arguments_are_redacted(root_stream: io.StringIO) -> None:
    log = logging.getLogger("lotsen.test")
    log.info("Starting with token %s", TOKEN)
    log.warning(f"Webhook secret is {SECRET}")
    log.error("both: %s and %s", TOKEN, {"secret": SECRET})
    output = root_stream.getvalue()
    _assert_clean(output)
    assert output.count("[REDACTED]") == 4
    assert "Starting with token [REDACTED]" in output


def test_httpx_style_url_lines_are_redacted(root_stream: io.StringIO) -> None:
    url = httpx.URL(f"https://api.telegram.org/bot{TOKEN}/getMe")
    httpx_log = logging.getLogger("httpx")
    httpx_log.warning('HTTP Request: %s %s "%s %d %s"', "POST", url, "HTTP/1.1", 200, "OK")
    httpx_log.info('HTTP Request: %s %s "%s %d %s"', "GET", url, "HTTP/1.1", 200, "OK")
    logging.getLogger("telegram.ext.Updater").debug("Calling %s", str(url))
    output = root_stream.getvalue()
    _assert_clean(output)
    assert "https://api.telegram.org/bot[REDACTED]/getMe" in output
    assert "GET" not in output  # httpx INFO lines are switched off: WARNING and up only


def test_exception_tracebacks_are_redacted(root_stream: io.StringIO) -> None:
    request = httpx.Request("POST", f"https://api.telegram.org/bot{TOKEN}/setWebhook")
    response = httpx.Response(401, request=request)
    try:
        response.raise_for_status()
    except httpx.HTTPStatusError:
        logging.getLogger("telegram.ext.Application").exception("Failed with secret %s", SECRET)
    output = root_stream.getvalue()
    _assert_clean(output)
    assert "Traceback" in output and "bot[REDACTED]/setWebhook" in output


def test_existing_handlers_get_the_filter_too() -> None:
    root = logging.getLogger()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root.addHandler(handler)
    try:
        setup_logging(Settings(telegram_bot_token=TOKEN, _env_file=None))
        assert any(isinstance(f, RedactSecrets) for f in handler.filters)
        logging.getLogger("lotsen.test").warning("token=%s", TOKEN)
        assert stream.getvalue().strip() == "token=[REDACTED]"
    finally:
        root.removeHandler(handler)
        for other in root.handlers:
            for flt in [f for f in other.filters if isinstance(f, RedactSecrets)]:
                other.removeFilter(flt)
        logging.getLogger("httpx").setLevel(logging.NOTSET)


def test_the_smtp_password_and_the_link_secret_are_redacted(root_stream: io.StringIO) -> None:
    root = logging.getLogger()
    saved = root.handlers[:]
    root.handlers = []
    try:
        setup_logging(
            Settings(
                smtp_password="smtp-pass-0123456789",
                link_secret="link-secret-abcdefghij",
                _env_file=None,  # type: ignore[call-arg]
            )
        )
        [handler] = root.handlers
        stream = io.StringIO()
        assert isinstance(handler, logging.StreamHandler)
        handler.setStream(stream)
        logging.getLogger("bot.channels.email").warning(
            "login refused for %s / %s", "smtp-pass-0123456789", "link-secret-abcdefghij"
        )
    finally:
        root.handlers = saved
    output = stream.getvalue()
    assert "smtp-pass-0123456789" not in output and "link-secret-abcdefghij" not in output
    assert output.count("[REDACTED]") == 2
