"""A real IMAP server on loopback for e-mail tests: Debian's Dovecot, unprivileged, own config.

XOAUTH2 is offered too: Dovecot checks the bearer token against the same password file, so the
test's token is the password (a real installation's IMAP server asks its identity provider).

Dovecot runs as the current user (as Debian's `dovecot` user when the tests run as root:
Dovecot refuses root for its login processes) with every directory in a temp folder, one mailbox
(`lotsen` / `secret`, Maildir), plain-text login on loopback only. Mail is put into it over
IMAP APPEND, as a mail server would deliver it.
"""

from __future__ import annotations

import grp
import imaplib
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.ports import free_port

USER = "lotsen"
PASSWORD = "secret"
CONFIG = """\
protocols = imap
listen = 127.0.0.1
base_dir = {folder}/run
state_dir = {folder}/state
log_path = {folder}/dovecot.log
info_log_path = {folder}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login xoauth2
default_login_user = {user}
default_internal_user = {user}
default_internal_group = {group}
mail_location = maildir:{folder}/mail/%u
first_valid_uid = 0
first_valid_gid = 0
login_trusted_networks = 127.0.0.0/8
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service stats {{
  chroot =
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {folder}/users
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={folder}/home/%u
}}
"""


@dataclass(frozen=True)
class ImapServer:
    """Where the test mailbox is, and how to put mail into it and look at it."""

    port: int
    user: str = USER
    password: str = PASSWORD

    def client(self) -> imaplib.IMAP4:
        """Return a logged-in IMAP client on the INBOX."""
        client = imaplib.IMAP4("127.0.0.1", self.port)
        client.login(self.user, self.password)
        client.select("INBOX")
        return client

    def deliver(self, raw: bytes) -> None:
        """Put a mail into the INBOX, unseen (as delivery would)."""
        client = self.client()
        try:
            status, _ = client.append("INBOX", "", imaplib.Time2Internaldate(time.time()), raw)
            assert status == "OK"
        finally:
            client.logout()

    def unseen(self) -> int:
        """Return how many mails in the INBOX are not marked seen."""
        client = self.client()
        try:
            _, data = client.search(None, "UNSEEN")
            return len(data[0].split()) if data and data[0] else 0
        finally:
            client.logout()


def _account() -> pwd.struct_passwd:
    """Return the unprivileged account Dovecot runs as."""
    if os.getuid() != 0:
        return pwd.getpwuid(os.getuid())
    try:
        return pwd.getpwnam("dovecot")
    except KeyError:
        pytest.skip("running as root without Debian's dovecot user")


@contextmanager
def running_dovecot() -> Iterator[ImapServer]:
    """Run Dovecot on a free loopback port until the block ends (its folder is removed)."""
    binary = shutil.which("dovecot") or "/usr/sbin/dovecot"
    if not Path(binary).exists():
        pytest.skip("dovecot is not installed (apt-get install dovecot-imapd)")
    account = _account()
    folder = Path(tempfile.mkdtemp(prefix="lotsen-dovecot-"))
    for sub in ("run", "state", "mail", "home"):
        (folder / sub).mkdir(exist_ok=True)
    port = free_port()
    (folder / "users").write_text(f"{USER}:{{PLAIN}}{PASSWORD}\n")
    config = folder / "dovecot.conf"
    config.write_text(
        CONFIG.format(
            folder=folder,
            port=port,
            user=account.pw_name,
            group=grp.getgrgid(account.pw_gid).gr_name,
            uid=account.pw_uid,
            gid=account.pw_gid,
        )
    )
    (folder / "dovecot.out").touch()
    (folder / "dovecot.log").touch()
    for path in [folder, *folder.rglob("*")]:
        os.chown(path, account.pw_uid, account.pw_gid)
    root = os.getuid() == 0
    process = subprocess.Popen(
        [binary, "-F", "-c", str(config)],
        stdout=(folder / "dovecot.out").open("ab"),
        stderr=subprocess.STDOUT,
        user=account.pw_uid if root else None,
        group=account.pw_gid if root else None,
        extra_groups=[] if root else None,
    )
    server = ImapServer(port)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                server.client().logout()
                break
            except (OSError, imaplib.IMAP4.error):
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                log = (
                    (folder / "dovecot.log").read_text()
                    if (folder / "dovecot.log").exists()
                    else ""
                )
                out = (folder / "dovecot.out").read_text()
                raise RuntimeError(f"dovecot did not start:\n{out}\n{log}")
            time.sleep(0.1)
        yield server
    finally:
        process.terminate()
        process.wait(10)
        shutil.rmtree(folder, ignore_errors=True)
