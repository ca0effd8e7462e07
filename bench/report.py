"""Render the benchmark results as plain-text tables with target checks."""

from __future__ import annotations

from typing import Any

APPROACHES = (
    ("keyword", "keyword baseline (handles)"),
    ("tfidf", "TF-IDF + logistic regression"),
    ("rasa", "Rasa, shipped pipeline"),
    ("rasa_alt", "Rasa, alternative pipeline"),
)


def _pct(value: Any) -> str:
    return f"{value:.1%}" if isinstance(value, int | float) else "–"


def _ms(value: Any) -> str:
    return f"{value:.0f}" if isinstance(value, int | float) else "–"


def _num(value: Any, unit: str = "") -> str:
    return f"{value:g}{unit}" if isinstance(value, int | float) else "–"


def _mark(ok: bool | None) -> str:
    return "–" if ok is None else ("✓" if ok else "✗")


def _quality(quality: dict[str, Any]) -> list[str]:
    lines = [
        f"Routing quality on {quality.get('eval_file')} ({quality.get('eval_lines')} lines; "
        f"5-fold CV on {quality.get('train_lines')} training examples)",
        f"{'approach':<31}{'acc':>7}{'oos rec':>8}{'false esc':>10}{'F1':>7}"
        f"{'CV acc':>8}{'CV oos':>8}{'CV f.esc':>9}{'CV F1':>7}",
    ]
    for key, label in APPROACHES:
        entry = quality.get(key) or {}
        ev = entry.get("eval") or {}
        cv = entry.get("cv") or (quality.get("rasa_cv") if key == "rasa" else None) or {}
        if not ev:
            lines.append(f"{label:<31}  skipped: {entry.get('skipped', 'not run')}")
            continue
        lines.append(
            f"{label:<31}{_pct(ev.get('accuracy')):>7}{_pct(ev.get('escalation_recall')):>8}"
            f"{_pct(ev.get('false_escalation_rate')):>10}{_num(ev.get('macro_f1')):>7}"
            f"{_pct(cv.get('accuracy')):>8}{_pct(cv.get('escalation_recall')):>8}"
            f"{_pct(cv.get('false_escalation_rate')):>9}{_num(cv.get('macro_f1')):>7}"
        )
    if (quality.get("rasa") or {}).get("model_current") is False:
        lines.append(
            "note: models/lotsen.tar.gz is older than the training data (run `make setup`)"
        )
    return lines


def _levels(backend: str, load: dict[str, Any]) -> list[str]:
    lines = [
        f"Latency [{backend}]: Telegram update queued → answer's sendMessage (ms); "
        "Rasa alone = POST /webhooks/rest/webhook",
        f"{'users':>5} {'questions':>9} {'p50':>6} {'p95':>6} {'p99':>6} {'msg/s':>6} "
        f"{'loss':>5} │ {'rasa p50':>8} {'p95':>6} {'p99':>6} {'msg/s':>6} │ "
        f"{'+p50':>6} {'+p95':>6}",
    ]
    for level in load.get("levels", []):
        e, r = level["end_to_end"], level["rasa_alone"]
        loss = e["questions"] - min(e["answered"], e["enquiries_recorded"] or 0)
        lines.append(
            f"{e['users']:>5} {e['questions']:>9} {_ms(e['p50_ms']):>6} {_ms(e['p95_ms']):>6} "
            f"{_ms(e['p99_ms']):>6} {e['throughput_per_s']:>6.1f} {loss:>5} │ "
            f"{_ms(r['p50_ms']):>8} {_ms(r['p95_ms']):>6} {_ms(r['p99_ms']):>6} "
            f"{r['throughput_per_s']:>6.1f} │ {_pct(level['overhead_p50']):>6} "
            f"{_pct(level['overhead_p95']):>6}"
        )
    lines.append(f"sustained rate with zero loss: {_num(load.get('sustained_rate_per_s'))} msg/s")
    if load.get("scaling"):
        lines.append(f"History growth [{backend}] (same load at each size)")
        lines.append(
            f"{'factor':>6} {'enquiries':>10} {'p50':>6} {'p95':>6} {'p99':>6} {'msg/s':>6} "
            f"{'loss':>5}"
        )
        for row in load["scaling"]:
            loss = row["questions"] - min(row["answered"], row["enquiries_recorded"] or 0)
            lines.append(
                f"{row['factor']:>5}× {row['stored_enquiries']:>10} {_ms(row['p50_ms']):>6} "
                f"{_ms(row['p95_ms']):>6} {_ms(row['p99_ms']):>6} "
                f"{row['throughput_per_s']:>6.1f} {loss:>5}"
            )
    return lines


