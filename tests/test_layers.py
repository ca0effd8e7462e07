"""The architecture holds: layers import one way and no module imports itself round a circle."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import grimp

from bot.settings import PROJECT_ROOT


def test_import_contracts_are_kept() -> None:
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint_imports), "--no-cache"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Return every group of modules that import each other round a circle (Tarjan's SCC)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if imported not in graph.modules:
                continue
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return found


def test_no_module_imports_itself_round_a_circle() -> None:
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 5000))
    graph = grimp.build_graph("bot", "db")
    assert len(graph.modules) > 50
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_circle() -> None:
    graph = grimp.ImportGraph()
    for name in ("a", "a.b", "a.c", "a.d"):
        graph.add_module(name)
    graph.add_import(importer="a.b", imported="a.c")
    graph.add_import(importer="a.c", imported="a.b")
    graph.add_import(importer="a.c", imported="a.d")
    assert _cycles(graph) == [["a.b", "a.c"]]


LIFECYCLE = Path("db") / "enquiries" / "lifecycle"
"""The one package that changes an enquiry's status and appends to its history."""


def _mentions(node: ast.AST, name: str) -> bool:
    return any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(node))


def _called(node: ast.Call) -> str | None:
    func = node.func
    return func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)


def lifecycle_bypasses(source: str) -> list[str]:
    """Return where a module assigns `Enquiry.status` or adds an `EnquiryEvent` by itself.

    Caught: `x.status = …` when `x` names an enquiry or the value is an `EnquiryStatus`; a
    `status=` keyword or a `"status":` key given an `EnquiryStatus` (an UPDATE's values, a new
    `Enquiry(…)`); constructing an `EnquiryEvent`.
    """
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        targets: list[ast.expr] = []
        value: ast.AST | None = None
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            targets, value = [node.target], node.value
        for target in targets:
            if isinstance(target, ast.Attribute) and target.attr == "status":
                owner = ast.unparse(target.value).lower()
                if "enquir" in owner or (value is not None and _mentions(value, "EnquiryStatus")):
                    found.append(f"line {node.lineno}: {ast.unparse(target)} = …")
        if isinstance(node, ast.Dict):
            for key, item in zip(node.keys, node.values, strict=True):
                status_key = isinstance(key, ast.Constant) and key.value == "status"
                if status_key and _mentions(item, "EnquiryStatus"):
                    found.append(f"line {node.lineno}: {{'status': …}}")
        if isinstance(node, ast.Call):
            if _called(node) == "EnquiryEvent":
                found.append(f"line {node.lineno}: EnquiryEvent(…)")
            for keyword in node.keywords:
                if keyword.arg == "status" and _mentions(keyword.value, "EnquiryStatus"):
                    found.append(f"line {node.lineno}: {_called(node)}(status=…)")
    return found


def test_only_the_lifecycle_changes_an_enquirys_status_or_history() -> None:
    offenders: dict[str, list[str]] = {}
    checked = 0
    for package in ("bot", "db", "harness", "bench"):
        for path in sorted((PROJECT_ROOT / package).rglob("*.py")):
            relative = path.relative_to(PROJECT_ROOT)
            if relative.is_relative_to(LIFECYCLE) or "migrations" in relative.parts:
                continue
            checked += 1
            found = lifecycle_bypasses(path.read_text(encoding="utf-8"))
            if found:
                offenders[str(relative)] = found
    assert checked > 100
    assert offenders == {}, "use db/enquiries/lifecycle/ instead"


def test_the_lifecycle_check_finds_a_bypass() -> None:
    source = (
        "enquiry.status = EnquiryStatus.CLOSED\n"
        "row.status = EnquiryStatus.ROUTED\n"
        "record.status = 200\n"
        "session.add(EnquiryEvent(enquiry_id=1, kind='note', actor='x'))\n"
        "session.execute(update(Enquiry).values(status=EnquiryStatus.ESCALATED.value))\n"
        "models.EnquiryEvent(kind='x')\n"
        "claim(set_values={'status': EnquiryStatus.ESCALATED.value}, other={'status': 1})\n"
    )
    lines = sorted(int(found.split(":")[0].split()[1]) for found in lifecycle_bypasses(source))
    assert lines == [1, 2, 4, 5, 6, 7]
    lifecycle = PROJECT_ROOT / LIFECYCLE
    assert any(lifecycle_bypasses(p.read_text()) for p in lifecycle.glob("*.py"))


TELEGRAM_LINES_IN_DB = 5
"""How many lines of `db/` (outside migrations) name Telegram: the channel value itself, and
nothing else. The one enum member `Channel.TELEGRAM = "telegram"` and the alias `CHAT_APP` for
the chat app (db/models/enums.py; `DepartmentChannels`, the older key and sender prefixes and
the defaults refer to it), the routing file's field `telegram_chat_id` that operators' files
use (db/routing/export.py), and `CHANNELS_PROBLEM` naming the values an operator types, with
its translators' comment (db/plumbing/validation.py). Sentences that name the app take the
channel as a value and the application shows its name (`bot.i18n.CHANNEL_NAMES`); older Rasa
metadata keys are read by the action server (bot/actions/metadata.py); the domain reads no
Telegram update (that is `bot/channels/telegram/updates.py`). It must never rise."""


def _lines_naming_telegram() -> list[str]:
    found = []
    for path in sorted((PROJECT_ROOT / "db").rglob("*.py")):
        if "migrations" in path.parts:
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if "telegram" in line.lower():
                found.append(f"{path.relative_to(PROJECT_ROOT)}:{number}: {line.strip()}")
    return found


def test_the_domain_names_telegram_no_more_than_it_did() -> None:
    lines = _lines_naming_telegram()
    assert len(lines) <= TELEGRAM_LINES_IN_DB, "\n".join(lines)
    # The domain does not read Telegram's update format (parts of an update, its sender).
    assert not [line for line in lines if "callback_query" in line or "edited_message" in line]


def test_the_count_of_lines_naming_telegram_can_fail() -> None:
    assert any("db/models/" in line for line in _lines_naming_telegram())
