"""Basic htools types: disk templates, instance states, policies, moves.

Everything here is plain data with Ganeti's names and raw spellings, so
that the text backend, the iallocator backend and the programs share one
vocabulary.  Memory and disk sizes are MiB, CPU counts are whole CPUs.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class DiskTemplate(enum.Enum):
    """Ganeti disk templates (raw value = Ganeti's spelling)."""

    DISKLESS = "diskless"
    FILE = "file"
    SHAREDFILE = "sharedfile"
    PLAIN = "plain"
    BLOCK = "blockdev"
    DRBD = "drbd"
    RBD = "rbd"
    EXT = "ext"
    GLUSTER = "gluster"


class MirrorType(enum.Enum):
    """How an instance's disks are replicated (decides the move types)."""

    NONE = "none"          # local only: cannot move
    INTERNAL = "internal"  # DRBD: primary + secondary node
    EXTERNAL = "external"  # shared storage: may fail over to any node


MIRROR_TYPE: dict[DiskTemplate, MirrorType] = {
    DiskTemplate.DISKLESS: MirrorType.EXTERNAL,
    DiskTemplate.FILE: MirrorType.NONE,
    DiskTemplate.SHAREDFILE: MirrorType.EXTERNAL,
    DiskTemplate.PLAIN: MirrorType.NONE,
    DiskTemplate.BLOCK: MirrorType.EXTERNAL,
    DiskTemplate.DRBD: MirrorType.INTERNAL,
    DiskTemplate.RBD: MirrorType.EXTERNAL,
    DiskTemplate.EXT: MirrorType.EXTERNAL,
    DiskTemplate.GLUSTER: MirrorType.EXTERNAL,
}

#: Templates whose disks live on the node's local (LVM) storage.
LOCAL_STORAGE_TEMPLATES = frozenset({DiskTemplate.DRBD, DiskTemplate.PLAIN})

#: Templates htools is willing to move at all (Ganeti: ``movableDiskTemplates``).
MOVABLE_TEMPLATES = frozenset({
    DiskTemplate.DRBD, DiskTemplate.BLOCK, DiskTemplate.SHAREDFILE,
    DiskTemplate.RBD, DiskTemplate.EXT, DiskTemplate.GLUSTER,
})


class InstanceStatus(enum.Enum):
    """Instance run states as written by Ganeti (``oper_state``/``status``)."""

    ADMIN_DOWN = "ADMIN_down"
    ADMIN_OFFLINE = "ADMIN_offline"
    ERROR_DOWN = "ERROR_down"
    ERROR_NODEDOWN = "ERROR_nodedown"
    ERROR_NODEOFFLINE = "ERROR_nodeoffline"
    RUNNING = "running"
    ERROR_UP = "ERROR_up"
    ERROR_WRONGNODE = "ERROR_wrongnode"
    USER_DOWN = "USER_down"


#: States counted as running (``migrate`` rather than ``failover``).
RUNNING_STATES = frozenset({InstanceStatus.RUNNING, InstanceStatus.ERROR_UP})
#: States whose memory is not in use on the node (down or offline).
NO_MEMORY_STATES = frozenset({
    InstanceStatus.ADMIN_DOWN, InstanceStatus.ADMIN_OFFLINE,
    InstanceStatus.ERROR_DOWN, InstanceStatus.USER_DOWN,
})


class AllocPolicy(enum.Enum):
    """Node group allocation policy; the order is the preference order."""

    PREFERRED = "preferred"
    LAST_RESORT = "last_resort"
    UNALLOCABLE = "unallocable"

    @property
    def rank(self) -> int:
        return list(AllocPolicy).index(self)


class FailMode(enum.Enum):
    """Why a placement was refused (Ganeti's ``FailMode``, same order)."""

    MEM = "FailMem"
    DISK = "FailDisk"
    CPU = "FailCPU"
    N1 = "FailN1"
    TAGS = "FailTags"
    DISKCOUNT = "FailDiskCount"
    SPINDLES = "FailSpindles"
    INTERNAL = "FailInternal"
    MIG = "FailMig"


@dataclass(frozen=True)
class ISpec:
    """An instance spec: sizes in MiB, counts as integers."""

    mem_size: int
    cpu_count: int
    disk_size: int
    disk_count: int
    nic_count: int
    spindle_use: int

    def serialize(self) -> str:
        return ",".join(str(v) for v in (self.mem_size, self.cpu_count, self.disk_size,
                                         self.disk_count, self.nic_count, self.spindle_use))


@dataclass(frozen=True)
class MinMaxISpecs:
    min: ISpec
    max: ISpec


DEF_MIN_SPEC = ISpec(128, 1, 1024, 1, 1, 1)
DEF_MAX_SPEC = ISpec(32768, 8, 1024 * 1024, 16, 8, 12)
DEF_STD_SPEC = ISpec(128, 1, 1024, 1, 1, 1)


@dataclass(frozen=True)
class IPolicy:
    """Instance policy of the cluster or of a node group."""

    minmax: tuple[MinMaxISpecs, ...] = (MinMaxISpecs(DEF_MIN_SPEC, DEF_MAX_SPEC),)
    std: ISpec = DEF_STD_SPEC
    disk_templates: tuple[DiskTemplate, ...] = tuple(DiskTemplate)
    vcpu_ratio: float = 4.0
    spindle_ratio: float = 32.0


DEFAULT_IPOLICY = IPolicy()


class MoveKind(enum.Enum):
    """Instance move types (Ganeti's ``IMove``)."""

    FAILOVER = "f"                    # swap primary and secondary
    FAILOVER_TO_ANY = "fa"            # shared storage: new primary anywhere
    REPLACE_PRIMARY = "f r f"         # f, r:np, f
    REPLACE_SECONDARY = "r"           # r:ns
    REPLACE_AND_FAILOVER = "r f"      # r:np, f
    FAILOVER_AND_REPLACE = "f r"      # f, r:ns


@dataclass(frozen=True)
class Move:
    """One move of one instance; ``target`` is a node index (-1 for FAILOVER)."""

    kind: MoveKind
    target: int = -1


@dataclass
class DynUtil:
    """Dynamic load (cpu, mem, disk, net); 1.0 each by default."""

    cpu: float = 1.0
    mem: float = 1.0
    dsk: float = 1.0
    net: float = 1.0

    def as_tuple(self) -> tuple[float, float, float, float]:
        return (self.cpu, self.mem, self.dsk, self.net)


@dataclass
class Placement:
    """A chosen move: instance index, new primary/secondary, move, score after."""

    inst: int
    new_pri: int
    new_sec: int
    move: Move
    score: float
    extra: dict[str, object] = field(default_factory=dict)


#: Base units used when shrinking specs (tiered allocation).
UNIT_MEM = 64
UNIT_DSK = 256
UNIT_CPU = 1
UNIT_SPINDLE = 1

NO_SECONDARY = -1
