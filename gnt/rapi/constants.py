"""RAPI wire constants: names and field lists clients depend on (Ganeti's)."""

from __future__ import annotations

from gnt import constants as C

#: ``GET /version``
RAPI_VERSION = 2

#: HTTP Basic realm; also part of every ``{HA1}`` password hash.
AUTH_REALM = "Ganeti Remote API"

#: ``GET /2/features``: without these the reference client falls back to
#: legacy request formats or refuses.
FEATURE_INSTANCE_CREATE_REQV1 = "instance-create-reqv1"
FEATURE_INSTANCE_REINSTALL_REQV1 = "instance-reinstall-reqv1"
FEATURE_NODE_MIGRATE_REQV1 = "node-migrate-reqv1"
FEATURE_NODE_EVAC_RES1 = "node-evac-res1"
FEATURES = (FEATURE_INSTANCE_CREATE_REQV1, FEATURE_INSTANCE_REINSTALL_REQV1,
            FEATURE_NODE_MIGRATE_REQV1, FEATURE_NODE_EVAC_RES1)

#: Body key carrying the request format version (instance creation).
REQ_DATA_VERSION = "__version__"

#: Reason trail sources (Ganeti's): the user's ``?reason=`` and the resource.
REASON_SRC_USER = "gnt:user"
REASON_SRC_RLIB2 = "gnt:library:rlib2"

#: Seconds ``/2/jobs/<id>/wait`` waits for a change before answering ``null``.
WFJC_TIMEOUT = 10

# --- fields of bulk listings (``?bulk=1``) and single-item GETs ---
COMMON_FIELDS = ["ctime", "mtime", "uuid", "serial_no", "tags"]

INSTANCE_FIELDS = [
    "name", "admin_state", "os", "pnode", "snodes", "disk_template",
    "nic.ips", "nic.macs", "nic.modes", "nic.uuids", "nic.names", "nic.links",
    "nic.networks", "nic.networks.names", "nic.bridges", "network_port",
    "disk.sizes", "disk.spindles", "disk_usage", "disk.uuids", "disk.names",
    "beparams", "hvparams", "oper_state", "oper_ram", "oper_vcpus", "status",
    "custom_hvparams", "custom_beparams", "custom_nicparams",
] + COMMON_FIELDS

NODE_FIELDS = [
    "name", "offline", "master_candidate", "drained", "dtotal", "dfree", "sptotal",
    "spfree", "mtotal", "mnode", "mfree", "pinst_cnt", "sinst_cnt", "ctotal", "cnos",
    "cnodes", "csockets", "pip", "sip", "role", "pinst_list", "sinst_list",
    "master_capable", "vm_capable", "ndparams", "group.uuid",
] + COMMON_FIELDS

GROUP_FIELDS = [
    "alloc_policy", "name", "node_cnt", "node_list", "ipolicy", "custom_ipolicy",
    "diskparams", "custom_diskparams", "ndparams", "custom_ndparams",
] + COMMON_FIELDS

NETWORK_FIELDS = [
    "name", "network", "gateway", "network6", "gateway6", "mac_prefix", "free_count",
    "reserved_count", "map", "group_list", "inst_list", "external_reservations",
] + COMMON_FIELDS

FILTER_RULE_FIELDS = ["watermark", "priority", "predicates", "action", "reason_trail", "uuid"]

JOB_FIELDS_BULK = ["id", "ops", "status", "summary", "opstatus", "received_ts", "start_ts",
                   "end_ts"]
JOB_FIELDS = JOB_FIELDS_BULK + ["oplog", "opresult"]

#: Resources ``/2/query/<resource>`` accepts (Ganeti's query resources).
QUERY_RESOURCES = ("cluster", "instance", "node", "lock", "group", "os", "extstorage", "job",
                   "export", "network", "filter")

# --- node roles: query letter <-> RAPI word ---
NODE_ROLE_DRAINED = "drained"
NODE_ROLE_MASTER_CANDIDATE = "master-candidate"
NODE_ROLE_MASTER = "master"
NODE_ROLE_OFFLINE = "offline"
NODE_ROLE_REGULAR = "regular"
NODE_ROLE_WORDS = {
    C.NR_MASTER: NODE_ROLE_MASTER,
    C.NR_MCANDIDATE: NODE_ROLE_MASTER_CANDIDATE,
    C.NR_DRAINED: NODE_ROLE_DRAINED,
    C.NR_OFFLINE: NODE_ROLE_OFFLINE,
    C.NR_REGULAR: NODE_ROLE_REGULAR,
}

# --- tag kinds (Ganeti's TAG_*) ---
TAG_CLUSTER = "cluster"
TAG_NODE = "node"
TAG_INSTANCE = "instance"
TAG_NODEGROUP = "nodegroup"
TAG_NETWORK = "network"

#: Migration modes for the legacy ``?live=`` argument of node migration.
HT_MIGRATION_LIVE = "live"
HT_MIGRATION_NONLIVE = "non-live"

#: Cluster parameters RAPI may not set (``PUT /2/modify``), as in Ganeti.
CLUSTER_MODIFY_FORBIDDEN = ("compression_tools",)

#: Largest request body accepted, in bytes (a multi-allocation of a few
#: hundred instances fits comfortably).
MAX_BODY_SIZE = 4 * 1024 * 1024

#: Seconds a client has to send a whole request (headers and body), as
#: Ganeti's read timeout; slower clients get 408.
REQUEST_TIMEOUT = 10.0

#: Seconds an idle keep-alive connection is kept open.
KEEPALIVE_TIMEOUT = 5

#: Default number of requests handled at the same time (Ganeti's
#: ``--max-clients``); more wait for a free worker.
DEFAULT_MAX_CLIENTS = 20
