"""The grader's database side: the server, one least-privilege role per submission, health checks.

The grader acquires the server once (the embedded one, or the one ``DATABASE_URL`` names) and keeps
a superuser connection. Each submission gets a fresh role that can log in and create databases and
nothing else, with the timeouts of ``dbkata.cluster.APP_ROLE_SETTINGS`` set on it by the superuser
(so the code cannot lift the superuser-only ones), a connection cap so one submission cannot starve
the others, and a temp-file cap. The child's pytest plugin, given that role's URL, uses it for
everything; the grader drops the role and all its databases afterwards.
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

import psutil
import psycopg
from psycopg import sql

from dbkata.cluster import _MAX_TEMPLATES as MAX_TEMPLATES  # the cap Cluster.template() prunes at
from dbkata.cluster import APP_ROLE_SETTINGS
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
        """Create the role unless it exists (a server re-created after a crash has lost it)."""
        if not self.superuser or not role.name.startswith(ROLE_PREFIX):
            return
        with self._connect() as conn:
            if conn.execute("select 1 from pg_roles where rolname = %s", (role.name,)).fetchone():
                return
            conn.execute(
                sql.SQL(
                    "create role {} login nosuperuser createdb nocreaterole noinherit connection limit {} password {}"
                ).format(sql.Identifier(role.name), sql.Literal(CONNECTION_LIMIT), sql.Literal(role.password))
            )
            for key, value in ROLE_SETTINGS.items():
                conn.execute(
                    sql.SQL("alter role {} set {} = {}").format(
                        sql.Identifier(role.name), sql.Identifier(key), sql.Literal(value)
                    )
                )

    def drop_databases(self, role: SubmissionRole) -> None:
        """Drop every database the role owns (its clones and schema templates), keeping the role."""
        if not self.superuser or not role.name.startswith(ROLE_PREFIX):
            return
        with self._connect() as conn:
            rows = conn.execute(
                "select d.datname from pg_database d join pg_roles r on r.oid = d.datdba where r.rolname = %s",
                (role.name,),
            ).fetchall()
            for (dbname,) in rows:
                ident = sql.Identifier(str(dbname))
                conn.execute(sql.SQL("alter database {} is_template false").format(ident))
                conn.execute(sql.SQL("drop database if exists {} with (force)").format(ident))

    def make_room_for_templates(self, needed: int) -> None:
        """Keep the server's schema templates under the cap the child's cluster code prunes at.

        A child (not a superuser) that finds more than the cap would try to drop templates it does not
        own and fail; so the grader, as superuser, drops the oldest ones first, as that pruning would.
        """
        if not self.superuser:
            return
        with self._lock, self._connect() as conn:
            rows = conn.execute(
                "select datname from pg_database where datname like 'dbk\\_tpl\\_%' order by oid desc"
            ).fetchall()
            for (name,) in rows[max(0, MAX_TEMPLATES - needed) :]:
                ident = sql.Identifier(str(name))
                conn.execute(sql.SQL("alter database {} is_template false").format(ident))
                conn.execute(sql.SQL("drop database if exists {} with (force)").format(ident))

    def drop_role(self, role: SubmissionRole) -> None:
        """Drop every database the role owns, then the role (terminating its sessions)."""
        if not self.superuser or not role.name.startswith(ROLE_PREFIX):
            return
        with self._connect() as conn:
            conn.execute(sql.SQL("alter role {} nologin").format(sql.Identifier(role.name)))
        self.drop_databases(role)
        with self._connect() as conn:
            conn.execute("select pg_terminate_backend(pid) from pg_stat_activity where usename = %s", (role.name,))
            conn.execute(sql.SQL("drop owned by {}").format(sql.Identifier(role.name)))
            conn.execute(sql.SQL("drop role if exists {}").format(sql.Identifier(role.name)))

    def drop_orphans(self) -> list[str]:
        """Drop the roles (and databases) of graders that no longer run (killed with -9)."""
        with self._connect() as conn:
            names = [
                str(r[0]) for r in conn.execute("select rolname from pg_roles where rolname like 'dbkg\\_%'").fetchall()
            ]
        orphans = [n for n in names if (m := _ROLE_RE.fullmatch(n)) and not psutil.pid_exists(int(m.group(1)))]
        for name in orphans:
            self.drop_role(SubmissionRole(name, ""))
        return orphans

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
