"""One client connection through the relay: its two sockets, and the protocol state read from both.

Everything runs on the relay's own event loop, inside ``data_received`` callbacks, synchronously: a
message is recorded before it is forwarded, so by the time a client has its answer, the relay's log
already holds the statement, its error and the transaction status.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import TYPE_CHECKING

from dbkata.relay import protocol as pg
from dbkata.relay.log import LimitHit, StatementKind, WireConnection, WireError, WireStatement

if TYPE_CHECKING:
    from dbkata.relay.relay import Relay

_STATEMENT_DONE = frozenset(b"CIs")  # CommandComplete, EmptyQueryResponse, PortalSuspended


class _InFlight:
    """A statement whose answer is awaited: its log index, the Sync group it belongs to, its text."""

    __slots__ = ("group", "index", "sql")

    def __init__(self, index: int, group: int, sql: str) -> None:
        self.index, self.group, self.sql = index, group, sql


class Session:
    """The state of one client connection and its upstream connection."""

    def __init__(self, relay: Relay, conn_id: int) -> None:
        self.relay = relay
        self.id = conn_id
        self.client: asyncio.Transport | None = None
        self.server: asyncio.Transport | None = None
        self.cbuf = bytearray()  # client bytes not yet forwarded
        self.sbuf = bytearray()  # server bytes not yet forwarded
        self.started = False  # the startup packet was sent upstream
        self.ready = False  # the first ReadyForQuery arrived
        self.prepared: dict[str, str] = {}  # statement name -> SQL
        self.portals: dict[str, str] = {}  # portal -> SQL
        self.executing: dict[str, int] = {}  # portal -> log index of its statement (a re-Execute continues it)
        self.inflight: deque[_InFlight] = deque()
        self.syncs_sent = 0  # Sync messages and simple Queries sent: each is answered by one ReadyForQuery
        self.ready_seen = 0
        self.tx_status = "I"
        self.standard_strings = True  # the server's standard_conforming_strings, as it reports it
        self.parked = False
        self.closed = False
        self.counted = 0
        self.backend_pid: int | None = None
        self.opened_at = 0
        self.closed_at: int | None = None

    # -- state for readers ----------------------------------------------------------------------------

    @property
    def in_use(self) -> bool:
        """A transaction is open, an answer is awaited, or the connection is still starting."""
        if self.closed:
            return False
        return not self.ready or self.tx_status != "I" or self.syncs_sent > self.ready_seen

    def snapshot(self) -> WireConnection:
        return WireConnection(
            self.id,
            not self.closed,
            self.tx_status,
            self.counted,
            self.opened_at,
            self.closed_at,
            self.backend_pid,
            self.in_use,
            self.parked,
        )

    def publish(self) -> None:
        """Store the current state in the log (call with the log's lock held)."""
        self.relay.log.connections[self.id] = self.snapshot()

    # -- client -> server -----------------------------------------------------------------------------

    def from_client(self, data: bytes) -> None:
        self.cbuf += data
        if not self.started:
            self._startup()
        elif self.server is not None:
            self._frontend()

    def _startup(self) -> None:
        buf = self.cbuf
        while len(buf) >= 8 and not self.started:
            length, code = pg.int32(buf, 0), pg.int32(buf, 4)
            if len(buf) < length:
                return
            packet = bytes(buf[:length])
            del buf[:length]
            if code in (pg.SSL_REQUEST, pg.GSSENC_REQUEST):
                self._to_client(b"N")  # no encryption on a unix socket; the client goes on in the clear
            elif code == pg.CANCEL_REQUEST:
                self.relay.forward_cancel(packet)
                self.close()
                return
            else:
                self.started = True
                self.relay.connect_upstream(self, packet)

    def upstream_ready(self, transport: asyncio.Transport, startup: bytes) -> None:
        """The upstream connection is open: send the startup packet, then whatever the client sent since."""
        self.server = transport
        transport.write(startup)
        self._frontend()

    def _frontend(self) -> None:
        buf, i = self.cbuf, 0
        with self.relay.log.lock:
            while len(buf) - i >= 5:
                end = i + 1 + pg.int32(buf, i + 1)
                if end > len(buf):
                    break
                if not self._on_frontend(buf[i], buf, i + 5):
                    self._forward_up(buf[:i])
                    self._refuse()
                    return
                i = end
            self.relay.after_change(self)
        self._forward_up(buf[:i])
        del buf[:i]

    def _on_frontend(self, kind: int, buf: bytearray, at: int) -> bool:
        """Read one frontend message (with the log's lock held); False to refuse it (limit exceeded)."""
        if kind == 0x51:  # Query
            sql, _ = pg.cstring(buf, at)
            self.syncs_sent += 1
            parts = pg.split_simple_query(sql, self.standard_strings) or [sql]
            return all(self._statement(part, "simple") for part in parts)
        if kind == 0x50:  # Parse
            name, at = pg.cstring(buf, at)
            self.prepared[name], _ = pg.cstring(buf, at)
        elif kind == 0x42:  # Bind
            portal, at = pg.cstring(buf, at)
            statement, _ = pg.cstring(buf, at)
            self.portals[portal] = self.prepared.get(statement, "")
            self.executing.pop(portal, None)
        elif kind == 0x45:  # Execute
            portal, _ = pg.cstring(buf, at)
            if portal in self.executing:  # fetching more rows of a suspended portal: the same statement
                self.inflight.append(_InFlight(self.executing[portal], self.syncs_sent, self.portals[portal]))
                return True
            return self._statement(self.portals.get(portal, ""), "extended", portal)
        elif kind == 0x53:  # Sync
            self.syncs_sent += 1
            self.executing.clear()  # the unnamed portal is gone; named ones live on only inside a transaction
        elif kind == 0x43:  # Close
            which, name = chr(buf[at]), pg.cstring(buf, at + 1)[0]
            (self.prepared if which == "S" else self.portals).pop(name, None)
        elif kind == 0x46:  # FunctionCall (legacy fast path): it runs a function, so it is a statement
            return self._statement(f"<function call {pg.int32(buf, at)}>", "extended")
        elif kind == 0x58:  # Terminate
            self._mark_closed()
        return True

    def _statement(self, sql: str, kind: StatementKind, portal: str | None = None) -> bool:
        log, counted = self.relay.log, pg.is_counted(sql)
        if counted and not self.relay.allow_statement():
            if not log.limit_hits:  # the first refused statement is recorded; the count stops there
                position = log.next_position()
                refused = WireStatement(position, self.id, sql, kind, True, None, refused=True, batch=self.syncs_sent)
                log.add_statement(refused)
                limit = self.relay.limit or 0
                log.limit_hits.append(LimitHit(position, self.id, limit, limit + 1, sql))
            return False
        record = WireStatement(log.next_position(), self.id, sql, kind, counted, batch=self.syncs_sent)
        index = log.add_statement(record)
        self.counted += counted
        self.inflight.append(_InFlight(index, self.syncs_sent, sql))
        if portal is not None:
            self.executing[portal] = index
        return True

    def _refuse(self) -> None:
        """Stop this connection: the code went over its statement budget."""
        limit = self.relay.limit
        self._to_client(
            pg.error_response(
                "54000", f"dbkata: more than {limit} SQL statements were sent; the check stopped the code here"
            )
        )
        self.close()

    # -- server -> client -----------------------------------------------------------------------------

    def from_server(self, data: bytes) -> None:
        self.sbuf += data
        self._backend()

    def _backend(self) -> None:
        buf, i = self.sbuf, 0
        with self.relay.log.lock:
            while len(buf) - i >= 5 and not self.parked:
                end = i + 1 + pg.int32(buf, i + 1)
                if end > len(buf):
                    break
                if not self._on_backend(buf[i], buf, i + 5):
                    self.parked = True
                    break
                i = end
            self.relay.after_change(self)
        if i:
            self._to_client(bytes(buf[:i]))
            del buf[:i]
        if self.parked and self.server is not None:
            self.server.pause_reading()

    def _on_backend(self, kind: int, buf: bytearray, at: int) -> bool:
        """Read one backend message (with the log's lock held); False to hold it back (lock gate)."""
        log = self.relay.log
        if kind in _STATEMENT_DONE:
            head = self.inflight[0] if self.inflight else None
            if head is not None and kind == 0x43 and self.relay.holds_answer_to(head.sql):
                return False
            if head is not None:
                self.inflight.popleft()
        elif kind == 0x45:  # ErrorResponse
            sqlstate = pg.error_fields(buf[at:]).get("C", "")
            head = self.inflight.popleft() if self.inflight else None
            if head is not None:
                log.set_sqlstate(head.index, sqlstate)
                while self.inflight and self.inflight[0].group == head.group:  # skipped up to the Sync
                    self.inflight.popleft()
            log.add_error(WireError(log.next_position(), self.id, sqlstate, head.index if head else None))
        elif kind == 0x5A:  # ReadyForQuery
            self.tx_status = chr(buf[at])
            if self.ready:
                self.ready_seen += 1
                while self.inflight and self.inflight[0].group < self.ready_seen:
                    self.inflight.popleft()
            self.ready = True
        elif kind == 0x4B:  # BackendKeyData
            self.backend_pid = pg.int32(buf, at)
        elif kind == 0x53:  # ParameterStatus: the server reports this setting at start-up and on every change
            name, at = pg.cstring(buf, at)
            if name == "standard_conforming_strings":
                self.standard_strings = pg.cstring(buf, at)[0] == "on"
        return True

    def unpark(self) -> None:
        """The gate opened: forward what was held, and read from the server again."""
        if self.parked and not self.closed:
            self.parked = False
            self._backend()
            if not self.parked and self.server is not None:
                self.server.resume_reading()

    # -- plumbing -------------------------------------------------------------------------------------

    def _forward_up(self, data: bytearray) -> None:
        if data and self.server is not None and not self.server.is_closing():
            self.server.write(bytes(data))

    def _to_client(self, data: bytes) -> None:
        if self.client is not None and not self.client.is_closing():
            self.client.write(data)

    def _mark_closed(self) -> None:
        if not self.closed:
            self.closed = True
            self.closed_at = self.relay.log.next_position()

    def close(self) -> None:
        """Close both sides (what was written is still flushed) and record the connection closed."""
        with self.relay.log.lock:
            self._mark_closed()
            self.relay.after_change(self)
        for transport in (self.client, self.server):
            if transport is not None:
                transport.close()

    def abort(self) -> None:
        """Drop both sides at once (relay shutdown)."""
        with self.relay.log.lock:
            self._mark_closed()
            self.relay.after_change(self)
        for transport in (self.client, self.server):
            if transport is not None:
                transport.abort()


class ClientSide(asyncio.Protocol):
    """The relay's end of a client's connection."""

    def __init__(self, relay: Relay) -> None:
        self.relay = relay
        self.session: Session | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.session = self.relay.open_session(transport)

    def data_received(self, data: bytes) -> None:
        assert self.session is not None
        self.relay.guarded(self.session, self.session.from_client, data)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.session is not None:
            self.session.close()

    def pause_writing(self) -> None:
        if self.session is not None and self.session.server is not None:
            self.session.server.pause_reading()

    def resume_writing(self) -> None:
        s = self.session
        if s is not None and s.server is not None and not s.parked:
            s.server.resume_reading()


class ServerSide(asyncio.Protocol):
    """The relay's end of the upstream connection for one client."""

    def __init__(self, relay: Relay, session: Session) -> None:
        self.relay = relay
        self.session = session

    def data_received(self, data: bytes) -> None:
        self.relay.guarded(self.session, self.session.from_server, data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.session.close()

    def pause_writing(self) -> None:
        if self.session.client is not None:
            self.session.client.pause_reading()

    def resume_writing(self) -> None:
        if self.session.client is not None:
            self.session.client.resume_reading()
