"""``gnt-cluster renew-crypto``."""

from __future__ import annotations

import argparse
from pathlib import Path

from gnt import errors
from gnt.cli import options as O
from gnt.cli.base import ARGS_NONE, Command, get_client
from gnt.cli.confirm import ask_user
from gnt.cli.jobs import submit_opcode
from gnt.opcodes.cluster import OpClusterRenewCrypto


def _flag(name: str, dest: str, help: str) -> O.Option:
    return O.Option(name, dest=dest, default=False, action="store_true", help=help)


def _read(path: str | None, what: str) -> str | None:
    if path is None:
        return None
    try:
        return Path(path).read_text()
    except OSError as err:
        raise errors.OpPrereqError(f"Cannot read {what} from {path}: {err}",
                                   errors.ECODE_INVAL) from None


def renew_crypto(opts: argparse.Namespace, args: list[str]) -> int:
    op = OpClusterRenewCrypto(
        new_cluster_certificate=opts.new_cluster_cert,
        node_certificates=opts.new_node_certs,
        new_rapi_certificate=opts.new_rapi_cert,
        rapi_certificate=_read(opts.rapi_cert, "the RAPI certificate"),
        new_confd_hmac_key=opts.new_confd_hmac_key,
        new_cluster_domain_secret=opts.new_cluster_domain_secret,
        cluster_domain_secret=_read(opts.cluster_domain_secret, "the cluster domain secret"),
        ssh_keys=opts.new_ssh_keys)
    if not (op.new_cluster_certificate or op.node_certificates or op.new_rapi_certificate
            or op.rapi_certificate or op.new_confd_hmac_key or op.new_cluster_domain_secret
            or op.cluster_domain_secret or op.ssh_keys):
        raise errors.OpPrereqError("Nothing to renew; see the options of renew-crypto",
                                   errors.ECODE_INVAL)
    if not opts.force and not ask_user(
            "Updating certificates now. The cluster keeps running; a node that misses the"
            " update must be re-added afterwards. Continue?"):
        return 1
    submit_opcode(get_client(), op, opts)
    return 0


COMMANDS = {
    "renew-crypto": Command(renew_crypto, ARGS_NONE, [
        _flag("--new-cluster-certificate", "new_cluster_cert",
              "Generate a new cluster certificate"),
        _flag("--new-node-certificates", "new_node_certs",
              "Generate new node certificates (in gnt: the cluster certificate)"),
        _flag("--new-rapi-certificate", "new_rapi_cert",
              "Generate a new self-signed RAPI certificate"),
        O.Option("--rapi-certificate", dest="rapi_cert", default=None,
                 help="File containing new RAPI certificate (key and certificate, PEM)"),
        _flag("--new-confd-hmac-key", "new_confd_hmac_key", "Create a new HMAC key for confd"),
        _flag("--new-cluster-domain-secret", "new_cluster_domain_secret",
              "Create a new cluster domain secret"),
        O.Option("--cluster-domain-secret", dest="cluster_domain_secret", default=None,
                 help="Load new cluster domain secret from file"),
        _flag("--new-ssh-keys", "new_ssh_keys", "Renew the SSH keys (not managed by gnt)"),
        O.FORCE_OPT, *O.JOB_OPTS], "",
        "Generates new certificates and secret keys"),
}
