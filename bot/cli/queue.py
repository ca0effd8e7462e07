"""`lotsen queue …` and `lotsen training …`: the coordinator's queue and reviewed corrections.

Acting commands take `--as USER`: a numeric Telegram user id holding the coordinator (or
admin) role, or `cli` for a local operator. `cli` needs no role: whoever can run this command
already holds the database credentials; the history records the actor as "cli".
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import typer
from sqlmodel import Session, col, select

from bot.cli.common import cli_language, fail, open_session, say, settings_or_exit
from bot.i18n import nt, pt, t
from db.models import Enquiry, Escalation, StaffRole, TrainingCandidate

queue_app = typer.Typer(help="The coordinator's escalation queue.", no_args_is_help=True)
training_app = typer.Typer(
    help="Training candidates from corrections (used only after review).", no_args_is_help=True
)

AS_HELP = "Act as this Telegram user id (coordinator or admin), or 'cli' for a local operator."


def _staff_id(session: Session, who: str | None) -> int:
    """Return the acting staff id for `--as`, refusing users without the coordinator role."""
    from bot.cli.staff import parse_identity
    from db.enquiries import crud
    from db.people.staff_identities import find_staff_person, local_operator
    from db.plumbing.validation import ValidationProblem

    language = cli_language()
    if who is None:
        # Translators: USER_ID stands for a number the operator fills in.
        message = t(
            language, "Säg vem som agerar: --as ANVÄNDAR_ID (en samordnare) eller --as cli."
        )
        raise fail(message, 2)
    if who.strip().lower() == "cli":
        operator = local_operator(session=session)
        assert operator.id is not None
        return operator.id
    try:
        channel, address = parse_identity(who)
    except ValidationProblem:
        message = t(
            language,
            "--as ska vara ett Telegram-användar-id (siffror) eller 'cli', inte {who!r}.",
            who=who,
        )
        raise fail(message, 2) from None
    person = find_staff_person(session=session, channel=channel, address=address)
    person_id = person.id if person is not None else None
    if person_id is None or not crud.has_role(
        session=session, person_id=person_id, roles={StaffRole.COORDINATOR}
    ):
        message = t(
            language,
            "Användaren {user_id} är inte samordnare eller admin; inget ändrades.",
            user_id=who.strip(),
        )
        raise fail(message)
    return person_id


def _escalation_id(session: Session, ident: str) -> int:
    """Return an escalation id from an id or a reference number (its newest escalation)."""
    from db.enquiries import crud

    if ident.isdigit():
        return int(ident)
    enquiry = crud.enquiry_by_reference(session=session, reference=ident)
    if enquiry is None:
        # Translators: {ident} is what the operator typed: an id or a reference number.
        message = t(cli_language(), "Hittar varken eskalering eller ärende {ident!r}.", ident=ident)
        raise fail(message)
    escalation = session.exec(
        select(Escalation)
        .where(Escalation.enquiry_id == enquiry.id)
        .order_by(col(Escalation.id).desc())
    ).first()
    if escalation is None or escalation.id is None:
        message = t(
            cli_language(), "{reference} har aldrig legat i kön.", reference=enquiry.reference
        )
        raise fail(message)
    return escalation.id


@queue_app.command("list")
def list_command(
    unclaimed: bool = typer.Option(False, "--unclaimed", help="Only escalations nobody holds."),
    mine: bool = typer.Option(False, "--mine", help="Only escalations held by --as."),
    who: str | None = typer.Option(None, "--as", help=AS_HELP),
    department: str | None = typer.Option(None, "--department", help="Department key."),
) -> None:
    """List open escalations, oldest first (* = association rarely in contact)."""
    from bot.messages.coordinator import reason_text, waited_text
    from db.enquiries.queue import QueueError, list_queue

    if unclaimed and mine:
        raise fail(t(cli_language(), "Använd antingen --unclaimed eller --mine, inte båda."), 2)
    with open_session() as session:
        staff_id = _staff_id(session, who) if mine or who is not None else None
        try:
            items = list_queue(
                session=session,
                filter="unclaimed" if unclaimed else "mine" if mine else "all",
                staff_user_id=staff_id,
                department_key=department,
            )
        except QueueError as exc:
            raise fail(say(exc)) from None
        language = cli_language()
        _echo_refusals(session, language)
        if not items:
            typer.echo(t(language, "Kön är tom."))
            return
        for item in items:
            rare = "*" if item.rarely_in_contact else " "
            claimed = (
                # Translators: after a queue line: which coordinator has taken the escalation.
                "  " + t(language, "[tagen av {name}]", name=item.claimed_by_name)
                if item.claimed_by_name
                else ""
            )
            typer.echo(
                f"{item.escalation.id:>5}  {item.enquiry.reference}  {rare} "
                f"{(item.association or '-')[:28]:<28}  {waited_text(item, language):<28}  "
                f"{reason_text(item, language)}{claimed}"
            )


def _echo_refusals(session: Session, language: str) -> None:
    """Name the people whose messages the rate limit refused today, so floods are seen."""
    from bot.messages.coordinator import refusals_line
    from db.people.limits import refusals_on

    line = refusals_line(refusals_on(session, day=datetime.now(UTC).date()), language)
    if line is not None:
        typer.echo(line)


@queue_app.command("show")
def show_command(ident: str = typer.Argument(..., help="Escalation id or reference.")) -> None:
    """Show an escalation's card and the enquiry's full history."""
    from bot.messages.coordinator import card
    from db.enquiries.queue import history

    language = cli_language()
    with open_session() as session:
        escalation = session.get(Escalation, _escalation_id(session, ident))
        if escalation is None:
            raise fail(t(language, "Ingen eskalering med id {id}.", id=ident))
        enquiry = session.get(Enquiry, escalation.enquiry_id)
        assert enquiry is not None
        text = card(session=session, escalation=escalation, language=language).text
        # Translators: {status} is the enquiry's status code (routed, forwarded, answered, …).
        heading = t(
            language,
            "Eskalering {id} – {state}; ärendets status: {status}",
            id=escalation.id,
            state=_state(escalation, language),
            status=enquiry.status,
        )
        typer.echo(heading)
        typer.echo(text)
        typer.echo()
        typer.echo(t(language, "Historik:"))
        for event in history(session=session, enquiry=enquiry):
            detail = ", ".join(f"{k}={v}" for k, v in event.detail.items())
            typer.echo(f"  {event.at:%Y-%m-%d %H:%M} UTC  {event.kind:<10} {event.actor}  {detail}")


def _state(escalation: Escalation, language: str) -> str:
    """Return whether an escalation is open, or when and how it was resolved."""
    if escalation.resolved_at is None:
        # Translators: the state of an escalation in `lotsen queue show`.
        return pt(language, "escalation state", "öppen")
    # Translators: {resolution} is how it was resolved (answered, closed, erased, …).
    return t(
        language,
        "löst {at} UTC ({resolution})",
        at=escalation.resolved_at.strftime("%Y-%m-%d %H:%M"),
        resolution=escalation.resolution,
    )


@contextmanager
def _acting_on(ident: str, who: str | None) -> Iterator[tuple[Session, int, int]]:
    """Open a session as the acting coordinator on one escalation; a refusal is one error line."""
    from db.enquiries.workflow import WorkflowError

    with open_session() as session:
        staff_id = _staff_id(session, who)
        escalation_id = _escalation_id(session, ident)
        try:
            yield session, staff_id, escalation_id
        except WorkflowError as exc:
            raise fail(say(exc)) from None


@queue_app.command("claim")
def claim_command(
    ident: str = typer.Argument(..., help="Escalation id or reference."),
    who: str | None = typer.Option(None, "--as", help=AS_HELP),
) -> None:
    """Claim an escalation so that other coordinators see you handle it."""
    from db.enquiries.queue import claim

    with _acting_on(ident, who) as (session, staff_id, escalation_id):
        if session.get(Escalation, escalation_id) is None:
            raise fail(t(cli_language(), "Ingen eskalering med id {id}.", id=escalation_id))
        result = claim(session=session, escalation_id=escalation_id, staff_user_id=staff_id)
        if not result.ok:
            raise fail(say(result.message()))
        typer.echo(say(result.message()))


@queue_app.command("answer")
def answer_command(
    ident: str = typer.Argument(..., help="Escalation id or reference."),
    text: str = typer.Argument(..., help="The answer to send to the association."),
    who: str | None = typer.Option(None, "--as", help=AS_HELP),
) -> None:
    """Answer the association as the coordinator (claims the escalation if nobody holds it)."""
    from db.enquiries.queue import answer

    with _acting_on(ident, who) as (session, staff_id, escalation_id):
        message = answer(
            session=session, escalation_id=escalation_id, text=text, staff_user_id=staff_id
        )
        if message:
            typer.echo(t(cli_language(), "Svaret ligger i kö till föreningen."))
        else:
            typer.echo(
                t(cli_language(), "Svaret är sparat (det finns ingen chatt att skicka till).")
            )


@queue_app.command("route")
def route_command(
    ident: str = typer.Argument(..., help="Escalation id or reference."),
    department: str = typer.Argument(..., help="Department key, e.g. kultur_fritid."),
    who: str | None = typer.Option(None, "--as", help=AS_HELP),
) -> None:
    """Send the enquiry to a department with a fresh deadline (and propose a training example)."""
    from db.enquiries.queue import route

    settings = settings_or_exit()
    with _acting_on(ident, who) as (session, staff_id, escalation_id):
        result = route(
            session=session,
            escalation_id=escalation_id,
            department_key=department,
            staff_user_id=staff_id,
            email_enabled=settings.email_enabled,
        )
        values = {"reference": result.enquiry.reference, "department": result.department.key}
        unreachable = result.unreachable()
        if unreachable is not None:
            message = say(unreachable)
        else:
            message = t(
                cli_language(),
                "{reference} skickat till {department} och vidare till förvaltningen.",
                **values,
            )
        typer.echo(message)
        if result.candidate is not None:
            # Translators: {intent} is the topic the question becomes an example of.
            proposed = t(
                cli_language(),
                "Träningsförslag {id} ({intent}) väntar på granskning: lotsen training list",
                id=result.candidate.id,
                intent=result.candidate.intent,
            )
            typer.echo(proposed)


@queue_app.command("close")
def close_command(
    ident: str = typer.Argument(..., help="Escalation id or reference."),
    reason: str = typer.Argument(
        ..., help="answered_elsewhere, duplicate, spam, not_municipal or other."
    ),
    who: str | None = typer.Option(None, "--as", help=AS_HELP),
) -> None:
    """Close the enquiry with a reason and tell the association."""
    from db.enquiries.queue import close

    with _acting_on(ident, who) as (session, staff_id, escalation_id):
        close(
            session=session,
            escalation_id=escalation_id,
            reason_code=reason,
            staff_user_id=staff_id,
        )
        # Translators: {reason} is the reason code (duplicate, spam, …).
        closed = t(
            cli_language(), "Eskalering {id} avslutad ({reason}).", id=escalation_id, reason=reason
        )
        typer.echo(closed)


@queue_app.command("sweep")
def sweep_command() -> None:
    """Send due reminders and escalate enquiries past their deadline, now."""
    from db.enquiries.deadlines import sweep_deadlines
    from db.models import utcnow
    from db.routing.confirmation import sweep_unconfirmed

    with open_session() as session:
        report = sweep_deadlines(session=session, now=utcnow())
        report.escalated += sweep_unconfirmed(session=session, now=utcnow())
    language = cli_language()
    # Translators: after `lotsen queue sweep`, which checks every enquiry's deadline.
    typer.echo(t(language, "Tidsfrister kontrollerade – {summary}.", summary=say(report.summary())))
    for reference in report.reminded:
        # Translators: the two lines are aligned: pad so that the references line up.
        typer.echo("  " + t(language, "påmind    {reference}", reference=reference))
    for reference in report.escalated:
        typer.echo("  " + t(language, "eskalerad {reference}", reference=reference))


@training_app.command("list")
def training_list(
    pending: bool = typer.Option(False, "--pending", help="Only candidates not yet reviewed."),
) -> None:
    """List training candidates proposed by corrections."""
    from db.routing.training import example_line, list_candidates

    with open_session() as session:
        rows = list_candidates(session=session, only_pending=pending)
        language = cli_language()
        if not rows:
            typer.echo(t(language, "Inga träningsförslag."))
            return
        for row in rows:
            state = _review_state(row, language)
            text = example_line(row.text)
            text = text if len(text) <= 70 else text[:69] + "…"
            typer.echo(f"{row.id:>5}  {row.intent:<28} {state:<22} {text}")


def _review_state(row: TrainingCandidate, language: str) -> str:
    """Return whether a training candidate awaits review, or who accepted or rejected it."""
    if row.reviewed_at is None:
        # Translators: a training candidate nobody has reviewed yet (`lotsen training list`).
        return pt(language, "training candidate", "väntar")
    if row.accepted:
        return t(language, "godkänt av {who}", who=row.reviewed_by)
    return t(language, "avvisat av {who}", who=row.reviewed_by)


@training_app.command("review")
def training_review(
    candidate_id: int = typer.Argument(..., help="Candidate id (see `lotsen training list`)."),
    accept: bool = typer.Option(False, "--accept", help="Use it as a training example."),
    reject: bool = typer.Option(False, "--reject", help="Never use it."),
    intent: str | None = typer.Option(None, "--intent", help="Correct the intent first."),
) -> None:
    """Accept or reject a training candidate."""
    from db.routing.training import TrainingError, review

    if accept == reject:
        raise fail(t(cli_language(), "Ange --accept eller --reject (en av dem)."), 2)
    with open_session() as session:
        try:
            row = review(
                session=session,
                candidate_id=candidate_id,
                accept=accept,
                reviewer="cli",
                intent=intent,
            )
        except TrainingError as exc:
            raise fail(say(exc)) from None
        if accept:
            message = t(
                cli_language(), "Förslag {id} godkänt ({intent}).", id=row.id, intent=row.intent
            )
        else:
            message = t(
                cli_language(), "Förslag {id} avvisat ({intent}).", id=row.id, intent=row.intent
            )
        typer.echo(message)


@training_app.command("export")
def training_export(
    file: Path = typer.Argument(..., help="Where to write the Rasa NLU YAML, e.g. nlu/new.yml."),
) -> None:
    """Write accepted candidates as Rasa 3 NLU YAML (for review before adding to nlu/)."""
    from db.routing.training import export_nlu_yaml

    with open_session() as session:
        text, count = export_nlu_yaml(session=session)
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(text, encoding="utf-8")
    except OSError as exc:
        message = t(cli_language(), "Kunde inte skriva {file}: {problem}", file=file, problem=exc)
        raise fail(message) from None
    written = nt(
        cli_language(),
        "Skrev {count} godkänt exempel till {file}.",
        "Skrev {count} godkända exempel till {file}.",
        count,
        file=file,
    )
    typer.echo(written)


def register(app: typer.Typer) -> None:
    """Attach the `queue` and `training` groups."""
    app.add_typer(queue_app, name="queue")
    app.add_typer(training_app, name="training")
