"""The hypervisor interface (node side) and the objects it exchanges.

Every hypervisor module (``kvm``, ``fake``) provides a subclass of
:class:`Hypervisor` and a ``PARAMETERS`` table.  The master only validates
parameters (:func:`gnt.hypervisor.check_parameters`); everything else runs in
the node daemon, which receives an :class:`InstanceSpec` over RPC.
"""

from __future__ import annotations

import abc
from typing import Any, Literal

from pydantic import BaseModel, Field


class ParamDef(BaseModel):
    """One hypervisor parameter: its kind (``gnt.constants.VTYPE_*``) and default.

    ``choices`` restricts string values; ``None`` allows any.
    """

    kind: str
    default: Any
    choices: tuple[str, ...] | None = None


class DiskSpec(BaseModel):
    """A disk as the hypervisor sees it once assembled on the node.

    ``path``: block device or file path; ``uri``: userspace URI (ext/rbd), if
    any; ``mode``: ``rw``/``ro``; ``size``: MiB.
    """

    uuid: str
    name: str | None = None
    index: int
    path: str
    uri: str | None = None
    mode: str = "rw"
    size: int
    dev_type: str = "file"
    #: the PCI slot a hot-plugged disk was given (None: the hypervisor chose one
    #: at start); kept so a migration target recreates the same device layout
    pci_slot: int | None = None


class NICSpec(BaseModel):
    """A NIC with its filled nicparams (``mode``, ``link``, ``vlan``)."""

    uuid: str
    name: str | None = None
    index: int
    mac: str
    ip: str | None = None
    nicparams: dict[str, Any] = Field(default_factory=dict)
    #: the NIC's network object (Ganeti's shape: name, uuid, network, gateway,
    #: network6, gateway6, mac_prefix, tags) when the NIC is in a network
    netinfo: dict[str, Any] | None = None
    #: the PCI slot a hot-plugged NIC was given (None: chosen at start; see DiskSpec)
    pci_slot: int | None = None


class InstanceSpec(BaseModel):
    """What a node needs to run an instance: filled parameters, disks, NICs.

    ``beparams`` and ``hvparams`` are the filled (effective) values; memory is
    ``beparams['maxmem']`` MiB unless ``runtime_memory`` (MiB) is given.
    """

    name: str
    uuid: str
    hypervisor: str
    os: str = ""
    hvparams: dict[str, Any]
    beparams: dict[str, Any]
    osparams: dict[str, Any] = Field(default_factory=dict)
    disks: list[DiskSpec] = Field(default_factory=list)
    nics: list[NICSpec] = Field(default_factory=list)
    network_port: int | None = None
    runtime_memory: int | None = None
    #: the instance's tags (exported to NIC scripts as ``TAGS``)
    tags: list[str] = Field(default_factory=list)
    #: QEMU device id -> PCI slot of devices other than disks/NICs (balloon...),
    #: recorded by a hotplug so a migration target reproduces the running layout
    pci_slots: dict[str, int] = Field(default_factory=dict)

    @property
    def memory(self) -> int:
        """Memory to give the guest, MiB."""
        return int(self.runtime_memory or self.beparams["maxmem"])


class InstanceRuntimeInfo(BaseModel):
    """What a node reports about a running instance (memory MiB)."""

    name: str
    state: Literal["running", "paused", "shutdown", "crashed", "unknown"] = "running"
    memory: int
    vcpus: int
    pid: int | None = None
    uptime: float | None = None


class NodeHvInfo(BaseModel):
    """The hypervisor's view of the node: memory in MiB, CPU counts."""

    memory_total: int
    memory_free: int
    memory_dom0: int
    cpu_total: int
    cpu_nodes: int = 1
    cpu_sockets: int = 1
    cpu_dom0: int = 0
    hv_version: str = ""


class ConsoleInfo(BaseModel):
    """How to reach an instance's console (Ganeti's console object).

    ``kind``: ``ssh`` (run ``command`` on ``host``), ``vnc``, ``spice`` or
    ``msg`` (only ``message`` is meaningful).
    """

    instance: str
    kind: Literal["ssh", "vnc", "spice", "msg"]
    host: str | None = None
    port: int | None = None
    user: str | None = None
    command: list[str] | None = None
    display: int | None = None
    message: str | None = None


class MigrationStatus(BaseModel):
    """Progress of an outgoing migration, as the source's hypervisor reports it.

    ``status``: ``none`` (no migration), ``setup``, ``active``, ``completed``,
    ``failed`` or ``cancelled`` (QEMU's words, others mapped to ``active``);
    RAM figures in MiB, ``mbps`` in Mbit/s (QEMU's unit); ``downtime_ms`` and
    ``total_time_ms`` once completed; ``error`` when failed.
    """

    status: str
    transferred_ram: float = 0
    remaining_ram: float = 0
    total_ram: float = 0
    mbps: float = 0
    downtime_ms: int | None = None
    total_time_ms: int | None = None
    setup_time_ms: int | None = None
    error: str | None = None

    @property
    def finished(self) -> bool:
        return self.status in ("completed", "failed", "cancelled", "none")


class MigrationTarget(BaseModel):
    """Where the destination waits: ``address`` (the target node's primary IP) and
    ``port``; ``hvparams``: the instance's current filled hvparams, whose migration
    tuning (bandwidth, downtime, capabilities) applies to this migration."""

    address: str
    port: int
    hvparams: dict[str, Any] = Field(default_factory=dict)


