"""The fake hypervisor: instances that exist only as files, as Ganeti's ``fake``.

A "running" instance is one JSON file ``<fake_run_dir>/<name>.json``
(:class:`FakeState`: name, uuid, memory MiB, vcpus, start time), so a
restarted node daemon sees the same instances.  Starting writes the file
(refused when it exists), stopping removes it.  Node memory and CPUs are
the host's, from ``/proc``, with the memory of the fake instances taken
off the free memory as Ganeti does.

The state files are written with one atomic rename each and no fsync: they
live in the run dir, which (like the processes of a real hypervisor) does
not survive a power loss anyway, and the fake hypervisor must sustain
scale tests of many instance starts per second.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from gnt import constants as C
from gnt import errors, paths
from gnt.hypervisor.base import (
    ConsoleInfo,
    DiskSpec,
    Hypervisor,
    InstanceRuntimeInfo,
    InstanceSpec,
    MigrationStatus,
    MigrationTarget,
    NICSpec,
    NodeHvInfo,
    ParamDef,
)

HV_MIGRATION_MODE = "migration_mode"
MIGRATION_MODES = ("live", "non-live")

PARAMETERS: dict[str, ParamDef] = {
    HV_MIGRATION_MODE: ParamDef(kind=C.VTYPE_STRING, default="live", choices=MIGRATION_MODES),
}

_SUFFIX = ".json"
_INCOMING = ".incoming"
_CONSOLE_MESSAGE = "Console not available for fake hypervisor"
_PROCESSOR_RE = re.compile(r"(?m)^processor\s*:\s*[0-9]+\s*$")


class FakeState(BaseModel):
    """The state file of one running fake instance (``memory`` MiB, ``start_time`` epoch s)."""

    name: str
    uuid: str
    memory: int
    vcpus: int
    start_time: float
    #: UUIDs of the attached disks and NICs, in order (hotplug changes them)
    disks: list[str] = []
    nics: list[str] = []


def parse_meminfo(text: str) -> dict[str, int]:
    """Ganeti's reading of ``/proc/meminfo`` (MiB): ``memory_total`` (MemTotal),
    ``memory_free`` (MemFree + Buffers + Cached), ``memory_dom0`` (Active)."""
    out = {"memory_total": 0, "memory_free": 0, "memory_dom0": 0}
    for line in text.splitlines():
        key, sep, rest = line.partition(":")
        if not sep or not rest.split():
            continue
        try:
            mib = int(rest.split()[0]) // 1024
        except ValueError as err:
            raise errors.HypervisorError(f"Failed to parse memory info line {line!r}") from err
        key = key.strip()
        if key == "MemTotal":
            out["memory_total"] = mib
        elif key in ("MemFree", "Buffers", "Cached"):
            out["memory_free"] += mib
        elif key == "Active":
            out["memory_dom0"] = mib
    return out


def count_cpus(cpuinfo: str) -> int:
    """Number of ``processor : N`` lines in ``/proc/cpuinfo`` text."""
    return len(_PROCESSOR_RE.findall(cpuinfo))


class FakeHypervisor(Hypervisor):
    """No VMs: instance state is a file per running instance."""

    name = C.HT_FAKE
    PARAMETERS = PARAMETERS
    MEMINFO = "/proc/meminfo"
    CPUINFO = "/proc/cpuinfo"

    @staticmethod
    def _dir() -> Path:
        return paths.get().fake_run_dir

    def _file(self, name: str) -> Path:
        if not name or "/" in name or name.startswith(".") or "\0" in name:
            raise errors.HypervisorError(f"Invalid instance name {name!r}", errors.ECODE_INVAL)
        return self._dir() / (name + _SUFFIX)

    def _read(self, name: str) -> FakeState | None:
        try:
            return FakeState.model_validate_json(self._file(name).read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, ValidationError) as err:
            raise errors.HypervisorError(
                f"Failed to read the state of instance {name}: {err}") from err

    def start_instance(self, spec: InstanceSpec, startup_paused: bool = False) -> None:
        """Mark ``spec.name`` running with its memory (MiB) and vcpus.

        ``startup_paused`` is ignored (as in Ganeti).  Raises HypervisorError
        when it is already running.
        """
        state = FakeState(name=spec.name, uuid=spec.uuid, memory=spec.memory,
                          vcpus=int(spec.beparams.get(C.BE_VCPUS, 1)), start_time=time.time(),
                          disks=[d.uuid for d in spec.disks], nics=[n.uuid for n in spec.nics])
        self._publish(state, self._file(spec.name))

    def _publish(self, state: FakeState, target: Path) -> None:
        """Write ``state`` to ``target`` atomically; refused when ``target`` exists."""
        d = self._dir()
        d.mkdir(parents=True, exist_ok=True, mode=0o750)
        fd, tmp = tempfile.mkstemp(prefix=f".{state.name}.", suffix=".tmp", dir=d)
        try:
            with os.fdopen(fd, "w") as f:
                f.write(state.model_dump_json())
            # link() publishes the complete file atomically and fails if one
            # exists, so two concurrent starts cannot both succeed.
            os.link(tmp, target)
        except FileExistsError:
            raise errors.HypervisorError(
                f"Failed to start instance {state.name}: already running",
                errors.ECODE_STATE) from None
        except OSError as err:
            raise errors.HypervisorError(
                f"Failed to start instance {state.name}: {err.strerror}") from err
        finally:
            os.unlink(tmp)

    def stop_instance(self, name: str, force: bool = False, timeout: int = 120) -> None:
        """Mark ``name`` stopped; stopping an instance that does not run is fine."""
        try:
            self._file(name).unlink()
        except FileNotFoundError:
            pass
        except OSError as err:
            raise errors.HypervisorError(f"Failed to stop instance {name}: {err.strerror}"
                                         ) from err

    def reboot_instance(self, spec: InstanceSpec) -> None:
        """Nothing happens to a fake guest; raises HypervisorError when not running."""
        if self._read(spec.name) is None:
            raise errors.HypervisorError(
                f"Cannot reboot instance {spec.name}: not running", errors.ECODE_STATE)

    def get_instance_info(self, name: str) -> InstanceRuntimeInfo | None:
        """Memory (MiB), vcpus and uptime of a running fake instance, else None."""
        state = self._read(name)
        if state is None:
            return None
        return InstanceRuntimeInfo(name=name, state="running", memory=state.memory,
                                   vcpus=state.vcpus,
                                   uptime=max(0.0, time.time() - state.start_time))

    def list_instances(self) -> list[str]:
        """Names of the fake instances marked running, sorted."""
        try:
            entries = os.listdir(self._dir())
        except FileNotFoundError:
            return []
        return sorted(e[:-len(_SUFFIX)] for e in entries
                      if e.endswith(_SUFFIX) and not e.startswith("."))

    def get_node_info(self) -> NodeHvInfo:
        """The host's memory (MiB) and CPUs; fake instances' memory is not free."""
        try:
            with open(self.MEMINFO) as f:
                mem = parse_meminfo(f.read())
            with open(self.CPUINFO) as f:
                cpus = count_cpus(f.read())
        except OSError as err:
            raise errors.HypervisorError(f"Failed to list node info: {err}") from err
        used = sum(i.memory for i in self.get_all_instances_info())
        return NodeHvInfo(memory_total=mem["memory_total"],
                          memory_free=mem["memory_free"] - min(mem["memory_free"], used),
                          memory_dom0=mem["memory_dom0"], cpu_total=cpus, cpu_dom0=cpus,
                          cpu_nodes=1, cpu_sockets=1, hv_version="fake")

    def get_console(self, spec: InstanceSpec, node_name: str) -> ConsoleInfo:
        """A message console: fake instances have no console."""
        return ConsoleInfo(instance=spec.name, kind="msg", message=_CONSOLE_MESSAGE)

    # --- migration: the state file moves from the source to the target ---
    def migration_info(self, name: str) -> dict[str, Any]:
        state = self._read(name)
        if state is None:
            raise errors.HypervisorError(f"Cannot migrate instance {name}: not running here",
                                         errors.ECODE_STATE)
        return {"state": state.model_dump(mode="json")}

    def accept_instance(self, spec: InstanceSpec, info: dict[str, Any],
                        target: MigrationTarget) -> None:
        """Record the incoming instance (not running here until finalized)."""
        if self._read(spec.name) is not None:
            raise errors.HypervisorError(
                f"Cannot accept instance {spec.name}: it already runs here", errors.ECODE_STATE)
        incoming = self._dir() / (spec.name + _INCOMING)
        incoming.unlink(missing_ok=True)
        self._publish(FakeState.model_validate(info["state"]), incoming)

    def migrate_instance(self, name: str, target: MigrationTarget, live: bool) -> None:
        if self._read(name) is None:
            raise errors.HypervisorError(f"Cannot migrate instance {name}: not running here",
                                         errors.ECODE_STATE)

    def migration_status(self, name: str, wait: float = 0.0) -> MigrationStatus:
        """Finished at once: nothing moves between two fake nodes."""
        state = self._read(name)
        if state is None:
            return MigrationStatus(status="failed", error=f"{name} does not run here")
        return MigrationStatus(status="completed", transferred_ram=state.memory,
                               total_ram=state.memory, downtime_ms=0, total_time_ms=0)

    def abort_migration(self, name: str) -> None:
        """Nothing is under way between two fake nodes."""

    def finalize_migration_dst(self, name: str, success: bool) -> None:
        incoming = self._dir() / (name + _INCOMING)
        try:
            if success:
                state = FakeState.model_validate_json(incoming.read_bytes())
                self._publish(state, self._file(name))
        except FileNotFoundError:
            raise errors.HypervisorError(
                f"Instance {name} was not accepted on this node") from None
        finally:
            incoming.unlink(missing_ok=True)

    def finalize_migration_src(self, name: str, success: bool, live: bool) -> None:
        if success:
            self.stop_instance(name)

    def verify(self) -> list[str]:
        """Problems: the state directory cannot be created or written."""
        d = self._dir()
        try:
            d.mkdir(parents=True, exist_ok=True, mode=0o750)
        except OSError as err:
            return [f"The required directory '{d}' cannot be created: {err.strerror}"]
        if not os.access(d, os.W_OK):
            return [f"The required directory '{d}' is not writable"]
        return []

    # --- hotplug and runtime changes: recorded in the state file ---
    def _running_state(self, name: str) -> FakeState:
        state = self._read(name)
        if state is None:
            raise errors.HypervisorError(f"Instance {name} is not running",
                                         errors.ECODE_STATE)
        return state

    def _replace(self, state: FakeState) -> None:
        """Rewrite the state file of the running ``state.name`` atomically."""
        fd, tmp = tempfile.mkstemp(prefix=f".{state.name}.", suffix=".tmp", dir=self._dir())
        try:
            with os.fdopen(fd, "w") as f:
                f.write(state.model_dump_json())
            os.replace(tmp, self._file(state.name))
        except OSError as err:
            os.unlink(tmp)
            raise errors.HypervisorError(
                f"Failed to update instance {state.name}: {err.strerror}") from err

    def _plug(self, name: str, field: str, uuid: str, index: int | None) -> None:
        state = self._running_state(name)
        items: list[str] = getattr(state, field)
        if index is None:
            if uuid not in items:
                raise errors.HypervisorError(
                    f"{field[:-1].capitalize()} {uuid} is not attached to instance {name}",
                    errors.ECODE_STATE)
            items.remove(uuid)
        else:
            if uuid in items:
                raise errors.HypervisorError(
                    f"{field[:-1].capitalize()} {uuid} is already attached to instance "
                    f"{name}", errors.ECODE_EXISTS)
            items.insert(max(0, min(index, len(items))), uuid)
        self._replace(state)

    def hotplug_supported(self, name: str) -> None:
        """Fake instances take any device while they run."""
        self._running_state(name)

    def hot_add_disk(self, name: str, disk: DiskSpec) -> DiskSpec:
        self._plug(name, "disks", disk.uuid, disk.index)
        return disk

    def hot_del_disk(self, name: str, disk_uuid: str) -> None:
        self._plug(name, "disks", disk_uuid, None)

    def hot_add_nic(self, name: str, nic: NICSpec) -> NICSpec:
        self._plug(name, "nics", nic.uuid, nic.index)
        return nic

    def hot_del_nic(self, name: str, nic_uuid: str) -> None:
        self._plug(name, "nics", nic_uuid, None)

    def resize_disk(self, name: str, disk_uuid: str, size: int) -> None:
        """Nothing to tell a fake guest; the disk must be attached."""
        if disk_uuid not in self._running_state(name).disks:
            raise errors.HypervisorError(f"Disk {disk_uuid} is not attached to instance "
                                         f"{name}", errors.ECODE_STATE)

    def balloon_memory(self, name: str, memory: int) -> None:
        """Record ``memory`` MiB as the instance's memory (what ``oper_ram`` shows)."""
        state = self._running_state(name)
        state.memory = int(memory)
        self._replace(state)


HYPERVISOR_CLASS = FakeHypervisor
