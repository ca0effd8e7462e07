"""Checks of a routing-table YAML file node by node, each problem with its line number."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import yaml

from db.models import DEFAULT_DEPARTMENT_CHANNELS
from db.plumbing.phrases import N_, Phrase
from db.plumbing.validation import (
    DEPARTMENT_KEY_RE,
    ValidationProblem,
    check_channels,
    check_email,
    check_group_chat,
    check_handles,
    check_phone,
    check_positive_int,
    clean_text,
)
from db.routing.export import GROUP_CHAT_FIELD

DEFAULT_REVIEW_DAYS = 180


# --- validation of a YAML file, with line numbers -----------------------------------------


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong in an imported file, at a line (1-based), as a phrase."""

    line: int
    message: Phrase = field(compare=False)
    text: str = field(default="", compare=True)  # the Swedish text: orders and deduplicates

    @classmethod
    def at(cls, line: int, message: str, /, **values: Any) -> Problem:
        """Return a problem at a line: a catalogue message and its values."""
        phrase = Phrase(message, values)
        return cls(line, phrase, str(phrase))

    @property
    def phrase(self) -> Phrase:
        """Return the whole problem, line included, as one phrase."""
        return Phrase(N_("rad {line}: {problem}"), {"line": self.line, "problem": self.message})

    def __str__(self) -> str:
        return str(self.phrase)


@dataclass
class Collector:
    problems: list[Problem] = field(default_factory=list)

    def add(self, node: yaml.Node, message: str, /, **values: Any) -> None:
        self.problems.append(Problem.at(node.start_mark.line + 1, message, **values))


def pairs(node: yaml.MappingNode) -> dict[str, tuple[yaml.Node, yaml.Node]]:
    return {str(k.value): (k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode)}


_CONSTRUCTOR = yaml.SafeLoader("")


def node_value(node: yaml.Node) -> Any:
    """Construct the Python value of a node (ints, dates, nulls resolved as safe_load would)."""
    return _CONSTRUCTOR.construct_object(node, deep=True)


def duplicate_keys(node: yaml.Node, out: Collector) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            name = str(key.value)
            if name in seen:
                out.add(key, N_("nyckeln '{name}' finns två gånger här"), name=name)
            seen.add(name)
            duplicate_keys(value, out)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            duplicate_keys(item, out)


def _check_contact(
    node: yaml.Node | None,
    where: Phrase,
    kind: str,
    required: bool,
    out: Collector,
    at: yaml.Node,
) -> dict[str, Any] | None:
    if node is None or (isinstance(node, yaml.ScalarNode) and node_value(node) is None):
        if required:
            out.add(
                node or at,
                N_("{where}: kontakt saknas (varje förvaltning behöver en)"),
                where=where,
            )
        return None
    if not isinstance(node, yaml.MappingNode):
        out.add(
            node,
            N_("{where}: {kind} ska vara en mappning med role, email, phone, hours"),
            where=where,
            kind=kind,
        )
        return None
    fields = pairs(node)
    clean: dict[str, Any] = {}
    allowed = {"role", "email", "phone", "hours", "absent_from", "absent_until"}
    for name, (key, _value_node) in fields.items():
        if name not in allowed:
            out.add(
                key, N_("{where}: {kind}: okänt fält '{name}'"), where=where, kind=kind, name=name
            )
    role = clean_text(node_value(fields["role"][1])) if "role" in fields else None
    if role is None:
        out.add(
            fields["role"][1] if "role" in fields else node,
            N_("{where}: {kind}: role saknas"),
            where=where,
            kind=kind,
        )
    clean["role"] = role
    for name, check in (("email", check_email), ("phone", check_phone)):
        if name not in fields:
            clean[name] = None
            continue
        raw = fields[name][1]
        value = node_value(raw)
        if value is not None and isinstance(raw, yaml.ScalarNode):
            value = raw.value  # as written: an unquoted +46… or 070… must not become a number
        try:
            clean[name] = check(value, name)
        except ValidationProblem as exc:
            out.add(
                fields[name][1],
                N_("{where}: {kind}: {problem}"),
                where=where,
                kind=kind,
                problem=exc.phrase,
            )
    clean["hours"] = clean_text(node_value(fields["hours"][1])) if "hours" in fields else None
    for name in ("absent_from", "absent_until"):
        clean[name] = _date_field(
            fields, name, Phrase(N_("{where}: {kind}"), {"where": where, "kind": kind}), out
        )
    start, end = clean["absent_from"], clean["absent_until"]
    if isinstance(start, date) and isinstance(end, date) and end < start:
        out.add(
            fields["absent_until"][1],
            N_("{where}: {kind}: absent_until är före absent_from"),
            where=where,
            kind=kind,
        )
    return clean


def _date_field(
    fields: dict[str, tuple[yaml.Node, yaml.Node]], name: str, where: Phrase, out: Collector
) -> date | None:
    if name not in fields:
        return None
    node = fields[name][1]
    value = node_value(node)
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        out.add(
            node,
            N_("{where}: {name} ska vara ett datum (ÅÅÅÅ-MM-DD) utan klockslag"),
            where=where,
            name=name,
        )
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        out.add(
            node,
            N_("{where}: {name} ska vara ett datum (ÅÅÅÅ-MM-DD), inte {value!r}"),
            where=where,
            name=name,
            value=value,
        )
        return None


