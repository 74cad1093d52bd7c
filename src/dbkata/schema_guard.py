"""The workbook's tables stay what they are: code under test may not rename, replace or rewrite them.

The harness decides outcomes by reading the tables it seeded, through its own connection. The code
under test connects as the owner of those tables, so it could rename ``task`` and put a view of its own
in its place (or a rewrite rule, a trigger, a renamed or generated column), and every later read of the
harness would see what the code wants it to see. So the plugin takes a fingerprint of the test
database's schema right after cloning it (before any code under test runs) and again when the test's
call is over. A relation of the workbook that was renamed, moved to another schema, replaced (dropped
and created again, or by a view), given a rewrite rule or a trigger, or whose columns were renamed,
retyped, dropped or made generated fails the test, whatever the check said. A relation that was only
dropped is not a lie (every read of it fails loudly), and what the code creates itself is its own.

The harness's own triggers (the race gate, fault injection: their functions belong to the harness's
login, which the code under test cannot give its own to) are left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import psycopg

from dbkata.cluster import Database

_FINGERPRINT = r"""
select c.oid::int8, n.nspname::text, c.relname::text, c.relkind::text,
       coalesce((select array_agg(a.attname::text || ' ' || pg_catalog.format_type(a.atttypid, a.atttypmod)
                                  || case when a.attgenerated <> '' then ' generated' else '' end
                                  order by a.attnum)
                 from pg_catalog.pg_attribute a
                 where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped), '{}'),
       coalesce((select array_agg(r.rulename::text order by r.rulename)
                 from pg_catalog.pg_rewrite r where r.ev_class = c.oid and r.rulename <> '_RETURN'), '{}'),
       coalesce((select array_agg(t.tgname::text order by t.tgname)
                 from pg_catalog.pg_trigger t join pg_catalog.pg_proc p on p.oid = t.tgfoid
                 where t.tgrelid = c.oid and not t.tgisinternal
                   and p.proowner <> (select r.oid from pg_catalog.pg_roles r where r.rolname = current_user)), '{}')
from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
where c.relkind in ('r', 'p', 'v', 'm', 'f')
  and n.nspname <> 'information_schema' and n.nspname not like 'pg\_%'
"""
_KINDS = {"r": "table", "p": "table", "v": "view", "m": "materialized view", "f": "foreign table"}


@dataclass(frozen=True)
class Relation:
    """What the harness relies on about one relation."""

    schema: str
    name: str
    kind: str
    columns: tuple[str, ...]
    rules: tuple[str, ...]
    triggers: tuple[str, ...]

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"


Fingerprint = Mapping[int, Relation]


def fingerprint(database: Database) -> dict[int, Relation]:
    """The relations of ``database`` outside the system schemas, by oid (read as the harness's login)."""
    with psycopg.connect(**database.admin.connect_kwargs(), connect_timeout=30) as conn:
        rows = conn.execute(_FINGERPRINT).fetchall()
    return {
        int(oid): Relation(str(schema), str(name), str(kind), tuple(columns), tuple(rules), tuple(triggers))
        for oid, schema, name, kind, columns, rules, triggers in rows
    }


def changes(before: Fingerprint, after: Fingerprint) -> list[str]:
    """How the relations that existed ``before`` were tampered with (empty: they were not)."""
    by_name = {(r.schema, r.name): r for r in after.values()}
    found: list[str] = []
    for oid, was in sorted(before.items(), key=lambda item: item[1].qualified):
        now = after.get(oid)
        if now is not None and (now.schema, now.name) != (was.schema, was.name):
            found.append(f"{_KINDS.get(was.kind, was.kind)} {was.qualified} was renamed to {now.qualified}")
        stand_in = by_name.get((was.schema, was.name))
        if stand_in is not None and stand_in is not now:
            found.append(
                f"{_KINDS.get(was.kind, was.kind)} {was.qualified} was replaced: the name now belongs to "
                f"another {_KINDS.get(stand_in.kind, stand_in.kind)}"
            )
        if now is None:
            continue  # dropped (and perhaps replaced, said above); a plain drop fails every read loudly
        if now.columns[: len(was.columns)] != was.columns:
            became = [f"{c} became {d}" for c, d in zip(was.columns, now.columns, strict=False) if c != d]
            gone = [f"{c} is gone" for c in was.columns[len(now.columns) :]]
            found.append(f"the columns of {was.qualified} were changed: {', '.join(became + gone)}")
        if now.rules != was.rules:
            found.append(f"{was.qualified} was given rewrite rules: {', '.join(now.rules)}")
        added = sorted(set(now.triggers) - set(was.triggers))
        if added:
            found.append(f"{was.qualified} was given triggers: {', '.join(added)}")
    return found
