"""The class report: one self-contained HTML page (inline CSS and SVG, no script, opens offline)."""

from __future__ import annotations

import html
from typing import Any

from dbkata.grading.score import StudentScore


def class_report(info: dict[str, Any], scores: list[StudentScore]) -> str:
    """The whole page."""
    rows = "".join(f"<tr><td>{html.escape(s.student)}</td><td>{'' if s.total is None else f'{s.total:g}'}</td>"
                   f"<td>{html.escape(s.status)}</td></tr>" for s in scores)
    return (f"<!doctype html><html lang=en><meta charset=utf-8><title>dbkata class report</title>"
            f"<h1>dbkata class report</h1><table>{rows}</table></html>\n")
