"""Texts and buttons of the enquiry workflow: forwards and reminders to departments, answers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.messages import choices as callbacks
from bot.messages.texts import t
from db.sla import LOCAL

WEEKDAYS = {
    "sv": ("mån", "tis", "ons", "tor", "fre", "lör", "sön"),
    "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
}

Keyboard = dict[str, Any]


def keyboard(rows: list[list[tuple[str, str]]]) -> Keyboard:
    """Return an inline keyboard in Telegram's JSON form from rows of (label, callback data)."""
    return {
        "inline_keyboard": [
            [{"text": label, "callback_data": data} for label, data in row] for row in rows
        ]
    }


def format_deadline(moment: datetime | None, language: str) -> str:
    """Return a deadline in local time, e.g. 'fre 2026-03-13 kl. 15:00'."""
    if moment is None:
        return "–"
    local = moment.astimezone(LOCAL)
    day = WEEKDAYS.get(language, WEEKDAYS["sv"])[local.weekday()]
    clock = local.strftime("%H:%M")
    joiner = " kl. " if language != "en" else " "
    return f"{day} {local:%Y-%m-%d}{joiner}{clock}"


def department_keyboard(enquiry_id: int, language: str = "sv") -> Keyboard:
    """Return the Answer / Not ours buttons under a forwarded enquiry."""
    return keyboard(
        [
            [
                (t("wf_btn_answer", language), callbacks.department_answer(enquiry_id)),
                (t("wf_btn_not_ours", language), callbacks.department_not_ours(enquiry_id)),
            ]
        ]
    )


def feedback_keyboard(enquiry_id: int, language: str) -> Keyboard:
    """Return the Yes / No buttons under an answer to the association."""
    return keyboard(
        [
            [
                (t("wf_btn_yes", language), callbacks.feedback(enquiry_id, True)),
                (t("wf_btn_no", language), callbacks.feedback(enquiry_id, False)),
            ]
        ]
    )


def forward_text(
    *, reference: str, association: str, question: str, deadline: datetime | None, language: str
) -> str:
    """Return the message that hands an enquiry to a department chat."""
    return t(
        "wf_forward",
        language,
        reference=reference,
        association=association,
        question=question,
        deadline=format_deadline(deadline, language),
    )


def reminder_text(
    *, reference: str, association: str, question: str, deadline: datetime | None, language: str
) -> str:
    """Return the reminder a department gets when its deadline draws near."""
    return t(
        "wf_reminder",
        language,
        reference=reference,
        association=association,
        question=question,
        deadline=format_deadline(deadline, language),
    )


def answer_text(*, reference: str, who: str, text: str, language: str) -> str:
    """Return the message that brings an answer to the association."""
    return t("wf_answer", language, reference=reference, who=who, text=text)


def closed_text(*, reference: str, reason_code: str, language: str) -> str:
    """Return the notice telling the association its enquiry was closed, and why."""
    why = t(f"wf_closed_{reason_code}", language)
    text = t("wf_closed", language, reference=reference, why=why)
    return text.replace(" \n", "\n")
