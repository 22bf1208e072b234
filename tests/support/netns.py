"""Network namespaces for tests: a private kernel network stack per test.

:func:`netns` creates a named namespace (``ip netns add``) with its loopback
up and deletes it afterwards; :func:`run_in_netns` runs a function in a
forked child that entered the namespace the way ``ip netns exec`` does (its
own mount namespace with ``/sys`` remounted, so ``/sys/class/net`` shows the
namespace's devices) and returns its result or re-raises its exception.
Nothing a test does there reaches the host's network.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import pickle
import shutil
import subprocess
import traceback
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")

CLONE_NEWNS = 0x00020000
CLONE_NEWNET = 0x40000000
MS_REC = 0x4000
MS_SLAVE = 0x80000
MNT_DETACH = 2


def available() -> str | None:
    """Why namespaces cannot be used here, or None when they can."""
    if os.geteuid() != 0:
        return "needs root (network namespaces, bridges, taps)"
    if shutil.which("ip") is None or shutil.which("bridge") is None:
        return "needs iproute2 (ip, bridge)"
    if not os.path.exists("/dev/net/tun"):
        return "needs /dev/net/tun"
    return None


def ip(ns: str, *args: str, check: bool = True) -> str:
    """Run ``ip -n <ns> args...``; its stdout."""
    res = subprocess.run(["ip", "-n", ns, *args], capture_output=True, text=True, check=False)
    if check and res.returncode != 0:
        raise AssertionError(f"ip -n {ns} {' '.join(args)}: {res.stderr.strip()}")
    return res.stdout


def exec_in(ns: str, *argv: str, check: bool = True) -> str:
    """Run a command inside the namespace (``ip netns exec``); its stdout."""
    res = subprocess.run(["ip", "netns", "exec", ns, *argv], capture_output=True, text=True,
                         check=False)
    if check and res.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} in {ns}: {res.stderr.strip()}")
    return res.stdout


@contextlib.contextmanager
def netns(prefix: str = "gnt") -> Iterator[str]:
    """A fresh named network namespace with ``lo`` up; deleted on exit."""
    name = f"{prefix}-{os.getpid()}-{os.urandom(3).hex()}"
    subprocess.run(["ip", "netns", "add", name], check=True, capture_output=True)
    try:
        ip(name, "link", "set", "lo", "up")
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False, capture_output=True)


def _enter(ns: str) -> None:
    libc = ctypes.CDLL(None, use_errno=True)

    def check(rc: int, what: str) -> None:
        if rc != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"{what}: {os.strerror(err)}")

    fd = os.open(f"/run/netns/{ns}", os.O_RDONLY)
    try:
        check(libc.setns(fd, CLONE_NEWNET), "setns")
    finally:
        os.close(fd)
    check(libc.unshare(CLONE_NEWNS), "unshare")
    check(libc.mount(b"none", b"/", None, MS_REC | MS_SLAVE, None), "mount --make-rslave /")
    check(libc.umount2(b"/sys", MNT_DETACH), "umount /sys")
    check(libc.mount(b"sysfs", b"/sys", b"sysfs", 0, None), "mount sysfs")


def run_in_netns(ns: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)`` in a child process inside ``ns``; its result (picklable)."""
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(rfd)
        try:
            _enter(ns)
            payload = pickle.dumps(("ok", fn(*args, **kwargs)))
        except BaseException as err:  # noqa: BLE001 - sent to the parent
            try:
                payload = pickle.dumps(("err", err))
            except Exception:  # noqa: BLE001 - unpicklable exception
                payload = pickle.dumps(("err", RuntimeError(traceback.format_exc())))
        with os.fdopen(wfd, "wb") as w:
            w.write(payload)
        os._exit(0)
    os.close(wfd)
    with os.fdopen(rfd, "rb") as r:
        data = r.read()
    os.waitpid(pid, 0)
    if not data:
        raise RuntimeError("the namespace child died without an answer")
    kind, value = pickle.loads(data)
    if kind == "err":
        raise value
    return value  # type: ignore[no-any-return]
