"""Outputs are built from the state alone: CSV formats, Gradescope JSON, feedback levels, report.html.

The report is opened in a real headless Chromium (Debian's ``chromium`` package).
"""

from __future__ import annotations

import csv
import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from dbkata.catalog import load_catalog
from dbkata.grading import state
from dbkata.grading.outputs import write_outputs
from dbkata.grading.record import ExerciseRun, GradingRecord, StudentTestRun, TestRunOutcome
from dbkata.grading.report_html import score_text
from dbkata.report import Evidence, Kind, Outcome, Status, TestResult
from tests.grading.conftest import WORKBOOK

HIDDEN_SOURCE = "assert got == expected_from_the_hidden_check"
LEAK = (
    "exercise = <Exercise>\n\n    def test_rows(exercise):\n>       " + HIDDEN_SOURCE + "\n"
    "E       AssertionError: rows were not committed\nexercises/level2/ex01_tally/check_tally.py:9: AssertionError"
)


def _record(student: str, i: int) -> GradingRecord:
    """A synthetic record: student i passes i % 5 of the tally checks and counts 2 + i % 3 statements."""
    tests = tuple(
        TestResult(
            f"exercises/level2/ex01_tally/check_tally.py::test_{n}",
            Kind.CHECK,
            1 + n % 2,
            Outcome.PASSED if n < i % 5 else Outcome.FAILED,
            message=None if n < i % 5 else LEAK,
            evidence=Evidence({"statements: GET /items": {"count": 2 + i % 3}}),
        )
        for n in range(4)
    )
    student_tests = (
        StudentTestRun("solution", TestRunOutcome.PASSED),
        StudentTestRun("starter", TestRunOutcome.FAILED, failed=("test_double",)),
        StudentTestRun("bad_no_commit", TestRunOutcome.PASSED if i % 2 else TestRunOutcome.FAILED),
    )
    echo = (
        ExerciseRun(Status.TIMEOUT, "timed out after 8 s")
        if i % 7 == 0
        else ExerciseRun(
            Status.OK,
            None,
            ("echo.py",),
            (TestResult("exercises/level2/ex02_echo/check_echo.py::test_echo", Kind.CHECK, 1, Outcome.PASSED),),
        )
    )
    tally = ExerciseRun(Status.OK, None, ("tally.py",), tests, {3: student_tests})
    return GradingRecord(student, f"{i:016x}", (), {"level2/ex01_tally": tally, "level2/ex02_echo": echo})


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("outputs")
    state.write_json(folder / state.BATCH, state.batch_info(load_catalog(WORKBOOK), {"limits": {}}))
    for i in range(30):
        state.write_record(folder, _record(f"s{i:02d}", i))
    write_outputs(folder)
    return folder


def _rows(path: Path) -> list[list[str]]:
    with open(path, newline="") as fh:
        return list(csv.reader(fh))


def test_grades_csv_has_a_column_per_exercise_and_empty_manual_columns(out: Path) -> None:
    rows = _rows(out / "grades.csv")
    assert rows[0] == [
        "student",
        "level2/ex01_tally",
        "level2/ex01_tally task 4 (manual)",
        "level2/ex02_echo",
        "total",
        "status",
    ]
    assert rows[1] == ["s00", "2", "", "0", "2", "graded with errors"]  # no check, but its test caught 2 of 2
    assert rows[4] == ["s03", "4.5", "", "2", "6.5", "graded"]
    assert len(rows) == 31


def test_canvas_csv_has_the_importers_columns_and_a_points_possible_row(out: Path) -> None:
    rows = _rows(out / "canvas.csv")
    assert rows[0][:5] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
    assert rows[1][0] == "Points Possible"
    assert rows[1][5:] == ["7", "2"]
    assert rows[2][:5] == ["s00", "", "s00", "s00", ""]


def test_moodle_csv_has_a_username_column_and_feedback_per_exercise(out: Path) -> None:
    rows = _rows(out / "moodle.csv")
    assert rows[0] == [
        "username",
        "level2/ex01_tally",
        "level2/ex01_tally feedback",
        "level2/ex02_echo",
        "level2/ex02_echo feedback",
    ]
    assert rows[4][3:] == ["2", "task 1: 1 of 1 checks passed"]


def test_ta_worksheet_lists_every_manual_task_with_its_rubric(out: Path) -> None:
    rows = _rows(out / "ta-worksheet.csv")
    assert rows[0] == [
        "student",
        "exercise",
        "task",
        "points",
        "rubric",
        "question",
        "answer",
        "revealed",
        "score",
        "comment",
    ]
    assert rows[1][:5] == [
        "s00",
        "level2/ex01_tally",
        "4",
        "1",
        "Docstring of add_items says what the transaction covers (1 point).",
    ]
    assert len(rows) == 31


def test_gradescope_results_have_a_test_per_automatic_task(out: Path) -> None:
    data = json.loads((out / "gradescope" / "s03" / "results.json").read_text())
    assert data["score"] == 6.5
    assert [(t["name"], t["score"], t["max_score"]) for t in data["tests"]] == [
        ("level2/ex01_tally · task 1", 2.0, 2.0),
        ("level2/ex01_tally · task 2", 1.5, 3.0),
        ("level2/ex01_tally · task 3", 1.0, 2.0),
        ("level2/ex02_echo · task 1", 2.0, 2.0),
    ]
    assert all(t["output_format"] == "md" and t["visibility"] == "visible" for t in data["tests"])


def test_results_json_keeps_the_evidence_of_each_check(out: Path) -> None:
    data = json.loads((out / "results.json").read_text())
    item = data["students"][3]["exercises"][0]["tasks"][0]["items"][0]
    assert item["evidence"] == {"statements: GET /items": {"count": 2}}


