"""The exercise under test, as checks reach it: over HTTP, by calling its functions, never by importing it.

The checks and the verdict live in the harness; the exercise's code runs behind a :class:`Channel`,
either in the harness's own process (a student's local run) or in a sandboxed app process (grading).
The API is the same in both modes, and every value crosses the same JSON codec:

``exercise.client()``              an ``httpx.AsyncClient`` talking to the exercise's ``main.app``
``await exercise.call(t, *args)``  call ``t`` (e.g. ``"service.withdraw"``); its exceptions arrive as
                                   :class:`~dbkata.app.codec.AppError` (test with ``dbkata.raised``)
``await exercise.asgi_request()``  one request, observing the moment the response starts
``await exercise.inspect(t)``      whether ``t`` is a coroutine function, and its parameter names
``await exercise.collect_garbage()`` a garbage collection in the app (what a long-running server does)
``async with exercise.processes(n)`` ``n`` more copies of the app, each in a fresh process of its own (the
                                   app deployed as several workers): what they share is the database
"""

from __future__ import annotations

import asyncio
import base64
import importlib
import json as jsonlib
import os
import sys
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import httpx
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine

from dbkata.endpoint import ENV_URL

if TYPE_CHECKING:
    from dbkata.app.channel import Channel
    from dbkata.app.codec import AppError
    from dbkata.probes.asgi import AsgiResult

_TEST_MODULE_PREFIXES = ("test_", "check_", "conftest")


class EngineTracker:
    """Remembers every engine that connects while it is active, so they can all be disposed after."""

    def __init__(self) -> None:
        self._engines: weakref.WeakSet[Engine] = weakref.WeakSet()
        self.harness: weakref.WeakSet[Engine] = weakref.WeakSet()

    def install(self) -> None:
        """Listen on the Engine class: engines created by exercise code are seen too."""
        if not event.contains(Engine, "engine_connect", self._on_connect):
            event.listen(Engine, "engine_connect", self._on_connect)

    def _on_connect(self, conn: Any) -> None:
        if conn.engine not in self.harness:
            self._engines.add(conn.engine)

    async def dispose_all(self) -> None:
        """Dispose every engine code under test connected with (pooled connections are closed).

        No garbage collection here: a full collection costs ~45 ms with this stack loaded, and the
        connections a leak left checked out are terminated when the test database is dropped.
        """
        engines, self._engines = list(self._engines), weakref.WeakSet()
        for engine in engines:
            if engine.dialect.is_async:
                await AsyncEngine(engine).dispose()
            else:
                engine.dispose()


TRACKER = EngineTracker()


