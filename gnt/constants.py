"""Fixed names and defaults shared by every part of gnt (Ganeti's values)."""

from __future__ import annotations

from typing import Any

RELEASE_VERSION = "0.1.0"
# Ganeti-compatible config version (3.0 -> 3000000); gnt writes this value.
CONFIG_VERSION = 3000000
OS_API_V20 = 20
OS_API_VERSIONS = frozenset({10, 15, 20})
PROTOCOL_VERSION = 3000000

# ports
DEFAULT_NODED_PORT = 1811
DEFAULT_CONFD_PORT = 1814
DEFAULT_MOND_PORT = 1815
DEFAULT_RAPI_PORT = 5080
FIRST_VNC_PORT = 5900  # Ganeti's VNC base port; network_port is allocated above it
VNC_BASE_PORT = 5900
DEFAULT_CONSOLE_PORT_POOL = (11000, 14999)  # cluster tcpudp_port_pool

# hypervisors
HT_KVM = "kvm"
HT_FAKE = "fake"
HYPER_TYPES = (HT_KVM, HT_FAKE)

# disk templates
DT_DISKLESS = "diskless"
DT_FILE = "file"
DT_SHARED_FILE = "sharedfile"
DT_PLAIN = "plain"
DT_DRBD8 = "drbd"
DT_BLOCK = "blockdev"
DT_RBD = "rbd"
DT_EXT = "ext"
DT_GLUSTER = "gluster"
DISK_TEMPLATES = (DT_DISKLESS, DT_FILE, DT_SHARED_FILE, DT_PLAIN, DT_DRBD8,
                  DT_BLOCK, DT_RBD, DT_EXT, DT_GLUSTER)
DTS_IMPLEMENTED: tuple[str, ...] = (DT_DISKLESS, DT_FILE, DT_SHARED_FILE, DT_EXT)  # creatable now
DTS_FILEBASED = (DT_FILE, DT_SHARED_FILE, DT_GLUSTER)
DTS_INT_MIRROR = (DT_DRBD8,)
DTS_EXT_MIRROR = (DT_DISKLESS, DT_SHARED_FILE, DT_BLOCK, DT_RBD, DT_EXT, DT_GLUSTER)

FD_LOOP = "loop"
FD_BLKTAP = "blktap"
FD_BLKTAP2 = "blktap2"
FILE_DRIVERS = (FD_LOOP, FD_BLKTAP, FD_BLKTAP2)
FD_DEFAULT = FD_LOOP

DISK_RDWR = "rw"
DISK_RDONLY = "ro"
DISK_ACCESS_SET = (DISK_RDWR, DISK_RDONLY)

# instance admin states and statuses
ADMINST_UP = "up"
ADMINST_DOWN = "down"
ADMINST_OFFLINE = "offline"
ADMINST_ALL = (ADMINST_UP, ADMINST_DOWN, ADMINST_OFFLINE)
ADMIN_SOURCE = "admin"
USER_SOURCE = "user"

INSTST_RUNNING = "running"
INSTST_ADMINDOWN = "ADMIN_down"
INSTST_ADMINOFFLINE = "ADMIN_offline"
INSTST_NODEOFFLINE = "ERROR_nodeoffline"
INSTST_NODEDOWN = "ERROR_nodedown"
INSTST_WRONGNODE = "ERROR_wrongnode"
INSTST_ERRORUP = "ERROR_up"
INSTST_ERRORDOWN = "ERROR_down"
INSTST_USERDOWN = "USER_down"

# job and opcode statuses
JOB_STATUS_QUEUED = "queued"
JOB_STATUS_WAITING = "waiting"
JOB_STATUS_CANCELING = "canceling"
JOB_STATUS_RUNNING = "running"
JOB_STATUS_CANCELED = "canceled"
JOB_STATUS_SUCCESS = "success"
JOB_STATUS_ERROR = "error"
JOBS_PENDING = (JOB_STATUS_QUEUED, JOB_STATUS_WAITING, JOB_STATUS_CANCELING)
JOBS_FINALIZED = (JOB_STATUS_CANCELED, JOB_STATUS_SUCCESS, JOB_STATUS_ERROR)
JOB_STATUS_ALL = JOBS_PENDING + (JOB_STATUS_RUNNING,) + JOBS_FINALIZED

