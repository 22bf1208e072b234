"""Cluster and node group diskparams reach the nodes: what an ExtStorage
provider sees (``EXTP_ACCESS``) follows cluster -> group -> disk, on a real
one-node cluster, for disks created by ``gnt-instance add`` and by
``gnt-instance modify --disk add``.  The instance is a kvm one (never
started): only kvm may use userspace access, inherited or not.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.cfgdata import PROVIDER, wrapped_provider
from tests.support.cluster import TestCluster

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def cl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestCluster]:
    c = TestCluster(tmp_path_factory.mktemp("dparams"))
    try:
        c.init("--enabled-hypervisors", "fake,kvm", "--enabled-disk-templates", "ext,diskless")
        wrapped_provider(c, "envrec", prelude=(  # create records its EXTP_ variables
            f'if [ "$action" = create ]; then . "{PROVIDER}/common.sh"; set_paths; '
            'mkdir -p "$VOL_DIR"; env | grep ^EXTP_ | sort > "$VOL_DIR/$VOL_NAME.extp"; fi'))
        yield c
    finally:
        c.destroy()


def _extp(c: TestCluster, volume_suffix: str) -> list[str]:
    """The EXTP_ACCESS line the provider's create saw."""
    (f,) = (c.root / "shared/gnt-file").glob(f"*{volume_suffix}.extp")
    return [ln for ln in f.read_text().split() if ln.startswith("EXTP_ACCESS=")]


def test_diskparams_inheritance(cl: TestCluster) -> None:
    c = cl
    c.ok("gnt-cluster", "modify", "-D", "ext:access=userspace")
    c.ok("gnt-instance", "add", "-t", "ext", "--disk", "0:size=4M,provider=envrec", "-H", "kvm",
         "-o", "image+raw", "--no-nics", "--no-install", "--no-start", "inst1")
    assert _extp(c, ".ext.disk0") == ["EXTP_ACCESS=userspace"]  # the cluster's value

    c.ok("gnt-group", "modify", "-D", "ext:access=kernelspace", "default")
    c.ok("gnt-instance", "modify", "--disk", "add:size=4M,provider=envrec", "inst1")
    assert _extp(c, ".ext.disk1") == ["EXTP_ACCESS=kernelspace"]  # the group's wins

    c.ok("gnt-cluster", "modify", "-D", "ext:access=kernelspace")
    c.ok("gnt-instance", "remove", "-f", "inst1")
