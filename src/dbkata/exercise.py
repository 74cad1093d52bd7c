"""Import an exercise's code fresh for each test, pointed at that test's database."""

from __future__ import annotations

import importlib
import os
import sys
import weakref
from pathlib import Path
from types import ModuleType
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine

from dbkata.endpoint import ENV_URL

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
    """The exercise a test belongs to; ``module()`` imports its code fresh, bound to the test's database."""

    def __init__(self, package: str, path: Path, exercise_id: str | None) -> None:
        self.package = package
        self.path = path
        self.id = exercise_id

    def module(self, name: str) -> ModuleType:
        """Import ``<exercise package>.<name>`` (e.g. ``"main"``), fresh for this test."""
        return importlib.import_module(f"{self.package}.{name}")

    def forget_modules(self) -> None:
        """Drop the exercise's own modules from ``sys.modules`` (tests and checks stay)."""
        prefix = self.package + "."
        for name in [n for n in sys.modules if n.startswith(prefix)]:
            leaf = name[len(prefix) :].split(".")[0]
            if not leaf.startswith(_TEST_MODULE_PREFIXES):
                del sys.modules[name]


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