OP_STATUS_QUEUED = "queued"
OP_STATUS_WAITING = "waiting"
OP_STATUS_CANCELING = "canceling"
OP_STATUS_RUNNING = "running"
OP_STATUS_CANCELED = "canceled"
OP_STATUS_SUCCESS = "success"
OP_STATUS_ERROR = "error"

# priorities (lower value = higher priority), as Ganeti
OP_PRIO_LOWEST = 19
OP_PRIO_HIGHEST = -20
OP_PRIO_LOW = 10
OP_PRIO_NORMAL = 0
OP_PRIO_HIGH = -10
OP_PRIO_DEFAULT = OP_PRIO_NORMAL
PRIORITY_NAMES = {"low": OP_PRIO_LOW, "normal": OP_PRIO_NORMAL, "high": OP_PRIO_HIGH}

# job log types
ELOG_MESSAGE = "message"
ELOG_REMOTE_IMPORT = "remote-import"
ELOG_JQUEUE_TEST = "jqueue-test"
ELOG_DELAY_TEST = "delay-test"

# query field kinds (Ganeti's QFT_*) and result statuses (RS_*) of Query answers:
# ``[status, value]`` per field
QFT_UNKNOWN = "unknown"
QFT_TEXT = "text"
QFT_BOOL = "bool"
QFT_NUMBER = "number"
QFT_NUMBER_FLOAT = "float"
QFT_UNIT = "unit"
QFT_TIMESTAMP = "timestamp"
QFT_OTHER = "other"
QFT_ALL = frozenset({QFT_UNKNOWN, QFT_TEXT, QFT_BOOL, QFT_NUMBER, QFT_NUMBER_FLOAT,
                     QFT_UNIT, QFT_TIMESTAMP, QFT_OTHER})
RS_NORMAL = 0
RS_UNKNOWN = 1  # unknown field
RS_NODATA = 2  # no data (e.g. node RPC failed)
RS_UNAVAIL = 3  # value not available for this item
RS_OFFLINE = 4  # resource marked offline
RS_ALL = frozenset({RS_NORMAL, RS_UNKNOWN, RS_NODATA, RS_UNAVAIL, RS_OFFLINE})

# node roles (one letter, as gnt-node list shows them)
NR_MASTER = "M"
NR_MCANDIDATE = "C"
NR_REGULAR = "R"
NR_DRAINED = "D"
NR_OFFLINE = "O"

# instance creation modes
INSTANCE_CREATE = "create"
INSTANCE_IMPORT = "import"
INSTANCE_REMOTE_IMPORT = "remote-import"

# reboot types
INSTANCE_REBOOT_SOFT = "soft"
INSTANCE_REBOOT_HARD = "hard"
INSTANCE_REBOOT_FULL = "full"
REBOOT_TYPES = (INSTANCE_REBOOT_SOFT, INSTANCE_REBOOT_HARD, INSTANCE_REBOOT_FULL)

DEFAULT_SHUTDOWN_TIMEOUT = 120  # seconds

# NIC modes
NIC_MODE_BRIDGED = "bridged"
NIC_MODE_ROUTED = "routed"
NIC_MODE_OVS = "openvswitch"
NIC_VALID_MODES = (NIC_MODE_BRIDGED, NIC_MODE_ROUTED, NIC_MODE_OVS)
VALUE_AUTO = "auto"
VALUE_GENERATE = "generate"
VALUE_NONE = "none"
VALUE_DEFAULT = "default"

