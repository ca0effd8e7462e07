"""The web server as a probe on the open internet sees it: raw bytes a browser never sends.

Each case sends what a scanner sends over a real socket to the server `lotsen run` starts
(`runner_for`), and checks that the answer is the site's page with its security headers,
never a 500, never an echo of the request, never a traceback in the log, and that nothing
about the versions the server runs on is named.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from aiohttp import web
from sqlalchemy.engine import Engine

from bot.channels.desk.app import build_desk_app
from bot.channels.desk.server import SERVER_NAME, runner_for
from bot.channels.desk.web import PRE_COOKIE, SESSION_COOKIE
from harness.desk import Clock, desk_settings
from harness.ports import free_port
from harness.workflow import local

pytestmark = pytest.mark.asyncio
NOW = local(2026, 3, 16, 9)
MARKER = "probe-marker-7f3a"


@asynccontextmanager
async def served(engine: Engine) -> AsyncIterator[int]:
    """Serve the web application as `lotsen run` does, on a free local port; yield the port."""
    runner = runner_for(build_desk_app(desk_settings(), engine, clock=Clock(NOW)))
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield port
    finally:
        await runner.cleanup()


async def raw(port: int, request: bytes) -> tuple[int, dict[str, str], str]:
    """Send raw bytes; return the status, the headers (lower-case names) and the body."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    data = await asyncio.wait_for(reader.read(), timeout=10)
    writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, body.decode("utf-8", "replace")


def assert_polite(
    status: int, headers: dict[str, str], body: str, expected: int, caplog: pytest.LogCaptureFixture
) -> None:
    """The answer is the site's page with its headers; no echo, no versions, no traceback."""
    assert status == expected
    assert headers["content-type"].startswith("text/html")
    assert headers["x-content-type-options"] == "nosniff"
    assert "default-src 'none'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"
    assert headers["server"] == SERVER_NAME
    assert "<html" in body and "Lotsen" in body
    assert MARKER not in body
    assert "Traceback" not in body
    assert not [record for record in caplog.records if record.exc_info]


PARSER_REFUSALS = {
    "request line over 8 KB": (
        b"GET /desk?" + MARKER.encode() + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        400,
    ),
    "raw 0xff in the path": (
        b"GET /desk/\xff" + MARKER.encode() + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        400,
    ),
    "Content-Length not a number": (
        b"POST /desk/login HTTP/1.1\r\nHost: x\r\nContent-Length: abc"
        + MARKER.encode()
        + b"\r\n\r\n",
        400,
    ),
    "header line over 8 KB": (
        b"GET /desk HTTP/1.1\r\nHost: x\r\nX-"
        + MARKER.encode()
        + b": "
        + b"b" * 9000
        + b"\r\n\r\n",
        400,
    ),
}


@pytest.mark.parametrize("case", sorted(PARSER_REFUSALS))
async def test_parser_refusals_are_the_sites_page(
    case: str, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    """What aiohttp's parser refuses is answered with the site's page, one log line each."""
    request, expected = PARSER_REFUSALS[case]
    caplog.set_level(logging.DEBUG)
    async with served(engine) as port:
        status, headers, body = await raw(port, request)
    assert_polite(status, headers, body, expected, caplog)
    assert [r for r in caplog.records if r.name == "bot.channels.desk.server"]


async def test_unknown_page_is_the_sites_404(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    """An unknown address gets the site's 404 page, not aiohttp's plain text."""
    async with served(engine) as port:
        status, headers, body = await raw(
            port, f"GET /{MARKER} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
        )
    assert_polite(status, headers, body, 404, caplog)


async def test_wrong_method_is_the_sites_405(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    """A method a page does not take gets the site's 405 page and keeps `Allow`."""
    async with served(engine) as port:
        status, headers, body = await raw(
            port,
            b"PUT /rapport HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        )
    assert_polite(status, headers, body, 405, caplog)
    assert "GET" in headers["allow"]


async def test_huge_form_is_the_sites_413(engine: Engine, caplog: pytest.LogCaptureFixture) -> None:
    """A form over the size limit gets the site's 413 page."""
    form = b"csrf=x&username=" + b"a" * (300 * 1024)
    request = (
        b"POST /desk/login HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\n"
        + f"Content-Length: {len(form)}\r\n\r\n".encode()
        + form
    )
    async with served(engine) as port:
        status, headers, body = await raw(port, request)
    assert_polite(status, headers, body, 413, caplog)


async def test_non_ascii_csrf_token_is_refused_not_a_crash(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    """A CSRF token with characters outside ASCII is a refused form (403), never a 500."""
    token = "åäö-" + MARKER
    form = f"csrf={token}&username=x&password=y".encode()
    request = (
        b"POST /desk/login HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        b"Content-Type: application/x-www-form-urlencoded; charset=utf-8\r\n"
        + f"Cookie: {PRE_COOKIE}=plain-ascii-token\r\n".encode()
        + f"Content-Length: {len(form)}\r\n\r\n".encode()
        + form
    )
    async with served(engine) as port:
        status, headers, body = await raw(port, request)
    assert_polite(status, headers, body, 403, caplog)


async def test_cookie_that_is_not_utf8_reads_as_signed_out(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    """A session cookie of raw bytes is no session: the desk asks to sign in, never a 500."""
    request = (
        b"GET /desk/inbox HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        + f"Cookie: {SESSION_COOKIE}=".encode()
        + b"\xff\xfe\xfd"
        + b"\r\n\r\n"
    )
    async with served(engine) as port:
        status, headers, _body = await raw(port, request)
    assert status == 303
    assert headers["location"] == "/desk/login"
    assert headers["server"] == SERVER_NAME
    assert not [record for record in caplog.records if record.exc_info]


async def test_no_versions_in_any_answer(engine: Engine) -> None:
    """Ordinary pages name the product in `Server`, never aiohttp's or Python's versions."""
    async with served(engine) as port:
        for path in ("/rapport", "/desk/login", "/static/desk.css"):
            status, headers, _body = await raw(
                port, f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
            )
            assert status == 200, path
            assert headers["server"] == SERVER_NAME, path
