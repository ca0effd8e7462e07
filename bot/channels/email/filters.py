"""No loops, no noise: which inbound e-mails Lotsen never answers nor relays, and why.

Honoured (RFC 3834 and what the big mail systems really send): `Auto-Submitted` other than
`no`; `X-Autoreply`/`X-Autorespond` (Gmail's vacation responder and others);
`X-Auto-Response-Suppress` (Exchange marks its automatic mail with it); `Precedence: bulk`,
`list` or `junk`; `List-Unsubscribe`/`List-Id` (mailing lists, newsletters); delivery status
notifications (`multipart/report`, mail from MAILER-DAEMON or postmaster, an empty
`Return-Path`); Exchange's out-of-office (`X-MS-Exchange-Inbox-Rules-Loop`, an
`X-MS-Exchange-Generated-Message-Source` or an automatic-reply subject); and mail from Lotsen's
own address. Lotsen's own mail carries `Auto-Submitted: auto-generated` and
`X-Auto-Response-Suppress: All` so that other systems do the same.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from bot.channels.email.parse import Incoming

BULK_PRECEDENCE = frozenset({"bulk", "list", "junk"})
DAEMONS = ("mailer-daemon@", "postmaster@", "mail-daemon@", "noreply-dmarc-support@")
AUTO_SUBJECT = re.compile(
    r"^\s*(automatic reply|auto(matic)?[ -]?(reply|response)|autosvar|automatiskt svar|"
    r"out of (the )?office|frånvaro(meddelande)?|abwesenheitsnotiz|"
    r"undeliverable|delivery status notification|returned mail|olevererbar)\b",
    re.IGNORECASE,
)


def noise(mail: Incoming, own: Iterable[str]) -> str | None:
    """Return why a mail must be neither answered nor relayed, None when it may be."""
    auto = mail.header("Auto-Submitted").lower()
    if auto and auto.split(";")[0].strip() != "no":
        return "auto_submitted"
    if mail.header("X-Autoreply") or mail.header("X-Autorespond"):
        return "auto_reply"
    if mail.header("X-Auto-Response-Suppress"):
        return "auto_reply"
    if mail.header("X-MS-Exchange-Inbox-Rules-Loop") or mail.header(
        "X-MS-Exchange-Generated-Message-Source"
    ):
        return "out_of_office"
    if mail.header("Precedence").lower() in BULK_PRECEDENCE:
        return "bulk"
    if mail.header("List-Unsubscribe") or mail.header("List-Id"):
        return "bulk"
    if mail.headers.get_content_type() == "multipart/report":
        return "bounce"
    sender = mail.sender or ""
    if sender.startswith(DAEMONS) or mail.header("Return-Path").strip() == "<>":
        return "bounce"
    if AUTO_SUBJECT.match(mail.subject):
        return "out_of_office"
    owned = {address.strip().lower() for address in own if address}
    if sender in owned:
        return "own_address"
    return None
