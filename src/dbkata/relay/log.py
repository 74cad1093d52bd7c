"""What the relay saw, as an ordered log every harness thread can read (records are frozen snapshots)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from typing import Literal

StatementKind = Literal["simple", "extended"]


@dataclass(frozen=True)
class WireStatement:
    """One statement a client sent: a statement of a simple Query, or an Execute of a new portal.

    ``counted`` is False for transaction control and for the exact texts drivers send by themselves;
    ``refused`` marks the statement the relay did not forward because the statement limit was exceeded;
    statements of one connection with the same ``batch`` were pipelined in one round trip.
    """

    position: int
    conn: int
    sql: str
    kind: StatementKind
    counted: bool
    sqlstate: str | None = None
    refused: bool = False
    batch: int = 0  # the Sync (or simple Query) it was sent under, per connection: one round trip each


@dataclass(frozen=True)
class WireConnection:
    """One client connection through the relay, as of the moment it was read."""

    id: int
    open: bool
    tx_status: str  # from the latest ReadyForQuery: "I" idle, "T" in a transaction, "E" failed transaction
    statements: int  # counted statements sent
    opened_at: int
    closed_at: int | None
    backend_pid: int | None
    in_use: bool  # a transaction is open or an answer is awaited
    parked: bool  # an answer is held back by the lock gate


@dataclass(frozen=True)
class WireError:
    """An ErrorResponse the server sent a client (``statement`` is its position, when one caused it)."""

    position: int
    conn: int
    sqlstate: str
    statement: int | None


@dataclass(frozen=True)
class LimitHit:
    """The statement limit was exceeded: the relay stopped connection ``conn`` at statement ``count``."""

    position: int
    conn: int
    limit: int
    count: int
    sql: str


class EventLog:
    """The relay's records; written by the relay thread, read by any thread (one lock)."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._position = 0
        self._statements: list[WireStatement] = []
        self._errors: list[WireError] = []
        self.connections: dict[int, WireConnection] = {}
        self.limit_hits: list[LimitHit] = []
        self._use: list[tuple[int, int]] = [(0, 0)]  # (position, connections in use from then on)
        self.faults: list[str] = []

    def mark(self) -> int:
        """A position: records made from now on have a position >= it, earlier ones a smaller one."""
        with self.lock:
            return self._position + 1

    def next_position(self) -> int:
        """Take a position for a new record (call with the lock held)."""
        self._position += 1
        return self._position

    def add_statement(self, statement: WireStatement) -> int:
        """Append a statement; return its index (for a later error)."""
        self._statements.append(statement)
        return len(self._statements) - 1

    def set_sqlstate(self, index: int, sqlstate: str) -> None:
        """Attach the SQLSTATE of the error a statement caused (the first one wins)."""
        if self._statements[index].sqlstate is None:
            self._statements[index] = replace(self._statements[index], sqlstate=sqlstate)

    def add_error(self, error: WireError) -> None:
        self._errors.append(error)

    def set_in_use(self, count: int) -> None:
        if self._use[-1][1] != count:
            self._use.append((self._position, count))

    # -- reading ------------------------------------------------------------------------------------

    def statements(self, since: int) -> list[WireStatement]:
        with self.lock:
            return [s for s in self._statements[self._first(since) :] if s.position >= since]

    def errors(self, since: int) -> list[WireError]:
        with self.lock:
            return [e for e in self._errors if e.position >= since]

    def peak_in_use(self, since: int) -> int:
        """The most connections in use at once from position ``since`` on."""
        with self.lock:
            before = [count for pos, count in self._use if pos < since]
            after = [count for pos, count in self._use if pos >= since]
        return max([before[-1] if before else 0, *after])

    def _first(self, since: int) -> int:
        """Index of the first statement at or after ``since`` (positions only grow: bisect)."""
        lo, hi = 0, len(self._statements)
        while lo < hi:
            mid = (lo + hi) // 2
            if self._statements[mid].position < since:
                lo = mid + 1
            else:
                hi = mid
        return lo
