"""Live migration of KVM instances between nodes, over QMP.

The destination QEMU is the instance's ordinary command line (built on the
target from the spec the source runs, with the target's own sockets, disk
paths and taps) plus ``-incoming defer``; once it runs, the capabilities of
``migration_caps`` are set on it and ``migrate-incoming`` makes it listen
on ``tcp:<target address>:<migration_port>``.  It starts without ``-S``, so
the guest resumes on the destination by itself the moment the last RAM page
arrives: no extra round trip adds to the guest's downtime.

Tuning comes from the instance's current hvparams (sent with the target),
not the ones the guest was started with.  The source then gets ``migrate-set-capabilities`` (``migration_caps``, a
``:``-separated list as in Ganeti), ``migrate-set-parameters``
(``max-bandwidth`` from ``migration_bandwidth`` MiB/s, ``downtime-limit``
from ``migration_downtime`` ms), ``stop`` for a non-live migration, and
``migrate``.  Progress comes from ``query-migrate``
(:class:`~gnt.hypervisor.base.MigrationStatus`).
"""

from __future__ import annotations

import contextlib
from typing import Any

from gnt import errors
from gnt.hypervisor.base import MigrationStatus, MigrationTarget
from gnt.hypervisor.kvm import params as P
from gnt.hypervisor.kvm import qmp
from gnt.hypervisor.kvm import runtime as R

MIB = 1024 * 1024
INCOMING = "defer"


def capabilities(hvp: dict[str, Any]) -> list[dict[str, Any]]:
    """QMP capability list of ``migration_caps`` (``a:b`` -> a and b enabled)."""
    caps = [c.strip() for c in str(hvp.get(P.MIGRATION_CAPS) or "").split(":")]
    return [{"capability": c, "state": True} for c in caps if c]


def uri(target: MigrationTarget) -> str:
    host = f"[{target.address}]" if ":" in target.address else target.address
    return f"tcp:{host}:{target.port}"


def listen(rt: R.KVMRuntime, target: MigrationTarget) -> None:
    """Make the freshly started destination QEMU ``rt`` wait for the migration."""
    hvp = P.filled(target.hvparams or rt.spec.hvparams)
    cmds: list[qmp.Command] = []
    caps = capabilities(hvp)
    if caps:
        cmds.append(("migrate-set-capabilities", {"capabilities": caps}))
    cmds.append(("migrate-incoming", {"uri": uri(target)}))
    qmp.execute_many(rt.qmp, cmds)


def start(rt: R.KVMRuntime, target: MigrationTarget, live: bool) -> None:
    """Start sending ``rt``'s guest to ``target``; returns once QEMU took the command."""
    hvp = P.filled(target.hvparams or rt.spec.hvparams)
    cmds: list[qmp.Command] = []
    caps = capabilities(hvp)
    if caps:
        cmds.append(("migrate-set-capabilities", {"capabilities": caps}))
    cmds.append(("migrate-set-parameters", {
        "max-bandwidth": int(hvp[P.MIGRATION_BANDWIDTH]) * MIB,
        "downtime-limit": int(hvp[P.MIGRATION_DOWNTIME])}))
    if not live:
        cmds.append(("stop", None))
    cmds.append(("migrate", {"uri": uri(target)}))
    try:
        qmp.execute_many(rt.qmp, cmds)
    except errors.HypervisorError:
        if not live:  # the guest must not stay paused because we failed
            with contextlib.suppress(errors.HypervisorError):
                qmp.execute(rt.qmp, "cont")
        raise


#: s between two looks at the migration within one :func:`status` call
POLL_INTERVAL = 0.01
_FINISHED = ("completed", "failed", "cancelled", "none")  # as MigrationStatus.finished


def status(rt: R.KVMRuntime, wait: float = 0.0) -> MigrationStatus:
    """``query-migrate`` as a MigrationStatus (RAM in MiB); with ``wait`` > 0,
    the first finished status within ``wait`` seconds, else the last one
    (looked at every :data:`POLL_INTERVAL` s in one QMP session)."""
    res = qmp.poll(rt.qmp, "query-migrate", None,
                   lambda r: str(r.get("status") or "none") in _FINISHED, POLL_INTERVAL, wait)
    st = str(res.get("status") or "none")
    if st not in ("none", "setup", "active", "completed", "failed", "cancelled"):
        st = "cancelled" if st == "cancelling" else "active"
    ram = res.get("ram") or {}
    return MigrationStatus(
        status=st, transferred_ram=ram.get("transferred", 0) / MIB,
        remaining_ram=ram.get("remaining", 0) / MIB, total_ram=ram.get("total", 0) / MIB,
        mbps=float(ram.get("mbps", 0) or 0), downtime_ms=res.get("downtime"),
        total_time_ms=res.get("total-time"), setup_time_ms=res.get("setup-time"),
        error=res.get("error-desc"))


def cancel(rt: R.KVMRuntime) -> None:
    qmp.execute(rt.qmp, "migrate_cancel")


def resume_if_stopped(rt: R.KVMRuntime) -> None:
    """After a failed non-live migration: let the paused source guest run again."""
    st = qmp.execute(rt.qmp, "query-status")
    if st.get("status") in ("paused", "postmigrate", "finish-migrate"):
        qmp.execute(rt.qmp, "cont")