DEFAULT_MAC_PREFIX = "aa:00:00"
DEFAULT_BRIDGE = "xen-br0"
DEFAULT_CANDIDATE_POOL_SIZE = 10
DEFAULT_MAX_RUNNING_JOBS = 20
DEFAULT_MAX_TRACKED_JOBS = 25
DEFAULT_ENABLED_HYPERVISOR = HT_KVM
DEFAULT_MASTER_NETDEV = "eth0"
DEFAULT_VG = "xenvg"

# ---------------------------------------------------------------------------
# parameter families: names, kinds and defaults

# kinds used by gnt.objects.params to check and coerce values
VTYPE_STRING = "string"
VTYPE_MAYBE_STRING = "maybe-string"
VTYPE_BOOL = "bool"
VTYPE_SIZE = "size"  # MiB, accepts unit suffixes
VTYPE_INT = "int"
VTYPE_FLOAT = "float"

BE_MAXMEM = "maxmem"
BE_MINMEM = "minmem"
BE_MEMORY = "memory"  # legacy name of maxmem (and minmem)
BE_VCPUS = "vcpus"
BE_AUTO_BALANCE = "auto_balance"
BE_ALWAYS_FAILOVER = "always_failover"
BE_SPINDLE_USE = "spindle_use"

BES_PARAMETER_TYPES: dict[str, str] = {
    BE_MAXMEM: VTYPE_SIZE,
    BE_MINMEM: VTYPE_SIZE,
    BE_VCPUS: VTYPE_INT,
    BE_AUTO_BALANCE: VTYPE_BOOL,
    BE_ALWAYS_FAILOVER: VTYPE_BOOL,
    BE_SPINDLE_USE: VTYPE_INT,
}
BEC_DEFAULTS: dict[str, Any] = {
    BE_MINMEM: 128,
    BE_MAXMEM: 128,
    BE_VCPUS: 1,
    BE_AUTO_BALANCE: True,
    BE_ALWAYS_FAILOVER: False,
    BE_SPINDLE_USE: 1,
}

NIC_MODE = "mode"
NIC_LINK = "link"
NIC_VLAN = "vlan"
NICS_PARAMETER_TYPES: dict[str, str] = {
    NIC_MODE: VTYPE_STRING,
    NIC_LINK: VTYPE_STRING,
    NIC_VLAN: VTYPE_MAYBE_STRING,
}
NICC_DEFAULTS: dict[str, Any] = {NIC_MODE: NIC_MODE_BRIDGED, NIC_LINK: DEFAULT_BRIDGE, NIC_VLAN: ""}

ND_OOB_PROGRAM = "oob_program"
ND_SPINDLE_COUNT = "spindle_count"
ND_EXCLUSIVE_STORAGE = "exclusive_storage"
ND_OVS = "ovs"
ND_OVS_NAME = "ovs_name"
ND_OVS_LINK = "ovs_link"
ND_SSH_PORT = "ssh_port"
ND_CPU_SPEED = "cpu_speed"
NDS_PARAMETER_TYPES: dict[str, str] = {
    ND_OOB_PROGRAM: VTYPE_STRING,
    ND_SPINDLE_COUNT: VTYPE_INT,
    ND_EXCLUSIVE_STORAGE: VTYPE_BOOL,
    ND_OVS: VTYPE_BOOL,
    ND_OVS_NAME: VTYPE_MAYBE_STRING,
    ND_OVS_LINK: VTYPE_MAYBE_STRING,
    ND_SSH_PORT: VTYPE_INT,
    ND_CPU_SPEED: VTYPE_FLOAT,
}
NDC_DEFAULTS: dict[str, Any] = {
    ND_OOB_PROGRAM: "",
    ND_SPINDLE_COUNT: 1,
    ND_EXCLUSIVE_STORAGE: False,
    ND_OVS: False,
    ND_OVS_NAME: "switch1",
    ND_OVS_LINK: "",
    ND_SSH_PORT: 22,
    ND_CPU_SPEED: 1.0,
}

