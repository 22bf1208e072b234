"""Generate test clusters in the htools text format.

Usage::

    python -m gnt.htools.generate --nodes 20 --instances 200 --seed 1 \\
        [--groups 2] [--templates drbd=0.7,plain=0.1,sharedfile=0.1,ext=0.1] \\
        [--offline 1] [--unbalanced] [--tags] [--locations] [--exclusion] \\
        [--heterogeneous] [--down 0.05] [-o FILE]

Instances are placed so that every node's reported free memory and disk
stay non-negative (the cluster is consistent: unaccounted memory is 0).
``--unbalanced`` crowds instances onto the first third of each group's
nodes, giving hbal real work.  The same seed gives the same file.
"""

from __future__ import annotations

import argparse
import random
import sys
from dataclasses import dataclass, field

from gnt.htools.model import ClusterData, Group, Instance, Node
from gnt.htools.text import serialize_cluster
from gnt.htools.types import NO_SECONDARY, DiskTemplate, InstanceStatus

MEM_SIZES = [512, 1024, 2048, 4096]
DSK_SIZES = [5120, 10240, 20480, 51200]
CPU_SIZES = [1, 1, 2, 2, 4]


@dataclass
class GenSpec:
    """What to generate (see the module docstring for the CLI flags)."""

    nodes: int = 20
    instances: int = 200
    groups: int = 1
    templates: dict[str, float] = field(default_factory=lambda: {"drbd": 1.0})
    offline: int = 0
    unbalanced: bool = False
    tags: bool = False
    locations: bool = False
    exclusion: bool = False
    heterogeneous: bool = False
    down_fraction: float = 0.0
    seed: int = 1
    node_mem: int = 0          # 0: sized for about 50% memory use
    node_dsk: int = 2 * 1024 * 1024
    node_cpu: int = 16


def _pick_template(rng: random.Random, weights: dict[str, float]) -> DiskTemplate:
    names = list(weights)
    return DiskTemplate(rng.choices(names, weights=[weights[n] for n in names])[0])


