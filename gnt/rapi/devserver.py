"""A real ``gnt-rapi`` for a :class:`gnt.devcluster.LocalCluster`.

Used by the integration and compatibility tests and the benchmark: writes
the cluster's users file, (re)starts the daemon as a real process on the
master's address and gives HTTPS clients that trust the cluster's RAPI
certificate.  ``gnt-cluster init`` already starts one with the default
options; :meth:`RapiDaemon.start` replaces it with one started with the
test's options.
"""

from __future__ import annotations

import ssl
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from gnt import paths
from gnt.daemon import control
from gnt.devcluster import LocalCluster
from gnt.rapi.daemon import NAME

DAEMON_CMD = [sys.executable, "-m", "gnt.rapi.daemon"]


@dataclass
class RapiDaemon:
    """``gnt-rapi`` serving ``cluster`` on ``node``'s address (default: the
    master at the time of each call)."""

    __test__ = False

    cluster: LocalCluster
    port: int = 5080
    node: str | None = None

    @property
    def node_name(self) -> str:
        return self.cluster.fqdn(self.node) if self.node else self.cluster.master

    @property
    def root(self) -> Path:
        return self.cluster.node_root(self.node_name)

    @property
    def data_dir(self) -> Path:
        return self.root / "var/lib/ganeti"

    @property
    def users_file(self) -> Path:
        return self.data_dir / "rapi" / "users"

    @property
    def cert_file(self) -> Path:
        return self.data_dir / "rapi.pem"

    @property
    def pid_file(self) -> Path:
        return self.root / "var/run/ganeti" / f"{NAME}.pid"

    @property
    def log_file(self) -> Path:
        return self.root / "var/log/ganeti/rapi-daemon.log"

    @property
    def address(self) -> str:
        """The node's address (from the cluster's hosts file)."""
        hosts = (self.cluster.root / "etc/hosts").read_text().splitlines()
        for line in hosts:
            parts = line.split()
            if len(parts) >= 2 and self.node_name in parts[1:]:
                return parts[0]
        raise LookupError(f"{self.node_name} is not in the cluster's hosts file")

    @property
    def url(self) -> str:
        return f"https://{self.address}:{self.port}"

    def write_users(self, text: str) -> None:
        self.users_file.parent.mkdir(parents=True, exist_ok=True)
        self.users_file.write_text(text)

    def start(self, *args: str) -> None:
        """(Re)start the daemon with ``args`` (it detaches once it serves);
        raises RuntimeError on failure."""
        self.stop()
        res = subprocess.run([*DAEMON_CMD, "--port", str(self.port), *args],
                             env=self.cluster.env(self.node_name), capture_output=True,
                             text=True, timeout=60, check=False)
        if res.returncode != 0:
            raise RuntimeError(f"gnt-rapi failed to start ({res.returncode}): {res.stderr}")

    def stop(self) -> None:
        """Stop the daemon (SIGTERM, then SIGKILL after 10 s)."""
        control.stop_daemon(NAME, 10, paths.Paths(self.root.resolve()))

    def running(self) -> bool:
        """Whether the daemon holds its pid file."""
        return control.is_running(NAME, paths.Paths(self.root.resolve()))

    def pid(self) -> int | None:
        try:
            return int(self.pid_file.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def ssl_context(self) -> ssl.SSLContext:
        """Trusts the cluster's RAPI certificate (its name is not checked)."""
        ctx = ssl.create_default_context(cafile=str(self.cert_file))
        ctx.check_hostname = False
        return ctx

    def client(self, user: str | None = None, password: str | None = None,
               **kw: Any) -> httpx.Client:
        """An HTTPS client for this daemon (Basic auth when ``user`` is given)."""
        auth = (user, password or "") if user is not None else None
        return httpx.Client(base_url=self.url, verify=self.ssl_context(), auth=auth,
                            timeout=kw.pop("timeout", 60), **kw)
