"""Where a dev cluster's node keeps a KVM instance's files (tests only)."""

from __future__ import annotations

import json

from tests.support.cluster import TestCluster


def serial_socket(c: TestCluster, node: str, inst: str) -> str:
    """The serial console socket of ``inst`` on ``node`` (from its runtime file)."""
    rt = c.node_root(node) / "var/run/ganeti/kvm-hypervisor/conf" / f"{c.fqdn(inst)}.runtime"
    return str(json.loads(rt.read_text())["serial"])


def serial_log(c: TestCluster, node: str, inst: str) -> str:
    """Everything ``inst`` wrote to its serial console on ``node`` ('' if nothing)."""
    f = c.node_root(node) / "var/log/ganeti/kvm" / f"{c.fqdn(inst)}.serial.log"
    return f.read_text(errors="replace") if f.exists() else ""
