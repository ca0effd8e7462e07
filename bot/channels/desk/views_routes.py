"""The coordinator's routing page (every topic, moved to a department or to the coordinator)
and the learning loop (training candidates accepted or rejected)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from aiohttp import web
from sqlmodel import Session, col, select

from bot.channels.desk.web import (
    DOMAIN_FILE,
    checked_form,
    not_found,
    now_of,
    render,
    require,
    run_db,
    see_other,
)
from db.enquiries import crud
from db.models import Authority, Department
from db.plumbing.phrases import N_, Phrase
from db.plumbing.validation import ValidationProblem
from db.privacy.masking import mask_personal_data
from db.routing.authorities import (
    authority_by_key,
    list_authorities,
    remove_authority,
    set_authority,
)
from db.routing.overview import QUESTION_DAYS, TopicRow, move_topic, topic_overview
from db.routing.routing_file import RasaDomainFileError, load_domain_intents
from db.routing.training import (
    CandidateView,
    ReviewOverview,
    TrainingError,
    review,
    review_overview,
)

COORDINATOR = "coordinator"
"""The value of the department choice that sends a topic's questions to the coordinator."""
MAX_ROW_ID = 2**31 - 1  # PostgreSQL's integer
SEARCH_CHARS = 100
ROUTES_DONE = {
    "moved": Phrase(N_("Ämnet är flyttat. Det gäller från nästa fråga.")),
    "same": Phrase(N_("Ämnet gick redan dit. Inget ändrades.")),
    "authority": Phrase(N_("Myndigheten är sparad. Det gäller från nästa fråga.")),
    "authority_removed": Phrase(N_("Myndigheten är borttagen.")),
}
AUTHORITY_EXISTS = N_("Det finns redan en myndighet med nyckeln {value}.")
AUTHORITY_NAME_LANGUAGES = ("sv", "en")
"""The names the desk's form edits; other languages' names are kept as the file has them."""
TRAINING_DONE = {
    "accept": Phrase(N_("Förslaget är godkänt och kommer med i nästa export.")),
    "reject": Phrase(N_("Förslaget är avvisat och blir inte träningsdata.")),
}
EXPORT_COMMAND = ("lotsen", "training", "export", "nlu/reviewed.yml")
TRAIN_COMMAND = ("lotsen", "train")
"""How accepted candidates reach the model (shown on the page, never translated)."""
UNREADABLE_DOMAIN = Phrase(
    N_("Botens ämneslista (domain.yml) gick inte att läsa. Bara ämnen med en väg visas.")
)


def _domain_intents(path: Path) -> list[str] | None:
    """Return the model's intents, or None when its domain file cannot be read."""
    try:
        return load_domain_intents(path)
    except RasaDomainFileError:
        return None


def _departments(session: Session) -> Sequence[Department]:
    return session.exec(select(Department).order_by(col(Department.name))).all()


@dataclass
class RoutesPage:
    """Everything the routing page shows."""

    topics: list[TopicRow]
    authorities: Sequence[Authority]
    departments: Sequence[Department]
    department: str
    search: str
    intents_known: bool


async def _render_routes(
    request: web.Request, status: int = 200, **context: object
) -> web.Response:
    department = request.query.get("department", "")
    search = request.query.get("q", "").strip()[:SEARCH_CHARS]
    now = now_of(request)
    intents = _domain_intents(request.app[DOMAIN_FILE])

    def load(session: Session) -> RoutesPage:
        departments = _departments(session)
        keys = {d.key for d in departments} | {COORDINATOR}
        chosen = department if department in keys else ""
        topics = topic_overview(
            session=session,
            domain_intents=intents or [],
            department_key=chosen or None,
            search=search or None,
            now=now,
        )
        authorities = list_authorities(session=session)
        return RoutesPage(topics, authorities, departments, chosen, search, intents is not None)

    page = await run_db(request, load)
    return render(
        request,
        "routes.html",
        status=status,
        page=page,
        days=QUESTION_DAYS,
        coordinator=COORDINATOR,
        name_languages=AUTHORITY_NAME_LANGUAGES,
        done=ROUTES_DONE.get(request.query.get("done", "")),
        unreadable=None if page.intents_known else UNREADABLE_DOMAIN,
        **{"error": None, "error_intent": None, "authority_error": None, **context},
    )


async def routes_page(request: web.Request) -> web.StreamResponse:
    """List every topic with its department, today's contact, checks and recent questions."""
    await require(request, coordinator=True)
    return await _render_routes(request)


