"""Building blocks for integration tests: node roots and running node daemons.

- :class:`NodeRoot`: one node's ``GNT_ROOT`` with its name, its 127.0.21.x
  address in ``<root>/etc/hosts`` and the cluster certificate installed;
- :class:`Noded`: a real ``gnt-noded`` process for a node root;
- fixtures ``cluster_cert`` (one certificate per test session),
  ``node_root`` (nodeA.gnt.test), ``noded`` (running on it) and ``rpc``
  (an RPC client holding the cluster certificate).
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from gnt import constants, paths
from gnt.crypto import CertBundle, generate_self_signed, write_bundle
from gnt.daemon import control
from gnt.devcluster import wait_for
from gnt.rpc import RpcClient

REPO = Path(__file__).resolve().parents[2]
LOOPBACK_PREFIX = "127.0.21."  # unusual enough not to clash with other tests
NODED_NAME = "ganeti-noded"
NODED_CMD = [sys.executable, "-m", "gnt.noded.daemon"]

_used_ips: set[str] = set()


def free_loopback_ip(port: int = constants.DEFAULT_NODED_PORT) -> str:
    """A 127.0.21.x address where ``port`` is free and that this session has not used."""
    candidates = [f"{LOOPBACK_PREFIX}{i}" for i in range(2, 255)]
    random.shuffle(candidates)
    for ip in candidates:
        if ip in _used_ips:
            continue
        with socket.socket() as s:
            try:
                s.bind((ip, port))
            except OSError:
                continue
        _used_ips.add(ip)
        return ip
    raise RuntimeError(f"no free {LOOPBACK_PREFIX}x address for port {port}")


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.02):  # type: ignore[no-untyped-def]
    """Poll ``predicate`` until truthy; returns its value or fails the test."""
    return wait_for(predicate, timeout, interval)


@dataclass
class NodeRoot:
    """One node's root: ``name`` resolves to ``ip`` through ``<root>/etc/hosts``."""

    name: str
    ip: str
    root: Path
    hosts: dict[str, str] = field(default_factory=dict)

    @property
    def paths(self) -> paths.Paths:
        return paths.Paths(self.root.resolve())

    @property
    def cert_file(self) -> Path:
        return self.paths.noded_cert_file

    def env(self, **extra: str) -> dict[str, str]:
        """The environment of a process acting as this node."""
        env = dict(os.environ)
        env.update({"GNT_ROOT": str(self.root), "GNT_HOSTNAME": self.name,
                    "PATH": f"{Path(sys.executable).parent}:{env.get('PATH', '')}"})
        env.update(extra)
        return env

    def write_hosts(self, hosts: Mapping[str, str] | None = None) -> None:
        """Write ``<root>/etc/hosts`` for this node plus ``hosts`` (name -> ip)."""
        self.hosts = {self.name: self.ip, **(hosts or {})}
        lines = [f"{ip} {name} {name.split('.')[0]}" for name, ip in self.hosts.items()]
        self.paths.etc_hosts.parent.mkdir(parents=True, exist_ok=True)
        self.paths.etc_hosts.write_text("\n".join(lines) + "\n")


def make_node_root(root: Path, name: str, cert: CertBundle | None,
                   ip: str | None = None, hosts: Mapping[str, str] | None = None) -> NodeRoot:
    """Create a node root at ``root``: hosts file and (unless None) the cluster cert."""
    node = NodeRoot(name, ip or free_loopback_ip(), root)
    root.mkdir(parents=True, exist_ok=True)
    node.write_hosts(hosts)
    if cert is not None:
        write_bundle(node.cert_file, cert)
    return node


@dataclass
class Noded:
    """A ``gnt-noded`` process serving a :class:`NodeRoot`."""

    node: NodeRoot
    port: int = constants.DEFAULT_NODED_PORT

    @property
    def pid_file(self) -> Path:
        return self.node.paths.daemon_pid_file(NODED_NAME)

    @property
    def log_file(self) -> Path:
        return self.node.paths.daemon_log_file("node-daemon")

    @property
    def pid(self) -> int | None:
        return control.daemon_pid(NODED_NAME, self.node.paths)

    def start(self, *args: str, check: bool = True, timeout: float = 60
              ) -> subprocess.CompletedProcess[str]:
        """Run ``gnt-noded`` (it detaches and returns once serving)."""
        argv = [*NODED_CMD, "--port", str(self.port), *args]
        res = subprocess.run(argv, env=self.node.env(), capture_output=True, text=True,
                             timeout=timeout, cwd=REPO, check=False)
        if check and res.returncode != 0:
            raise AssertionError(f"gnt-noded failed ({res.returncode}): {res.stderr}")
        return res

    def stop(self, timeout: float = 10) -> bool:
        return control.stop_daemon(NODED_NAME, timeout, self.node.paths)

    def kill(self) -> None:
        """Last-resort cleanup."""
        pid = self.pid
        if pid:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


@pytest.fixture(scope="session")
def cluster_cert() -> CertBundle:
    """The cluster certificate (one per session: key generation costs time)."""
    return generate_self_signed()


@pytest.fixture
def node_root(tmp_path: Path, cluster_cert: CertBundle) -> NodeRoot:
    """nodeA.gnt.test on a fresh 127.0.21.x address, with the cluster certificate."""
    return make_node_root(tmp_path / "nodeA", "nodeA.gnt.test", cluster_cert)


@pytest.fixture
def noded(node_root: NodeRoot) -> Iterator[Noded]:
    """A running ``gnt-noded`` for ``node_root``, stopped after the test."""
    d = Noded(node_root)
    d.start()
    try:
        yield d
    finally:
        try:
            d.stop()
        finally:
            d.kill()


@pytest.fixture
def rpc(node_root: NodeRoot) -> Iterator[RpcClient]:
    """An RPC client presenting ``node_root``'s cluster certificate."""
    client = RpcClient(cert_file=node_root.cert_file)
    try:
        yield client
    finally:
        client.close()
