"""The web server's own answers: requests aiohttp's parser refuses, and the `Server` header.

A request line over 8 KB, a raw `\\xff` in the path or `Content-Length: abc` never reaches the
application: aiohttp's protocol handler answers it itself, in plain text that echoes the
request, without the site's security headers, and logs a traceback each time. On the open
internet those arrive by the thousand, so `DeskRunner` answers them like every other page
(the site's polite problem page, the security headers, no echo) and logs one line without a
traceback.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

from bot.channels.desk.pages import BILINGUAL, environment
from db.plumbing.phrases import N_, Phrase

log = logging.getLogger(__name__)

SERVER_NAME = "Lotsen"
"""The `Server` header: the product, never the versions of what it runs on."""

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
}
"""Sent with every response of the web server, the parser's refusals included."""


def refusal_page(status: int) -> str:
    """Return the problem page for a request the server could not read (default view)."""
    if status == 413:
        title, text = (
            Phrase(N_("Det du skickade var för stort")),
            Phrase(N_("Skicka mindre på en gång och försök igen.")),
        )
    else:
        title, text = (
            Phrase(N_("Felaktig begäran")),
            Phrase(N_("Begäran gick inte att läsa. Gå tillbaka och försök igen.")),
        )
    return (
        environment(BILINGUAL)
        .get_template("problem.html")
        .render(principal=None, csrf="", path="/", languages=[], title=title, text=text)
    )


class PoliteRequestHandler(RequestHandler):
    """aiohttp's protocol handler, answering unreadable requests like the rest of the site."""

    __slots__ = ()

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        """Answer a request the server could not handle: one log line, a polite page."""
        if status >= 500:
            log.error(
                "web: request from %s failed before the application (%s)",
                request.remote,
                type(exc).__name__ if exc else status,
            )
        else:
            log.info(
                "web: unreadable request from %s answered %d (%s)",
                request.remote,
                status,
                type(exc).__name__ if exc else "-",
            )
        if request.writer.output_size > 0:
            raise ConnectionError("response already started; cannot send the error page")
        response = web.Response(
            status=status,
            text=refusal_page(status),
            content_type="text/html",
            headers={**SECURITY_HEADERS, "Cache-Control": "no-store", "Server": SERVER_NAME},
        )
        response.force_close()
        return response


class _PoliteServer(web.Server):
    """aiohttp's low-level server, with the polite protocol handler."""

    __slots__ = ()

    def __call__(self) -> RequestHandler:
        return PoliteRequestHandler(self, loop=self._loop, **self._kwargs)


class DeskRunner(web.AppRunner):
    """An `AppRunner` whose connections answer unreadable requests with the site's page."""

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        server.__class__ = _PoliteServer
        return server


def runner_for(app: web.Application, **kwargs: Any) -> DeskRunner:
    """Return the runner that serves the web application (desk, report, public pages)."""
    return DeskRunner(app, access_log=None, **kwargs)
