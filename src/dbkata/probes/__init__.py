"""The probes: small public APIs that observe how code under test uses the database."""

from dbkata.probes.asgi import AsgiResult, asgi_request
from dbkata.probes.atomicity import Injection, Snapshot, assert_unchanged, fail_nth, snapshot
from dbkata.probes.connections import ConnectionWindow, connections
from dbkata.probes.loop import HeldUp, answered_while_held, loop_stall, peak_concurrency
from dbkata.probes.races import LockstepRun, Outcome, Race, lockstep, race, sqlstate_of, takes_row_locks
from dbkata.probes.statements import Statement, StatementLog, assert_statements_constant, statements

__all__ = [
    "AsgiResult",
    "ConnectionWindow",
    "HeldUp",
    "Injection",
    "LockstepRun",
    "Outcome",
    "Race",
    "Snapshot",
    "Statement",
    "StatementLog",
    "answered_while_held",
    "asgi_request",
    "assert_statements_constant",
    "assert_unchanged",
    "connections",
    "fail_nth",
    "lockstep",
    "loop_stall",
    "peak_concurrency",
    "race",
    "snapshot",
    "sqlstate_of",
    "statements",
    "takes_row_locks",
]
