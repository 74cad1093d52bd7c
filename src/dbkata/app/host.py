"""The app side: runs the exercise's code on behalf of the harness, one request at a time or many at once.

The same ``AppHost`` serves both execution modes. In-process (a student's local run), the harness calls
``handle`` directly; sandboxed (grading), it runs in a separate, unprivileged process and the requests
arrive over a unix socket (``dbkata.app.zygote``). Every request and result goes through the JSON codec
either way, so the checks see the same values in both modes.

Requests (``op``):
``http``     one HTTP request through the exercise's ASGI app (``main.app``); with ``notify``, the harness
             is told when the response starts and the app waits until the harness says go on
``call``     ``{"target": "service.withdraw", "args": [...], "kwargs": {...}}``: a function of the exercise
``warm``     import ``main`` now (if it imports at all), so the test's first request is not the slow one
``inspect``  ``{"target": "tally.double"}``: whether it is a coroutine function, and its parameter names
``gc``       a full garbage collection (what a long-running server would eventually do)
``dispose``  dispose every engine the code created (their pooled connections close)
"""

from __future__ import annotations

import base64
import contextlib
import gc
import importlib
import inspect
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from dbkata.app.codec import AppError, decode, encode, error_from
from dbkata.probes.asgi import AsgiResult, exchange

Emit = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
_IDENTIFIER_PARTS = 6


class AppHost:
    """Imports the exercise package lazily and answers the harness's requests."""

    def __init__(self, package: str, code_root: Path | None = None) -> None:
        self.package = package
        self.code_root = code_root  # the exercise folder: traceback frames are shown relative to it

    def module(self, name: str) -> ModuleType:
        """``<package>.<name>``, imported on first use."""
        if not name.isidentifier():
            raise ValueError(f"not a module of the exercise: {name!r}")
        return importlib.import_module(f"{self.package}.{name}")

    async def handle(self, request: dict[str, Any], emit: Emit) -> dict[str, Any]:
        """Answer one request; the exercise's exceptions become ``{"error": ...}``, never escape."""
        op = request.get("op")
        try:
            if op == "http":
                return await self._http(request, emit)
            if op == "call":
                return {"value": encode(await self._call(request))}
            if op == "warm":  # import the app before the test starts, so no request pays for it
                with contextlib.suppress(Exception):  # a broken module shows up in the first real request
                    self.module("main")
                return {"value": None}
            if op == "inspect":
                return {"value": encode(self._inspect(request))}
            if op == "gc":
                gc.collect()
                return {"value": None}
            if op == "dispose":
                from dbkata.exercise import TRACKER

                await TRACKER.dispose_all()
                return {"value": None}
            return {"error": AppError("ProtocolError", f"unknown op {op!r}").to_json()}
        except Exception as exc:  # the exercise's failure is a result, not the host's
            return {"error": error_from(exc, self.code_root).to_json()}

    def _inspect(self, request: dict[str, Any]) -> dict[str, Any]:
        target = self._resolve(request)
        try:
            parameters = list(inspect.signature(target).parameters)
        except (TypeError, ValueError):
            parameters = []
        return {
            "callable": callable(target),
            "coroutine_function": inspect.iscoroutinefunction(target),
            "parameters": parameters,
        }

    async def _call(self, request: dict[str, Any]) -> Any:
        result = self._resolve(request)(
            *decode(request.get("args") or []), **decode(request.get("kwargs") or {"$dict": []})
        )
        if inspect.isawaitable(result):
            result = await result
        return result

    def _resolve(self, request: dict[str, Any]) -> Any:
        parts = str(request.get("target", "")).split(".")
        if len(parts) < 2 or len(parts) > _IDENTIFIER_PARTS or not all(p.isidentifier() for p in parts):
            raise ValueError(f"not a function of the exercise: {request.get('target')!r}")
        if any(p.startswith("_") for p in parts):
            raise ValueError(f"not a public function of the exercise: {request.get('target')!r}")
        target: Any = self.module(parts[0])
        for part in parts[1:]:
            target = getattr(target, part)
        return target

    async def _http(self, request: dict[str, Any], emit: Emit) -> dict[str, Any]:
        try:
            app = self.module(str(request.get("app_module", "main"))).app
        except Exception as exc:  # the code does not even import: a 500, and the reason
            return _response(500, [], b"Internal Server Error", error_from(exc, self.code_root))
        status, headers, body, error = await drive_asgi(
            app,
            str(request["method"]),
            str(request["path"]),
            [(str(k), str(v)) for k, v in request.get("headers", [])],
            base64.b64decode(request.get("body", "")),
            emit if request.get("notify") else None,
        )
        return _response(status, headers, body, error_from(error, self.code_root) if error else None)


def _response(status: int, headers: list[tuple[bytes, bytes]], body: bytes, error: AppError | None) -> dict[str, Any]:
    return {
        "status": status,
        "headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in headers],
        "body": base64.b64encode(body).decode(),
        "app_error": error.to_json() if error else None,
    }


async def drive_asgi(
    app: Any,
    method: str,
    path: str,
    headers: list[tuple[str, str]],
    body: bytes,
    emit: Emit | None,
) -> tuple[int, list[tuple[bytes, bytes]], bytes, BaseException | None]:
    """One HTTP request straight through the ASGI interface, teardown included.

    Returns status, headers, body and the exception the app raised (FastAPI answers 500 and then
    re-raises). With ``emit``, the harness is told when the response starts, before the app's
    dependency teardown runs, and the app continues only when the harness answers.
    """
    result = AsgiResult()

    async def started(status: int) -> None:
        if emit is not None:
            await emit({"event": "response_start", "status": status})

    await exchange(app, method, path, headers, body, result, started)
    if result.status is None:  # it failed before answering at all: what a server would send
        return 500, [(b"content-type", b"text/plain; charset=utf-8")], b"Internal Server Error", result.app_error
    return result.status, result.headers, result.body, result.app_error
