"""Sealed databases: one submission's role can neither enter nor block another's databases.

Driven on the real (embedded) server with two submission roles created by the grader, as a batch does.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import errors

from dbkata.cluster import APP_ROLE, Cluster
from dbkata.endpoint import Endpoint
from dbkata.grading.database import GradingDatabase, SubmissionRole

DDL = ("create table item (id serial primary key, name text not null)",)

_SQUATTER_TEST = """
import os
import psycopg

def test_holds_a_foreign_session_through_teardown(db):
    # A session the run's own role may not end stays connected while the fixture drops the database.
    squatter = psycopg.connect(os.environ["SQUATTER_DSN"], dbname=db.name)
    with psycopg.connect(**db.app.connect_kwargs()) as conn:
        conn.execute("insert into item (name) values ('kept')")
    globals()["held"] = squatter  # never closed by the test: it outlives the teardown
"""


@pytest.fixture(scope="module")
def grader() -> Iterator[GradingDatabase]:
    database = GradingDatabase()
    database.start()
    if not database.superuser:
        pytest.skip("sealing is enforced by a superuser grader; DATABASE_URL names a non-superuser role")
    yield database
    database.stop()


@pytest.fixture
def roles(grader: GradingDatabase) -> Iterator[tuple[SubmissionRole, SubmissionRole]]:
    made = (grader.create_role(), grader.create_role())
    yield made
    for role in made:
        grader.drop_role(role)


def _login(role: SubmissionRole) -> Endpoint:
    return Endpoint.from_url(role.url)


def _databases_of(grader: GradingDatabase, role: SubmissionRole) -> list[str]:
    with grader._cluster() as cluster:
        rows = cluster.conn().execute(
            "select datname from pg_database where datdba = (select oid from pg_roles where rolname = %s)",
            (role.name,),
        )
        return sorted(str(r[0]) for r in rows.fetchall())


def test_a_second_role_cannot_connect_to_another_roles_test_database_or_template(
    grader: GradingDatabase, roles: tuple[SubmissionRole, SubmissionRole]
) -> None:
    victim, other = roles
    with Cluster(_login(victim)) as cluster:
        cluster.ensure_app_role()
        template = cluster.template(DDL)
        clone = cluster.clone(template)
        with psycopg.connect(**clone.app.connect_kwargs()) as conn:  # its own role gets in
            assert conn.execute("select count(*) from item").fetchone() == (0,)
    with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
        psycopg.connect(**_login(other).on(clone.name).connect_kwargs())
    with grader._cluster() as admin:  # the harness (superuser) gets in
        conn = admin.conn()
        for dbname in (clone.name, template):
            query = "select has_database_privilege(%s, %s, 'CONNECT'), has_database_privilege(%s, %s, 'CONNECT')"
            assert conn.execute(query, (other.name, dbname, victim.name, dbname)).fetchone() == (False, True)
        assert conn.execute("select datistemplate from pg_database where datname = %s", (template,)).fetchone() == (
            False,  # so no other role can even clone it (CREATE DATABASE ... TEMPLATE needs owner or superuser)
        )
    with pytest.raises(errors.InsufficientPrivilege), Cluster(_login(other)) as intruder:
        intruder.conn().execute(f'create database dbk_intruder_{os.getpid()} template "{template}"')


def test_the_app_role_is_granted_connect_on_its_sealed_clones(grader: GradingDatabase) -> None:
    with grader._cluster() as cluster:
        cluster.ensure_app_role()
        clone = cluster.clone(cluster.template(DDL))
        try:
            acl = cluster.conn().execute("select datacl::text from pg_database where datname = %s", (clone.name,))
            text = str(acl.fetchone())
            assert f"{APP_ROLE}=" in text  # the app role is named
            assert "=Tc/" not in text  # PUBLIC's default (temporary, connect) is gone
            with psycopg.connect(**clone.app.connect_kwargs()) as conn:
                assert conn.execute("select current_user").fetchone() == (APP_ROLE,)
        finally:
            assert cluster.drop(clone.name)


def test_a_drop_a_foreign_session_blocks_is_finished_by_the_grader_and_verified(
    grader: GradingDatabase, roles: tuple[SubmissionRole, SubmissionRole]
) -> None:
    victim, other = roles
    with Cluster(_login(victim)) as cluster:
        clone = cluster.clone(cluster.template(DDL))
        with grader._cluster() as admin:  # a session the victim may not end (only a superuser could end it)
            admin.conn().execute(f'grant connect on database "{clone.name}" to "{other.name}"')
        with psycopg.connect(**_login(other).on(clone.name).connect_kwargs()):
            assert cluster.drop(clone.name) is False  # refused, and said so by pg_database, not an exception
            assert clone.name in _databases_of(grader, victim)
            grader.drop_databases(victim)  # the grader's superuser ends the foreign session
    assert _databases_of(grader, victim) == []


def test_a_foreign_session_held_through_the_fixtures_teardown_is_not_charged_to_the_run(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    grader: GradingDatabase,
    roles: tuple[SubmissionRole, SubmissionRole],
) -> None:
    """As in a graded run: the plugin logs in as the submission's role; the foreign login is a superuser's."""
    victim, _ = roles
    admin = grader._endpoint()
    squatter = f"host={admin.host} port={admin.port} user={admin.user} password={admin.password}"
    (pytester.path / "test_squat.py").write_text(_SQUATTER_TEST)
    pytester.makeconftest(f"import pytest\n\n@pytest.fixture\ndef dbkata_ddl():\n    return {list(DDL)!r}\n")
    monkeypatch.setenv("DATABASE_URL", victim.url)
    monkeypatch.setenv("SQUATTER_DSN", squatter)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)  # no error at teardown
    clones = [n for n in _databases_of(grader, victim) if not n.startswith("dbk_tpl_")]
    assert len(clones) == 1  # the clone stayed: its role could not end the foreign session
    grader.drop_databases(victim)
    assert _databases_of(grader, victim) == []


def test_every_database_a_role_leaves_is_gone_after_drop_role(grader: GradingDatabase) -> None:
    role = grader.create_role()
    with Cluster(_login(role)) as cluster:
        cluster.clone(cluster.template(DDL))
    assert len(_databases_of(grader, role)) == 2  # its template and a clone
    grader.drop_role(role)
    with grader._cluster() as admin:
        assert admin.conn().execute("select 1 from pg_roles where rolname = %s", (role.name,)).fetchone() is None
    assert _databases_of(grader, role) == []
