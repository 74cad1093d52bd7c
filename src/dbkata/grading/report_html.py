"""The class report: one self-contained HTML page (inline CSS and SVG, no script, nothing fetched).

Score distribution, pass rate per exercise and task, the most common failure reasons, the
statement-count distribution of the checks that count SQL statements, and one row per student.
"""

from __future__ import annotations

import html
import re
import statistics
from collections import Counter, defaultdict
from typing import Any

from dbkata.grading.score import StudentScore

_CSS = """
body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:1100px;padding:0 1rem;color:#1b1f24}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{margin-top:2.2rem;border-bottom:1px solid #d0d7de;padding-bottom:.2rem}
.sub{color:#57606a}.cards{display:flex;gap:1rem;flex-wrap:wrap;margin:1rem 0}
.card{border:1px solid #d0d7de;border-radius:8px;padding:.6rem 1rem;min-width:8rem}
.card b{display:block;font-size:1.5rem}table{border-collapse:collapse;width:100%;margin:.6rem 0}
th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #eaeef2;vertical-align:top}
th{background:#f6f8fa}td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.bar{background:#eaeef2;border-radius:3px;height:.8rem;width:10rem;display:inline-block;vertical-align:middle}
.bar i{display:block;height:100%;border-radius:3px;background:#2da44e}
.bar.low i{background:#cf222e}.bar.mid i{background:#bf8700}code{font-size:.85em;white-space:pre-wrap}
.status-graded{color:#1a7f37}.status-infrastructure_error,.status-incomplete{color:#9a6700}
svg text{font:11px system-ui,sans-serif;fill:#57606a}.scroll{overflow-x:auto;max-width:100%}
"""
_STATEMENTS = re.compile(r"^statements?(?: counts)?: ")


