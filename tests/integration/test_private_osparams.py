"""Private and secret OS parameters (``--os-parameters-private``,
``--os-parameters-secret``) on a real one-node fake-hypervisor cluster.

An OS whose scripts record their environment shows what they get: every
public, private and secret parameter as ``OSP_<NAME>`` (Ganeti's OS API).
Private parameters are kept in the configuration but never shown by
``gnt-instance info``/``list`` (``modify`` reports them as ``<redacted>``);
secret ones reach the scripts of the one job and are stored nowhere.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cluster import TestCluster

pytestmark = pytest.mark.integration

RECORDER = """#!/bin/sh
rec="$(cd "$(dirname "$0")" && pwd)/records"
mkdir -p "$rec"
cat /proc/$$/environ > "$rec/$(basename "$0").env"
"""


@pytest.fixture(scope="module")
def cl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestCluster]:
    c = TestCluster(tmp_path_factory.mktemp("privosp"))
    try:
        d = c.node_root(c.nodes[0]) / "srv/ganeti/os/rec"
        d.mkdir(parents=True)
        (d / "ganeti_api_version").write_text("20\n")
        (d / "parameters.list").write_text("pub a public one\npriv a private one\n"
                                           "sec a secret one\n")
        for s in ("create", "import", "export", "rename", "verify"):
            (d / s).write_text(RECORDER)
            (d / s).chmod(0o755)
        c.init("--enabled-hypervisors", "fake", "--enabled-disk-templates", "file,diskless")
        yield c
    finally:
        c.destroy()


def _env(c: TestCluster, script: str) -> dict[str, str]:
    raw = (c.node_root(c.master) / "srv/ganeti/os/rec/records" / f"{script}.env").read_bytes()
    return dict(item.decode().split("=", 1) for item in raw.split(b"\0") if item)


def _config_text(c: TestCluster) -> str:
    return (c.root / "var/lib/ganeti/config.data").read_text()


def _queue_text(c: TestCluster) -> str:
    """Every job file (live and archived) of the master, and what gnt-job shows."""
    queue = c.root / "var/lib/ganeti/queue"
    files = "".join(f.read_text(errors="replace") for f in queue.rglob("job-*") if f.is_file())
    return files + c.ok("gnt-job", "info")


def _shown(c: TestCluster, name: str) -> str:
    return (c.ok("gnt-instance", "info", name)
            + c.ok("gnt-instance", "list", "-o", "name,osparams,custom_osparams", name))


def test_private_and_secret_parameters(cl: TestCluster) -> None:
    c = cl
    c.ok("gnt-instance", "add", "-t", "file", "--disk", "0:size=1M", "-o", "rec",
         "--no-nics", "--no-start", "-O", "pub=public-value",
         "--os-parameters-private", "priv=private-value",
         "--os-parameters-secret", "sec=secret-value", "inst1")
    for script in ("verify", "create"):
        env = _env(c, script)
        assert env["OSP_PUB"] == "public-value"
        assert env["OSP_PRIV"] == "private-value"
        assert env["OSP_SEC"] == "secret-value"
    conf = _config_text(c)
    assert "public-value" in conf and "private-value" in conf
    assert "secret-value" not in conf  # secrets are never stored
    assert "secret-value" not in _queue_text(c)  # not in job files either
    shown = _shown(c, "inst1")
    assert "public-value" in shown
    assert "private-value" not in shown and "secret-value" not in shown

    out = c.ok("gnt-instance", "modify", "--os-parameters-private", "priv=changed-private",
               "inst1")
    assert " - os_private/priv -> <redacted>" in out.splitlines()
    assert "changed-private" not in out
    assert "changed-private" in _config_text(c)
    assert "changed-private" not in _shown(c, "inst1")
    assert _env(c, "verify")["OSP_PRIV"] == "changed-private"  # validated by the OS

    c.ok("gnt-instance", "reinstall", "-f", "--os-parameters-secret", "sec=second-secret",
         "inst1")
    env = _env(c, "create")
    assert (env["OSP_PUB"], env["OSP_PRIV"], env["OSP_SEC"]) == (
        "public-value", "changed-private", "second-secret")
    assert "second-secret" not in _config_text(c)
    assert "second-secret" not in _queue_text(c)

    # a later reinstall without the secret: the OS gets no OSP_SEC at all
    c.ok("gnt-instance", "reinstall", "-f", "inst1")
    assert "OSP_SEC" not in _env(c, "create")

    # the rename script gets the private parameters too (Ganeti's OSP_* for every script)
    c.ok("gnt-instance", "rename", "inst1", "inst9")
    env = _env(c, "rename")
    assert (env["OSP_PUB"], env["OSP_PRIV"]) == ("public-value", "changed-private")
    assert env["INSTANCE_NAME"] == c.fqdn("inst9") and env["OLD_INSTANCE_NAME"] == c.fqdn("inst1")
    assert "OSP_SEC" not in env
    c.ok("gnt-instance", "remove", "-f", "inst9")


def test_same_parameter_public_and_private_refused(cl: TestCluster, tmp_path: Path) -> None:
    c = cl
    c.ok("gnt-instance", "add", "-t", "file", "--disk", "0:size=1M", "-o", "rec",
         "--no-nics", "--no-start", "inst2")
    res = c.run("gnt-instance", "modify", "-O", "pub=x", "--os-parameters-private", "pub=y",
                "inst2")
    assert res.code != 0 and "OS parameters repeated multiple times: pub" in res.err
    c.ok("gnt-instance", "remove", "-f", "inst2")
