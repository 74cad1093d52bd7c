"""The sandbox is an allow-list: real subprocesses show what exists, what is writable and what survives.

Every test runs as root (namespaces made as root, code run as a slot user) and as a normal user
(an unprivileged user namespace); the ones that need root say so when skipped.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

import dbkata
from dbkata.catalog import load_catalog
from dbkata.grading import batch
from dbkata.grading.sandbox import Limits, Slot, isolation_available, isolation_problem, make_slots, python_paths
from tests.grading.conftest import WORKBOOK

ROOT = Path(__file__).resolve().parents[2]
LIMITS = Limits(timeout=60)
AS_ROOT = os.geteuid() == 0


@pytest.fixture(scope="module")
def slot() -> Iterator[Slot]:
    if not isolation_available():
        if os.environ.get("CI"):
            pytest.fail(f"the sandbox must work on CI, as root and as a normal user: {isolation_problem()}")
        pytest.skip(f"no namespaces on this machine: {isolation_problem()}")
    (found,) = make_slots(1)
    yield found
    found.kill_all()
    if found.lock is not None:
        found.lock.close()


@pytest.fixture
def base() -> Iterator[Path]:
    """A short folder (unix socket paths are limited to 108 bytes) that the test removes afterwards."""
    path = Path(tempfile.mkdtemp(prefix="dbk-sbx-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def run_dir(base: Path, slot: Slot) -> Path:
    """The run's own folder: given to the slot's user, bound read-write."""
    folder = base / "run"
    folder.mkdir()
    slot.give(folder)
    return folder


def command(slot: Slot, run_dir: Path, code: str, *, read_only: tuple[Path, ...] = (), **extra: Any) -> list[str]:
    """``python -c code`` in the sandbox, with ``run_dir`` (and ``extra["read_write"]``) writable."""
    read_write = [run_dir, *extra.get("read_write", ())]
    prefix = slot.prefix(LIMITS, read_only=read_only, read_write=read_write)
    return [*prefix, sys.executable, "-c", textwrap.dedent(code)]


def inside(slot: Slot, run_dir: Path, code: str, **extra: Any) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in the sandbox to completion; fail the test if it does not exit 0."""
    proc = subprocess.run(
        command(slot, run_dir, code, **extra),
        env=slot.env(run_dir, "postgresql://unused"),
        cwd=run_dir,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def test_only_the_allow_list_exists_inside(slot: Slot, run_dir: Path, base: Path) -> None:
    secret = base / "secret.txt"
    secret.write_text("the reference solution")
    other_slot = base / "slot1"
    other_slot.mkdir(mode=0o755)
    probe = [str(secret), str(other_slot), str(ROOT / ".git"), str(ROOT / "pyproject.toml"), "/home"]
    probe += [str(ROOT / "solutions"), str(ROOT / "checks"), str(ROOT / "tests"), str(Path(__file__))]
    code = f"""
        import json, os
        checkout = sorted(os.listdir({str(ROOT)!r})) if os.path.isdir({str(ROOT)!r}) else None
        print(json.dumps({{"present": [p for p in {probe!r} if os.path.lexists(p)], "checkout": checkout,
                           "run": os.path.isdir({str(run_dir)!r}), "root": sorted(os.listdir("/"))}}))
    """
    seen = json.loads(inside(slot, run_dir, code).stdout)
    assert seen["present"] == []
    assert seen["checkout"] == (["src"] if str(ROOT / "src") in python_paths() else None)  # an editable install
    assert seen["run"]
    system = {
        "bin",
        "dev",
        "etc",
        "lib",
        "lib32",
        "lib64",
        "libx32",
        "opt",
        "proc",
        "root",
        "sbin",
        "tmp",
        "usr",
        "var",
    }
    # beyond those, only the top folders the Python install or the dbkata source lives under (CI: /check, here /work)
    python_tops = {Path(p).parts[1] for p in python_paths() if len(Path(p).parts) > 1}
    assert set(seen["root"]) <= system | python_tops
    assert secret.read_text() == "the reference solution"


def test_nothing_outside_the_read_write_binds_is_writable(slot: Slot, run_dir: Path, base: Path) -> None:
    shared = base / "shared"
    shared.mkdir()
    shared.chmod(0o777)  # only the mount can stop a write here, not the permissions
    (shared / "data.txt").write_text("original")
    (shared / "data.txt").chmod(0o666)
    targets = [str(shared / "data.txt"), str(shared / "new.txt"), "/new.txt", "/usr/new.txt", "/etc/passwd"]
    targets += [os.path.join(sys.prefix, "new.txt"), os.path.join(os.path.dirname(dbkata.__file__), "new.py")]
    code = f"""
        import errno, json
        results = {{}}
        for path in {targets!r} + [{str(run_dir / "mine.txt")!r}, "/tmp/scratch.txt"]:
            try:
                with open(path, "a") as fh:
                    fh.write("written from inside")
                results[path] = "written"
            except OSError as exc:
                results[path] = errno.errorcode[exc.errno]
        print(json.dumps(results))
    """
    results = json.loads(inside(slot, run_dir, code, read_only=(shared,)).stdout)
    for target in targets:
        assert results[target] in ("EROFS", "EACCES", "ENOENT"), (target, results[target])
    assert results[str(shared / "data.txt")] == "EROFS"
    assert results[str(run_dir / "mine.txt")] == "written"
    assert results["/tmp/scratch.txt"] == "written"
    assert (shared / "data.txt").read_text() == "original"
    assert sorted(p.name for p in shared.iterdir()) == ["data.txt"]
    assert not os.path.exists(os.path.join(sys.prefix, "new.txt"))
    assert (run_dir / "mine.txt").read_text() == "written from inside"


def test_proc_shows_only_the_sandboxs_processes(slot: Slot, run_dir: Path) -> None:
    code = """
        import json, os
        pids = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
        print(json.dumps({"pids": pids, "me": os.getpid()}))
    """
    proc = subprocess.Popen(command(slot, run_dir, code), cwd=run_dir, stdout=subprocess.PIPE, text=True)
    out, _ = proc.communicate(timeout=120)
    seen = json.loads(out)
    assert seen["pids"] == [1, seen["me"]]  # the sandbox's init and this process
    assert seen["me"] == proc.pid  # the outer process's pid: unique on the host while the sandbox lives


def test_no_tcp_connection_reaches_a_listener_outside(slot: Slot, run_dir: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        code = f"""
            import socket
            try:
                socket.create_connection(("127.0.0.1", {port}), timeout=5).close()
                print("connected")
            except OSError as exc:
                print(type(exc).__name__)
        """
        assert inside(slot, run_dir, code).stdout.strip() == "ConnectionRefusedError"
        listener.setblocking(False)
        with pytest.raises(BlockingIOError):
            listener.accept()  # nothing ever arrived


DAEMON = """
    import os, sys, time
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(600)", {marker!r}])
        os._exit(0)
    os.wait()
    print("daemon started", flush=True)
    while not os.path.exists({until!r}):
        time.sleep(0.05)
"""


def _marked(marker: str) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter():
        try:
            if marker in proc.cmdline() and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
        except psutil.Error:
            continue
    return found


def _wait_for(condition: Any, what: str, timeout: float = 60) -> None:
    """A generous safety net: ``condition`` is polled until true; the test fails after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting: {what}"
        time.sleep(0.05)


def _start_daemon(slot: Slot, run_dir: Path, marker: str) -> subprocess.Popen[str]:
    code = DAEMON.format(marker=marker, until=str(run_dir / "stop"))
    proc = subprocess.Popen(
        command(slot, run_dir, code),
        env=slot.env(run_dir, "postgresql://unused"),
        cwd=run_dir,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    _wait_for(lambda: _marked(marker), "the double-forked sleeper to appear outside")
    return proc


def test_a_double_forked_daemon_dies_when_the_command_ends(slot: Slot, run_dir: Path) -> None:
    marker = f"dbkata-daemon-{os.getpid()}-{time.monotonic_ns()}"
    proc = _start_daemon(slot, run_dir, marker)
    (daemon,) = _marked(marker)
    assert daemon.ppid() != proc.pid  # it left its parent: only the namespace still holds it
    (run_dir / "stop").touch()
    out, _ = proc.communicate(timeout=60)
    assert (proc.returncode, out) == (0, "daemon started\n")
    _wait_for(lambda: not _marked(marker), "the sleeper to be gone after the command ended", timeout=10)


def test_killing_the_outer_process_kills_everything_inside(slot: Slot, run_dir: Path) -> None:
    marker = f"dbkata-daemon-{os.getpid()}-{time.monotonic_ns()}"
    proc = _start_daemon(slot, run_dir, marker)
    os.kill(proc.pid, signal.SIGKILL)  # the outer process only, as the grader's timeout does
    proc.wait(timeout=60)
    _wait_for(lambda: not _marked(marker), "the sleeper to die with the sandbox's outer process", timeout=30)
    assert proc.stdout is not None
    proc.stdout.close()


def test_a_unix_socket_served_outside_is_reachable_inside(slot: Slot, run_dir: Path, base: Path) -> None:
    rendezvous = base / "rv"
    rendezvous.mkdir()
    slot.give(rendezvous)
    path = rendezvous / "harness.sock"
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(path))
    path.chmod(0o666)  # the slot's user connects
    server.listen()
    replies: list[bytes] = []

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            replies.append(conn.recv(100))
            conn.sendall(b"pong")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    code = f"""
        import socket
        with socket.socket(socket.AF_UNIX) as s:
            s.connect({str(path)!r})
            s.sendall(b"ping")
            print(s.recv(100).decode())
    """
    try:
        assert inside(slot, run_dir, code, read_write=(rendezvous,)).stdout.strip() == "pong"
        thread.join(timeout=60)
        assert replies == [b"ping"]
    finally:
        server.close()


def test_a_unix_socket_served_inside_is_reachable_outside(slot: Slot, run_dir: Path, base: Path) -> None:
    rendezvous = base / "rv"
    rendezvous.mkdir()
    slot.give(rendezvous)
    path = rendezvous / "app.sock"
    code = f"""
        import socket
        with socket.socket(socket.AF_UNIX) as s:
            s.bind({str(path)!r})
            s.listen()
            conn, _ = s.accept()
            conn.sendall(b"hello from the app: " + conn.recv(100))
    """
    proc = subprocess.Popen(
        command(slot, run_dir, code, read_write=(rendezvous,)),
        env=slot.env(run_dir, "postgresql://unused"),
        cwd=run_dir,
    )
    try:
        _wait_for(path.exists, "the app's socket to appear")
        with socket.socket(socket.AF_UNIX) as client:
            client.connect(str(path))
            client.sendall(b"harness")
            assert client.recv(100) == b"hello from the app: harness"
        assert proc.wait(timeout=60) == 0
    finally:
        proc.kill()
        proc.wait()


def test_python_and_the_exercise_stack_import_inside(slot: Slot, run_dir: Path) -> None:
    code = """
        import json, sys
        import asyncpg, dbkata, fastapi, psycopg, pytest, sqlalchemy
        print(json.dumps({"dbkata": dbkata.__file__, "prefix": sys.prefix, "sqlalchemy": sqlalchemy.__version__}))
    """
    import sqlalchemy

    seen = json.loads(inside(slot, run_dir, code).stdout)
    assert seen == {"dbkata": dbkata.__file__, "prefix": sys.prefix, "sqlalchemy": sqlalchemy.__version__}


def test_the_python_paths_are_those_of_a_clean_interpreter() -> None:
    paths = python_paths()
    assert os.path.realpath(sys.prefix) in paths
    assert os.path.realpath(os.path.dirname(os.path.dirname(dbkata.__file__))) in paths
    assert str(ROOT) not in paths  # pytest puts the checkout on sys.path; the sandbox must not expose it


@pytest.mark.skipif(not AS_ROOT, reason="only root can run the code as another user")
def test_as_root_the_code_runs_as_the_slot_user(slot: Slot, run_dir: Path) -> None:
    code = "import json, os; print(json.dumps([os.getuid(), os.geteuid(), os.getgid(), os.getgroups()]))"
    assert json.loads(inside(slot, run_dir, code).stdout) == [slot.uid, slot.uid, slot.gid, []]
    assert slot.uid not in (None, 0)


@pytest.mark.skipif(AS_ROOT, reason="as root the code runs as a slot user (tested above)")
def test_as_a_normal_user_the_code_runs_as_that_user(slot: Slot, run_dir: Path) -> None:
    code = "import json, os; print(json.dumps([os.getuid(), os.getgid()]))"
    assert json.loads(inside(slot, run_dir, code).stdout) == [os.getuid(), os.getgid()]


def test_the_limits_bind_inside(slot: Slot, run_dir: Path) -> None:
    code = "from resource import *; print(getrlimit(RLIMIT_AS)[0], getrlimit(RLIMIT_FSIZE)[1])"
    assert inside(slot, run_dir, code).stdout.split() == [str(LIMITS.memory_mb << 20), str(LIMITS.file_size_mb << 20)]
    assert resource.getrlimit(resource.RLIMIT_AS)[0] != LIMITS.memory_mb << 20  # not the grader's own


def test_the_exit_status_and_a_killing_signal_come_back(slot: Slot, run_dir: Path) -> None:
    env = slot.env(run_dir, "postgresql://unused")
    exits = subprocess.run(command(slot, run_dir, "raise SystemExit(3)"), env=env, cwd=run_dir, timeout=120)
    killed = subprocess.run(
        command(slot, run_dir, "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"), env=env, timeout=120
    )
    assert (exits.returncode, killed.returncode) == (3, -signal.SIGKILL)


def test_a_missing_bind_is_a_clear_setup_failure(slot: Slot, run_dir: Path, base: Path) -> None:
    missing = base / "not-there"
    proc = subprocess.run(
        command(slot, run_dir, "print('ran')", read_write=(missing,)),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert (proc.returncode, proc.stdout) == (125, "")
    assert f"confine: {missing} (listed for the sandbox) does not exist" in proc.stderr


def test_grading_refuses_untrusted_code_where_nothing_isolates(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(batch, "isolation_available", lambda: False)
    monkeypatch.setattr(batch, "isolation_problem", lambda: "unshare: Operation not permitted")
    catalog = load_catalog(WORKBOOK)
    (tmp_path / "subs").mkdir()
    options = batch.BatchOptions(tmp_path / "subs", tmp_path / "out")
    with pytest.raises(ValueError, match=r"\(unshare: Operation not permitted\).*needs --trust-submissions"):
        batch.grade_batch(catalog, options)
    assert not (tmp_path / "out").exists()
    trusted = batch.BatchOptions(
        tmp_path / "subs", tmp_path / "out", settings=batch.RunSettings(trust_submissions=True)
    )
    batch.grade_batch(catalog, trusted)
    info = json.loads((tmp_path / "out" / "batch.json").read_text())
    assert info["settings"]["isolation"] == "submissions were trusted: not isolated"
    assert json.loads((tmp_path / "out" / "results.json").read_text())["settings"] == info["settings"]
