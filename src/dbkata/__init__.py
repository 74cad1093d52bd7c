"""dbkata: an auto-graded workbook whose checks observe how code uses a real PostgreSQL."""

from dbkata import probes
from dbkata.app.codec import AppError, raised, raises
from dbkata.feedback import fail, record_evidence
from dbkata.probes import *  # noqa: F403  (the probes are the public API; their list lives in probes/__init__)

__all__ = ["AppError", "fail", "raised", "raises", "record_evidence"]
__all__ += probes.__all__
