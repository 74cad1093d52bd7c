"""Start a command in a sandbox built from an allow-list; run as ``python -I -S confine.py SETTINGS -- CMD...``.

Standard library only, imported by nothing at run time, so it starts in milliseconds. With
``"isolate"`` set (``"root"``: namespaces made as root; ``"user"``: inside an unprivileged user
namespace that maps the caller's uid and gid to themselves), the command gets:

* a new mount namespace whose root is an empty, read-only tmpfs holding only what is listed: the
  system folders (:data:`SYSTEM`), a few files of /etc (:data:`ETC`), the caller's ``read_only`` paths
  (the Python installation, ...) bound read-only, its ``read_write`` paths bound read-write, each at
  its own path; symlinks on the way to a listed path are recreated, so the literal path works too;
* a fresh /proc of a new PID namespace (only the sandbox's processes), a /dev with null, zero, full,
  random, urandom and the fd links, and private size-limited tmpfs on /tmp, /var/tmp and /dev/shm;
* with ``"no_network"``, a new network namespace with only loopback (unix sockets in bound folders
  still work), and a new IPC namespace;
* ``nosuid`` and ``nodev`` on every bind, ``no_new_privs``, the rlimits, umask 077, then (as root)
  the slot's uid and gid with no supplementary groups; the working directory is kept if it is visible.

Listed paths are resolved (symlinks followed) by the init with its privileges, before any code runs
inside: they must be paths the confined code could not have changed earlier (fresh run folders).

Processes: this process (outside) forks an init (pid 1 inside) that dies with it (``PDEATHSIG``), and
the init forks the command. When the command exits, the init exits with it and the kernel kills
every process left in the namespace; when this process is killed (SIGKILL from the grader), the init
gets SIGKILL and the same happens. The command's exit status (or its signal) becomes this process's.

``pivot_root`` twice (as bubblewrap does): first onto a scratch tmpfs so the old tree stays reachable
under /oldroot while the new root is built, then onto the new root, after which the old tree is
detached and unreachable (a ``chroot`` could be escaped by a process with mount rights in a nested
user namespace). Without ``"isolate"`` only the limits and the user change apply.
"""

from __future__ import annotations

import _socket  # the C module (``socket`` imports enum and more); imported now: the stdlib goes away
import ctypes
import fcntl
import json
import os
import resource
import signal
import struct
import sys

SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
ETC = tuple(
    "/etc/" + name
    for name in (
        *("passwd", "group", "nsswitch.conf", "hosts", "host.conf", "ld.so.cache", "ld.so.conf", "ld.so.conf.d"),
        *("localtime", "timezone", "ssl", "ca-certificates", "ca-certificates.conf", "alternatives"),
        *("mime.types", "os-release"),
    )
)
DEVICES = ("null", "zero", "full", "random", "urandom")
DEV_LINKS = {"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1"}
DEV_LINKS["stderr"] = "/proc/self/fd/2"
TMPFS = {"/tmp": "mode=1777,size=256m", "/var/tmp": "mode=1777,size=64m", "/dev/shm": "mode=1777,size=64m"}

_CLONE_NEWNS, _CLONE_NEWIPC, _CLONE_NEWUSER = 0x00020000, 0x08000000, 0x10000000
_CLONE_NEWPID, _CLONE_NEWNET = 0x20000000, 0x40000000
_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_NOEXEC, _MS_REMOUNT = 1, 2, 4, 8, 32
_MS_NOATIME, _MS_NODIRATIME, _MS_BIND, _MS_REC = 1024, 2048, 4096, 16384
_MS_PRIVATE, _MS_RELATIME, _MS_STRICTATIME = 1 << 18, 1 << 21, 1 << 24
_MNT_DETACH = 2
_PR_SET_PDEATHSIG, _PR_SET_DUMPABLE, _PR_SET_NO_NEW_PRIVS = 1, 4, 38
_SIOCGIFFLAGS, _SIOCSIFFLAGS, _IFF_UP = 0x8913, 0x8914, 1
_SETUP_FAILED = 125
_SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "riscv64": 41, "ppc64le": 203, "s390x": 217}
_LIMITS = {
    "memory": resource.RLIMIT_AS,
    "processes": resource.RLIMIT_NPROC,
    "file_size": resource.RLIMIT_FSIZE,
    "open_files": resource.RLIMIT_NOFILE,
    "cpu_seconds": resource.RLIMIT_CPU,
    "core": resource.RLIMIT_CORE,
}
_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    def enc(s: str | None) -> bytes | None:
        return None if s is None else s.encode()

    _check(_libc.mount(enc(source), enc(target), enc(fstype), flags, enc(data)), f"mount {target}")