async def routes_move(request: web.Request) -> web.StreamResponse:
    """Send a topic's questions to another department or to the coordinator (audited)."""
    principal = await require(request, coordinator=True)
    form = await checked_form(request, principal)
    intent = request.match_info["intent"]
    choice = form.get("department", "").strip()
    now = now_of(request)
    intents = _domain_intents(request.app[DOMAIN_FILE])

    def save(session: Session) -> bool | Phrase:
        try:
            return move_topic(
                session=session,
                intent=intent,
                department_key=None if choice == COORDINATOR else choice,
                actor=principal.actor,
                domain_intents=intents,
                now=now,
            )
        except ValidationProblem as exc:
            session.rollback()
            return exc.phrase

    outcome = await run_db(request, save)
    if isinstance(outcome, Phrase):
        return await _render_routes(request, status=400, error=outcome, error_intent=intent)
    done = "moved" if outcome else "same"
    raise see_other(f"/desk/routes?done={done}#topic-{intent}")


def authority_changes(form: dict[str, str]) -> dict[str, object]:
    """Return the changes the authority form asks for (intents: comma-separated)."""
    return {
        "names": {code: form.get(f"name_{code}", "") for code in AUTHORITY_NAME_LANGUAGES},
        "handles": form.get("handles", ""),
        "website": form.get("website", ""),
        "phone": form.get("phone", ""),
        "intents": [i.strip() for i in form.get("intents", "").split(",") if i.strip()],
    }


async def authority_save(request: web.Request) -> web.StreamResponse:
    """Create or change another authority (names, handles, website, phone, intents), audited."""
    principal = await require(request, coordinator=True)
    form = await checked_form(request, principal)
    key = request.match_info["key"]
    new = key == "new"
    if new:
        key = form.get("key", "").strip()
    remove = request.match_info.get("action") == "remove"
    now = now_of(request)
    intents = _domain_intents(request.app[DOMAIN_FILE])

    def save(session: Session) -> Phrase | None:
        try:
            if new and authority_by_key(session=session, key=key) is not None:
                return Phrase(AUTHORITY_EXISTS, {"value": key})
            if remove:
                remove_authority(session=session, key=key, actor=principal.actor, now=now)
            else:
                set_authority(
                    session=session,
                    key=key,
                    changes=authority_changes(form),
                    actor=principal.actor,
                    domain_intents=intents,
                    now=now,
                )
        except ValidationProblem as exc:
            session.rollback()
            return exc.phrase
        return None

    problem = await run_db(request, save)
    if problem is not None:
        return await _render_routes(request, status=400, authority_error=problem)
    done = "authority_removed" if remove else "authority"
    raise see_other(f"/desk/routes?done={done}#authorities")


async def _render_training(
    request: web.Request, status: int = 200, **context: object
) -> web.Response:
    def load(session: Session) -> tuple[ReviewOverview, list[str]]:
        return review_overview(session=session), sorted(crud.routes_map(session=session))

    def masked(view: CandidateView) -> CandidateView:
        # Stored questions are masked already; masking again keeps any older text safe too.
        return replace(view, text=mask_personal_data(view.text))

    overview, topics = await run_db(request, load)
    overview = replace(overview, pending=[masked(v) for v in overview.pending])
    return render(
        request,
        "training.html",
        status=status,
        overview=overview,
        topics=topics,
        export_command=EXPORT_COMMAND,
        train_command=TRAIN_COMMAND,
        done=TRAINING_DONE.get(request.query.get("done", "")),
        **{"error": None, **context},
    )


async def training_page(request: web.Request) -> web.StreamResponse:
    """List the training candidates waiting for a person's review."""
    await require(request, coordinator=True)
    return await _render_training(request)


async def training_review(request: web.Request) -> web.StreamResponse:
    """Accept (with the right topic) or reject one training candidate."""
    principal = await require(request, coordinator=True)
    form = await checked_form(request, principal)
    action = request.match_info["action"]
    candidate_id = int(request.match_info["candidate_id"])
    if action not in TRAINING_DONE or candidate_id > MAX_ROW_ID:
        raise not_found(request)
    intent = form.get("intent", "").strip() or None
    now = now_of(request)

    def save(session: Session) -> Phrase | None:
        try:
            review(
                session=session,
                candidate_id=candidate_id,
                accept=action == "accept",
                reviewer=principal.actor,
                intent=intent if action == "accept" else None,
                now=now,
            )
        except TrainingError as exc:
            session.rollback()
            return exc.phrase
        return None

    problem = await run_db(request, save)
    if problem is not None:
        return await _render_training(request, status=400, error=problem)
    raise see_other(f"/desk/training?done={action}")
