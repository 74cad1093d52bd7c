"""Where the database server is: the embedded one, or the one ``DATABASE_URL`` names."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy.engine import URL, make_url

ENV_URL = "DATABASE_URL"  # the one variable exercise code, the plugin and the grader all read


@dataclass(frozen=True)
class Endpoint:
    """Login facts for one server and one role; ``host`` is a host name or a unix-socket directory."""

    host: str
    port: int
    user: str
    password: str | None
    dbname: str
    embedded: bool = False

    @classmethod
    def from_url(cls, raw: str) -> Endpoint:
        """Parse a ``postgresql://`` URL in any of its driver spellings."""
        url = make_url(raw)
        if url.get_backend_name() != "postgresql":
            raise ValueError(f"not a PostgreSQL URL: {url.render_as_string(hide_password=True)}")
        query_host = url.query.get("host")
        host = url.host or (query_host if isinstance(query_host, str) else None) or "/var/run/postgresql"
        query_port = url.query.get("port")
        port = url.port or int(query_port if isinstance(query_port, str) else 5432)
        return cls(host, port, url.username or "postgres", url.password, url.database or "postgres")

    def with_login(self, user: str, password: str | None) -> Endpoint:
        """The same server, another role."""
        return replace(self, user=user, password=password)

    def on(self, dbname: str) -> Endpoint:
        """The same server and role, another database."""
        return replace(self, dbname=dbname)

    def url(self, driver: str = "asyncpg") -> str:
        """A SQLAlchemy URL string (password included) for ``postgresql+<driver>``."""
        return self.sa_url(driver).render_as_string(hide_password=False)

    def sa_url(self, driver: str = "asyncpg") -> URL:
        """The same as :meth:`url`, as a SQLAlchemy ``URL`` object."""
        if self.host.startswith("/"):
            return URL.create(
                f"postgresql+{driver}",
                username=self.user,
                password=self.password,
                database=self.dbname,
                query={"host": self.host, "port": str(self.port)},
            )
        return URL.create(
            f"postgresql+{driver}",
            username=self.user,
            password=self.password,
            host=self.host,
            port=self.port,
            database=self.dbname,
        )

    def connect_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``psycopg.connect`` and ``asyncpg.connect``."""
        return {
            "host": self.host,
            "port": self.port,
            "user": self.user,
            "password": self.password,
            "dbname": self.dbname,
        }

    def describe(self) -> str:
        """The URL without its password, for messages."""
        where = f"socket {self.host}" if self.host.startswith("/") else f"{self.host}:{self.port}"
        kind = "embedded PostgreSQL" if self.embedded else "PostgreSQL"
        return f"{kind} at {where}, database {self.dbname!r}, role {self.user!r}"


def configured_url(cli_value: str | None) -> str | None:
    """The server the user chose: ``--dbkata-db-url`` first, then ``$DATABASE_URL``; None = embedded."""
    if cli_value is not None:
        return cli_value
    return os.environ.get(ENV_URL) or None
