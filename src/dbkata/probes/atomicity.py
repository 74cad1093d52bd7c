"""Probe 3: all or nothing, judged from an independent connection, with failures injected in the database.

``snapshot`` reads whole tables through the harness's own connection, so it sees exactly what is
committed. ``fail_nth`` installs a trigger that makes the N-th row written to a table fail, without
touching the code under test; its counter is a sequence, so rolled-back attempts still count.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from dbkata import feedback
from dbkata.probes.races import check_trigger, harness_ddl, install_trigger

_ORDINALS = {1: "1st", 2: "2nd", 3: "3rd"}


@dataclass(frozen=True)
class Snapshot:
    """The committed rows of some tables, each row as a tuple of its column values' text."""

    tables: dict[str, tuple[tuple[str, ...], ...]]

    def diff(self, before: Snapshot) -> dict[str, tuple[list[tuple[str, ...]], list[tuple[str, ...]]]]:
        """Per changed table: (rows added, rows removed) going from ``before`` to this snapshot."""
        changes = {}
        for table, rows in self.tables.items():
            now, then = Counter(rows), Counter(before.tables.get(table, ()))
            added, removed = list((now - then).elements()), list((then - now).elements())
            if added or removed:
                changes[table] = (added, removed)
        return changes


async def snapshot(admin: AsyncEngine, *tables: str) -> Snapshot:
    """The committed contents of ``tables`` (default: every table in ``public``), read independently."""
    async with admin.connect() as conn:
        names = list(tables) or [
            r[0]
            for r in (
                await conn.execute(
                    text("select tablename from pg_tables where schemaname = 'public' order by tablename")
                )
            ).all()
        ]
        contents: dict[str, tuple[tuple[str, ...], ...]] = {}
        for name in names:
            quoted = name.replace('"', '""')
            rows = (await conn.execute(text(f'select t::text from "{quoted}" t'))).scalars().all()
            contents[name] = tuple(sorted((str(r),) for r in rows))
    return Snapshot(contents)


def assert_unchanged(
    before: Snapshot,
    after: Snapshot,
    what: str,
    *,
    title: str = "a failed operation left changes behind",
    advice: str | None = None,
) -> None:
    """Fail (student-facing) if any committed row differs between the two snapshots."""
    __tracebackhide__ = True
    changes = after.diff(before)
    feedback.record_evidence(
        f"rows changed: {what}", {t: {"added": len(a), "removed": len(r)} for t, (a, r) in changes.items()}
    )
    if changes:
        lines = []
        for table, (added, removed) in changes.items():
            for label, rows in (("added", added), ("removed", removed)):
                if rows:
                    shown = ", ".join(r[0] for r in rows[:3]) + (" …" if len(rows) > 3 else "")
                    lines.append(f"table {table}: {len(rows)} row(s) {label}: {shown}")
        feedback.fail(
            title,
            f"{what}.",
            "Afterwards, read from a separate connection:",
            *lines,
            "Expected no change at all.",
            advice=advice or "Look at where the transaction starts and ends.",
        )


@dataclass
class Injection:
    """What an injected failure saw: how many rows were attempted, and whether the failure fired."""

    nth: int
    attempts: int = 0

    @property
    def fired(self) -> bool:
        """Whether the code got as far as the failing row (a check that relies on it should say so)."""
        return self.attempts >= self.nth


@asynccontextmanager
async def fail_nth(
    admin: AsyncEngine, *, table: str, nth: int, operation: str = "INSERT", sqlstate: str = "23514"
) -> AsyncIterator[Injection]:
    """Inside the block, the ``nth`` row the code writes to ``table`` fails (default: check violation).

    The trigger runs as its owner (``security definer``), so the code's own role needs no rights.
    """
    op = operation.upper()
    if op not in ("INSERT", "UPDATE", "DELETE"):
        raise ValueError(f"operation must be INSERT, UPDATE or DELETE, not {operation!r}")
    name = f"dbkata_fail_{table}_{op.lower()}"
    ordinal = _ORDINALS.get(nth, f"{nth}th")
    msg = f"dbkata: injected failure on the {ordinal} {op} into {table}"
    ddl = [  # anything of those names the code created first is dropped: it would stay the code's
        f"drop function if exists {name}() cascade",
        f"drop sequence if exists {name}",
        f"create sequence {name}",
        f"create function {name}() returns trigger language plpgsql security definer "
        f"set search_path = pg_catalog, pg_temp as $$ begin "
        f"if pg_catalog.nextval('public.{name}') = {int(nth)} then raise exception using errcode = '{sqlstate}', "
        f"message = '{msg}'; end if; return coalesce(new, old); end $$",
        f'create trigger {name} before {op} on "{table}" for each row execute function {name}()',
    ]
    installed = await install_trigger(admin, table, name, *ddl)
    injection = Injection(nth)
    try:
        yield injection
        await check_trigger(admin, installed, f"make the {ordinal} {op} fail")
    finally:
        async with admin.connect() as conn:
            seq = (await conn.execute(text(f"select last_value, is_called from public.{name}"))).one()
            injection.attempts = int(seq[0]) if seq[1] else 0
        await harness_ddl(
            admin,
            f'drop trigger if exists {name} on "{table}"',
            f"drop function if exists {name}() cascade",
            f"drop sequence if exists {name}",
        )