def _int_field(
    fields: dict[str, tuple[yaml.Node, yaml.Node]],
    name: str,
    where: Phrase,
    out: Collector,
    *,
    default: int | None,
) -> int | None:
    if name not in fields or node_value(fields[name][1]) is None:
        return default
    node = fields[name][1]
    try:
        return check_positive_int(node_value(node), name)
    except ValidationProblem as exc:
        out.add(node, N_("{where}: {name}: {problem}"), where=where, name=name, problem=exc.phrase)
        return default


def _checked_field(
    fields: dict[str, tuple[yaml.Node, yaml.Node]],
    name: str,
    check: Callable[[object, str], str | None],
    default: str | None,
    where: Phrase,
    out: Collector,
) -> str | None:
    """Return a checked text field (the default when it is missing or empty)."""
    if name not in fields or node_value(fields[name][1]) in (None, ""):
        return default
    node = fields[name][1]
    try:
        return check(node_value(node), name)
    except ValidationProblem as exc:
        out.add(node, N_("{where}: {name}: {problem}"), where=where, name=name, problem=exc.phrase)
        return default


def _handles_field(
    fields: dict[str, tuple[yaml.Node, yaml.Node]], where: Phrase, out: Collector
) -> list[str] | None:
    """Return what a department handles (None when the file leaves it out: kept as it is)."""
    if "handles" not in fields:
        return None
    node = fields["handles"][1]
    value = node_value(node)
    try:
        return check_handles(value, "handles")
    except ValidationProblem as exc:
        at = node
        if isinstance(node, yaml.SequenceNode):  # point at the first item the check refuses
            for index, item in enumerate(node.value):
                try:
                    check_handles(value[: index + 1], "handles")
                except ValidationProblem:
                    at = item
                    break
        out.add(
            at, N_("{where}: {name}: {problem}"), where=where, name="handles", problem=exc.phrase
        )
        return None


def _text_field(fields: dict[str, tuple[yaml.Node, yaml.Node]], name: str) -> str | None:
    return clean_text(node_value(fields[name][1])) if name in fields else None


def unknown_fields(
    fields: dict[str, tuple[yaml.Node, yaml.Node]],
    allowed: set[str],
    where: Phrase,
    out: Collector,
) -> None:
    for name, (key, _node) in fields.items():
        if name not in allowed:
            out.add(key, N_("{where}: okänt fält '{name}'"), where=where, name=name)


def check_department(node: yaml.Node, out: Collector) -> dict[str, Any] | None:
    if not isinstance(node, yaml.MappingNode):
        out.add(node, N_("varje förvaltning ska vara en mappning (key, name, contact, …)"))
        return None
    fields = pairs(node)
    key = _text_field(fields, "key")
    where = Phrase(N_("förvaltning '{key}'"), {"key": key}) if key else Phrase(N_("förvaltning"))
    allowed = {
        "key",
        "name",
        "name_en",
        "sla_hours",
        GROUP_CHAT_FIELD,
        "channels",
        "mailbox",
        "handles",
        "contact",
        "deputy",
    }
    unknown_fields(fields, allowed, where, out)
    if key is None:
        out.add(node, N_("förvaltning: key saknas"))
    elif not _is_key(key):
        out.add(
            fields["key"][1], N_("{where}: key ska vara små bokstäver, siffror och _"), where=where
        )
    name = _text_field(fields, "name")
    if name is None:
        out.add(
            fields["name"][1] if "name" in fields else node,
            N_("{where}: name saknas"),
            where=where,
        )
    contact_node = fields["contact"][1] if "contact" in fields else None
    deputy_node = fields["deputy"][1] if "deputy" in fields else None
    return {
        "key": key,
        "name": name,
        "name_en": _text_field(fields, "name_en"),
        "sla_hours": _int_field(fields, "sla_hours", where, out, default=48),
        "group_chat": _checked_field(fields, GROUP_CHAT_FIELD, check_group_chat, None, where, out),
        "channels": _checked_field(
            fields, "channels", check_channels, DEFAULT_DEPARTMENT_CHANNELS.value, where, out
        ),
        "mailbox": _checked_field(fields, "mailbox", check_email, None, where, out),
        "handles": _handles_field(fields, where, out),
        "contact": _check_contact(contact_node, where, "contact", True, out, node),
        "deputy": _check_contact(deputy_node, where, "deputy", False, out, node),
        "_node": node,
    }


def _is_key(key: str) -> bool:
    return bool(DEPARTMENT_KEY_RE.match(key))


def check_route(node: yaml.Node, out: Collector) -> dict[str, Any] | None:
    if not isinstance(node, yaml.MappingNode):
        out.add(node, N_("varje väg ska vara en mappning (intent, department, …)"))
        return None
    fields = pairs(node)
    intent = _text_field(fields, "intent")
    where = Phrase(N_("väg '{intent}'"), {"intent": intent}) if intent else Phrase(N_("väg"))
    allowed = {
        "intent",
        "department",
        "description",
        "owner",
        "last_verified",
        "review_interval_days",
    }
    unknown_fields(fields, allowed, where, out)
    if intent is None:
        out.add(node, N_("väg: intent saknas"))
    department = _text_field(fields, "department")
    if department is None:
        out.add(
            fields["department"][1] if "department" in fields else node,
            N_("{where}: department saknas"),
            where=where,
        )
    return {
        "intent": intent,
        "department": department,
        "description": _text_field(fields, "description") or "",
        "owner": _text_field(fields, "owner"),
        "last_verified": _date_field(fields, "last_verified", where, out),
        "review_interval_days": _int_field(
            fields, "review_interval_days", where, out, default=DEFAULT_REVIEW_DAYS
        ),
        "_node": node,
    }