def class_report(info: dict[str, Any], scores: list[StudentScore]) -> str:
    """The whole page."""
    body = [
        _header(info, scores),
        _distribution(scores),
        _pass_rates(scores),
        _failures(scores),
        _statement_counts(scores),
        _students(scores),
    ]
    return (
        "<!doctype html>\n<html lang=en>\n<head><meta charset=utf-8>"
        "<meta name=viewport content='width=device-width,initial-scale=1'>"
        f"<title>dbkata class report</title><style>{_CSS}</style></head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _header(info: dict[str, Any], scores: list[StudentScore]) -> str:
    statuses = Counter(s.status for s in scores)
    totals = [s.total for s in scores if s.total is not None]
    points = scores[0].points if scores else 0
    cards = [
        ("students", len(scores)),
        ("points possible", f"{points:g}"),
        ("median total", score_text(statistics.median(totals)) if totals else "—"),
        *((status, count) for status, count in sorted(statuses.items())),
    ]
    card_html = "".join(f"<div class=card><b>{_e(v)}</b>{_e(k)}</div>" for k, v in cards)
    return (
        f"<h1>dbkata class report</h1><p class=sub>workbook {_e(info.get('workbook'))} · "
        f"{len(info.get('exercises', []))} exercise(s)</p><div class=cards>{card_html}</div>"
    )


def _distribution(scores: list[StudentScore]) -> str:
    """A histogram of totals as a share of the points, in ten bins; the axis is labelled at bin edges."""
    points = scores[0].points if scores else 0
    bins = [0] * 10
    for s in scores:
        if s.total is not None and points:
            bins[min(9, int(10 * s.total / points))] += 1
    top = max(bins) or 1
    width, height, base, headroom = 560, 170, 150, 20  # headroom: the tallest bar's count label fits above it
    parts = []
    for i, count in enumerate(bins):
        h = round((base - headroom) * count / top)
        x = 40 + i * 50
        span = f"{i * 10}–{i * 10 + 10}%" + (" (100% included)" if i == 9 else "")
        parts.append(
            f"<rect class=bin x={x} y={base - h} width=44 height={h} fill='#0969da'>"
            f"<title>{span}: {count} student(s)</title></rect>"
        )
        if count:
            parts.append(f"<text class=count x={x + 22} y={base - h - 5} text-anchor=middle>{count}</text>")
    for i in range(11):  # bin edges: a total of 3.4 % sits between "0%" and "10%", not under "0%"
        parts.append(f"<text class=edge x={37 + i * 50} y={base + 15} text-anchor=middle>{i * 10}%</text>")
    return (
        f"<h2>Score distribution</h2><p class=sub>students per tenth of the points possible</p>"
        f"<svg id=histogram role=img aria-label='histogram of totals' width={width} height={height} "
        f"viewBox='0 0 {width} {height}' style='max-width:100%;height:auto'>{''.join(parts)}</svg>"
    )


def score_text(value: float) -> str:
    """A score or median for people: at most one decimal (7.165 → 7.2, 7.0 → 7)."""
    return f"{round(value, 1):g}"


def _rate_bar(rate: float) -> str:
    cls = "low" if rate < 0.4 else ("mid" if rate < 0.75 else "")
    return f"<span class='bar {cls}'><i style='width:{100 * rate:.0f}%'></i></span> {100 * rate:.0f}%"


def _pass_rates(scores: list[StudentScore]) -> str:
    """Per exercise: mean score and full-mark rate; per task: the share of students who passed it."""
    rows = []
    for col, first in enumerate(scores[0].exercises if scores else ()):
        graded = [s.exercises[col] for s in scores if s.exercises[col].score is not None]
        mean = statistics.fmean(e.score or 0 for e in graded) if graded else 0.0
        full = sum(e.score == e.points for e in graded) / len(graded) if graded else 0.0
        rows.append(
            f"<tr class=exercise><th>{_e(first.id)}</th><td class=num>{mean:.2f} / {first.points:g}</td>"
            f"<td>{_rate_bar(full)}</td></tr>"
        )
        for t, task in enumerate(first.tasks):
            if task.manual is not None:
                rows.append(f"<tr><td>task {task.number}</td><td colspan=2 class=sub>graded by a person</td></tr>")
                continue
            passed = sum(e.tasks[t].status == "passed" for e in graded) / len(graded) if graded else 0.0
            rows.append(
                f"<tr class=task><td>task {task.number}</td><td class=num>{task.points:g} pt</td>"
                f"<td>{_rate_bar(passed)}</td></tr>"
            )
    return (
        "<h2>Pass rate per exercise and task</h2><div class=scroll><table id=pass-rates><tr><th>exercise / task</th>"
        "<th>mean</th><th>full marks / passed</th></tr>" + "".join(rows) + "</table></div>"
    )


def failure_reason(message: str | None, outcome: str) -> str:
    """The headline of a failure: a dbkata message's first line, else the first exception line."""
    if not message:
        return outcome
    lines = message.strip().splitlines()
    if lines and lines[0].startswith("["):
        return lines[0]
    errors = [line[1:].strip() for line in lines if line.startswith("E ")]
    return errors[0] if errors else lines[-1] if lines else outcome


def _failures(scores: list[StudentScore], limit: int = 12) -> str:
    """The reasons most students failed on, counted once per student."""
    counts: Counter[tuple[str, str]] = Counter()
    for s in scores:
        seen = set()
        for e in s.exercises:
            if e.run_status not in ("ok", "not_submitted", "not_graded"):
                first = e.message.strip().splitlines()[0] if e.message and e.message.strip() else ""
                seen.add((e.id, f"run {e.run_status.replace('_', ' ')}: {first}"))
            for t in e.tasks:
                seen.update((e.id, failure_reason(i.message, i.outcome)) for i in t.items if not i.passed)
        counts.update(seen)
    rows = "".join(
        f"<tr><td class=num>{n}</td><td>{_e(ex)}</td><td><code>{_e(reason[:300])}</code></td></tr>"
        for (ex, reason), n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
    )
    return (
        "<h2>Most common failure reasons</h2><div class=scroll><table id=failures>"
        "<tr><th>students</th><th>exercise</th>"
        "<th>reason</th></tr>" + (rows or "<tr><td colspan=3>no failures</td></tr>") + "</table></div>"
    )


def _statement_counts(scores: list[StudentScore]) -> str:
    """For every check that counted SQL statements: the spread of counts across the class."""
    seen: dict[tuple[str, str], list[int]] = defaultdict(list)
    for s in scores:
        for e in s.exercises:
            for item in (i for t in e.tasks for i in t.items):
                for key, value in item.evidence.items():
                    count = _count_of(value) if _STATEMENTS.match(key) else None
                    if count is not None:
                        seen[(e.id, key)].append(count)
    rows = []
    for (ex, key), counts in sorted(seen.items()):
        dist = ", ".join(f"{c} stmt × {n}" for c, n in sorted(Counter(counts).items()))
        rows.append(
            f"<tr><td>{_e(ex)}</td><td>{_e(key)}</td><td class=num>{min(counts)}</td>"
            f"<td class=num>{score_text(statistics.median(counts))}</td><td class=num>{max(counts)}</td>"
            f"<td>{_e(dist)}</td></tr>"
        )
    return (
        "<h2>Statement counts (N+1 checks)</h2><div class=scroll><table id=statements>"
        "<tr><th>exercise</th><th>measured</th>"
        "<th>min</th><th>median</th><th>max</th><th>distribution (count × students)</th></tr>"
        + ("".join(rows) or "<tr><td colspan=6>no check counted statements</td></tr>")
        + "</table></div>"
    )


def _count_of(value: Any) -> int | None:
    """The statement count an evidence value holds (the largest size's count for size→count maps)."""
    if isinstance(value, dict) and isinstance(value.get("count"), int):
        return int(value["count"])
    if isinstance(value, dict) and value and all(isinstance(v, int) for v in value.values()):
        return int(value[max(value, key=lambda k: int(k) if str(k).isdigit() else 0)])
    return None


def _points(value: float) -> str:
    """A student's points: exact up to two decimals (a third of a point is 0.33, not 0.333333)."""
    return f"{round(value, 2):g}"


def _students(scores: list[StudentScore]) -> str:
    head = "".join(
        f"<th title='{_e(e.id)}'>{_e(e.id.split('/')[-1].split('_')[0])}</th>"
        for e in (scores[0].exercises if scores else ())
    )
    rows = []
    for s in scores:
        cells = "".join(f"<td class=num>{'—' if e.score is None else _points(e.score)}</td>" for e in s.exercises)
        total = "—" if s.total is None else _points(s.total)
        rows.append(
            f"<tr><td><a href='feedback/{_e(s.student)}.md'>{_e(s.student)}</a></td>{cells}"
            f"<td class=num>{total}</td><td class='status-{_e(s.status.replace(' ', '_'))}'>"
            f"{_e(s.status)}</td></tr>"
        )
    return (
        "<h2>Students</h2><div class=scroll><table id=students>"
        f"<tr><th>student</th>{head}<th>total</th><th>status</th></tr>" + "".join(rows) + "</table></div>"
    )
