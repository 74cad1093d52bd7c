"""The Slurm recipe of docs/instructor.md, run for real on a one-node cluster made from Debian's packages.

As root, the test installs ``slurm-wlm`` and ``munge`` with apt-get if they are missing, starts munged,
slurmctld and slurmd with every file in a temporary folder, submits ``examples/slurm/submit.sh`` (the
files the docs show; only the workbook's and the venv's paths are made this machine's) over a class of
9 students in 4 shards, and compares the merged folder with one grade.py run over the same class. A
second class run has a task cancelled mid-run, then run again as the docs say. The cluster is torn down
afterwards, and the teardown fails the test if anything it started still runs.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

from dbkata.grading.collect import in_shard
from dbkata.grading.sandbox import isolation_available
from tests.grading.conftest import ROOT, SOLVED_ECHO, WORKBOOK, grade_cmd, outputs, run_grade, submit
from tests.grading.test_batch import BUGGY_ECHO

RECIPE = ROOT / "examples" / "slurm"
DOCS = ROOT / "docs" / "instructor.md"
TALLY = WORKBOOK / "solutions" / "level2" / "ex01_tally"
# Two students per shard; shard 1 also holds s27, who did both exercises: its task runs longest.
CLASS: dict[str, dict[str, str]] = {
    **{s: {"level2/ex02_echo/echo.py": SOLVED_ECHO} for s in ("s00", "s01", "s03", "s09")},
    **{s: {"level2/ex02_echo/echo.py": BUGGY_ECHO} for s in ("s02", "s04", "s05", "s10")},
    "s27": {
        "level2/ex01_tally/tally.py": (TALLY / "tally.py").read_text(),
        "level2/ex01_tally/test_mine.py": (TALLY / "test_mine.py").read_text(),
        "level2/ex02_echo/echo.py": SOLVED_ECHO,
    },
}
SHARDS = {1: ["s09", "s10", "s27"], 2: ["s03", "s04"], 3: ["s00", "s02"], 4: ["s01", "s05"]}
TASKS = range(1, len(SHARDS) + 1)
OPTIONS = ("--timeout", "60")
DAEMONS = ("munged", "slurmctld", "slurmd")
CLIENTS = ("sbatch", "scontrol", "squeue", "scancel", "sinfo")
SBIN_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
FINAL = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "BOOT_FAIL", "DEADLINE"}
PATIENCE = 900.0  # seconds an array and its merge may take on a loaded machine before the test gives up


def _until(ready: Callable[[], object], what: str, timeout: float = PATIENCE, every: float = 0.2) -> None:
    """Poll ``ready`` every ``every`` seconds until it is true; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not ready():
        assert time.monotonic() < deadline, f"gave up after {timeout:.0f} s waiting for {what}"
        time.sleep(every)  # waiting for an event (a file, a job state), not timing anything


def _daemon_pids() -> set[int]:
    return {p.pid for p in psutil.process_iter(["name"]) if p.info["name"] in DAEMONS}


def _install_or_skip() -> None:
    """Install Debian's slurm-wlm and munge unless they are there; skip where that cannot be done."""
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        pytest.skip("the Slurm recipe runs on a one-node cluster that only root can start here (CI runs as root)")
    if sys.prefix == sys.base_prefix:
        pytest.skip("the recipe activates the venv dbkata is installed in: run the tests from that venv")
    if all(shutil.which(p, path=SBIN_PATH) for p in (*DAEMONS, *CLIENTS)):
        return
    apt = shutil.which("apt-get", path=SBIN_PATH)
    if apt is None:
        pytest.skip("Slurm is not installed, and there is no apt-get to install Debian's slurm-wlm and munge")
    before = _daemon_pids()
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    lock = ["-o", "DPkg::Lock::Timeout=300"]  # another developer's apt-get may hold the lock for a while
    for args in (["update", "-qq"], ["install", "-y", "-qq", "--no-install-recommends", "slurm-wlm", "munge"]):
        proc = subprocess.run([apt, *lock, *args], env=env, capture_output=True, text=True, timeout=900, check=False)
        if proc.returncode != 0:
            pytest.skip(f"`apt-get {' '.join(args)}` failed, so Slurm cannot be installed here: {proc.stderr[-800:]}")
    for pid in _daemon_pids() - before:  # started by a package's init script where no policy-rc.d stops it
        with contextlib.suppress(psutil.Error):
            psutil.Process(pid).terminate()


