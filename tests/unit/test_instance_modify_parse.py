"""Parsing of ``gnt-instance modify --disk/--net``, opcode validation of the
instance-modification opcodes, and the pure helpers behind them."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from gnt import errors
from gnt.cli import options as O
from gnt.cli.instance_modify import convert_mods, parse_disk_sizes
from gnt.cmdlib.instance_disks import disk_index
from gnt.cmdlib.instance_rename import renamed_path
from gnt.hypervisor.base import DiskSpec, NICSpec
from gnt.hypervisor.kvm import hotplug
from gnt.hypervisor.kvm.runtime import TapInfo
from gnt.opcodes import base as opbase
from gnt.opcodes.instance_modify import upgrade_mods

pytestmark = pytest.mark.unit


def cli(*values: str) -> list[list[Any]]:
    """What ``--disk``/``--net`` values become in the opcode."""
    return convert_mods([O.split_ident_key_val("--disk", v) for v in values])


# ------------------------------------------------------------- CLI forms
@pytest.mark.parametrize("value,expected", [
    ("add:size=1G,name=data", ["add", -1, {"size": "1G", "name": "data"}]),
    ("add", ["add", -1, {}]),
    ("remove", ["remove", -1, {}]),
    ("1:add,size=512", ["add", "1", {"size": "512"}]),
    ("-1:add,size=512", ["add", "-1", {"size": "512"}]),
    ("2:remove", ["remove", "2", {}]),
    ("data:remove", ["remove", "data", {}]),
    ("0:modify,mode=ro", ["modify", "0", {"mode": "ro"}]),
    ("0:mode=ro,name=root", ["modify", "0", {"mode": "ro", "name": "root"}]),
    ("1:attach,name=spare", ["attach", "1", {"name": "spare"}]),
    ("detach", ["detach", -1, {}]),
])
def test_cli_forms(value: str, expected: list[Any]) -> None:
    assert cli(value) == [expected]


def test_cli_forms_in_order() -> None:
    assert cli("add:size=1G", "0:remove", "add:size=2G") == [
        ["add", -1, {"size": "1G"}], ["remove", "0", {}], ["add", -1, {"size": "2G"}]]


@pytest.mark.parametrize("value,word", [
    ("0:add,remove", "more than one"),
    ("0:modify,remove", "more than one"),
    ("0:remove,size=1G", "Not accepting parameters"),
    ("remove:size=1G", "Not accepting parameters"),
    ("detach:name=x", "Not accepting parameters"),
])
def test_cli_form_errors(value: str, word: str) -> None:
    with pytest.raises(errors.OpPrereqError, match=word):
        cli(value)


def test_cli_removal_form_of_ident_is_refused() -> None:
    # "no_0" / "-x" are the option parser's removal forms: not a modification
    with pytest.raises(errors.OpPrereqError, match="key=value"):
        convert_mods([O.split_ident_key_val("--disk", "no_0")])


def test_disk_sizes() -> None:
    mods = parse_disk_sizes(cli("add:size=1G", "1:add,size=100,spindles=2", "0:mode=ro"))
    assert mods == [["add", -1, {"size": 1024}], ["add", "1", {"size": 100, "spindles": 2}],
                    ["modify", "0", {"mode": "ro"}]]
    with pytest.raises(errors.OpPrereqError, match="Missing required parameter 'size'"):
        parse_disk_sizes(cli("add:name=x"))
    with pytest.raises(errors.OpPrereqError, match="Invalid disk size for disk -1"):
        parse_disk_sizes(cli("add:size=12Q"))
    with pytest.raises(errors.OpPrereqError, match="Invalid spindles"):
        parse_disk_sizes(cli("add:size=1G,spindles=many"))


# ---------------------------------------------------------- opcode level
def test_upgrade_legacy_forms() -> None:
    assert upgrade_mods("disk", [["add", {"size": 1}]]) == [["add", -1, {"size": 1}]]
    assert upgrade_mods("disk", [["remove", {}]]) == [["remove", -1, {}]]
    assert upgrade_mods("NIC", [[0, {"ip": "192.0.2.1"}], ["eth", {"mac": "auto"}]]) == [
        ["modify", 0, {"ip": "192.0.2.1"}], ["modify", "eth", {"mac": "auto"}]]
    assert upgrade_mods("disk", [["add", 2, None]]) == [["add", 2, {}]]
    assert upgrade_mods("disk", [("remove", 1, {})]) == [["remove", 1, {}]]


@pytest.mark.parametrize("mods,word", [
    ([["add", {}], ["remove", {}]], "Only one disk add/attach/remove/detach"),
    ([["add", 0, {}], ["remove", {}]], "do not mix"),
    ([["add"]], "expected \\[action, identifier, params\\]"),
    ([["explode", 0, {}]], "Invalid disk modification action 'explode'"),
    ([["modify", 0, "x"]], "expected a dict"),
    ([["modify", 1.5, {}]], "Invalid disk identifier"),
    ([["remove", 0, {"size": 1}]], "No settings should be passed"),
    ("add", "expected a list"),
])
def test_upgrade_errors(mods: Any, word: str) -> None:
    with pytest.raises(errors.OpPrereqError, match=word):
        upgrade_mods("disk", mods)


def test_set_params_opcode() -> None:
    op = opbase.from_dict({"OP_ID": "OP_INSTANCE_SET_PARAMS", "instance_name": "i1",
                           "disks": [["add", {"size": 1024}]], "nics": [["remove", {}]],
                           "beparams": {"maxmem": 512}, "hotplug": False})
    assert op.disks == [["add", -1, {"size": 1024}]]  # type: ignore[attr-defined]
    assert op.nics == [["remove", -1, {}]]  # type: ignore[attr-defined]
    assert op.to_dict()["hotplug"] is False
    defaults = opbase.from_dict({"OP_ID": "OP_INSTANCE_SET_PARAMS", "instance_name": "i1"})
    assert defaults.hotplug is True  # type: ignore[attr-defined]  # Ganeti 3.0's default
    assert opbase.from_dict(defaults.to_dict()) == defaults


@pytest.mark.parametrize("body,word", [
    ({"OP_ID": "OP_INSTANCE_SET_PARAMS", "instance_name": "i1",
      "disks": [["remove", 0, {"x": 1}]]}, "No settings should be passed"),
    ({"OP_ID": "OP_INSTANCE_SET_PARAMS", "instance_name": "i1", "runtime_mem": 0},
     "runtime_mem"),
    ({"OP_ID": "OP_INSTANCE_SET_PARAMS", "instance_name": "i1", "bogus": 1},
     "unknown parameter 'bogus'"),
    ({"OP_ID": "OP_INSTANCE_GROW_DISK", "instance_name": "i1", "disk": -1, "amount": 1},
     "disk"),
    ({"OP_ID": "OP_INSTANCE_GROW_DISK", "instance_name": "i1", "disk": 0}, "amount"),
    ({"OP_ID": "OP_INSTANCE_RENAME", "instance_name": "i1", "new_name": ""}, "new_name"),
    ({"OP_ID": "OP_INSTANCE_RECREATE_DISKS", "instance_name": "i1", "disks": [-1]},
     "invalid disk index -1"),
    ({"OP_ID": "OP_INSTANCE_RECREATE_DISKS", "instance_name": "i1",
      "disks": [[0, "big"]]}, "invalid disk entry"),
    ({"OP_ID": "OP_INSTANCE_ACTIVATE_DISKS", "instance_name": ""}, "instance_name"),
])
def test_opcode_validation(body: dict[str, Any], word: str) -> None:
    with pytest.raises(errors.ParameterError, match=word):
        opbase.from_dict(body)


def test_other_opcodes_round_trip() -> None:
    bodies: list[dict[str, Any]] = [
        {"OP_ID": "OP_INSTANCE_GROW_DISK", "instance_name": "i1", "disk": 1, "amount": 1024,
         "absolute": True},
        {"OP_ID": "OP_INSTANCE_RENAME", "instance_name": "i1", "new_name": "i2",
         "ip_check": False, "name_check": False},
        {"OP_ID": "OP_INSTANCE_REINSTALL", "instance_name": "i1", "os_type": "image+raw",
         "osparams": {"image": "/x"}},
        {"OP_ID": "OP_INSTANCE_ACTIVATE_DISKS", "instance_name": "i1", "ignore_size": True},
        {"OP_ID": "OP_INSTANCE_DEACTIVATE_DISKS", "instance_name": "i1", "force": True},
        {"OP_ID": "OP_INSTANCE_RECREATE_DISKS", "instance_name": "i1",
         "disks": [0, [1, {"size": 64}]], "nodes": ["n2"]},
    ]
    for body in bodies:
        op = opbase.from_dict(body)
        again = op.to_dict()
        assert {k: again[k] for k in body} == body
        assert op.summary() == f"{body['OP_ID'][3:]}(i1)"


# ---------------------------------------------------------------- helpers
def test_disk_index() -> None:
    items = [SimpleNamespace(name="root", uuid="u0"), SimpleNamespace(name=None, uuid="u1")]
    assert disk_index(items, 0) == 0
    assert disk_index(items, "1") == 1
    assert disk_index(items, -1) == 1
    assert disk_index(items, "root") == 0
    assert disk_index(items, "u1") == 1
    with pytest.raises(errors.OpPrereqError, match="Invalid disk index 2"):
        disk_index(items, 2)
    with pytest.raises(errors.OpPrereqError, match="Cannot find NIC with identifier 'eth9'"):
        disk_index(items, "eth9", "NIC")
    with pytest.raises(errors.OpPrereqError, match="Invalid disk index -1"):
        disk_index([], -1)


def test_renamed_path() -> None:
    assert renamed_path("/srv/ganeti/file-storage/old.example.com/u.file.disk0",
                        "new.example.com") == "/srv/ganeti/file-storage/new.example.com/u.file.disk0"
    assert renamed_path("/srv/ganeti/file-storage/sub/old/u.file.disk1", "new") == \
        "/srv/ganeti/file-storage/sub/new/u.file.disk1"


def _disk(path: Path, mode: str = "rw") -> DiskSpec:
    return DiskSpec(uuid="d1d2d3d4-0000", index=1, path=str(path), mode=mode, size=8)


def test_blockdev_options(tmp_path: Path) -> None:
    f = tmp_path / "d"
    f.write_bytes(b"")
    opts = hotplug.blockdev_options("disk1-d1d2d3d4-drive", _disk(f), {})
    assert opts == {"driver": "raw", "node-name": "disk1-d1d2d3d4-drive", "read-only": False,
                    "file": {"driver": "file", "filename": str(f), "aio": "threads",
                             "read-only": False}}
    opts = hotplug.blockdev_options("n", _disk(f, "ro"), {"disk_aio": "native",
                                                          "disk_discard": "unmap"})
    assert opts["read-only"] is True and opts["file"]["aio"] == "native"
    assert opts["cache"] == {"direct": True, "no-flush": False}
    assert opts["discard"] == "unmap"
    with pytest.raises(errors.HypervisorError, match="needs direct I/O"):
        hotplug.blockdev_options("n", _disk(f), {"disk_aio": "native",
                                                 "disk_cache": "writeback"})
    with pytest.raises(errors.HypervisorError, match="not accessible"):
        hotplug.blockdev_options("n", _disk(tmp_path / "missing"), {})
    assert hotplug.blockdev_options("n", _disk(Path("/dev/null")), {})["file"]["driver"] \
        == "file"  # a character device is not a block device


def test_device_ids_follow_the_command_line() -> None:
    assert hotplug.device_id("disk", 2, "abcdef12-3456") == "disk2-abcdef12"
    assert hotplug.device_id("nic", 0, "0a1b2c3d-x") == "nic0-0a1b2c3d"


def _nic(uuid: str, index: int) -> NICSpec:
    return NICSpec(uuid=uuid, index=index, mac="aa:00:00:00:00:0" + str(index))


def test_insert_reindex_and_tap_remap() -> None:
    old = [_nic("a", 0), _nic("b", 1)]
    new = hotplug._insert(old, _nic("c", 1))
    assert [(n.uuid, n.index) for n in new] == [("a", 0), ("c", 1), ("b", 2)]
    taps = [TapInfo(index=0, name="tapA", mode="bridged", link="br0"),
            TapInfo(index=1, name="tapB", mode="bridged", link="br0")]
    assert [(t.name, t.index) for t in hotplug._remap_taps(taps, old, new)] == [
        ("tapA", 0), ("tapB", 2)]
    gone = hotplug._reindex([n for n in old if n.uuid != "a"])
    assert [(n.uuid, n.index) for n in gone] == [("b", 0)]
    assert [(t.name, t.index) for t in hotplug._remap_taps(taps, old, gone)] == [("tapB", 0)]
    assert [n.index for n in hotplug._insert(old, _nic("z", 99))] == [0, 1, 2]


def test_pinned_pci_slots_on_the_command_line() -> None:
    from gnt.hypervisor.base import InstanceSpec
    from gnt.hypervisor.kvm import cmdline

    spec = InstanceSpec(
        name="i1", uuid="u", hypervisor="kvm", hvparams={}, beparams={"maxmem": 128},
        disks=[DiskSpec(uuid="d0000000-1", index=0, path="/d0", size=8),
               DiskSpec(uuid="d1111111-1", index=1, path="/d1", size=8, pci_slot=12)],
        nics=[NICSpec(uuid="n0000000-1", index=0, mac="aa:00:00:00:00:01", pci_slot=13)])
    ctx = cmdline.LaunchContext(accel="tcg", pidfile="/p", qmp="/q", monitor="/m",
                                nic_fds={0: [9]})
    argv = cmdline.build(spec, ctx)
    devices = [a for i, a in enumerate(argv) if i and argv[i - 1] == "-device"]
    assert "virtio-blk-pci,drive=disk0-d0000000-drive,id=disk0-d0000000" in devices
    assert "virtio-blk-pci,drive=disk1-d1111111-drive,id=disk1-d1111111,addr=0xc" in devices
    assert any(d.startswith("virtio-net-pci,") and d.endswith(",addr=0xd") for d in devices)
    assert "virtio-balloon-pci,id=balloon0" in devices
    pinned = cmdline.build(spec.model_copy(update={"pci_slots": {"balloon0": 4}}), ctx)
    assert "virtio-balloon-pci,id=balloon0,addr=0x4" in pinned
    # nothing recorded: the command line is exactly as before
    plain = spec.model_copy(update={"disks": [d.model_copy(update={"pci_slot": None})
                                              for d in spec.disks],
                                    "nics": [n.model_copy(update={"pci_slot": None})
                                             for n in spec.nics]})
    assert not any("addr=" in a for a in cmdline.build(plain, ctx))
