"""Probe 2: connections not returned and transactions left open, decided from the relay.

The verdict comes from the harness's relay (every client connection of the window, whoever opened
it), at the window's exit. A *window connection* is one opened in the window or that sent anything in
it. The window leaks when any of these holds:

1. a window connection is still open and inside a transaction (ReadyForQuery ``T`` or ``E``): a
   session or connection was never finished;
2. a window connection was closed while inside a transaction, other than by the statement limit: it
   was dropped without a rollback (an abandoned session reclaimed by the garbage collector);
3. more connections opened in the window are still open at its end than were ever in use at the same
   moment in it (in use = starting up, in a transaction, or awaiting an answer). A pool only opens a
   connection when all of its own are busy, so its idle connections never outnumber that peak; an
   engine created per request and never disposed leaves one idle connection behind per request.

In-process pool events only explain (the line that checked a leaked connection out); the garbage
collector is disabled while the code runs, so an abandoned session cannot be reclaimed (and its
connection hidden) at a random moment inside the window.
"""

from __future__ import annotations

import contextvars
import gc
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import Pool

from dbkata import feedback, relay
from dbkata.probes.origin import caller_origin
from dbkata.relay import Relay

_active: contextvars.ContextVar[ConnectionWindow | None] = contextvars.ContextVar("dbkata_connections", default=None)
_outstanding: dict[int, tuple[ConnectionWindow, str]] = {}  # id(connection record) -> (window, origin)


@dataclass
class ConnectionWindow:
    """What one window saw; ``findings`` is empty when nothing leaked (``explanations`` say where)."""

    admin: AsyncEngine | None = None  # accepted for older checks; the relay decides
    findings: list[str] = field(default_factory=list)
    explanations: list[str] = field(default_factory=list)
    checkouts: int = 0
    opened: int = 0  # server connections opened in the window
    peak_in_use: int = 0
    _relay: Relay | None = None
    _mark: int = 0
    _reclaimed: list[str] = field(default_factory=list)
    _token: contextvars.Token[ConnectionWindow | None] | None = None
    _gc_was_enabled: bool = True

    async def __aenter__(self) -> ConnectionWindow:
        _install()
        self._relay = self._relay or relay.current()
        if self._relay is None:
            raise RuntimeError(
                "dbkata.connections() judges from the test's relay, and none is running: "
                "use the `exercise` (or `dbkata_relay`) fixture"
            )
        self._mark = self._relay.mark()
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
            assert self._relay is not None
            self._relay.settle()
            self._judge(self._relay)
            still_out = [origin for window, origin in _outstanding.values() if window is self]
            self.explanations += [f"connection still checked out, taken at {o}" for o in _dedupe(still_out)]
            self.explanations += [
                f"connection never returned; the garbage collector reclaimed it. Taken at {o}"
                for o in _dedupe(self._reclaimed)
            ]
        finally:
            for key in [k for k, (w, _) in _outstanding.items() if w is self]:
                del _outstanding[key]
            if self._gc_was_enabled:
                gc.enable()  # leaked objects are reclaimed later; the plugin filters their warning
        feedback.record_evidence(
            "connections",
            {
                "checkouts": self.checkouts,
                "opened": self.opened,
                "peak_in_use": self.peak_in_use,
                "findings": self.findings,
                "explanations": self.explanations,
            },
        )

    def _judge(self, wire: Relay) -> None:
        mark = self._mark
        active = {s.conn for s in wire.statements(mark)}
        stopped = {hit.conn for hit in wire.limit_hits()}
        mine = [c for c in wire.connections() if c.opened_at >= mark or c.id in active]
        in_tx = [c for c in mine if c.open and c.tx_status in "TE"]
        dropped = [c for c in mine if not c.open and c.tx_status in "TE" and c.id not in stopped]
        still_open = [c for c in mine if c.opened_at >= mark and c.open]
        self.opened = sum(c.opened_at >= mark for c in mine)
        self.peak_in_use = wire.peak_in_use(mark)
        if in_tx:
            self.findings.append(f"{len(in_tx)} server connection(s) left 'idle in transaction'")
        if dropped:
            self.findings.append(
                f"{len(dropped)} server connection(s) dropped in the middle of a transaction, never rolled back"
            )
        if len(still_open) > self.peak_in_use:
            self.findings.append(
                f"{len(still_open)} server connection(s) opened meanwhile are still open, though at most "
                f"{self.peak_in_use} were in use at once: connections are opened and never closed"
            )

    def assert_no_leaks(self, what: str, advice: str | None = None) -> None:
        """Fail (student-facing) if any connection or transaction was left behind."""
        __tracebackhide__ = True
        if self.findings:
            feedback.fail(
                "a database connection is left open",
                f"After {what}:",
                *self.findings,
                *self.explanations,
                "Each request must give its connection back, also when it fails.",
                advice=advice or "Look at what happens to the session when the code raises.",
            )


def connections(admin: AsyncEngine | None = None, *, via: Relay | None = None) -> ConnectionWindow:
    """A window judging, at its exit, the connections the code opened or used in it (see the module doc)."""
    return ConnectionWindow(admin, _relay=via)


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
