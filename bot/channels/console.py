"""`lotsen chat`: the association's conversation in a terminal, without Telegram.

The console is a channel like Telegram: what the association writes goes through the same
conversation, and what it hears comes from the outbox, rendered here as plain text with
numbered choices.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

from sqlmodel import Session, col, select

from bot.conversation import Conversation
from bot.messages import Message, render
from bot.ratelimit import RateLimiter, create_rate_limiter
from bot.services import Services
from db.enquiries.notifications import Channel, Kind, Recipient
from db.intake import Writer, message_key
from db.models import OutboxMessage, utcnow
from db.people.identities import identity_for
from db.people.limits import Verdict, person_key

CONSOLE_USER_ID = 0
"""The console's one writer: its address (and conversation) on the console channel."""
CONSOLE_WRITER = Writer(Channel.CONSOLE.value, str(CONSOLE_USER_ID), str(CONSOLE_USER_ID))
QUIT = {"/quit", "/exit", "/sluta"}
COMMANDS = {"/help": Kind.HELP, "/language": Kind.LANGUAGE_CHOICE, "/status": Kind.STATUS}


def show(message: Message) -> tuple[str, list[str]]:
    """Render a message for the terminal: its text with numbered choices, and their actions."""
    lines = [message.text]
    actions = []
    for row in message.choices:
        for choice in row:
            actions.append(choice.action)
            lines.append(f"  [{len(actions)}] {choice.label}")
    return "\n".join(lines), actions


def take_messages(session: Session) -> list[Message]:
    """Render and mark as sent everything queued for the console, oldest first."""
    rows = session.exec(
        select(OutboxMessage)
        .where(
            OutboxMessage.channel == Channel.CONSOLE,
            col(OutboxMessage.sent_at).is_(None),
            col(OutboxMessage.error).is_(None),
        )
        .order_by(col(OutboxMessage.id))
    ).all()
    messages = []
    for row in rows:
        address = "console"
        if row.recipient == Recipient.ASSOCIATION:
            identity = (
                identity_for(session=session, person_id=row.recipient_id, channel=Channel.CONSOLE)
                if row.recipient_id is not None
                else None
            )
            if identity is None:  # erased meanwhile: nobody to show it to
                row.error = "the person has no console identity"
                continue
            address = f"console:{identity.address}"
        messages.append(render(session, row))
        row.sent_at = utcnow()
        row.address = address
    return messages


async def run_console(
    services: Services,
    read: Callable[[str], Awaitable[str | None]],
    write: Callable[[str], None],
) -> None:
    """Chat as an association until end of input or /quit.

    What the association writes is rate-limited per person like Telegram (the same limit,
    `RATE_LIMIT_*`): the first refused message of a flood gets one notice, and every refused
    one is counted for the coordinator.
    """
    conversation = Conversation(services, channel=Channel.CONSOLE)
    await conversation.prepare()
    writer = CONSOLE_WRITER
    limiter = create_rate_limiter(services.settings, services.engine)
    try:
        await _chat(conversation, limiter, writer, read, write)
    finally:
        await limiter.aclose()


async def _within_rate_limit(
    conversation: Conversation, limiter: RateLimiter, writer: Writer, text: str, key: str
) -> bool:
    """Tell whether the writer may go on; the first refusal of a flood gets one notice."""
    verdict = await limiter.check(person_key(writer.channel, writer.address), key=key)
    if verdict == Verdict.NOTIFY:
        await conversation.refuse_flood(writer=writer, text=text, key=key)
    return verdict == Verdict.OK


async def _chat(
    conversation: Conversation,
    limiter: RateLimiter,
    writer: Writer,
    read: Callable[[str], Awaitable[str | None]],
    write: Callable[[str], None],
) -> None:
    services = conversation.services
    choices: list[str] = []

    async def deliver() -> None:
        nonlocal choices
        choices = []
        for message in await services.db(take_messages):
            text, actions = show(message)
            write(text)
            choices.extend(actions)

    def key() -> str:
        return message_key(Channel.CONSOLE, writer.conversation or writer.address, uuid.uuid4().hex)

    if not await conversation.resume(writer=writer, key=key()):
        await conversation.start(writer=writer, key=key())
    await deliver()
    write("(Skriv /help för hjälp och /quit för att avsluta. Type /quit to leave.)")
    while True:
        line = await read("> ")
        if line is None:
            return
        text = line.strip()
        if text in QUIT:
            return
        if text.isdigit() and 1 <= int(text) <= len(choices):
            action = choices[int(text) - 1]
            if action.startswith("lang:"):
                await conversation.set_language(writer=writer, language=action[5:], key=key())
                await deliver()
                continue
            if action.startswith(("ref:", "cf:")):
                refusal = await conversation.press(writer=writer, data=action, key=key())
                if refusal is not None:
                    write(refusal)
                await deliver()
                continue
            text = line = action.removeprefix("say:")
        if text == "/start":
            await conversation.start(writer=writer, key=key())
        elif text in COMMANDS:
            await conversation.reply(writer=writer, kind=COMMANDS[text], key=key())
        elif text == "/cancel":
            await conversation.cancel(writer=writer, key=key())
        else:
            message = key()
            if await _within_rate_limit(conversation, limiter, writer, line, message):
                await conversation.handle_text(writer=writer, text=line, message_key=message)
        await deliver()


async def read_stdin(prompt: str) -> str | None:
    """Read one line from the terminal without blocking the event loop."""
    try:
        return await asyncio.to_thread(input, prompt)
    except EOFError:
        return None
