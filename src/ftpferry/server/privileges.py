"""Dropping root after binding ports 21 and 990 (``--run-as USER``).

Binding ports below 1024 needs root (or CAP_NET_BIND_SERVICE); serving files
must not run as root.  So the server binds first and then switches to the
named user and its groups.  Active mode wants to connect *from* port 20,
which needs that capability at every transfer: before switching we ask the
kernel to keep capabilities across setuid (``PR_SET_KEEPCAPS``) and then
keep only CAP_NET_BIND_SERVICE.  If that fails (no libc ``capset``, a
kernel or container that forbids it), the server still drops root and
active mode falls back to ephemeral source ports, with a log line saying
so.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import pwd

__all__ = ["drop_privileges"]

log = logging.getLogger("ftpferry.server")

_PR_SET_KEEPCAPS = 8
_LINUX_CAPABILITY_VERSION_3 = 0x20080522
_CAP_NET_BIND_SERVICE = 10


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        return ctypes.CDLL(name, use_errno=True)
    except OSError:
        return None


def _keep_bind_capability(libc: ctypes.CDLL) -> bool:
    header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    bit = 1 << _CAP_NET_BIND_SERVICE
    data[0].effective = data[0].permitted = bit
    return int(libc.capset(ctypes.byref(header), data)) == 0


def drop_privileges(user: str) -> bool:
    """Become ``user``; True when binding low ports (port 20) is still possible."""
    try:
        entry = pwd.getpwnam(user)
    except KeyError as exc:
        raise ValueError(f"run-as user {user!r} does not exist") from exc
    if os.geteuid() != 0:
        if os.geteuid() == entry.pw_uid:
            return False
        raise PermissionError(f"--run-as {user} needs the server to start as root")
    libc = _libc()
    keep = libc is not None and int(libc.prctl(_PR_SET_KEEPCAPS, 1, 0, 0, 0)) == 0
    os.setgroups(os.getgrouplist(entry.pw_name, entry.pw_gid))
    os.setgid(entry.pw_gid)
    os.setuid(entry.pw_uid)
    kept = keep and libc is not None and _keep_bind_capability(libc)
    if kept:
        log.info(
            "running as %s (uid %d); kept CAP_NET_BIND_SERVICE for port 20", user, entry.pw_uid
        )
    else:
        log.warning(
            "running as %s (uid %d); cannot keep CAP_NET_BIND_SERVICE, so active mode "
            "connects from ephemeral ports instead of port 20",
            user,
            entry.pw_uid,
        )
    return kept
