"""The static cluster model: groups, nodes, instances as loaded from a backend.

These objects hold what a backend reports (sizes in MiB, CPU counts);
they are indexed by position (``idx``) in :class:`ClusterData`'s lists, the
way Ganeti's htools index its containers.  The dynamic, per-move state
used by the algorithms (free memory after moves, peers, N+1 status, ...)
lives in :class:`gnt.htools.state.ClusterState`, built from a
``ClusterData`` by :func:`gnt.htools.loader.build_state`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gnt.htools.types import (
    DEFAULT_IPOLICY,
    LOCAL_STORAGE_TEMPLATES,
    MIRROR_TYPE,
    MOVABLE_TEMPLATES,
    NO_MEMORY_STATES,
    NO_SECONDARY,
    RUNNING_STATES,
    AllocPolicy,
    DiskTemplate,
    DynUtil,
    InstanceStatus,
    IPolicy,
    MirrorType,
)


@dataclass
class Group:
    """A node group."""

    name: str
    uuid: str
    alloc_policy: AllocPolicy = AllocPolicy.PREFERRED
    tags: list[str] = field(default_factory=list)
    networks: list[str] = field(default_factory=list)
    ipolicy: IPolicy = DEFAULT_IPOLICY
    idx: int = -1


@dataclass
class Node:
    """A node as reported: totals and free amounts in MiB, CPUs as counts.

    ``t_mem``, ``t_dsk`` and ``t_cpu`` are floats as in Ganeti; ``offline``
    is also set for drained nodes, for nodes given with ``-O`` and for
    nodes with ``?`` resources (which then have all resources zero).
    """

    name: str
    t_mem: float
    n_mem: int
    f_mem: int
    t_dsk: float
    f_dsk: int
    t_cpu: float
    offline: bool = False
    master: bool = False
    group: int = 0
    spindles: int = 1
    tags: list[str] = field(default_factory=list)
    excl_storage: bool = False
    free_spindles: int = 0
    n_cpu: int = 1
    cpu_speed: float = 1.0
    idx: int = -1
    alias: str = ""

    def __post_init__(self) -> None:
        if not self.alias:
            self.alias = self.name


@dataclass
class Instance:
    """An instance; ``pnode``/``snode`` are node indices (``snode`` -1 if none)."""

    name: str
    mem: int
    dsk: int
    vcpus: int
    status: InstanceStatus
    auto_balance: bool
    pnode: int
    snode: int
    template: DiskTemplate
    tags: list[str] = field(default_factory=list)
    spindle_use: int = 1
    spindles: int | None = None
    forthcoming: bool = False
    idx: int = -1
    alias: str = ""
    util: DynUtil = field(default_factory=DynUtil)
    movable: bool = True
    excl_tags: list[str] = field(default_factory=list)
    dsrd_loc_tags: frozenset[str] = frozenset()
    #: Individual disks as (size MiB, spindles or None); None means one disk
    #: of ``dsk`` MiB (the text backend has no per-disk data).
    disks: list[tuple[int, int | None]] | None = None
    #: Network (UUID or name) of each NIC, None for NICs without one.
    nic_networks: list[str | None] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.alias:
            self.alias = self.name
        self.movable = self.movable and self.template in MOVABLE_TEMPLATES

    # -- predicates with Ganeti's meaning ---------------------------------
    @property
    def is_running(self) -> bool:
        return self.status in RUNNING_STATES

    @property
    def is_offline(self) -> bool:
        return self.status == InstanceStatus.ADMIN_OFFLINE

    @property
    def uses_memory(self) -> bool:
        """Whether the instance's memory is in use on its primary node."""
        return not self.forthcoming and self.status not in NO_MEMORY_STATES

    @property
    def uses_sec_mem(self) -> bool:
        """Whether the secondary must reserve the instance's memory (N+1)."""
        return not self.is_offline and self.auto_balance

    @property
    def uses_local_storage(self) -> bool:
        return self.template in LOCAL_STORAGE_TEMPLATES

    @property
    def has_secondary(self) -> bool:
        return self.template == DiskTemplate.DRBD

    @property
    def mirror(self) -> MirrorType:
        return MIRROR_TYPE[self.template]

    def disk_list(self) -> list[tuple[int, int | None]]:
        """The disks as (size, spindles); one disk of ``dsk`` MiB if unknown."""
        return [(self.dsk, self.spindles)] if self.disks is None else list(self.disks)

    def all_nodes(self) -> list[int]:
        if self.template == DiskTemplate.DRBD:
            return [self.pnode, self.snode]
        return [self.pnode]


@dataclass
class ClusterData:
    """Everything a backend loads: groups, nodes, instances, tags, policy."""

    groups: list[Group] = field(default_factory=list)
    nodes: list[Node] = field(default_factory=list)
    instances: list[Instance] = field(default_factory=list)
    cluster_tags: list[str] = field(default_factory=list)
    ipolicy: IPolicy = DEFAULT_IPOLICY

    def node_by_name(self, name: str) -> Node | None:
        for n in self.nodes:
            if n.name == name or n.alias == name:
                return n
        return None

    def group_by_name(self, name: str) -> Group | None:
        for g in self.groups:
            if g.name == name or g.uuid == name:
                return g
        return None

    def node_name(self, idx: int) -> str:
        return "" if idx == NO_SECONDARY else self.nodes[idx].name

    def reindex(self) -> None:
        """Set every object's ``idx`` to its position."""
        for i, g in enumerate(self.groups):
            g.idx = i
        for i, n in enumerate(self.nodes):
            n.idx = i
        for i, inst in enumerate(self.instances):
            inst.idx = i
