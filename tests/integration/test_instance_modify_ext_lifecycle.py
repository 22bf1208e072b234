"""ExtStorage volumes follow the instance's life, as in Ganeti: starting the
instance or ``activate-disks`` attaches them, ``gnt-instance shutdown`` (and
``deactivate-disks``) detaches them, on a real one-node fake-hypervisor
cluster with a provider that records every action it runs.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.cfgdata import instance, wrapped_provider
from tests.support.cluster import TestCluster

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def cl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestCluster]:
    c = TestCluster(tmp_path_factory.mktemp("extlife"))
    try:
        c.init("--enabled-hypervisors", "fake", "--enabled-disk-templates", "ext,diskless")
        wrapped_provider(c, "evrec", prelude=f'echo "$action" >> "{c.root / "events"}"')
        yield c
    finally:
        c.destroy()


def _events(c: TestCluster) -> list[str]:
    """The actions the provider ran since the last call (attach/detach only)."""
    f = c.root / "events"
    lines = f.read_text().split() if f.exists() else []
    f.write_text("")
    return [a for a in lines if a in ("attach", "detach")]


def _disks_active(c: TestCluster) -> bool:
    return bool(instance(c, "inst1")["disks_active"])


def test_shutdown_detaches_start_attaches(cl: TestCluster) -> None:
    c = cl
    c.ok("gnt-instance", "add", "-t", "ext", "--disk", "0:size=4M,provider=evrec",
         "-o", "image+raw", "--no-nics", "inst1")
    assert _events(c)[-1] == "attach"  # running: the volume is attached

    c.ok("gnt-instance", "shutdown", "inst1")
    assert _events(c) == ["detach"]
    assert not _disks_active(c)

    out = c.ok("gnt-instance", "activate-disks", "inst1")
    assert "disk/0" in out
    assert _events(c) == ["attach"]
    c.ok("gnt-instance", "deactivate-disks", "inst1")
    assert _events(c) == ["detach"]

    c.ok("gnt-instance", "startup", "inst1")
    assert _events(c) == ["attach"]
    c.ok("gnt-instance", "shutdown", "inst1")
    assert _events(c) == ["detach"]
    c.ok("gnt-instance", "remove", "-f", "inst1")