def _free_ports(count: int) -> list[int]:
    with contextlib.ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in socks]


def _slurm_conf(home: Path, node: str) -> str:
    """This host as the only node (its `slurmd -C` line), reached on 127.0.0.1, every file under ``home``."""
    name = re.search(r"NodeName=(\S+)", node)
    assert name, node
    ctld, slurmd = _free_ports(2)
    settings = {
        "ClusterName": "dbkata",
        "SlurmctldHost": f"{name[1]}(127.0.0.1)",
        "SlurmctldPort": ctld,
        "SlurmdPort": slurmd,
        "SlurmUser": "root",
        "AuthType": "auth/munge",
        "CredType": "cred/munge",
        # cred_expire also delays a requeued task's new start (by 120 s unless set).
        "AuthInfo": f"socket={home}/run/munge.socket,cred_expire=10",
        "StateSaveLocation": home / "state",
        "SlurmdSpoolDir": home / "spool",
        "SlurmctldPidFile": home / "slurmctld.pid",
        "SlurmdPidFile": home / "slurmd.pid",
        "SlurmctldLogFile": home / "log" / "slurmctld.log",
        "SlurmdLogFile": home / "log" / "slurmd.log",
        "ProctrackType": "proctrack/linuxproc",
        "TaskPlugin": "task/none",
        "JobAcctGatherType": "jobacct_gather/none",
        "AccountingStorageType": "accounting_storage/none",
        "MpiDefault": "none",
        "SelectType": "select/cons_tres",
        "SelectTypeParameters": "CR_Core_Memory",
        "ReturnToService": 2,
        "MinJobAge": 3600,  # finished jobs stay visible to scontrol until the test has read them
    }
    lines = [f"{key}={value}" for key, value in settings.items()]
    lines += [f"{node} NodeAddr=127.0.0.1 State=UNKNOWN", f"PartitionName=main Nodes={name[1]} Default=YES State=UP"]
    return "\n".join(lines) + "\n"


