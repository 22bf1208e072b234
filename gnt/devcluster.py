"""A real gnt cluster under a temporary root on this machine.

Used by the demo, the integration/e2e tests and the benchmarks.  Each node
gets its own name and 127.x address in ``<root>/etc/hosts``; commands run as
real processes with ``GNT_ROOT``/``GNT_HOSTNAME`` set, so daemons, sockets
and files are exactly those of a real installation.
"""

from __future__ import annotations

import os
import random
import secrets
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
GUEST_DIR = Path(os.environ.get("GNT_GUEST_DIR", REPO / ".cache" / "guest"))
#: instance policy bounds of test clusters: Ganeti's default maxima, minima low enough
#: for the tiny instances tests make (64 MiB disks, no NICs); see ``relaxed_ipolicy``
TEST_IPOLICY_BOUNDS = ("min:memory-size=1,cpu-count=1,disk-count=0,disk-size=1,nic-count=0,"
                       "spindle-use=0/max:memory-size=1048576,cpu-count=1024,disk-count=16,"
                       "disk-size=16777216,nic-count=8,spindle-use=12")


@dataclass
class CmdResult:
    argv: list[str]
    code: int
    out: str
    err: str

    def check(self) -> CmdResult:
        """Raise AssertionError (with the output) unless the command succeeded."""
        if self.code != 0:
            raise AssertionError(f"{' '.join(self.argv)} failed ({self.code}):\n"
                                 f"stdout:\n{self.out}\nstderr:\n{self.err}")
        return self


@dataclass
class LocalCluster:
    """Paths and names of a test cluster; ``run`` executes a gnt command on a node.

    Every node has its own root: the first node's is ``root`` itself, the
    others' ``root/nodes/<short name>``; all share ``root/shared`` as the
    shared file storage directory (what NFS would give).  ``master`` is the
    node the commands run on by default (it follows a master failover when
    the test says so).
    """

    __test__ = False

    root: Path
    domain: str = "gnt.test"
    nodes: list[str] = field(default_factory=lambda: ["node1"])
    net: str = field(default_factory=lambda: f"127.{random.randint(20, 250)}."
                     f"{random.randint(1, 250)}")
    instances: list[str] = field(default_factory=lambda: [f"inst{i}" for i in range(1, 21)])

    master_node: str = ""
    #: ``init`` sets :data:`TEST_IPOLICY_BOUNDS` unless the caller gives bounds;
    #: False keeps Ganeti's default policy (which refuses disks under 1 GiB)
    relaxed_ipolicy: bool = True

    def __post_init__(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.master_node = self.master_node or self.nodes[0]
        hosts = [f"{self.net}.1 cluster.{self.domain} cluster"]
        for i, n in enumerate(self.nodes):
            hosts.append(f"{self.net}.{10 + i} {n}.{self.domain} {n}")
        for i, n in enumerate(self.instances):
            hosts.append(f"{self.net}.{100 + i} {n}.{self.domain} {n}")
        (self.root / "shared").mkdir(exist_ok=True)
        for n in self.nodes:
            self._prepare_root(self.node_root(n), hosts)

    def _prepare_root(self, root: Path, hosts: list[str]) -> None:
        etc = root / "etc"
        etc.mkdir(parents=True, exist_ok=True)
        (etc / "hosts").write_text("\n".join(hosts) + "\n")
        os_dir = root / "srv/ganeti/os"
        os_dir.mkdir(parents=True, exist_ok=True)
        link = os_dir / "image"
        if not link.exists():
            link.symlink_to(REPO / "os" / "image")
        shared = root / "srv/ganeti/shared-file-storage"
        if not shared.exists():
            shared.symlink_to(self.root / "shared")
        # the reference ExtStorage provider (its volumes go to the shared dir)
        es_dir = root / "srv/ganeti/extstorage"
        es_dir.mkdir(parents=True, exist_ok=True)
        if not (es_dir / "gnt-file").exists():
            (es_dir / "gnt-file").symlink_to(REPO / "extstorage" / "gnt-file")

    def short(self, name: str) -> str:
        return name.split(".", 1)[0]

    def fqdn(self, name: str) -> str:
        return name if name.endswith("." + self.domain) else f"{name}.{self.domain}"

    def node_root(self, node: str) -> Path:
        """The root of ``node`` (short or full name)."""
        short = self.short(node)
        return self.root if short == self.nodes[0] else self.root / "nodes" / short

    def address(self, node: str) -> str:
        return f"{self.net}.{10 + self.nodes.index(self.short(node))}"

    @property
    def master(self) -> str:
        return self.fqdn(self.master_node)

    def env(self, node: str | None = None) -> dict[str, str]:
        env = dict(os.environ)
        name = self.fqdn(node) if node else self.master
        env["GNT_ROOT"] = str(self.node_root(name))
        env["GNT_HOSTNAME"] = name
        env["PATH"] = f"{VENV_BIN}:{env.get('PATH', '')}"
        return env

    def run(self, *argv: str, node: str | None = None, timeout: float = 300,
            input: str | None = None) -> CmdResult:
        res = subprocess.run(list(argv), env=self.env(node), capture_output=True, text=True,
                             timeout=timeout, input=input)
        return CmdResult(list(argv), res.returncode, res.stdout, res.stderr)

    def ok(self, *argv: str, **kw: object) -> str:
        return self.run(*argv, **kw).check().out  # type: ignore[arg-type]

    def init(self, *extra: str) -> None:
        policy: tuple[str, ...] = ()
        if self.relaxed_ipolicy and not any(a.startswith("--ipolicy-bounds-specs")
                                            for a in extra):
            policy = ("--ipolicy-bounds-specs", TEST_IPOLICY_BOUNDS)
        self.ok("gnt-cluster", "init", "--no-etc-hosts", "--no-ssh-init",
                "--master-netdev", "lo", *policy, *extra, f"cluster.{self.domain}")

    def start_join_mode(self, node: str) -> str:
        """Start ``node``'s daemon in join mode; returns the token."""
        token = secrets.token_urlsafe(32)
        self.run("gnt-noded", "--join-token-file", "-", node=node, input=token + "\n",
                 timeout=60).check()
        return token

    def add_node(self, node: str, *extra: str) -> str:
        """Join ``node`` through the token path; returns gnt-node add's output."""
        token = self.start_join_mode(node)
        return self.ok("gnt-node", "add", "--join-token", token, *extra, self.fqdn(node))

    def up(self, *init_extra: str) -> None:
        """Initialise the cluster on the first node and join every other one."""
        self.init(*init_extra)
        for n in self.nodes[1:]:
            self.add_node(n)

    def stop(self) -> None:
        """Stop every daemon and QEMU process of this cluster (best effort)."""
        for n in self.nodes:
            root = self.node_root(n)
            if not root.exists():
                continue
            self.run("gnt-daemon-util", "stop-all", node=n, timeout=60)
            run_dir = root / "var/run/ganeti"
            for pidfile in list(run_dir.glob("kvm-hypervisor/pid/*")):
                try:
                    os.kill(int(pidfile.read_text().split()[0]), 9)
                except (OSError, ValueError):
                    pass

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


def wait_for(predicate, timeout: float = 30, interval: float = 0.1):  # type: ignore[no-untyped-def]
    """Poll ``predicate`` until truthy; returns its value or raises AssertionError."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)
