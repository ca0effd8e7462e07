"""The staff-kept table of other authorities: whom to name when a question is not ours.

An authority (Skatteverket, Försäkringskassan, the region's health care …) has a key, its name
in the reply languages, what it handles, its website and phone, and the model's intents that
mean "a question for them". `intent_map` gives the routing decision its intent → authority
key mapping. Every change writes an audit row (entity "authority") in the caller's
transaction, like the routing table (db/routing_table.py); the table is exported and imported
as YAML, the whole file checked first.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from sqlmodel import Session, col, select

from db.models import Authority, utcnow
from db.plumbing.audit import record
from db.plumbing.phrases import N_, DomainError, Phrase
from db.plumbing.validation import DEPARTMENT_KEY_RE, PHONE_RE, ValidationProblem, clean_text
from db.routing.file_nodes import Collector, Problem, duplicate_keys, node_value, pairs
from db.routing.importing import ImportResult
from db.routing.routing_file import INVALID_YAML

SOURCE_LANGUAGE = "sv"
AUTHORITY_INTENT_PREFIX = "authority_"
"""The model's intents for other authorities are named authority_<key>."""
AUTHORITY_FIELDS = ("names", "handles", "website", "phone", "intents")
AUDIT_ENTITY = "authority"

LANGUAGE_RE = re.compile(r"^[a-z]{2,3}$")
WEBSITE_RE = re.compile(r"^https?://[^\s/]+\.[^\s/]+(/\S*)?$")
INTENT_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,127}$")

KEY_PROBLEM = N_("Nyckeln {value} går inte att använda: skriv små bokstäver, siffror och _.")
AUTHORITY_PROBLEM = N_("Det finns ingen myndighet med nyckeln {value}.")
NAMES_PROBLEM = N_("Myndigheten behöver ett namn på svenska (sv).")
LANGUAGE_PROBLEM = N_("{value} är inte en språkkod som sv eller en.")
WEBSITE_PROBLEM = N_(
    "Webbadressen går inte att använda: {value}. Skriv till exempel https://www.skatteverket.se."
)
AUTHORITY_PHONE_PROBLEM = N_(
    "Telefonnumret går inte att använda: {value}. Skriv siffror, till exempel 0771-567 567."
)
INTENT_NAME_PROBLEM = N_("{value} är inte ett ämnesnamn (bokstäver, siffror och _).")
UNKNOWN_INTENT_PROBLEM = N_("Ämnet {value} finns inte hos boten.")
# Translators: {other} is the key of the authority that already has the intent.
INTENT_TAKEN_PROBLEM = N_("Ämnet {value} hör redan till myndigheten {other}.")


class AuthorityFileError(DomainError):
    """A seed file of authorities is missing or malformed; nothing was seeded."""


# --- checks -----------------------------------------------------------------------------------


def check_key(value: object) -> str:
    """Return a usable authority key or raise ValidationProblem."""
    text = clean_text(value) or ""
    if not DEPARTMENT_KEY_RE.match(text):
        raise ValidationProblem("key", KEY_PROBLEM, value=text)
    return text


def check_names(value: object) -> dict[str, str]:
    """Return {language: name} with a Swedish name, or raise ValidationProblem."""
    if not isinstance(value, Mapping):
        raise ValidationProblem("names", NAMES_PROBLEM)
    names: dict[str, str] = {}
    for language, name in value.items():
        code = str(language).strip().lower()
        if not LANGUAGE_RE.match(code):
            raise ValidationProblem("names", LANGUAGE_PROBLEM, value=str(language))
        text = clean_text(name)
        if text is not None:
            names[code] = text
    if SOURCE_LANGUAGE not in names:
        raise ValidationProblem("names", NAMES_PROBLEM)
    return dict(sorted(names.items()))


def check_website(value: object) -> str | None:
    """Return a web address (None when empty) or raise ValidationProblem."""
    text = clean_text(value)
    if text is not None and not WEBSITE_RE.match(text):
        raise ValidationProblem("website", WEBSITE_PROBLEM, value=text)
    return text


