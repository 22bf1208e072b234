"""``gnt-node add``: bring a node into the cluster.

Two ways to reach a new node (both end in the same join protocol, see
:mod:`gnt.noded.join`):

- **join token** (no SSH): the administrator started
  ``gnt-noded --join-token-file FILE`` on the node and passes the same
  token to ``gnt-node add --join-token``;
- **SSH** (Ganeti's way): without a token the master runs
  ``ssh root@NODE gnt-noded --join-token-file -`` with a fresh token on
  standard input, then joins as above.

A node whose daemon already answers with this cluster's certificate (a
``--readd`` of an intact node) just gets the files again.  The node is
written to the config only after it holds the cluster's files and its
daemon answers in normal mode; if that write fails it is told to leave.
"""

from __future__ import annotations

import base64
import logging
import time
import uuid as uuidlib
from typing import Any

from gnt import constants as C
from gnt import errors, hooks, netutils, paths
from gnt.cmdlib.base import ALL_SET, FeedbackFn, Level, LogicalUnit
from gnt.cmdlib.candidates import candidate_stats
from gnt.config.ssconf import compute_values
from gnt.crypto.cluster import SECRET_FILE_MODE
from gnt.crypto.joinproof import new_token
from gnt.crypto.x509 import CERT_FILE_MODE
from gnt.objects import ConfigData, Node
from gnt.objects.fill import fill_nd
from gnt.objects.params import check_params
from gnt.opcodes.node import OpNodeAdd
from gnt.rpc.join import JoinSession, ssh_start_join_mode

log = logging.getLogger(__name__)

NODED_UP_TIMEOUT = 30.0

# files every node gets: (path attribute of gnt.paths.Paths, mode)
_FILE_MODES: list[tuple[str, int]] = [
    ("rapi_cert_file", CERT_FILE_MODE),
    ("confd_hmac_key", SECRET_FILE_MODE),
    ("cluster_domain_secret_file", SECRET_FILE_MODE),
    ("noded_cert_file", CERT_FILE_MODE),
]


def cluster_files_payload(p: paths.Paths | None = None,
                          ancillary_only: bool = False) -> dict[str, list[Any]]:
    """The cluster-wide files as ``{cluster path: [base64 content, mode]}``.

    With ``ancillary_only``, without the cluster certificate (what
    ``gnt-cluster redist-conf`` pushes with ``upload_file``; the certificate
    changes only through ``renew-crypto``).  The RAPI users file is included
    when the master has one.
    """
    p = p or paths.get()
    out: dict[str, list[Any]] = {}
    for attr, mode in _FILE_MODES:
        if ancillary_only and attr == "noded_cert_file":
            continue
        f = getattr(p, attr)
        out[p.cluster_path(f)] = [base64.b64encode(f.read_bytes()).decode(), mode]
    users = p.data_dir / "rapi" / "users"
    if users.exists():
        out[p.cluster_path(users)] = [base64.b64encode(users.read_bytes()).decode(), 0o640]
    return out


