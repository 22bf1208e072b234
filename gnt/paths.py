"""Every file path of gnt, derived from one root prefix.

``GNT_ROOT`` (default ``/``) prefixes every path, so several nodes can live
on one machine, each with its own root.  The layout below the root is
Ganeti's (``/var/lib/ganeti``, ``/var/run/ganeti``, ``/srv/ganeti/os``,
``/etc/ganeti/hooks``, ...) so existing plug-ins and hooks drop in.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path

ENV_ROOT = "GNT_ROOT"


class Paths:
    """All paths under one root.  Attribute names follow Ganeti's pathutils.

    (A plain class, not a dataclass: every ``gnt-*`` command loads this
    module, and ``dataclasses`` costs a few milliseconds to import.)
    """

    def __init__(self, root: Path) -> None:
        self.root = root

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Paths) and other.root == self.root

    def __hash__(self) -> int:
        return hash(self.root)

    def __repr__(self) -> str:
        return f"Paths(root={self.root!r})"

    def _p(self, rel: str) -> Path:
        return self.root / rel.lstrip("/")

    # --- directories ---
    @cached_property
    def data_dir(self) -> Path:
        return self._p("/var/lib/ganeti")

    @cached_property
    def run_dir(self) -> Path:
        return self._p("/var/run/ganeti")

    @cached_property
    def log_dir(self) -> Path:
        return self._p("/var/log/ganeti")

    @cached_property
    def conf_dir(self) -> Path:
        return self._p("/etc/ganeti")

    @cached_property
    def socket_dir(self) -> Path:
        return self.run_dir / "socket"

    @cached_property
    def queue_dir(self) -> Path:
        return self.data_dir / "queue"

    @cached_property
    def queue_archive_dir(self) -> Path:
        return self.queue_dir / "archive"

    @cached_property
    def hooks_dir(self) -> Path:
        return self.conf_dir / "hooks"

    @cached_property
    def os_search_path(self) -> list[Path]:
        return [self._p("/srv/ganeti/os")]

    @cached_property
    def es_search_path(self) -> list[Path]:
        return [self._p("/srv/ganeti/extstorage")]

    @cached_property
    def default_file_storage_dir(self) -> Path:
        return self._p("/srv/ganeti/file-storage")

    @cached_property
    def default_shared_file_storage_dir(self) -> Path:
        return self._p("/srv/ganeti/shared-file-storage")

    @cached_property
    def file_storage_paths_file(self) -> Path:
        return self.conf_dir / "file-storage-paths"

    @cached_property
    def os_log_dir(self) -> Path:
        return self.log_dir / "os"

    @cached_property
    def kvm_run_dir(self) -> Path:
        return self.run_dir / "kvm-hypervisor"

    @cached_property
    def fake_run_dir(self) -> Path:
        return self.run_dir / "fake-hypervisor"

    @cached_property
    def instance_disks_dir(self) -> Path:
        return self.run_dir / "instance-disks"

    @cached_property
    def etc_hosts(self) -> Path:
        return self._p("/etc/hosts")

    # --- files ---
    @cached_property
    def cluster_conf_file(self) -> Path:
        return self.data_dir / "config.data"

    @cached_property
    def noded_cert_file(self) -> Path:
        return self.data_dir / "server.pem"

    @cached_property
    def cluster_cert_rollover_file(self) -> Path:
        """The next cluster certificate (no key), trusted alongside ``server.pem``
        while ``gnt-cluster renew-crypto`` rolls it out."""
        return self.data_dir / "server-rollover.pem"

    @cached_property
    def noded_client_cert_file(self) -> Path:
        return self.data_dir / "client.pem"

    @cached_property
    def rapi_cert_file(self) -> Path:
        return self.data_dir / "rapi.pem"

    @cached_property
    def confd_hmac_key(self) -> Path:
        return self.data_dir / "hmac.key"

    @cached_property
    def cluster_domain_secret_file(self) -> Path:
        return self.data_dir / "cluster-domain-secret"

    @cached_property
    def luxi_socket(self) -> Path:
        return self.socket_dir / "ganeti-query"

    @cached_property
    def job_queue_serial_file(self) -> Path:
        return self.queue_dir / "serial"

    @cached_property
    def job_queue_drain_file(self) -> Path:
        return self.queue_dir / "drain"

    def ssconf_file(self, key: str) -> Path:
        """``ssconf_<key>`` in the data dir."""
        return self.data_dir / f"ssconf_{key}"

    def daemon_pid_file(self, daemon: str) -> Path:
        return self.run_dir / f"{daemon}.pid"

    def daemon_log_file(self, daemon: str) -> Path:
        return self.log_dir / f"{daemon}.log"

    # --- instance networking (gnt.network, gnt.hypervisor.kvm.network) ---
    @cached_property
    def network_scripts_dir(self) -> Path:
        """Site NIC scripts: ``<dir>/<mode>/{up,down}`` override the built-in setup."""
        return self.conf_dir / "network"

    @cached_property
    def kvm_ifup_custom(self) -> Path:
        """Ganeti's whole-replacement KVM NIC up script (``kvm-ifup-custom``)."""
        return self.conf_dir / "kvm-ifup-custom"

    @cached_property
    def kvm_ifdown_custom(self) -> Path:
        """Ganeti's KVM NIC down script (``kvm-ifdown-custom``)."""
        return self.conf_dir / "kvm-ifdown-custom"

    @cached_property
    def kvm_nic_dir(self) -> Path:
        """``<dir>/<instance>/<nic index>`` holds the name of that NIC's tap device."""
        return self.kvm_run_dir / "nic"

    def under_root(self, path: str | Path) -> Path:
        """Map an absolute cluster path (e.g. a file storage dir) under the root."""
        return self._p(str(path))

    def cluster_path(self, path: str | Path) -> str:
        """Inverse of :meth:`under_root`: the absolute cluster path of a file
        under this root (how other nodes name it)."""
        return "/" + str(Path(path).relative_to(self.root))


_cache: dict[str, Paths] = {}


def get() -> Paths:
    """The paths for the current ``GNT_ROOT`` (read at each call, cached per root)."""
    root = os.environ.get(ENV_ROOT) or "/"
    p = _cache.get(root)
    if p is None:
        p = _cache[root] = Paths(Path(root).resolve())
    return p
