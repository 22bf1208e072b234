"""``gnt-node add NODE`` over SSH (no join token on the command line).

Each node that is to be reached over SSH gets its own real OpenSSH server
(``/usr/sbin/sshd -D``) listening only on the node's 127.x address, port 22,
root login by key only, host key and ``authorized_keys`` in a temporary
directory.  The server's ``SetEnv`` gives the session the node's
``GNT_ROOT``/``GNT_HOSTNAME`` and a PATH with ``gnt-noded``: for the master,
that session is exactly "another host where gnt is installed".

The master uses its own SSH material (``<data_dir>/ssh/id_ed25519``,
``<data_dir>/known_hosts``), never ``~/.ssh``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from gnt.devcluster import VENV_BIN
from tests.support.cluster import TestCluster, wait_for

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(os.geteuid() != 0 or not Path("/usr/sbin/sshd").exists(),
                       reason="needs root and openssh-server (tools/install-deps.sh)"),
]

NODES = ["node1", "node2", "node3"]
SSHD = "/usr/sbin/sshd"


class Sshd:
    """A private sshd for one node: ``start``/``stop``; files in ``dir``."""

    def __init__(self, c: TestCluster, node: str, dir: Path) -> None:
        self.c, self.node, self.dir = c, node, dir
        self.address = c.address(node)
        self.authorized_keys = dir / "authorized_keys"
        self.proc: subprocess.Popen[bytes] | None = None
        dir.mkdir(parents=True, exist_ok=True)
        os.chmod(dir, 0o700)
        self.host_key = dir / "ssh_host_ed25519_key"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(self.host_key)],
                       check=True)
        self.authorized_keys.write_text("")
        self.authorized_keys.chmod(0o600)
        env_path = f"{VENV_BIN}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        self.config = dir / "sshd_config"
        self.config.write_text("\n".join([
            f"ListenAddress {self.address}:22",
            f"HostKey {self.host_key}",
            f"PidFile {dir / 'sshd.pid'}",
            f"AuthorizedKeysFile {self.authorized_keys}",
            "PermitRootLogin prohibit-password",
            "AllowUsers root",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "UsePAM no",
            "StrictModes no",  # the temporary directory's parents are world-writable (/tmp)
            "X11Forwarding no",
            "AllowTcpForwarding no",
            "LogLevel VERBOSE",
            f"SetEnv GNT_ROOT={c.node_root(node)} GNT_HOSTNAME={c.fqdn(node)} PATH={env_path}",
        ]) + "\n")

    def start(self) -> None:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation dir
        self.log = open(self.dir / "sshd.log", "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(self.config)],
                                     stdout=self.log, stderr=subprocess.STDOUT)

        def listening() -> bool:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"sshd exited: {(self.dir / 'sshd.log').read_text()}")
            with socket.socket() as s:
                s.settimeout(0.5)
                return s.connect_ex((self.address, 22)) == 0

        wait_for(listening, timeout=15)

    def authorize(self, pubkey_file: Path) -> None:
        self.authorized_keys.write_text(pubkey_file.read_text())

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
            self.log.close()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestCluster]:
    c = TestCluster(tmp_path_factory.mktemp("joinssh"), nodes=list(NODES), instances=[])
    try:
        c.init("--enabled-hypervisors", "fake", "--enabled-disk-templates", "diskless")
        yield c
    finally:
        c.destroy()


def _nodes(c: TestCluster) -> set[str]:
    return {c.short(n) for n in c.ok("gnt-node", "list", "--no-headers", "-o", "name").split()}


def _noded_listening(c: TestCluster, node: str) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((c.address(node), 1811)) == 0


def _master_ssh(c: TestCluster) -> tuple[Path, Path]:
    data = c.node_root(c.master_node) / "var/lib/ganeti"
    return data / "ssh" / "id_ed25519", data / "known_hosts"


def test_join_over_ssh(cluster: TestCluster, tmp_path: Path) -> None:
    c = cluster
    sshd = Sshd(c, "node2", tmp_path / "sshd-node2")
    sshd.start()
    try:
        # the master has no key yet: gnt-node add creates it and says what to authorize
        res = c.run("gnt-node", "add", c.fqdn("node2"))
        identity, known_hosts = _master_ssh(c)
        assert res.code != 0
        assert "not reachable over SSH" in res.err + res.out
        assert str(identity) + ".pub" in res.err + res.out
        assert identity.exists() and (identity.parent / "id_ed25519.pub").exists()
        assert oct(identity.stat().st_mode & 0o777) == "0o600"
        assert "node2" not in _nodes(c)
        assert not _noded_listening(c, "node2")

        sshd.authorize(identity.parent / "id_ed25519.pub")
        out = c.ok("gnt-node", "add", c.fqdn("node2"))
        assert "in join mode over SSH" in out
        assert "node2" in _nodes(c)
        # the node's host key was recorded in gnt's own known_hosts, not ~/.ssh
        recorded = known_hosts.read_text()
        host_pub = (sshd.dir / "ssh_host_ed25519_key.pub").read_text().split()[1]
        assert sshd.address in recorded and host_pub in recorded
        # the node daemon runs in normal mode with the cluster's certificate
        node_cert = c.node_root("node2") / "var/lib/ganeti/server.pem"
        master_cert = c.node_root("node1") / "var/lib/ganeti/server.pem"
        assert node_cert.read_bytes() == master_cert.read_bytes()
        roles = c.ok("gnt-node", "list", "--no-headers", "--separator=|", "-o", "name,role")
        assert f"{c.fqdn('node2')}|C" in roles.split()
        verify = c.run("gnt-cluster", "verify")
        assert verify.code == 0, verify.out + verify.err
        # the SSH server really ran the session with key authentication as root
        log = (sshd.dir / "sshd.log").read_text()
        assert "Accepted publickey for root" in log
        # no join token ever appeared on a command line: the ssh argv has no token
        assert "--join-token " not in log
    finally:
        sshd.stop()


def test_join_over_ssh_fails_cleanly(cluster: TestCluster, tmp_path: Path) -> None:
    c = cluster
    # 1. no SSH server at all: connection refused
    res = c.run("gnt-node", "add", c.fqdn("node3"))
    assert res.code != 0
    text = res.err + res.out
    assert "not reachable over SSH as root" in text
    assert "--join-token" in text  # tells the other way
    assert "Traceback" not in text
    assert "node3" not in _nodes(c)

    # 2. an SSH server whose host key changed since gnt recorded it: refused
    identity, known_hosts = _master_ssh(c)
    sshd = Sshd(c, "node3", tmp_path / "sshd-node3")
    sshd.authorize(identity.parent / "id_ed25519.pub")
    with known_hosts.open("a") as f:  # a different key recorded for node3's address
        other = (tmp_path / "other")
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)],
                       check=True)
        f.write(f"{sshd.address} {' '.join(Path(str(other) + '.pub').read_text().split()[:2])}\n")
    sshd.start()
    try:
        res = c.run("gnt-node", "add", c.fqdn("node3"))
        assert res.code != 0
        text = res.err + res.out
        assert "not reachable over SSH" in text and "Traceback" not in text
        assert "node3" not in _nodes(c)
        assert not _noded_listening(c, "node3")
        assert "Accepted publickey" not in (sshd.dir / "sshd.log").read_text()
        # with the stale line gone, the same node joins
        known_hosts.write_text("".join(ln for ln in known_hosts.read_text().splitlines(True)
                                       if not ln.startswith(sshd.address + " ")))
        c.ok("gnt-node", "add", c.fqdn("node3"))
        assert "node3" in _nodes(c)
        wait_for(lambda: _noded_listening(c, "node3"), timeout=10)
    finally:
        sshd.stop()
    shutil.rmtree(tmp_path / "sshd-node3", ignore_errors=True)
