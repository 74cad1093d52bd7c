"""A test helper (given): make PostgreSQL slow on purpose, and count how many queries wait at once.

``LockedTable`` holds an exclusive lock on a table from a separate thread, so every query on that
table waits. The thread watches the server: as soon as ``expect`` queries are waiting together it
lets them all through. If they never get there (code that blocks the event loop can have only one
query in flight), it lets go once nothing has moved for ``settle`` seconds after the first query
started waiting (no connection opened or closed, no statement started, no new waiter: code that
queues its requests is stuck for good), or after ``patience`` seconds in any case. Both are safety
nets that end a failing run; what is graded is ``peak``, a count, never a duration.
"""

from __future__ import annotations

import asyncio
import threading
import time
from types import TracebackType

import psycopg
from psycopg import sql
from sqlalchemy.ext.asyncio import AsyncEngine


class LockedTable:
    """``async with LockedTable(admin, "task", expect=4) as lock: ...``, then read ``lock.peak``."""

    def __init__(
        self, admin: AsyncEngine, table: str, *, expect: int, patience: float = 2.0, settle: float = 5.0
    ) -> None:
        self.conninfo = admin.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self.table = table
        self.expect = expect
        self.patience = patience
        self.settle = settle
        self.peak = 0  # the most queries seen waiting for the lock at the same moment
        self._locked = threading.Event()
        self._thread = threading.Thread(target=self._hold, name="dbkata-locked-table", daemon=True)

    async def __aenter__(self) -> LockedTable:
        self._thread.start()
        await asyncio.to_thread(self._locked.wait)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await asyncio.to_thread(self._thread.join)

    def _hold(self) -> None:
        # its own search_path: whatever session defaults the code under test set, pg_catalog's views are read
        with psycopg.connect(self.conninfo, options="-c search_path=public") as conn:
            conn.execute(sql.SQL("lock table {} in access exclusive mode").format(sql.Identifier(self.table)))
            self._locked.set()
            deadline = time.monotonic() + self.patience
            seen: object = None  # what the other sessions of this database were doing when last looked at
            quiet_since = time.monotonic()
            while time.monotonic() < deadline:
                conn.execute("select pg_stat_clear_snapshot()")  # else the view is frozen for the transaction
                sessions = conn.execute(
                    "select pid, state, query_start, wait_event_type = 'Lock' from pg_stat_activity "
                    "where datname = current_database() and pid <> pg_backend_pid() order by pid"
                ).fetchall()
                self.peak = max(self.peak, sum(1 for *_, waiting in sessions if waiting))
                if self.peak >= self.expect:
                    break
                if sessions != seen:
                    seen, quiet_since = sessions, time.monotonic()
                elif self.peak and time.monotonic() - quiet_since > self.settle:
                    break  # someone waits, and nothing else has happened since: the rest are queued in the app
                time.sleep(0.002)
            conn.rollback()  # releases the lock: the waiting queries go on
