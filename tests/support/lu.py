"""Running opcodes through the real processor, config writer and lock manager,
without daemons (for LUs that need no node RPC)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gnt import constants as C
from gnt.cmdlib.processor import Processor
from gnt.config import ConfigWriter, write_config_file
from gnt.locking import LockManager, Mode
from gnt.locking.levels import Level
from gnt.masterd.context import MasterContext
from gnt.objects import ConfigData
from gnt.opcodes.base import OpCode


@dataclass(frozen=True)
class Owner:
    job_id: int


class JobCtx:
    """The job queue's per-opcode context; ``held`` records the locks the job
    held when its LU started (``notify_start``), ``log`` its feedback."""

    def __init__(self, mctx: MasterContext, job_id: int = 1) -> None:
        self.owner = Owner(job_id)
        self.priority = C.OP_PRIO_DEFAULT
        self._glm = mctx.glm
        self.held: dict[str, dict[str, Mode]] = {}
        self.log: list[Any] = []

    def feedback(self, msg_type: str, msg: Any) -> None:
        self.log.append(msg)

    def notify_start(self) -> None:
        self.held = {lvl.name: dict(self._glm.owned(self.owner, lvl)) for lvl in Level
                     if self._glm.owned(self.owner, lvl)}

    def check_cancel(self) -> None:
        pass


def make_master(path: Path, data: ConfigData) -> MasterContext:
    """A master context on ``config.data`` at ``path`` (written from ``data``)."""
    write_config_file(data, path)
    cfg = ConfigWriter(path)
    d = cfg.data
    glm = LockManager(instances=[i.name for i in d.instances.values()],
                      nodegroups=list(d.nodegroups), nodes=list(d.nodes))
    return MasterContext(cfg=cfg, rpc=None, glm=glm)  # type: ignore[arg-type]


def run_op(mctx: MasterContext, op: OpCode, job_id: int = 1) -> tuple[Any, JobCtx]:
    """Execute ``op``; returns ``(result, job context)``; the LU's errors propagate."""
    jctx = JobCtx(mctx, job_id)
    return Processor(mctx).execute(op, jctx), jctx