def check_phone(value: object) -> str | None:
    """Return a phone number (3 to 15 digits: 1177 and 114 14 are numbers too) or raise."""
    text = clean_text(value)
    if text is None:
        return None
    digits = sum(ch.isdigit() for ch in text)
    if not PHONE_RE.match(text) or not 3 <= digits <= 15 or len(text) > 32:
        raise ValidationProblem("phone", AUTHORITY_PHONE_PROBLEM, value=text)
    return text


def check_intents(value: object, domain_intents: Iterable[str] | None = None) -> list[str]:
    """Return the intent names (sorted, without repeats) or raise ValidationProblem."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise ValidationProblem("intents", INTENT_NAME_PROBLEM, value=str(value))
    known = set(domain_intents) if domain_intents is not None else None
    intents: set[str] = set()
    for item in items:
        text = clean_text(item) or ""
        if not INTENT_RE.match(text):
            raise ValidationProblem("intents", INTENT_NAME_PROBLEM, value=text)
        if known is not None and text not in known:
            raise ValidationProblem("intents", UNKNOWN_INTENT_PROBLEM, value=text)
        intents.add(text)
    return sorted(intents)


# --- reading ----------------------------------------------------------------------------------


def list_authorities(*, session: Session) -> Sequence[Authority]:
    """Return every authority, by key."""
    return session.exec(select(Authority).order_by(col(Authority.key))).all()


def authority_by_key(*, session: Session, key: str) -> Authority | None:
    """Return the authority with this key, or None."""
    return session.exec(select(Authority).where(Authority.key == key)).first()


def intent_map(*, session: Session) -> dict[str, str]:
    """Return {intent: authority key}: what the routing decision refers (see `decide`)."""
    return {intent: a.key for a in list_authorities(session=session) for intent in a.intents}


def name_in(authority: Authority, language: str) -> str:
    """Return the authority's name in a language (English, then Swedish, when it has none)."""
    names = authority.names or {}
    return names.get(language) or names.get("en") or names.get(SOURCE_LANGUAGE) or authority.key


def snapshot(authority: Authority) -> dict[str, Any]:
    """Return the audited (and exported) fields of an authority."""
    return {
        "key": authority.key,
        "names": dict(authority.names),
        "handles": authority.handles,
        "website": authority.website,
        "phone": authority.phone,
        "intents": list(authority.intents),
    }


# --- audited changes --------------------------------------------------------------------------


def _clean(values: Mapping[str, Any], domain_intents: Iterable[str] | None) -> dict[str, Any]:
    clean: dict[str, Any] = {}
    for name, value in values.items():
        if name == "names":
            clean[name] = check_names(value)
        elif name == "handles":
            clean[name] = clean_text(value) or ""
        elif name == "website":
            clean[name] = check_website(value)
        elif name == "phone":
            clean[name] = check_phone(value)
        elif name == "intents":
            clean[name] = check_intents(value, domain_intents)
        else:
            raise ValidationProblem(name, N_("Fältet {value} kan inte ändras här."), value=name)
    return clean


def _intent_owners(session: Session, but: str | None) -> dict[str, str]:
    return {i: k for i, k in intent_map(session=session).items() if k != but}


def _check_free(session: Session, key: str, intents: Iterable[str]) -> None:
    owners = _intent_owners(session, key)
    for intent in intents:
        if intent in owners:
            raise ValidationProblem(
                "intents", INTENT_TAKEN_PROBLEM, value=intent, other=owners[intent]
            )


def _audit(
    session: Session,
    actor: str,
    key: str,
    action: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    now: datetime | None,
) -> None:
    record(
        session=session,
        actor=actor,
        entity=AUDIT_ENTITY,
        key=key,
        action=action,
        before=before,
        after=after,
        now=now,
    )


def _apply(
    session: Session,
    key: str,
    authority: Authority | None,
    values: Mapping[str, Any],
    actor: str,
    now: datetime,
) -> tuple[Authority, bool]:
    """Create or change one authority with an audit row; tell whether anything changed."""
    if authority is None:
        authority = Authority(key=key, changed_by=actor, changed_at=now, **values)
        session.add(authority)
        session.flush()
        _audit(session, actor, key, "create", None, snapshot(authority), now)
        return authority, True
    diff = {k: v for k, v in values.items() if getattr(authority, k) != v}
    if not diff:
        return authority, False
    before = snapshot(authority)
    for name, value in diff.items():
        setattr(authority, name, value)
    authority.changed_by = actor
    authority.changed_at = now
    session.add(authority)
    session.flush()
    _audit(session, actor, key, "update", before, snapshot(authority), now)
    return authority, True