class LUNodeAdd(LogicalUnit):
    OP = OpNodeAdd
    REQ_BGL = True
    op: OpNodeAdd
    HPATH = "node-add"
    HTYPE = C.HTYPE_NODE

    def build_hooks_env(self) -> dict[str, Any]:
        return {**hooks.node_env(self.node_name), "NODE_PIP": self.primary_ip,
                "NODE_SIP": self.secondary_ip, "MASTER_CAPABLE": self.op.master_capable,
                "VM_CAPABLE": self.op.vm_capable}

    def build_hooks_nodes(self) -> tuple[list[str], list[str]]:
        """The existing nodes (not the one being re-added); post adds the new one."""
        nl = hooks.all_nodes(self.cfg, exclude=[self.node_uuid])
        return nl, nl

    def prepare_post_hooks_nodes(self, nodes: list[str]) -> list[str]:
        return [*nodes, self.node_uuid]

    def check_arguments(self) -> None:
        host = netutils.resolve(self.op.node_name)
        self.node_name = host.name
        self.primary_ip = self.op.primary_ip or host.ip
        self.secondary_ip = self.op.secondary_ip or self.primary_ip
        for what, ip in (("primary", self.primary_ip), ("secondary", self.secondary_ip)):
            if not netutils.is_valid_ip4(ip):
                raise errors.OpPrereqError(f"Invalid {what} IP address '{ip}'",
                                           errors.ECODE_INVAL)
        if self.op.join_token is not None and len(self.op.join_token.strip()) < 16:
            raise errors.OpPrereqError("The join token must have at least 16 characters",
                                       errors.ECODE_INVAL)

    def expand_names(self) -> None:
        existing = self.cfg.node_by_name(self.node_name)
        self.node_uuid = existing.uuid if existing else str(uuidlib.uuid4())
        if existing is None:
            self.add_locks = {Level.NODE: [self.node_uuid], Level.NODE_RES: [self.node_uuid]}
        self.needed_locks = {Level.NODEGROUP: ALL_SET}  # the target group must not go away
        self.share_locks = {Level.NODEGROUP: True}

    def check_prereq(self) -> None:
        data = self.cfg
        existing = data.node_by_name(self.node_name)
        if existing is not None and not self.op.readd:
            raise errors.OpPrereqError(f"Node {self.node_name} is already in the cluster;"
                                       " use --readd to add it again", errors.ECODE_EXISTS)
        if existing is None and self.op.readd:
            raise errors.OpPrereqError(f"Node {self.node_name} is not in the cluster, so it"
                                       " cannot be re-added", errors.ECODE_NOENT)
        if existing is not None and existing.uuid == data.cluster.master_node:
            raise errors.OpPrereqError("The master node cannot be re-added",
                                       errors.ECODE_INVAL)
        for n in data.nodes.values():
            if n.name == self.node_name:
                continue
            if self.primary_ip in (n.primary_ip, n.secondary_ip) or \
                    self.secondary_ip in (n.primary_ip, n.secondary_ip):
                raise errors.OpPrereqError(
                    f"New node's IP addresses conflict with node {n.name}", errors.ECODE_NOTUNIQUE)
        if self.op.group:
            group = data.nodegroups.get(self.op.group) or data.group_by_name(self.op.group)
            if group is None:
                raise errors.OpPrereqError(f"Node group '{self.op.group}' not found",
                                           errors.ECODE_NOENT)
        elif existing is not None:
            group = data.get_group(existing.group)
        else:
            group = data.group_by_name("default") or min(
                data.nodegroups.values(), key=lambda g: g.name)
        self.group_uuid = group.uuid
        self.ndparams = check_params("node", C.NDS_PARAMETER_TYPES, self.op.ndparams or {})

    def _new_node(self, data: ConfigData) -> Node:
        old = data.nodes.get(self.node_uuid)
        master_capable = (self.op.master_capable if self.op.master_capable is not None
                          else (old.master_capable if old else True))
        vm_capable = (self.op.vm_capable if self.op.vm_capable is not None
                      else (old.vm_capable if old else True))
        current, _, _ = candidate_stats(data, exclude={self.node_uuid})
        candidate = master_capable and current < data.cluster.candidate_pool_size
        node = Node(uuid=self.node_uuid, name=self.node_name, primary_ip=self.primary_ip,
                    secondary_ip=self.secondary_ip, master_candidate=candidate,
                    group=self.group_uuid, master_capable=master_capable,
                    vm_capable=vm_capable,
                    ndparams={**(old.ndparams if old else {}), **self.ndparams})
        if old is not None:
            node.serial_no, node.ctime, node.tags = old.serial_no, old.ctime, old.tags
        return node

    def _cluster_rpc_version(self) -> int | None:
        res = self.ctx.rpc.client.call(self.primary_ip, "version", [], timeout=5,
                                       node_name=self.node_name)
        return None if res.fail_msg else res.data

    def _ndparams(self) -> dict[str, Any]:
        """The new node's filled node parameters (cluster -> group -> op)."""
        data = self.cfg
        return {**fill_nd(data.cluster, data.nodegroups.get(self.group_uuid), None),
                **self.ndparams}

    def _join(self, payload: dict[str, Any], feedback: FeedbackFn) -> None:
        token = self.op.join_token.strip() if self.op.join_token else None
        if token is None:
            feedback(f"Starting the node daemon of {self.node_name} in join mode over SSH")
            token = new_token()
            ssh_port = int(self._ndparams().get(C.ND_SSH_PORT, 22))
            ssh_start_join_mode(self.node_name, self.primary_ip, token, port=ssh_port)
        with JoinSession(self.node_name, self.primary_ip) as session:
            hello = session.hello(token)
            if hello.protocol_version != C.PROTOCOL_VERSION:
                raise errors.OpPrereqError(
                    f"Node {self.node_name} runs protocol version {hello.protocol_version}"
                    f" (release {hello.release}); this cluster needs {C.PROTOCOL_VERSION}",
                    errors.ECODE_ENVIRON)
            if hello.node_name != self.node_name:
                raise errors.OpPrereqError(
                    f"The node at {self.primary_ip} calls itself {hello.node_name}, not"
                    f" {self.node_name}", errors.ECODE_ENVIRON)
            feedback(f"Node {self.node_name} proved the join token; sending the cluster files")
            session.join(token, payload)

    def _wait_cluster_mode(self) -> None:
        deadline = time.monotonic() + NODED_UP_TIMEOUT
        while time.monotonic() < deadline:
            version = self._cluster_rpc_version()
            if version is not None:
                return
            time.sleep(0.2)
        raise errors.OpExecError(f"The node daemon on {self.node_name} did not come back"
                                 f" with the cluster certificate within {NODED_UP_TIMEOUT:g}s",
                                 errors.ECODE_ENVIRON)

    def exec(self, feedback: FeedbackFn) -> Any:
        data = self.cfg
        node = self._new_node(data)
        preview = data.model_copy(update={"nodes": {**data.nodes, node.uuid: node}})
        version = self._cluster_rpc_version()
        if version is not None:
            if version != C.PROTOCOL_VERSION:
                raise errors.OpPrereqError(
                    f"Node {self.node_name} runs protocol version {version}; this cluster"
                    f" needs {C.PROTOCOL_VERSION}", errors.ECODE_ENVIRON)
            if not self.op.readd:
                raise errors.OpPrereqError(
                    f"Node {self.node_name} already runs a node daemon of this cluster;"
                    " use --readd", errors.ECODE_STATE)
            feedback(f"Node {self.node_name} already has this cluster's certificate")
            # the node has the certificate (it answered with it): the other files again
            for name, (content, mode) in cluster_files_payload(ancillary_only=True).items():
                self.ctx.rpc.client.call(self.primary_ip, "upload_file", [name, content, mode],
                                         timeout=30, node_name=self.node_name
                                         ).raise_on_fail(f"Cannot upload {name}")
        else:
            cl = data.cluster
            self._join({"node_name": self.node_name, "files": cluster_files_payload(),
                        "ssconf": compute_values(preview),
                        "file_storage_dirs": [cl.file_storage_dir,
                                              cl.shared_file_storage_dir]}, feedback)
            self._wait_cluster_mode()
        try:
            if self.op.readd:
                old = data.nodes[node.uuid]
                for attr in ("primary_ip", "secondary_ip", "master_candidate", "group",
                             "master_capable", "vm_capable", "ndparams"):
                    setattr(old, attr, getattr(node, attr))
                old.offline = old.drained = False
                self.ctx.cfg.update(old)
            else:
                self.ctx.cfg.add_node(node)
        except BaseException:
            self.ctx.rpc.client.call(self.primary_ip, "node_leave_cluster", [], timeout=10)
            raise
        replicator = self.ctx.extra.get("replicator")
        if replicator is not None and node.master_candidate:
            feedback(f"Copying the configuration and job queue to {self.node_name}")
            if not replicator.resync(node.uuid):
                replicator.mark_stale(node.uuid)
                self.log_warning(f"Could not copy the job queue to {self.node_name} yet;"
                                 " it will be retried")
        feedback(f"Node {self.node_name} added"
                 f"{' as master candidate' if node.master_candidate else ''}")
        return None