# diskparams per template (Ganeti's names and defaults)
DISK_DT_TYPES: dict[str, dict[str, str]] = {
    DT_DRBD8: {
        "resync-rate": VTYPE_INT, "data-stripes": VTYPE_INT, "meta-stripes": VTYPE_INT,
        "metavg": VTYPE_STRING, "disk-barriers": VTYPE_STRING, "meta-barriers": VTYPE_BOOL,
        "dynamic-resync": VTYPE_BOOL, "c-plan-ahead": VTYPE_INT, "c-fill-target": VTYPE_INT,
        "c-delay-target": VTYPE_INT, "c-max-rate": VTYPE_INT, "c-min-rate": VTYPE_INT,
        "protocol": VTYPE_STRING, "disk-custom": VTYPE_STRING, "net-custom": VTYPE_STRING,
    },
    DT_PLAIN: {"stripes": VTYPE_INT},
    DT_RBD: {"pool": VTYPE_STRING, "access": VTYPE_STRING, "user-id": VTYPE_STRING},
    DT_EXT: {"access": VTYPE_STRING},
    DT_GLUSTER: {"host": VTYPE_STRING, "volume": VTYPE_STRING, "port": VTYPE_INT,
                 "access": VTYPE_STRING},
    DT_FILE: {}, DT_SHARED_FILE: {}, DT_BLOCK: {}, DT_DISKLESS: {},
}
DISK_DT_DEFAULTS: dict[str, dict[str, Any]] = {
    DT_DRBD8: {
        "resync-rate": 61440, "data-stripes": 1, "meta-stripes": 1, "metavg": DEFAULT_VG,
        "disk-barriers": "n", "meta-barriers": False, "dynamic-resync": False,
        "c-plan-ahead": 20, "c-fill-target": 0, "c-delay-target": 1, "c-max-rate": 61440,
        "c-min-rate": 4096, "protocol": "C", "disk-custom": "", "net-custom": "",
    },
    DT_PLAIN: {"stripes": 1},
    DT_RBD: {"pool": "rbd", "access": "kernelspace", "user-id": ""},
    DT_EXT: {"access": "kernelspace"},
    DT_GLUSTER: {"host": "127.0.0.1", "volume": "gv0", "port": 24007, "access": "kernelspace"},
    DT_FILE: {}, DT_SHARED_FILE: {}, DT_BLOCK: {}, DT_DISKLESS: {},
}

# ipolicy
ISPEC_MEM_SIZE = "memory-size"
ISPEC_CPU_COUNT = "cpu-count"
ISPEC_DISK_COUNT = "disk-count"
ISPEC_DISK_SIZE = "disk-size"
ISPEC_NIC_COUNT = "nic-count"
ISPEC_SPINDLE_USE = "spindle-use"
ISPECS_PARAMETERS = (ISPEC_MEM_SIZE, ISPEC_CPU_COUNT, ISPEC_DISK_COUNT, ISPEC_DISK_SIZE,
                     ISPEC_NIC_COUNT, ISPEC_SPINDLE_USE)
IPOLICY_DEFAULTS: dict[str, Any] = {
    "minmax": [{
        "min": {ISPEC_MEM_SIZE: 128, ISPEC_CPU_COUNT: 1, ISPEC_DISK_COUNT: 1,
                ISPEC_DISK_SIZE: 1024, ISPEC_NIC_COUNT: 1, ISPEC_SPINDLE_USE: 1},
        "max": {ISPEC_MEM_SIZE: 32768, ISPEC_CPU_COUNT: 8, ISPEC_DISK_COUNT: 16,
                ISPEC_DISK_SIZE: 1024 * 1024, ISPEC_NIC_COUNT: 8, ISPEC_SPINDLE_USE: 12},
    }],
    "std": {ISPEC_MEM_SIZE: 128, ISPEC_CPU_COUNT: 1, ISPEC_DISK_COUNT: 1,
            ISPEC_DISK_SIZE: 1024, ISPEC_NIC_COUNT: 1, ISPEC_SPINDLE_USE: 1},
    "disk-templates": list(DISK_TEMPLATES),
    "vcpu-ratio": 4.0,
    "spindle-ratio": 32.0,
}