def _pivot_root(new: str, old: str) -> None:
    number = _SYS_PIVOT_ROOT.get(os.uname().machine)
    if number is None:
        raise OSError(f"pivot_root: no system call number known for {os.uname().machine}")
    _check(_libc.syscall(number, new.encode(), old.encode()), "pivot_root")


def _write(path: str, text: str) -> None:
    with open(path, "w") as fh:
        fh.write(text)


# ---- the plan: what goes where, worked out while the host's tree is still the root -----------------


def _plan(settings: dict[str, object]) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The mounts (target, kind: ro/rw/tmpfs/proc/dev) in order, and the symlinks (where, text) to recreate."""
    wanted: list[tuple[str, str, bool]] = [(p, "ro", False) for p in (*SYSTEM, *ETC)]
    wanted += [(str(p), "ro", True) for p in _list(settings, "read_only")]
    wanted += [(str(p), "rw", True) for p in _list(settings, "read_write")]
    mounts: dict[str, str] = {"/dev": "dev", "/proc": "proc", **{p: "tmpfs" for p in TMPFS}}
    links: list[tuple[str, str]] = []
    for path, kind, required in wanted:
        path = os.path.abspath(path)
        if not os.path.lexists(path):
            if required:
                raise FileNotFoundError(f"{path} (listed for the sandbox) does not exist")
            continue
        real = os.path.realpath(path)
        links += _links(path)
        if os.path.exists(real) and not _covered(real, kind, mounts):
            mounts[real] = kind
    ordered = sorted(mounts.items(), key=lambda m: (m[0].count("/") - (m[0] == "/"), m[1] not in ("tmpfs", "dev")))
    return ordered, links


def _list(settings: dict[str, object], key: str) -> list[object]:
    value = settings.get(key) or []
    assert isinstance(value, list), key
    return value


def _covered(path: str, kind: str, mounts: dict[str, str]) -> bool:
    """Already visible the same way through a listed ancestor (the nearest one decides)."""
    ancestors = [m for m in mounts if path == m or path.startswith(m.rstrip("/") + "/")]
    return bool(ancestors) and mounts[max(ancestors, key=len)] == kind


def _links(path: str, depth: int = 0) -> list[tuple[str, str]]:
    """The symlinks met on the way to ``path`` (and on the way to their targets)."""
    parts = path.strip("/").split("/")
    for i in range(len(parts)):
        here = "/" + "/".join(parts[: i + 1])
        if os.path.islink(here):
            text = os.readlink(here)
            rest = "/".join(parts[i + 1 :])
            target = os.path.normpath(os.path.join(os.path.dirname(here), text))
            more = _links(os.path.join(target, rest) if rest else target, depth + 1) if depth < 16 else []
            return [(here, text), *more]
    return []


# ---- building the new root (in the init, inside the new namespaces) ---------------------------------


def _build_root(settings: dict[str, object]) -> None:
    """Mount the planned tree and make it the root; the host's tree is detached afterwards."""
    mounts, links = _plan(settings)
    cwd = os.getcwd()
    _mount(None, "/", None, _MS_REC | _MS_PRIVATE)  # nothing below propagates back to the host
    _mount("tmpfs", "/tmp", "tmpfs", _MS_NOSUID | _MS_NODEV, "mode=0755,size=64k")  # scratch, this ns only
    os.chdir("/tmp")
    os.mkdir("newroot")
    os.mkdir("oldroot")
    _pivot_root(".", "oldroot")
    os.chdir("/")
    _mount("tmpfs", "/newroot", "tmpfs", _MS_NOSUID | _MS_NODEV, "mode=0755,size=4m")
    read_only = ["/newroot"]
    for target, kind in mounts:
        read_only += _mount_one(target, kind)
    for where, text in links:
        new = "/newroot" + where
        if not os.path.lexists(new):
            os.makedirs(os.path.dirname(new), exist_ok=True)
            os.symlink(text, new)
    for target in read_only:
        _remount(target, _MS_RDONLY)
    _check(_libc.umount2(b"/oldroot", _MNT_DETACH), "umount /oldroot")
    base = os.open("/", os.O_DIRECTORY | os.O_RDONLY)
    os.chdir("/newroot")
    _pivot_root(".", ".")  # the new root over the scratch one, then the scratch one detached
    os.fchdir(base)
    os.close(base)
    _check(_libc.umount2(b".", _MNT_DETACH), "umount the scratch root")
    os.chdir(cwd if os.path.isdir(cwd) else "/")