def set_authority(
    *,
    session: Session,
    key: str,
    changes: Mapping[str, Any],
    actor: str,
    domain_intents: Iterable[str] | None = None,
    now: datetime | None = None,
) -> Authority:
    """Create or change an authority (names, handles, website, phone, intents), audited.

    `names` given here are merged into the names it has (a language with an empty name is
    removed); a new authority needs a Swedish name and gets the intent authority_<key> when the
    bot has it. An intent belongs to one authority only.
    """
    key = check_key(key)
    authority = authority_by_key(session=session, key=key)
    wanted = dict(changes)
    if "names" in wanted and isinstance(wanted["names"], Mapping):
        merged = dict(authority.names) if authority is not None else {}
        for language, name in wanted["names"].items():
            if clean_text(name) is None:
                merged.pop(str(language).strip().lower(), None)
            else:
                merged[str(language)] = name
        wanted["names"] = merged
    if authority is None:
        wanted.setdefault("names", {})
    clean = _clean(wanted, domain_intents)
    default = f"{AUTHORITY_INTENT_PREFIX}{key}"
    if "intents" not in clean and authority is None:
        known = domain_intents is None or default in set(domain_intents)
        clean["intents"] = [default] if known else []
    _check_free(session, key, clean.get("intents", ()))
    found, _changed = _apply(session, key, authority, clean, actor, now or utcnow())
    return found


def remove_authority(
    *, session: Session, key: str, actor: str, now: datetime | None = None
) -> None:
    """Delete an authority (its questions then go to the coordinator), audited."""
    authority = authority_by_key(session=session, key=key)
    if authority is None:
        raise ValidationProblem("key", AUTHORITY_PROBLEM, value=key)
    _audit(session, actor, key, "delete", snapshot(authority), None, now)
    session.delete(authority)
    session.flush()


# --- export and import ------------------------------------------------------------------------

EXPORT_HEADER = """\
# Lotsen: other authorities. Edit, then `lotsen authorities import FILE` (the whole file is
# checked first; nothing changes when any line is wrong). Authorities missing from the file
# are removed. names: the name per reply language (sv is required); intents: the model's
# intents that mean "a question for this authority".
"""


def export_authorities(*, session: Session) -> dict[str, Any]:
    """Return the whole table as plain data."""
    return {"authorities": [snapshot(a) for a in list_authorities(session=session)]}


def dump_authorities(data: Mapping[str, Any]) -> str:
    """Return the table as YAML text with an explanatory header."""
    body = yaml.safe_dump(
        dict(data), allow_unicode=True, sort_keys=False, default_flow_style=False, width=100
    )
    return EXPORT_HEADER + body


ADDED = N_("myndighet {key}: tillagd")
CHANGED = N_("myndighet {key}: ändrad")
REMOVED = N_("myndighet {key}: borttagen")


def _check_item(
    node: yaml.Node, out: Collector, domain_intents: Iterable[str] | None
) -> dict[str, Any] | None:
    if not isinstance(node, yaml.MappingNode):
        out.add(node, N_("varje myndighet ska vara en mappning (key, names, website, …)"))
        return None
    fields = pairs(node)
    for name, (key_node, _node) in fields.items():
        if name not in ("key", *AUTHORITY_FIELDS):
            out.add(key_node, N_("myndighet: okänt fält '{name}'"), name=name)
    if "key" not in fields:
        out.add(node, N_("myndighet: key saknas"))
        return None
    clean: dict[str, Any] = {"_node": node}
    checks: list[tuple[str, Any]] = [("key", lambda v: check_key(v))]
    checks += [(n, None) for n in AUTHORITY_FIELDS]
    for name, check in checks:
        if name not in fields:
            if name == "names":
                out.add(node, N_("myndighet: {name} saknas"), name=name)
            continue
        value_node = fields[name][1]
        value = node_value(value_node)
        if name == "phone" and isinstance(value_node, yaml.ScalarNode) and value is not None:
            value = value_node.value  # as written: 0771… must not become a number
        try:
            clean[name] = (
                check(value) if check is not None else _clean({name: value}, domain_intents)[name]
            )
        except ValidationProblem as exc:
            out.add(value_node, N_("myndighet: {name}: {problem}"), name=name, problem=exc.phrase)
    return clean if "key" in clean else None


