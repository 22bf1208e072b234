"""Instance policy checks (Ganeti's ``instMatchesPolicy``).

An instance matches a policy when it lies within one of the policy's
min/max spec pairs (memory, every disk's size, vCPUs, spindles, disk
count) and its disk template is allowed.  When no pair matches, the
failure of the first pair is reported, with the first failing check in
the order memory, disk, CPU, spindles, disk count.
"""

from __future__ import annotations

from gnt.htools.model import Instance
from gnt.htools.types import DiskTemplate, FailMode, IPolicy, ISpec


def _compare(inst: Instance, spec: ISpec, excl: bool, above: bool) -> FailMode | None:
    """Fails when the instance is below (``above``) / over the spec."""
    def bad(value: int, limit: int) -> bool:
        return value < limit if above else value > limit

    if bad(inst.mem, spec.mem_size):
        return FailMode.MEM
    disks = inst.disk_list()
    if any(bad(size, spec.disk_size) for size, _ in disks):
        return FailMode.DISK
    if bad(inst.vcpus, spec.cpu_count):
        return FailMode.CPU
    if excl:
        spn = [sp for _, sp in disks]
        if any(sp is None for sp in spn) or bad(sum(sp or 0 for sp in spn), spec.spindle_use):
            return FailMode.SPINDLES
    elif bad(inst.spindle_use, spec.spindle_use):
        return FailMode.SPINDLES
    if inst.template != DiskTemplate.DISKLESS and bad(len(disks), spec.disk_count):
        return FailMode.DISKCOUNT
    return None


def instance_policy_failure(inst: Instance, pol: IPolicy, excl_storage: bool
                            ) -> FailMode | None:
    """None if ``inst`` matches ``pol``, else the failure mode."""
    first: FailMode | None = None
    matched = not pol.minmax
    for k, mm in enumerate(pol.minmax):
        fail = _compare(inst, mm.min, excl_storage, True) or \
            _compare(inst, mm.max, excl_storage, False)
        if fail is None:
            matched = True
            break
        if k == 0:
            first = fail
    if not matched:
        return first
    if inst.template not in pol.disk_templates:
        return FailMode.DISK
    return None
