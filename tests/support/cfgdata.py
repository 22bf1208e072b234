"""Reading a test cluster's state in integration tests: its config.data, an
instance and its disks as stored, ``gnt-instance modify``'s change lines, and
ExtStorage providers that wrap the reference provider ``gnt-file``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gnt import constants as C
from tests.support.cluster import REPO, TestCluster

#: the reference ExtStorage provider shipped in the repo
PROVIDER = REPO / "extstorage" / "gnt-file"


def config(c: TestCluster) -> dict[str, Any]:
    """The master's config.data."""
    data: dict[str, Any] = json.loads((c.root / "var/lib/ganeti/config.data").read_text())
    return data


def instance(c: TestCluster, name: str) -> dict[str, Any]:
    """Instance ``name`` (short name) as stored."""
    return next(i for i in config(c)["instances"].values() if i["name"] == c.fqdn(name))


def instance_disks(c: TestCluster, name: str) -> list[dict[str, Any]]:
    """The disks of instance ``name`` as stored, in order."""
    cfg = config(c)
    return [cfg["disks"][u] for u in instance(c, name)["disks"]]


def changes(out: str) -> list[str]:
    """The `` - key -> value`` lines of ``gnt-instance modify``'s output."""
    return [ln.strip()[2:] for ln in out.splitlines() if ln.startswith(" - ")]


def wrapped_provider(c: TestCluster, name: str, prelude: str = "",
                     bodies: dict[str, str] | None = None) -> Path:
    """An ExtStorage provider ``name`` on the master node whose scripts run the
    shell ``prelude`` (``$0``'s action in ``$action``) then the reference
    provider's script, except the scripts whose whole body ``bodies`` gives."""
    d = c.node_root(c.master) / "srv/ganeti/extstorage" / name
    d.mkdir(parents=True)
    for s in C.ES_SCRIPTS_REQUIRED:
        body = (bodies or {}).get(s) or (
            f'#!/bin/sh\naction={s}\n{prelude}\nexec "{PROVIDER}/{s}" "$@"\n')
        (d / s).write_text(body)
        (d / s).chmod(0o755)
    (d / "parameters.list").write_text("")
    return d