def _target_level(load: dict[str, Any], users: int) -> dict[str, Any] | None:
    levels = [lv for lv in load.get("levels", []) if lv["users"] <= users]
    return max(levels, key=lambda lv: lv["users"]) if levels else None


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Return every target with its measured value and whether it is met."""
    rows: list[dict[str, Any]] = []
    load = (results.get("backends") or {}).get("sqlite") or {}
    level = _target_level(load, 10)
    users = level["users"] if level else None
    p95 = level["end_to_end"]["p95_ms"] if level else None
    rows.append(
        {
            "target": f"end-to-end p95 ≤ 150 ms at 10 users (measured at {users})",
            "value": _ms(p95) + " ms",
            "ok": None if p95 is None else p95 <= 150,
        }
    )
    overhead = level["overhead_p50"] if level else None
    rows.append(
        {
            "target": f"our layer adds ≤ 25 % over Rasa alone (p50, {users} users)",
            "value": _pct(overhead),
            "ok": None if overhead is None else overhead <= 0.25,
        }
    )
    footprint = load.get("footprint") or {}
    for key, label in (("bot_process", "bot process"), ("action_server", "action server")):
        value = footprint.get(key)
        rows.append(
            {
                "target": f"{label} peak RSS ≤ 200 MB",
                "value": _num(value, " MB"),
                "ok": None if value is None else value <= 200,
            }
        )
    ev = ((results.get("quality") or {}).get("rasa") or {}).get("eval") or {}
    for key, label, limit, above in (
        ("accuracy", "in-scope accuracy ≥ 95 %", 0.95, True),
        ("escalation_recall", "out-of-scope recall ≥ 90 %", 0.90, True),
        ("false_escalation_rate", "false escalation ≤ 5 %", 0.05, False),
    ):
        value = ev.get(key)
        ok = None if value is None else (value >= limit if above else value <= limit)
        rows.append({"target": f"{label} (shipped Rasa, eval)", "value": _pct(value), "ok": ok})
    return rows


def _soak(soak: dict[str, Any]) -> list[str]:
    if "skipped" in soak:
        return [f"Soak skipped: {soak['skipped']}"]
    latency = soak.get("latency") or {}
    lines = [
        f"Soak [{soak.get('backend')}]: {soak.get('messages')} questions from "
        f"{soak.get('associations')} associations at {_num(soak.get('rate_per_s'))}/s, "
        f"{_num(soak.get('wall_s'), ' s')}{'' if soak.get('settled') else ' (did not settle)'}"
    ]
    for fault in soak.get("faults") or []:
        if "skipped" in fault:
            lines.append(f"  fault: {fault['fault']} – skipped ({fault['skipped']})")
            continue
        lines.append(
            f"  fault at question {fault['at_message']}: {fault['fault']}; back after "
            f"{_num(fault.get('back_after_s'), ' s')}"
        )
    lines += [
        f"  answered {soak.get('answered')}, lost {soak.get('lost')}, duplicated "
        f"{soak.get('duplicated')} (coordinator cards twice: {soak.get('cards_duplicated')}), "
        f"dead letters {soak.get('dead_letters')}; sends in doubt looked for in their chat: "
        f"{soak.get('checked_in_chat')} probes",
        f"  enquiries {soak.get('enquiries')} (doubled {soak.get('enquiries_doubled')}); "
        f"registered while Rasa was unavailable: {soak.get('registered_while_unavailable')}",
        f"  question → answer p50 / p95 / max: {_ms(latency.get('p50_ms'))} / "
        f"{_ms(latency.get('p95_ms'))} / {_ms(latency.get('max_ms'))} ms",
    ]
    return lines


def render(results: dict[str, Any]) -> str:
    """Return the whole report as text."""
    lines = [f"Lotsen benchmarks ({results.get('mode')}, {results.get('machine')})", ""]
    lines += _quality(results.get("quality") or {})
    for backend, load in (results.get("backends") or {}).items():
        lines.append("")
        if "skipped" in load:
            lines.append(f"[{backend}] skipped: {load['skipped']}")
            continue
        lines += _levels(backend, load)
    lines += ["", "Footprint and start-up"]
    for backend, load in (results.get("backends") or {}).items():
        fp = load.get("footprint") or {}
        cold = load.get("cold_start") or {}
        if not fp:
            continue
        lines.append(
            f"[{backend}] peak RSS: Rasa server {_num(fp.get('rasa_server'), ' MB')}, "
            f"action server {_num(fp.get('action_server'), ' MB')}, "
            f"bot process {_num(fp.get('bot_process'), ' MB')} "
            f"(before the bot started: {_num(fp.get('bot_process_before_bot_mb'), ' MB')})"
        )
        lines.append(
            f"[{backend}] cold start: services ready {_num(cold.get('stack_ready_s'), ' s')}, "
            f"bot start → first answer {_num(cold.get('bot_start_to_first_answer_s'), ' s')}, "
            f"total {_num(cold.get('total_s'), ' s')}"
        )
    training = results.get("training") or {}
    lines.append(
        f"training (lotsen train --force): {_num(training.get('seconds'), ' s')}"
        if "seconds" in training
        else f"training: skipped ({training.get('skipped', 'not run')})"
    )
    lines += ["", *_soak(results.get("soak") or {"skipped": "not run"})]
    lines += ["", "Targets (reported, never enforced)"]
    for row in results.get("targets") or []:
        lines.append(f"  {_mark(row['ok'])} {row['target']:<58} {row['value']}")
    return "\n".join(lines)
