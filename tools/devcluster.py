#!/usr/bin/env python3
"""Bring up or tear down an N-node gnt cluster on this machine.

    tools/devcluster.py up [--nodes N] [--root DIR] [--hypervisor fake|kvm]
    tools/devcluster.py down [--root DIR]
    tools/devcluster.py env NODE [--root DIR]    # prints the shell exports for a node

Each node is a real gnt-noded on its own 127.x address with its own root
(the first node's root is DIR, the others' DIR/nodes/<node>); nodes join
with the SSH-less token path (gnt-noded --join-token-file, then
gnt-node add --join-token).  The description is kept in DIR/devcluster.json.
"""

from __future__ import annotations

import argparse
import json
import shlex
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gnt.devcluster import LocalCluster  # noqa: E402

DEFAULT_ROOT = Path("/tmp/gnt-devcluster")


def _load(root: Path) -> LocalCluster:
    desc = json.loads((root / "devcluster.json").read_text())
    return LocalCluster(root, nodes=desc["nodes"], net=desc["net"], instances=desc["instances"],
                        master_node=desc.get("master_node", ""))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["up", "down", "env"])
    parser.add_argument("node", nargs="?")
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT)
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--hypervisor", default="fake", choices=["fake", "kvm"])
    opts = parser.parse_args()
    root = opts.root.resolve()
    if opts.action == "up":
        if (root / "devcluster.json").exists():
            parser.error(f"{root} holds a dev cluster already; run 'down' first")
        c = LocalCluster(root, nodes=[f"node{i}" for i in range(1, opts.nodes + 1)])
        (root / "devcluster.json").write_text(json.dumps(
            {"nodes": c.nodes, "net": c.net, "instances": c.instances}))
        c.up("--enabled-hypervisors", opts.hypervisor, "--enabled-disk-templates",
             "diskless,file,sharedfile")
        print(c.ok("gnt-node", "list"))
        print(f"Cluster up. Commands for the master:\n  eval $({sys.argv[0]} env node1"
              f" --root {root})\n  gnt-node list")
    elif opts.action == "down":
        if not (root / "devcluster.json").exists():
            parser.error(f"no dev cluster at {root}")
        _load(root).destroy()
        shutil.rmtree(root, ignore_errors=True)
    else:
        c = _load(root)
        env = c.env(opts.node or c.nodes[0])
        for k in ("GNT_ROOT", "GNT_HOSTNAME", "PATH"):
            print(f"export {k}={shlex.quote(env[k])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
