"""Apply a sandbox's limits to this process, drop privileges, then exec the real command.

Run as a script (``python -I confine.py LIMITS_JSON -- CMD...``), before any student code: it imports
only the standard library so it costs a few milliseconds. Order matters: the network namespace needs
root, resource limits are set while still privileged, and the user is dropped last so nothing the
command does can raise them again.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import sys

_CLONE_NEWNET = 0x40000000
_CLONE_NEWNS = 0x00020000
_MS_RDONLY, _MS_NOSUID, _MS_NODEV = 1, 2, 4
_MS_BIND, _MS_MOVE, _MS_REC, _MS_PRIVATE = 4096, 8192, 16384, 1 << 18
_LIMITS = {
    "memory": resource.RLIMIT_AS,
    "processes": resource.RLIMIT_NPROC,
    "file_size": resource.RLIMIT_FSIZE,
    "open_files": resource.RLIMIT_NOFILE,
    "cpu_seconds": resource.RLIMIT_CPU,
    "core": resource.RLIMIT_CORE,
}


def _leave_network() -> None:
    """A private network namespace: no route anywhere (unix sockets on disk still work)."""
    _check(_libc().unshare(_CLONE_NEWNET), "unshare(CLONE_NEWNET)")


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _mount(source: str, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    _check(
        _libc().mount(
            source.encode(),
            target.encode(),
            fstype.encode() if fstype else None,
            flags,
            data.encode() if data else None,
        ),
        f"mount {target}",
    )


def _private_mounts(expose: list[str], hide: list[str], keep: list[str], staging: str) -> None:
    """A private mount namespace for the run.

    ``hide`` is covered by empty read-only folders; /dev/shm becomes a small private tmpfs (filling it
    must not starve the host or a database living there), keeping the paths in ``keep`` (the database
    socket folder); a folder that blocks others from a path in ``expose`` (a home of mode 700 holding
    the Python install) is replaced by an empty one holding only that path.
    """
    _check(_libc().unshare(_CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    _mount("none", "/", None, _MS_REC | _MS_PRIVATE)  # nothing below propagates back to the host
    covers = {b: "mode=0755,size=64k" for b in (_blocking_ancestor(p) for p in expose) if b}
    if os.path.isdir("/dev/shm"):
        covers["/dev/shm"] = "mode=1777,size=64m"
    staged = []
    for i, path in enumerate([*expose, *keep]):
        if any(path == c or path.startswith(c + os.sep) for c in covers) and os.path.isdir(path):
            point = os.path.join(staging, str(i))
            os.makedirs(point, exist_ok=True)
            _mount(path, point, None, _MS_BIND | _MS_REC)
            staged.append((point, path))
    for cover in sorted(covers, key=len):
        _mount("none", cover, "tmpfs", _MS_NOSUID | _MS_NODEV, covers[cover])
    for point, path in staged:
        os.makedirs(path, exist_ok=True)
        _mount(point, path, None, _MS_MOVE)
    for path in hide:
        if os.path.isdir(path):
            _mount("none", path, "tmpfs", _MS_RDONLY | _MS_NOSUID | _MS_NODEV, "mode=0555,size=4k")


def _blocking_ancestor(path: str) -> str | None:
    """The outermost folder on the way to ``path`` that others may not traverse."""
    parts = os.path.abspath(path).split(os.sep)[1:]
    for i in range(1, len(parts) + 1):
        folder = os.sep + os.path.join(*parts[:i])
        if os.stat(folder).st_mode & 0o005 != 0o005:
            return folder
    return None


def apply(settings: dict[str, object]) -> None:
    """Set the limits, leave the network and become the sandbox user, as ``settings`` says."""
    if "staging" in settings:
        expose, hide, keep = (settings.get(k) or [] for k in ("expose", "hide", "keep"))
        assert isinstance(expose, list)
        assert isinstance(hide, list)
        assert isinstance(keep, list)
        _private_mounts(
            [str(p) for p in expose], [str(p) for p in hide], [str(p) for p in keep], str(settings["staging"])
        )
    if settings.get("no_network"):
        _leave_network()
    for key, which in _LIMITS.items():
        value = settings.get(key)
        if isinstance(value, int):
            resource.setrlimit(which, (value, value))
    os.umask(0o077)
    uid, gid = settings.get("uid"), settings.get("gid")
    if isinstance(uid, int) and isinstance(gid, int):
        os.setgroups([])
        os.setgid(gid)
        os.setuid(uid)


def main(argv: list[str]) -> None:
    """``confine.py LIMITS_JSON -- CMD ARGS...``."""
    if len(argv) < 4 or argv[2] != "--":
        sys.exit("usage: confine.py LIMITS_JSON -- CMD [ARGS...]")
    apply(json.loads(argv[1]))
    os.execv(argv[3], argv[3:])


if __name__ == "__main__":
    main(sys.argv)