# hypervisor parameters: see gnt.hypervisor.<hv>.PARAMETERS for each hypervisor
# (names, kinds and defaults live beside the code that uses them).

# limits used to reject absurd input early
MAX_DISK_SIZE_MIB = 16 * 1024 * 1024  # 16 TiB
MAX_MEMORY_MIB = 4 * 1024 * 1024  # 4 TiB
MAX_VCPUS = 1024
MAX_DISKS = 16
MAX_NICS = 8

SSCONF_KEYS = (
    "cluster_name", "cluster_tags", "file_storage_dir", "shared_file_storage_dir",
    "master_candidates", "master_candidates_ips", "master_ip", "master_netdev",
    "master_netmask", "master_node", "node_list", "node_primary_ips", "node_secondary_ips",
    "node_vm_capable", "offline_nodes", "online_nodes", "primary_ip_family", "instance_list",
    "release_version", "hypervisor_list", "maintain_node_health", "uid_pool", "nodegroups",
    "networks", "enabled_user_shutdown",
)

# ---------------------------------------------------------------------------
# tags (Ganeti's object kinds and limits)
TAG_CLUSTER = "cluster"
TAG_NODEGROUP = "nodegroup"
TAG_NODE = "node"
TAG_INSTANCE = "instance"
TAG_NETWORK = "network"
VALID_TAG_TYPES = (TAG_CLUSTER, TAG_NODEGROUP, TAG_NODE, TAG_INSTANCE, TAG_NETWORK)
MAX_TAG_LEN = 128
MAX_TAGS_PER_OBJ = 4096

# node group allocation policies
ALLOC_POLICY_PREFERRED = "preferred"
ALLOC_POLICY_LAST_RESORT = "last_resort"
ALLOC_POLICY_UNALLOCABLE = "unallocable"
VALID_ALLOC_POLICIES = (ALLOC_POLICY_PREFERRED, ALLOC_POLICY_LAST_RESORT,
                        ALLOC_POLICY_UNALLOCABLE)

# storage unit types (``gnt-node list-storage -t``) and the storage of each disk template
ST_FILE = "file"
ST_SHARED_FILE = "sharedfile"
ST_GLUSTER = "gluster"
ST_LVM_PV = "lvm-pv"
ST_LVM_VG = "lvm-vg"
ST_DISKLESS = "diskless"
ST_BLOCK = "blockdev"
ST_RADOS = "rados"
ST_EXT = "ext"
STORAGE_TYPES = (ST_FILE, ST_SHARED_FILE, ST_GLUSTER, ST_LVM_PV, ST_LVM_VG, ST_DISKLESS,
                 ST_BLOCK, ST_RADOS, ST_EXT)
#: storage types whose units can be listed and report their space
STS_REPORT_NODE_STORAGE = (ST_FILE, ST_SHARED_FILE, ST_LVM_PV, ST_LVM_VG)
MAP_DISK_TEMPLATE_STORAGE_TYPE: dict[str, str] = {
    DT_FILE: ST_FILE, DT_SHARED_FILE: ST_SHARED_FILE, DT_GLUSTER: ST_GLUSTER,
    DT_PLAIN: ST_LVM_VG, DT_DRBD8: ST_LVM_VG, DT_DISKLESS: ST_DISKLESS, DT_BLOCK: ST_BLOCK,
    DT_RBD: ST_RADOS, DT_EXT: ST_EXT,
}
# storage unit fields
SF_NODE = "node"
SF_TYPE = "type"
SF_NAME = "name"
SF_SIZE = "size"
SF_USED = "used"
SF_FREE = "free"
SF_ALLOCATABLE = "allocatable"
VALID_STORAGE_FIELDS = (SF_NODE, SF_TYPE, SF_NAME, SF_SIZE, SF_USED, SF_FREE, SF_ALLOCATABLE)