class Hypervisor(abc.ABC):
    """A hypervisor driver running inside the node daemon.

    Errors are raised as :class:`gnt.errors.HypervisorError`.
    """

    name: str
    PARAMETERS: dict[str, ParamDef] = {}

    @abc.abstractmethod
    def start_instance(self, spec: InstanceSpec, startup_paused: bool = False) -> None:
        """Start the instance; raises if it is already running or fails to start."""

    @abc.abstractmethod
    def stop_instance(self, name: str, force: bool = False, timeout: int = 120) -> None:
        """Stop the instance: graceful (ACPI) unless ``force``, hard after ``timeout`` s.

        Stopping an instance that is not running is not an error.
        """

    @abc.abstractmethod
    def reboot_instance(self, spec: InstanceSpec) -> None:
        """Soft reboot of a running instance (the guest restarts, same process)."""

    @abc.abstractmethod
    def get_instance_info(self, name: str) -> InstanceRuntimeInfo | None:
        """Runtime info, or None when the instance does not run here."""

    @abc.abstractmethod
    def list_instances(self) -> list[str]:
        """Names of the instances running here."""

    def get_all_instances_info(self) -> list[InstanceRuntimeInfo]:
        out = []
        for name in self.list_instances():
            info = self.get_instance_info(name)
            if info is not None:
                out.append(info)
        return out

    @abc.abstractmethod
    def get_node_info(self) -> NodeHvInfo:
        """Memory and CPU of this node as the hypervisor sees them."""

    @abc.abstractmethod
    def get_console(self, spec: InstanceSpec, node_name: str) -> ConsoleInfo:
        """How to reach the console of the running instance."""

    def cleanup_instance(self, name: str) -> None:  # noqa: B027 - optional hook
        """Remove leftovers (runtime files) of a stopped instance."""

    def verify(self) -> list[str]:
        """Problems with the hypervisor on this node (empty when fine)."""
        return []

    # --- migration (Ganeti's order: info on the source, accept on the target,
    # migrate + status polling on the source, finalize on the target, then the
    # source) ---
    def check_accept(self, spec: InstanceSpec) -> None:
        """Raise HypervisorError when this node could not run ``spec`` (disks
        carry their local paths); changes nothing."""

    def migration_info(self, name: str) -> dict[str, Any]:
        """What the target needs from the source (JSON-able): at least ``spec``,
        the InstanceSpec the running instance was started with.  Raises
        HypervisorError when the instance does not run here."""
        raise self._no_migration()

    def accept_instance(self, spec: InstanceSpec, info: dict[str, Any],
                        target: MigrationTarget) -> None:
        """Prepare this node (the target) to receive the instance at ``target``."""
        raise self._no_migration()

    def migrate_instance(self, name: str, target: MigrationTarget, live: bool) -> None:
        """Start sending the instance to ``target``; returns once it is under way."""
        raise self._no_migration()

    def migration_status(self, name: str, wait: float = 0.0) -> MigrationStatus:
        """Progress of the outgoing migration of ``name``; with ``wait`` > 0 s,
        returns as soon as it finished, at the latest after ``wait`` s (one
        call instead of many short polls)."""
        raise self._no_migration()

    def abort_migration(self, name: str) -> None:
        """Cancel the outgoing migration of ``name`` (the source keeps running it)."""
        raise self._no_migration()

    def finalize_migration_dst(self, name: str, success: bool) -> None:
        """On the target: keep the instance (``success``) or discard what accept made."""
        raise self._no_migration()

    def finalize_migration_src(self, name: str, success: bool, live: bool) -> None:
        """On the source: release the migrated instance (``success``) or let it run on."""
        raise self._no_migration()

    def instance_status(self, name: str) -> str | None:
        """The hypervisor's own word for the state of ``name`` here (for KVM QEMU's
        run state: ``running``, ``paused``, ``inmigrate``, ``postmigrate``...), or
        None when no process exists.  Used to find where a guest really runs."""
        info = self.get_instance_info(name)
        return info.state if info else None

    def _no_migration(self) -> Exception:
        from gnt import errors

        return errors.HypervisorError(
            f"Hypervisor {self.name} does not support migration", errors.ECODE_INVAL)

    # --- hotplug and runtime changes (instance modify / grow-disk) ---
    # Each acts on the running instance ``name`` and raises HypervisorError
    # when it cannot; the defaults say the hypervisor does not support it.
    def hotplug_supported(self, name: str) -> None:
        """Raise HypervisorError unless devices can be hot-plugged into ``name`` now."""
        raise self._unsupported("hotplug")

    def hot_add_disk(self, name: str, disk: DiskSpec) -> DiskSpec:
        """Attach the assembled ``disk`` (``path`` set, ``index`` = its position)
        to the running instance; returns it as recorded (with ``pci_slot``)."""
        raise self._unsupported("hotplug")

    def hot_del_disk(self, name: str, disk_uuid: str) -> None:
        """Detach disk ``disk_uuid`` from the running instance (the guest must
        release it); raises HypervisorError when it does not."""
        raise self._unsupported("hotplug")

    def hot_add_nic(self, name: str, nic: NICSpec) -> NICSpec:
        """Plug ``nic`` (``index`` = its position) into the running instance;
        returns it as recorded (with ``pci_slot``)."""
        raise self._unsupported("hotplug")

    def hot_del_nic(self, name: str, nic_uuid: str) -> None:
        """Unplug NIC ``nic_uuid`` from the running instance."""
        raise self._unsupported("hotplug")

    def resize_disk(self, name: str, disk_uuid: str, size: int) -> None:
        """Tell the running instance that disk ``disk_uuid`` now has ``size`` MiB."""
        raise self._unsupported("disk resizing")

    def balloon_memory(self, name: str, memory: int) -> None:
        """Set the running instance's memory to ``memory`` MiB (balloon)."""
        raise self._unsupported("memory ballooning")

    def _unsupported(self, what: str) -> Exception:
        from gnt import errors

        return errors.HypervisorError(
            f"Hypervisor {self.name} does not support {what}", errors.ECODE_INVAL)
