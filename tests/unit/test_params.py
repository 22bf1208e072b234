"""Parameter checking/coercion (gnt.objects.params) and inheritance (gnt.objects.fill)."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gnt import constants as C
from gnt import errors
from gnt.hypervisor import defaults_for
from gnt.objects import NIC, Cluster, Instance, Node, NodeGroup, fill
from gnt.objects.params import (
    apply_update,
    check_params,
    coerce_value,
    fill_dict,
    upgrade_beparams,
)

pytestmark = pytest.mark.unit

TYPES = {
    "b": C.VTYPE_BOOL,
    "s": C.VTYPE_STRING,
    "ms": C.VTYPE_MAYBE_STRING,
    "i": C.VTYPE_INT,
    "f": C.VTYPE_FLOAT,
    "z": C.VTYPE_SIZE,
}


# --- fill_dict / apply_update / upgrade_beparams ------------------------------

def test_fill_dict_custom_overrides_defaults() -> None:
    defaults = {"a": 1, "b": 2}
    custom = {"b": 3, "c": 4}
    assert fill_dict(defaults, custom) == {"a": 1, "b": 3, "c": 4}
    # inputs are not modified
    assert defaults == {"a": 1, "b": 2}
    assert custom == {"b": 3, "c": 4}


def test_fill_dict_none_or_empty_custom() -> None:
    assert fill_dict({"a": 1}, None) == {"a": 1}
    assert fill_dict({"a": 1}, {}) == {"a": 1}


def test_fill_dict_skip_keys() -> None:
    assert fill_dict({"a": 1, "b": 2}, {"c": 3}, skip_keys=("b", "c", "zz")) == {"a": 1}


def test_fill_dict_returns_new_dict() -> None:
    defaults = {"a": 1}
    out = fill_dict(defaults, None)
    out["a"] = 2
    assert defaults == {"a": 1}


@given(st.dictionaries(st.text(max_size=3), st.integers()),
       st.dictionaries(st.text(max_size=3), st.integers()))
def test_prop_fill_dict(defaults: dict[str, int], custom: dict[str, int]) -> None:
    out = fill_dict(defaults, custom)
    assert set(out) == set(defaults) | set(custom)
    for k, v in out.items():
        assert v == (custom[k] if k in custom else defaults[k])


def test_apply_update_none_removes() -> None:
    cur = {"a": 1, "b": 2}
    assert apply_update(cur, {"a": None, "b": 5, "c": 6, "missing": None}) == {"b": 5, "c": 6}
    assert cur == {"a": 1, "b": 2}


def test_apply_update_after_check_params_default() -> None:
    # "default" in a modify request removes the override (Ganeti's semantics)
    upd = check_params("be", C.BES_PARAMETER_TYPES, {"maxmem": "default", "vcpus": "2"},
                       allow_default=True)
    assert upd == {"maxmem": None, "vcpus": 2}
    assert apply_update({"maxmem": 512, "minmem": 256}, upd) == {"minmem": 256, "vcpus": 2}


def test_upgrade_beparams_memory() -> None:
    assert upgrade_beparams({"memory": 512, "vcpus": 2}) == {
        "maxmem": 512, "minmem": 512, "vcpus": 2}


def test_upgrade_beparams_explicit_values_win() -> None:
    assert upgrade_beparams({"memory": 512, "maxmem": 1024}) == {"maxmem": 1024, "minmem": 512}
    assert upgrade_beparams({"memory": 512, "minmem": 128}) == {"maxmem": 512, "minmem": 128}


def test_upgrade_beparams_without_memory_unchanged() -> None:
    params = {"maxmem": 1024, "vcpus": 1}
    out = upgrade_beparams(params)
    assert out == params
    assert out is not params


# --- coerce_value -------------------------------------------------------------

@pytest.mark.parametrize("value", ["yes", "YES", "true", "True", "on", "1", "y", "t", True])
def test_coerce_bool_true(value: Any) -> None:
    assert coerce_value("be", "b", C.VTYPE_BOOL, value) is True


@pytest.mark.parametrize("value", ["no", "NO", "false", "off", "0", "n", "f", False])
def test_coerce_bool_false(value: Any) -> None:
    assert coerce_value("be", "b", C.VTYPE_BOOL, value) is False


@pytest.mark.parametrize("value", ["maybe", "", 1, 0, None, 2.0, []])
def test_coerce_bool_rejects(value: Any) -> None:
    with pytest.raises(errors.ParameterError) as ei:
        coerce_value("backend", "auto_balance", C.VTYPE_BOOL, value)
    assert "backend parameter 'auto_balance'" in str(ei.value)
    assert ei.value.ecode == errors.ECODE_INVAL


@pytest.mark.parametrize(("value", "out"), [
    (512, 512), ("512", 512), ("1G", 1024), ("1.5G", 1536), ("513", 516), (" 2g", 2048),
])
def test_coerce_size(value: Any, out: int) -> None:
    assert coerce_value("be", "maxmem", C.VTYPE_SIZE, value) == out


@pytest.mark.parametrize("value", ["-1", -5, "1X", "lots", None, True])
def test_coerce_size_rejects_naming_parameter(value: Any) -> None:
    with pytest.raises(errors.ParameterError) as ei:
        coerce_value("backend", "maxmem", C.VTYPE_SIZE, value)
    assert "backend parameter 'maxmem'" in str(ei.value)


@pytest.mark.parametrize(("value", "out"), [(3, 3), ("3", 3), (" 7 ", 7), ("-2", -2)])
def test_coerce_int(value: Any, out: int) -> None:
    got = coerce_value("be", "vcpus", C.VTYPE_INT, value)
    assert got == out
    assert type(got) is int


@pytest.mark.parametrize("value", ["x", "1.5", "", None, True, False, [1]])
def test_coerce_int_rejects(value: Any) -> None:
    with pytest.raises(errors.ParameterError) as ei:
        coerce_value("be", "vcpus", C.VTYPE_INT, value)
    assert "'vcpus'" in str(ei.value)
    assert "integer" in str(ei.value)


@pytest.mark.parametrize(("value", "out"), [(1, 1.0), ("1.5", 1.5), (2.25, 2.25)])
def test_coerce_float(value: Any, out: float) -> None:
    got = coerce_value("nd", "cpu_speed", C.VTYPE_FLOAT, value)
    assert got == out
    assert type(got) is float


@pytest.mark.parametrize("value", ["fast", None, [], ""])
def test_coerce_float_rejects(value: Any) -> None:
    with pytest.raises(errors.ParameterError) as ei:
        coerce_value("nd", "cpu_speed", C.VTYPE_FLOAT, value)
    assert "'cpu_speed'" in str(ei.value)


@pytest.mark.parametrize(("value", "out"), [("br0", "br0"), (12, "12"), (1.5, "1.5"), ("", "")])
def test_coerce_string(value: Any, out: str) -> None:
    assert coerce_value("nic", "link", C.VTYPE_STRING, value) == out


@pytest.mark.parametrize("value", [None, True, [], {}])
def test_coerce_string_rejects(value: Any) -> None:
    with pytest.raises(errors.ParameterError) as ei:
        coerce_value("nic", "link", C.VTYPE_STRING, value)
    assert "nic parameter 'link'" in str(ei.value)


def test_coerce_maybe_string() -> None:
    assert coerce_value("nic", "vlan", C.VTYPE_MAYBE_STRING, None) is None
    assert coerce_value("nic", "vlan", C.VTYPE_MAYBE_STRING, "100") == "100"
    assert coerce_value("nic", "vlan", C.VTYPE_MAYBE_STRING, 100) == "100"
    with pytest.raises(errors.ParameterError):
        coerce_value("nic", "vlan", C.VTYPE_MAYBE_STRING, False)


def test_coerce_unknown_kind_is_programmer_error() -> None:
    with pytest.raises(errors.ProgrammerError):
        coerce_value("x", "y", "no-such-kind", 1)


# --- check_params -------------------------------------------------------------

def test_check_params_coerces_every_kind() -> None:
    out = check_params("test", TYPES, {"b": "yes", "s": 5, "ms": None, "i": "4", "f": "0.5",
                                       "z": "1G"})
    assert out == {"b": True, "s": "5", "ms": None, "i": 4, "f": 0.5, "z": 1024}


def test_check_params_does_not_modify_input() -> None:
    params = {"i": "4"}
    out = check_params("test", TYPES, params)
    assert params == {"i": "4"}
    assert out is not params


def test_check_params_empty() -> None:
    assert check_params("test", TYPES, {}) == {}


def test_check_params_unknown_name_lists_allowed() -> None:
    with pytest.raises(errors.ParameterError) as ei:
        check_params("backend", C.BES_PARAMETER_TYPES, {"vcpus": 1, "memroy": 512})
    msg = str(ei.value)
    assert "Unknown backend parameter 'memroy'" in msg
    for name in C.BES_PARAMETER_TYPES:
        assert name in msg
    assert ei.value.ecode == errors.ECODE_INVAL


def test_check_params_unknown_name_with_empty_table() -> None:
    with pytest.raises(errors.ParameterError) as ei:
        check_params("file diskparams", {}, {"x": 1})
    assert "allowed: none" in str(ei.value)


def test_check_params_bad_value_names_parameter() -> None:
    with pytest.raises(errors.ParameterError) as ei:
        check_params("backend", C.BES_PARAMETER_TYPES, {"vcpus": "two"})
    assert "backend parameter 'vcpus'" in str(ei.value)


def test_check_params_default_only_with_allow_default() -> None:
    assert check_params("test", TYPES, {"i": "default", "s": None},
                        allow_default=True) == {"i": None, "s": None}
    with pytest.raises(errors.ParameterError):
        check_params("test", TYPES, {"i": "default"})
    # "default" is a valid *string* value when defaults are not allowed
    assert check_params("test", TYPES, {"s": "default"}) == {"s": "default"}


def test_check_params_real_tables_accept_their_defaults() -> None:
    assert check_params("be", C.BES_PARAMETER_TYPES, C.BEC_DEFAULTS) == C.BEC_DEFAULTS
    assert check_params("nic", C.NICS_PARAMETER_TYPES, C.NICC_DEFAULTS) == C.NICC_DEFAULTS
    assert check_params("nd", C.NDS_PARAMETER_TYPES, C.NDC_DEFAULTS) == C.NDC_DEFAULTS
    for template, types in C.DISK_DT_TYPES.items():
        defaults = C.DISK_DT_DEFAULTS[template]
        assert set(types) == set(defaults), template
        assert check_params(f"{template} disk", types, defaults) == defaults


# --- fill: inheritance --------------------------------------------------------

def make_cluster(**kw: Any) -> Cluster:
    return Cluster(cluster_name="cluster.example.com", master_node="n-uuid",
                   master_ip="192.0.2.1", **kw)


def make_instance(**kw: Any) -> Instance:
    base: dict[str, Any] = {"name": "inst1.example.com", "primary_node": "n-uuid",
                            "os": "debian+minimal", "hypervisor": C.HT_KVM}
    base.update(kw)
    return Instance(**base)


def test_os_base() -> None:
    assert fill.os_base("debian+minimal") == "debian"
    assert fill.os_base("debian") == "debian"
    assert fill.os_base("a+b+c") == "a"


def test_fill_hv_chain_cluster_os_variant_instance() -> None:
    cl = make_cluster(
        hvparams={C.HT_KVM: {"kernel_args": "cluster", "acpi": False,
                             "serial_speed": 9600, "root_path": "/dev/cl"}},
        os_hvp={"debian": {C.HT_KVM: {"kernel_args": "os", "acpi": True,
                                      "root_path": "/dev/os"}},
                "debian+minimal": {C.HT_KVM: {"root_path": "/dev/variant"}},
                "other": {C.HT_KVM: {"serial_speed": 1}}})
    inst = make_instance(hvparams={"kernel_args": "inst"})
    got = fill.fill_instance_hv(cl, inst)
    defaults = defaults_for(C.HT_KVM)
    assert set(got) == set(defaults)
    assert got["kernel_args"] == "inst"          # instance beats os and cluster
    assert got["acpi"] is True                   # os beats cluster
    assert got["root_path"] == "/dev/variant"    # os+variant beats base os
    assert got["serial_speed"] == 9600           # cluster beats hypervisor default
    assert got["kvm_path"] == defaults["kvm_path"]  # hypervisor default
    # nothing shared with the config objects
    got["kernel_args"] = "changed"
    assert inst.hvparams == {"kernel_args": "inst"}
    assert cl.hvparams[C.HT_KVM]["kernel_args"] == "cluster"


def test_fill_hv_os_hvp_of_other_hypervisor_ignored() -> None:
    cl = make_cluster(os_hvp={"debian": {C.HT_FAKE: {"migration_mode": "non-live"}}})
    assert fill.fill_hv(cl, C.HT_KVM, "debian", None) == defaults_for(C.HT_KVM)
    assert fill.fill_hv(cl, C.HT_FAKE, "debian", None) == {"migration_mode": "non-live"}
    assert fill.fill_hv(cl, C.HT_FAKE, "debian+x", {"migration_mode": "live"}) == {
        "migration_mode": "live"}


def test_fill_hv_variant_only() -> None:
    cl = make_cluster(os_hvp={"debian+minimal": {C.HT_FAKE: {"migration_mode": "non-live"}}})
    assert fill.fill_hv(cl, C.HT_FAKE, "debian", None)["migration_mode"] == "live"
    assert fill.fill_hv(cl, C.HT_FAKE, "debian+minimal", None)["migration_mode"] == "non-live"


def test_fill_be() -> None:
    cl = make_cluster()
    assert fill.fill_be(cl, None) == C.BEC_DEFAULTS
    inst = make_instance(beparams={"maxmem": 1024, "vcpus": 4})
    got = fill.fill_instance_be(cl, inst)
    assert got == {**C.BEC_DEFAULTS, "maxmem": 1024, "vcpus": 4}
    cl.beparams = {"default": {**C.BEC_DEFAULTS, "minmem": 256, "vcpus": 2}}
    got = fill.fill_instance_be(cl, inst)
    assert got["minmem"] == 256 and got["vcpus"] == 4 and got["maxmem"] == 1024


def test_fill_nic() -> None:
    cl = make_cluster()
    nic = NIC(mac="aa:00:00:00:00:01")
    assert fill.fill_nic(cl, nic) == C.NICC_DEFAULTS
    nic = NIC(mac="aa:00:00:00:00:01", nicparams={"link": "br1"})
    assert fill.fill_nic(cl, nic) == {**C.NICC_DEFAULTS, "link": "br1"}
    cl.nicparams = {"default": {**C.NICC_DEFAULTS, "mode": C.NIC_MODE_ROUTED}}
    assert fill.fill_nic(cl, nic) == {"mode": "routed", "link": "br1", "vlan": ""}


def test_fill_os_base_variant_instance() -> None:
    cl = make_cluster(osparams={
        "debian": {"dhcp": "no", "suite": "bookworm", "mirror": "deb.debian.org"},
        "debian+minimal": {"suite": "trixie", "minimal": "yes"},
        "ubuntu": {"dhcp": "maybe"},
    })
    assert fill.fill_os(cl, "debian", None) == {
        "dhcp": "no", "suite": "bookworm", "mirror": "deb.debian.org"}
    assert fill.fill_os(cl, "debian+minimal", None) == {
        "dhcp": "no", "suite": "trixie", "mirror": "deb.debian.org", "minimal": "yes"}
    assert fill.fill_os(cl, "debian+minimal", {"dhcp": "yes"}) == {
        "dhcp": "yes", "suite": "trixie", "mirror": "deb.debian.org", "minimal": "yes"}
    assert fill.fill_os(cl, "debian+other", None)["suite"] == "bookworm"
    assert fill.fill_os(cl, "centos", {"a": "1"}) == {"a": "1"}


def test_fill_nd_cluster_group_node() -> None:
    cl = make_cluster()
    grp = NodeGroup(name="default", ndparams={"ssh_port": 2222, "spindle_count": 4})
    node = Node(name="n1", primary_ip="192.0.2.10", secondary_ip="192.0.2.10",
                group=grp.uuid, ndparams={"spindle_count": 8})
    assert fill.fill_nd(cl, None, None) == C.NDC_DEFAULTS
    assert fill.fill_nd(cl, grp, None) == {**C.NDC_DEFAULTS, "ssh_port": 2222,
                                           "spindle_count": 4}
    assert fill.fill_nd(cl, grp, node) == {**C.NDC_DEFAULTS, "ssh_port": 2222,
                                           "spindle_count": 8}
    assert fill.fill_nd(cl, None, node) == {**C.NDC_DEFAULTS, "spindle_count": 8}
    out = fill.fill_nd(cl, grp, node)
    out["ssh_port"] = 1
    assert cl.ndparams["ssh_port"] == 22


def test_fill_diskparams() -> None:
    cl = make_cluster()
    grp = NodeGroup(name="g", diskparams={C.DT_DRBD8: {"resync-rate": 1000},
                                          C.DT_PLAIN: {"stripes": 2}})
    drbd = fill.fill_diskparams(cl, grp, C.DT_DRBD8)
    assert drbd == {**C.DISK_DT_DEFAULTS[C.DT_DRBD8], "resync-rate": 1000}
    assert fill.fill_diskparams(cl, None, C.DT_DRBD8) == C.DISK_DT_DEFAULTS[C.DT_DRBD8]
    assert fill.fill_diskparams(cl, grp, C.DT_PLAIN) == {"stripes": 2}
    assert fill.fill_diskparams(cl, grp, C.DT_RBD) == C.DISK_DT_DEFAULTS[C.DT_RBD]
    assert fill.fill_diskparams(cl, grp, "unknown-template") == {}
    # the cluster's defaults are a copy, not the constants themselves
    drbd["protocol"] = "A"
    assert cl.diskparams[C.DT_DRBD8]["protocol"] == "C"
    assert C.DISK_DT_DEFAULTS[C.DT_DRBD8]["protocol"] == "C"


def test_fill_ipolicy() -> None:
    cl = make_cluster()
    assert fill.fill_ipolicy(cl, None) == C.IPOLICY_DEFAULTS
    grp = NodeGroup(name="g", ipolicy={"vcpu-ratio": 2.0,
                                       "disk-templates": [C.DT_FILE]})
    got = fill.fill_ipolicy(cl, grp)
    assert got["vcpu-ratio"] == 2.0
    assert got["disk-templates"] == [C.DT_FILE]
    assert got["spindle-ratio"] == C.IPOLICY_DEFAULTS["spindle-ratio"]
    assert got["minmax"] == C.IPOLICY_DEFAULTS["minmax"]


def test_cluster_defaults_are_not_shared_between_clusters() -> None:
    before = copy.deepcopy(C.IPOLICY_DEFAULTS)
    a, b = make_cluster(), make_cluster()
    a.ipolicy["minmax"][0]["min"]["memory-size"] = 1
    a.diskparams[C.DT_PLAIN]["stripes"] = 9
    a.beparams["default"]["vcpus"] = 9
    a.ndparams["ssh_port"] = 9
    assert b.ipolicy == before
    assert C.IPOLICY_DEFAULTS == before
    assert b.diskparams[C.DT_PLAIN]["stripes"] == 1
    assert b.beparams["default"]["vcpus"] == 1
    assert C.BEC_DEFAULTS["vcpus"] == 1
    assert b.ndparams["ssh_port"] == 22
