"""Administration of the test server: the application role, schema templates and per-test clones."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass

import psutil
import psycopg
from psycopg import sql

from dbkata.endpoint import Endpoint

APP_ROLE = "dbkata_app"
# Settings of the role code under test logs in as. Set on the role (not the database) because
# CREATE DATABASE ... TEMPLATE does not copy database-level settings into the clone.
APP_ROLE_SETTINGS = {
    "lock_timeout": "3s",  # a missing SKIP LOCKED or a lock-order bug fails fast instead of hanging
    "statement_timeout": "60s",
    "idle_in_transaction_session_timeout": "120s",  # a hang guard; far longer than any check
    "deadlock_timeout": "100ms",  # superuser-only setting: students cannot change it
}
_NAME_PREFIX = "dbk_"
_TEMPLATE_PREFIX = "dbk_tpl_"
_MAX_TEMPLATES = 48


@dataclass(frozen=True)
class Database:
    """One database on the test server, with a login for code under test and one for the harness."""

    name: str
    app: Endpoint  # what code under test uses (non-superuser when the server allows it)
    admin: Endpoint  # the harness's own login: gates, fault injection, independent observation

    @property
    def url(self) -> str:
        """The ``postgresql+asyncpg`` URL code under test should use."""
        return self.app.url()


class Cluster:
    """One admin connection to the server, and what the harness does with it."""

    def __init__(self, admin: Endpoint) -> None:
        self.admin = admin
        self._conn: psycopg.Connection[tuple[object, ...]] | None = None
        self._seq = itertools.count(1)
        self.app = admin  # replaced by ensure_app_role() where the server lets us create roles
        self._superuser: bool | None = None

    # -- connections -----------------------------------------------------------------------------

    def conn(self) -> psycopg.Connection[tuple[object, ...]]:
        """The session's autocommit admin connection on the maintenance database."""
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(**self.admin.connect_kwargs(), autocommit=True)
        return self._conn

    def close(self) -> None:
        """Close the admin connection."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def is_superuser(self) -> bool:
        """Whether the admin login is a superuser (the embedded server's is); asked once per run."""
        if self._superuser is None:
            row = self.conn().execute("select rolsuper from pg_roles where rolname = current_user").fetchone()
            self._superuser = bool(row and row[0])
        return self._superuser

    # -- roles ----------------------------------------------------------------------------------------

    def ensure_app_role(self) -> Endpoint:
        """Create (once) the non-superuser role code under test logs in as; return its login."""
        if not self.is_superuser():
            self.app = self.admin  # an existing server without superuser: test code uses the URL's role
            return self.app
        password = hmac.new((self.admin.password or "dbkata").encode(), APP_ROLE.encode(), hashlib.sha256).hexdigest()
        with self._advisory_lock("dbkata:roles"):
            cur = self.conn()
            exists = cur.execute("select 1 from pg_roles where rolname = %s", (APP_ROLE,)).fetchone()
            verb = "alter" if exists else "create"
            cur.execute(
                sql.SQL(verb + " role {} login nosuperuser nocreatedb nocreaterole password {}").format(
                    sql.Identifier(APP_ROLE), sql.Literal(password)
                )
            )
            for key, value in APP_ROLE_SETTINGS.items():
                cur.execute(
                    sql.SQL("alter role {} set {} = {}").format(
                        sql.Identifier(APP_ROLE), sql.Identifier(key), sql.Literal(value)
                    )
                )
        self.app = self.admin.with_login(APP_ROLE, password)
        return self.app

    # -- templates ------------------------------------------------------------------------------------

    def template(self, ddl: Sequence[str]) -> str:
        """A template database holding ``ddl`` (run by the app role), built once and reused across runs."""
        digest = hashlib.sha256("\x00".join([self.app.user, *ddl]).encode()).hexdigest()[:16]
        name = _TEMPLATE_PREFIX + digest
        with self._advisory_lock(name):
            if self._exists(name):
                return name
            build = f"{_NAME_PREFIX}build_{os.getpid()}_{next(self._seq)}"
            self._execute("create database {} owner {} template template0", build, self.app.user)
            try:
                self._load(build, ddl)
                self._execute("alter database {} rename to {}", build, name)
            except BaseException:
                self.drop(build)
                raise
            self._execute("alter database {} with is_template true allow_connections false", name)
        self._prune_templates()
        return name

    def _load(self, dbname: str, ddl: Sequence[str]) -> None:
        if self.is_superuser():
            with psycopg.connect(**self.admin.on(dbname).connect_kwargs(), autocommit=True) as su:
                su.execute("create extension if not exists pg_stat_statements")
        with psycopg.connect(**self.app.on(dbname).connect_kwargs()) as conn:
            for statement in ddl:
                conn.execute(statement.encode())
            conn.commit()

    # -- per-test databases ---------------------------------------------------------------------------

    def clone(self, template: str) -> Database:
        """A fresh database copied from ``template`` (file copy: a few ms on tmpfs)."""
        name = f"{_NAME_PREFIX}{os.getpid()}_{next(self._seq)}"
        self._execute("create database {} template {} strategy file_copy owner {}", name, template, self.app.user)
        if self.app == self.admin:  # no role of our own: put the role settings on the database
            for key, value in APP_ROLE_SETTINGS.items():
                if key != "deadlock_timeout":
                    self.conn().execute(
                        sql.SQL("alter database {} set {} = {}").format(
                            sql.Identifier(name), sql.Identifier(key), sql.Literal(value)
                        )
                    )
        return Database(name, self.app.on(name), self.admin.on(name))

    def drop(self, name: str) -> None:
        """Drop a database, terminating whatever is still connected to it."""
        self._execute("drop database if exists {} with (force)", name)

    def drop_orphans(self) -> list[str]:
        """Drop the per-test databases of processes that no longer exist (runs killed with -9)."""
        dropped = []
        rows = self.conn().execute("select datname from pg_database where datname like 'dbk\\_%'").fetchall()
        for (name,) in rows:
            m = re.fullmatch(r"dbk_(?:build_)?(\d+)_\d+", str(name))
            if m and not psutil.pid_exists(int(m.group(1))):
                self.drop(str(name))
                dropped.append(str(name))
        return dropped

    def _prune_templates(self) -> None:
        """Keep at most _MAX_TEMPLATES of this role's templates (others' templates are not ours to drop)."""
        rows = (
            self.conn()
            .execute(
                "select datname from pg_database where datname like 'dbk\\_tpl\\_%%' "
                "and datdba = (select oid from pg_roles where rolname = %s) order by oid desc",
                (self.app.user,),
            )
            .fetchall()
        )
        for (name,) in rows[_MAX_TEMPLATES:]:
            self._execute("alter database {} is_template false", str(name))
            self.drop(str(name))

    # -- helpers --------------------------------------------------------------------------------------

    def _exists(self, name: str) -> bool:
        return self.conn().execute("select 1 from pg_database where datname = %s", (name,)).fetchone() is not None

    def _execute(self, template: str, *names: str) -> None:
        self.conn().execute(sql.SQL(template).format(*(sql.Identifier(n) for n in names)))

    def _advisory_lock(self, key: str) -> _AdvisoryLock:
        return _AdvisoryLock(self.conn(), key)


class _AdvisoryLock:
    """A session-level advisory lock on the admin connection, keyed by text (serialises runs)."""

    def __init__(self, conn: psycopg.Connection[tuple[object, ...]], key: str) -> None:
        self.conn, self.key = conn, key

    def __enter__(self) -> None:
        self.conn.execute("select pg_advisory_lock(hashtext(%s))", (self.key,))

    def __exit__(self, *exc: object) -> None:
        self.conn.execute("select pg_advisory_unlock(hashtext(%s))", (self.key,))
