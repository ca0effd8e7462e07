"""The archive export: the register as E-ARK CITS ERMS v3 XML (Riksarkivet's FGS Ärendehantering).

One case file (`aggregation`, `aggregationType="caseFile"`) per enquiry, with its records in
order: the question (incoming), each forward and escalation (internal), each answer (outgoing),
with their dates, agents (sender, receiver, the responsible department), direction and
restrictions. The archive gets the question's text and every answer's text (each answer, and
each revised answer, is an outgoing record of its own); texts disposed of under a decision are
gone and say so.

The schema (schemas/erms/ERMS_v3.xsd beside this module, unchanged from the DILCIS Board) imports
nothing; tests validate every export against it with lxml and with xmllint.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date, datetime
from pathlib import Path

from sqlmodel import Session, select

from db.enquiries.answers import answers_of
from db.enquiries.crud import get_municipality
from db.models import Enquiry, ErrandFiling, utcnow
from db.plumbing.phrases import N_, DomainError
from db.privacy.retention import PURGED
from db.records.register import RegisterEntry, RegisterRecord, entries_between

NAMESPACE = "https://DILCIS.eu/XML/ERMS"
SCHEMA = Path(__file__).resolve().parent / "schemas" / "erms" / "ERMS_v3.xsd"
SYSTEM = "Lotsen"
COORDINATOR = "Samordnaren"

STATUS = {"open": "in_progress", "answered": "expedited", "closed": "closed"}
RECORD_TITLES = {
    "question": "Fråga från förening",
    "forward": "Skickad till förvaltning",
    "escalation": "Till samordnaren",
    "answer": "Svar till förening",
}
PERSONAL_DATA_RULE = "Dataskyddsförordningen (EU) 2016/679"
SECRECY_RULE = "Offentlighets- och sekretesslagen (2009:400); sekretessprövning krävs"
NATURAL_PERSON = "fysisk person (privatperson)"
ASSOCIATION_ROLE = "förening"
PRIVATE_PERSON_TEXT = (
    "Avsändaren är en enskild person, inte en organisation; namnet är en personuppgift och "
    "visas inte i det öppna diariet."
)


def _stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


class _Builder:
    """Writes elements in the ERMS namespace."""

    def el(self, parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        node = ET.SubElement(parent, f"{{{NAMESPACE}}}{tag}", attrs)
        if text is not None:
            node.text = text
        return node

    def agent(
        self,
        parent: ET.Element,
        kind: str,
        name: str,
        *,
        unit: str | None = None,
        organisation: str | None = None,
        role: str | None = None,
    ) -> None:
        agent = self.el(parent, "agent", agentType=kind)
        self.el(agent, "name", name)
        if organisation:
            self.el(agent, "organisation", organisation)
        if unit:
            self.el(agent, "unitName", unit)
        if role:
            self.el(agent, "role", role)

    def restrictions(self, parent: ET.Element, entry: RegisterEntry) -> None:
        if entry.secret:
            rule = self.el(parent, "restriction", restrictionType="confidential")
            self.el(rule, "explanatoryText", "Kan omfattas av sekretess; prövas före utlämnande.")
            self.el(rule, "regulation", SECRECY_RULE)
        if entry.personal_data:
            rule = self.el(parent, "restriction", restrictionType="gdpr")
            self.el(rule, "explanatoryText", "Texten innehåller personuppgifter.")
            self.el(rule, "regulation", PERSONAL_DATA_RULE)
        if entry.private_person and entry.sender:
            # The sender is one private person (a natural person): the name is personal data.
            rule = self.el(parent, "restriction", restrictionType="gdpr")
            self.el(rule, "explanatoryText", PRIVATE_PERSON_TEXT)
            self.el(rule, "regulation", PERSONAL_DATA_RULE)
            self.agent(rule, "counterpart", entry.sender, role=NATURAL_PERSON)


def export(*, session: Session, start: date, end: date, now: datetime | None = None) -> bytes:
    """Return the ERMS document of the enquiries received from `start` to `end` (local days).

    Refuses a period without enquiries: the schema wants at least one case file.
    """
    if end < start:
        raise DomainError(N_("Slutdatumet ligger före startdatumet."))
    entries = entries_between(session=session, start=start, end=end)
    if not entries:
        raise DomainError(
            N_("Inga ärenden kom in {start} – {end}; det finns inget att exportera."),
            start=start.isoformat(),
            end=end.isoformat(),
        )
    now = now or utcnow()
    municipality = get_municipality(session=session).name
    ET.register_namespace("", NAMESPACE)
    b = _Builder()
    root = ET.Element(f"{{{NAMESPACE}}}erms")
    control = b.el(root, "control")
    b.el(control, "identification", municipality, identificationType="archivalCreator")
    b.el(control, "identification", SYSTEM, identificationType="system")
    b.el(
        control,
        "identification",
        f"{start.isoformat()}/{end.isoformat()}",
        identificationType="period",
    )
    dates = b.el(control, "dates")
    b.el(dates, "date", _stamp(now), dateType="created")
    maintenance = b.el(control, "maintenanceInformation")
    b.el(maintenance, "maintenanceStatus", value="new")
    agency = b.el(maintenance, "maintenanceAgency")
    b.el(agency, "agencyName", municipality)
    history = b.el(maintenance, "maintenanceHistory")
    event = b.el(history, "maintenanceEvent")
    b.el(event, "eventType", value="created")
    b.el(event, "eventDateTime", _stamp(now))
    b.agent(event, "creator", SYSTEM)

    aggregations = b.el(root, "aggregations")
    for entry in entries:
        _case_file(b, aggregations, session, entry, municipality)
    ET.indent(root)
    document: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return document


def _case_file(
    b: _Builder, parent: ET.Element, session: Session, entry: RegisterEntry, municipality: str
) -> None:
    enquiry = session.get(Enquiry, entry.enquiry_id)
    assert enquiry is not None
    case = b.el(
        parent, "aggregation", systemIdentifier=str(entry.enquiry_id), aggregationType="caseFile"
    )
    b.el(case, "objectId", entry.reference)
    filing = session.exec(
        select(ErrandFiling).where(ErrandFiling.enquiry_id == entry.enquiry_id)
    ).first()
    if filing is not None:
        b.el(case, "extraId", filing.errand_number or filing.errand_id, extraIdType="errandNumber")
    if entry.intent:
        b.el(
            case,
            "classification",
            entry.description or entry.intent,
            classificationCode=entry.intent,
        )
    b.el(case, "title", entry.description or "Fråga till kommunen")
    b.el(case, "status", value=STATUS.get(entry.outcome, "in_progress"))
    b.restrictions(case, entry)
    agents = b.el(case, "agents")
    if entry.sender:
        role = NATURAL_PERSON if entry.private_person else ASSOCIATION_ROLE
        b.agent(agents, "counterpart", entry.sender, role=role)
    b.agent(
        agents,
        "responsible_person",
        entry.department_name or COORDINATOR,
        organisation=municipality,
        unit=entry.department_name or COORDINATOR,
    )
    dates = b.el(case, "dates")
    b.el(dates, "date", _stamp(entry.received_at), dateType="opened")
    if entry.outcome_at is not None:
        kind = "closed" if entry.outcome == "closed" else "expedited"
        b.el(dates, "date", _stamp(entry.outcome_at), dateType=kind)
    texts = _answer_texts(session, enquiry, [r for r in entry.records if r.kind == "answer"])
    for record in entry.records:
        text = enquiry.text if record.kind == "question" else texts.get(record.number)
        _record(b, case, entry, record, text, municipality)


def _answer_texts(
    session: Session, enquiry: Enquiry, answers: list[RegisterRecord]
) -> dict[int, str]:
    """Return each answer record's text by its running number in the case.

    Every answer is kept with its text (db/enquiries/answers.py), in order; the history's
    answers pair with them in order. Answers given before answers were kept have only the
    latest text (carried over by the migration): the kept texts pair with the last answers.
    """
    assert enquiry.id is not None
    kept = answers_of(session=session, enquiry_ids=[enquiry.id]).get(enquiry.id, [])
    if not kept and answers and enquiry.answer_text is not None:
        return {answers[-1].number: enquiry.answer_text}
    offset = max(len(answers) - len(kept), 0)
    return {
        record.number: kept_answer.text
        for record, kept_answer in zip(answers[offset:], kept, strict=False)
    }


def _record(
    b: _Builder,
    parent: ET.Element,
    entry: RegisterEntry,
    record: RegisterRecord,
    text: str | None,
    municipality: str,
) -> None:
    node = b.el(
        parent,
        "record",
        systemIdentifier=f"{entry.enquiry_id}-{record.number}",
        recordType=record.kind,
        recordPhysicalOrDigital="digital",
    )
    b.el(node, "objectId", f"{entry.reference}-{record.number}")
    b.el(node, "title", RECORD_TITLES[record.kind])
    b.el(node, "runningNumber", str(record.number))
    if record.kind in ("question", "answer"):
        b.restrictions(node, entry)
    definition = {"incoming": "incoming", "outgoing": "outgoing"}.get(
        record.direction, "internal_memo_without_follow-up"
    )
    b.el(node, "direction", directionDefinition=definition)
    agents = b.el(node, "agents")
    for kind, who in (("sender", record.sender), ("receiver", record.receiver)):
        if who:
            person = entry.private_person and who == entry.sender
            b.agent(agents, kind, _agent_name(who, entry), role=NATURAL_PERSON if person else None)
    b.agent(
        agents,
        "responsible_person",
        entry.department_name or COORDINATOR,
        organisation=municipality,
    )
    if text is not None:
        b.el(node, "description", "[gallrad enligt gallringsbeslut]" if text == PURGED else text)
    dates = b.el(node, "dates")
    kind = {"incoming": "received", "outgoing": "sent"}.get(record.direction, "created")
    b.el(dates, "date", _stamp(record.at), dateType=kind)


def _agent_name(who: str, entry: RegisterEntry) -> str:
    """Return an agent's name: a department or association as named, the coordinator, Lotsen."""
    if who == "coordinator":
        return COORDINATOR
    if who == "lotsen":
        return SYSTEM
    if who == "association":
        return "Enskild (ingen förening)"
    return who
