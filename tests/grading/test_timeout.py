"""A run stopped at its time limit keeps the tests it finished: a timeout costs only what did not finish."""

from __future__ import annotations

from pathlib import Path

from dbkata.assemble import PYTEST_CONFIG
from dbkata.report import Outcome, Status, partial_path
from dbkata.runner import REPORT_NAME, read_report, run_tree

FINISHED = """
def test_finished():
    assert 1 + 1 == 2
"""


def _tree(root: Path, second: str) -> Path:
    """An assembled-style tree: one test that passes, then ``second``."""
    (root / "pyproject.toml").write_text(PYTEST_CONFIG)
    folder = root / "exercises" / "level2" / "ex99_slow"
    folder.mkdir(parents=True)
    (folder / "test_slow.py").write_text(FINISHED + second)
    return folder


def test_the_report_so_far_survives_a_run_killed_mid_test(tmp_path: Path) -> None:
    killed = "\nimport os, signal\n\ndef test_killed():\n    os.kill(os.getpid(), signal.SIGKILL)\n"
    folder = _tree(tmp_path, killed)
    result = run_tree(folder)
    assert result.status == Status.CRASHED  # no final report: the process died
    so_far = read_report(partial_path(tmp_path / REPORT_NAME), -9, "")
    assert [(t.name, t.outcome) for t in so_far.tests] == [("test_finished", Outcome.PASSED)]


def test_a_timed_out_run_returns_the_tests_it_finished(tmp_path: Path) -> None:
    # The second test never ends; the run is stopped at its limit. Whether the first had finished by
    # then depends on the machine's speed, so only what the runner may return is asserted.
    forever = "\nimport threading\n\ndef test_forever():\n    threading.Event().wait()\n"
    folder = _tree(tmp_path, forever)
    result = run_tree(folder, timeout=8)
    assert result.status == Status.TIMEOUT
    assert result.message == "timed out after 8 s"
    assert [t.name for t in result.tests] in ([], ["test_finished"])
    assert all(t.outcome == Outcome.PASSED for t in result.tests)


def test_a_completed_run_leaves_no_partial_report(tmp_path: Path) -> None:
    folder = _tree(tmp_path, "")
    result = run_tree(folder)
    assert result.status == Status.OK
    assert [t.name for t in result.tests] == ["test_finished"]
    assert not partial_path(tmp_path / REPORT_NAME).exists()