def parse_authorities(
    text: str, *, domain_intents: Iterable[str] | None = None
) -> tuple[list[dict[str, Any]], list[Problem]]:
    """Read and check a whole file; return its authorities and every problem with its line."""
    out = Collector()
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        return [], [Problem.at(line, N_("inte giltig YAML: {problem}"), problem=exc.problem)]
    if root is None:
        return [], [Problem.at(1, N_("filen är tom"))]
    top = pairs(root) if isinstance(root, yaml.MappingNode) else {}
    section = top.get("authorities", (None, None))[1]
    if not isinstance(section, yaml.SequenceNode):
        out.add(section or root, N_("filen ska ha en lista 'authorities:'"))
        return [], out.problems
    duplicate_keys(root, out)
    items = [i for i in (_check_item(n, out, domain_intents) for n in section.value) if i]
    first: dict[str, int] = {}
    owner: dict[str, str] = {}
    for item in items:
        line = item["_node"].start_mark.line + 1
        if item["key"] in first:
            out.add(
                item["_node"],
                N_("myndigheten '{key}' finns två gånger (först på rad {first})"),
                key=item["key"],
                first=first[item["key"]],
            )
        first.setdefault(item["key"], line)
        for intent in item.get("intents", ()):
            if intent in owner and owner[intent] != item["key"]:
                out.add(
                    item["_node"],
                    N_("ämnet '{intent}' hör till två myndigheter: {first} och {second}"),
                    intent=intent,
                    first=owner[intent],
                    second=item["key"],
                )
            owner.setdefault(intent, item["key"])
    return items, sorted(set(out.problems))


def import_authorities(
    *,
    session: Session,
    text: str,
    actor: str,
    domain_intents: Iterable[str] | None = None,
    now: datetime | None = None,
) -> ImportResult:
    """Check the whole file, then make the table match it; changes nothing on any problem."""
    now = now or utcnow()
    items, problems = parse_authorities(text, domain_intents=domain_intents)
    if problems:
        return ImportResult(problems=problems)
    changes: list[Phrase] = []
    listed = {item["key"] for item in items}
    for gone in list_authorities(session=session):
        if gone.key not in listed:
            remove_authority(session=session, key=gone.key, actor=actor, now=now)
            changes.append(Phrase(REMOVED, {"key": gone.key}))
    for item in items:
        key = item["key"]
        values = {name: item[name] for name in AUTHORITY_FIELDS if name in item}
        values.setdefault("handles", "")
        values.setdefault("website", None)
        values.setdefault("phone", None)
        values.setdefault("intents", [])
        authority = authority_by_key(session=session, key=key)
        _found, changed = _apply(session, key, authority, values, actor, now)
        if changed:
            changes.append(Phrase(CHANGED if authority is not None else ADDED, {"key": key}))
    return ImportResult(changes=changes)


# --- the demo list ----------------------------------------------------------------------------


def seed_authorities(*, session: Session, path: Path) -> tuple[int, int]:
    """Add the authorities of a seed file the table lacks; return (added, kept).

    Never changes an authority staff have (edits are kept), like the routing table's seed.
    Seeding is not audited (like the seeded routes); every later change is.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise AuthorityFileError(N_("{path}: filen finns inte"), path=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise AuthorityFileError(INVALID_YAML, path=str(path), problem=str(exc)) from None
    items, problems = parse_authorities(text)
    if problems:
        raise AuthorityFileError(
            N_("{path}: {problem}"), path=str(path), problem=problems[0].phrase
        )
    added = kept = 0
    taken = intent_map(session=session)
    for item in items:
        if authority_by_key(session=session, key=item["key"]) is not None:
            kept += 1
            continue
        values = {name: item[name] for name in AUTHORITY_FIELDS if name in item}
        values["intents"] = [i for i in values.get("intents", []) if i not in taken]
        # Demo data, like the seeded routing table: not a staff change, so not audited.
        session.add(Authority(key=item["key"], changed_by="seed", changed_at=utcnow(), **values))
        added += 1
    return added, kept
