"""Reading and checking a routing-table YAML file: every problem with its line number."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from db.plumbing.phrases import N_, DomainError, Phrase
from db.routing.file_nodes import (
    Collector,
    Problem,
    check_department,
    check_route,
    duplicate_keys,
    node_value,
    pairs,
    unknown_fields,
)

ROUTABLE_PREFIX = "topic_"
# Translators: {problem} is the YAML reader's own (English) explanation.
INVALID_YAML = N_("{path}: inte giltig YAML ({problem})")


class RasaDomainFileError(DomainError):
    """The Rasa domain file (domain.yml) is missing or has no usable intents list."""


# --- the domain ---------------------------------------------------------------------------


def load_domain_intents(path: Path) -> list[str]:
    """Return the intent names listed under `intents:` in a Rasa domain file."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        # Translators: the domain file is Rasa's domain.yml, which lists the bot's topics.
        raise RasaDomainFileError(N_("{path}: domänfilen finns inte"), path=str(path)) from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise RasaDomainFileError(INVALID_YAML, path=str(path), problem=str(exc)) from None
    items = data.get("intents") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise RasaDomainFileError(N_("{path}: listan 'intents:' saknas"), path=str(path))
    names: list[str] = []
    for item in items:
        if isinstance(item, str):
            names.append(item)
        elif isinstance(item, dict) and len(item) == 1:
            names.append(str(next(iter(item))))
    return names


def routable(intents: Iterable[str]) -> list[str]:
    """Return the intents that should have a route (the topic intents)."""
    return sorted(i for i in intents if i.startswith(ROUTABLE_PREFIX))


@dataclass
class ParsedTable:
    """A checked table file: departments and routes as plain dicts, plus any problems."""

    departments: list[dict[str, Any]]
    routes: list[dict[str, Any]]
    problems: list[Problem]


def parse_table(
    text: str, *, domain_intents: Iterable[str], known_departments: Iterable[str] = ()
) -> ParsedTable:
    """Read and check a whole table file, collecting every problem with its line."""
    out = Collector()
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        problem = Problem.at(line, N_("inte giltig YAML: {problem}"), problem=exc.problem)
        return ParsedTable([], [], [problem])
    if root is None:
        return ParsedTable([], [], [Problem.at(1, N_("filen är tom"))])
    if not isinstance(root, yaml.MappingNode):
        out.add(root, N_("filen ska vara en mappning med 'departments:' och 'routes:'"))
        return ParsedTable([], [], out.problems)
    duplicate_keys(root, out)
    top = pairs(root)
    unknown_fields(top, {"departments", "routes"}, Phrase(N_("filen")), out)
    sections: dict[str, list[yaml.Node]] = {}
    for name in ("departments", "routes"):
        if name not in top:
            out.add(root, N_("'{name}:' saknas"), name=name)
            continue
        node = top[name][1]
        if isinstance(node, yaml.SequenceNode):
            sections[name] = list(node.value)
        elif not (isinstance(node, yaml.ScalarNode) and node_value(node) is None):
            out.add(node, N_("'{name}:' ska vara en lista"), name=name)
    departments = [
        d for d in (check_department(n, out) for n in sections.get("departments", [])) if d
    ]
    routes = [r for r in (check_route(n, out) for n in sections.get("routes", [])) if r]

    first_line: dict[str, int] = {}
    for dep in departments:
        if dep["key"] is None:
            continue
        line = dep["_node"].start_mark.line + 1
        if dep["key"] in first_line:
            out.add(
                dep["_node"],
                N_("förvaltningen '{key}' finns två gånger (först på rad {first})"),
                key=dep["key"],
                first=first_line[dep["key"]],
            )
        else:
            first_line[dep["key"]] = line
    departments_known = set(first_line) | set(known_departments)
    intents = set(domain_intents)
    first_route: dict[str, int] = {}
    for route in routes:
        intent, node = route["intent"], route["_node"]
        if intent is not None:
            if intent in first_route:
                out.add(
                    node,
                    N_("vägen '{intent}' finns två gånger (först på rad {first})"),
                    intent=intent,
                    first=first_route[intent],
                )
            else:
                first_route[intent] = node.start_mark.line + 1
            if intent not in intents:
                out.add(
                    node, N_("väg '{intent}': okänt ämne (finns inte i domain.yml)"), intent=intent
                )
        department = route["department"]
        if department is not None and department not in departments_known:
            out.add(
                node,
                N_("väg '{intent}': okänd förvaltning '{department}'"),
                intent=intent,
                department=department,
            )
    return ParsedTable(departments, routes, sorted(set(out.problems)))


def validate_table(
    text: str, *, domain_intents: Iterable[str], known_departments: Iterable[str] = ()
) -> list[Problem]:
    """Return every problem in a table file (empty when it can be imported)."""
    return parse_table(
        text, domain_intents=domain_intents, known_departments=known_departments
    ).problems
