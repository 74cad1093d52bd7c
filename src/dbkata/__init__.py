"""dbkata: an auto-graded workbook whose checks observe how code uses a real PostgreSQL."""

from dbkata.feedback import fail
from dbkata.probes import (
    AsgiResult,
    ConnectionWindow,
    Injection,
    Outcome,
    Snapshot,
    Statement,
    StatementLog,
    asgi_request,
    assert_statements_constant,
    assert_unchanged,
    connections,
    fail_nth,
    loop_stall,
    peak_concurrency,
    race,
    snapshot,
    sqlstate_of,
    statements,
)

__all__ = [
    "AsgiResult", "ConnectionWindow", "Injection", "Outcome", "Snapshot", "Statement", "StatementLog", "asgi_request",
    "assert_statements_constant", "assert_unchanged", "connections", "fail", "fail_nth", "loop_stall",
    "peak_concurrency", "race", "snapshot", "sqlstate_of", "statements",
]
