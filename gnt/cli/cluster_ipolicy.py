"""The cluster's instance policy on the command line: ``gnt-cluster init`` and
``modify`` options (Ganeti's ``--ipolicy-*``) and the ``gnt-cluster info`` section.

The group options (bounds specs, disk templates, ratios) are shared with
``gnt-group`` (:mod:`gnt.cli.gnt_group`); the cluster adds the standard
specs, ``--ipolicy-std-specs memory-size=128,cpu-count=1,...`` (sizes take
units).  Values are checked by the master (:mod:`gnt.cmdlib.ipolicy`).
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any

from gnt import constants as C
from gnt.cli import gnt_group
from gnt.cli import options as O
from gnt.cli.infofmt import format_policy_info

IPOLICY_STD_SPECS_OPT = O.Option(
    "--ipolicy-std-specs", dest="ipolicy_std_specs", default=None, type=O.TYPE_KEYVAL,
    help="Complete standard instance specs (memory-size=...,cpu-count=...,disk-count=...,"
    "disk-size=...,nic-count=...,spindle-use=...)")
CLUSTER_POLICY_OPTS = [*gnt_group.INSTANCE_POLICY_OPTS, IPOLICY_STD_SPECS_OPT]
_SIZE_SPECS = (C.ISPEC_MEM_SIZE, C.ISPEC_DISK_SIZE)


def cluster_ipolicy_from_opts(opts: argparse.Namespace) -> dict[str, Any]:
    """The policy changes given by the ``--ipolicy-*`` options (only those set;
    sizes in MiB)."""
    out = gnt_group.ipolicy_from_opts(opts)
    std = getattr(opts, "ipolicy_std_specs", None)
    if std is not None:
        out[C.ISPECS_STD] = {k: (O.parse_size(f"--ipolicy-std-specs {k}", v)
                                 if k in _SIZE_SPECS and isinstance(v, str) else v)
                             for k, v in std.items()}
    return out


def policy_section(ipolicy: Mapping[str, Any]) -> tuple[str, Any]:
    """The ``Instance policy - limits for instances`` section of
    ``gnt-cluster info`` (Ganeti's layout: bounds specs as ``max/N``/``min/N``,
    std, allowed disk templates, ratios)."""
    return ("Instance policy - limits for instances",
            format_policy_info(ipolicy, ipolicy, is_cluster=True))
