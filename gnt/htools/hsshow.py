"""Haskell ``show`` renderings of htools records, for messages Ganeti prints verbatim."""

from __future__ import annotations

from gnt.htools.fmt import hs_show_double
from gnt.htools.model import Group
from gnt.htools.types import IPolicy, ISpec

_DT_NAMES = {"diskless": "DTDiskless", "file": "DTFile", "sharedfile": "DTSharedFile",
             "plain": "DTPlain", "blockdev": "DTBlock", "drbd": "DTDrbd8", "rbd": "DTRbd",
             "ext": "DTExt", "gluster": "DTGluster"}
_POLICY_NAMES = {"preferred": "AllocPreferred", "last_resort": "AllocLastResort",
                 "unallocable": "AllocUnallocable"}


def show_str(s: str) -> str:
    """``show`` of a String (ASCII subset)."""
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def show_list(items: list[str]) -> str:
    return "[" + ",".join(items) + "]"


def show_ispec(s: ISpec) -> str:
    return (f"ISpec {{iSpecMemorySize = {s.mem_size}, iSpecCpuCount = {s.cpu_count}, "
            f"iSpecDiskSize = {s.disk_size}, iSpecDiskCount = {s.disk_count}, "
            f"iSpecNicCount = {s.nic_count}, iSpecSpindleUse = {s.spindle_use}}}")


def show_ipolicy(pol: IPolicy) -> str:
    mm = ",".join(f"MinMaxISpecs {{minMaxISpecsMinSpec = {show_ispec(x.min)}, "
                  f"minMaxISpecsMaxSpec = {show_ispec(x.max)}}}" for x in pol.minmax)
    dts = ",".join(_DT_NAMES[t.value] for t in pol.disk_templates)
    return (f"IPolicy {{iPolicyMinMaxISpecs = [{mm}], iPolicyStdSpec = {show_ispec(pol.std)}, "
            f"iPolicyDiskTemplates = [{dts}], iPolicyVcpuRatio = "
            f"{hs_show_double(pol.vcpu_ratio)}, iPolicySpindleRatio = "
            f"{hs_show_double(pol.spindle_ratio)}}}")


def show_group(g: Group) -> str:
    return (f"Group {{name = {show_str(g.name)}, uuid = {show_str(g.uuid)}, idx = {g.idx}, "
            f"allocPolicy = {_POLICY_NAMES[g.alloc_policy.value]}, networks = "
            f"{show_list([show_str(n) for n in g.networks])}, iPolicy = "
            f"{show_ipolicy(g.ipolicy)}, allTags = {show_list([show_str(t) for t in g.tags])}}}")
