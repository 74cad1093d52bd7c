"""The one database layer: roles, sealed templates and clones, verified drops, pruning, orphans.

The pytest plugin (logged in as the embedded superuser, or as the ``DATABASE_URL`` role) and the grader
(its superuser, acting for each submission's role) both go through :class:`Cluster`, so each piece of
SQL is written once. Every database it creates is **sealed**: it is created with connections disabled,
``CONNECT`` is revoked from ``PUBLIC`` and granted to the role that needs it, and only then are
connections allowed. So only that role, its owner and superusers (the harness) can ever connect: no
other submission can squat on a database and make its drop fail.

Whether a drop succeeded is decided by asking ``pg_database`` afterwards, never from error text.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import psutil
import psycopg
from psycopg import errors, sql

from dbkata.endpoint import Endpoint

APP_ROLE = "dbkata_app"
# Settings of the role code under test logs in as. Set on the role (not the database) because
# CREATE DATABASE ... TEMPLATE does not copy database-level settings into the clone.
APP_ROLE_SETTINGS = {
    # A lock-order bug is ended by deadlock detection in 100 ms; this only stops code that waits forever.
    # Long enough that a contender parked at a harness gate on a busy machine is never timed out by it.
    "lock_timeout": "60s",
    "statement_timeout": "60s",
    "idle_in_transaction_session_timeout": "120s",  # a hang guard; far longer than any check
    "deadlock_timeout": "100ms",  # superuser-only setting: students cannot change it
}
NAME_PREFIX = "dbk_"
TEMPLATE_PREFIX = "dbk_tpl_"
MAX_TEMPLATES = 48
_ORPHAN_RE = re.compile(r"dbk_(?:build_)?(\d+)_\d+")
# A drop that its own login could not finish (a session it may not end): not the code's fault.
_DROP_REFUSED = (errors.ObjectInUse, errors.InsufficientPrivilege)

Conn = psycopg.Connection[tuple[object, ...]]


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


@dataclass(frozen=True)
class RoleSpec:
    """A login role the harness creates: never a superuser, never able to create roles."""

    name: str
    password: str
    createdb: bool = False
    connection_limit: int = -1  # -1: no limit
    settings: Mapping[str, str] = field(default_factory=lambda: dict(APP_ROLE_SETTINGS))


class Cluster:
    """One admin connection to the server, and what the harness does with it."""

    def __init__(self, admin: Endpoint) -> None:
        self.admin = admin
        self._conn: Conn | None = None
        self._seq = itertools.count(1)
        self.app = admin  # replaced by ensure_app_role() where the server lets us create roles
        self._superuser: bool | None = None

    # -- connections -----------------------------------------------------------------------------

    def conn(self) -> Conn:
        """The autocommit admin connection on the maintenance database."""
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(**self.admin.connect_kwargs(), autocommit=True, connect_timeout=30)
        return self._conn

    def close(self) -> None:
        """Close the admin connection."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def is_superuser(self) -> bool:
        """Whether the admin login is a superuser (the embedded server's is); asked once per run."""
        if self._superuser is None:
            row = self.conn().execute("select rolsuper from pg_roles where rolname = current_user").fetchone()
            self._superuser = bool(row and row[0])
        return self._superuser

    # -- roles ----------------------------------------------------------------------------------------

    def ensure_role(self, role: RoleSpec) -> None:
        """Create the role, or bring an existing one back to ``role`` (attributes, password, settings)."""
        createdb = "createdb" if role.createdb else "nocreatedb"
        with self._advisory_lock("dbkata:roles"):
            exists = self.conn().execute("select 1 from pg_roles where rolname = %s", (role.name,)).fetchone()
            verb = "alter" if exists else "create"
            self.conn().execute(
                sql.SQL(
                    verb + " role {} login nosuperuser " + createdb + " nocreaterole noinherit "
                    "connection limit {} password {}"
                ).format(sql.Identifier(role.name), sql.Literal(role.connection_limit), sql.Literal(role.password))
            )
            if exists:
                self._reset_role(role.name)
            for key, value in role.settings.items():
                self.conn().execute(
                    sql.SQL("alter role {} set {} = {}").format(
                        sql.Identifier(role.name), sql.Identifier(key), sql.Literal(value)
                    )
                )

    def _reset_role(self, name: str) -> None:
        """Undo what a role may have stored on the server for later sessions: its session defaults (in
        every database, set with ``ALTER ROLE ... SET``) and its large objects in this database.

        Code under test can write there, and a later run (another exercise's) would read it back.
        """
        ident = sql.Identifier(name)
        self.conn().execute(sql.SQL("alter role {} reset all").format(ident))
        rows = (
            self.conn()
            .execute(
                "select d.datname from pg_db_role_setting s join pg_database d on d.oid = s.setdatabase "
                "join pg_roles r on r.oid = s.setrole where r.rolname = %s",
                (name,),
            )
            .fetchall()
        )
        for (database,) in rows:
            self.conn().execute(
                sql.SQL("alter role {} in database {} reset all").format(ident, sql.Identifier(str(database)))
            )
        # its large objects here (DROP OWNED would also revoke the CONNECT it was granted on every clone)
        self.conn().execute(
            "select pg_catalog.lo_unlink(l.oid) from pg_catalog.pg_largeobject_metadata l "
            "join pg_catalog.pg_roles r on r.oid = l.lomowner where r.rolname = %s",
            (name,),
        )

    def ensure_app_role(self) -> Endpoint:
        """Create (once) the non-superuser role code under test logs in as; return its login."""
        if not self.is_superuser():
            self.app = self.admin  # an existing server without superuser: test code uses the URL's role
            return self.app
        password = hmac.new((self.admin.password or "dbkata").encode(), APP_ROLE.encode(), hashlib.sha256).hexdigest()
        self.ensure_role(RoleSpec(APP_ROLE, password))
        self.app = self.admin.with_login(APP_ROLE, password)
        return self.app

    def drop_role(self, name: str) -> list[str]:
        """End the role's sessions, drop its databases, then the role; return databases left behind."""
        ident = sql.Identifier(name)
        if self.conn().execute("select 1 from pg_roles where rolname = %s", (name,)).fetchone() is None:
            return []
        self.conn().execute(sql.SQL("alter role {} nologin").format(ident))
        self.conn().execute("select pg_terminate_backend(pid) from pg_stat_activity where usename = %s", (name,))
        left = self.drop_databases_of(name)
        if not left:
            self.conn().execute(sql.SQL("drop owned by {}").format(ident))
            self.conn().execute(sql.SQL("drop role if exists {}").format(ident))
        return left

    def drop_orphan_roles(self, pattern: re.Pattern[str]) -> list[str]:
        """Drop the roles whose name ``pattern`` matches with a dead pid in group 1 (killed graders)."""
        rows = self.conn().execute("select rolname from pg_roles order by rolname").fetchall()
        names = [str(r[0]) for r in rows]
        orphans = [n for n in names if (m := pattern.fullmatch(n)) and not psutil.pid_exists(int(m.group(1)))]
        for name in orphans:
            self.drop_role(name)
        return orphans

    # -- templates ------------------------------------------------------------------------------------

    def template(self, ddl: Sequence[str]) -> str:
        """A sealed template database holding ``ddl`` (run by the app role), built once and reused."""
        digest = hashlib.sha256("\x00".join([self.app.user, *ddl]).encode()).hexdigest()[:16]
        name = TEMPLATE_PREFIX + digest
        with self._advisory_lock(name):
            if self._exists(name):
                return name
            build = f"{NAME_PREFIX}build_{os.getpid()}_{next(self._seq)}"
            self._create_sealed(build, "template0")
            try:
                self._load(build, ddl)
                self._execute("alter database {} rename to {}", build, name)
            except BaseException:
                self.drop(build)
                raise
            # Not marked is_template: then only its owner and superusers may clone it, nobody connects.
            self._execute("alter database {} with allow_connections false", name)
        self.prune_templates(MAX_TEMPLATES, owner=self.app.user)
        return name

    def _load(self, dbname: str, ddl: Sequence[str]) -> None:
        if self.is_superuser():
            with psycopg.connect(**self.admin.on(dbname).connect_kwargs(), autocommit=True) as su:
                su.execute("create extension if not exists pg_stat_statements")
        with psycopg.connect(**self.app.on(dbname).connect_kwargs()) as conn:
            for statement in ddl:
                conn.execute(statement.encode())
            conn.commit()

    def prune_templates(self, keep: int, owner: str | None) -> list[str]:
        """Drop all but the newest ``keep`` templates (of ``owner`` only, unless None); return the dropped."""
        query = "select datname from pg_database where datname like 'dbk\\_tpl\\_%%'"
        params: tuple[str, ...] = ()
        if owner is not None:
            query += " and datdba = (select oid from pg_roles where rolname = %s)"
            params = (owner,)
        rows = self.conn().execute(query + " order by oid desc", params).fetchall()
        dropped = [str(name) for (name,) in rows[max(0, keep) :]]
        for name in dropped:
            self.drop(name)
        return dropped

    # -- per-test databases ---------------------------------------------------------------------------

    def database_oid(self, name: str) -> int | None:
        """The oid of a database (a template rebuilt under the same name gets a new one), None if absent."""
        row = self.conn().execute("select oid from pg_database where datname = %s", (name,)).fetchone()
        return int(str(row[0])) if row else None

    def clone(self, template: str) -> Database:
        """A fresh sealed database copied from ``template`` (file copy: a few ms on tmpfs)."""
        name = f"{NAME_PREFIX}{os.getpid()}_{next(self._seq)}"
        self._create_sealed(name, template)
        if self.app == self.admin:  # no role of our own: put the role settings on the database
            for key, value in APP_ROLE_SETTINGS.items():
                if key != "deadlock_timeout":
                    self.conn().execute(
                        sql.SQL("alter database {} set {} = {}").format(
                            sql.Identifier(name), sql.Identifier(key), sql.Literal(value)
                        )
                    )
        return Database(name, self.app.on(name), self.admin.on(name))

    def _create_sealed(self, name: str, template: str) -> None:
        """Create a database owned by the app role that no one else can ever have been connected to."""
        strategy = "" if template == "template0" else " strategy file_copy"
        self._execute(
            "create database {} owner {} template {}" + strategy + " allow_connections false",
            name,
            self.app.user,
            template,
        )
        self._execute("revoke all on database {} from public", name)
        self._execute("grant connect, temporary on database {} to {}", name, self.app.user)
        self._execute("alter database {} with allow_connections true", name)

    def drop(self, name: str) -> bool:
        """Drop a database, ending whatever is connected to it; True once ``pg_database`` lacks it.

        A login that may not end a session still connected (only a superuser may end another role's)
        gets False, not an error: the grader drops what is left with its superuser afterwards.
        """
        row = self.conn().execute("select datistemplate from pg_database where datname = %s", (name,)).fetchone()
        if row is None:
            return True
        try:
            if row[0]:  # a template of an older dbkata: only a non-template can be dropped
                self._execute("alter database {} is_template false", name)
            self._execute("drop database if exists {} with (force)", name)
        except _DROP_REFUSED:
            pass
        return not self._exists(name)

    def drop_databases_of(self, owner: str, attempts: int = 3) -> list[str]:
        """Drop every database ``owner`` owns (clones and templates); return those still there."""
        left: list[str] = []
        for _ in range(attempts):
            rows = (
                self.conn()
                .execute(
                    "select d.datname from pg_database d join pg_roles r on r.oid = d.datdba "
                    "where r.rolname = %s order by d.datname",
                    (owner,),
                )
                .fetchall()
            )
            left = [str(name) for (name,) in rows if not self.drop(str(name))]
            if not left:
                break
        return left

    def drop_orphans(self) -> list[str]:
        """Drop the app role's per-test databases of processes that no longer exist (runs killed with -9)."""
        dropped = []
        rows = self.conn().execute(
            "select datname from pg_database where datname like 'dbk\\_%%' "
            "and datdba = (select oid from pg_roles where rolname = %s) order by datname",
            (self.app.user,),
        )
        for (name,) in rows.fetchall():
            m = _ORPHAN_RE.fullmatch(str(name))
            if m and not psutil.pid_exists(int(m.group(1))) and self.drop(str(name)):
                dropped.append(str(name))
        return dropped

    # -- helpers --------------------------------------------------------------------------------------

    def _exists(self, name: str) -> bool:
        return self.conn().execute("select 1 from pg_database where datname = %s", (name,)).fetchone() is not None

    def _execute(self, template: str, *names: str) -> None:
        self.conn().execute(sql.SQL(template).format(*(sql.Identifier(n) for n in names)))

    def _advisory_lock(self, key: str) -> _AdvisoryLock:
        return _AdvisoryLock(self.conn(), key)


class _AdvisoryLock:
    """A session-level advisory lock on the admin connection, keyed by text (serialises runs)."""

    def __init__(self, conn: Conn, key: str) -> None:
        self.conn, self.key = conn, key

    def __enter__(self) -> None:
        self.conn.execute("select pg_advisory_lock(hashtext(%s))", (self.key,))

    def __exit__(self, *exc: object) -> None:
        self.conn.execute("select pg_advisory_unlock(hashtext(%s))", (self.key,))
