"""Typed calls from the master to node daemons, addressed by node UUID.

Maps node UUIDs to addresses from the config, skips offline nodes, and
gives one method per procedure so LUs never build argument lists by hand.
Procedures are implemented in :mod:`gnt.noded.procs`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from gnt.config import ConfigWriter
from gnt.hypervisor.base import InstanceSpec, MigrationTarget
from gnt.rpc.client import RpcClient, RpcResult
from gnt.storage.base import BlockDevSpec

# seconds; Ganeti's RPC timeouts are per call class (fast, normal, slow, ...)
TMO_FAST = 10
TMO_NORMAL = 60
TMO_SLOW = 900


class NodeRpc:
    """Node RPC addressed by node UUID (``primary_ip`` from the config)."""

    def __init__(self, cfg: ConfigWriter, client: RpcClient | None = None) -> None:
        self._cfg = cfg
        self.client = client or RpcClient()

    def call(self, node_uuid: str, proc: str, args: list[Any],
             timeout: float = TMO_NORMAL) -> RpcResult:
        node = self._cfg.data.get_node(node_uuid)
        return self.client.call(node.primary_ip, proc, args, timeout=timeout,
                                node_name=node.name, offline=node.offline)

    def call_many(self, node_uuids: Iterable[str], proc: str, args: list[Any],
                  timeout: float = TMO_NORMAL) -> dict[str, RpcResult]:
        """Same call on several nodes in parallel; result keyed by node UUID."""
        data = self._cfg.data
        nodes = [data.get_node(u) for u in node_uuids]
        results = self.client.call_many(
            {n.name: n.primary_ip for n in nodes}, proc, args, timeout=timeout,
            offline={n.name for n in nodes if n.offline})
        return {n.uuid: results[n.name] for n in nodes}

    # --- node ---
    def node_info(self, node_uuids: Iterable[str], hypervisors: list[str]
                  ) -> dict[str, RpcResult]:
        return self.call_many(node_uuids, "node_info", [hypervisors], TMO_FAST)

    def version(self, node_uuids: Iterable[str]) -> dict[str, RpcResult]:
        return self.call_many(node_uuids, "version", [], TMO_FAST)

    def write_ssconf_files(self, node_uuids: Iterable[str], values: dict[str, str]
                           ) -> dict[str, RpcResult]:
        return self.call_many(node_uuids, "write_ssconf_files", [values], TMO_FAST)

    def test_delay(self, node_uuids: Iterable[str], duration: float) -> dict[str, RpcResult]:
        return self.call_many(node_uuids, "test_delay", [duration], duration + TMO_FAST)

    # --- instances ---
    def instance_start(self, node_uuid: str, spec: InstanceSpec,
                       bdevs: list[BlockDevSpec], startup_paused: bool = False) -> RpcResult:
        return self.call(node_uuid, "instance_start",
                         [spec.model_dump(mode="json"),
                          [b.model_dump(mode="json") for b in bdevs], startup_paused],
                         TMO_SLOW)

    def instance_shutdown(self, node_uuid: str, hypervisor: str, name: str,
                          timeout: int, force: bool = False) -> RpcResult:
        return self.call(node_uuid, "instance_shutdown", [hypervisor, name, timeout, force],
                         timeout + TMO_NORMAL)

    def instance_reboot(self, node_uuid: str, spec: InstanceSpec, bdevs: list[BlockDevSpec],
                        reboot_type: str, shutdown_timeout: int) -> RpcResult:
        return self.call(node_uuid, "instance_reboot",
                         [spec.model_dump(mode="json"),
                          [b.model_dump(mode="json") for b in bdevs],
                          reboot_type, shutdown_timeout], shutdown_timeout + TMO_SLOW)

    def instance_info(self, node_uuid: str, hypervisor: str, name: str) -> RpcResult:
        return self.call(node_uuid, "instance_info", [hypervisor, name], TMO_FAST)

    def all_instances_info(self, node_uuids: Iterable[str], hypervisors: list[str]
                           ) -> dict[str, RpcResult]:
        return self.call_many(node_uuids, "all_instances_info", [hypervisors], TMO_FAST)

    def instance_console_info(self, node_uuid: str, spec: InstanceSpec,
                              node_name: str) -> RpcResult:
        return self.call(node_uuid, "instance_console_info",
                         [spec.model_dump(mode="json"), node_name], TMO_FAST)

    # --- migration (procedures in gnt.noded.procs.migration) ---
    def instance_check_accept(self, node_uuid: str, spec: InstanceSpec,
                              bdevs: list[BlockDevSpec]) -> RpcResult:
        """Fails unless the node could run the instance; data is ``{"memory_free":
        MiB}`` of its hypervisor."""
        return self.call(node_uuid, "instance_check_accept",
                         [spec.model_dump(mode="json"),
                          [b.model_dump(mode="json") for b in bdevs]], TMO_FAST)

    def instance_migration_source(self, node_uuid: str, hv: str, name: str) -> RpcResult:
        """Data ``{"instance": runtime info or None, "migration": migration info or
        None}`` of the instance on the (source) node."""
        return self.call(node_uuid, "instance_migration_source", [hv, name], TMO_FAST)

    def instance_migration_info(self, node_uuid: str, hv: str, name: str) -> RpcResult:
        return self.call(node_uuid, "instance_migration_info", [hv, name], TMO_FAST)

    def instance_accept(self, node_uuid: str, spec: InstanceSpec, bdevs: list[BlockDevSpec],
                        info: dict[str, Any], target: MigrationTarget) -> RpcResult:
        return self.call(node_uuid, "instance_accept",
                         [spec.model_dump(mode="json"),
                          [b.model_dump(mode="json") for b in bdevs], info,
                          target.model_dump(mode="json")], TMO_SLOW)

    def instance_migrate(self, node_uuid: str, hv: str, name: str, target: MigrationTarget,
                         live: bool) -> RpcResult:
        return self.call(node_uuid, "instance_migrate",
                         [hv, name, target.model_dump(mode="json"), live], TMO_NORMAL)

    def instance_migration_status(self, node_uuid: str, hv: str, name: str,
                                  wait: float = 0.0) -> RpcResult:
        """See the node procedure: with ``wait`` s, returns once finished or then."""
        return self.call(node_uuid, "instance_migration_status", [hv, name, wait], TMO_FAST)

    def instance_abort_migration(self, node_uuid: str, hv: str, name: str) -> RpcResult:
        return self.call(node_uuid, "instance_abort_migration", [hv, name], TMO_FAST)

    def instance_finalize_migration_dst(self, node_uuid: str, hv: str, name: str,
                                        success: bool) -> RpcResult:
        return self.call(node_uuid, "instance_finalize_migration_dst", [hv, name, success],
                         TMO_NORMAL)

    def instance_finalize_migration_src(self, node_uuid: str, hv: str, name: str,
                                        success: bool, live: bool,
                                        bdevs: list[BlockDevSpec] | None = None
                                        ) -> RpcResult:
        """Release/resume the source's process; after a success also shut down
        ``bdevs`` there. Data: list of disk problems (strings)."""
        return self.call(node_uuid, "instance_finalize_migration_src",
                         [hv, name, success, live,
                          [b.model_dump(mode="json") for b in bdevs or []]], TMO_NORMAL)

    def instance_status(self, node_uuids: Iterable[str], hv: str, name: str
                        ) -> dict[str, RpcResult]:
        return self.call_many(node_uuids, "instance_status", [hv, name], TMO_FAST)

    # --- block devices ---
    def blockdev_create(self, node_uuid: str, bdev: BlockDevSpec) -> RpcResult:
        return self.call(node_uuid, "blockdev_create", [bdev.model_dump(mode="json")],
                         TMO_SLOW)

    def blockdev_remove(self, node_uuid: str, bdev: BlockDevSpec) -> RpcResult:
        return self.call(node_uuid, "blockdev_remove", [bdev.model_dump(mode="json")],
                         TMO_SLOW)

    def blockdev_shutdown(self, node_uuid: str, bdev: BlockDevSpec) -> RpcResult:
        return self.call(node_uuid, "blockdev_shutdown", [bdev.model_dump(mode="json")],
                         TMO_NORMAL)

    # --- OS ---
    def os_diagnose(self, node_uuids: Iterable[str]) -> dict[str, RpcResult]:
        return self.call_many(node_uuids, "os_diagnose", [], TMO_FAST)

    def os_validate(self, node_uuid: str, os_name: str, osparams: dict[str, Any],
                    force_variant: bool = False, required: bool = True) -> RpcResult:
        """Check OS, variant (unless ``force_variant``) and parameters on the node;
        data is False when the OS is absent there and not ``required``."""
        return self.call(node_uuid, "os_validate",
                         [os_name, osparams, force_variant, required], TMO_NORMAL)

    def instance_os_add(self, node_uuid: str, spec: InstanceSpec, bdevs: list[BlockDevSpec],
                        reinstall: bool, debug: int, primary_node: str) -> RpcResult:
        return self.call(node_uuid, "instance_os_add",
                         [spec.model_dump(mode="json"),
                          [b.model_dump(mode="json") for b in bdevs], reinstall, debug,
                          primary_node, self._os_context(spec)], TMO_SLOW * 2)

    # --- storage (gnt-node volumes / list-storage, node live data) ---
    # (procedures in gnt.noded.procs.storage; sizes in MiB)
    def storage_space(self, node_uuids: Iterable[str], units: list[list[str]]
                      ) -> dict[str, RpcResult]:
        """Space of the storage units ``[type, name]`` on each node."""
        return self.call_many(node_uuids, "storage_space", [units], TMO_FAST)

    def storage_list(self, node_uuids: Iterable[str], storage_type: str, units: list[str],
                     name: str | None, fields: list[str]) -> dict[str, RpcResult]:
        """Rows of ``fields`` for the storage units of ``storage_type`` on each node."""
        return self.call_many(node_uuids, "storage_list",
                              [storage_type, units, name, fields], TMO_NORMAL)

    def node_volumes(self, node_uuids: Iterable[str], directories: list[str]
                     ) -> dict[str, RpcResult]:
        """The disk files below the file storage ``directories`` on each node."""
        return self.call_many(node_uuids, "node_volumes", [directories], TMO_NORMAL)

    # --- hooks (hooks) ---
    # (procedure in gnt.noded.procs.hooks; master-side driver gnt.hooks.master)
    def hooks_runner(self, node_uuids: Iterable[str], hpath: str, phase: str,
                     env: dict[str, str], node_env: dict[str, dict[str, str]] | None = None
                     ) -> dict[str, RpcResult]:
        """Run ``<hpath>-<phase>.d`` on each node, in parallel, with ``env`` (plus
        ``node_env[uuid]`` for that node).  Each result's data is
        ``[[script, HKR_*, output], ...]``.  Timeout: Ganeti's 15 minutes."""
        uuids = list(node_uuids)
        data = self._cfg.data
        nodes = [data.get_node(u) for u in uuids]
        per_node = {n.name: [hpath, phase, {**env, **(node_env or {}).get(n.uuid, {})}]
                    for n in nodes}
        results = self.client.call_many(
            {n.name: n.primary_ip for n in nodes}, "hooks_runner", per_node_args=per_node,
            timeout=TMO_SLOW, offline={n.name for n in nodes if n.offline})
        return {n.uuid: results[n.name] for n in nodes}

    # --- OS scripts (OS interface) ---
    # (procedures in gnt.noded.procs.os; each sends the instance context the
    # OS environment needs: node names, timestamps, NIC networks)
    def _os_context(self, spec: InstanceSpec) -> dict[str, Any]:
        from gnt.osdef.context import context_from_config

        return context_from_config(self._cfg.data, spec.uuid).model_dump(mode="json")

    def instance_os_rename(self, node_uuid: str, spec: InstanceSpec,
                           bdevs: list[BlockDevSpec], old_name: str, debug: int) -> RpcResult:
        """Run the OS rename script on the primary node (``spec.name`` is the new
        name); data is the log file path on the node."""
        return self.call(node_uuid, "instance_os_rename",
                         [spec.model_dump(mode="json"),
                          [b.model_dump(mode="json") for b in bdevs], old_name, debug,
                          self._os_context(spec)], TMO_SLOW)

    def instance_os_export(self, node_uuid: str, spec: InstanceSpec,
                           bdevs: list[BlockDevSpec], disk_index: int, dest: str,
                           debug: int) -> RpcResult:
        """Dump disk ``disk_index`` through the OS export script into ``dest`` (a
        path below /srv/ganeti/export on the node); data is ``{"log", "size",
        "expected_size"}`` (sizes in bytes)."""
        return self.call(node_uuid, "instance_os_export",
                         [spec.model_dump(mode="json"),
                          [b.model_dump(mode="json") for b in bdevs], disk_index, dest,
                          debug, self._os_context(spec)], TMO_SLOW * 2)

    def instance_os_import(self, node_uuid: str, spec: InstanceSpec,
                           bdevs: list[BlockDevSpec], disk_index: int, src: str,
                           debug: int) -> RpcResult:
        """Restore disk ``disk_index`` through the OS import script from ``src`` (a
        path below /srv/ganeti/export on the node); data is the log file path."""
        return self.call(node_uuid, "instance_os_import",
                         [spec.model_dump(mode="json"),
                          [b.model_dump(mode="json") for b in bdevs], disk_index, src,
                          debug, self._os_context(spec)], TMO_SLOW * 2)

    # --- blockdev adoption, orphan volumes (blockdev/ipolicy/verify helper) ---
    def blockdev_adopt_info(self, node_uuid: str, names: list[str], known: list[str]
                            ) -> RpcResult:
        """What the node knows of the block devices ``names`` to adopt (size MiB,
        in use, same device as one of ``known``); see
        :func:`gnt.noded.procs.blockdev_adopt.blockdev_adopt_info`."""
        return self.call(node_uuid, "blockdev_adopt_info", [names, known], TMO_FAST)

    # --- extstorage (ext disk template, gnt-storage) ---
    # (procedures in gnt.noded.procs.extstorage)
    def extstorage_diagnose(self, node_uuids: Iterable[str]) -> dict[str, RpcResult]:
        """Every ExtStorage provider found on each node (with its diagnosis)."""
        return self.call_many(node_uuids, "extstorage_diagnose", [], TMO_FAST)

    def extstorage_validate(self, node_uuid: str, provider: str, params: dict[str, Any]
                            ) -> RpcResult:
        """Check ``provider`` is valid on the node and declares ``params``."""
        return self.call(node_uuid, "extstorage_validate", [provider, params], TMO_FAST)

    def extstorage_setinfo(self, node_uuid: str, bdev: BlockDevSpec, text: str) -> RpcResult:
        """Set the volume's metadata (``setinfo``), e.g. ``originstname+<instance>``."""
        return self.call(node_uuid, "extstorage_setinfo", [bdev.model_dump(mode="json"), text],
                         TMO_NORMAL)

    def extstorage_open(self, node_uuid: str, bdev: BlockDevSpec, exclusive: bool = True
                        ) -> RpcResult:
        """Open the volume on the node (``exclusive=False``: shared, for migration)."""
        return self.call(node_uuid, "extstorage_open",
                         [bdev.model_dump(mode="json"), exclusive], TMO_NORMAL)

    def extstorage_close(self, node_uuid: str, bdev: BlockDevSpec) -> RpcResult:
        """Close the volume on the node."""
        return self.call(node_uuid, "extstorage_close", [bdev.model_dump(mode="json")],
                         TMO_NORMAL)

    # --- instance modifications (instance modify/disks/rename) ---
    # (procedures in gnt.noded.procs.hotplug and gnt.noded.procs.blockdev_ops)
    def blockdev_assemble(self, node_uuid: str, bdev: BlockDevSpec) -> RpcResult:
        """Make the disk usable on the node; data is BlockDevInfo (``path``, ``uri``,
        ``size`` MiB)."""
        return self.call(node_uuid, "blockdev_assemble", [bdev.model_dump(mode="json")],
                         TMO_NORMAL)

    def blockdev_find(self, node_uuid: str, bdev: BlockDevSpec) -> RpcResult:
        """The disk on the node (BlockDevInfo) if it exists there, else None."""
        return self.call(node_uuid, "blockdev_find", [bdev.model_dump(mode="json")],
                         TMO_FAST)

    def blockdev_grow(self, node_uuid: str, bdev: BlockDevSpec, amount: int,
                      dryrun: bool) -> RpcResult:
        """Grow the disk by ``amount`` MiB (``dryrun``: only check); data is the size
        (MiB) found on the node afterwards."""
        return self.call(node_uuid, "blockdev_grow",
                         [bdev.model_dump(mode="json"), amount, dryrun], TMO_SLOW)

    def file_storage_dir_rename(self, node_uuid: str, old: str, new: str) -> RpcResult:
        """Rename the directory of a file-based instance's disks (cluster paths)."""
        return self.call(node_uuid, "file_storage_dir_rename", [old, new], TMO_NORMAL)

    def hotplug_supported(self, node_uuid: str, hv: str, name: str) -> RpcResult:
        """Fails unless devices can be hot-plugged into the running instance."""
        return self.call(node_uuid, "hotplug_supported", [hv, name], TMO_FAST)

    def hotplug_device(self, node_uuid: str, hv: str, name: str, action: str, target: str,
                       device: dict[str, Any]) -> RpcResult:
        """Hot-add/-remove a disk or NIC (see gnt.noded.procs.hotplug); data is the
        device as recorded by the hypervisor (adds) or None."""
        return self.call(node_uuid, "hotplug_device", [hv, name, action, target, device],
                         TMO_NORMAL)

    def hotplug_resize_disk(self, node_uuid: str, hv: str, name: str, disk_uuid: str,
                            size: int) -> RpcResult:
        """Let the running instance see disk ``disk_uuid``'s new size (MiB)."""
        return self.call(node_uuid, "hotplug_resize_disk", [hv, name, disk_uuid, size],
                         TMO_NORMAL)

    def instance_balloon_memory(self, node_uuid: str, hv: str, name: str,
                                memory: int) -> RpcResult:
        """Balloon the running instance to ``memory`` MiB."""
        return self.call(node_uuid, "instance_balloon_memory", [hv, name, memory],
                         TMO_NORMAL)

    # --- iallocator (iallocator framework) ---
    def iallocator_runner(self, node_uuid: str, name: str, data: str,
                          params: dict[str, Any], timeout: float) -> RpcResult:
        """Run iallocator ``name`` on the request ``data`` (JSON text) on the node
        (the master); the result is the program's output."""
        return self.call(node_uuid, "iallocator_runner", [name, data, params, timeout],
                         timeout + TMO_FAST)

    # --- disk transfer (move) ---
    # (procedures in gnt.noded.procs.disk_transfer; the data flows node to node)
    def disk_export_prepare(self, node_uuid: str, bdev: BlockDevSpec,
                            transfer_id: str) -> RpcResult:
        """Source: assemble the disk and offer it as transfer ``transfer_id``."""
        return self.call(node_uuid, "disk_export_prepare",
                         [bdev.model_dump(mode="json"), transfer_id], TMO_NORMAL)

    def disk_import_start(self, node_uuid: str, bdev: BlockDevSpec, transfer_id: str,
                          address: str, port: int) -> RpcResult:
        """Target: start fetching the disk from the node daemon at ``address``:``port``."""
        return self.call(node_uuid, "disk_import_start",
                         [bdev.model_dump(mode="json"), transfer_id, address, port],
                         TMO_NORMAL)

    def disk_transfer_status(self, node_uuid: str, transfer_id: str) -> RpcResult:
        """Either end: ``{"state", "bytes", "total", "sha256", "error", ...}``."""
        return self.call(node_uuid, "disk_transfer_status", [transfer_id], TMO_FAST)

    def disk_transfer_cleanup(self, node_uuid: str, transfer_id: str) -> RpcResult:
        """Either end: abort (if running) and forget the transfer."""
        return self.call(node_uuid, "disk_transfer_cleanup", [transfer_id], TMO_FAST)

    # --- disk template conversion, detached disks (instance lifecycle) ---
    # (procedures in gnt.noded.procs.blockdev_convert)
    def blockdev_convert(self, node_uuid: str, src: BlockDevSpec,
                         dst: BlockDevSpec) -> RpcResult:
        """Copy disk ``src`` onto disk ``dst`` (both on the node); data is the MiB copied."""
        return self.call(node_uuid, "blockdev_convert",
                         [src.model_dump(mode="json"), dst.model_dump(mode="json")], TMO_SLOW)

    def blockdev_rename(self, node_uuid: str, bdev: BlockDevSpec,
                        logical_id: list[Any]) -> RpcResult:
        """Move a file-based disk to the path of its new ``logical_id``."""
        return self.call(node_uuid, "blockdev_rename",
                         [bdev.model_dump(mode="json"), logical_id], TMO_NORMAL)

    # --- query (query engine) ---
    # (procedures in gnt.noded.procs.query)
    def instances_console_info(self, node_uuid: str, specs: list[InstanceSpec],
                               node_name: str) -> RpcResult:
        """Console information of several instances of one node: data is
        ``{instance name: ConsoleInfo dict}``."""
        return self.call(node_uuid, "instances_console_info",
                         [[s.model_dump(mode="json") for s in specs], node_name], TMO_FAST)

    # --- verify (multi-node speed) ---
    # (procedure in gnt.noded.procs.verify)
    def node_verify(self, node_uuids: Iterable[str], checks: dict[str, Any]
                    ) -> dict[str, RpcResult]:
        """Several verify checks per node in one call; data is ``{check: [ok,
        value or error message]}`` (see :func:`gnt.noded.procs.verify.node_verify`)."""
        return self.call_many(node_uuids, "node_verify", [checks], TMO_FAST)
