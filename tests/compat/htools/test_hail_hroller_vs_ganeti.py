"""gnt's hail and hroller against Debian's Ganeti 3.0 (``/usr/lib/ganeti/iallocators/hail``,
``/usr/bin/hroller``): same input, byte-identical output and exit status.

The inputs are generated (seeded): clusters of one to three groups with
DRBD, plain, shared-storage and diskless instances, offline, drained and
non-vm-capable nodes, exclusive storage, forthcoming and offline
instances, tags, exclusion and location tags, several group policies and
allocation policies; the requests cover every request type, successful
and failing ones (too much memory, policy violations, no group with the
instance's network, no N+1 redundancy left, ...).
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from gnt.htools.generate import GenSpec, generate
from gnt.htools.iallocator import cluster_to_json
from gnt.htools.text import serialize_cluster
from tests.unit.htools.htools_fixtures import SMALL

REF_HAIL = "/usr/lib/ganeti/iallocators/hail"
REF_HROLLER = "/usr/bin/hroller"

pytestmark = [
    pytest.mark.compat,
    pytest.mark.skipif(not (os.path.exists(REF_HAIL) and os.path.exists(REF_HROLLER)),
                       reason="Ganeti htools (Debian ganeti-htools-3.0) not installed"),
]


def _new_inst(rng: random.Random, name: str, tmpl: str | None = None) -> dict:
    tmpl = tmpl or rng.choice(["drbd", "drbd", "plain", "sharedfile", "diskless", "file"])
    mem = rng.choice([512, 1024, 2048, 4096, 8192, 16384] + ([100000] if rng.random() < .1
                                                            else []))
    dsk = rng.choice([1024, 10240, 51200, 204800] + ([3000000] if rng.random() < .1 else []))
    ndisk = rng.choice([1, 1, 2])
    disks = [{"size": dsk // ndisk, "mode": "rw"} for _ in range(ndisk)]
    if tmpl == "diskless":
        disks, dsk = [], 0
    return {"name": name, "disk_template": tmpl, "memory": mem,
            "vcpus": rng.choice([1, 2, 4] + ([12] if rng.random() < .1 else [])),
            "disks": disks, "disk_space_total": dsk,
            "nics": [{"network": rng.choice([None, None, "net1"])}],
            "tags": rng.choice([[], [], ["service:svc1"], ["owner:x"]]),
            "spindle_use": 1, "os": "debian", "hypervisor": "xen-pvm",
            "required_nodes": 2 if tmpl == "drbd" else 1}


def hail_case(seed: int) -> str | None:
    """A request document (JSON text) from ``seed``; None if the draw makes no sense."""
    rng = random.Random(seed)
    groups = rng.choice([1, 1, 2, 3])
    spec = GenSpec(nodes=rng.randint(3, 10) * groups // max(1, groups // 2),
                   instances=rng.randint(5, 60), groups=groups, seed=seed,
                   offline=rng.choice([0, 0, 1]), tags=rng.random() < 0.3,
                   exclusion=rng.random() < 0.3, locations=rng.random() < 0.3,
                   heterogeneous=rng.random() < 0.4, down_fraction=rng.choice([0, 0.2]),
                   unbalanced=rng.random() < 0.5,
                   templates=rng.choice([{"drbd": 1.0},
                                         {"drbd": 0.6, "plain": 0.2, "sharedfile": 0.2},
                                         {"drbd": 0.5, "diskless": 0.2, "ext": 0.3}]),
                   node_mem=rng.choice([0, 32768, 65536, 131072]))
    cd = generate(spec)
    hv = rng.choice(["xen-pvm", "xen-pvm", "kvm"])
    kind = rng.choice(["allocate", "allocate", "multi-allocate", "relocate",
                       "node-evacuate", "node-evacuate", "change-group"])
    insts = [i.name for i in cd.instances]
    req: dict
    if kind == "allocate":
        req = dict(_new_inst(rng, "new1"), type="allocate")
        if rng.random() < 0.2:
            req["group_name"] = cd.groups[rng.randrange(len(cd.groups))].name
    elif kind == "multi-allocate":
        req = {"type": "multi-allocate",
               "instances": [_new_inst(rng, f"new{k}") for k in range(rng.randint(1, 5))]}
    elif kind == "relocate":
        cands = [i for i in cd.instances if i.template.value in ("drbd", "sharedfile")]
        if not cands:
            return None
        i = rng.choice(cands)
        node = i.snode if i.template.value == "drbd" else i.pnode
        req = {"type": "relocate", "name": i.name, "required_nodes": 1,
               "relocate_from": [cd.nodes[node].name], "disk_space_total": i.dsk}
    elif kind == "node-evacuate":
        n = rng.randrange(len(cd.nodes))
        sel = [i.name for i in cd.instances if n in (i.pnode, i.snode)] or insts[:3]
        req = {"type": "node-evacuate", "instances": sel,
               "evac_mode": rng.choice(["primary-only", "secondary-only", "all"])}
    else:
        if len(cd.groups) < 2:
            return None
        sel = rng.sample(insts, min(len(insts), rng.randint(1, 4)))
        req = {"type": "change-group", "instances": sel,
               "target_groups": rng.choice([[], [cd.groups[-1].uuid]])}
    doc = cluster_to_json(cd, req, hv)
    for n in doc["nodes"].values():
        r = rng.random()
        if r < 0.05:
            n["drained"] = True
        elif r < 0.08:
            n["vm_capable"] = False
        if rng.random() < 0.05:
            n["ndparams"]["exclusive_storage"] = True
            n["total_spindles"] = 12
            n["free_spindles"] = rng.choice([0, 6, 12])
    for i in doc["instances"].values():
        if i["disk_template"] == "diskless":
            i["disks"], i["disk_space_total"] = [], 0
        elif rng.random() < 0.2:
            sz = i["disks"][0]["size"]
            i["disks"] = [{"size": sz // 2, "mode": "rw"}, {"size": sz - sz // 2, "mode": "rw"}]
        r = rng.random()
        if r < 0.05:
            i["forthcoming"] = True
        elif r < 0.1:
            i["admin_state"] = "offline"
        if rng.random() < 0.1 and i["disks"]:
            i["disks"][0]["spindles"] = 1
    for g in doc["nodegroups"].values():
        if rng.random() < 0.2:
            mm = g["ipolicy"]["minmax"][0]
            g["ipolicy"]["minmax"] = [{"min": dict(mm["min"], **{"memory-size": 4096}),
                                       "max": mm["max"]}, mm]
        if rng.random() < 0.1:
            g["ipolicy"]["disk-templates"] = ["plain", "drbd"]
        g["alloc_policy"] = rng.choice(["preferred", "preferred", "last_resort",
                                        "unallocable"])
        g["networks"] = rng.choice([[], ["net1"]])
    return json.dumps(doc)


def _run(cmd: list[str]) -> tuple[int, str, str]:
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    return res.returncode, res.stdout, res.stderr


def _ours(tool: str, *args: str) -> tuple[int, str, str]:
    return _run([sys.executable, "-m", "gnt.htools", tool, *args])


HAIL_SEEDS = list(range(7000, 7060))


@pytest.mark.parametrize("seed", HAIL_SEEDS)
def test_hail_same_answer(tmp_path: Path, seed: int) -> None:
    doc = hail_case(seed)
    if doc is None:
        pytest.skip("no suitable instance for this draw")
    path = tmp_path / "request.json"
    path.write_text(doc)
    assert _ours("hail", str(path)) == _run([REF_HAIL, str(path)])


def test_hail_options_and_errors(tmp_path: Path) -> None:
    doc = json.loads(hail_case(7001) or "{}")
    path = tmp_path / "r.json"
    path.write_text(json.dumps(doc))
    text = tmp_path / "c.txt"
    text.write_text(SMALL)
    small_req = tmp_path / "small.json"
    from gnt.htools.text import parse_text
    small = parse_text(SMALL)
    small_req.write_text(json.dumps(cluster_to_json(small, {
        "type": "allocate", "name": "x", "disk_template": "plain", "memory": 256, "vcpus": 1,
        "disks": [{"size": 1024, "mode": "rw"}], "disk_space_total": 1024, "nics": [],
        "tags": [], "spindle_use": 1, "os": "d", "required_nodes": 1})))
    cases = [
        [str(small_req)], ["--no-capacity-checks", str(small_req)],
        ["--ignore-soft-errors", str(small_req)],
        ["--restrict-allocation-to=node2,node3", str(small_req)],
        ["-t", str(text), str(small_req)],
        [str(tmp_path / "missing.json")],
    ]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"request": {"type": "nosuch"}, "nodegroups": {}, "nodes": {},
                               "instances": {}, "cluster_tags": []}))
    cases.append([str(bad)])
    for args in cases:
        ref = _run([REF_HAIL, *args])
        mine = _ours("hail", *args)
        assert mine[0] == ref[0], args
        if ref[0] == 0:
            assert mine[1] == ref[1], args


def hroller_case(seed: int, tmp_path: Path) -> list[str]:
    rng = random.Random(seed)
    groups = rng.choice([1, 1, 2])
    spec = GenSpec(nodes=rng.randint(2, 14), instances=rng.randint(0, 60), groups=groups,
                   seed=seed, offline=rng.choice([0, 0, 1]), locations=rng.random() < 0.4,
                   heterogeneous=rng.random() < 0.3, down_fraction=rng.choice([0, 0.2]),
                   unbalanced=rng.random() < 0.5,
                   templates=rng.choice([{"drbd": 1.0},
                                         {"drbd": 0.6, "plain": 0.3, "sharedfile": 0.1},
                                         {"drbd": 0.3, "plain": 0.7}]),
                   node_mem=rng.choice([0, 0, 20000, 65536]))
    cd = generate(spec)
    path = tmp_path / "cluster.txt"
    path.write_text(serialize_cluster(cd))
    args = ["-t", str(path)]
    for flag in ["--offline-maintenance", "--ignore-non-redundant", "--skip-non-redundant",
                 "--print-moves", "--full-evacuation", "--one-step-only", "--no-headers"]:
        if rng.random() < 0.3:
            args.append(flag)
    if rng.random() < 0.2:
        args += ["--node-tags", rng.choice(["rack:r1", "rack:r0,rack:r2", "nosuch"])]
    if groups > 1 and rng.random() < 0.3:
        args += ["-G", rng.choice(["default", "group1", "bogus"])]
    if rng.random() < 0.15:
        args += ["-O", cd.nodes[rng.randrange(len(cd.nodes))].name]
    if rng.random() < 0.2:
        args += ["-v", "-v", "-v"]
    return args


@pytest.mark.parametrize("seed", list(range(500, 540)))
def test_hroller_same_output(tmp_path: Path, seed: int) -> None:
    args = hroller_case(seed, tmp_path)
    assert _ours("hroller", *args) == _run([REF_HROLLER, *args])


def test_hroller_master_and_iallocator_input(tmp_path: Path) -> None:
    text = tmp_path / "c.txt"
    text.write_text(SMALL)
    nomaster = tmp_path / "nm.txt"
    nomaster.write_text(SMALL.replace("|M|", "|N|"))
    twomasters = tmp_path / "tm.txt"
    twomasters.write_text(SMALL.replace("|8|N|fake-uuid-01|1\nnode2", "|8|M|fake-uuid-01|1\nnode2"))
    req = tmp_path / "r.json"
    req.write_text(json.dumps(cluster_to_json(generate(GenSpec(nodes=6, instances=30, seed=2)),
                                              {"type": "node-evacuate", "instances": [],
                                               "evac_mode": "all"})))
    for args in (["-t", str(nomaster)], ["-t", str(nomaster), "--force"],
                 ["-t", str(twomasters)], ["-t", str(text), "-S", str(tmp_path / "save")],
                 ["-I", str(req), "--force", "--print-moves"], ["-t", str(text), "extra"]):
        ref = _run([REF_HROLLER, *args])
        mine = _ours("hroller", *args)
        assert mine[:2] == ref[:2], args


def allocsec_case(seed: int) -> tuple[str, list[str]]:
    """An allocate-secondary request (mostly for a plain instance) and hail options."""
    rng = random.Random(seed)
    groups = rng.choice([1, 1, 2, 3])
    spec = GenSpec(nodes=rng.randint(3, 10), instances=rng.randint(5, 40), groups=groups,
                   seed=seed, offline=rng.choice([0, 0, 1]), tags=rng.random() < 0.3,
                   exclusion=rng.random() < 0.3, locations=rng.random() < 0.3,
                   heterogeneous=rng.random() < 0.4, unbalanced=rng.random() < 0.5,
                   templates={"drbd": 0.5, "plain": 0.3, "sharedfile": 0.1, "diskless": 0.1},
                   node_mem=rng.choice([0, 32768, 65536]))
    cd = generate(spec)
    plain = [i for i in cd.instances if i.template.value == "plain"]
    inst = rng.choice(plain if plain and rng.random() < 0.8 else cd.instances)
    doc = cluster_to_json(cd, {"type": "allocate-secondary", "name": inst.name},
                          rng.choice(["xen-pvm", "kvm"]))
    opts = []
    if rng.random() < 0.3:
        opts.append("--no-capacity-checks")
    if rng.random() < 0.15:
        opts.append("--restrict-allocation-to=" + ",".join(
            n.name for n in rng.sample(cd.nodes, max(1, len(cd.nodes) // 2))))
    return json.dumps(doc), opts


@pytest.mark.parametrize("seed", list(range(100, 140)))
def test_hail_allocate_secondary_same_answer(tmp_path: Path, seed: int) -> None:
    doc, opts = allocsec_case(seed)
    path = tmp_path / "request.json"
    path.write_text(doc)
    save_g, save_n = tmp_path / "g", tmp_path / "n"
    ref = _run([REF_HAIL, *opts, "-S", str(save_g), str(path)])
    mine = _ours("hail", *opts, "-S", str(save_n), str(path))
    assert mine[:2] == ref[:2]
    for suffix in (".pre-ialloc", ".post-ialloc"):
        g, n = Path(str(save_g) + suffix), Path(str(save_n) + suffix)
        assert g.exists() == n.exists()
        if g.exists():
            assert n.read_text() == g.read_text(), suffix