def generate(spec: GenSpec) -> ClusterData:
    """Build a consistent random cluster from ``spec``."""
    rng = random.Random(spec.seed)
    node_mem = spec.node_mem
    if not node_mem:
        per_node = spec.instances / max(1, spec.nodes) * sum(MEM_SIZES) / len(MEM_SIZES)
        node_mem = max(16384, int(-(-2.2 * per_node // 4096)) * 4096)
    groups = [Group(name="default" if g == 0 else f"group{g}",
                    uuid=f"00000000-0000-0000-0000-{g:012d}", idx=g)
              for g in range(spec.groups)]
    nodes: list[Node] = []
    for k in range(spec.nodes):
        scale = rng.choice([1, 1, 2]) if spec.heterogeneous else 1
        ntags = []
        if spec.locations:
            ntags.append(f"rack:r{k % 4}")
        nodes.append(Node(name=f"node{k + 1:04d}.example.com", t_mem=float(node_mem * scale),
                          n_mem=1024, f_mem=0, t_dsk=float(spec.node_dsk * scale), f_dsk=0,
                          t_cpu=float(spec.node_cpu * scale), group=k % spec.groups,
                          tags=ntags, master=(k == 0), idx=k))
    free_mem = [int(n.t_mem) - n.n_mem for n in nodes]
    free_dsk = [int(n.t_dsk) for n in nodes]
    by_group = {g: [n.idx for n in nodes if n.group == g] for g in range(spec.groups)}
    weights = {}
    for g, idxs in by_group.items():
        for pos, ni in enumerate(idxs):
            crowded = pos < max(1, len(idxs) // 3)
            weights[ni] = (4.0 if crowded else 1.0) if spec.unbalanced else 1.0
    insts: list[Instance] = []
    for k in range(spec.instances):
        tmpl = _pick_template(rng, spec.templates)
        mem, dsk, cpu = rng.choice(MEM_SIZES), rng.choice(DSK_SIZES), rng.choice(CPU_SIZES)
        g = rng.randrange(spec.groups)
        cands = [ni for ni in by_group[g] if free_mem[ni] >= mem and free_dsk[ni] >= dsk]
        if not cands:
            continue
        pnode = rng.choices(cands, weights=[weights[c] for c in cands])[0]
        snode = NO_SECONDARY
        if tmpl == DiskTemplate.DRBD:
            scands = [ni for ni in by_group[g] if ni != pnode and free_dsk[ni] >= dsk]
            if not scands:
                continue
            snode = rng.choices(scands, weights=[weights[c] for c in scands])[0]
        status = InstanceStatus.RUNNING
        if spec.down_fraction and rng.random() < spec.down_fraction:
            status = InstanceStatus.ADMIN_DOWN
        itags = []
        if spec.tags:
            itags.append(f"owner:team{rng.randrange(5)}")
        if spec.exclusion and rng.random() < 0.3:
            itags.append(f"service:svc{rng.randrange(8)}")
        inst = Instance(name=f"inst{k + 1:05d}.example.com", mem=mem, dsk=dsk, vcpus=cpu,
                        status=status, auto_balance=True, pnode=pnode, snode=snode,
                        template=tmpl, tags=itags)
        if inst.uses_memory:
            free_mem[pnode] -= mem
        if inst.uses_local_storage:
            free_dsk[pnode] -= dsk
            if snode != NO_SECONDARY:
                free_dsk[snode] -= dsk
        insts.append(inst)
    for n in nodes:
        n.f_mem = free_mem[n.idx]
        n.f_dsk = free_dsk[n.idx]
    for k in rng.sample(range(spec.nodes), min(spec.offline, spec.nodes)):
        nodes[k].offline = True
    ctags = []
    if spec.exclusion:
        ctags.append("htools:iextags:service")
    if spec.locations:
        ctags.append("htools:nlocation:rack")
    cdata = ClusterData(groups=groups, nodes=nodes, instances=insts, cluster_tags=ctags)
    cdata.reindex()
    return cdata


def _parse_templates(value: str) -> dict[str, float]:
    out = {}
    for part in value.split(","):
        name, _, w = part.partition("=")
        DiskTemplate(name)  # validate
        out[name] = float(w or 1)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m gnt.htools.generate",
                                 description="Generate an htools text-format cluster.")
    ap.add_argument("--nodes", type=int, default=20)
    ap.add_argument("--instances", type=int, default=200)
    ap.add_argument("--groups", type=int, default=1)
    ap.add_argument("--templates", type=_parse_templates, default={"drbd": 1.0},
                    help="template=weight,... (default drbd=1)")
    ap.add_argument("--offline", type=int, default=0, help="number of offline nodes")
    ap.add_argument("--unbalanced", action="store_true")
    ap.add_argument("--tags", action="store_true", help="add plain instance tags")
    ap.add_argument("--locations", action="store_true", help="add node location tags")
    ap.add_argument("--exclusion", action="store_true", help="add exclusion tags")
    ap.add_argument("--heterogeneous", action="store_true", help="mix node sizes")
    ap.add_argument("--down", type=float, default=0.0, help="fraction of ADMIN_down instances")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--node-mem", type=int, default=0,
                    help="node memory in MiB (default: sized for ~50%% use)")
    ap.add_argument("-o", "--output", default="-")
    a = ap.parse_args(argv)
    spec = GenSpec(nodes=a.nodes, instances=a.instances, groups=a.groups,
                   templates=a.templates, offline=a.offline, unbalanced=a.unbalanced,
                   tags=a.tags, locations=a.locations, exclusion=a.exclusion,
                   heterogeneous=a.heterogeneous, down_fraction=a.down, seed=a.seed,
                   node_mem=a.node_mem)
    text = serialize_cluster(generate(spec))
    if a.output == "-":
        sys.stdout.write(text)
    else:
        with open(a.output, "w", encoding="utf-8") as fh:
            fh.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
