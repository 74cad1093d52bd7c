"""Grade a class: collect → assemble → run (sandboxed) → score (pure) → report. ``grade.py`` is its CLI."""

from dbkata.grading.batch import BatchOptions, grade_batch, merge
from dbkata.grading.run import RunSettings
from dbkata.grading.sandbox import Limits

__all__ = ["BatchOptions", "Limits", "RunSettings", "grade_batch", "merge"]
