"""Option value parsers (Ganeti's syntax) and the shared options."""

from __future__ import annotations

import argparse

import pytest

from gnt import constants as C
from gnt import errors
from gnt.cli import options as O

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("text,expected", [
    ("a,b,c", ["a", "b", "c"]),
    (r"a\,b,c", ["a,b", "c"]),
    ("a\\\\,b", ["a\\", "b"]),
    (r"a\\\,b", ["a\\,b"]),
    ("", [""]),
    ("single", ["single"]),
])
def test_unescape_and_split(text: str, expected: list[str]) -> None:
    assert O.unescape_and_split(text) == expected


def test_key_val_forms() -> None:
    assert O.split_key_val("-B", "maxmem=1G,vcpus=2") == {"maxmem": "1G", "vcpus": "2"}
    assert O.split_key_val("-H", "acpi,no_usb,-kernel_path") == {
        "acpi": True, "usb": False, "kernel_path": None}
    assert O.split_key_val("-H", r"kernel_args=ro\,quiet,x=a=b") == {
        "kernel_args": "ro,quiet", "x": "a=b"}
    assert O.split_key_val("-B", "") == {}
    assert O.split_key_val("-B", "empty=") == {"empty": ""}


def test_key_val_errors_name_option_and_value() -> None:
    with pytest.raises(errors.ParameterError, match=r"Duplicate key 'a' in 'a=1,a=2' in option -B"):
        O.split_key_val("-B", "a=1,a=2")
    with pytest.raises(errors.ParameterError, match=r"Duplicate key 'acpi'"):
        O.split_key_val("-H", "acpi,no_acpi")
    with pytest.raises(errors.ParameterError, match="Missing value for key 'flag' in option -X"):
        O.split_key_val("-X", "flag", parse_prefixes=False)
    with pytest.raises(errors.ParameterError, match="Empty key"):
        O.split_key_val("-B", "=3")


def test_ident_key_val_forms() -> None:
    assert O.split_ident_key_val("-H", "kvm:kernel_path=/x,acpi=false") == (
        "kvm", {"kernel_path": "/x", "acpi": "false"})
    assert O.split_ident_key_val("-H", "kvm") == ("kvm", {})
    assert O.split_ident_key_val("--disk", "0:size=1G,mode=rw") == (
        "0", {"size": "1G", "mode": "rw"})
    assert O.split_ident_key_val("--net", "0:mac=aa:00:00:11:22:33") == (
        "0", {"mac": "aa:00:00:11:22:33"})
    assert O.split_ident_key_val("-H", "no_xen-pvm") == ("xen-pvm", False)
    assert O.split_ident_key_val("-H", "-xen-pvm") == ("xen-pvm", None)
    assert O.split_ident_key_val("--disk", "-1:size=1") == ("-1", {"size": "1"})
    assert O.split_ident_key_val("--disk", "add:size=2G") == ("add", {"size": "2G"})


def test_ident_key_val_errors() -> None:
    with pytest.raises(errors.ParameterError, match="Cannot pass options when removing"):
        O.split_ident_key_val("-H", "no_kvm:acpi=1")
    with pytest.raises(errors.ParameterError, match="Missing identifier"):
        O.split_ident_key_val("--disk", ":size=1")


def test_multilist_ident_key_val() -> None:
    value = "min:memory-size=128,cpu-count=1/max:memory-size=4G//min:disk-size=1"
    assert O.split_multilist_ident_key_val("--ipolicy-bounds-specs", value) == [
        {"min": {"memory-size": "128", "cpu-count": "1"}, "max": {"memory-size": "4G"}},
        {"min": {"disk-size": "1"}},
    ]
    with pytest.raises(errors.ParameterError, match="Empty section"):
        O.split_multilist_ident_key_val("--x", "min:a=1//")
    with pytest.raises(errors.ParameterError, match="Duplicated parameter 'min'"):
        O.split_multilist_ident_key_val("--x", "min:a=1/min:b=2")
    with pytest.raises(errors.ParameterError, match="Missing value"):
        O.split_multilist_ident_key_val("--x", "min:flag")


@pytest.mark.parametrize("value,expected", [("yes", True), ("YES", True), ("true", True),
                                            ("no", False), ("False", False), ("no ", False)])
def test_bool(value: str, expected: bool) -> None:
    assert O.parse_bool("-C", value) is expected


def test_bool_error() -> None:
    with pytest.raises(errors.ParameterError, match="Invalid boolean value 'maybe' in option -C"):
        O.parse_bool("-C", "maybe")


def test_sizes_lists_floats_json_priority() -> None:
    assert O.parse_size("-s", "10G") == 10240
    assert O.parse_size("-s", "512") == 512
    assert O.parse_size("-s", "1.5T") == 1572864
    with pytest.raises(errors.ParameterError, match="in option -s"):
        O.parse_size("-s", "10X")
    assert O.parse_list("") == []
    assert O.parse_list("plain,file") == ["plain", "file"]
    assert O.parse_maybe_float("--ipolicy-vcpu-ratio", "4.5") == 4.5
    assert O.parse_maybe_float("--ipolicy-vcpu-ratio", "Default") == "default"
    with pytest.raises(errors.ParameterError, match="Invalid number 'x'"):
        O.parse_maybe_float("--r", "x")
    assert O.parse_json("--j", '{"a": [1]}') == {"a": [1]}
    with pytest.raises(errors.ParameterError, match="Invalid JSON"):
        O.parse_json("--j", "{")
    assert [O.parse_priority("--priority", p) for p in ("low", "normal", "high")] == [
        C.OP_PRIO_LOW, C.OP_PRIO_NORMAL, C.OP_PRIO_HIGH]
    with pytest.raises(errors.ParameterError, match="choose from low, normal, high"):
        O.parse_priority("--priority", "urgent")


