"""The embedded server survives what kills runs: kill -9 of a client, of the server, PID reuse."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psutil
import psycopg
import pytest

from dbkata.assemble import PYTEST_CONFIG
from dbkata.cluster import Cluster
from dbkata.endpoint import Endpoint
from dbkata.server import EmbeddedServer, ServerInfo

_HOLD = """
import sys, time
from pathlib import Path
from dbkata.server import EmbeddedServer
EmbeddedServer(Path(sys.argv[1])).acquire()
print("ready", flush=True)
time.sleep(120)
"""


@pytest.fixture
def home() -> Iterator[Path]:
    """A cluster directory of its own (tmpfs when there is room), removed afterwards."""
    base = Path("/dev/shm") if os.access("/dev/shm", os.W_OK) else Path(tempfile.gettempdir())
    path = Path(tempfile.mkdtemp(prefix="dbkata-test-", dir=base))
    yield path
    EmbeddedServer(path).reset()


def _hold_server(home: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", _HOLD, str(home)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    return proc


def _query(info: ServerInfo, sql: str) -> object:
    with psycopg.connect(
        host=info.socket_dir, port=info.port, user=info.superuser, password=info.password, dbname="postgres"
    ) as conn:
        row = conn.execute(sql).fetchone()
        return row[0] if row else None


def _postmaster(home: Path) -> int:
    return int((home / "pgdata" / "postmaster.pid").read_text().splitlines()[0])


def test_last_client_stops_the_server(home: Path) -> None:
    server = EmbeddedServer(home)
    info = server.acquire()
    assert _query(info, "show server_version_num") >= "180000"  # type: ignore[operator]
    assert _query(info, "show fsync") == "off"
    server.release()
    assert "stopped" in server.status()


def test_killed_client_does_not_keep_the_server_forever(home: Path) -> None:
    """K1: a client killed with -9 stays in the client list; the next run prunes it and stops the server."""
    holder = _hold_server(home)
    holder.kill()
    holder.wait()
    assert json.loads((home / "clients.json").read_text()) == [holder.pid]
    server = EmbeddedServer(home)
    server.acquire()
    assert json.loads((home / "clients.json").read_text()) == [os.getpid()]
    server.release()
    assert "stopped" in server.status()


def test_killed_server_is_recovered(home: Path) -> None:
    """K2: client and postmaster killed with -9; lock files name a dead (or zombie) process."""
    holder = _hold_server(home)
    postmaster = _postmaster(home)
    holder.kill()
    holder.wait()
    os.kill(postmaster, signal.SIGKILL)
    server = EmbeddedServer(home)
    info = server.acquire()  # crash recovery, no manual step
    assert _query(info, "select 1") == 1
    assert _postmaster(home) != postmaster
    server.release()


def test_reused_pid_in_lock_file_is_not_mistaken_for_the_server(home: Path) -> None:
    """K3: postmaster.pid names a live process that is not postgres (PID reuse after a crash)."""
    server = EmbeddedServer(home)
    server.acquire()
    server.release()
    decoy = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        lines = [str(decoy.pid), str(home / "pgdata"), "0", "5432", str(home / "run"), "", "0 0", "ready"]
        (home / "pgdata" / "postmaster.pid").write_text("\n".join(lines) + "\n")
        info = server.acquire()
        assert _query(info, "select 1") == 1
        assert psutil.Process(_postmaster(home)).name() == "postgres"
        server.release()
    finally:
        decoy.kill()
        decoy.wait()


def test_databases_of_killed_runs_are_dropped(home: Path) -> None:
    server = EmbeddedServer(home)
    info = server.acquire()
    try:
        cluster = Cluster(Endpoint(info.socket_dir, info.port, info.superuser, info.password, "postgres"))
        dead = subprocess.run(
            [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
        ).stdout.strip()
        cluster.conn().execute(f"create database dbk_{dead}_1")
        cluster.conn().execute(f"create database dbk_{os.getpid()}_999")
        assert cluster.drop_orphans() == [f"dbk_{dead}_1"]
        cluster.drop(f"dbk_{os.getpid()}_999")
        cluster.close()
    finally:
        server.release()


def test_password_is_required(home: Path) -> None:
    """A sandboxed process that can reach the socket still cannot log in as the superuser."""
    server = EmbeddedServer(home)
    info = server.acquire()
    try:
        with pytest.raises(psycopg.OperationalError, match="password"):
            psycopg.connect(host=info.socket_dir, port=info.port, user="postgres", dbname="postgres").close()
        assert oct((home / "secrets.json").stat().st_mode & 0o777) == "0o600"
    finally:
        server.release()


_SAMPLE = """
import pytest
from sqlalchemy import text
@pytest.mark.parametrize("i", range(3))
async def test_db(admin, i):
    async with admin.connect() as c:
        assert (await c.execute(text("select 1"))).scalar() == 1
