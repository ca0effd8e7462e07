"""`lotsen chat`: the association's conversation in a terminal, without Telegram."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

from bot.conversation import Conversation, Reply
from bot.services import Services

CONSOLE_USER_ID = 0
QUIT = {"/quit", "/exit", "/sluta"}


def render(reply: Reply) -> str:
    """Render a reply for the terminal; buttons become numbered choices."""
    lines = [reply.text]
    number = 1
    for row in reply.buttons:
        for label, _data in row:
            lines.append(f"  [{number}] {label}")
            number += 1
    return "\n".join(lines)


async def run_console(
    services: Services,
    read: Callable[[str], Awaitable[str | None]],
    write: Callable[[str], None],
) -> None:
    """Chat as an association until end of input or /quit."""
    conversation = Conversation(services)
    user, chat = CONSOLE_USER_ID, CONSOLE_USER_ID
    choices: list[str] = []

    def show(replies: list[Reply]) -> None:
        nonlocal choices
        choices = []
        for reply in replies:
            write(render(reply))
            choices.extend(data for row in reply.buttons for _label, data in row)

    show(
        [
            conversation.resume(user_id=user, chat_id=chat)
            or conversation.start(user_id=user, chat_id=chat)
        ]
    )
    write("(Skriv /help för hjälp och /quit för att avsluta. Type /quit to leave.)")
    while True:
        line = await read("> ")
        if line is None:
            return
        text = line.strip()
        if text in QUIT:
            return
        if text.isdigit() and 1 <= int(text) <= len(choices):
            data = choices[int(text) - 1]
            if data.startswith("lang:"):
                show(conversation.set_language(user_id=user, chat_id=chat, language=data[5:]))
                continue
            text = data.removeprefix("say:")
        if text in {"/start"}:
            show([conversation.start(user_id=user, chat_id=chat)])
        elif text == "/help":
            language = conversation.user_language(user_id=user, chat_id=chat)
            from bot.messages.texts import t

            show([Reply(t("help", language))])
        elif text == "/language":
            from bot.conversation import language_buttons
            from bot.messages.texts import t

            language = conversation.user_language(user_id=user, chat_id=chat)
            show([Reply(t("language_choice", language), language_buttons())])
        elif text == "/status":
            show([conversation.status(user_id=user, chat_id=chat)])
        elif text == "/cancel":
            show([conversation.cancel(user_id=user, chat_id=chat)])
        else:
            key = f"console:{uuid.uuid4().hex}"
            show(
                await conversation.handle_text(
                    user_id=user, chat_id=chat, text=line, message_key=key
                )
            )


async def read_stdin(prompt: str) -> str | None:
    """Read one line from the terminal without blocking the event loop."""
    try:
        return await asyncio.to_thread(input, prompt)
    except EOFError:
        return None
