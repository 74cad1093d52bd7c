"""The relay: a PostgreSQL wire-protocol relay the harness owns, between the code under test and the server.

It runs in a background thread with its own asyncio loop, so neither a harness that blocks its own
loop nor code under test blocking the loop in-process can stall it. Clients connect to the unix socket
``<socket_dir>/.s.PGSQL.<port>``; each connection is forwarded to the real server, authentication byte
for byte (SCRAM works; an SSLRequest is answered ``N``; a CancelRequest is forwarded).

What counts as a statement (``WireStatement.counted``):

* each statement of a simple Query message (split on ``;`` outside quotes, dollar quotes, comments);
* each Execute of a newly bound portal (a Parse without an Execute runs nothing, and an Execute that
  fetches more rows of a suspended portal continues the same statement). So an ``executemany`` of N
  parameter sets — asyncpg pipelines N Bind/Execute pairs under one Sync — is N statements, while one
  ``insertmanyvalues`` batch (``INSERT ... VALUES (...), (...) RETURNING``) is one statement;
* except transaction control (BEGIN/START/COMMIT/END/ROLLBACK/ABORT/SAVEPOINT/RELEASE, by the first
  keyword after comments) and the exact texts SQLAlchemy's dialect and asyncpg send by themselves
  (``protocol.DRIVER_NOISE``, compared whole: a comment in a real query never makes it noise).

Measured with SQLAlchemy 2.1.9 + asyncpg 0.32 (``tests/probes/test_statements.py``, ``benchmarks/bench_relay.py``):
Core ``insert(table)`` with 5 or 7 parameter sets and no RETURNING → 5 / 7 statements in one round
trip (asyncpg ``executemany``); ``text("update ...")`` with 7 sets → 7; ORM ``add_all`` of 7 rows
(RETURNING the keys: ``insertmanyvalues``) → 1; the ORM bulk ``insert(Task)`` with a list of 6,000
rows and no RETURNING (level2/ex08's reference) → 6,000 INSERT statements in one round trip
(``pg_stat_statements`` also counts each row of a pipelined executemany as one call).
``StatementLog.round_trips`` counts round trips instead.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import itertools
import os
import select
import threading
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

from dbkata.endpoint import Endpoint
from dbkata.relay import protocol as pg
from dbkata.relay.log import EventLog, LimitHit, WireConnection, WireError, WireStatement
from dbkata.relay.session import ClientSide, ServerSide, Session

T = TypeVar("T")
_CALL_TIMEOUT = 30.0  # a safety net for calls into the relay thread; they take microseconds


class Relay:
    """A wire-protocol relay to ``upstream``, listening in ``socket_dir``; every method is thread-safe."""

    def __init__(self, upstream: Endpoint, socket_dir: Path, *, mode: int = 0o666) -> None:
        self.upstream = upstream
        self.socket_dir = Path(socket_dir)
        self.port = upstream.port
        self.socket_path = self.socket_dir / f".s.PGSQL.{self.port}"
        self.mode = mode
        self.log = EventLog()
        self.limit: int | None = None
        self._limit_base = 0  # counted statements before the limit was set
        self._counted = 0
        self._hold_table: str | None = None  # the lock gate: hold answers to row-locking statements on it
        self._sessions: dict[int, Session] = {}
        self._ids = itertools.count(1)
        self._in_use = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.AbstractServer | None = None

    # -- life cycle -----------------------------------------------------------------------------------

    def start(self) -> Relay:
        """Start the relay's thread and listen; returns self."""
        if len(os.fsencode(self.socket_path)) >= 108:
            raise ValueError(f"unix socket path too long (must be < 108 bytes): {self.socket_path}")
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, name="dbkata-relay", daemon=True)
        self._thread.start()
        self._call(self._listen())
        return self

    async def _listen(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.socket_path.unlink()
        self._server = await asyncio.get_running_loop().create_unix_server(
            lambda: ClientSide(self), path=str(self.socket_path)
        )
        os.chmod(self.socket_path, self.mode)

    def close(self) -> None:
        """Close every client and upstream connection, stop listening and end the thread."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        self._loop = None
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(_CALL_TIMEOUT)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(_CALL_TIMEOUT)
        if not thread.is_alive():
            loop.close()
        with contextlib.suppress(FileNotFoundError):
            self.socket_path.unlink()

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for session in list(self._sessions.values()):
            session.abort()
        await asyncio.sleep(0)

    def __enter__(self) -> Relay:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def url(self, login: Endpoint) -> str:
        """A ``DATABASE_URL`` (asyncpg driver) for ``login``'s role and database, through the relay."""
        return Endpoint(str(self.socket_dir), self.port, login.user, login.password, login.dbname).url()

    # -- reading the log ------------------------------------------------------------------------------

    def mark(self) -> int:
        """A position in the log: pass it to ``statements``/``errors`` to read what came after."""
        return self.log.mark()

    def statements(self, since: int = 0) -> list[WireStatement]:
        """Every statement sent from position ``since`` on (noise included: see ``counted``)."""
        return self.log.statements(since)

    def connections(self) -> list[WireConnection]:
        """Every client connection the relay has seen, in the order they were opened."""
        with self.log.lock:
            return [self.log.connections[k] for k in sorted(self.log.connections)]

    def errors(self, since: int = 0) -> list[WireError]:
        """Every ErrorResponse the server sent a client from position ``since`` on."""
        return self.log.errors(since)

    def peak_in_use(self, since: int) -> int:
        """The most client connections in use at the same moment from ``since`` on."""
        return self.log.peak_in_use(since)

    def limit_hits(self) -> list[LimitHit]:
        """The times the statement limit stopped a connection (at most one per limit set)."""
        with self.log.lock:
            return list(self.log.limit_hits)

    def faults(self) -> list[str]:
        """Internal failures of the relay (an infrastructure problem, never the code's)."""
        with self.log.lock:
            return list(self.log.faults)

    # -- control --------------------------------------------------------------------------------------

    def limit_statements(self, n: int | None) -> None:
        """Stop any client connection that sends more than ``n`` counted statements from now on (None: no limit)."""
        with self.log.lock:
            self.limit = n
            self._limit_base = self._counted
            self.log.limit_hits.clear()

    def allow_statement(self) -> bool:
        """Count one statement; False if it goes over the limit (relay thread, lock held)."""
        if self.limit is not None and (self.log.limit_hits or self._counted - self._limit_base >= self.limit):
            return False
        self._counted += 1
        return True

    def hold_row_locks(self, table: str | None) -> None:
        """Hold back the answer to every statement that locks rows of ``table`` (None: release and stop)."""
        with self.log.lock:
            self._hold_table = table
        if table is None:
            self._call(self._unpark_all())

    def release_held(self) -> None:
        """Let every held answer go, and hold no more."""
        self.hold_row_locks(None)

    def holds_answer_to(self, sql: str) -> bool:
        """Whether the answer to ``sql`` is to be held back now (relay thread)."""
        return self._hold_table is not None and pg.takes_row_locks(sql, self._hold_table)

    async def _unpark_all(self) -> None:
        for session in list(self._sessions.values()):
            self.guarded(session, session.unpark)

    def settle(self, timeout: float = 5.0) -> None:
        """Return once the relay has read everything clients and the server already sent it."""
        self._call(self._settle(timeout))

    async def _settle(self, within: float) -> None:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            fds = [
                sock.fileno()
                for t in self._transports()
                if t.is_reading() and (sock := t.get_extra_info("socket")) is not None and sock.fileno() >= 0
            ]
            if not fds or not select.select(fds, [], [], 0)[0]:
                return
            for _ in range(2):  # ready sockets are read in the next loop iteration
                await asyncio.sleep(0)

    def _transports(self) -> list[asyncio.Transport]:
        return [
            t for s in self._sessions.values() for t in (s.client, s.server) if t is not None and not t.is_closing()
        ]

    # -- called by sessions (relay thread) ------------------------------------------------------------

    def open_session(self, transport: asyncio.Transport) -> Session:
        session = Session(self, next(self._ids))
        session.client = transport
        with self.log.lock:
            session.opened_at = self.log.next_position()
            self._sessions[session.id] = session
            self.after_change(session)
        return session

    def after_change(self, session: Session) -> None:
        """Publish a session's state and the number of connections in use (lock held)."""
        was = self.log.connections.get(session.id)
        session.publish()
        now = session.in_use
        if was is None or was.in_use != now:
            self._in_use += (1 if now else 0) - (1 if was is not None and was.in_use else 0)
            self.log.set_in_use(self._in_use)
        if session.closed:
            self._sessions.pop(session.id, None)

    def connect_upstream(self, session: Session, startup: bytes) -> None:
        asyncio.get_running_loop().create_task(self._connect(session, startup))

    async def _connect(self, session: Session, startup: bytes) -> None:
        try:
            transport = await self._open_upstream(lambda: ServerSide(self, session))
        except OSError as exc:
            session._to_client(
                pg.error_response("08006", f"dbkata relay: cannot reach {self.upstream.describe()}: {exc}")
            )
            session.close()
            return
        if session.closed:
            transport.close()
            return
        self.guarded(session, session.upstream_ready, transport, startup)

    async def _open_upstream(self, factory: Callable[[], asyncio.Protocol]) -> asyncio.Transport:
        loop = asyncio.get_running_loop()
        if self.upstream.host.startswith("/"):
            path = str(Path(self.upstream.host) / f".s.PGSQL.{self.upstream.port}")
            transport, _ = await loop.create_unix_connection(factory, path)
        else:
            transport, _ = await loop.create_connection(factory, self.upstream.host, self.upstream.port)
        assert isinstance(transport, asyncio.Transport)
        return transport

    def forward_cancel(self, packet: bytes) -> None:
        async def cancel() -> None:
            with contextlib.suppress(OSError):
                transport = await self._open_upstream(asyncio.Protocol)
                transport.write(packet)
                transport.close()

        asyncio.get_running_loop().create_task(cancel())

    def guarded(self, session: Session, fn: Callable[..., Any], *args: Any) -> None:
        """Run a session callback; a relay bug closes that connection and is recorded, never raised."""
        try:
            fn(*args)
        except Exception as exc:
            with self.log.lock:
                self.log.faults.append(f"connection {session.id}: {type(exc).__name__}: {exc}")
            session.abort()

    def _call(self, coro: Coroutine[Any, Any, T]) -> T:
        if self._loop is None:
            raise RuntimeError("the relay is not running")
        future: concurrent.futures.Future[T] = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return future.result(_CALL_TIMEOUT)
