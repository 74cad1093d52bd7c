"""The DDL an exercise's template database is built from."""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from types import ModuleType
from typing import Any

from sqlalchemy import MetaData, create_mock_engine


def ddl_for(metadata: MetaData, extra: Sequence[str] = ()) -> list[str]:
    """Exactly the statements ``metadata.create_all`` would run on PostgreSQL, then ``extra``."""
    statements: list[str] = []

    def capture(clause: Any, *_: Any, **__: Any) -> None:
        statements.append(str(clause.compile(dialect=engine.dialect)).strip())

    engine = create_mock_engine("postgresql+psycopg://", capture)
    metadata.create_all(engine, checkfirst=False)
    return [*statements, *extra]


def exercise_ddl(package: str) -> list[str]:
    """The DDL of an exercise package: ``<package>.models`` metadata plus its optional ``EXTRA_DDL``."""
    try:
        models = importlib.import_module(f"{package}.models")
    except ModuleNotFoundError as exc:
        if exc.name != f"{package}.models":
            raise
        return []
    return ddl_for(find_metadata(models), getattr(models, "EXTRA_DDL", ()))


def find_metadata(models: ModuleType) -> MetaData:
    """The module's ``metadata``, or the ``metadata`` of its ``Base`` class."""
    for candidate in (getattr(models, "metadata", None), getattr(getattr(models, "Base", None), "metadata", None)):
        if isinstance(candidate, MetaData):
            return candidate
    raise LookupError(f"{models.__name__} defines neither `metadata` nor `Base.metadata`")