# --- hooks (Ganeti's hooks interface, doc/hooks.rst) ---
HOOKS_VERSION = 2
HOOKS_PHASE_PRE = "pre"
HOOKS_PHASE_POST = "post"
HOOKS_PHASES = (HOOKS_PHASE_PRE, HOOKS_PHASE_POST)
#: PATH given to hook scripts (their environment is cleared otherwise)
HOOKS_PATH = "/sbin:/bin:/usr/sbin:/usr/bin"
#: names of hook scripts (and other run-parts plug-ins) that are run
EXT_PLUGIN_MASK = r"^[a-zA-Z0-9_-]+$"
# per-script result codes of the hooks_runner procedure
HKR_SKIP = 0
HKR_FAIL = 1
HKR_SUCCESS = 2
# GANETI_OBJECT_TYPE values
HTYPE_CLUSTER = "CLUSTER"
HTYPE_NODE = "NODE"
HTYPE_GROUP = "GROUP"
HTYPE_INSTANCE = "INSTANCE"
HTYPE_NETWORK = "NETWORK"
# hook paths no opcode owns
HOOKS_NAME_CFGUPDATE = "config-update"
HOOKS_NAME_WATCHER = "watcher"
GLOBAL_HOOKS_DIR = "global"
# GANETI_IS_MASTER of global hooks
GLOBAL_HOOKS_MASTER = "master"
GLOBAL_HOOKS_NOT_MASTER = "not_master"
# GANETI_POST_STATUS of global post hooks
POST_HOOKS_STATUS_SUCCESS = "success"
POST_HOOKS_STATUS_ERROR = "error"
POST_HOOKS_STATUS_DISAPPEARED = "disappeared"
#: default time (seconds) one hook script may run before it is killed (gnt's
#: choice: Ganeti only bounds the whole hooks RPC); ``GNT_HOOKS_TIMEOUT`` in the
#: node daemon's environment overrides it
HOOKS_SCRIPT_TIMEOUT = 300

# --- ExtStorage interface (``ext`` disk template, gnt-storage) ---
# disk access modes (the ``access`` disk parameter of ext/rbd/gluster disks)
DISK_KERNELSPACE = "kernelspace"
DISK_USERSPACE = "userspace"
DISK_VALID_ACCESS_MODES = (DISK_KERNELSPACE, DISK_USERSPACE)
LDP_ACCESS = "access"
#: templates whose disks have the ``access`` parameter (Ganeti's DTS_HAVE_ACCESS)
DTS_HAVE_ACCESS = (DT_RBD, DT_EXT, DT_GLUSTER)
#: ``--disk`` keys of the ext template (the rest of the dict are provider params)
IDISK_PROVIDER = "provider"
IDISK_ACCESS = "access"
# ExtStorage provider scripts (actions) and files
ES_ACTION_CREATE = "create"
ES_ACTION_REMOVE = "remove"
ES_ACTION_GROW = "grow"
ES_ACTION_ATTACH = "attach"
ES_ACTION_DETACH = "detach"
ES_ACTION_SETINFO = "setinfo"
ES_ACTION_VERIFY = "verify"
ES_ACTION_SNAPSHOT = "snapshot"
ES_ACTION_OPEN = "open"
ES_ACTION_CLOSE = "close"
ES_SCRIPTS_REQUIRED = (ES_ACTION_CREATE, ES_ACTION_REMOVE, ES_ACTION_GROW, ES_ACTION_ATTACH,
                       ES_ACTION_DETACH, ES_ACTION_SETINFO, ES_ACTION_VERIFY)
ES_SCRIPTS_OPTIONAL = (ES_ACTION_SNAPSHOT, ES_ACTION_OPEN, ES_ACTION_CLOSE)
ES_SCRIPTS = ES_SCRIPTS_REQUIRED + ES_SCRIPTS_OPTIONAL
ES_PARAMETERS_FILE = "parameters.list"