def test_parse_fields() -> None:
    default = ["name", "status"]
    assert O.parse_fields(None, default) == ["name", "status"]
    assert O.parse_fields("+oper_ram,tags", default) == ["name", "status", "oper_ram", "tags"]
    assert O.parse_fields("name,os", default) == ["name", "os"]


@pytest.mark.parametrize("value,seconds", [("30", 30), ("30s", 30), ("5m", 300),
                                           ("2h", 7200), ("1d", 86400), ("1w", 604800)])
def test_parse_timespec(value: str, seconds: int) -> None:
    assert O.parse_timespec(value) == seconds


@pytest.mark.parametrize("value", ["", "m", "x5", "5y"])
def test_parse_timespec_errors(value: str) -> None:
    with pytest.raises(errors.OpPrereqError):
        O.parse_timespec(value)


def test_split_node_option() -> None:
    assert O.split_node_option("node1:node2") == ("node1", "node2")
    assert O.split_node_option("node1") == ("node1", None)
    assert O.split_node_option(None) == (None, None)


def test_ident_dicts_to_list() -> None:
    assert O.ident_dicts_to_list("--disk", [("1", {"size": "2G"}), ("0", {"size": "1G"})],
                                 "disk") == [{"size": "1G"}, {"size": "2G"}]
    assert O.ident_dicts_to_list("--net", [("2", {"mac": "x"})], "nic") == [
        {}, {}, {"mac": "x"}]
    assert O.ident_dicts_to_list("--net", [], "nic") == []
    with pytest.raises(errors.OpPrereqError, match="Invalid disk index 'a' in option --disk"):
        O.ident_dicts_to_list("--disk", [("a", {})], "disk")
    with pytest.raises(errors.OpPrereqError, match="Duplicate nic index 0"):
        O.ident_dicts_to_list("--net", [("0", {}), ("0", {})], "nic")
    with pytest.raises(errors.OpPrereqError, match="Invalid disk/0 value"):
        O.ident_dicts_to_list("--disk", [("0", None)], "disk")


def _parser(*opts: O.Option) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="t", exit_on_error=False)
    for opt in opts:
        opt.add_to(parser)
    return parser


def test_options_with_argparse() -> None:
    p = _parser(O.BACKEND_OPT, O.HYPERVISOR_OPT, O.DISK_OPT, O.NET_OPT, O.OS_SIZE_OPT,
                O.PRIORITY_OPT, O.DEBUG_OPT, O.FIELDS_OPT, O.USEUNITS_OPT, O.YES_DOIT_OPT)
    ns = p.parse_args(["-B", "maxmem=1G,vcpus=2", "-H", "kvm:acpi=false", "--disk",
                       "0:size=1G", "--disk", "1:size=2G,mode=ro", "--net", "0:mac=auto",
                       "-s", "4G", "--priority", "low", "-dd", "-o", "+tags", "--units", "g",
                       "--ya-rly"])
    assert ns.beparams == {"maxmem": "1G", "vcpus": "2"}
    assert ns.hypervisor == ("kvm", {"acpi": "false"})
    assert ns.disks == [("0", {"size": "1G"}), ("1", {"size": "2G", "mode": "ro"})]
    assert ns.nics == [("0", {"mac": "auto"})]
    assert ns.sd_size == 4096
    assert ns.priority == C.OP_PRIO_LOW
    assert ns.debug == 2
    assert ns.output == "+tags"
    assert ns.units == "g"
    assert ns.yes_do_it is True


def test_option_defaults_not_shared_between_parsers() -> None:
    first = _parser(O.BACKEND_OPT, O.DISK_OPT).parse_args([])
    first.beparams["leak"] = 1
    first.disks.append("leak")
    second = _parser(O.BACKEND_OPT, O.DISK_OPT).parse_args([])
    assert second.beparams == {} and second.disks == []


def test_argparse_type_errors_name_the_option(capsys: pytest.CaptureFixture[str]) -> None:
    p = argparse.ArgumentParser(prog="t")
    O.BACKEND_OPT.add_to(p)
    O.OS_SIZE_OPT.add_to(p)
    with pytest.raises(SystemExit) as info:
        p.parse_args(["-B", "a=1,a=2"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "argument -B/--backend-parameters: Duplicate key 'a' in 'a=1,a=2'" in err
    with pytest.raises(SystemExit):
        p.parse_args(["-s", "12Q"])
    assert "argument -s/--os-size:" in capsys.readouterr().err


def test_option_dest_and_flags() -> None:
    assert O.FORCE_OPT.dest == "force"
    assert O.Option("--no-headers").dest == "no_headers"
    with pytest.raises(errors.ProgrammerError):
        O.Option("positional")
