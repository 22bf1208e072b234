"""``gnt-os`` on a real two-node cluster, and the OS script node procedures.

OS definitions written here, per node:

* ``rec`` (both nodes): API 20, variants ``alpha``/``beta``, parameter
  ``dhcp``; every script records its environment under ``<os>/records`` and
  does the real work of its kind (export dumps disk 0, import restores it,
  verify checks ``dhcp``);
* ``old`` (both): API 10, no variants, no parameters;
* ``half`` (node1 only): valid where present, so partially valid;
* ``broken`` (both): API 20 without a ``verify`` script, so invalid.

Checks Ganeti's output formats of list/diagnose/info, modify's effect on the
cluster (os_hvp in the fill chain, osparams checked by ``verify``, hidden
and blacklisted OSes), then rename/export/import through the master's
NodeRpc wrappers against the node daemon.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cluster import TestCluster
from tests.support.os_rpc import instance_call_args, master_rpc

pytestmark = pytest.mark.integration

NODES = ["node1", "node2"]

RECORDER = """#!/bin/bash
rec="$(cd "$(dirname "$0")" && pwd)/records"
mkdir -p "$rec"
name=$(basename "$0")
cat /proc/$$/environ > "$rec/$name.env"
case "$name" in
  verify)
    case "$OSP_DHCP" in
      ""|yes|no) ;;
      *) echo "Invalid value '$OSP_DHCP' for the dhcp parameter" >&2; exit 1 ;;
    esac ;;
  export)
    echo "exporting disk $EXPORT_INDEX of $INSTANCE_NAME" >&2
    stat -c %s "$EXPORT_DEVICE" >&"$EXP_SIZE_FD"
    cat "$EXPORT_DEVICE" ;;
  import)
    dd of="$IMPORT_DEVICE" conv=notrunc status=none
    echo "imported disk $IMPORT_INDEX" ;;
  *) echo "$name ran for $INSTANCE_NAME" ;;
