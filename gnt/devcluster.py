"""A real gnt cluster under a temporary root on this machine.

Used by the demo, the integration/e2e tests and the benchmarks.  Each node
gets its own name and 127.x address in ``<root>/etc/hosts``; commands run as
real processes with ``GNT_ROOT``/``GNT_HOSTNAME`` set, so daemons, sockets
and files are exactly those of a real installation.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
GUEST_DIR = Path(os.environ.get("GNT_GUEST_DIR", REPO / ".cache" / "guest"))


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
    """Paths and names of a test cluster; ``run`` executes a gnt command on a node."""

    __test__ = False

    root: Path
    domain: str = "gnt.test"
    nodes: list[str] = field(default_factory=lambda: ["node1"])
    net: str = field(default_factory=lambda: f"127.{random.randint(20, 250)}."
                     f"{random.randint(1, 250)}")
    instances: list[str] = field(default_factory=lambda: [f"inst{i}" for i in range(1, 21)])

    def __post_init__(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        hosts = [f"{self.net}.1 cluster.{self.domain} cluster"]
        for i, n in enumerate(self.nodes):
            hosts.append(f"{self.net}.{10 + i} {n}.{self.domain} {n}")
        for i, n in enumerate(self.instances):
            hosts.append(f"{self.net}.{100 + i} {n}.{self.domain} {n}")
        etc = self.root / "etc"
        etc.mkdir(parents=True, exist_ok=True)
        (etc / "hosts").write_text("\n".join(hosts) + "\n")
        os_dir = self.root / "srv/ganeti/os"
        os_dir.mkdir(parents=True, exist_ok=True)
        link = os_dir / "image"
        if not link.exists():
            link.symlink_to(REPO / "os" / "image")

    def fqdn(self, name: str) -> str:
        return f"{name}.{self.domain}"

    @property
    def master(self) -> str:
        return self.fqdn(self.nodes[0])

    def env(self, node: str | None = None) -> dict[str, str]:
        env = dict(os.environ)
        env["GNT_ROOT"] = str(self.root)
        env["GNT_HOSTNAME"] = node or self.master
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
        self.ok("gnt-cluster", "init", "--no-etc-hosts", "--no-ssh-init",
                "--master-netdev", "lo", *extra, f"cluster.{self.domain}")

    def stop(self) -> None:
        """Stop every daemon and QEMU process of this cluster (best effort)."""
        self.run("gnt-daemon-util", "stop-all", timeout=60)
        run_dir = self.root / "var/run/ganeti"
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
