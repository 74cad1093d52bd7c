"""The pytest plugin: a real PostgreSQL for every exercise test and check, and the student-facing context.

Fixtures (all lazy: nothing starts a server until a test asks for a database):

``db``          a fresh database cloned from the exercise's schema template (real commits, 2nd connections)
``exercise``    the exercise's code, reached through one API (``client()``, ``call()``, ``asgi_request()``),
                running with ``DATABASE_URL`` pointing at ``db``: in this process (default), or in a
                separate app process (``--dbkata-app=subprocess``; the grader's sandbox is the same)
``admin``       an independent harness connection (``AsyncEngine``, NullPool) to ``db``: observe, inject, gate
``dbkata_relay`` the harness's wire-protocol relay to ``db`` (its socket in a fresh short folder); the
                probes decide from what it saw, ``exercise`` points ``DATABASE_URL`` through it
``tx_session``  a cheap ``AsyncSession`` inside an outer transaction that is rolled back (savepoint mode)
``dbkata_ddl``  the schema; override it in a test module to use another one
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import AsyncIterator, Generator, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import psycopg
import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.pool import NullPool

from dbkata import feedback, relay, schema_guard
from dbkata.app.channel import AppUnavailable, Channel, InProcessChannel
from dbkata.app.codec import AppError
from dbkata.app.host import AppHost
from dbkata.app.launcher import AppLauncher, AppSandbox
from dbkata.catalog import MANIFEST
from dbkata.cluster import Cluster, Database
from dbkata.endpoint import ENV_URL
from dbkata.exercise import TRACKER, DatabaseUrlEnv, Exercise
from dbkata.infra import Infrastructure
from dbkata.progress import Progress
from dbkata.schema import exercise_ddl

_HELP_URL = "PostgreSQL server to use instead of the embedded one (also $DATABASE_URL); its role needs CREATEDB"
_HELP_KEEP = "leave the embedded PostgreSQL running after the run, so the next run attaches in milliseconds"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("dbkata", "dbkata database workbook")
    group.addoption("--dbkata-db-url", default=None, metavar="URL", help=_HELP_URL)
    group.addoption("--dbkata-keep-server", action="store_true", default=False, help=_HELP_KEEP)
    group.addoption(
        "--dbkata-app",
        choices=["inprocess", "subprocess"],
        default="inprocess",
        help="where the exercise's code runs: in the test process (fast, default) or in a separate app process "
        "(as when graded)",
    )
    group.addoption(
        "--dbkata-app-sandbox",
        default=None,
        metavar="FILE",
        help="JSON written by grade.py: run the exercise's code in its sandboxed app process (implies subprocess)",
    )
    group.addoption(
        "--dbkata-report",
        default=None,
        metavar="PATH",
        help="write a versioned JSON report of every test and check to PATH (used by grade.py)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "task(n): the README task (1, 2, ...) a test or check grades")
    config.addinivalue_line(
        "markers", "guard: the untouched starter passes it; failing it costs the task, passing it earns nothing"
    )
    # A leaked connection reclaimed by the garbage collector warns at a random later moment, in whatever
    # test is running then. The connections probe reports leaks deterministically; this would misattribute.
    config.addinivalue_line(
        "filterwarnings", "ignore:The garbage collector is trying to clean up:sqlalchemy.exc.SAWarning"
    )
    logging.getLogger("sqlalchemy.pool").addFilter(_drop_gc_reclaim_log)
    infra = Infrastructure(
        config.getoption("--dbkata-db-url"), keep_server=bool(config.getoption("--dbkata-keep-server"))
    )
    config.stash[_INFRA] = infra
    TRACKER.install()
    config.pluginmanager.register(Progress(config.rootpath), "dbkata-progress")
    report_path = config.getoption("--dbkata-report")
    if _local_student_run(config):
        from dbkata.lastrun import LastRun

        config.pluginmanager.register(LastRun(config.rootpath), "dbkata-lastrun")
    if report_path:
        from dbkata.report import JsonReport

        config.pluginmanager.register(JsonReport(Path(report_path), infra), "dbkata-report")


def _local_student_run(config: pytest.Config) -> bool:
    """A run inside the workbook with the code in this process and no grader report: keep `dbkata sql`'s record."""
    local = config.getoption("--dbkata-app") == "inprocess" and not config.getoption("--dbkata-app-sandbox")
    return local and not config.getoption("--dbkata-report") and (config.rootpath / MANIFEST).is_file()


