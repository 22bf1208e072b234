"""Instance opcodes (Ganeti's parameter names; sizes in MiB)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from gnt import constants as C
from gnt.opcodes.base import OpCode


class _InstanceOp(OpCode):
    OP_DSC_FIELD = "instance_name"
    instance_name: str = Field(min_length=1)


class OpInstanceCreate(_InstanceOp):
    """Create an instance.

    ``disks``: list of dicts with ``size`` (MiB or a size string), optional
    ``mode`` (rw/ro), ``name``, ``vg``, ``adopt``...; ``nics``: list of dicts
    with ``mac`` (``auto``/``generate`` or a MAC), ``ip``, ``mode``, ``link``,
    ``vlan``, ``name``, ``network``.
    """

    OP_ID = "OP_INSTANCE_CREATE"
    os_type: str | None = None
    force_variant: bool = False
    mode: Literal["create", "import", "remote-import"] = C.INSTANCE_CREATE
    disk_template: str | None = None
    disks: list[dict[str, Any]] = []
    nics: list[dict[str, Any]] = []
    beparams: dict[str, Any] = {}
    hvparams: dict[str, Any] = {}
    hypervisor: str | None = None
    osparams: dict[str, Any] = {}
    osparams_private: dict[str, Any] = {}
    osparams_secret: dict[str, Any] = {}
    pnode: str | None = None
    snode: str | None = None
    iallocator: str | None = None
    group_name: str | None = None
    file_driver: str | None = None
    file_storage_dir: str | None = None
    ip_check: bool = True
    name_check: bool = True
    conflicts_check: bool = True
    wait_for_sync: bool = True
    start: bool = True
    no_install: bool | None = None
    identify_defaults: bool = False
    src_node: str | None = None
    src_path: str | None = None
    tags: list[str] = []
    opportunistic_locking: bool = False
    ignore_ipolicy: bool = False
    forthcoming: bool = False
    commit: bool = False


class OpInstanceRemove(_InstanceOp):
    """Remove an instance (shut down, disks removed, config entry removed)."""

    OP_ID = "OP_INSTANCE_REMOVE"
    ignore_failures: bool = False
    shutdown_timeout: int = Field(default=C.DEFAULT_SHUTDOWN_TIMEOUT, ge=0)


class OpInstanceStartup(_InstanceOp):
    """Start an instance; ``hvparams``/``beparams`` apply to this boot only."""

    OP_ID = "OP_INSTANCE_STARTUP"
    force: bool = False
    ignore_offline_nodes: bool = False
    hvparams: dict[str, Any] = {}
    beparams: dict[str, Any] = {}
    no_remember: bool = False
    startup_paused: bool = False


class OpInstanceShutdown(_InstanceOp):
    """Stop an instance; ``timeout`` seconds for a clean shutdown, then hard."""

    OP_ID = "OP_INSTANCE_SHUTDOWN"
    force: bool = False
    ignore_offline_nodes: bool = False
    timeout: int = Field(default=C.DEFAULT_SHUTDOWN_TIMEOUT, ge=0)
    no_remember: bool = False
    admin_state_source: str | None = None


class OpInstanceReboot(_InstanceOp):
    """Reboot an instance (``soft``: in the guest, ``hard``: restart the VM process)."""

    OP_ID = "OP_INSTANCE_REBOOT"
    ignore_secondaries: bool = False
    reboot_type: Literal["soft", "hard", "full"] = C.INSTANCE_REBOOT_HARD
    shutdown_timeout: int = Field(default=C.DEFAULT_SHUTDOWN_TIMEOUT, ge=0)


class OpInstanceConsole(_InstanceOp):
    """Information to connect to the instance's console."""

    OP_ID = "OP_INSTANCE_CONSOLE"


class OpInstanceQueryData(OpCode):
    """Detailed instance information (``gnt-instance info``)."""

    OP_ID = "OP_INSTANCE_QUERY_DATA"
    instances: list[str] = []
    static: bool = False
    use_locking: bool = False