def _mount_one(target: str, kind: str) -> list[str]:
    """Mount one planned entry under /newroot; return the mount points to make read-only afterwards."""
    new = "/newroot" + target
    if kind in ("ro", "rw") and not os.path.isdir("/oldroot" + target):
        os.makedirs(os.path.dirname(new), exist_ok=True)
        if not os.path.exists(new):
            os.close(os.open(new, os.O_CREAT | os.O_WRONLY, 0o644))
    else:
        os.makedirs(new, exist_ok=True)
    if kind == "tmpfs":
        _mount("tmpfs", new, "tmpfs", _MS_NOSUID | _MS_NODEV, TMPFS[target])
    elif kind == "proc":
        _mount("proc", new, "proc", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC)
    elif kind == "dev":
        _mount("tmpfs", new, "tmpfs", _MS_NOSUID | _MS_NOEXEC, "mode=0755,size=64k")
        for name in DEVICES:
            os.close(os.open(f"{new}/{name}", os.O_CREAT | os.O_WRONLY, 0o666))
            _mount(f"/oldroot/dev/{name}", f"{new}/{name}", None, _MS_BIND)
        for name, text in DEV_LINKS.items():
            os.symlink(text, f"{new}/{name}")
        return [new]
    else:
        _mount("/oldroot" + target, new, None, _MS_BIND | _MS_REC)
        if kind == "ro":
            return _mounts_under(new) if os.path.isdir(new) else [new]
        _remount(new, 0)
    return []


def _mounts_under(target: str) -> list[str]:
    """``target`` and every mount below it (a recursive bind brings the host's submounts along)."""
    found = [target]
    with open("/oldroot/proc/self/mountinfo") as fh:
        for line in fh:
            point = _unescape(line.split()[4])
            if point.startswith(target + "/"):
                found.append(point)
    return found


def _unescape(field: str) -> str:
    """A mountinfo field with its octal escapes (space, tab, newline, backslash) undone."""
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        field = field.replace(code, char)
    return field


def _remount(target: str, extra: int) -> None:
    """Remount a bind with ``extra`` (read-only), nosuid and nodev, keeping the flags the host locked."""
    f = os.statvfs(target).f_flag
    flags = _MS_REMOUNT | _MS_BIND | _MS_NOSUID | _MS_NODEV | extra
    flags |= _MS_NOEXEC if f & os.ST_NOEXEC else 0
    flags |= _MS_NODIRATIME if f & os.ST_NODIRATIME else 0
    if f & os.ST_NOATIME:
        flags |= _MS_NOATIME
    else:
        flags |= _MS_RELATIME if f & os.ST_RELATIME else _MS_STRICTATIME
    _mount(None, target, None, flags)