class Exercise:
    """The exercise a test belongs to, reached through its channel (see the module docstring)."""

    def __init__(
        self,
        package: str,
        path: Path,
        exercise_id: str | None,
        channel: Channel | None = None,
        timeout: float = 120.0,
        spawn: Callable[[], Awaitable[Channel]] | None = None,
    ) -> None:
        self.package = package
        self.path = path
        self.id = exercise_id
        self.channel = channel
        self.timeout = timeout
        self.app_errors: list[AppError] = []  # what the app raised during this test, in order
        self._spawn = spawn  # a fresh app process on this test's database (``processes``)

    @property
    def in_process(self) -> bool:
        """Whether the code runs in this very process (a local run), so ``module()`` is allowed."""
        from dbkata.app.channel import InProcessChannel

        return self.channel is None or isinstance(self.channel, InProcessChannel)

    def module(self, name: str) -> ModuleType:
        """Import ``<exercise package>.<name>`` into this process (local runs and harness-owned code only)."""
        if not self.in_process:
            raise RuntimeError(
                f"exercise.module({name!r}) imports the code under test into the harness, which a graded run "
                "never does: use exercise.client() or exercise.call() instead"
            )
        return importlib.import_module(f"{self.package}.{name}")

    def source_text(self, name: str) -> str:
        """The text of editable module ``name`` as submitted, read as data (a harness never imports it)."""
        from dbkata.assemble import SOURCES

        for path in (self.path / name, self.path / SOURCES / f"{name}.txt"):
            if path.is_file():
                return path.read_text(encoding="utf-8", errors="replace")
        raise FileNotFoundError(f"{name} is not in the exercise folder {self.path}")

    def client(self, base_url: str = "http://exercise", **kwargs: Any) -> httpx.AsyncClient:
        """An HTTP client for the exercise's ``main.app`` (a crash answers 500, and is kept in ``app_errors``)."""
        return httpx.AsyncClient(transport=AppTransport(self), base_url=base_url, **kwargs)

    @asynccontextmanager
    async def processes(self, n: int) -> AsyncIterator[list[Exercise]]:
        """``n`` more copies of the app, each in a fresh process of its own: the app deployed as ``n`` workers.

        Calls made through different copies share the database and nothing else, so a lock, a queue or a
        cache inside the code keeps nothing apart between them, exactly as in production. The copies are
        separate processes in a local run too (plain subprocesses), so both modes judge alike.
        """
        if self._spawn is None:
            raise RuntimeError("exercise.processes() needs the `exercise` fixture, which knows how to start the app")
        started = await asyncio.gather(*(self._spawn() for _ in range(n)), return_exceptions=True)
        channels = [c for c in started if not isinstance(c, BaseException)]
        try:
            for failure in started:
                if isinstance(failure, BaseException):
                    raise failure
            yield [Exercise(self.package, self.path, self.id, c, self.timeout) for c in channels]
        finally:
            for channel in channels:
                await channel.close()

    async def call(self, target: str, *args: Any, **kwargs: Any) -> Any:
        """Call the exercise's function ``target`` (``"module.function"``) and return its result."""
        from dbkata.app.codec import AppError, decode, encode

        answer = await self._request({"op": "call", "target": target, "args": encode(args), "kwargs": encode(kwargs)})
        if answer.get("error"):
            raise AppError.from_json(answer["error"])
        return decode(answer.get("value"))

    async def asgi_request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        headers: dict[str, str] | None = None,
        at_response_start: Callable[[], Awaitable[Any]] | None = None,
    ) -> AsgiResult:
        """One request; ``at_response_start`` runs when the response starts, while the app waits."""
        from dbkata.probes.asgi import AsgiResult

        body = b"" if json is None else jsonlib.dumps(json).encode()
        sent = dict(headers or {})
        if json is not None:
            sent.setdefault("content-type", "application/json")
        result = AsgiResult()

        async def on_event(event: dict[str, Any]) -> bool:
            if event.get("event") == "response_start" and at_response_start is not None:
                result.at_response_start = await at_response_start()
            return True

        answer = await self._http(method, path, list(sent.items()), body, on_event if at_response_start else None)
        result.status = answer["status"]
        result.headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in answer["headers"]]
        result.body = base64.b64decode(answer["body"])
        result.app_error = self._note_error(answer)
        return result

    async def inspect(self, target: str) -> dict[str, Any]:
        """What ``target`` is, without calling it: ``callable``, ``coroutine_function``, ``parameters``."""
        from dbkata.app.codec import AppError, decode

        answer = await self._request({"op": "inspect", "target": target})
        if answer.get("error"):
            raise AppError.from_json(answer["error"])
        value: dict[str, Any] = decode(answer.get("value"))
        return value

    async def collect_garbage(self) -> None:
        """A full garbage collection inside the app (abandoned sessions give their connections back)."""
        await self._request({"op": "gc"})

    async def dispose(self) -> None:
        """Dispose every engine the code created (their pooled connections close)."""
        await self._request({"op": "dispose"})

    async def _http(
        self,
        method: str,
        path: str,
        headers: list[tuple[str, str]],
        body: bytes,
        on_event: Callable[[dict[str, Any]], Awaitable[Any]] | None,
    ) -> dict[str, Any]:
        request = {
            "op": "http",
            "method": method,
            "path": path,
            "headers": [list(h) for h in headers],
            "body": base64.b64encode(body).decode(),
            "notify": on_event is not None,
        }
        answer = await self._request(request, on_event)
        if answer.get("error"):  # the host itself failed to run the request
            from dbkata.app.codec import AppError

            raise AppError.from_json(answer["error"])
        return answer

    async def _request(
        self, request: dict[str, Any], on_event: Callable[[dict[str, Any]], Awaitable[Any]] | None = None
    ) -> dict[str, Any]:
        if self.channel is None:
            raise RuntimeError("this exercise has no app channel (the `exercise` fixture makes one)")
        return await self.channel.request(request, on_event, self.timeout)

    def _note_error(self, answer: dict[str, Any]) -> AppError | None:
        from dbkata.app.codec import AppError

        if not answer.get("app_error"):
            return None
        error = AppError.from_json(answer["app_error"])
        self.app_errors.append(error)
        from dbkata import feedback

        feedback.note_app_error(error)
        return error

    def forget_modules(self) -> None:
        """Drop the exercise's own modules from ``sys.modules`` (tests and checks stay)."""
        prefix = self.package + "."
        for name in [n for n in sys.modules if n.startswith(prefix)]:
            leaf = name[len(prefix) :].split(".")[0]
            if not leaf.startswith(_TEST_MODULE_PREFIXES):
                del sys.modules[name]


class AppTransport(httpx.AsyncBaseTransport):
    """httpx requests to the exercise's app, through the exercise's channel."""

    def __init__(self, exercise: Exercise) -> None:
        self.exercise = exercise

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        path = request.url.raw_path.decode("ascii")
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers.raw if k.lower() != b"host"]
        answer = await self.exercise._http(request.method, path, headers, body, None)
        self.exercise._note_error(answer)
        return httpx.Response(
            answer["status"],
            headers=[(k, v) for k, v in answer["headers"]],
            content=base64.b64decode(answer["body"]),
            request=request,
        )


class DatabaseUrlEnv:
    """Set ``DATABASE_URL`` for one test and put back what was there."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._saved: str | None = None

    def __enter__(self) -> None:
        self._saved = os.environ.get(ENV_URL)
        os.environ[ENV_URL] = self.url

    def __exit__(self, *exc: object) -> None:
        if self._saved is None:
            os.environ.pop(ENV_URL, None)
        else:
            os.environ[ENV_URL] = self._saved
