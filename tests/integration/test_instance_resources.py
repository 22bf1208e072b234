"""Resources checked when creating and starting instances, on a real one-node
cluster (fake hypervisor, whose node memory is the host's minus its running
instances): node free memory (maxmem at creation, minmem at start, as
Ganeti), MAC and IP conflicts; every refusal leaves the cluster unchanged."""

from __future__ import annotations

import json

import pytest

from tests.support.cluster import TestCluster

pytestmark = pytest.mark.integration


def _config(c: TestCluster) -> dict:
    return json.loads((c.root / "var/lib/ganeti/config.data").read_text())


def _node_memory(c: TestCluster) -> tuple[int, int]:
    """(total, free) MiB as the master sees the node."""
    row = c.ok("gnt-node", "list", "--no-headers", "--separator=|", "--units=m", "-o",
               "mtotal,mfree").strip()
    total, free = row.split("|")
    return int(float(total)), int(float(free))


def _add(c: TestCluster, name: str, *extra: str) -> tuple[int, str]:
    """``gnt-instance add`` of a small file-based instance (OS installed unless
    ``--no-install`` is in ``extra``)."""
    res = c.run("gnt-instance", "add", "-t", "file", "--disk", "0:size=8M", "-o", "image+raw",
                *extra, name)
    return res.code, res.err


def test_node_memory_checked_at_create_and_start(fake_cluster: TestCluster) -> None:
    c = fake_cluster
    total, free = _node_memory(c)
    assert 0 < free <= total
    huge = (2 * total) // 4 * 4  # sizes are rounded up to 4 MiB, as Ganeti
    serial = _config(c)["serial_no"]
    code, err = _add(c, "inst1", "--no-nics", "-B", f"maxmem={huge},minmem={huge}")
    assert code != 0
    assert f"Not enough memory on node node1.gnt.test for starting instance inst1.gnt.test:" \
        f" needed {huge} MiB, available" in err
    assert "insufficient_resources" in err
    assert _config(c)["serial_no"] == serial and _config(c)["instances"] == {}
    # --no-start: created; starting it is refused the same way, nothing runs
    code, err = _add(c, "inst1", "--no-nics", "--no-start", "-B",
                     f"maxmem={huge},minmem={huge}")
    assert code == 0, err
    res = c.run("gnt-instance", "startup", "inst1")
    assert res.code != 0 and f"needed {huge} MiB" in res.err
    status = c.ok("gnt-instance", "list", "--no-headers", "-o", "admin_state,status", "inst1")
    assert status.split() == ["down", "ADMIN_down"]
    # start checks minmem (Ganeti): a small minimum starts even with a huge maximum
    code, err = _add(c, "inst2", "--no-nics", "--no-start", "-B",
                     f"maxmem={huge},minmem=128")
    assert code == 0, err
    c.ok("gnt-instance", "startup", "inst2")
    # the running fake instance now takes all the node's memory: nothing else fits
    assert _node_memory(c)[1] == 0
    code, err = _add(c, "inst3", "--no-nics", "-B", "maxmem=128")
    assert code != 0 and "needed 128 MiB, available 0 MiB" in err
    c.ok("gnt-instance", "shutdown", "inst2")
    code, err = _add(c, "inst3", "--no-nics", "-B", "maxmem=128")
    assert code == 0, err


def test_mac_and_ip_conflicts_refused(fake_cluster: TestCluster) -> None:
    c = fake_cluster
    mac, ip = "aa:00:00:11:22:33", "192.0.2.50"
    code, err = _add(c, "inst1", "--no-install", "--net", f"0:mac={mac},ip={ip}")
    assert code == 0, err
    serial = _config(c)["serial_no"]
    cases = [
        (["--net", f"0:mac={mac}"], f"MAC address {mac} already in use"),
        (["--net", f"0:mac={mac.upper()}"], "already in use"),
        (["--net", "0:mac=aa:00:00:44:55:66", "--net", "1:mac=aa:00:00:44:55:66"],
         "MAC address aa:00:00:44:55:66 already in use"),
        (["--net", f"0:ip={ip}"], f"NIC 0: IP address {ip} already in use"),
        (["--net", "0:ip=192.0.2.51", "--net", "1:ip=192.0.2.51"],
         "NIC 1: IP address 192.0.2.51 already in use"),
        (["--net", "0:mac=zz:00:00:00:00:00"], "invalid MAC address"),
    ]
    for extra, word in cases:
        code, err = _add(c, "inst2", "--no-install", *extra)
        assert code != 0 and word in err, (extra, err)
        assert _config(c)["serial_no"] == serial
    assert [i["name"] for i in _config(c)["instances"].values()] == ["inst1.gnt.test"]
    # generated MACs never collide with the explicit one; a free explicit MAC works
    code, err = _add(c, "inst2", "--no-install", "--net", "0:mac=aa:00:00:44:55:66",
                     "--net", "1:mac=generate")
    assert code == 0, err
    macs = [n["mac"] for i in _config(c)["instances"].values() for n in i["nics"]]
    assert len(macs) == len(set(macs)) == 3
