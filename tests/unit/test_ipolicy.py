"""Instance policy computations (gnt.cmdlib.ipolicy): Ganeti's rules and messages,
checked case by case and as properties; policy changes through the real LUs."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gnt import constants as C
from gnt import errors
from gnt.cmdlib import ipolicy as ip
from gnt.objects import NIC, Cluster, ConfigData, Disk, Instance, Node, NodeGroup
from gnt.opcodes.cluster import OpClusterSetParams
from gnt.opcodes.group import OpGroupSetParams
from tests.support.lu import make_master, run_op

pytestmark = pytest.mark.unit

PARAMS = C.ISPECS_PARAMETERS
DEF = copy.deepcopy(C.IPOLICY_DEFAULTS)


def specs(mem: int | None = 256, cpu: int | None = 1, disks: tuple[int, ...] = (2048,),
          nics: int = 1, spindles: int | None = 1, template: str = C.DT_FILE) -> ip.ISpecs:
    return ip.ISpecs(mem_size=mem, cpu_count=cpu, disk_sizes=disks, nic_count=nics,
                     spindle_use=spindles, disk_template=template)


def pair(lo: dict[str, int] | None = None, hi: dict[str, int] | None = None
         ) -> dict[str, dict[str, int]]:
    base = copy.deepcopy(DEF["minmax"][0])
    base["min"].update(lo or {})
    base["max"].update(hi or {})
    return base


# ------------------------------------------------------------ minmax_violation

@pytest.mark.parametrize("name,qual,value,expected", [
    (C.ISPEC_MEM_SIZE, "", 64, "memory-size value 64 is not in range [128, 32768]"),
    (C.ISPEC_MEM_SIZE, "", 32769, "memory-size value 32769 is not in range [128, 32768]"),
    (C.ISPEC_DISK_SIZE, "1", 4096 * 1024,
     "disk-size/1 value 4194304 is not in range [1024, 1048576]"),
    (C.ISPEC_DISK_COUNT, "", 0, "disk-count value 0 is not in range [1, 16]"),
    (C.ISPEC_MEM_SIZE, "", 128, None),
    (C.ISPEC_MEM_SIZE, "", 32768, None),
    (C.ISPEC_CPU_COUNT, "", None, None),
    (C.ISPEC_CPU_COUNT, "", C.VALUE_AUTO, None),
])
def test_minmax_violation(name: str, qual: str, value: Any, expected: str | None) -> None:
    assert ip.minmax_violation(name, qual, DEF["minmax"][0], value) == expected


def test_minmax_violation_unset_bounds_do_not_limit() -> None:
    only_max = {"min": {}, "max": {C.ISPEC_DISK_COUNT: 4}}
    assert ip.minmax_violation(C.ISPEC_DISK_SIZE, "", only_max, 1) is None
    assert ip.minmax_violation(C.ISPEC_DISK_COUNT, "", only_max, 4) is None
    assert ip.minmax_violation(C.ISPEC_DISK_COUNT, "", only_max, 5) == \
        "disk-count value 5 is not in range [5, 4]"


# ---------------------------------------------------------- compute_violations

def test_compliant_instance_has_no_violation() -> None:
    assert ip.compute_violations(DEF, specs()) == []


def test_order_and_messages_follow_ganeti() -> None:
    s = specs(mem=64, cpu=9, disks=(64, 2048, 10), nics=0, spindles=13)
    assert ip.compute_violations(DEF, s) == [
        "memory-size value 64 is not in range [128, 32768]",
        "cpu-count value 9 is not in range [1, 8]",
        "nic-count value 0 is not in range [1, 8]",
        "spindle-use value 13 is not in range [1, 12]",
        "disk-size/0 value 64 is not in range [1024, 1048576]",
        "disk-size/2 value 10 is not in range [1024, 1048576]",
    ]


def test_disk_count_checked_except_for_diskless() -> None:
    pol = dict(DEF, minmax=[pair(lo={C.ISPEC_DISK_COUNT: 2})])
    assert ip.compute_violations(pol, specs(disks=(2048,))) == [
        "disk-count value 1 is not in range [2, 16]"]
    assert ip.compute_violations(pol, specs(disks=(), template=C.DT_DISKLESS)) == []
    # an empty disk list on a template with disks is counted
    assert ip.compute_violations(pol, specs(disks=())) == [
        "disk-count value 0 is not in range [2, 16]"]


def test_disallowed_template_comes_first_and_lists_the_allowed() -> None:
    pol = dict(DEF, **{"disk-templates": ["plain", "drbd"]})
    assert ip.compute_violations(pol, specs(template=C.DT_BLOCK, mem=1)) == [
        "Disk template blockdev is not allowed (allowed templates: plain, drbd)",
        "memory-size value 1 is not in range [128, 32768]",
    ]


def test_extra_violations_are_kept_first() -> None:
    s = ip.ISpecs(mem_size=1, cpu_count=1, disk_sizes=(2048,), nic_count=1, spindle_use=None,
                  disk_template=C.DT_FILE, extra=("spindles missing",))
    assert ip.compute_violations(DEF, s)[0] == "spindles missing"


def test_several_minmax_pairs_report_the_closest() -> None:
    small = pair(hi={C.ISPEC_MEM_SIZE: 1024, C.ISPEC_CPU_COUNT: 2})
    big = pair(lo={C.ISPEC_MEM_SIZE: 4096, C.ISPEC_CPU_COUNT: 4},
               hi={C.ISPEC_MEM_SIZE: 65536, C.ISPEC_CPU_COUNT: 32})
    pol = dict(DEF, minmax=[small, big])
    assert ip.compute_violations(pol, specs(mem=512, cpu=2)) == []    # fits the small
    assert ip.compute_violations(pol, specs(mem=8192, cpu=16)) == []  # fits the big
    # between the two: one violation against each, the first pair wins ties
    assert ip.compute_violations(pol, specs(mem=2048, cpu=2)) == [
        "memory-size value 2048 is not in range [128, 1024]"]
    assert ip.compute_violations(pol, specs(mem=8192, cpu=3)) == [
        "cpu-count value 3 is not in range [4, 32]"]


SPEC_VALUES = st.integers(min_value=0, max_value=100)


@st.composite
def policies(draw: st.DrawFn) -> dict[str, Any]:
    pairs = []
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        lo, hi = {}, {}
        for p in PARAMS:
            a, b = sorted((draw(SPEC_VALUES), draw(SPEC_VALUES)))
            lo[p], hi[p] = a, b
        pairs.append({"min": lo, "max": hi})
    dts = draw(st.lists(st.sampled_from(C.DISK_TEMPLATES), min_size=1, unique=True))
    return {"minmax": pairs, "std": {}, "disk-templates": dts, "vcpu-ratio": 4.0,
            "spindle-ratio": 32.0}


@st.composite
def instance_specs(draw: st.DrawFn) -> ip.ISpecs:
    template = draw(st.sampled_from(C.DISK_TEMPLATES))
    n = 0 if template == C.DT_DISKLESS else draw(st.integers(min_value=0, max_value=4))
    maybe = st.none() | SPEC_VALUES
    return ip.ISpecs(mem_size=draw(maybe), cpu_count=draw(maybe),
                     disk_sizes=tuple(draw(SPEC_VALUES) for _ in range(n)),
                     nic_count=draw(SPEC_VALUES), spindle_use=draw(maybe),
                     disk_template=template)


def _fits(p: dict[str, dict[str, int]], s: ip.ISpecs) -> bool:
    values = [(C.ISPEC_MEM_SIZE, s.mem_size), (C.ISPEC_CPU_COUNT, s.cpu_count),
              (C.ISPEC_NIC_COUNT, s.nic_count), (C.ISPEC_SPINDLE_USE, s.spindle_use)]
    values += [(C.ISPEC_DISK_SIZE, d) for d in s.disk_sizes]
    if s.disk_template != C.DT_DISKLESS:
        values.append((C.ISPEC_DISK_COUNT, s.disk_count))
    return all(v is None or p["min"][k] <= v <= p["max"][k] for k, v in values)


@settings(max_examples=300, deadline=None)
@given(policies(), instance_specs())
def test_property_no_violation_iff_one_pair_fits(pol: dict[str, Any], s: ip.ISpecs) -> None:
    got = ip.compute_violations(pol, s)
    allowed = s.disk_template in pol["disk-templates"]
    assert (got == []) == (allowed and any(_fits(p, s) for p in pol["minmax"]))
    assert any(m.startswith("Disk template") for m in got) == (not allowed)


@settings(max_examples=300, deadline=None)
@given(policies(), instance_specs())
def test_property_reports_the_pair_with_fewest_violations(pol: dict[str, Any],
                                                          s: ip.ISpecs) -> None:
    got = [m for m in ip.compute_violations(pol, s) if not m.startswith("Disk template")]
    per_pair = [ip.compute_violations(dict(pol, minmax=[p], **{"disk-templates": [
        s.disk_template]}), s) for p in pol["minmax"]]
    assert len(got) == min(len(v) for v in per_pair)
    assert got in per_pair
    for msg in got:  # every message names a real value out of its range
        assert " is not in range [" in msg


# ------------------------------------------------------------- config helpers

def make_cfg(group_policy: dict[str, Any] | None = None) -> ConfigData:
    g1 = NodeGroup(name="default", uuid="g1")
    g2 = NodeGroup(name="rack2", uuid="g2", ipolicy=group_policy or {})
    nodes = [Node(name="node1.example.com", primary_ip="192.0.2.1", secondary_ip="192.0.2.1",
                  group="g1", uuid="n1"),
             Node(name="node2.example.com", primary_ip="192.0.2.2", secondary_ip="192.0.2.2",
                  group="g2", uuid="n2")]
    disks = {"d1": Disk(uuid="d1", dev_type=C.DT_FILE, logical_id=["loop", "/x/d1"],
                        size=64, nodes=["n1"]),
             "d2": Disk(uuid="d2", dev_type=C.DT_FILE, logical_id=["loop", "/x/d2"],
                        size=4096, nodes=["n2"])}
    small = Instance(uuid="i1", name="small.example.com", primary_node="n1", os="x",
                     hypervisor=C.HT_FAKE, disk_template=C.DT_FILE, disks=["d1"],
                     beparams={"maxmem": 256, "minmem": 64, "vcpus": 2})
    big = Instance(uuid="i2", name="big.example.com", primary_node="n2", os="x",
                   hypervisor=C.HT_FAKE, disk_template=C.DT_FILE, disks=["d2"],
                   beparams={"maxmem": 4096, "vcpus": 4},
                   nics=[NIC(mac="aa:00:00:00:00:01")])
    cluster = Cluster(cluster_name="c.example.com", master_node="n1", master_ip="192.0.2.9")
    return ConfigData(cluster=cluster, nodes={n.uuid: n for n in nodes},
                      nodegroups={"g1": g1, "g2": g2}, disks=disks,
                      instances={"i1": small, "i2": big})


def test_specs_of_instance_fill_backend_parameters() -> None:
    cfg = make_cfg()
    s = ip.ISpecs.of_instance(cfg, cfg.instances["i1"])
    assert (s.mem_size, s.cpu_count, s.disk_sizes, s.nic_count, s.spindle_use,
            s.disk_template) == (256, 2, (64,), 0, 1, C.DT_FILE)
    assert ip.ISpecs.of_instance(cfg, cfg.instances["i1"], memory=C.BE_MINMEM).mem_size == 64
    assert ip.ISpecs.of_instance(cfg, cfg.instances["i1"], {"vcpus": 7}).cpu_count == 7
    assert ip.instance_violations(cfg, cfg.instances["i1"]) == [
        "nic-count value 0 is not in range [1, 8]",
        "disk-size/0 value 64 is not in range [1024, 1048576]"]
    assert ip.instance_violations(cfg, cfg.instances["i2"]) == []


def test_specs_with_exclusive_storage_use_disk_spindles() -> None:
    cfg = make_cfg()
    cfg.nodes["n2"].ndparams = {C.ND_EXCLUSIVE_STORAGE: True}
    s = ip.ISpecs.of_instance(cfg, cfg.instances["i2"])
    assert s.spindle_use is None and "repair-disk-sizes" in s.extra[0]
    cfg.disks["d2"].spindles = 3
    s = ip.ISpecs.of_instance(cfg, cfg.instances["i2"])
    assert s.spindle_use == 3 and s.extra == ()


def test_specs_new_fill_from_the_cluster() -> None:
    cl = make_cfg().cluster
    s = ip.ISpecs.new(cl, {"vcpus": 3}, [100, 200], 2, C.DT_FILE)
    assert (s.mem_size, s.cpu_count, s.disk_count, s.nic_count, s.spindle_use) == \
        (128, 3, 2, 2, 1)
    assert ip.ISpecs.new(cl, {"minmem": 64}, [], 0, C.DT_DISKLESS,
                         memory=C.BE_MINMEM).mem_size == 64


def test_group_policy_is_filled_over_the_cluster() -> None:
    cfg = make_cfg({"vcpu-ratio": 2.0, "disk-templates": ["drbd"]})
    pol = ip.group_ipolicy(cfg, "g2")
    assert pol["vcpu-ratio"] == 2.0 and pol["disk-templates"] == ["drbd"]
    assert pol["minmax"] == DEF["minmax"] and pol["spindle-ratio"] == 32.0
    assert ip.group_ipolicy(cfg, None) == cfg.cluster.ipolicy


# -------------------------------------------------------- check_instance_ipolicy

def test_allocation_violation_raises_ganetis_message() -> None:
    cfg = make_cfg()
    s = ip.ISpecs.new(cfg.cluster, {}, [64], 0, C.DT_FILE)
    with pytest.raises(errors.OpPrereqError) as exc:
        ip.check_instance_ipolicy(cfg, s, cfg.nodes["n1"], ignore=False)
    assert exc.value.ecode == errors.ECODE_INVAL
    assert str(exc.value) == (
        "Instance allocation to group g1 (default) violates policy: nic-count value 0 is "
        "not in range [1, 8], disk-size/0 value 64 is not in range [1024, 1048576]")


def test_allocation_violation_ignored_silently() -> None:
    cfg = make_cfg()
    seen: list[str] = []
    s = ip.ISpecs.new(cfg.cluster, {}, [64], 1, C.DT_FILE)
    assert ip.check_instance_ipolicy(cfg, s, "n1", True, seen.append) == [
        "disk-size/0 value 64 is not in range [1024, 1048576]"]
    assert seen == []


def test_target_group_accepted_by_name_uuid_node_and_object() -> None:
    cfg = make_cfg({"disk-templates": ["drbd"]})
    s = ip.ISpecs.new(cfg.cluster, {}, [2048], 1, C.DT_FILE)
    for target in ("rack2", "g2", "n2", cfg.nodes["n2"], cfg.nodegroups["g2"]):
        with pytest.raises(errors.OpPrereqError, match="allowed templates: drbd"):
            ip.check_instance_ipolicy(cfg, s, target, False)
    with pytest.raises(errors.OpPrereqError, match="not found"):
        ip.check_instance_ipolicy(cfg, s, "nosuchgroup", False)


def test_modify_checks_both_memory_bounds() -> None:
    cfg = make_cfg()
    inst = cfg.instances["i2"]
    both = [ip.ISpecs.of_instance(cfg, inst, {"maxmem": 65536, "minmem": 64}),
            ip.ISpecs.of_instance(cfg, inst, {"maxmem": 65536, "minmem": 64},
                                  memory=C.BE_MINMEM)]
    with pytest.raises(errors.OpPrereqError) as exc:
        ip.check_instance_ipolicy(cfg, both, "n2", False)
    assert "memory-size value 65536 is not in range" in str(exc.value)
    assert "memory-size value 64 is not in range" in str(exc.value)


def test_target_mode_skips_the_same_group_and_warns_when_ignored() -> None:
    cfg = make_cfg({"disk-templates": ["drbd"]})
    small = cfg.instances["i1"]  # violates everywhere (no NIC, 64 MiB disk)
    assert ip.check_instance_ipolicy(cfg, small, "n1", False, mode=ip.TARGET) == []
    with pytest.raises(errors.OpPrereqError) as exc:
        ip.check_instance_ipolicy(cfg, small, "n2", False, mode=ip.TARGET)
    assert str(exc.value).startswith(
        "Instance does not meet target node group's (g2) instance policy: Disk template "
        "file is not allowed (allowed templates: drbd)")
    seen: list[str] = []
    found = ip.check_instance_ipolicy(cfg, small, "n2", True, seen.append, mode=ip.TARGET)
    assert found and seen == [str(exc.value)]
    # specs without an instance: the caller names the current group
    s = ip.ISpecs.of_instance(cfg, small)
    assert ip.check_instance_ipolicy(cfg, s, "n2", False, mode=ip.TARGET,
                                     current_group="g2") == []


# ---------------------------------------------------------------- node ratios

@pytest.mark.parametrize("cpus,used,new,ok", [
    (2, 0, 8, True), (2, 4, 4, True), (2, 4, 5, False), (1, 0, 5, False), (16, 60, 4, True)])
def test_vcpu_ratio(cpus: int, used: int, new: int, ok: bool) -> None:
    got = ip.vcpu_ratio_violation(DEF, cpus, used, new)
    assert (got is None) == ok
    if not ok:
        assert got is not None and got.startswith("vcpu-ratio value") and "limit 4" in got


def test_vcpu_ratio_of_a_group_and_zero_cpus() -> None:
    assert ip.vcpu_ratio_violation({"vcpu-ratio": 1.5}, 2, 2, 1) is None
    assert ip.vcpu_ratio_violation({"vcpu-ratio": 1.5}, 2, 2, 2) is not None
    assert "0 physical CPUs" in str(ip.vcpu_ratio_violation(DEF, 0, 0, 1))


def test_spindle_ratio_only_for_templates_using_node_spindles() -> None:
    pol = dict(DEF, **{"spindle-ratio": 2.0})
    assert ip.spindle_ratio_violation(pol, 2, 3, 1, C.DT_PLAIN) is None
    assert "spindle use 5" in str(ip.spindle_ratio_violation(pol, 2, 4, 1, C.DT_DRBD8))
    assert ip.spindle_ratio_violation(pol, 2, 40, 10, C.DT_FILE) is None


def test_node_ratio_violations_count_the_nodes_primaries() -> None:
    cfg = make_cfg({"vcpu-ratio": 2.0})
    s = ip.ISpecs.new(cfg.cluster, {"vcpus": 1}, [2048], 1, C.DT_FILE)
    # node2 has big (4 vcpus) and 2 CPUs: 5/2 > 2
    assert ip.node_ratio_violations(cfg, cfg.nodes["n2"], s, 2)[0].startswith(
        "vcpu-ratio value 2.5 is over the limit 2")
    assert ip.node_ratio_violations(cfg, cfg.nodes["n2"], s, 2, exclude="i2") == []
    assert ip.node_ratio_violations(cfg, cfg.nodes["n2"], s, 3) == []


# ------------------------------------------------------------- policy syntax

GOOD = {"minmax": DEF["minmax"], "std": DEF["std"], "disk-templates": ["file"],
        "vcpu-ratio": 4.0, "spindle-ratio": 32.0}


@pytest.mark.parametrize("change,word", [
    ({"bogus": 1}, "Invalid keys in ipolicy: bogus"),
    ({"minmax": []}, "Empty minmax specifications"),
    ({"minmax": [{"min": DEF["std"]}]}, "Missing instance specification: max"),
    ({"minmax": [{"min": {"memory-size": 1}, "max": DEF["std"]}]},
     "Missing instance specs parameters for min"),
    ({"minmax": [pair(lo={"cpu-count": 9})]},
     "Invalid specification of min/max values for cpu-count: 9/8"),
    ({"std": dict(DEF["std"], **{"memory-size": 1})}, "Invalid std specifications"),
    ({"std": {"memory-size": 256}}, "Missing instance specs parameters for std"),
    ({"disk-templates": []}, "at least one disk template"),
    ({"disk-templates": ["floppy"]}, "Invalid disk template(s) floppy"),
    ({"vcpu-ratio": "many"}, "Invalid value for key 'vcpu-ratio'"),
])
def test_policy_syntax_errors(change: dict[str, Any], word: str) -> None:
    with pytest.raises(errors.OpPrereqError) as exc:
        ip.check_ipolicy_syntax({**GOOD, **change}, check_std=True)
    assert str(exc.value).startswith("Invalid instance policy: ")
    assert word in str(exc.value)


def test_policy_syntax_std_fits_one_of_several_pairs() -> None:
    hi = pair(lo={"memory-size": 4096})
    ip.check_ipolicy_syntax({**GOOD, "minmax": [hi, DEF["minmax"][0]]}, check_std=True)
    with pytest.raises(errors.OpPrereqError, match="Invalid std"):
        ip.check_ipolicy_syntax({**GOOD, "minmax": [hi]}, check_std=True)
    ip.check_ipolicy_syntax({"minmax": [hi]}, check_std=False)


def test_update_cluster_policy() -> None:
    new = ip.update_cluster_ipolicy(DEF, {"std": {"memory-size": "256", "cpu-count": 2},
                                          "vcpu-ratio": "2.5",
                                          "disk-templates": "file"})
    assert new["std"] == dict(DEF["std"], **{"memory-size": 256, "cpu-count": 2})
    assert new["vcpu-ratio"] == 2.5 and new["disk-templates"] == ["file"]
    assert DEF == C.IPOLICY_DEFAULTS  # the input is not changed
    bounds = [pair(lo={"memory-size": 64})]
    assert ip.update_cluster_ipolicy(DEF, {"minmax": bounds})["minmax"][0]["min"][
        "memory-size"] == 64


@pytest.mark.parametrize("change,word", [
    ({"vcpu-ratio": "default"}, "Can't unset ipolicy attribute 'vcpu-ratio'"),
    ({"disk-templates": []}, "Can't unset ipolicy attribute 'disk-templates'"),
    ({"spindle-ratio": "x"}, "Invalid value for attribute 'spindle-ratio'"),
    ({"spindle-ratio": -1}, "expected a positive number"),
    ({"nope": 1}, "Invalid key in new ipolicy: nope"),
    ({"std": {"memory-size": 16}}, "Invalid std specifications"),
    ({"std": {"bogus": 1}}, "unknown std parameter 'bogus'"),
    ({"minmax": [{"min": {}}]}, "must have exactly 'min' and 'max'"),
])
def test_update_cluster_policy_refusals(change: dict[str, Any], word: str) -> None:
    with pytest.raises(errors.GntError) as exc:
        ip.update_cluster_ipolicy(DEF, change)
    assert word in str(exc.value)


# ----------------------------------------------------- policy changes (LUs)

def test_change_violations() -> None:
    cfg = make_cfg()
    tight = copy.deepcopy(DEF)
    tight["minmax"][0]["max"]["memory-size"] = 1024
    # big newly violates; small violated before and is not reported
    assert ip.cluster_policy_change_violations(cfg, tight) == ["big.example.com"]
    assert ip.group_policy_change_violations(cfg, cfg.nodegroups["g1"],
                                             {"minmax": tight["minmax"]}) == []
    assert ip.group_policy_change_violations(cfg, cfg.nodegroups["g2"],
                                             {"minmax": tight["minmax"]}) == [
        "big.example.com"]
    assert ip.policy_change_warning(["a", "b"]) == (
        "After the ipolicy change the following instances violate them: a, b")
    assert ip.policy_change_warning([]) is None


def test_cluster_modify_applies_and_warns(tmp_path: Path) -> None:
    mctx = make_master(tmp_path / "config.data", make_cfg())
    bounds = [pair(hi={"memory-size": 1024})]
    _, jctx = run_op(mctx, OpClusterSetParams(ipolicy={"minmax": bounds, "vcpu-ratio": 3}))
    cl = mctx.cfg.data.cluster
    assert cl.ipolicy["minmax"] == bounds and cl.ipolicy["vcpu-ratio"] == 3.0
    assert any("following instances violate them: big.example.com" in str(m)
               for m in jctx.log)
    serial = mctx.cfg.data.serial_no
    with pytest.raises(errors.OpPrereqError, match="Invalid std"):
        run_op(mctx, OpClusterSetParams(ipolicy={"std": {"memory-size": 4096}}))
    assert mctx.cfg.data.serial_no == serial


def test_group_modify_warns_about_its_instances(tmp_path: Path) -> None:
    mctx = make_master(tmp_path / "config.data", make_cfg())
    _, jctx = run_op(mctx, OpGroupSetParams(group_name="rack2",
                                            ipolicy={"disk-templates": ["drbd"]}))
    assert mctx.cfg.data.nodegroups["g2"].ipolicy == {"disk-templates": ["drbd"]}
    assert any("following instances violate them: big.example.com" in str(m)
               for m in jctx.log)
    _, jctx = run_op(mctx, OpGroupSetParams(group_name="default",
                                            ipolicy={"vcpu-ratio": 1.0}), job_id=2)
    assert not any("violate" in str(m) for m in jctx.log)


def test_verify_warns_about_instances_out_of_policy() -> None:
    cfg = make_cfg()
    seen: list[tuple[Any, ...]] = []
    ip.verify_group_instances(cfg, "g1", lambda *a, **kw: seen.append((*a, kw)))
    msg = ("nic-count value 0 is not in range [1, 8], disk-size/0 value 64 is not in range"
           " [1024, 1048576]")
    assert seen == [(("instance", "EINSTANCEPOLICY"), "small.example.com", msg,
                     {"warning": True})]
    seen.clear()
    ip.verify_group_instances(cfg, "g2", lambda *a, **kw: seen.append(a))
    assert seen == []
