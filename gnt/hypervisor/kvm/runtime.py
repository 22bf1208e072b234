"""Per-instance runtime state of the KVM hypervisor on this node.

Layout under ``paths.get().kvm_run_dir`` (Ganeti's directory names)::

    pid/<name>            QEMU's pidfile
    ctrl/<name>.qmp       QMP socket          (unix sockets; see below)
    ctrl/<name>.serial    serial console socket
    ctrl/<name>.monitor   human monitor socket
    ctrl/<name>.qga       guest agent socket (use_guest_agent)
    conf/<name>.runtime   :class:`KVMRuntime` as JSON, written atomically
    lock/<name>.lock      serialises start/stop/reboot of one instance

A unix socket path is limited to 107 bytes.  When an instance's sockets in
``ctrl/`` would exceed that (deep roots in tests, several nodes on one
machine, long names), they go to ``$TMPDIR/gnt-kvm-<hash of the run dir>/``
instead; the runtime file records the real paths.

A running instance is one whose runtime file names a live pid whose
``/proc/<pid>/cmdline`` equals the recorded QEMU command line, so a fresh
process (a restarted node daemon) finds its instances, and a reused pid is
never mistaken for one.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from gnt import errors, paths
from gnt.hypervisor.base import InstanceSpec
from gnt.utils.io import atomic_write

RUNTIME_SUFFIX = ".runtime"
_MAX_SOCKET_PATH = 107
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class TapInfo(BaseModel):
    """A tap device created for one NIC (name as the kernel gave it)."""

    index: int
    name: str
    mode: str
    link: str


class KVMRuntime(BaseModel):
    """What the node knows about one running QEMU.

    ``cmdline``: QEMU's argv as started; ``spec``: the InstanceSpec it was
    started from; ``start_time``: epoch seconds; ``accel``: ``kvm``/``tcg``;
    socket paths are absolute (``serial`` None without a serial console);
    ``vnc``: display info (host, port, display) or None; ``migrating_in``:
    the QEMU waits for (or receives) an incoming migration.
    """

    version: int = 1
    name: str
    uuid: str
    pid: int
    cmdline: list[str]
    spec: InstanceSpec
    start_time: float
    accel: str
    qmp: str
    serial: str | None = None
    monitor: str | None = None
    qga: str | None = None
    vnc: dict[str, Any] | None = None
    taps: list[TapInfo] = Field(default_factory=list)
    #: True from accepting an incoming migration until it is finalized here
    migrating_in: bool = False


class InstancePaths:
    """Every runtime path of one instance (see the module docstring)."""

    def __init__(self, name: str) -> None:
        check_name(name)
        base = paths.get().kvm_run_dir
        self.name = name
        self.base = base
        self.pid_dir = base / "pid"
        self.conf_dir = base / "conf"
        self.lock_dir = base / "lock"
        self.ctrl_dir = ctrl_dir(name)
        self.pidfile = self.pid_dir / name
        self.runtime = self.conf_dir / (name + RUNTIME_SUFFIX)
        self.lock = self.lock_dir / (name + ".lock")
        self.qmp = self.ctrl_dir / f"{name}.qmp"
        self.serial = self.ctrl_dir / f"{name}.serial"
        self.monitor = self.ctrl_dir / f"{name}.monitor"
        self.qga = self.ctrl_dir / f"{name}.qga"
        self.log = paths.get().log_dir / "kvm" / f"{name}.log"
        if len(str(self.monitor)) > _MAX_SOCKET_PATH:
            raise errors.HypervisorError(
                f"Instance name {name!r} is too long for a unix socket path in "
                f"{self.ctrl_dir}", errors.ECODE_INVAL)

    def make_dirs(self) -> None:
        for d in (self.pid_dir, self.conf_dir, self.lock_dir, self.ctrl_dir, self.log.parent):
            d.mkdir(parents=True, exist_ok=True, mode=0o750)

    def sockets(self) -> list[Path]:
        return [self.qmp, self.serial, self.monitor, self.qga]


def check_name(name: str) -> None:
    """Refuse names that cannot be a file name; raises HypervisorError."""
    if not _NAME_RE.match(name or "") or len(name) > 255:
        raise errors.HypervisorError(f"Invalid instance name {name!r}", errors.ECODE_INVAL)


def ctrl_dir(name: str) -> Path:
    """The socket directory of ``name``: ``<kvm_run_dir>/ctrl`` or a short one (module doc)."""
    base = paths.get().kvm_run_dir
    ctrl = base / "ctrl"
    if len(str(ctrl / f"{name}.monitor")) <= _MAX_SOCKET_PATH:
        return ctrl
    digest = hashlib.sha256(str(base).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"gnt-kvm-{digest}"


@contextlib.contextmanager
def instance_lock(ip: InstancePaths) -> Iterator[None]:
    """Hold the per-instance lock (blocking) for a start/stop/reboot."""
    ip.lock_dir.mkdir(parents=True, exist_ok=True, mode=0o750)
    with open(ip.lock, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def save(ip: InstancePaths, rt: KVMRuntime) -> None:
    """Write the runtime file atomically (temp file, fsync, rename, fsync dir)."""
    atomic_write(ip.runtime, rt.model_dump_json(indent=1), mode=0o640)


def load(ip: InstancePaths) -> KVMRuntime | None:
    """The runtime file of the instance, or None when there is none."""
    try:
        return KVMRuntime.model_validate_json(ip.runtime.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, ValidationError) as err:
        raise errors.HypervisorError(
            f"Cannot read the runtime file {ip.runtime}: {err}") from err


def runtime_names() -> list[str]:
    """Names of the instances that have a runtime file, sorted."""
    conf = paths.get().kvm_run_dir / "conf"
    try:
        entries = os.listdir(conf)
    except FileNotFoundError:
        return []
    return sorted(e[:-len(RUNTIME_SUFFIX)] for e in entries
                  if e.endswith(RUNTIME_SUFFIX) and not e.startswith("."))


def process_cmdline(pid: int) -> list[str] | None:
    """argv of a live (non-zombie) process, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
        # the state follows the parenthesised command name
        if stat[stat.rindex(b")") + 2:][:1] in (b"Z", b"X"):
            return None
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            raw = f.read()
    except (OSError, ValueError):
        return None
    if not raw:
        return None
    return [a.decode(errors="surrogateescape") for a in raw.rstrip(b"\0").split(b"\0")]


def is_alive(rt: KVMRuntime) -> bool:
    """Whether the recorded QEMU process still runs (pid alive, same cmdline)."""
    return process_cmdline(rt.pid) == rt.cmdline


def read_pidfile(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def remove_files(ip: InstancePaths) -> None:
    """Remove the runtime file, pidfile and sockets of a stopped instance."""
    for p in [ip.runtime, ip.pidfile, *ip.sockets()]:
        with contextlib.suppress(FileNotFoundError):
            p.unlink()