class Cluster:
    """A one-node Slurm cluster whose every file lies in ``home``; every process it starts carries its SLURM_CONF."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.conf = home / "slurm.conf"
        self.env = {"PATH": SBIN_PATH, "HOME": str(home), "LANG": "C.UTF-8", "SLURM_CONF": str(self.conf)}

    def run(self, *cmd: str | Path, cwd: Path | None = None) -> str:
        """Run a command against this cluster; fail the test with its output if it does not exit 0."""
        proc = subprocess.run(
            [str(c) for c in cmd], env=self.env, cwd=cwd, capture_output=True, text=True, timeout=120, check=False
        )
        assert proc.returncode == 0, f"{' '.join(map(str, cmd))}: {proc.stdout}{proc.stderr}{self.logs()}"
        return proc.stdout.strip()

    def start(self) -> None:
        """munged, slurmctld and slurmd in the background; skip if the node never becomes idle."""
        node = self.run("slurmd", "-C").splitlines()[0]
        cpus = re.search(r"CPUs=(\d+)", node)
        if not cpus or int(cpus[1]) < 2:
            pytest.skip(f"the recipe asks for 2 CPUs per task; `slurmd -C` found: {node}")
        for sub, mode in (("munge", 0o700), ("run", 0o755), ("log", 0o755), ("state", 0o700), ("spool", 0o700)):
            (self.home / sub).mkdir(mode=mode)
        key = self.home / "munge" / "munge.key"
        key.write_bytes(os.urandom(128))
        key.chmod(0o600)
        self.conf.write_text(_slurm_conf(self.home, node))
        munge = [f"--{k}={self.home / v}" for k, v in (("key-file", "munge/munge.key"), ("socket", "run/munge.socket"))]
        munge += [f"--{k}={self.home / 'run' / v}" for k, v in (("pid-file", "munged.pid"), ("seed-file", "seed"))]
        self.daemon("munged", *munge, f"--log-file={self.home / 'log' / 'munged.log'}")
        self.daemon("slurmctld", "-f", self.conf)
        self.daemon("slurmd", "-f", self.conf)
        deadline = time.monotonic() + 120
        while self.run("sinfo", "--noheader", "--format=%t") != "idle":
            if time.monotonic() > deadline:
                pytest.skip(f"Slurm started but its node never became idle:{self.logs()}")
            time.sleep(0.5)

    def daemon(self, *cmd: str | Path) -> None:
        """Start a daemon (it forks and returns); skip with what it said if it does not start."""
        with tempfile.TemporaryFile("w+") as out:  # a file, not a pipe: the daemon may keep it open
            proc = subprocess.run(
                [str(c) for c in cmd], env=self.env, stdin=subprocess.DEVNULL, stdout=out, stderr=out, timeout=60
            )
            out.seek(0)
            if proc.returncode != 0:
                pytest.skip(
                    f"Slurm cannot be started here: {cmd[0]} exited {proc.returncode}: {out.read()}{self.logs()}"
                )

    def jobs(self, job: str) -> dict[str, dict[str, str]]:
        """scontrol's record of a job (of an array: of each task), by job id or ARRAY_TASK."""
        found = {}
        for line in self.run("scontrol", "show", "job", "--oneliner", job).splitlines():
            rec = dict(re.findall(r"(?:^|\s)(\w+)=(\S*)", line))
            found[f"{rec['ArrayJobId']}_{rec['ArrayTaskId']}" if "ArrayTaskId" in rec else rec["JobId"]] = rec
        return found

    def wait(self, array: str, merge: str) -> dict[str, dict[str, str]]:
        """Wait until the merge job has ended (it starts once every task succeeded); all their records."""
        jobs: dict[str, dict[str, str]] = {}

        def merge_ended() -> bool:
            jobs.update({**self.jobs(array), **self.jobs(merge)})
            assert jobs[merge]["Reason"] != "DependencyNeverSatisfied", f"the merge will never start:{self.logs()}"
            return jobs[merge]["JobState"] in FINAL

        _until(merge_ended, f"job {merge}, the merge", every=2)  # scontrol asks slurmctld: not too often
        return jobs

    def logs(self) -> str:
        """The daemons' and the jobs' logs, for a failure message."""
        files = [*sorted((self.home / "log").glob("*.log")), *sorted(self.home.glob("work/*/*.log"))]
        return "".join(f"\n--- {f}:\n" + "\n".join(f.read_text(errors="replace").splitlines()[-30:]) for f in files)

    def stop(self) -> None:
        """Cancel every job, stop the daemons, and fail if anything this cluster started still runs."""
        if (self.home / "slurmctld.pid").exists():
            with contextlib.suppress(AssertionError, subprocess.SubprocessError):
                self.run("scancel", "--user=root")
                _until(lambda: not self.run("squeue", "--noheader"), "the cancelled jobs to end", timeout=120)
                self.run("scontrol", "shutdown")
        munged = self.home / "run" / "munged.pid"
        if munged.exists():
            with contextlib.suppress(psutil.Error, ValueError):
                psutil.Process(int(munged.read_text())).terminate()
        with contextlib.suppress(AssertionError):
            _until(lambda: not self.processes(), "every process of the cluster to end", timeout=60)
        left = self.processes()
        for proc in left:
            with contextlib.suppress(psutil.Error):
                proc.kill()
        shutil.rmtree(self.home, ignore_errors=True)
        assert not left, f"still running after the teardown (now killed): {[p.info['cmdline'] for p in left]}"

    def processes(self) -> list[psutil.Process]:
        """Every live process this cluster started: daemons, job steps, graders, their PostgreSQL servers."""
        mine = []
        for proc in psutil.process_iter(["cmdline", "environ", "status"]):
            environ, cmdline = proc.info["environ"] or {}, " ".join(proc.info["cmdline"] or [])
            if proc.info["status"] != psutil.STATUS_ZOMBIE and (
                environ.get("SLURM_CONF") == str(self.conf) or str(self.home) in cmdline
            ):
                mine.append(proc)
        return mine


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """A one-node cluster for this module's tests, torn down after them."""
    _install_or_skip()
    home = Path(tempfile.mkdtemp(prefix="dbkata-slurm-"))
    home.chmod(0o755)  # munged wants every user to reach its socket folder
    slurm = Cluster(home)
    try:
        slurm.start()
        yield slurm
    finally:
        slurm.stop()


