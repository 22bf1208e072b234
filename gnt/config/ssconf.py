"""ssconf: the small per-key files every node keeps (Ganeti's ``ssconf_<key>``).

:func:`compute_values` derives them from the config (master side);
:func:`read` reads one on a node.  Values are text, lists one item per line.
"""

from __future__ import annotations

import hashlib

from gnt import constants as C
from gnt import paths
from gnt.objects import ConfigData


def compute_values(cfg: ConfigData) -> dict[str, str]:
    """ssconf key -> file content, from the config."""
    cl = cfg.cluster
    nodes = sorted(cfg.nodes.values(), key=lambda n: n.name)
    master = cfg.nodes.get(cl.master_node)
    mcs = [n for n in nodes if n.master_candidate]
    values = {
        "cluster_name": cl.cluster_name,
        "cluster_tags": "\n".join(sorted(cl.tags)),
        "file_storage_dir": cl.file_storage_dir,
        "shared_file_storage_dir": cl.shared_file_storage_dir,
        "master_candidates": "\n".join(n.name for n in mcs),
        "master_candidates_ips": "\n".join(n.primary_ip for n in mcs),
        "master_ip": cl.master_ip,
        "master_netdev": cl.master_netdev,
        "master_netmask": str(cl.master_netmask),
        "master_node": master.name if master else "",
        "node_list": "\n".join(n.name for n in nodes),
        "node_primary_ips": "\n".join(f"{n.name} {n.primary_ip}" for n in nodes),
        "node_secondary_ips": "\n".join(f"{n.name} {n.secondary_ip}" for n in nodes),
        "node_vm_capable": "\n".join(f"{n.name}={n.vm_capable}" for n in nodes),
        "offline_nodes": "\n".join(n.name for n in nodes if n.offline),
        "online_nodes": "\n".join(n.name for n in nodes if not n.offline),
        "primary_ip_family": str(cl.primary_ip_family),
        "instance_list": "\n".join(sorted(i.name for i in cfg.instances.values())),
        "release_version": C.RELEASE_VERSION,
        "hypervisor_list": "\n".join(cl.enabled_hypervisors),
        "maintain_node_health": str(cl.maintain_node_health),
        "uid_pool": "\n".join(str(u) for u in cl.uid_pool),
        "nodegroups": "\n".join(f"{g.uuid} {g.name}" for g in cfg.nodegroups.values()),
        "networks": "",
        "enabled_user_shutdown": str(cl.enabled_user_shutdown),
    }
    for hv in cl.enabled_hypervisors:
        params = cl.hvparams.get(hv, {})
        values[f"hvparams_{hv}"] = "\n".join(f"{k}={v}" for k, v in sorted(params.items()))
    return values


def digest(content: str) -> str:
    """The digest of an ssconf file's content that ``node_verify`` reports:
    SHA-1 of the content without surrounding white space (verify compares
    contents that way)."""
    return hashlib.sha1(content.strip().encode(), usedforsecurity=False).hexdigest()


_PREFIX = "ssconf_"  # see Paths.ssconf_file


def read(key: str) -> str | None:
    """The content of ``ssconf_<key>`` on this node, or None when absent."""
    try:
        return paths.get().ssconf_file(key).read_text()
    except FileNotFoundError:
        return None


def read_all() -> dict[str, str]:
    """Every ``ssconf_<key>`` file on this node: ``{key: content}`` (files
    that cannot be read are left out)."""
    out = {}
    for f in paths.get().data_dir.glob(f"{_PREFIX}*"):
        try:
            out[f.name[len(_PREFIX):]] = f.read_text()
        except OSError:
            continue
    return out


def master_node() -> str | None:
    """The master's name according to this node's ssconf."""
    value = read("master_node")
    return value.strip() if value else None
