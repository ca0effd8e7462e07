"""The coordinator's escalation cards: text, buttons and the department and reason pickers."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from bot.messages import choices as callbacks
from bot.messages.texts import t
from bot.messages.workflow import Keyboard, keyboard
from db.models import Department, Escalation, utcnow
from db.queue_facts import QueueItem, department_name, queue_item

MAX_GUESSES = 3
MAX_QUESTION_CHARS = 3000


def reason_text(item: QueueItem, language: str = "sv") -> str:
    """Return the human-readable reason the enquiry is in the queue."""
    reason = item.escalation.reason
    key = f"q_reason_{reason}"
    department = department_name(item.department, language) or t("no_department", language)
    try:
        return t(key, language, department=department)
    except KeyError:
        return reason


def waited_text(item: QueueItem, language: str = "sv") -> str:
    """Return how long the escalation has waited: days and hours, and working hours."""
    minutes = int(item.waited.total_seconds() // 60)
    days, hours = divmod(minutes // 60, 24)
    if days:
        duration = f"{days} d {hours} h"
    elif hours:
        duration = f"{hours} h"
    else:
        duration = f"{minutes} min"
    return t(
        "q_waited",
        language,
        duration=duration,
        work=f"{item.waited_working_hours:.1f}".rstrip("0").rstrip("."),
    )


def guesses_text(*, session: Session, item: QueueItem, language: str = "sv") -> str:
    """Return the model's best guesses as 'Department 62 %, …'."""
    if not item.guesses:
        return t("q_no_guesses", language)
    names = {d.key: d for d in session.exec(select(Department)).all()}
    parts = []
    for key, score in sorted(item.guesses, key=lambda g: -g[1])[:MAX_GUESSES]:
        name = department_name(names.get(key), language) or key
        parts.append(f"{name} {round(score * 100)} %")
    return ", ".join(parts)


def card_keyboard(escalation_id: int, language: str = "sv") -> Keyboard:
    """Return the Claim / Answer / Route / Close buttons of a card."""
    return keyboard(
        [
            [
                (t("q_btn_claim", language), callbacks.queue("claim", escalation_id)),
                (t("q_btn_answer", language), callbacks.queue("answer", escalation_id)),
            ],
            [
                (t("q_btn_route", language), callbacks.queue("route", escalation_id)),
                (t("q_btn_close", language), callbacks.queue("close", escalation_id)),
            ],
        ]
    )


def card_text(*, session: Session, item: QueueItem, language: str = "sv") -> str:
    """Return the text of a card for a queue item."""
    question = item.enquiry.text
    if len(question) > MAX_QUESTION_CHARS:
        question = question[:MAX_QUESTION_CHARS] + " …"
    return t(
        "q_card",
        language,
        reference=item.enquiry.reference or f"#{item.enquiry.id}",
        reason=reason_text(item, language),
        association=item.association or t("q_unknown_association", language),
        rare=t("q_rare", language) if item.rarely_in_contact else "",
        waited=waited_text(item, language),
        guesses=guesses_text(session=session, item=item, language=language),
        claimed=item.claimed_by_name or t("q_nobody", language),
        question=question,
    )


def render_card(
    *, session: Session, escalation: Escalation, now: datetime | None = None, language: str = "sv"
) -> tuple[str, Keyboard]:
    """Return the card text and its buttons for an escalation (also to refresh a sent card)."""
    assert escalation.id is not None
    item = queue_item(session=session, escalation=escalation, now=now or utcnow())
    return card_text(session=session, item=item, language=language), card_keyboard(
        escalation.id, language
    )


def route_picker(*, session: Session, escalation_id: int, language: str = "sv") -> Keyboard:
    """Return one button per department, for routing an escalation (q:to:<id>:<key>)."""
    departments = session.exec(select(Department).order_by(Department.name)).all()
    return keyboard(
        [
            [(department_name(d, language) or d.key, callbacks.route_to(escalation_id, d.key))]
            for d in departments
            if callbacks.usable_department_key(d.key)
        ]
    )


def close_picker(escalation_id: int, language: str = "sv") -> Keyboard:
    """Return one button per close reason (q:why:<id>:<reason>)."""
    return keyboard(
        [
            [(t(f"q_close_{code}", language), callbacks.close_reason(escalation_id, code))]
            for code in callbacks.CLOSE_REASONS
        ]
    )