@pytest.fixture(scope="module")
def graded_once(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The class, and its outputs from one grade.py run."""
    assert {k: [s for s in CLASS if in_shard(s, (k, len(SHARDS)))] for k in SHARDS} == SHARDS
    base = tmp_path_factory.mktemp("slurm-class")
    for student, files in CLASS.items():
        submit(base / "submissions", student, files)
    run_grade(base / "submissions", "--out", base / "single", "--jobs", "2", *OPTIONS, timeout=900)
    return base / "submissions", base / "single"


def _submit(cluster: Cluster, subs: Path) -> tuple[Path, str, str]:
    """examples/slurm/submit.sh on the class, from a new folder; that folder, the array's and the merge's ids."""
    work = cluster.home / "work" / str(len(list(cluster.home.glob("work/*"))))
    work.mkdir(parents=True)
    for script in RECIPE.glob("*.sh"):
        text = script.read_text().replace("/shared/dbkata/.venv", sys.prefix).replace("/shared/dbkata", str(ROOT))
        (work / script.name).write_text(text)
    options = grade_cmd()[2:]  # the fixture workbook, and --trust-submissions where nothing can isolate
    array, merge = cluster.run("bash", work / "submit.sh", subs, work / "grades", *OPTIONS, *options, cwd=work).split()
    return work, array, merge


def _assert_all_completed(jobs: dict[str, dict[str, str]], array: str, merge: str) -> None:
    ids = [*(f"{array}_{k}" for k in TASKS), merge]
    assert {i: (jobs[i]["JobState"], jobs[i]["ExitCode"]) for i in ids} == dict.fromkeys(ids, ("COMPLETED", "0:0"))


@pytest.mark.slow
def test_the_array_and_its_merge_give_the_outputs_of_one_grade_py_run(
    cluster: Cluster, graded_once: tuple[Path, Path]
) -> None:
    subs, single = graded_once
    work, array, merge = _submit(cluster, subs)
    _assert_all_completed(cluster.wait(array, merge), array, merge)
    assert outputs(work / "grades") == outputs(single)
    isolation = "sandboxed: namespaces, allow-list" if isolation_available() else "submissions were trusted"
    assert isolation in (work / "grades" / "batch.json").read_text()  # the sandbox works under slurmd too


@pytest.mark.slow
def test_a_task_cancelled_mid_run_then_requeued_resumes_and_the_merge_is_unchanged(
    cluster: Cluster, graded_once: tuple[Path, Path]
) -> None:
    subs, single = graded_once
    work, array, merge = _submit(cluster, subs)
    task, records = f"{array}_1", work / "grades-1" / "records"
    _until(lambda: list(records.glob("*.json")), f"task {task} to write its first student's record")
    cluster.run("scancel", task)
    _until(lambda: cluster.jobs(task)[task]["JobState"] == "CANCELLED", f"task {task} to be cancelled", every=1)
    left = len(SHARDS[1]) - len(list(records.glob("*.json")))
    assert 1 <= left < len(SHARDS[1]), "the cancel should land mid-run"
    # What docs/instructor.md says to do: run the task again, and make the merge wait for every task again.
    cluster.run("scontrol", "requeue", task)
    cluster.run("scontrol", "update", f"JobId={merge}", "Dependency=afterok:" + ":".join(f"{array}_{k}" for k in TASKS))
    jobs = cluster.wait(array, merge)
    _assert_all_completed(jobs, array, merge)
    assert jobs[task]["Restarts"] == "1"
    log = (work / f"dbkata-grade-{task}.log").read_text()
    assert "CANCELLED AT" in log  # --open-mode=append kept the first run's log
    assert f"graded {left} of {left} student(s)" in log  # the second run graded only what was left
    assert outputs(work / "grades") == outputs(single)


def test_the_docs_show_the_recipe_the_test_runs() -> None:
    docs = DOCS.read_text()
    assert f"```bash\n{(RECIPE / 'grade-array.sh').read_text()}```" in docs
    for script in ("submit.sh", "merge.sh"):
        assert f"(../examples/slurm/{script})" in docs
    assert "scontrol requeue 1234_1" in docs
    assert "Dependency=afterok:1234_1:1234_2:1234_3:1234_4" in docs