def _loopback_up() -> None:
    sock = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM)
    try:
        request = struct.pack("16sh22x", b"lo", 0)
        flags = struct.unpack("16sh22x", fcntl.ioctl(sock.fileno(), _SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock.fileno(), _SIOCSIFFLAGS, struct.pack("16sh22x", b"lo", flags | _IFF_UP))
    finally:
        sock.close()


# ---- processes -------------------------------------------------------------------------------------


def _isolated(settings: dict[str, object], command: list[str]) -> None:
    """Unshare, fork the init, wait for it, and end the way the command ended."""
    uid, gid = os.getuid(), os.getgid()
    flags = _CLONE_NEWNS | _CLONE_NEWPID | _CLONE_NEWIPC | (_CLONE_NEWNET if settings.get("no_network") else 0)
    user = settings.get("isolate") == "user"
    _check(_libc.unshare(flags | (_CLONE_NEWUSER if user else 0)), "unshare")
    if user:
        _write("/proc/self/setgroups", "deny")
        _write("/proc/self/uid_map", f"{uid} {uid} 1")
        _write("/proc/self/gid_map", f"{gid} {gid} 1")
    alive_r, alive_w = os.pipe()
    status_r, status_w = os.pipe()
    outer = os.getpid()
    init = os.fork()
    if init == 0:
        try:
            os.close(alive_w)
            os.close(status_r)
            _init(settings, command, outer, alive_r, status_w)
        except BaseException as exc:
            print(f"confine: {exc}", file=sys.stderr, flush=True)
        os._exit(_SETUP_FAILED)
    os.close(alive_r)
    os.close(status_w)
    _, own = os.waitpid(init, 0)
    told = b""
    while chunk := os.read(status_r, 64):
        told += chunk
    _end_like(int(told) if told else own)


def _end_like(status: int) -> None:
    code = os.waitstatus_to_exitcode(status)
    if code < 0:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if -code not in (signal.SIGKILL, signal.SIGSTOP):
            signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
        code = 128 - code
    os._exit(code)


def _init(settings: dict[str, object], command: list[str], outer: int, alive: int, status: int) -> None:
    """Pid 1 of the sandbox: dies with the outer process, builds the root, runs the command, reaps.

    The command gets the outer process's pid inside too: a pid that is unique on the host and alive
    exactly as long as the sandbox, as code that names things after its pid (test databases) expects.
    """
    _check(_libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl(PDEATHSIG)")
    os.set_blocking(alive, False)
    try:
        if os.read(alive, 1) == b"":  # end of file: the outer process died before PDEATHSIG was set
            os._exit(_SETUP_FAILED)
    except BlockingIOError:
        pass
    os.umask(0o022)
    _build_root(settings)
    if settings.get("no_network"):
        _loopback_up()
    _libc.prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)
    _write("/proc/sys/kernel/ns_last_pid", str(outer - 1))
    child = os.fork()
    if child == 0:
        try:
            _exec(settings, command)
        except BaseException as exc:
            print(f"confine: {command[0]}: {exc}", file=sys.stderr, flush=True)
        os._exit(127)
    while True:
        pid, code = os.wait()
        if pid == child:
            os.write(status, str(code).encode())
            os._exit(0)  # the kernel now kills every process left in the namespace


def _exec(settings: dict[str, object], command: list[str]) -> None:
    """Limits, then the user, then the command."""
    for key, which in _LIMITS.items():
        value = settings.get(key)
        if isinstance(value, int):
            resource.setrlimit(which, (value, value))
    os.umask(0o077)
    _libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    uid, gid = settings.get("uid"), settings.get("gid")
    if isinstance(uid, int) and isinstance(gid, int):
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)
    os.execvp(command[0], command)


def main(argv: list[str]) -> None:
    """``confine.py SETTINGS_JSON -- CMD ARGS...``."""
    if len(argv) < 4 or argv[2] != "--":
        sys.exit("usage: confine.py SETTINGS_JSON -- CMD [ARGS...]")
    settings, command = json.loads(argv[1]), argv[3:]
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    if settings.get("isolate"):
        try:
            _isolated(settings, command)
        except OSError as exc:
            print(f"confine: {exc}", file=sys.stderr, flush=True)
            os._exit(_SETUP_FAILED)
    _exec(settings, command)


if __name__ == "__main__":
    main(sys.argv)