def pytest_unconfigure(config: pytest.Config) -> None:
    infra = config.stash.get(_INFRA, None)
    if infra is not None:
        infra.shutdown()


def pytest_report_header(config: pytest.Config) -> str:
    return f"dbkata: {config.stash[_INFRA].describe()}"


def pytest_collection_finish(session: pytest.Session) -> None:
    # Hypothesis's pytest plugin imports all of hypothesis in its terminal summary, even when no test
    # uses it: ~0.75 s on every run here. Its other hooks do nothing unless hypothesis is imported, so
    # when no collected test imported it, the plugin has nothing left to do.
    if "hypothesis" not in sys.modules:
        plugin = session.config.pluginmanager.get_plugin("hypothesispytest")
        if plugin is not None:
            session.config.pluginmanager.unregister(plugin)


def pytest_runtest_setup(item: pytest.Item) -> None:
    feedback.set_current(feedback.context_of(item))


def pytest_runtest_teardown(item: pytest.Item) -> None:
    feedback.set_current(feedback.CheckContext())


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    """An exception of the code under test that escapes a test is shown as the student's error, not ours."""
    report = yield
    if call.when == "call" and report.passed and _SCHEMA in item.stash:
        _fail_if_schema_changed(item, report)
    error = call.excinfo.value if call.excinfo is not None else None
    if report.failed and isinstance(error, AppError | AppUnavailable):
        if isinstance(error, AppError):
            lines = [f"The code raised {error.headline()}", *(f"    {f}" for f in error.frames[-4:])]
            if error.cause:
                lines.append(f"  (caused by {error.cause.splitlines()[0][:200]})")
            title = f"{error.type_name} in the code under test"
        else:
            lines, title = [str(error)], "the code under test stopped answering"
        context = feedback.context_of(item)
        where = f"{item.nodeid.split('::', 1)[-1]}"
        report.longrepr = "\n".join([context.header(title), f"  In {where}:", *(f"  {line}" for line in lines)])
    return report


def _fail_if_schema_changed(item: pytest.Item, report: pytest.TestReport) -> None:
    """A passed call fails when the code under test renamed, replaced or rewrote a relation the harness reads."""
    database, before = item.stash[_SCHEMA]
    try:
        found = schema_guard.changes(before, schema_guard.fingerprint(database))
    except psycopg.Error:
        return  # the server is gone: the run's infrastructure check reports that, not this test
    if found:
        context = feedback.context_of(item)
        report.outcome = "failed"
        report.longrepr = "\n".join(
            [
                context.header("the code under test changed the tables the checks read"),
                *(f"  {line}." for line in found),
                "  The checks read these tables to decide, so the test fails whatever it saw. Expected: the "
                "code reads and writes rows, and leaves the schema it was given as it is.",
            ]
        )


_INFRA = pytest.StashKey[Infrastructure]()
_SCHEMA = pytest.StashKey[tuple[Database, schema_guard.Fingerprint]]()
_TEMPLATE_SCHEMAS: dict[tuple[str, int | None], schema_guard.Fingerprint] = {}  # (name, oid): relations as cloned


def _drop_gc_reclaim_log(record: logging.LogRecord) -> bool:
    """SQLAlchemy also logs the reclaim (at ERROR), in whichever test GC happens to run: drop it."""
    return not record.getMessage().startswith("The garbage collector is trying to clean up")


# -- fixtures ------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def dbkata_cluster(pytestconfig: pytest.Config) -> Cluster:
    """The session's admin access to the server (started on first use; infra errors end the run once)."""
    return pytestconfig.stash[_INFRA].cluster()