# --- blockdev template (adoption of existing block devices) and instance policy ---
DTS_IMPLEMENTED = DTS_IMPLEMENTED + (DT_BLOCK,)
#: the only ``logical_id[0]`` of a blockdev disk (Ganeti's BLOCKDEV_DRIVER_MANUAL)
BLOCKDEV_DRIVER_MANUAL = "manual"
#: adopted block devices must be named below this directory (a cluster path;
#: Ganeti's ADOPTABLE_BLOCKDEV_ROOT: the persistent names udev makes)
ADOPTABLE_BLOCKDEV_ROOT = "/dev/disk/"
IDISK_ADOPT = "adopt"
#: templates whose disks may be adopted / must be adopted (Ganeti's sets)
DTS_MAY_ADOPT = (DT_PLAIN, DT_BLOCK)
DTS_MUST_ADOPT = (DT_BLOCK,)
# instance policy keys (Ganeti's names)
ISPECS_MIN = "min"
ISPECS_MAX = "max"
ISPECS_MINMAX = "minmax"
ISPECS_STD = "std"
ISPECS_MINMAX_KEYS = (ISPECS_MAX, ISPECS_MIN)
IPOLICY_DTS = "disk-templates"
IPOLICY_VCPU_RATIO = "vcpu-ratio"
IPOLICY_SPINDLE_RATIO = "spindle-ratio"
IPOLICY_PARAMETERS = (IPOLICY_VCPU_RATIO, IPOLICY_SPINDLE_RATIO)
IPOLICY_ALL_KEYS = (ISPECS_MINMAX, ISPECS_STD, IPOLICY_DTS) + IPOLICY_PARAMETERS

# migration modes (hvparam migration_mode, opcode "mode")
HT_MIGRATION_LIVE = "live"
HT_MIGRATION_NONLIVE = "non-live"
HT_MIGRATION_MODES = (HT_MIGRATION_LIVE, HT_MIGRATION_NONLIVE)

# OS list modifications (hidden_os/blacklisted_os of OP_CLUSTER_SET_PARAMS), Ganeti's DDM_*
DDM_ADD = "add"
DDM_REMOVE = "remove"
DDMS_VALUES = frozenset({DDM_ADD, DDM_REMOVE})

# --- instance modifications (gnt-instance modify, grow-disk, hotplug), Ganeti's names ---
#: device modification actions of OP_INSTANCE_SET_PARAMS ``disks``/``nics``
DDM_MODIFY = "modify"
DDM_ATTACH = "attach"
DDM_DETACH = "detach"
DDMS_ALL = (DDM_ADD, DDM_ATTACH, DDM_MODIFY, DDM_REMOVE, DDM_DETACH)
#: disk keys a ``--disk N:modify`` may change
MODIFIABLE_IDISK_PARAMS = ("mode", "name")
#: NIC keys of ``--net`` (ip, mac, name, network plus the nicparams)
INIC_KEYS = ("mac", "ip", "mode", "link", "vlan", "name", "network")
NIC_IP_POOL = "pool"
#: hotplug actions and targets (Ganeti's HOTPLUG_ACTION_* / HOTPLUG_TARGET_*)
HOTPLUG_ACTION_ADD = "hotadd"
HOTPLUG_ACTION_REMOVE = "hotremove"
HOTPLUG_ACTION_MODIFY = "hotmod"
HOTPLUG_TARGET_DISK = "disk"
HOTPLUG_TARGET_NIC = "nic"

# --- instance move (gnt-instance move) ---
#: disk templates ``move`` copies (Ganeti's DTS_COPYABLE: local, not shared between nodes)
DTS_COPYABLE = (DT_PLAIN, DT_FILE)

# Disk template conversion and detached disks (gnt-instance modify -t / --disk attach|detach)
DTS_LVM = (DT_PLAIN, DT_DRBD8)
DTS_NOT_CONVERTIBLE_FROM = (DT_DISKLESS,)
DTS_NOT_CONVERTIBLE_TO = (DT_DISKLESS, DT_BLOCK)
DTS_INSTANCE_DEPENDENT_PATH = (DT_FILE, DT_SHARED_FILE)
