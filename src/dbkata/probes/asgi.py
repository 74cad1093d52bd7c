"""Probe 5: drive an ASGI app directly, to see what is true at the moment the response is sent.

httpx's ``ASGITransport`` returns only after the whole ASGI call, dependency teardown included, so
it cannot show that a default-scope ``yield`` dependency commits *after* the client got its answer.
"""

from __future__ import annotations

import asyncio
import json as jsonlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit


@dataclass
class AsgiResult:
    """What the client received, and what the callback observed when the response started."""

    status: int | None = None
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytes = b""
    at_response_start: Any = None
    app_error: BaseException | None = None

    def json(self) -> Any:
        """The body parsed as JSON."""
        return jsonlib.loads(self.body)


async def asgi_request(
    app: Any,
    method: str,
    path: str,
    *,
    json: Any = None,
    headers: dict[str, str] | None = None,
    at_response_start: Callable[[], Awaitable[Any]] | None = None,
) -> AsgiResult:
    """One HTTP request straight through the ASGI interface; app exceptions are captured, not raised."""
    body = b"" if json is None else jsonlib.dumps(json).encode()
    extra = [("content-type", "application/json")] if json is not None else []
    extra += list((headers or {}).items())
    result = AsgiResult()

    async def started(status: int) -> None:
        if at_response_start is not None:
            result.at_response_start = await at_response_start()

    await exchange(app, method, path, extra, body, result, started)
    return result


async def exchange(
    app: Any,
    method: str,
    path: str,
    headers: list[tuple[str, str]],
    body: bytes,
    result: AsgiResult,
    on_start: Callable[[int], Awaitable[None]] | None = None,
) -> None:
    """Send one request to ``app`` and fill ``result`` with what came back, teardown included.

    ``on_start`` is awaited when the response starts, before the app's dependency teardown runs. A
    ``content-length`` is added unless ``headers`` has one; the app's own exception lands in
    ``result.app_error`` (FastAPI answers 500 and then re-raises).
    """
    url = urlsplit(path)
    raw_headers = [(b"host", b"testserver")] + [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]
    if not any(k == b"content-length" for k, _ in raw_headers):
        raw_headers.insert(1, (b"content-length", str(len(body)).encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method.upper(),
        "scheme": "http",
        "path": url.path,
        "raw_path": url.path.encode(),
        "root_path": "",
        "query_string": url.query.encode(),
        "headers": raw_headers,
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    finished = asyncio.Event()
    sent_request = False

    async def receive() -> dict[str, Any]:
        nonlocal sent_request
        if not sent_request:
            sent_request = True
            return {"type": "http.request", "body": body, "more_body": False}
        await finished.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            result.status = int(message["status"])
            result.headers = [(bytes(k), bytes(v)) for k, v in message.get("headers", [])]
            if on_start is not None:
                await on_start(result.status)
        elif message["type"] == "http.response.body":
            result.body += bytes(message.get("body", b""))
            if not message.get("more_body", False):
                finished.set()

    try:
        await app(scope, receive, send)
    except Exception as exc:  # the app's own failure is a result, not the harness's
        result.app_error = exc
    finally:
        finished.set()