@pytest.fixture
def dbkata_ddl(request: pytest.FixtureRequest) -> list[str]:
    """The schema of the exercise the test belongs to (``models.py``); override to use another."""
    package = request.module.__package__
    return exercise_ddl(package) if package else []


@pytest.fixture
def dbkata_template(pytestconfig: pytest.Config, dbkata_ddl: list[str]) -> str:
    """The template database holding ``dbkata_ddl``, built once per schema and reused across runs."""
    return pytestconfig.stash[_INFRA].template(tuple(dbkata_ddl))


@pytest.fixture
def db(request: pytest.FixtureRequest, dbkata_cluster: Cluster, dbkata_template: str) -> Iterator[Database]:
    """A fresh database for this test only, cloned from the exercise's schema template."""
    template = (dbkata_template, dbkata_cluster.database_oid(dbkata_template))
    if template[1] is None:  # another run pruned it (it keeps its owner's newest templates): build it again
        request.config.stash[_INFRA].template(tuple(request.getfixturevalue("dbkata_ddl")), rebuild=True)
        template = (dbkata_template, dbkata_cluster.database_oid(dbkata_template))
    database = dbkata_cluster.clone(dbkata_template)
    # before any code under test runs: the test fails if its relations are tampered with (schema_guard).
    # A clone's relations are its template's, oids included, so the first clone's fingerprint serves all
    # clones of that template; a template another run pruned and rebuilt under its name is another one.
    known = _TEMPLATE_SCHEMAS.get(template)
    if known is None:
        known = schema_guard.fingerprint(database)
        if dbkata_cluster.database_oid(dbkata_template) == template[1]:  # not rebuilt while we cloned it
            _TEMPLATE_SCHEMAS[template] = known
    request.node.stash[_SCHEMA] = (database, known)
    yield database
    dbkata_cluster.drop(database.name)


def _short_base() -> str:
    """A folder with a short path, for unix sockets (their paths must stay under 108 bytes)."""
    return "/dev/shm" if os.access("/dev/shm", os.W_OK) else "/tmp"


def relay_folder() -> Path:
    """A fresh, short folder for a relay's socket (unix socket paths must stay under 108 bytes)."""
    folder = Path(tempfile.mkdtemp(prefix="dbkrl-", dir=_short_base()))
    folder.chmod(0o711)  # an app process running as another user may reach the socket, not list the folder
    return folder


@pytest.fixture
def dbkata_relay(pytestconfig: pytest.Config, db: Database) -> Iterator[relay.Relay]:
    """A relay to ``db`` for this test, listening in a fresh folder; the probes read it (``relay.current()``).

    With an app process, the folder is inside its rendezvous folder: the only way the code under test
    reaches the database is through this relay.
    """
    sandbox = _sandbox(pytestconfig)
    if sandbox is None:
        folder = relay_folder()
    else:
        folder = Path(tempfile.mkdtemp(prefix="r", dir=sandbox.rendezvous))
        folder.chmod(0o755)  # the rendezvous folder itself admits only the app's user
    wire = relay.Relay(db.admin, folder).start()
    relay.set_current(wire)
    try:
        yield wire
    finally:
        relay.set_current(None)
        wire.close()
        shutil.rmtree(folder, ignore_errors=True)


HARNESS_SEARCH_PATH = "public"  # pg_catalog, not named, is searched first


@pytest_asyncio.fixture
async def admin(db: Database) -> AsyncIterator[AsyncEngine]:
    """An independent harness engine on ``db`` (superuser where possible); probes never count it."""
    # search_path pinned: a session default the code under test set on its role or database (say, a schema
    # of its own before pg_catalog) must not change what the harness's queries read, pg_stat_activity included
    pinned = {"server_settings": {"search_path": HARNESS_SEARCH_PATH}}
    engine = create_async_engine(db.admin.sa_url(), poolclass=NullPool, connect_args=pinned)
    TRACKER.harness.add(engine.sync_engine)
    yield engine
    await engine.dispose()


