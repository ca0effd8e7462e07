"""Helpers for desk tests: staff members, sign-in through a one-time link, CSRF tokens."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.engine import Engine

from bot.channels.desk.auth import create_login_link
from db import crud
from db.models import StaffMember
from db.session import session_scope

COORDINATOR_ID = 111
STAFF_ID = 222
OTHER_STAFF_ID = 333
BASE_URL = "http://desk.test"
CSRF_RE = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass
class Clock:
    """A frozen, movable clock handed to the desk app."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now


def add_staff(engine: Engine) -> None:
    """Add a coordinator, a kultur_fritid clerk and a teknik clerk."""
    with session_scope(engine) as session:
        culture = crud.department_by_key(session=session, key="kultur_fritid")
        technical = crud.department_by_key(session=session, key="teknik")
        assert culture is not None and technical is not None
        session.add(StaffMember(telegram_user_id=COORDINATOR_ID, role="coordinator", name="Cora"))
        session.add(
            StaffMember(
                telegram_user_id=STAFF_ID, role="staff", department_id=culture.id, name="Sam"
            )
        )
        session.add(
            StaffMember(
                telegram_user_id=OTHER_STAFF_ID,
                role="staff",
                department_id=technical.id,
                name="Tove",
            )
        )


def login_path(engine: Engine, telegram_user_id: int, now: datetime) -> str:
    """Return the path and query of a fresh one-time sign-in link."""
    with session_scope(engine) as session:
        link = create_login_link(
            session=session, telegram_user_id=telegram_user_id, base_url=BASE_URL, now=now
        )
    assert link is not None
    return link.removeprefix(BASE_URL)


def csrf_of(html: str) -> str:
    """Return the first CSRF token in a page."""
    found = CSRF_RE.search(html)
    assert found is not None, "no CSRF field on the page"
    return found.group(1)
