"""Where and how a submission's code runs: limits, an unprivileged user, a scrubbed environment, cleanup.

As root, each parallel job slot has its own system user (``dbkata-sbx-N``): process limits then bind
(they never bind root), the code cannot read the server's credentials or write outside its folder,
and every process the run left behind, even ones that escaped its process group, is killed by uid.
As a normal user the same limits apply, but the code runs as that user: documented, not hidden.
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import json
import os
import pwd
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import psutil

import dbkata.grading.confine as _confine

USER_PREFIX = "dbkata-sbx-"
LOCK_DIR = Path(tempfile.gettempdir()) / "dbkata-sandbox-locks"
_CONFINE = Path(_confine.__file__).resolve()


@dataclass(frozen=True)
class Limits:
    """Hard limits for one run of a submission's code."""

    timeout: float = 60.0  # wall seconds per exercise run
    memory_mb: int = 2048  # address space per process
    processes: int = 128  # processes and threads of the sandbox user
    file_size_mb: int = 64  # largest file (and captured output) a process may write
    open_files: int = 512

    def rlimits(self) -> dict[str, int]:
        """The values ``confine.py`` sets."""
        return {
            "memory": self.memory_mb << 20,
            "processes": self.processes,
            "file_size": self.file_size_mb << 20,
            "open_files": self.open_files,
            "cpu_seconds": int(self.timeout * 2 + 10),
            "core": 0,
        }


@dataclass
class Slot:
    """One job slot: the OS user its runs use (None: the grader's own) and a token marking its processes."""

    index: int
    uid: int | None = None
    gid: int | None = None
    token: str = field(default_factory=lambda: secrets.token_hex(8))
    lock: IO[str] | None = field(default=None, repr=False)

    @property
    def isolated(self) -> bool:
        """Whether runs happen as a separate unprivileged user."""
        return self.uid is not None

    def prefix(
        self, limits: Limits, *, no_network: bool, hide: Sequence[Path] = (), keep: Sequence[str] = ()
    ) -> list[str]:
        """The command prefix that starts what follows it confined: limits, private network and mounts
        (``hide`` covered, the Python install reachable), an unprivileged user."""
        settings: dict[str, object] = dict(limits.rlimits())
        if self.isolated:
            staging = LOCK_DIR / f"stage-{self.uid}"
            settings.update(
                uid=self.uid,
                gid=self.gid,
                no_network=no_network,
                staging=str(staging),
                expose=unreachable_python_paths(),
                hide=[str(h) for h in hide if h.is_dir()],
                keep=list(keep),
            )
        else:
            settings["processes"] = _own_process_count() + limits.processes
        return [sys.executable, "-I", "-S", str(_CONFINE), json.dumps(settings), "--"]

    def env(self, home: Path, database_url: str) -> dict[str, str]:
        """A scrubbed environment: nothing of the grader's, only what the run needs."""
        venv_bin = str(Path(sys.executable).parent)
        return {
            "PATH": f"{venv_bin}:/usr/local/bin:/usr/bin:/bin",
            "HOME": str(home),
            "TMPDIR": str(home / "tmp"),
            "LANG": "C.UTF-8",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONNOUSERSITE": "1",
            "PYTHONHASHSEED": "0",
            "DATABASE_URL": database_url,
            "DBKATA_SANDBOX": self.token,
        }

    def give(self, folder: Path) -> None:
        """Hand a run folder to the slot's user (a private home: mode 700)."""
        (folder / "tmp").mkdir(exist_ok=True)
        if self.isolated:
            assert self.uid is not None
            assert self.gid is not None
            for path in [folder, *folder.rglob("*")]:
                os.lchown(path, self.uid, self.gid)
        folder.chmod(0o700)

    def kill_all(self) -> int:
        """Kill every process the slot's runs left behind; return how many were found."""
        found = 0
        for _ in range(20):
            left = self._leftovers()
            if not left:
                return found
            found += len(left)
            if self.isolated:
                self._kill_uid()
            for proc in left:
                with contextlib.suppress(psutil.Error):
                    proc.kill()
        return found

    def _leftovers(self) -> list[psutil.Process]:
        left = []
        for proc in psutil.process_iter():
            try:
                if self.isolated:
                    if proc.uids().real == self.uid and proc.status() != psutil.STATUS_ZOMBIE:
                        left.append(proc)
                elif proc.pid != os.getpid() and proc.environ().get("DBKATA_SANDBOX") == self.token:
                    left.append(proc)
            except psutil.Error:
                continue
        return left

    def _kill_uid(self) -> None:
        """kill(-1) as the slot user: signals all its processes at once, so a fork bomb cannot outrun it."""
        # The shell's own kill builtin: it needs nothing the sandbox user may not reach.
        subprocess.run(
            ["/bin/sh", "-c", "kill -9 -1 2>/dev/null; exit 0"],
            user=self.uid,
            group=self.gid,
            extra_groups=[],
            check=False,
            timeout=30,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd="/",
        )


def make_slots(count: int) -> list[Slot]:
    """One slot per parallel job; as root each gets its own system user, locked for this grader's lifetime.

    Two graders on one machine (shards) never share a slot user, because one's cleanup kills by uid.
    """
    if os.geteuid() != 0:
        return [Slot(i) for i in range(count)]
    LOCK_DIR.mkdir(mode=0o755, exist_ok=True)
    slots: list[Slot] = []
    for i in itertools.count():
        if len(slots) == count:
            return slots
        name = f"{USER_PREFIX}{i}"
        handle = open(LOCK_DIR / f"{name}.lock", "a")  # noqa: SIM115 - held until the grader exits
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        uid, gid = ensure_user(name)
        slot = Slot(len(slots), uid, gid, lock=handle)
        slot.kill_all()  # whatever a killed grader left running as this user
        slots.append(slot)
    return slots


def ensure_user(name: str) -> tuple[int, int]:
    """The uid/gid of a system user without home or shell, created if missing."""
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        useradd = shutil.which("useradd") or "/usr/sbin/useradd"
        subprocess.run(
            [useradd, "--system", "--user-group", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
            check=True,
            capture_output=True,
            timeout=60,
        )
        entry = pwd.getpwnam(name)
    return entry.pw_uid, entry.pw_gid


def unreachable_python_paths() -> list[str]:
    """Folders the interpreter needs that other users cannot reach (e.g. a Python under /root)."""
    wanted = {os.path.realpath(sys.base_prefix), os.path.realpath(sys.prefix)}
    wanted |= {os.path.realpath(p) for p in sys.path if p and os.path.isdir(p)}
    return sorted(
        p
        for p in wanted
        if not _traversable(p) and not any(p.startswith(q + os.sep) for q in wanted if q != p and not _traversable(q))
    )


def _traversable(path: str) -> bool:
    parts = Path(path).parts
    return all(os.stat(Path(*parts[:i])).st_mode & 0o005 == 0o005 for i in range(2, len(parts) + 1))


def network_isolation_available() -> bool:
    """Whether a child can be put in a private network namespace here (root, and allowed by the host)."""
    if os.geteuid() != 0 or not sys.platform.startswith("linux"):
        return False
    probe = [sys.executable, "-I", "-S", str(_CONFINE), '{"no_network": true}', "--", "/bin/true"]
    try:
        return subprocess.run(probe, capture_output=True, timeout=30, check=False).returncode == 0
    except OSError:
        return False


def _own_process_count() -> int:
    uid = os.getuid()
    count = 0
    for proc in psutil.process_iter():
        try:
            if proc.uids().real == uid:
                count += proc.num_threads()
        except psutil.Error:
            continue
    return count