"""


def _sample(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml(PYTEST_CONFIG)
    pytester.makepyfile(test_sample=_SAMPLE)


def test_unreachable_server_is_reported_once(pytester: pytest.Pytester) -> None:
    _sample(pytester)
    result = pytester.runpytest_subprocess("--dbkata-db-url=postgresql://u:p@127.0.0.1:1/postgres")
    assert result.ret == 4
    output = result.stdout.str() + result.stderr.str()
    assert output.count("dbkata could not use the PostgreSQL server") == 1
    assert "Remedies:" in output
    assert "Connection refused" in output
    assert " failed" not in output.splitlines()[-1]


def test_existing_server_with_createdb_role(pytester: pytest.Pytester, home: Path) -> None:
    """DATABASE_URL mode: a role with CREATEDB only (no superuser) is enough."""
    server = EmbeddedServer(home)
    info = server.acquire()
    try:
        with psycopg.connect(
            host=info.socket_dir,
            port=info.port,
            user=info.superuser,
            password=info.password,
            dbname="postgres",
            autocommit=True,
        ) as conn:
            conn.execute("create role learner login createdb password 'pw'")
        _sample(pytester)
        url = f"postgresql://learner:pw@/postgres?host={info.socket_dir}&port={info.port}"
        result = pytester.runpytest_subprocess(f"--dbkata-db-url={url}")
        result.assert_outcomes(passed=3)
        with psycopg.connect(
            host=info.socket_dir, port=info.port, user=info.superuser, password=info.password, dbname="postgres"
        ) as conn:
            left = conn.execute(
                "select count(*) from pg_database where datname like 'dbk\\_%' and datname not like 'dbk\\_tpl\\_%'"
            ).fetchone()
        assert left == (0,)
    finally:
        server.release()


def _reachable_by_others(path: Path) -> bool:
    real = path.resolve()
    return all(os.stat(p).st_mode & 0o005 == 0o005 for p in real.parents) and os.stat(real).st_mode & 0o001 != 0


@pytest.mark.skipif(
    os.geteuid() != 0,
    reason="needs root to switch to a normal user; run as one, the whole suite already exercises the normal-user path",
)
@pytest.mark.skipif(
    not _reachable_by_others(Path(sys.executable)),
    reason="this interpreter lives where a "
    "normal user cannot run it (e.g. under /root); .ci/run covers the normal user instead",
)
def test_normal_user_gets_its_own_working_server() -> None:
    # Everything the user touches lies under one folder every user can reach (pytest's own temp folders
    # for root are 0700, so the project cannot live there).
    base = Path(tempfile.mkdtemp(prefix="dbkata-nobody-", dir="/dev/shm" if os.access("/dev/shm", os.W_OK) else None))
    try:
        base.chmod(0o777)
        project = base / "project"
        project.mkdir(mode=0o777)
        project.chmod(0o777)
        (project / "pyproject.toml").write_text(PYTEST_CONFIG)
        (project / "test_sample.py").write_text(_SAMPLE)
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL",)}
        env.update(HOME=str(base), DBKATA_HOME=str(base / "cluster"))
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(project)],
            cwd=project,
            env=env,
            user="nobody",
            group="nogroup",
            extra_groups=[],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        assert "3 passed" in proc.stdout
        assert (base / "cluster" / "pgdata").stat().st_uid == 65534  # the server ran as that user, not a helper
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.parametrize("url", ["garbage", "mysql://me:secret@db/app"])
def test_unusable_url_is_a_usage_error_before_any_test(pytester: pytest.Pytester, url: str) -> None:
    _sample(pytester)
    result = pytester.runpytest_subprocess(f"--dbkata-db-url={url}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    errors = result.stderr.str()
    assert errors.count("is not usable") == 1
    assert "secret" not in errors
    assert "postgresql://USER:PASSWORD@HOST:PORT/DBNAME" in errors


def test_copied_binaries_find_their_shared_libraries(tmp_path: Path) -> None:
    """As root, the server runs from a copy; the copy must still find libpq & co. through its RPATH."""
    from dbkata.server import _bundled_package, copy_binaries

    bin_dir = copy_binaries(_bundled_package(), tmp_path / "pg")
    env = {k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"}
    proc = subprocess.run(
        [str(bin_dir / "initdb"), "--version"], capture_output=True, text=True, env=env, check=False, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert "initdb (PostgreSQL) 18" in proc.stdout


@pytest.mark.skipif(os.geteuid() != 0, reason="only root runs the server as another user (dbkata-pg)")
def test_root_with_dbkata_home_under_a_private_folder(tmp_path: Path) -> None:
    """DBKATA_HOME under a 0700 parent: the server's own files go where dbkata-pg can reach them."""
    private = Path(tempfile.mkdtemp(prefix="dbkata-private-", dir=tmp_path))
    private.chmod(0o700)
    server = EmbeddedServer(private / "cluster")
    try:
        info = server.acquire()
        assert _query(info, "select 1") == 1
        assert server.paths.runtime != server.paths.base
        assert "server files in" in server.status()
        assert oct(private.stat().st_mode & 0o777) == "0o700"  # never widened
        server.release()
        assert "stopped" in server.status()
    finally:
        server.reset()
    assert not server.paths.runtime.exists()
    assert not server.paths.base.exists()