def _sandbox_of(config: pytest.Config) -> AppSandbox | None:
    """The app process's settings: the grader's file, a plain subprocess, or None (in this process)."""
    path = config.getoption("--dbkata-app-sandbox")
    if path:
        return AppSandbox.from_json(json.loads(Path(path).read_text()))
    if config.getoption("--dbkata-app") == "subprocess":
        rendezvous = Path(tempfile.mkdtemp(prefix="dbkr-"))
        return AppSandbox(app_root=config.rootpath, rendezvous=rendezvous)
    return None


def _sandbox(config: pytest.Config) -> AppSandbox | None:
    """This run's app sandbox (decided once per run)."""
    if _SANDBOX not in config.stash:
        config.stash[_SANDBOX] = _sandbox_of(config)
    return config.stash[_SANDBOX]


_SANDBOX = pytest.StashKey[AppSandbox | None]()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def dbkata_app_launcher(pytestconfig: pytest.Config) -> AsyncIterator[AppLauncher | None]:
    """The app process of this run (started on first use), or None when the code runs in this process."""
    sandbox = _sandbox(pytestconfig)
    if sandbox is None:
        yield None
        return
    launcher = AppLauncher(sandbox)
    try:
        yield launcher
    finally:
        await launcher.stop()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def dbkata_worker_launcher(
    pytestconfig: pytest.Config, dbkata_app_launcher: AppLauncher | None
) -> AsyncIterator[AppLauncher]:
    """Where ``exercise.processes()`` starts its copies: the app process's zygote when graded; in a local
    run, a zygote of plain subprocesses (started on first use only)."""
    if dbkata_app_launcher is not None:
        yield dbkata_app_launcher
        return
    rendezvous = Path(tempfile.mkdtemp(prefix="dbkw-", dir=_short_base()))
    launcher = AppLauncher(AppSandbox(app_root=pytestconfig.rootpath, rendezvous=rendezvous))
    try:
        yield launcher
    finally:
        await launcher.stop()
        shutil.rmtree(rendezvous, ignore_errors=True)


async def _spawn_app(launcher: AppLauncher, package: str, url: str) -> Channel:
    """A fresh app process for ``package`` on ``url``, its app imported before it is handed out."""
    sandbox = launcher.sandbox
    channel = await launcher.spawn(package, sandbox.app_root.joinpath(*package.split(".")), {ENV_URL: url})
    await channel.request({"op": "warm"}, None, sandbox.call_timeout)
    return channel


@pytest_asyncio.fixture
async def exercise(
    request: pytest.FixtureRequest,
    db: Database,
    dbkata_relay: relay.Relay,
    dbkata_app_launcher: AppLauncher | None,
    dbkata_worker_launcher: AppLauncher,
) -> AsyncIterator[Exercise]:
    """The exercise's code with ``DATABASE_URL`` set to ``db`` through the relay: fresh for this test."""
    package = request.module.__package__ or ""
    folder = Path(request.path).parent
    exercise_id = feedback.exercise_id(Path(request.path))
    url = dbkata_relay.url(db.app)
    spawn = partial(_spawn_app, dbkata_worker_launcher, package, url)
    if dbkata_app_launcher is None:
        ex = Exercise(package, folder, exercise_id, InProcessChannel(AppHost(package, folder)), spawn=spawn)
        with DatabaseUrlEnv(url):
            ex.forget_modules()
            try:
                yield ex
            finally:
                await TRACKER.dispose_all()
                ex.forget_modules()
        return
    channel = await _spawn_app(dbkata_app_launcher, package, url)
    ex = Exercise(package, folder, exercise_id, channel, dbkata_app_launcher.sandbox.call_timeout, spawn=spawn)
    try:
        yield ex
    finally:
        await channel.close()


@pytest_asyncio.fixture
async def tx_session(pytestconfig: pytest.Config, dbkata_template: str) -> AsyncIterator[AsyncSession]:
    """A session whose work is rolled back after the test; the app's own commits become savepoints."""
    engine = await pytestconfig.stash[_INFRA].shared_engine(dbkata_template)
    async with engine.connect() as conn:
        outer = await conn.begin()
        session = AsyncSession(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False)
        try:
            yield session
        finally:
            await session.close()
            await outer.rollback()
