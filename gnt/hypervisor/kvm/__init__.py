"""The KVM hypervisor (QEMU, KVM-accelerated when KVM really works, else TCG).

Modules: :mod:`.params` (the hvparams table), :mod:`.cmdline` (QEMU's argv),
:mod:`.accel` (KVM probe), :mod:`.qmp` (monitor calls), :mod:`.runtime`
(per-instance files), :mod:`.network` (tap devices), :mod:`.nodeinfo`,
:mod:`.hypervisor` (the driver).
"""

from __future__ import annotations

from gnt.hypervisor.kvm.hypervisor import KVMHypervisor
from gnt.hypervisor.kvm.params import PARAMETERS

HYPERVISOR_CLASS = KVMHypervisor

__all__ = ["HYPERVISOR_CLASS", "PARAMETERS", "KVMHypervisor"]
