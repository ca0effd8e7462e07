"""Polling a functional mailbox over IMAP (imap-tools): password or XOAUTH2.

Each round fetches the unseen mails' raw bytes without marking them (`BODY.PEEK`), commits
each (`Inbound.store`), handles it, and only then marks it `\\Seen` (or moves it to
IMAP_DONE_FOLDER). A crash between the commit and the mark fetches the mail again next round:
its Message-ID finds the stored row, which is handled once. A mailbox that cannot be reached
only delays the mail; a mail that cannot be handled is held, never stops the poller.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re

from imap_tools import AND, BaseMailBox, MailBox, MailBoxUnencrypted

from bot.channels.email.inbound import Inbound
from bot.settings import Settings

log = logging.getLogger(__name__)

_SIZE = re.compile(rb"RFC822\.SIZE (\d+)")


def open_mailbox(settings: Settings) -> BaseMailBox:
    """Log in to the mailbox (XOAUTH2 when IMAP_OAUTH2_TOKEN is set, else the password)."""
    assert settings.imap_host
    host = settings.imap_host.strip()
    box: BaseMailBox = (
        MailBox(host, settings.imap_port, timeout=30)
        if settings.imap_ssl
        else MailBoxUnencrypted(host, settings.imap_port, timeout=30)
    )
    user = settings.imap_user or ""
    if settings.imap_oauth2_token is not None:
        return box.xoauth2(
            user, settings.imap_oauth2_token.get_secret_value(), settings.imap_folder
        )
    password = settings.imap_password.get_secret_value() if settings.imap_password else ""
    return box.login(user, password, settings.imap_folder)


def _fetch(box: BaseMailBox, uid: str, limit: int) -> tuple[bytes, int] | None:
    """Return a mail's raw bytes (only its header above 4 × the size limit) and its size,
    not marking it."""
    status, data = box.client.uid("fetch", uid, "(RFC822.SIZE)")
    size = 0
    for item in data or ():
        found = _SIZE.search(item if isinstance(item, bytes) else b"")
        if found:
            size = int(found.group(1))
    part = "BODY.PEEK[HEADER]" if size > limit * 4 else "BODY.PEEK[]"
    status, data = box.client.uid("fetch", uid, f"({part})")
    if status != "OK":
        return None
    for item in data or ():
        if isinstance(item, tuple) and len(item) >= 2 and isinstance(item[1], bytes):
            return item[1], max(size, len(item[1]))
    return None


class ImapPoller:
    """One mailbox, polled every IMAP_POLL_SECONDS."""

    def __init__(self, inbound: Inbound) -> None:
        self.inbound = inbound
        self.settings = inbound.settings

    def _unseen(self) -> list[tuple[str, bytes, int]]:
        with open_mailbox(self.settings) as box:
            found: list[tuple[str, bytes, int]] = []
            for uid in box.uids(AND(seen=False)):
                fetched = _fetch(box, uid, self.settings.inbound_max_bytes)
                if fetched is not None:
                    found.append((uid, *fetched))
            return found

    def _done(self, uids: list[str]) -> None:
        if not uids:
            return
        with open_mailbox(self.settings) as box:
            if self.settings.imap_done_folder:
                box.folder.exists(self.settings.imap_done_folder) or box.folder.create(
                    self.settings.imap_done_folder
                )
                box.move(uids, self.settings.imap_done_folder)
            else:
                box.flag(uids, "\\Seen", True)

    async def step(self) -> int:
        """Run one round; return how many mails were taken in."""
        mails = await asyncio.to_thread(self._unseen)
        done: list[str] = []
        for uid, raw, size in mails:
            # Mail in a mailbox has no envelope: its headers (To, Cc, Delivered-To) say whom
            # it was for.
            mail_id = await asyncio.to_thread(self.inbound.store, raw, "imap", (), size)
            await self.inbound.handle(mail_id)
            done.append(uid)
        await asyncio.to_thread(self._done, done)
        return len(done)

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until `stop` is set; an unreachable server only delays the mail."""
        await self.inbound.recover()
        while not stop.is_set():
            try:
                await self.step()
            except Exception as exc:
                log.warning("IMAP mailbox %s: %s; trying again", self.settings.imap_host, exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.settings.imap_poll_seconds)
