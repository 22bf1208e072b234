"""Ganeti's hooks: site scripts run before and after operations.

Scripts live in ``/etc/ganeti/hooks/<hpath>-<pre|post>.d/`` on each node
(under ``GNT_ROOT``: ``paths.get().hooks_dir``).  Only executable files
whose names match ``^[a-zA-Z0-9_-]+$`` run, in string order, with a cleared
environment (``PATH=/sbin:/bin:/usr/sbin:/usr/bin`` plus ``GANETI_*``
variables), stdin ``/dev/null``, cwd ``/``, and a per-script timeout
(``GNT_HOOKS_TIMEOUT`` in the node daemon's environment, default
``constants.HOOKS_SCRIPT_TIMEOUT`` = 300 s) after which the script is killed
and counts as failed.  A failing pre hook on any reachable node aborts the
opcode (``OpPrereqError`` naming node, script and output) before anything
changed; post hook failures are job warnings only.

Modules: :mod:`gnt.hooks.runner` (node side: run a directory),
:mod:`gnt.hooks.master` (master side: phases, node RPC, results),
:mod:`gnt.hooks.env` (variables and node lists for LUs).

Giving an LU hooks
------------------
Set two class attributes and override two methods of
:class:`gnt.cmdlib.base.LogicalUnit`; the processor does the rest::

    from gnt import constants as C
    from gnt import hooks

    class LUInstanceFailover(LogicalUnit):
        HPATH = "instance-failover"          # Ganeti's directory name
        HTYPE = C.HTYPE_INSTANCE             # GANETI_OBJECT_TYPE

        def build_hooks_env(self) -> dict[str, Any]:
            # keys WITHOUT "GANETI_"; values are str()-ed (True -> "True")
            return hooks.instance_env(self.cfg, self.instance, override={
                "IGNORE_CONSISTENCY": self.op.ignore_consistency,
                "SHUTDOWN_TIMEOUT": self.op.shutdown_timeout,
                "OLD_PRIMARY": old_primary_name, "NEW_PRIMARY": new_primary_name})

        def build_hooks_nodes(self) -> tuple[list[str], list[str]]:
            # node UUIDs: (pre phase, post phase)
            nl = hooks.master_and_instance_nodes(self.cfg, self.instance)
            return nl, nl

Timing: ``build_hooks_nodes`` runs once after ``check_prereq``;
``build_hooks_env`` runs then (pre phase: ``GANETI_<KEY>``) and again after
``exec`` (post phase: ``GANETI_POST_<KEY>``, next to the pre values), so it
must still work after ``exec`` (an LU removing an object keeps what it needs,
e.g. the instance's Disk objects, from ``check_prereq`` and passes
``disks=``).  Optional overrides: ``prepare_post_hooks_nodes(nodes)`` (e.g.
add a node created by ``exec``), ``hooks_callback(phase, results, result)``
(see the results, adjust the opcode result: cluster-verify), and
``self.run_post_hooks_now(uuids)`` inside ``exec`` for a node about to leave.

Helper API (all return ``dict[str, str]`` without the prefix, or UUID lists)
--------------------------------------------------------------------------
``instance_env(cfg, inst, *, disks=None, secondary_nodes=None, status=None,
beparams=None, hvparams=None, override=None)``
    Ganeti's standard instance variables: ``OP_TARGET``, ``INSTANCE_NAME``,
    ``INSTANCE_PRIMARY``, ``INSTANCE_SECONDARIES`` (names, space-separated),
    ``INSTANCE_OS_TYPE``, ``INSTANCE_STATUS`` (admin state), ``INSTANCE_MINMEM``,
    ``INSTANCE_MAXMEM``, ``INSTANCE_MEMORY``, ``INSTANCE_VCPUS``,
    ``INSTANCE_DISK_TEMPLATE``, ``INSTANCE_HYPERVISOR``, ``INSTANCE_TAGS``,
    ``INSTANCE_NIC_COUNT``, ``INSTANCE_NIC<n>_{NAME,UUID,IP,MAC,MODE,LINK,VLAN,
    BRIDGE,NETWORK_*}``, ``INSTANCE_DISK_COUNT``, ``INSTANCE_DISK<n>_{NAME,UUID,
    SIZE,MODE}``, ``INSTANCE_BE_<param>``, ``INSTANCE_HV_<param>`` (filled).
    Keywords replace config lookups (``disks`` for an instance not in the
    config; filled ``beparams``/``hvparams``); ``override`` is applied last.
``nics_env(cfg, nics)``, ``disks_env(disks)``, ``network_env(net, prefix="")``
    The NIC, disk and network parts on their own.
``node_env(node_name)``
    ``OP_TARGET`` and ``NODE_NAME``.
``group_env(group_name)``, ``cluster_env(cfg)``
    ``GROUP_NAME``; ``OP_TARGET`` = cluster name.
``master_nodes(cfg)``, ``instance_nodes(cfg, inst, disks=None)``,
``master_and_instance_nodes(cfg, inst, disks=None)``, ``group_nodes(cfg, group)``,
``all_nodes(cfg, exclude=())``, ``unique(uuids)``
    Node UUID lists for ``build_hooks_nodes``.
``hook_str(value)``, ``stringify(env)``
    Ganeti's value conversion.

The hooks master adds ``GANETI_HOOKS_VERSION`` (2), ``GANETI_HOOKS_PHASE``
(pre/post), ``GANETI_HOOKS_PATH``, ``GANETI_OP_CODE``, ``GANETI_OBJECT_TYPE``,
``GANETI_CLUSTER``, ``GANETI_MASTER``, ``GANETI_DATA_DIR`` (the node's own).
Besides the LU's own directory it runs Ganeti's global hooks
(``global-pre.d`` on the master and the LU's pre nodes, ``global-post.d`` on
the master with ``GANETI_POST_STATUS`` success/error, ``GANETI_JOB_ID``,
``GANETI_IS_MASTER``) and ``config-update-post.d`` on the master after an
opcode that wrote the config.  Node-side reuse (e.g. the watcher's
``hooks/watcher``): :func:`gnt.hooks.runner.run_parts`.
"""

from gnt.hooks.env import (
    all_nodes,
    cluster_env,
    disks_env,
    group_env,
    group_nodes,
    hook_str,
    instance_env,
    instance_nodes,
    master_and_instance_nodes,
    master_nodes,
    network_env,
    nics_env,
    node_env,
    stringify,
    unique,
)

__all__ = [
    "all_nodes",
    "cluster_env",
    "disks_env",
    "group_env",
    "group_nodes",
    "hook_str",
    "instance_env",
    "instance_nodes",
    "master_and_instance_nodes",
    "master_nodes",
    "network_env",
    "nics_env",
    "node_env",
    "stringify",
    "unique",
]
