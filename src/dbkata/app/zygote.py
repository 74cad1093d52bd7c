"""The app process: ``python -m dbkata.app.zygote CONTROL_SOCKET APP_ROOT`` (started by the harness).

It imports the heavy libraries once, before any exercise code, then forks one child per test on the
harness's word. Each child sets the test's environment (its ``DATABASE_URL``), connects to the test's
socket and serves requests with an :class:`~dbkata.app.host.AppHost` until the harness closes the
socket or kills it. The garbage collector is off in the children: a leaked session stays leaked
until the harness asks for a collection, never at a random moment.

Nothing here decides anything: results are the exercise's answers, judged by the harness.
"""

from __future__ import annotations

import asyncio
import ctypes
import gc
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Any

from dbkata.app.codec import FRAME_LIMIT, dumps, loads

_PRELOAD = (
    "sqlalchemy",
    "sqlalchemy.ext.asyncio",
    "sqlalchemy.orm",
    "sqlalchemy.dialects.postgresql.asyncpg",
    "asyncpg",
    "fastapi",
    "pydantic",
    "httpx",
    "starlette.applications",
    "dbkata.app.host",
    "dbkata.exercise",
)
_PR_SET_PDEATHSIG = 1


def main(argv: list[str]) -> None:
    """Serve spawn requests from the harness until it closes the control socket."""
    control_path, app_root = argv[1], argv[2]
    for name in _PRELOAD:
        __import__(name)
    sys.path.insert(0, app_root)
    os.chdir(app_root)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    control = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    control.connect(control_path)
    stream = control.makefile("rb")
    while True:
        frame = _read(stream)
        if frame is None:
            os._exit(0)
        pid = os.fork()
        if pid == 0:
            control.close()
            _child(frame["spawn"])
        control.sendall(dumps({"spawned": pid}))


def _read(stream: Any) -> dict[str, Any] | None:
    head = stream.read(4)
    if len(head) < 4:
        return None
    size = int.from_bytes(head, "big")
    if size > FRAME_LIMIT:
        return None
    return loads(stream.read(size))


def _child(spawn: dict[str, Any]) -> None:
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    _die_with_parent()
    os.environ.update({str(k): str(v) for k, v in spawn.get("env", {}).items()})
    gc.disable()
    try:
        asyncio.run(_serve(str(spawn["socket"]), str(spawn["package"]), Path(spawn["code_root"])))
    finally:
        os._exit(0)


def _die_with_parent() -> None:
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


async def _serve(path: str, package: str, code_root: Path) -> None:
    from dbkata.app.channel import read_frame
    from dbkata.app.host import AppHost

    reader, writer = await asyncio.open_unix_connection(path)
    host = AppHost(package, code_root)
    waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
    lock = asyncio.Lock()

    async def send(message: dict[str, Any]) -> None:
        async with lock:
            writer.write(dumps(message))
            await writer.drain()

    async def run(frame: dict[str, Any]) -> None:
        rid = frame["id"]

        async def emit(event: dict[str, Any]) -> dict[str, Any]:
            future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
            waiting[rid] = future
            await send({**event, "id": rid})
            try:
                return await future
            finally:
                waiting.pop(rid, None)

        await send({**(await host.handle(frame, emit)), "id": rid})

    tasks = set()
    while True:
        try:
            frame = await read_frame(reader)
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            return
        rid = frame.get("id")
        if "resume" in frame and rid in waiting:
            waiting[rid].set_result(frame)
            continue
        task = asyncio.ensure_future(run(frame))
        tasks.add(task)
        task.add_done_callback(tasks.discard)


if __name__ == "__main__":
    main(sys.argv)
