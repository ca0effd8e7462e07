"""Render the benchmark results as plain-text tables with target checks."""

from __future__ import annotations

from typing import Any

from bench.baseline import side_by_side
from bench.scale import BEFORE_CPU_MS
from bot.understanding.evaluation import MAX_CONFIRMATION_RATE, TARGETS

APPROACHES = (
    ("keyword", "keyword baseline (handles)"),
    ("tfidf", "TF-IDF + logistic regression"),
    ("rasa", "Rasa, shipped pipeline"),
    ("rasa_alt", "Rasa, alternative pipeline"),
)


def _pct(value: Any) -> str:
    return f"{value:.1%}" if isinstance(value, int | float) else "–"


def _pct0(value: Any) -> str:
    return f"{value:.0%}" if isinstance(value, int | float) else "–"


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


def _dev_sets(dev_sets: dict[str, Any]) -> list[str]:
    """Render the shipped pipeline's figures per dev set and language group (issue 24)."""
    if not dev_sets:
        return ["Dev sets per language group: not run"]
    lines = [
        "Shipped pipeline, live decision, per dev set and language group (caught = escalated "
        "or referred; referral = right authority named; confirm = share of in-scope lines "
        "asked first)",
        f"{'set':<14}{'group':<15}{'lines':>6}{'in scope':>9}{'caught':>8}{'f.esc':>7}"
        f"{'referral':>9}{'confirm':>8}{'talk':>5}",
    ]
    for name, entry in dev_sets.items():
        for group, g in (entry.get("groups") or {}).items():
            lines.append(
                f"{name:<14}{group:<15}{_num(g.get('lines')):>6}"
                f"{_pct(g.get('accuracy') if g.get('in_scope') else None):>9}"
                f"{_pct(g.get('escalation_recall') if g.get('out_of_scope') else None):>8}"
                f"{_pct(g.get('false_escalation_rate') if g.get('in_scope') else None):>7}"
                f"{_pct(g.get('referral_accuracy') if g.get('expected_referrals') else None):>9}"
                f"{_pct(g.get('confirmation_rate') if g.get('in_scope') else None):>8}"
                f"{_num(g.get('answered_smalltalk')):>5}"
            )
    return lines


def _dev_set_targets(dev_sets: dict[str, Any]) -> list[dict[str, Any]]:
    """Return issue 24's targets per language group over all dev sets together."""
    totals: dict[str, dict[str, float]] = {}
    for entry in dev_sets.values():
        for group, g in (entry.get("groups") or {}).items():
            t = totals.setdefault(group, {})
            in_scope, out = g.get("in_scope") or 0, g.get("out_of_scope") or 0
            for key, weight in (
                ("accuracy", in_scope),
                ("false_escalation_rate", in_scope),
                ("confirmation_rate", in_scope),
                ("escalation_recall", out),
            ):
                t[key] = t.get(key, 0.0) + (g.get(key) or 0.0) * weight
                t[f"{key}_n"] = t.get(f"{key}_n", 0.0) + weight
            t["answered_smalltalk"] = t.get("answered_smalltalk", 0.0) + (
                g.get("answered_smalltalk") or 0
            )
    rows = []
    for group, t in totals.items():
        checks = [(name, op, value) for name, (op, value) in TARGETS.get(group, {}).items()]
        checks.append(("confirmation_rate", "<", MAX_CONFIRMATION_RATE))
        for name, op, limit in checks:
            n = t.get(f"{name}_n") or 0.0
            value = t[name] / n if n else None
            ok = None
            if value is not None:
                ok = (
                    value >= limit
                    if op == ">="
                    else (value <= limit if op == "<=" else value < limit)
                )
            rows.append(
                {
                    "target": f"{group}: {name} {op} {limit:.0%} (all dev sets)",
                    "value": _pct(value),
                    "ok": ok,
                }
            )
        talk = t.get("answered_smalltalk", 0.0)
        rows.append(
            {"target": f"{group}: answered as small talk = 0", "value": _num(talk), "ok": talk == 0}
        )
    return rows


