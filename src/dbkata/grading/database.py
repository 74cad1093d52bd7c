"""The grader's database side: the server, one least-privilege role per submission, health checks.

The grader acquires the server once (the embedded one, or the one ``DATABASE_URL`` names) and keeps
a superuser connection. Each submission gets a fresh role that can log in and create databases and
nothing else, with the timeouts of ``dbkata.cluster.APP_ROLE_SETTINGS`` set on it by the superuser
(so the code cannot lift the superuser-only ones), a connection cap so one submission cannot starve
the others, and a temp-file cap. The child's pytest plugin, given that role's URL, uses it for
everything; the grader drops the role and all its databases afterwards. The SQL is
:class:`dbkata.cluster.Cluster`'s, the same layer the plugin uses.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import re
import secrets
import shutil
import socket
import threading
from dataclasses import dataclass

import psycopg

from dbkata.cluster import APP_ROLE_SETTINGS, MAX_TEMPLATES, Cluster, RoleSpec
from dbkata.endpoint import Endpoint, configured_url
from dbkata.server import EmbeddedServer, ServerError

ROLE_PREFIX = "dbkg_"
# Roles are named dbkg_<host>_<pid>_<n>: only this host's dead graders' roles are ever cleaned up
# (shards on several machines may share one server).
HOST_TAG = hashlib.sha1(socket.gethostname().encode()).hexdigest()[:6]
ROLE_SETTINGS = {**APP_ROLE_SETTINGS, "temp_file_limit": "512MB"}
CONNECTION_LIMIT = 40
_ROLE_RE = re.compile(rf"{ROLE_PREFIX}{HOST_TAG}_(\d+)_\d+")
_MIN_FREE_BYTES = 64 << 20


class InfrastructureFault(RuntimeError):
    """The database server is not usable; the message says what was checked."""


@dataclass(frozen=True)
class SubmissionRole:
    """A role created for one submission, and the URL its code uses."""

    name: str
    url: str
    password: str = ""


class GradingDatabase:
    """The server the grader uses, with a superuser connection of its own."""

    def __init__(self) -> None:
        self.url = configured_url(None)
        self._server: EmbeddedServer | None = None
        self._admin: Endpoint | None = None
        self._lock = threading.Lock()
        self._seq = itertools.count(1)
        self.superuser = False

    def start(self) -> None:
        """Acquire the server (starting the embedded one if needed) and clean up after killed graders."""
        if self.url:
            self._admin = Endpoint.from_url(self.url)
        else:
            self._server = EmbeddedServer()
            info = self._server.acquire()
            self._admin = Endpoint(info.socket_dir, info.port, info.superuser, info.password, "postgres", embedded=True)
        with self._connect() as conn:
            row = conn.execute("select rolsuper from pg_roles where rolname = current_user").fetchone()
            self.superuser = bool(row and row[0])
        if self.superuser:
            self.drop_orphans()

    def stop(self) -> None:
        """Let go of the embedded server (it stops when its last client leaves)."""
        if self._server is not None:
            self._server.release(keep_running=os.environ.get("DBKATA_KEEP_SERVER") == "1")

    @property
    def socket_dir(self) -> str | None:
        """The unix-socket folder the server is reached through (a child then needs no network)."""
        host = self._endpoint().host
        return host if host.startswith("/") else None

    def create_role(self) -> SubmissionRole:
        """A fresh least-privilege role for one submission (or the configured login, if not superuser)."""
        admin = self._endpoint()
        if not self.superuser:
            return SubmissionRole(admin.user, admin.url())
        name = f"{ROLE_PREFIX}{HOST_TAG}_{os.getpid()}_{next(self._seq)}"
        password = secrets.token_urlsafe(18)
        role = SubmissionRole(name, admin.with_login(name, password).on("postgres").url(), password)
        self.ensure_role(role)
        return role

    def ensure_role(self, role: SubmissionRole) -> None:
        """Create the role, or restore it (a server re-created after a crash has lost it)."""
        if self._ours(role):
            spec = RoleSpec(role.name, role.password, True, CONNECTION_LIMIT, ROLE_SETTINGS)
            with self._cluster() as cluster:
                cluster.ensure_role(spec)

    def drop_databases(self, role: SubmissionRole) -> None:
        """Drop every database the role owns (its clones and schema templates), keeping the role.

        The grader's superuser ends any session still connected, so a drop cannot be blocked; whether
        it worked is read back from ``pg_database``, and a database that stays is the grader's fault.
        """
        if self._ours(role):
            with self._cluster() as cluster:
                left = cluster.drop_databases_of(role.name)
            if left:
                raise InfrastructureFault(f"could not drop the database(s) {', '.join(left)} of a submission")

    def make_room_for_templates(self, needed: int) -> None:
        """Keep the server's schema templates under the cap, so that ``needed`` more fit beside them."""
        if self.superuser:
            with self._lock, self._cluster() as cluster:
                cluster.prune_templates(MAX_TEMPLATES - needed, owner=None)

    def drop_role(self, role: SubmissionRole) -> None:
        """Drop every database the role owns, then the role (terminating its sessions)."""
        if self._ours(role):
            with self._cluster() as cluster:
                left = cluster.drop_role(role.name)
            if left:
                raise InfrastructureFault(f"could not drop the database(s) {', '.join(left)} of a submission")

    def drop_orphans(self) -> list[str]:
        """Drop the roles (and databases) of graders on this host that no longer run (killed with -9)."""
        with self._cluster() as cluster:
            return cluster.drop_orphan_roles(_ROLE_RE)

    def _ours(self, role: SubmissionRole) -> bool:
        return self.superuser and role.name.startswith(ROLE_PREFIX)

    def _cluster(self) -> Cluster:
        """The one database layer, on a superuser connection of its own (the batch runs in threads)."""
        return Cluster(self._endpoint())

    def check_health(self) -> None:
        """Raise InfrastructureFault unless the server answers and its disk has room."""
        try:
            with self._connect(timeout=10) as conn:
                conn.execute("select 1").fetchone()
        except (psycopg.Error, OSError) as exc:
            raise InfrastructureFault(f"the database server did not answer: {_first_line(exc)}") from exc
        if self._server is not None:
            free = shutil.disk_usage(self._server.paths.pgdata).free
            if free < _MIN_FREE_BYTES:
                raise InfrastructureFault(
                    f"the database server's disk has only {free >> 20} MB free ({self._server.paths.pgdata})"
                )

    def repair(self) -> None:
        """Try to bring the server back (the embedded one is restarted); raise if it stays down."""
        with self._lock:
            if self._server is not None:
                try:
                    info = self._server.acquire()
                except ServerError as exc:
                    raise InfrastructureFault(f"restarting the embedded server failed: {exc}") from exc
                self._admin = Endpoint(
                    info.socket_dir, info.port, info.superuser, info.password, "postgres", embedded=True
                )  # a re-created cluster has a new password
        self.check_health()

    def _endpoint(self) -> Endpoint:
        if self._admin is None:
            raise InfrastructureFault("the grader's database was not started")
        return self._admin

    def _connect(self, timeout: int = 30) -> psycopg.Connection[tuple[object, ...]]:
        return psycopg.connect(**self._endpoint().connect_kwargs(), autocommit=True, connect_timeout=timeout)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
