"""Load the demo municipality and the default routing table; safe to run again."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError
from sqlmodel import Session, select

from db.models import (
    DEFAULT_DEPARTMENT_CHANNELS,
    Contact,
    Department,
    DepartmentChannels,
    Municipality,
    Route,
)
from db.plumbing.phrases import N_, DomainError, Phrase
from db.routing.authorities import AuthorityFileError, seed_authorities
from db.routing.export import GROUP_CHAT_FIELD
from db.routing.routing_file import INVALID_YAML


class SeedError(DomainError):
    """A seed file is missing, unreadable or malformed; nothing was seeded."""


SEEDED_KINDS = {
    "authorities": N_("myndigheter"),
    "contacts": N_("kontakter"),
    "departments": N_("förvaltningar"),
    "municipality": N_("kommun"),
    "routes": N_("vägar"),
}
"""What a seed run counts, by the name it counts it under."""


class _ContactIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    role: str
    email: str | None = None
    phone: str | None = None
    hours: str | None = None
    chat: int | str | None = Field(
        default=None, validation_alias=AliasChoices("chat", GROUP_CHAT_FIELD)
    )


class _DepartmentIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    key: str
    name: str
    name_en: str | None = None
    languages: list[str] | None = None
    sla_hours: int | None = None
    group_chat: int | str | None = Field(
        default=None, validation_alias=AliasChoices("group_chat", GROUP_CHAT_FIELD)
    )
    channels: DepartmentChannels = DEFAULT_DEPARTMENT_CHANNELS
    mailbox: str | None = None
    contact: _ContactIn
    deputy: _ContactIn | None = None
    handles: list[str] = []


class _CoordinatorIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    role: str = ""
    department: str | None = None
    email: str | None = None
    phone: str | None = None


class _MunicipalityIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str
    languages: list[str] = ["sv", "en"]
    coordinator: _CoordinatorIn = _CoordinatorIn()
    default_sla_hours: int = 48


class _MunicipalityFile(BaseModel):
    model_config = ConfigDict(extra="ignore")
    municipality: _MunicipalityIn
    departments: list[_DepartmentIn]


class _RouteIn(BaseModel):
    model_config = ConfigDict(extra="ignore")
    intent: str
    department: str
    description: str = ""


class _RoutesFile(BaseModel):
    model_config = ConfigDict(extra="ignore")
    routes: list[_RouteIn]


@dataclass
class SeedReport:
    """What a seed run added (nothing already present is changed)."""

    added: dict[str, int] = field(default_factory=dict)
    kept: dict[str, int] = field(default_factory=dict)

    def count(self, what: str, *, added: bool) -> None:
        """Count one added or kept row."""
        bucket = self.added if added else self.kept
        bucket[what] = bucket.get(what, 0) + 1

    def summary(self) -> list[Phrase]:
        """Return one phrase per kind of row (how many were added and kept), to join with "; "."""
        names = sorted(set(self.added) | set(self.kept))
        if not names:
            return [Phrase(N_("inget att läsa in"))]
        return [
            Phrase(
                # Translators: part of `lotsen db seed`'s summary, e.g. "routes: 3 added, 29 kept".
                N_("{what}: nya {added}, fanns redan {kept}"),
                {
                    "what": Phrase(SEEDED_KINDS.get(name, name)),
                    "added": self.added.get(name, 0),
                    "kept": self.kept.get(name, 0),
                },
            )
            for name in names
        ]


def _address(value: int | str | None) -> str | None:
    """Return a chat address as the text the tables keep (files may write it as a number)."""
    return None if value is None or str(value).strip() == "" else str(value).strip()


def _read_yaml(path: Path) -> object:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SeedError(N_("{path}: filen finns inte"), path=str(path)) from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise SeedError(INVALID_YAML, path=str(path), problem=str(exc)) from None


T = TypeVar("T", bound=BaseModel)


def _parse(model: type[T], path: Path) -> T:
    try:
        return model.model_validate(_read_yaml(path))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise SeedError(
            # Translators: {where} is a place in the file (departments.0.key); {problem} is the
            # validator's own (English) explanation.
            N_("{path}: {where}: {problem}"),
            path=str(path),
            where=where,
            problem=first["msg"],
        ) from None


def load_municipality_file(path: Path) -> _MunicipalityFile:
    """Read and validate a municipality file."""
    return _parse(_MunicipalityFile, path)


def load_routes_file(path: Path) -> _RoutesFile:
    """Read and validate a default routing-table file."""
    return _parse(_RoutesFile, path)


def seed(
    *,
    session: Session,
    municipality_file: Path,
    routes_file: Path | None,
    authorities_file: Path | None = None,
) -> SeedReport:
    """Add what the seed files describe and the database lacks; never overwrite edits."""
    data = load_municipality_file(municipality_file)
    routes = load_routes_file(routes_file) if routes_file and routes_file.exists() else None
    report = SeedReport()

    m = data.municipality
    existing = session.exec(select(Municipality)).first()
    if existing is None:
        session.add(
            Municipality(
                name=m.name,
                languages=m.languages,
                coordinator_role=m.coordinator.role,
                coordinator_department=m.coordinator.department,
                coordinator_email=m.coordinator.email,
                coordinator_phone=m.coordinator.phone,
                default_sla_hours=m.default_sla_hours,
            )
        )
    report.count("municipality", added=existing is None)

    by_key = {d.key: d for d in session.exec(select(Department)).all()}
    for dep in data.departments:
        row = by_key.get(dep.key)
        if row is None:
            row = Department(
                key=dep.key,
                name=dep.name,
                name_en=dep.name_en,
                languages=dep.languages or m.languages,
                sla_hours=dep.sla_hours or m.default_sla_hours,
                group_chat=_address(dep.group_chat),
                channels=dep.channels,
                mailbox=dep.mailbox,
                handles=dep.handles,
            )
            session.add(row)
            session.flush()
            by_key[dep.key] = row
            report.count("departments", added=True)
        else:
            report.count("departments", added=False)
        assert row.id is not None
        have = {
            c.kind for c in session.exec(select(Contact).where(Contact.department_id == row.id))
        }
        for kind, contact in (("contact", dep.contact), ("deputy", dep.deputy)):
            if contact is None:
                continue
            if kind in have:
                report.count("contacts", added=False)
                continue
            values = {**contact.model_dump(), "chat": _address(contact.chat)}
            session.add(Contact(department_id=row.id, kind=kind, **values))
            report.count("contacts", added=True)

    if routes is not None:
        known = {r.intent for r in session.exec(select(Route)).all()}
        for line in routes.routes:
            if line.intent in known:
                report.count("routes", added=False)
                continue
            department = by_key.get(line.department)
            if department is None or department.id is None:
                raise SeedError(
                    N_("{path}: väg {intent}: förvaltningen {department} finns inte"),
                    path=str(routes_file),
                    intent=line.intent,
                    department=line.department,
                )
            session.add(
                Route(
                    intent=line.intent,
                    department_id=department.id,
                    description=line.description,
                    changed_by="seed",
                )
            )
            known.add(line.intent)
            report.count("routes", added=True)
    if authorities_file is not None:
        try:
            added, kept = seed_authorities(session=session, path=authorities_file)
        except AuthorityFileError as exc:
            raise SeedError(exc.phrase.message, **exc.phrase.values) from None
        report.added.update({"authorities": added} if added else {})
        report.kept.update({"authorities": kept} if kept else {})
    session.commit()
    return report
