"""Installing renewed cluster crypto on a node (``gnt-cluster renew-crypto``).

The running server's TLS material is reloaded in place: connections made
afterwards use the new certificate and trust, open ones are not dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from gnt import errors, paths
from gnt.noded.procs.basic import check_file_writes
from gnt.noded.registry import procedure
from gnt.utils.io import atomic_write

log = logging.getLogger(__name__)

#: set by the node daemon: reloads its server TLS context from the files
reload_hook: Callable[[], None] | None = None


def crypto_files(p: paths.Paths | None = None) -> set[Path]:
    """The files ``crypto_update`` may write or remove."""
    p = p or paths.get()
    return {p.noded_cert_file, p.cluster_cert_rollover_file, p.rapi_cert_file,
            p.confd_hmac_key, p.cluster_domain_secret_file}


@procedure("crypto_update")
def crypto_update(files: dict[str, list[object]], remove: list[str]) -> None:
    """Write ``files`` (``{cluster path: [base64 content, mode]}``), remove the
    files in ``remove``, then reload the node daemon's TLS material.

    Only the cluster crypto files are accepted; everything is checked before
    anything changes.  Raises :class:`errors.OpPrereqError` otherwise.
    """
    p = paths.get()
    allowed = crypto_files(p)
    writes = check_file_writes(files, allowed, "is not a cluster crypto file")
    removes = [p.under_root(n) for n in remove]
    for target in removes:
        if target not in allowed or target == p.noded_cert_file:
            raise errors.OpPrereqError(f"{target} may not be removed", errors.ECODE_INVAL)
    for target, data, mode in writes:
        atomic_write(target, data, mode=mode)
    for target in removes:
        target.unlink(missing_ok=True)
    if reload_hook is not None:
        reload_hook()
    log.info("Crypto updated: wrote %s, removed %s", [str(w[0]) for w in writes],
             [str(r) for r in removes])
