"""``gnt-cluster renew-crypto``: replace the cluster's crypto material without downtime.

A new cluster certificate is rolled out in three rounds over every online
node, each node reloading its TLS material in place:

1. the new certificate is trusted next to the old one everywhere;
2. every node switches to presenting the new certificate (the master's
   RPC client last), while both are still trusted;
3. the old one is no longer trusted.

Instances keep running and no daemon restarts.  The RAPI certificate, the
confd HMAC key and the cluster domain secret are simply replaced on every
node.  A node that misses a round is named in a warning: it no longer
shares the cluster certificate and must be re-added (``gnt-node add
--readd --join-token``).
"""

from __future__ import annotations

import base64
from typing import Any

from gnt import errors, paths
from gnt.cmdlib.base import ALL_SET, FeedbackFn, Level, LogicalUnit
from gnt.crypto.cluster import SECRET_FILE_MODE, generate_secret
from gnt.crypto.x509 import CERT_FILE_MODE, generate_self_signed, parse_bundle
from gnt.opcodes.cluster import OpClusterRenewCrypto


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


class LUClusterRenewCrypto(LogicalUnit):
    OP = OpClusterRenewCrypto
    REQ_BGL = True
    op: OpClusterRenewCrypto

    def check_arguments(self) -> None:
        op = self.op
        if op.new_rapi_certificate and op.rapi_certificate:
            raise errors.OpPrereqError("Only one of --new-rapi-certificate and"
                                       " --rapi-certificate can be given", errors.ECODE_INVAL)
        if op.new_cluster_domain_secret and op.cluster_domain_secret:
            raise errors.OpPrereqError("Only one of --new-cluster-domain-secret and"
                                       " --cluster-domain-secret can be given",
                                       errors.ECODE_INVAL)
        self.rapi_pem: bytes | None = None
        if op.rapi_certificate is not None:
            bundle = parse_bundle(op.rapi_certificate.encode(), "the given RAPI certificate")
            self.rapi_pem = bundle.pem()
        if op.cluster_domain_secret is not None and (
                not op.cluster_domain_secret.strip() or "\n" in op.cluster_domain_secret.strip()):
            raise errors.OpPrereqError("The cluster domain secret must be one non-empty line",
                                       errors.ECODE_INVAL)

    def expand_names(self) -> None:
        self.needed_locks = {Level.NODE: ALL_SET}
        self.share_all()

    def _round(self, files: dict[str, list[Any]], remove: list[str], what: str) -> list[str]:
        nodes = [n for n in self.cfg.nodes.values() if not n.offline]
        results = self.ctx.rpc.call_many([n.uuid for n in nodes], "crypto_update",
                                         [files, remove], 60)
        failed = sorted(self.cfg.nodes[u].name for u, r in results.items() if r.fail_msg)
        for name in failed:
            self.log_warning(f"Node {name} missed {what}")
        return failed

    def exec(self, feedback: FeedbackFn) -> Any:
        op = self.op
        p = paths.get()
        name = p.cluster_path
        missed: set[str] = set()
        if op.new_cluster_certificate or op.node_certificates:
            bundle = generate_self_signed(self.cfg.cluster.cluster_name)
            feedback("Rolling out a new cluster certificate: trusting it on every node")
            missed.update(self._round(
                {name(p.cluster_cert_rollover_file): [_b64(bundle.cert_pem), CERT_FILE_MODE]},
                [], "the new certificate"))
            self.ctx.rpc.client.reload_certificates()
            feedback("Switching every node to the new cluster certificate")
            missed.update(self._round(
                {name(p.noded_cert_file): [_b64(bundle.pem()), CERT_FILE_MODE]}, [],
                "the switch to the new certificate"))
            self.ctx.rpc.client.reload_certificates()
            feedback("Retiring the old cluster certificate")
            missed.update(self._round({}, [name(p.cluster_cert_rollover_file)],
                                      "the retirement of the old certificate"))
            self.ctx.rpc.client.reload_certificates()
        files: dict[str, list[Any]] = {}
        if op.new_rapi_certificate or self.rapi_pem is not None:
            pem = self.rapi_pem or generate_self_signed(self.cfg.cluster.cluster_name).pem()
            files[name(p.rapi_cert_file)] = [_b64(pem), CERT_FILE_MODE]
        if op.new_confd_hmac_key:
            files[name(p.confd_hmac_key)] = [_b64((generate_secret() + "\n").encode()),
                                             SECRET_FILE_MODE]
        if op.new_cluster_domain_secret or op.cluster_domain_secret is not None:
            secret = (op.cluster_domain_secret or generate_secret()).strip()
            files[name(p.cluster_domain_secret_file)] = [_b64((secret + "\n").encode()),
                                                         SECRET_FILE_MODE]
        if files:
            feedback(f"Replacing {', '.join(sorted(files))} on every node")
            missed.update(self._round(files, [], "the new crypto files"))
        if op.ssh_keys:
            self.log_warning("gnt does not manage SSH keys; --new-ssh-keys changed nothing")
        if missed:
            self.log_warning("Re-add these nodes with 'gnt-node add --readd --join-token':"
                             f" {', '.join(sorted(missed))}")
        return None
