"""The ``--simulate`` backend: a cluster of identical empty nodes per group.

Each ``--simulate policy,nodes,disk,mem,cpu[,spindles]`` adds one node
group (policy ``p`` preferred, ``a`` last_resort, ``u`` unallocable).  As
in Ganeti, groups are numbered from the last option (``group-01``), nodes
are ``node-GG-NNN`` with no memory used, and the first node is the master.
"""

from __future__ import annotations

from gnt import errors
from gnt.htools.errors import OptionError
from gnt.htools.model import ClusterData, Group, Node
from gnt.htools.types import AllocPolicy
from gnt.units import parse_unit

POLICIES = {"p": AllocPolicy.PREFERRED, "a": AllocPolicy.LAST_RESORT,
            "u": AllocPolicy.UNALLOCABLE}


def parse_simulation(specs: list[str]) -> ClusterData:
    """Build the simulated cluster; raises :class:`OptionError` on a bad spec."""
    groups: list[Group] = []
    nodes: list[Node] = []
    for gnum, spec in enumerate(reversed(specs), 1):
        parts = spec.split(",")
        if len(parts) not in (5, 6) or parts[0] not in POLICIES:
            raise OptionError(f"Invalid cluster specification '{spec}': expected "
                              "policy(p/a/u),nodes,disk,mem,cpu[,spindles]")
        try:
            count, cpu = int(parts[1]), int(parts[4])
            dsk, mem = parse_unit(parts[2]), parse_unit(parts[3])
            spindles = int(parts[5]) if len(parts) == 6 else 1
        except (ValueError, errors.GntError) as err:
            raise OptionError(f"Invalid cluster specification '{spec}': {err}") from None
        gidx = len(groups)
        groups.append(Group(name=f"group-{gnum:02d}", uuid=f"fake-uuid-{gnum:02d}",
                            alloc_policy=POLICIES[parts[0]], idx=gidx))
        for k in range(1, count + 1):
            nodes.append(Node(name=f"node-{gnum:02d}-{k:03d}", t_mem=float(mem), n_mem=0,
                              f_mem=mem, t_dsk=float(dsk), f_dsk=dsk, t_cpu=float(cpu),
                              group=gidx, spindles=spindles, master=not nodes))
    cdata = ClusterData(groups=groups, nodes=nodes)
    cdata.reindex()
    return cdata