def _pipelines(pipelines: dict[str, Any]) -> list[str]:
    if "skipped" in pipelines:
        return [f"Pipelines compared: skipped ({pipelines['skipped']})"]
    lines = [
        "Pipelines compared in this run (in-process parse of both dev sets, one at a time; "
        "route = lotsen route's batch parser, start-up included)",
        f"{'pipeline':<10}{'train':>7}{'cpu':>8}{'p50':>6}{'p95':>6}{'cpu50':>6}{'cpu95':>6}"
        f"{'RSS':>7}{'route/s':>8} │ "
        f"{'dev acc':>7}{'oos':>7}{'f.esc':>7}{'talk':>5} │ {'ml acc':>7}{'oos':>7}{'talk':>5}",
    ]
    for key in ("shipped", "previous"):
        p = pipelines.get(key) or {}
        dev, ml = p.get("dev") or {}, p.get("multilingual") or {}
        lines.append(
            f"{key:<10}{_num(p.get('train_seconds'), 's'):>7}"
            f"{_num(p.get('train_cpu_seconds'), 's'):>8}"
            f"{_ms((p.get('parse') or {}).get('p50_ms')):>6}"
            f"{_ms((p.get('parse') or {}).get('p95_ms')):>6}"
            f"{_ms((p.get('parse_cpu') or {}).get('p50_ms')):>6}"
            f"{_ms((p.get('parse_cpu') or {}).get('p95_ms')):>6}"
            f"{_num((p.get('rss_mb') or {}).get('after_parsing')):>7}"
            f"{_num(p.get('route_lines_per_s')):>8} │ "
            f"{_pct(dev.get('accuracy')):>7}{_pct(dev.get('escalation_recall')):>7}"
            f"{_pct(dev.get('false_escalation_rate')):>7}"
            f"{_num(dev.get('answered_smalltalk')):>5} │ "
            f"{_pct(ml.get('accuracy')):>7}{_pct(ml.get('escalation_recall')):>7}"
            f"{_num(ml.get('answered_smalltalk')):>5}"
        )
    growth = _num(pipelines.get("rss_growth_mb"), " MB")
    lines += [
        "(train: wall and CPU seconds; p50/p95: wall ms, cpu50/cpu95: CPU ms of all threads;",
        f" RSS: MB after loading and parsing, the shipped pipeline's {growth} more;",
        " on a busy machine the CPU figures are the steadier ones)",
    ]
    return lines


