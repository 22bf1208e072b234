"""Typed calls from the master to node daemons, addressed by node UUID.

Maps node UUIDs to addresses from the config, skips offline nodes, and
gives one method per procedure so LUs never build argument lists by hand.
Procedures are implemented in :mod:`gnt.noded.procs`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from gnt.config import ConfigWriter
from gnt.hypervisor.base import InstanceSpec
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

    def os_validate(self, node_uuid: str, os_name: str, osparams: dict[str, Any]
                    ) -> RpcResult:
        return self.call(node_uuid, "os_validate", [os_name, osparams], TMO_NORMAL)

    def instance_os_add(self, node_uuid: str, spec: InstanceSpec, bdevs: list[BlockDevSpec],
                        reinstall: bool, debug: int, primary_node: str) -> RpcResult:
        return self.call(node_uuid, "instance_os_add",
                         [spec.model_dump(mode="json"),
                          [b.model_dump(mode="json") for b in bdevs], reinstall, debug,
                          primary_node], TMO_SLOW * 2)

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
