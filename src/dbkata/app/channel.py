"""The harness side of the app protocol: one channel per test, in-process or over a unix socket."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import signal
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from dbkata.app.codec import FRAME_LIMIT, dumps, loads
from dbkata.app.host import AppHost

OnEvent = Callable[[dict[str, Any]], Awaitable[Any]]


class AppUnavailable(RuntimeError):
    """The app process ended or stopped answering: what the harness tells the check."""


class Channel(Protocol):
    """How the harness reaches the exercise's code."""

    async def request(self, request: dict[str, Any], on_event: OnEvent | None, patience: float) -> dict[str, Any]:
        """Send one request; ``on_event`` answers the app's events (e.g. the response started)."""
        ...

    async def close(self) -> None:
        """Stop talking to the app (and stop its process, if it has one)."""
        ...


def _roundtrip(message: dict[str, Any]) -> dict[str, Any]:
    """What the message would be after crossing a socket: both modes see the same values."""
    return loads(json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode())


class InProcessChannel:
    """The app runs in the harness's own process and loop (a student's local run: fast, not a sandbox)."""

    def __init__(self, host: AppHost) -> None:
        self.host = host

    async def request(self, request: dict[str, Any], on_event: OnEvent | None, patience: float) -> dict[str, Any]:
        async def emit(event: dict[str, Any]) -> dict[str, Any]:
            answer = await on_event(_roundtrip(event)) if on_event else None
            return _roundtrip({"resume": answer is not None})

        try:
            return _roundtrip(await asyncio.wait_for(self.host.handle(_roundtrip(request), emit), patience))
        except TimeoutError:
            raise AppUnavailable(_timeout_message(request, patience)) from None

    async def close(self) -> None:
        return None


class SocketChannel:
    """The app runs in another process, reached over a unix socket; requests are multiplexed by id."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, pid: int | None) -> None:
        self._reader = reader
        self._writer = writer
        self.pid = pid
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._events: dict[int, OnEvent | None] = {}
        self._ended: str | None = None
        self._event_tasks: set[asyncio.Future[None]] = set()
        self._task = asyncio.ensure_future(self._read_loop())

    async def request(self, request: dict[str, Any], on_event: OnEvent | None, patience: float) -> dict[str, Any]:
        if self._ended:
            raise AppUnavailable(self._ended)
        rid = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[rid] = future
        self._events[rid] = on_event
        try:
            self._writer.write(dumps({**request, "id": rid}))
            await self._writer.drain()
            return await asyncio.wait_for(future, patience)
        except TimeoutError:
            raise AppUnavailable(_timeout_message(request, patience)) from None
        except (ConnectionError, OSError) as exc:
            raise AppUnavailable(self._ended or f"the app process stopped answering ({exc})") from None
        finally:
            self._pending.pop(rid, None)
            self._events.pop(rid, None)

    async def _read_loop(self) -> None:
        try:
            while True:
                frame = await read_frame(self._reader)
                rid = frame.get("id")
                if not isinstance(rid, int):
                    continue
                if "event" in frame:
                    task = asyncio.ensure_future(self._answer_event(rid, frame))
                    self._event_tasks.add(task)
                    task.add_done_callback(self._event_tasks.discard)
                elif rid in self._pending and not self._pending[rid].done():
                    self._pending[rid].set_result(frame)
        except (asyncio.IncompleteReadError, ConnectionError, OSError, ValueError) as exc:
            self._end(f"the app process ended while the check was talking to it ({type(exc).__name__})")

    async def _answer_event(self, rid: int, frame: dict[str, Any]) -> None:
        handler = self._events.get(rid)
        answer = await handler(frame) if handler else None
        with contextlib.suppress(ConnectionError, OSError):
            self._writer.write(dumps({"id": rid, "resume": answer is not None}))
            await self._writer.drain()

    def _end(self, why: str) -> None:
        self._ended = why
        for future in self._pending.values():
            if not future.done():
                future.set_exception(AppUnavailable(why))

    async def close(self) -> None:
        """Kill the app process (it is the sandbox's; SIGKILL, no grace) and close the socket."""
        if self.pid:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(self.pid, signal.SIGKILL)
        self._writer.close()
        with contextlib.suppress(Exception):
            await self._writer.wait_closed()
        self._task.cancel()
        with contextlib.suppress(BaseException):
            await self._task


async def read_frame(reader: asyncio.StreamReader) -> dict[str, Any]:
    """One length-prefixed JSON frame (bounded: a larger one is a protocol error)."""
    size = int.from_bytes(await reader.readexactly(4), "big")
    if size > FRAME_LIMIT:
        raise ValueError(f"a frame of {size} bytes is over the limit")
    return loads(await reader.readexactly(size))


def _timeout_message(request: dict[str, Any], patience: float) -> str:
    http = request.get("op") == "http"
    what = f"{request.get('method')} {request.get('path')}" if http else f"{request.get('target')}()"
    return (
        f"the app did not answer {what} within {patience:g} s, a safety limit far above what a correct "
        "solution needs on this machine; it was stopped"
    )
