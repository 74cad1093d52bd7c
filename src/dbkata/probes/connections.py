"""Probe 2: connections not returned and transactions left open, on every path, deterministically.

Garbage collection would hide a leak at a random moment (an abandoned ``AsyncSession`` is cyclic
garbage) and blame whichever test happened to trigger it. So the collector is disabled while the code
runs, and the window judges at exit from three sources:

* pool ``checkout`` without ``checkin`` (with the line that checked the connection out);
* pool ``reset`` with ``terminate_only`` — a connection reclaimed by the garbage collector;
* the server: backends of the code's role ``idle in transaction`` in this database.
"""

from __future__ import annotations

import contextvars
import gc
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import Pool

from dbkata import feedback
from dbkata.probes.origin import caller_origin

_active: contextvars.ContextVar[ConnectionWindow | None] = contextvars.ContextVar("dbkata_connections", default=None)
_outstanding: dict[int, tuple[ConnectionWindow, str]] = {}  # id(connection record) -> (window, origin)


@dataclass
class ConnectionWindow:
    """What one window saw; ``findings`` is empty when nothing leaked."""

    admin: AsyncEngine | None = None
    findings: list[str] = field(default_factory=list)
    checkouts: int = 0
    _reclaimed: list[str] = field(default_factory=list)
    _token: contextvars.Token[ConnectionWindow | None] | None = None
    _gc_was_enabled: bool = True

    async def __aenter__(self) -> ConnectionWindow:
        _install()
        # No collection first: only this window's checkouts are tracked, so earlier garbage cannot be
        # blamed on it, and a full collection costs ~45 ms with this stack loaded.
        self._gc_was_enabled = gc.isenabled()
        gc.disable()
        self._token = _active.set(self)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._token is not None:
            _active.reset(self._token)
        try:
            still_out = [origin for window, origin in _outstanding.values() if window is self]
            self.findings += [f"connection still checked out, taken at {o}" for o in _dedupe(still_out)]
            self.findings += [
                f"connection never returned; the garbage collector reclaimed it. Taken at {o}"
                for o in _dedupe(self._reclaimed)
            ]
            if self.admin is not None:
                idle = await _idle_in_transaction(self.admin)
                if idle:
                    self.findings.append(f"{idle} server connection(s) left 'idle in transaction'")
        finally:
            for key in [k for k, (w, _) in _outstanding.items() if w is self]:
                del _outstanding[key]
            if self._gc_was_enabled:
                gc.enable()  # leaked objects are reclaimed later; the plugin filters their warning
        feedback.record_evidence("connections", {"checkouts": self.checkouts, "findings": self.findings})

    def assert_no_leaks(self, what: str, advice: str | None = None) -> None:
        """Fail (student-facing) if any connection or transaction was left behind."""
        __tracebackhide__ = True
        if self.findings:
            feedback.fail(
                "a database connection is left open",
                f"After {what}:",
                *self.findings,
                "Each request must give its connection back, also when it fails.",
                advice=advice or "Look at what happens to the session when the code raises.",
            )


def connections(admin: AsyncEngine | None = None) -> ConnectionWindow:
    """A window watching checkouts; pass the ``admin`` engine to also check the server."""
    return ConnectionWindow(admin)


def _dedupe(origins: list[str]) -> list[str]:
    counts: dict[str, int] = {}
    for o in origins:
        counts[o] = counts.get(o, 0) + 1
    return [f"{o} (×{n})" if n > 1 else o for o, n in counts.items()]


def _on_checkout(dbapi_conn: Any, record: Any, proxy: Any) -> None:
    window = _active.get()
    if window is not None:
        window.checkouts += 1
        _outstanding[id(record)] = (window, caller_origin())


def _on_checkin(dbapi_conn: Any, record: Any) -> None:
    _outstanding.pop(id(record), None)


def _on_reset(dbapi_conn: Any, record: Any, reset_state: Any) -> None:
    if getattr(reset_state, "terminate_only", False):  # asyncio connection reclaimed by GC, not checked in
        item = _outstanding.pop(id(record), None)
        if item is not None:
            item[0]._reclaimed.append(item[1])


def _install() -> None:
    if not event.contains(Pool, "checkout", _on_checkout):
        event.listen(Pool, "checkout", _on_checkout)
        event.listen(Pool, "checkin", _on_checkin)
        event.listen(Pool, "reset", _on_reset)


async def _idle_in_transaction(admin: AsyncEngine) -> int:
    async with admin.connect() as conn:
        return int(
            (
                await conn.execute(
                    text(
                        "select count(*) from pg_stat_activity where datname = current_database() "
                        "and pid <> pg_backend_pid() and state like 'idle in transaction%'"
                    )
                )
            ).scalar_one()
        )