def _pipeline_targets(pipelines: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the targets of the multilingual encoder (issue 13), for the shipped pipeline."""
    shipped = pipelines.get("shipped") or {}
    dev, ml = shipped.get("dev") or {}, shipped.get("multilingual") or {}
    parse = shipped.get("parse") or {}
    checks = [
        ("dev in-scope accuracy ≥ 97 %", dev.get("accuracy"), 0.97, True, _pct),
        ("dev out-of-scope recall ≥ 95 %", dev.get("escalation_recall"), 0.95, True, _pct),
        ("dev false escalation ≤ 3 %", dev.get("false_escalation_rate"), 0.03, False, _pct),
        ("multilingual in-scope accuracy ≥ 90 %", ml.get("accuracy"), 0.90, True, _pct),
        ("multilingual out-of-scope recall ≥ 95 %", ml.get("escalation_recall"), 0.95, True, _pct),
        (
            "no dev question answered as small talk or status",
            (dev.get("answered_smalltalk") or 0) + (ml.get("answered_smalltalk") or 0)
            if dev and ml
            else None,
            0,
            False,
            _num,
        ),
        ("in-process parse p50 ≤ 50 ms", parse.get("p50_ms"), 50, False, _ms),
        ("in-process parse p95 ≤ 120 ms", parse.get("p95_ms"), 120, False, _ms),
        ("training from scratch ≤ 5 min", shipped.get("train_seconds"), 300, False, _num),
        ("Rasa RSS growth ≤ 150 MB", pipelines.get("rss_growth_mb"), 150, False, _num),
        ("lotsen route ≥ 20 lines/s", shipped.get("route_lines_per_s"), 20, True, _num),
    ]
    rows = []
    for label, value, limit, above, show in checks:
        ok = None if value is None else (value >= limit if above else value <= limit)
        rows.append({"target": f"{label} (shipped pipeline)", "value": show(value), "ok": ok})
    return rows


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


def _scale(scale: dict[str, Any]) -> list[str]:
    lines = [
        "Scale-out: the bot as its own process (polling), Rasa server(s), one action server; "
        "latency ms, busy = the whole machine's CPU, CPU ms per answered message",
        f"{'topology':<28}{'users':>6}{'p50':>7}{'p95':>7}{'msg/s':>7}{'loss':>5}"
        f"{'rasa✗':>6}{'busy':>6} │ {'bot':>5}{'rasa':>6}{'act':>5}{'total':>6}{'before':>7}",
    ]
    if "skipped" in scale:
        return [lines[0], f"  skipped: {scale['skipped']}"]
    for topology in scale.get("topologies", []):
        before = BEFORE_CPU_MS.get(topology["backend"], {}) if topology["replicas"] == 1 else {}
        for level in topology["levels"]:
            cpu = level["cpu_ms_per_message"]
            loss = level["questions"] - min(level["answered"], level["enquiries_recorded"] or 0)
            lines.append(
                f"{topology['topology']:<28}{level['users']:>6}{_ms(level['p50_ms']):>7}"
                f"{_ms(level['p95_ms']):>7}{level['throughput_per_s']:>7.1f}{loss:>5}"
                f"{level['rasa_failed']:>6}{_pct0(level.get('machine_busy')):>6} │ "
                f"{_num(cpu['bot']):>5}{_num(cpu['rasa']):>6}"
                f"{_num(cpu['actions']):>5}{_num(cpu['total']):>6}"
                f"{_num(before.get(level['users'])):>7}"
            )
        lines.append(
            f"{topology['topology']:<28} sustained rate with zero loss: "
            f"{_num(topology['sustained_rate_per_s'])} msg/s (ready after "
            f"{_num(topology['stack_ready_s'], ' s')})"
        )
    return lines


def _mean_cpu(topology: dict[str, Any]) -> float | None:
    values = [lv["cpu_ms_per_message"]["total"] for lv in topology["levels"]]
    return sum(values) / len(values) if values and None not in values else None


def _scale_targets(scale: dict[str, Any]) -> list[dict[str, Any]]:
    found = scale.get("topologies") or []
    rows: list[dict[str, Any]] = []
    if not found:
        return rows
    levels = [lv for t in found for lv in t["levels"]]
    clean = all(lv["zero_loss"] and lv["rasa_failed"] == 0 for lv in levels)
    rows.append(
        {
            "target": "zero loss at every scale (and Rasa answered every question)",
            "value": f"{sum(lv['questions'] for lv in levels)} questions",
            "ok": clean,
        }
    )
    pg = {t["replicas"]: t for t in found if t["backend"] == "postgresql"}
    if 1 in pg and 2 in pg:
        one, two = pg[1]["sustained_rate_per_s"], pg[2]["sustained_rate_per_s"]
        ratio = two / one if one and two else None
        rows.append(
            {
                "target": "2 replicas ≥ 1.3× the zero-loss rate of 1 (PostgreSQL + Redis)",
                "value": f"{_num(two)} / {_num(one)} msg/s = {_num(ratio and round(ratio, 2))}×",
                "ok": None if ratio is None else ratio >= 1.3,
            }
        )
        p95: list[float | None] = [
            next((lv["p95_ms"] for lv in t["levels"] if lv["users"] == 10), None)
            for t in (pg[1], pg[2])
        ]
        slow, fast = p95
        rows.append(
            {
                "target": "2 replicas: lower p95 at 10 users than 1",
                "value": f"{_ms(p95[1])} vs {_ms(p95[0])} ms",
                "ok": None if slow is None or fast is None else fast < slow,
            }
        )
    for topology in found:
        before = BEFORE_CPU_MS.get(topology["backend"])
        if topology["replicas"] != 1 or not before:
            continue
        now = _mean_cpu(topology)
        then = sum(before[lv["users"]] for lv in topology["levels"] if lv["users"] in before)
        count = sum(1 for lv in topology["levels"] if lv["users"] in before)
        if now is None or not count:
            continue
        drop = 1 - now / (then / count)
        rows.append(
            {
                "target": f"CPU per message ≥ 30 % below before ({topology['topology']})",
                "value": f"{now:.1f} vs {then / count:.1f} ms ({drop:.0%} less)",
                "ok": drop >= 0.30,
            }
        )
    return rows


def _target_level(load: dict[str, Any], users: int) -> dict[str, Any] | None:
    levels = [lv for lv in load.get("levels", []) if lv["users"] <= users]
    return max(levels, key=lambda lv: lv["users"]) if levels else None


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Return every target with its measured value and whether it is met."""
    rows: list[dict[str, Any]] = _scale_targets(results.get("scale") or {})
    rows += _dev_set_targets(
        ((results.get("quality") or {}).get("rasa") or {}).get("dev_sets") or {}
    )
    if not results.get("backends"):
        return rows
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
        ("accuracy", "in-scope accuracy ≥ 97 %", 0.97, True),
        ("escalation_recall", "out-of-scope recall ≥ 95 %", 0.95, True),
        ("false_escalation_rate", "false escalation ≤ 3 %", 0.03, False),
    ):
        value = ev.get(key)
        ok = None if value is None else (value >= limit if above else value <= limit)
        rows.append({"target": f"{label} (shipped Rasa, eval)", "value": _pct(value), "ok": ok})
    pipelines = (results.get("quality") or {}).get("pipelines") or {}
    if "skipped" not in pipelines and pipelines:
        rows += _pipeline_targets(pipelines)
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
    comparison = side_by_side(results)
    if comparison:
        lines += [*comparison, ""]
    lines += _quality(results.get("quality") or {})
    lines += [
        "",
        *_dev_sets(((results.get("quality") or {}).get("rasa") or {}).get("dev_sets") or {}),
    ]
    lines += [
        "",
        *_pipelines((results.get("quality") or {}).get("pipelines") or {"skipped": "not run"}),
    ]
    for backend, load in (results.get("backends") or {}).items():
        lines.append("")
        if "skipped" in load:
            lines.append(f"[{backend}] skipped: {load['skipped']}")
            continue
        lines += _levels(backend, load)
    if results.get("scale"):
        lines += ["", *_scale(results["scale"])]
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