esac
"""


def make_os(root: Path, name: str, api: str = "20\n", variants: str | None = None,
            params: str | None = "", scripts: tuple[str, ...] = ("create", "import", "export",
                                                                "rename", "verify")) -> Path:
    d = root / "srv/ganeti/os" / name
    d.mkdir(parents=True)
    (d / "ganeti_api_version").write_text(api)
    if variants is not None:
        (d / "variants.list").write_text(variants)
    if params is not None:
        (d / "parameters.list").write_text(params)
    for s in scripts:
        (d / s).write_text(RECORDER)
        (d / s).chmod(0o755)
    return d


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestCluster]:
    c = TestCluster(tmp_path_factory.mktemp("oscli"), nodes=list(NODES))
    try:
        for node in NODES:
            root = c.node_root(node)
            make_os(root, "rec", variants="alpha\nbeta\n", params="dhcp Whether to use DHCP\n")
            make_os(root, "old", api="10\n", params=None, scripts=("create", "import",
                                                                    "export", "rename"))
            make_os(root, "broken", scripts=("create", "import", "export", "rename"))
        make_os(c.node_root("node1"), "half")
        c.up("--enabled-hypervisors", "fake", "--enabled-disk-templates", "file,diskless")
        yield c
    finally:
        c.destroy()


def records(c: TestCluster, script: str) -> dict[str, str]:
    raw = (c.node_root("node1") / "srv/ganeti/os/rec/records" / f"{script}.env").read_bytes()
    return dict(item.decode().split("=", 1) for item in raw.split(b"\0") if item)


def cluster_conf(c: TestCluster) -> dict[str, object]:
    data = json.loads((c.root / "var/lib/ganeti/config.data").read_text())
    return data["cluster"]  # type: ignore[no-any-return]


def add(c: TestCluster, name: str, os_name: str, *extra: str, check: bool = True) -> str:
    res = c.run("gnt-instance", "add", "-t", "file", "--disk", "0:size=1M", "-o", os_name,
                "--no-nics", "--no-start", "-n", "node1", *extra, name)
    if check:
        res.check()
    return res.out + res.err


# --- list / diagnose / info ----------------------------------------------------------

def test_list(cluster: TestCluster) -> None:
    c = cluster
    assert c.ok("gnt-os", "list") == "Name\nimage+qcow2\nimage+raw\nold\nrec+alpha\nrec+beta\n"
    assert c.ok("gnt-os", "list", "--no-headers").split() == [
        "image+qcow2", "image+raw", "old", "rec+alpha", "rec+beta"]


def test_diagnose(cluster: TestCluster) -> None:
    c = cluster
    r1, r2 = c.node_root("node1"), c.node_root("node2")
    res = c.run("gnt-os", "diagnose")
    assert res.code == 1  # half and broken are not valid everywhere
    blocks = {b.splitlines()[0]: b for b in res.out.split("\n\n") if b.strip()}
    assert blocks["OS: rec [global status: valid]"] == "\n".join([
        "OS: rec [global status: valid]",
        "  Variants: [alpha, beta]",
        (f"  Node: node1.gnt.test, status: valid (path: {r1}/srv/ganeti/os/rec) "
         "[API versions: 20] [variants: alpha, beta] [parameters: dhcp]"),
        (f"  Node: node2.gnt.test, status: valid (path: {r2}/srv/ganeti/os/rec) "
         "[API versions: 20] [variants: alpha, beta] [parameters: dhcp]")])
    assert blocks["OS: half [global status: partial valid]"] == "\n".join([
        "OS: half [global status: partial valid]",
        (f"  Node: node1.gnt.test, status: valid (path: {r1}/srv/ganeti/os/half) "
         "[API versions: 20] [no variants] [no parameters]"),
        "  Node: node2.gnt.test, status: OS not found"])
    assert blocks["OS: old [global status: valid]"].splitlines()[1] == (
        f"  Node: node1.gnt.test, status: valid (path: {r1}/srv/ganeti/os/old) "
        "[API versions: 10]")
    broken = blocks["OS: broken [global status: invalid]"].splitlines()
    assert broken[1] == (
        f"  Node: node1.gnt.test, status: invalid - File 'verify' under path "
        f"'{r1}/srv/ganeti/os/broken' is missing (No such file or directory) "
        f"(path: {r1}/srv/ganeti/os/broken) [no API versions declared]")
    assert broken[2].startswith("  Node: node2.gnt.test, status: invalid - ")


def test_info(cluster: TestCluster) -> None:
    c = cluster
    expected = [
        "half:", "  - valid: False", "  - hidden: False", "  - blacklisted: False", "",
        "rec:", "  - valid: True", "  - hidden: False", "  - blacklisted: False",
        "  - API versions:", "    - 20", "  - variants:", "    - alpha", "    - beta",
        "  - parameters:", "    - dhcp: Whether to use DHCP", "",
        "nosuch: ", "", ""]
    assert c.ok("gnt-os", "info", "rec", "half", "nosuch") == "\n".join(expected)
    everything = c.ok("gnt-os", "info")
    assert [ln for ln in everything.splitlines() if ln.endswith(":") and
            not ln.startswith(" ")] == ["broken:", "half:", "image:", "old:", "rec:"]
    assert c.ok("gnt-os", "show", "old").splitlines()[4:6] == ["  - API versions:", "    - 10"]


# --- modify ----------------------------------------------------------------------------

def test_modify_needs_something(cluster: TestCluster) -> None:
    res = cluster.run("gnt-os", "modify", "rec")
    assert res.code == 1
    assert "At least one of OS parameters or hypervisor parameters must be passed" in res.err


def test_hidden_os(cluster: TestCluster) -> None:
    c = cluster
    c.ok("gnt-os", "modify", "--hidden", "yes", "rec")
    assert cluster_conf(c)["hidden_os"] == ["rec"]
    assert "rec+alpha" not in c.ok("gnt-os", "list")
    assert "OS: rec [global status: valid] [hidden]" in c.run("gnt-os", "diagnose").out
    assert "  - hidden: True" in c.ok("gnt-os", "info", "rec")
    add(c, "inst1", "rec+alpha")  # hidden OSes remain installable (Ganeti)
    c.ok("gnt-instance", "remove", "-f", "inst1")
    c.ok("gnt-os", "modify", "--hidden", "no", "rec")
    assert cluster_conf(c)["hidden_os"] == []
    assert "rec+alpha" in c.ok("gnt-os", "list")


def test_blacklisted_os(cluster: TestCluster) -> None:
    c = cluster
    c.ok("gnt-os", "modify", "--blacklisted", "yes", "rec")
    try:
        assert cluster_conf(c)["blacklisted_os"] == ["rec"]
        assert "rec" not in c.ok("gnt-os", "list")
        assert "[blacklisted]" in c.run("gnt-os", "diagnose").out
        res = c.run("gnt-instance", "add", "-t", "file", "--disk", "0:size=1M", "-o", "rec",
                    "--no-nics", "--no-start", "-n", "node1", "inst2")
        assert res.code != 0
        assert "Guest OS 'rec' is not allowed for installation" in res.err
        assert "inst2" not in c.ok("gnt-instance", "list", "--no-headers", "-o", "name")
    finally:
        c.ok("gnt-os", "modify", "--blacklisted", "no", "rec")
    assert cluster_conf(c)["blacklisted_os"] == []


def test_os_hvp_applies_between_cluster_and_instance(cluster: TestCluster) -> None:
    c = cluster
    c.ok("gnt-os", "modify", "-H", "fake:migration_mode=non-live", "rec+alpha")
    assert cluster_conf(c)["os_hvp"] == {"rec+alpha": {"fake": {"migration_mode": "non-live"}}}
    assert "rec+alpha" in c.ok("gnt-cluster", "info")
    try:
        add(c, "inst3", "rec+alpha")
        assert records(c, "create")["INSTANCE_HV_migration_mode"] == "non-live"
        assert c.ok("gnt-instance", "list", "--no-headers", "-o", "hv/migration_mode",
                    "inst3").strip() == "non-live"
        add(c, "inst4", "rec+alpha", "-H", "fake:migration_mode=live")  # instance wins
        assert records(c, "create")["INSTANCE_HV_migration_mode"] == "live"
        add(c, "inst5", "rec+beta")  # another variant: the cluster value
        assert records(c, "create")["INSTANCE_HV_migration_mode"] == "live"
    finally:
        for name in ("inst3", "inst4", "inst5"):
            c.run("gnt-instance", "remove", "-f", name)
    res = c.run("gnt-os", "modify", "-H", "fake:no_such=1", "rec")
    assert res.code != 0 and "no_such" in res.err
    c.ok("gnt-os", "modify", "-H", "-fake", "rec+alpha")
    assert cluster_conf(c)["os_hvp"] == {}


def test_osparams_checked_by_verify(cluster: TestCluster) -> None:
    c = cluster
    res = c.run("gnt-os", "modify", "-O", "dhcp=maybe", "rec")
    assert res.code != 0
    assert "Invalid value 'maybe' for the dhcp parameter" in res.err
    assert cluster_conf(c)["osparams"] == {}
    res = c.run("gnt-os", "modify", "-O", "colour=red", "rec")
    assert res.code != 0 and "colour" in res.err
    c.ok("gnt-os", "modify", "-O", "dhcp=no", "rec")
    c.ok("gnt-os", "modify", "-O", "anything=1", "future-os")  # not installed: preseeded
    assert cluster_conf(c)["osparams"] == {"rec": {"dhcp": "no"}, "future-os": {"anything": "1"}}
    try:
        add(c, "inst6", "rec+beta")
        env = records(c, "create")
        assert env["OSP_DHCP"] == "no" and env["OS_VARIANT"] == "beta"
        out = add(c, "inst7", "rec+beta", "-O", "dhcp=perhaps", check=False)
        assert "Invalid value 'perhaps' for the dhcp parameter" in out
    finally:
        c.run("gnt-instance", "remove", "-f", "inst6")
        c.ok("gnt-os", "modify", "-O", "dhcp=default", "rec")
        c.ok("gnt-os", "modify", "-O", "anything=default", "future-os")
    assert cluster_conf(c)["osparams"] == {}


# --- rename / export / import through the master's NodeRpc ---------------------------

def test_rename_export_import_procedures(cluster: TestCluster) -> None:
    c = cluster
    add(c, "inst8", "rec+alpha")
    try:
        rpc = master_rpc(c)
        node, spec, bdevs = instance_call_args(rpc, "inst8.gnt.test")
        inst = rpc._cfg.data.instance_by_name("inst8.gnt.test")
        assert inst is not None
        disk = c.root / Path(bdevs[0].logical_id[1]).relative_to("/")
        content = bytes(range(256)) * 4096 * spec.disks[0].size  # the whole disk
        assert disk.stat().st_size == len(content)
        disk.write_bytes(content)

        # rename: the new name in the spec, the old one in OLD_INSTANCE_NAME
        res = rpc.instance_os_rename(node, spec.model_copy(update={"name": "inst9.gnt.test"}),
                                     bdevs, "inst8.gnt.test", 1)
        res.raise_on_fail()
        log = Path(res.data)
        assert log.parent == c.root / "var/log/ganeti/os"
        assert log.name.startswith("rename-rec+alpha-inst8.gnt.test-inst9.gnt.test-")
        assert log.read_text() == "rename ran for inst9.gnt.test\n"
        env = records(c, "rename")
        assert (env["OLD_INSTANCE_NAME"], env["INSTANCE_NAME"]) == ("inst8.gnt.test",
                                                                     "inst9.gnt.test")
        assert env["DEBUG_LEVEL"] == "1" and env["OS_VARIANT"] == "alpha"
        assert env["INSTANCE_PRIMARY_NODE"] == "node1.gnt.test"
        assert env["INSTANCE_SECONDARY_NODES"] == ""
        assert env["INSTANCE_CTIME"] == str(inst.ctime)
        assert env["DISK_0_PATH"] == str(disk) and env["DISK_0_BACKEND_TYPE"] == "file:loop"
        assert env["DISK_0_SIZE"] == str(spec.disks[0].size) and env["DISK_COUNT"] == "1"

        # export: the dump lands atomically below the export directory
        dest = "/srv/ganeti/export/inst8.gnt.test/disk0.dump"
        res = rpc.instance_os_export(node, spec, bdevs, 0, dest, 0)
        res.raise_on_fail()
        dump = c.root / dest.lstrip("/")
        assert dump.read_bytes() == content
        assert res.data["size"] == res.data["expected_size"] == len(content)
        assert Path(res.data["log"]).read_text() == \
            "exporting disk 0 of inst8.gnt.test\n"
        assert Path(res.data["log"]).name.startswith("export-rec+alpha-inst8.gnt.test-disk0-")
        assert [p.name for p in dump.parent.iterdir()] == ["disk0.dump"]
        env = records(c, "export")
        assert env["EXPORT_INDEX"] == "0" and env["EXPORT_DEVICE"] == str(disk)

        # import: restore a changed dump onto the disk
        dump.write_bytes(b"\xff" * len(content))
        res = rpc.instance_os_import(node, spec, bdevs, 0, dest, 0)
        res.raise_on_fail()
        assert disk.read_bytes() == b"\xff" * len(content)
        assert Path(res.data).read_text() == "imported disk 0\n"
        assert records(c, "import")["IMPORT_DISK_PATH"] == str(disk)

        # a variant no longer listed does not stop scripts of existing instances
        gone = spec.model_copy(update={"os": "rec+retired"})
        rpc.instance_os_rename(node, gone, bdevs, "x", 0).raise_on_fail()
        assert records(c, "rename")["OS_VARIANT"] == "retired"

        # failures: a dump outside the export directory, a failing script
        res = rpc.instance_os_export(node, spec, bdevs, 0, "/etc/passwd", 0)
        assert res.fail_msg and "must be an absolute path below /srv/ganeti/export" in \
            res.fail_msg
        res = rpc.instance_os_export(node, spec, bdevs, 1, dest, 0)
        assert res.fail_msg and "has no disk 1" in res.fail_msg
        assert dump.read_bytes() == b"\xff" * len(content)  # untouched
        failing = spec.model_copy(update={"os": "half"})
        half = c.node_root("node1") / "srv/ganeti/os/half/export"
        half.write_text("#!/bin/sh\necho 'no space left' >&2\nexit 7\n")
        res = rpc.instance_os_export(node, failing, bdevs, 0, dest, 0)
        assert res.fail_msg and "exit code 7" in res.fail_msg
        assert "no space left" in res.fail_msg
        assert [p.name for p in dump.parent.iterdir()] == ["disk0.dump"]  # no temp left
    finally:
        c.run("gnt-instance", "remove", "-f", "inst8")
