"""The node as the KVM hypervisor sees it: memory (MiB), CPUs, QEMU version."""

from __future__ import annotations

import functools
import os
import re
import subprocess
from pathlib import Path

from gnt import errors

_VERSION_RE = re.compile(r"version\s+(\S+)")


def parse_meminfo(text: str) -> dict[str, int]:
    """``/proc/meminfo`` text -> ``{"total": MiB, "available": MiB}``.

    ``available`` is MemAvailable (the kernel's estimate of memory usable
    without swapping); kernels without it get MemFree + Buffers + Cached.
    Raises HypervisorError when MemTotal is missing.
    """
    kib: dict[str, int] = {}
    for line in text.splitlines():
        key, sep, rest = line.partition(":")
        fields = rest.split()
        if sep and fields and fields[0].isdigit():
            kib[key.strip()] = int(fields[0])
    if "MemTotal" not in kib:
        raise errors.HypervisorError("Cannot read MemTotal from /proc/meminfo")
    avail = kib.get("MemAvailable")
    if avail is None:
        avail = kib.get("MemFree", 0) + kib.get("Buffers", 0) + kib.get("Cached", 0)
    return {"total": kib["MemTotal"] // 1024, "available": avail // 1024}


def cpu_sockets(cpuinfo: str) -> int:
    """Distinct ``physical id`` values in ``/proc/cpuinfo`` text (at least 1)."""
    ids = {line.split(":", 1)[1].strip() for line in cpuinfo.splitlines()
           if line.startswith("physical id") and ":" in line}
    return max(1, len(ids))


def numa_nodes() -> int:
    """Number of NUMA nodes (at least 1)."""
    try:
        return max(1, sum(1 for e in os.listdir("/sys/devices/system/node")
                          if re.fullmatch(r"node\d+", e)))
    except OSError:
        return 1


def process_rss_mib(pid: int) -> int:
    """Resident memory of a process, MiB (0 when it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


@functools.lru_cache(maxsize=8)
def qemu_version(qemu: str) -> str:
    """``x.y.z`` from ``qemu --version`` (empty when it cannot be run)."""
    try:
        out = subprocess.run([qemu, "--version"], capture_output=True, text=True,
                             timeout=10, check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ""
    m = _VERSION_RE.search(out)
    return m.group(1) if m else ""
