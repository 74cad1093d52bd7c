"""Where and how a submission's code runs: an allow-list sandbox, limits, a scrubbed environment, cleanup.

``Slot.prefix`` wraps a command in ``confine.py``. Where the kernel allows namespaces (root, or an
unprivileged user namespace as a normal user: :func:`isolation_available`), the command sees only:

* /usr, /bin, /sbin, /lib*, and from /etc: passwd, group, nsswitch.conf, hosts, host.conf, ld.so.*,
  localtime, timezone, ssl, ca-certificates*, alternatives, mime.types, os-release -- read-only;
* the Python it runs on: ``sys.base_prefix``, ``sys.prefix`` and every folder on a clean interpreter's
  ``sys.path`` (site-packages, and the dbkata source folder of an editable install) -- read-only,
  at their own paths even under a 0700 /root;
* the caller's ``read_only`` paths (the database's socket folder) and ``read_write`` paths (the run
  folder), at their own paths;
* its own /proc (a new PID namespace: only its processes), /dev/{null,zero,full,random,urandom},
  private tmpfs on /tmp (256 MB), /var/tmp and /dev/shm (64 MB each), and with ``no_network`` only a
  loopback of its own (unix sockets in bound folders still work).

Nothing else exists inside: not the workbook (checks, solutions, .git, examples), not other checkouts
(/work, /root, /home), not other slots' folders. Every process started inside dies when the command
ends or when the sandbox's outer process is killed. As root, each parallel job slot also has its own
system user (``dbkata-sbx-N``): process limits then bind, and the code cannot read what the grader's
user owns. As a normal user the code runs as that user, in a user namespace, seeing the same tree.
Where no namespace can be made, ``Slot.isolated`` is False and only the limits apply: the grader
then refuses untrusted code unless told to trust it.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
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
    """One job slot: the OS user its runs use (None: the grader's own), whether runs are isolated, and a
    token marking its processes."""

    index: int
    uid: int | None = None
    gid: int | None = None
    isolated: bool = False  # in the allow-list sandbox (namespaces), not only under limits
    token: str = field(default_factory=lambda: secrets.token_hex(8))
    lock: IO[str] | None = field(default=None, repr=False)

    def prefix(
        self,
        limits: Limits,
        *,
        read_only: Sequence[Path | str] = (),
        read_write: Sequence[Path | str] = (),
        no_network: bool = True,
    ) -> list[str]:
        """The command prefix that starts what follows it in the sandbox (the module docstring says what
        it sees), under ``limits``, as the slot's user."""
        settings: dict[str, object] = dict(limits.rlimits())
        if self.uid is None:  # the grader's own user: its other processes count towards the limit
            settings["processes"] = _own_process_count() + limits.processes
        else:
            settings.update(uid=self.uid, gid=self.gid)
        if self.isolated:
            settings.update(
                isolate="user" if os.geteuid() != 0 else "root",
                no_network=no_network,
                read_only=[*python_paths(), *map(str, read_only)],
                read_write=[str(p) for p in read_write],
            )
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
        if self.uid is not None and self.gid is not None:
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
            if self.uid is not None:
                self._kill_uid()
            for proc in left:
                with contextlib.suppress(psutil.Error):
                    proc.kill()
        return found

    def _leftovers(self) -> list[psutil.Process]:
        left = []
        for proc in psutil.process_iter():
            try:
                if self.uid is not None:
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
    isolated = isolation_available()
    if os.geteuid() != 0:
        return [Slot(i, isolated=isolated) for i in range(count)]
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
        slot = Slot(len(slots), uid, gid, isolated, lock=handle)
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


@functools.cache
def python_paths() -> tuple[str, ...]:
    """What the interpreter needs, as a clean start of it sees it (not this process's ``sys.path``, where
    pytest may have put a checkout): its prefixes and every existing ``sys.path`` entry, real paths."""
    probe = "import json, sys; print(json.dumps([sys.base_prefix, sys.prefix, sys.base_exec_prefix, *sys.path]))"
    out = subprocess.run([sys.executable, "-I", "-c", probe], capture_output=True, text=True, check=True, timeout=60)
    found = [*json.loads(out.stdout), os.path.dirname(os.path.realpath(sys.executable))]
    return tuple(dict.fromkeys(os.path.realpath(p) for p in found if p and os.path.exists(p)))


def isolation_available() -> bool:
    """Whether commands can be run in the allow-list sandbox here (probed once per process)."""
    return isolation_problem() is None


@functools.cache
def isolation_problem() -> str | None:
    """Why the sandbox cannot be built here (what the probe printed), or None if it can."""
    if not sys.platform.startswith("linux"):
        return f"namespaces are a Linux feature; this is {sys.platform}"
    probe = [*Slot(0, isolated=True).prefix(Limits()), sys.executable, "-I", "-S", "-c", "pass"]
    try:
        proc = subprocess.run(probe, capture_output=True, text=True, timeout=60, check=False, cwd="/")
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    return None if proc.returncode == 0 else (proc.stderr.strip() or f"exit code {proc.returncode}")


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
