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


def _private_mounts(expose: list[str], hide: list[str], staging: str) -> None:
    """A private mount namespace: ``hide`` covered by empty read-only folders; each folder that blocks
    others from reaching a path in ``expose`` (a home with mode 700 holding the Python install)
    replaced by an empty one that holds only that path."""
    _check(_libc().unshare(_CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    _mount("none", "/", None, _MS_REC | _MS_PRIVATE)  # nothing below propagates back to the host
    moves = []
    for i, path in enumerate(expose):
        blocker = _blocking_ancestor(path)
        if blocker is None:
            continue
        point = os.path.join(staging, str(i))
        os.makedirs(point, exist_ok=True)
        _mount(path, point, None, _MS_BIND | _MS_REC)
        moves.append((blocker, point, path))
    for blocker in sorted({b for b, _, _ in moves}, key=len):
        _mount("none", blocker, "tmpfs", _MS_NOSUID | _MS_NODEV, "mode=0755,size=64k")
    for _, point, path in moves:
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
    expose, hide = settings.get("expose") or [], settings.get("hide") or []
    if expose or hide:
        assert isinstance(expose, list)
        assert isinstance(hide, list)
        _private_mounts([str(p) for p in expose], [str(p) for p in hide], str(settings["staging"]))
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
