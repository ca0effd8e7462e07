"""Small pieces every message uses: names, contact lines, deadlines, durations."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlmodel import Session

from bot.i18n import t
from db.enquiries import crud
from db.enquiries.sla import LOCAL
from db.models import Contact, Department, Enquiry
from db.plumbing.phrases import N_

MAX_QUESTION_CHARS = 3000
"""A question longer than this is cut in messages to staff (the desk shows all of it)."""


def department_name(department: Department | None, language: str) -> str:
    """Return the department's name in the language, or 'the coordinator' without one."""
    if department is None:
        # Translators: who answers when no department does.
        return t(language, "samordnaren")
    if language == "en" and department.name_en:
        return department.name_en
    return department.name


def contact_line(contact: Contact | None, language: str) -> str:
    """Return one line with a contact's role, e-mail, phone and opening hours."""
    if contact is None:
        return "–"
    line = f"{contact.role}, {contact.email or ''}"
    if contact.phone:
        # Translators: after the e-mail address in a contact line, e.g. ", tel 0123-45 67 89".
        line += t(language, ", tel {phone}", phone=contact.phone)
    if contact.hours:
        line += f" ({contact.hours})"
    return line


def sla_days(*, session: Session, department: Department | None) -> int:
    """Return the department's promised answer time in whole working days."""
    municipality = crud.get_municipality(session=session)
    hours = (department.sla_hours if department else 0) or municipality.default_sla_hours
    day_length = max(municipality.workday_end_hour - municipality.workday_start_hour, 1)
    return max(1, math.ceil(hours / day_length))


def deadline(moment: datetime | None, language: str) -> str:
    """Return a deadline in local time, e.g. 'fre 2026-03-13 kl. 15:00'."""
    if moment is None:
        return "–"
    local = moment.astimezone(LOCAL)
    # Translators: a deadline; {weekday} is the short day name, {date} 2026-03-13, {time} 15:00.
    return t(
        language,
        "{weekday} {date} kl. {time}",
        weekday=t(language, WEEKDAYS[local.weekday()]),
        date=f"{local:%Y-%m-%d}",
        time=local.strftime("%H:%M"),
    )


# Translators: short names of the days of the week, Monday first.
WEEKDAYS = (N_("mån"), N_("tis"), N_("ons"), N_("tor"), N_("fre"), N_("lör"), N_("sön"))


def duration(span: timedelta, language: str) -> str:
    """Return a waiting time as days and hours, hours, or minutes."""
    minutes = int(span.total_seconds() // 60)
    days, hours = divmod(minutes // 60, 24)
    if days:
        return t(language, "{days} d {hours} h", days=days, hours=hours)
    if hours:
        return t(language, "{hours} h", hours=hours)
    return t(language, "{minutes} min", minutes=minutes)


def reference(enquiry: Enquiry) -> str:
    """Return the enquiry's reference number (its row id before it has one)."""
    return enquiry.reference or f"#{enquiry.id}"


def shortened(question: str, limit: int = MAX_QUESTION_CHARS) -> str:
    """Cut a question to what fits in one message with its header."""
    return question if len(question) <= limit else question[:limit] + " …"


# Translators: what a department of the demo municipality (db/municipality.yml) handles: the
# first line of its `handles`, shown under the department's name when an association chooses
# between two departments. Write it as a short line in plain words.
DEMO_HANDLES = (
    N_(
        "föreningsbidrag och andra bidrag till föreningar (aktivitetsstöd, lokalbidrag, "
        "startbidrag, projektbidrag, arrangemangsbidrag, lovstöd)"
    ),
    N_("detaljplaner, översiktsplan, samråd och remisser om planer"),
    N_(
        "markupplåtelse (använda torg, gator, parker och allmän plats för evenemang, "
        "marknader, insamlingar)"
    ),
    N_("kommunens upphandlingar, anbud och direktupphandling"),
    N_("samarbete mellan föreningar och förskolor, skolor och fritidshem"),
    N_("volontärer och föreningar i äldreomsorgen och på särskilda boenden"),
    N_("praktikplatser och arbetsträning i föreningar"),
    N_(
        "Överenskommelsen mellan kommunen och civilsamhället (vad den är, principerna, "
        "att ansluta sig eller lämna)"
    ),
)


def handles_line(department: Department, language: str) -> str:
    """Return one line on what a department handles, in the language when the catalogue has it.

    It is the first line of the department's `handles` (staff keep them in Swedish); the
    demo municipality's lines are translated (DEMO_HANDLES), others are shown as written.
    """
    first = next((line.strip() for line in department.handles if line.strip()), "")
    return t(language, first) if first else ""
