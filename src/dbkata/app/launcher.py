"""Start the app process (optionally inside the grader's sandbox) and hand out one channel per test."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
import socket
import struct
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dbkata.app.channel import AppUnavailable, SocketChannel, read_frame
from dbkata.app.codec import dumps

_START_PATIENCE = 120.0  # seconds: a safety net for a busy machine, not a limit anything is judged by


@dataclass(frozen=True)
class AppSandbox:
    """Where and how the app process runs: the grader writes this; a local run uses plain defaults."""

    app_root: Path  # the tree holding ``exercises/levelN/exNN`` with the code under test (no checks)
    rendezvous: Path  # a short folder both sides reach: the control and per-test sockets live here
    prefix: tuple[str, ...] = ()  # the confinement command (empty: the grader's own user, no sandbox)
    env: dict[str, str] = field(default_factory=dict)  # the app's whole environment (None: inherited)
    call_timeout: float = 120.0  # seconds a single request may take before the app is stopped
    socket_mode: int = 0o600

    def to_json(self) -> dict[str, Any]:
        """The file form the harness reads (``--dbkata-app-sandbox``)."""
        return {
            "app_root": str(self.app_root),
            "rendezvous": str(self.rendezvous),
            "prefix": list(self.prefix),
            "env": self.env,
            "call_timeout": self.call_timeout,
            "socket_mode": self.socket_mode,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AppSandbox:
        """Back from the file form."""
        return cls(
            app_root=Path(data["app_root"]),
            rendezvous=Path(data["rendezvous"]),
            prefix=tuple(data.get("prefix", ())),
            env=dict(data.get("env", {})),
            call_timeout=float(data.get("call_timeout", 120.0)),
            socket_mode=int(data.get("socket_mode", 0o600)),
        )


class AppLauncher:
    """One app process (a zygote) per harness run; ``spawn`` forks a fresh child for each test."""

    def __init__(self, sandbox: AppSandbox) -> None:
        self.sandbox = sandbox
        self._proc: asyncio.subprocess.Process | None = None
        self._control: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        self._ids = itertools.count(1)
        self._lock = asyncio.Lock()
        self._starting = asyncio.Lock()

    async def start(self) -> None:
        """Start the zygote and wait for it to connect back."""
        path = self.sandbox.rendezvous / "control.sock"
        accepted: asyncio.Future[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = (
            asyncio.get_running_loop().create_future()
        )

        def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            if not accepted.done():
                accepted.set_result((reader, writer))

        server = await asyncio.start_unix_server(on_connect, path=str(path))
        os.chmod(path, self.sandbox.socket_mode)
        zygote = [sys.executable, "-m", "dbkata.app.zygote", str(path), str(self.sandbox.app_root)]
        command = [*self.sandbox.prefix, *zygote]
        self._proc = await asyncio.create_subprocess_exec(
            *command,
            env=self.sandbox.env or None,
            stdin=asyncio.subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            self._control = await asyncio.wait_for(self._first(accepted, self._proc), _START_PATIENCE)
        finally:
            server.close()
            path.unlink(missing_ok=True)

    @staticmethod
    async def _first(
        accepted: asyncio.Future[tuple[asyncio.StreamReader, asyncio.StreamWriter]], proc: asyncio.subprocess.Process
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        died: asyncio.Future[Any] = asyncio.ensure_future(proc.wait())
        waiting: set[asyncio.Future[Any]] = {accepted, died}
        done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        if accepted in done:
            died.cancel()
            return accepted.result()
        raise AppUnavailable(f"the app process could not start (exit status {proc.returncode})")

    async def spawn(self, package: str, code_root: Path, env: dict[str, str]) -> SocketChannel:
        """A fresh app process for one test, with ``env`` (its DATABASE_URL) set before any import."""
        async with self._starting:  # spawns may come together (``exercise.processes``): one zygote for all
            if self._control is None:
                await self.start()
        assert self._control is not None
        path = self.sandbox.rendezvous / f"t{next(self._ids)}.sock"
        accepted: asyncio.Future[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = (
            asyncio.get_running_loop().create_future()
        )

        def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            if not accepted.done():
                accepted.set_result((reader, writer))
            else:
                writer.close()

        server = await asyncio.start_unix_server(on_connect, path=str(path))
        os.chmod(path, self.sandbox.socket_mode)
        try:
            async with self._lock:
                reader, writer = self._control
                spawn = {"socket": str(path), "package": package, "code_root": str(code_root), "env": env}
                writer.write(dumps({"spawn": spawn}))
                await writer.drain()
                await asyncio.wait_for(read_frame(reader), _START_PATIENCE)
            child_reader, child_writer = await asyncio.wait_for(accepted, _START_PATIENCE)
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError) as exc:
            raise AppUnavailable(f"the app process did not start a child for the test ({type(exc).__name__})") from None
        finally:
            server.close()
            path.unlink(missing_ok=True)
        return SocketChannel(child_reader, child_writer, _peer_pid(child_writer))

    async def stop(self) -> None:
        """Stop the zygote and everything it started."""
        if self._control is not None:
            self._control[1].close()
            self._control = None
        if self._proc is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._proc.pid, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError):
                self._proc.kill()
            await self._proc.wait()
            self._proc = None


def _peer_pid(writer: asyncio.StreamWriter) -> int | None:
    """The connecting process's pid as this process sees it (SO_PEERCRED: right across PID namespaces)."""
    sock: Any = writer.get_extra_info("socket")
    if sock is None or not hasattr(socket, "SO_PEERCRED"):
        return None
    pid, _uid, _gid = struct.unpack("3i", sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))
    return pid or None