@pytest.mark.parametrize("level", ["summary", "messages", "full"])
def test_feedback_levels_decide_how_much_of_the_hidden_checks_is_shown(out: Path, tmp_path: Path, level: str) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    write_outputs(copy, level)
    text = (copy / "feedback" / "s01.md").read_text()
    assert "### Task 2 — 0 / 3: failed" in text
    assert ("AssertionError: rows were not committed" in text) == (level != "summary")
    assert (HIDDEN_SOURCE in text) == (level == "full")
    assert ("test_1" in text) == (level == "full")


def test_report_html_is_self_contained(out: Path) -> None:
    page = (out / "report.html").read_text()
    assert not re.search(r"""(src|href)\s*=\s*['"]?(https?:)?//""", page)
    assert "<script" not in page
    assert page.count("class=bin") == 10


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing on CI: .ci/run must `apt-get install -y chromium`")
        pytest.skip("chromium is not installed here (apt-get install -y chromium)")
    return found


def test_outputs_are_readable_by_the_group_and_not_by_others(out: Path) -> None:
    modes = {p.relative_to(out).as_posix(): p.stat().st_mode & 0o777 for p in [out, *out.rglob("*")]}
    assert modes["."] == 0o750
    assert modes["grades.csv"] == modes["report.html"] == modes["records/s00.json"] == 0o640
    assert modes["feedback"] == modes["gradescope/s01"] == 0o750
    assert set(modes.values()) == {0o640, 0o750}


def test_umask_chooses_the_outputs_modes(out: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    write_outputs(copy, umask=0o077)
    assert {p.stat().st_mode & 0o777 for p in copy.rglob("*") if p.is_file()} == {0o600}
    assert {p.stat().st_mode & 0o777 for p in [copy, *copy.rglob("*")] if p.is_dir()} == {0o700}


def test_report_numbers_are_rounded_for_people(out: Path) -> None:
    assert [score_text(v) for v in (7.165, 7.0, 6.25, 0.04)] == ["7.2", "7", "6.2", "0"]
    page = (out / "report.html").read_text()
    median = re.search(r"<b>([^<]*)</b>median total", page)
    assert median is not None
    assert re.fullmatch(r"\d+(\.\d)?", median.group(1)), median.group(1)


def test_histogram_axis_is_labelled_at_bin_edges(out: Path) -> None:
    page = (out / "report.html").read_text()
    edges = re.findall(r"<text class=edge [^>]*>([^<]*)</text>", page)
    assert edges == [f"{10 * i}%" for i in range(11)]  # 3.4 % lies between the "0%" and "10%" ticks
    tops = [int(y) for y in re.findall(r"<text class=count x=\d+ y=(-?\d+)", page)]
    assert tops
    assert min(tops) >= 11  # the tallest bar's count label (11 px text) starts inside the picture


# Measures the laid-out page (test-only: the report itself has no script) and writes the result into it.
_MEASURE = """<script>
const box = (e) => e.getBoundingClientRect();
const svg = box(document.getElementById("histogram"));
const texts = [...document.querySelectorAll("#histogram text")].map(box);
const outside = texts.filter((t) => t.left < svg.left - 0.5 || t.right > svg.right + 0.5
  || t.top < svg.top - 0.5 || t.bottom > svg.bottom + 0.5).length;
const edges = [...document.querySelectorAll("#histogram text.edge")].map(box);
const overlaps = edges.slice(1).filter((t, i) => t.left < edges[i].right).length;
const pre = document.createElement("pre");
pre.id = "layout";
pre.textContent = JSON.stringify({outside, overlaps, texts: texts.length, svgWidth: svg.width,
  viewport: window.innerWidth, pageWidth: document.documentElement.scrollWidth});
document.body.append(pre);
</script>"""

_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--hide-scrollbars",
]


@pytest.mark.parametrize("width", [1200, 420])  # a laptop, and a phone held upright
def test_report_html_renders_in_a_headless_browser(out: Path, tmp_path: Path, width: int) -> None:
    flags = [*_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", f"--window-size={width},1600"]
    url = (out / "report.html").as_uri()
    dom = subprocess.run(
        [_chromium(), *flags, "--dump-dom", url], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    assert dom.count('class="bin"') == 10
    assert re.search(r'<table id="students">.*</table>', dom, re.S)
    assert dom.count("<tr>", dom.index('id="students"')) == 31  # a header and one row per student
    assert "statements: GET /items" in dom
    measured = tmp_path / "measured.html"
    measured.write_text((out / "report.html").read_text().replace("</body>", _MEASURE + "</body>"))
    dom = subprocess.run(
        [_chromium(), *flags, "--dump-dom", measured.as_uri()], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    found = re.search(r'<pre id="layout">(.*?)</pre>', dom)
    assert found, dom[-2000:]
    layout = json.loads(html.unescape(found.group(1)))
    assert layout["texts"] > 11  # eleven edge labels and the counts
    assert layout["outside"] == 0, layout  # no label clipped by the picture's edge (the tallest bar's)
    assert layout["overlaps"] == 0, layout  # the axis labels do not run into each other
    assert layout["svgWidth"] <= layout["viewport"], layout  # the histogram shrinks to fit
    assert layout["pageWidth"] <= layout["viewport"], layout  # wide tables scroll in their box, not the page
    shot = tmp_path / "report.png"
    subprocess.run([_chromium(), *flags, f"--screenshot={shot}", url], capture_output=True, timeout=120, check=True)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert shot.stat().st_size > 20_000  # a rendered page, not a blank one
