"""The logical unit (LU) base class and its lifecycle.

Each opcode is carried out by one LU, driven by
:class:`gnt.cmdlib.processor.Processor` through Ganeti's lifecycle:

1. ``check_arguments()``  - opcode-only checks, no config access
2. ``expand_names()``     - resolve names, fill ``needed_locks``/``share_locks``
3. ``declare_locks(level)`` - per level, just before it is acquired
4. locks acquired level by level (cluster, group, instance, node, node-res)
5. ``check_prereq()``     - every precondition, with locks held; must not change anything
6. ``exec(feedback)``     - the work; undo what it created when it fails

Hooks (:mod:`gnt.hooks`): an LU with ``HPATH`` set gets its pre hooks run
after ``check_prereq`` (a failing script aborts it) and its post hooks after a
successful ``exec``; it describes them with ``build_hooks_env`` and
``build_hooks_nodes`` (and optionally ``prepare_post_hooks_nodes``,
``hooks_callback``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from gnt import constants as C
from gnt import errors
from gnt.locking import ALL_SET, Level
from gnt.opcodes.base import OpCode

if TYPE_CHECKING:
    from gnt.masterd.context import MasterContext
    from gnt.objects import ConfigData

FeedbackFn = Callable[[str], None]

_LU_REGISTRY: dict[str, type[LogicalUnit]] = {}


def lu_for(op_id: str) -> type[LogicalUnit]:
    """The LU class for ``op_id``; raises OpCodeUnknown if none."""
    import gnt.cmdlib.all  # noqa: F401 - registers LUs

    try:
        return _LU_REGISTRY[op_id]
    except KeyError:
        raise errors.OpCodeUnknown(f"No logical unit for opcode {op_id}") from None


class LogicalUnit:
    """Base of every LU.  Subclasses set ``OP`` (the opcode class they run).

    ``REQ_BGL``: take the cluster lock exclusively (True) or shared (False).
    ``needed_locks`` maps :class:`Level` -> list of names or ``ALL_SET``;
    ``share_locks`` maps level -> True for shared; ``add_locks`` maps level ->
    names of objects the LU creates.
    """

    OP: ClassVar[type[OpCode]]
    REQ_BGL: ClassVar[bool] = True

    def __init__(self, ctx: MasterContext, op: OpCode, owner: Any,
                 log_fn: Callable[[str, Any], None]) -> None:
        self.ctx = ctx
        self.op = op
        self.owner = owner
        self._log_fn = log_fn
        self.needed_locks: dict[Level, Any] = {}
        self.share_locks: dict[Level, bool] = {}
        #: names of new objects: added to the lock manager (held exclusively)
        #: instead of acquired; removed again if the LU fails
        self.add_locks: dict[Level, list[str]] = {}
        self.acquired: dict[Level, set[str]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        op = cls.__dict__.get("OP")
        if op is not None:
            _LU_REGISTRY[op.OP_ID] = cls

    # --- convenience ---
    @property
    def cfg(self) -> ConfigData:
        return self.ctx.cfg.data

    def log_info(self, msg: str) -> None:
        """A job log message (shown by the CLI while the job runs)."""
        self._log_fn(C.ELOG_MESSAGE, msg)

    def log_warning(self, msg: str) -> None:
        self._log_fn(C.ELOG_MESSAGE, f"WARNING: {msg}")

    def share_all(self) -> None:
        """Take every lock of this LU in shared mode."""
        self.share_locks = {lvl: True for lvl in Level}

    # --- lifecycle (override as needed) ---
    def check_arguments(self) -> None:
        """Opcode-only checks; raise OpPrereqError on bad input."""

    def expand_names(self) -> None:
        """Resolve names and fill ``needed_locks``."""

    def declare_locks(self, level: Level) -> None:
        """Compute the locks of ``level`` from those already acquired."""

    def check_prereq(self) -> None:
        """Check every precondition with the locks held; change nothing."""

    def exec(self, feedback: FeedbackFn) -> Any:
        """Do the work and return a JSON-able result."""
        raise NotImplementedError

    # --- hooks (gnt.hooks; override in LUs that have hooks) ---
    #: hooks directory name: scripts in ``<hooks dir>/<HPATH>-pre.d`` and
    #: ``-post.d`` (Ganeti's names, e.g. "instance-start"); None: no hooks
    HPATH: ClassVar[str | None] = None
    #: ``GANETI_OBJECT_TYPE``: one of constants.HTYPE_* (INSTANCE, NODE, ...)
    HTYPE: ClassVar[str | None] = None
    #: the :class:`gnt.hooks.master.HooksMaster` of the running opcode (set by
    #: the processor before ``exec``), None when not running
    hooks_master: Any = None

    def build_hooks_env(self) -> dict[str, Any]:
        """The LU's hook variables, keys without the ``GANETI_`` prefix, values
        converted with ``str()``.  Called after ``check_prereq`` (pre phase) and
        again after ``exec`` (post phase, as ``GANETI_POST_*``); use the helpers
        of :mod:`gnt.hooks` (``instance_env``, ``node_env``, ...)."""
        return {}

    def build_hooks_nodes(self) -> tuple[list[str], list[str]]:
        """``(pre nodes, post nodes)``: node UUIDs the hooks run on; called once,
        after ``check_prereq``."""
        return [], []

    def prepare_post_hooks_nodes(self, nodes: list[str]) -> list[str]:
        """Adjust the post-phase node UUIDs after ``exec`` (e.g. add a new node)."""
        return nodes

    def hooks_callback(self, phase: str, results: Any, result: Any) -> Any:
        """See the results of a hooks phase (``{node uuid: NodeHooksResult}``);
        returns the opcode result (``result`` is None in the pre phase)."""
        return result

    def run_post_hooks_now(self, node_uuids: list[str]) -> None:
        """Run the post hooks on ``node_uuids`` during ``exec`` (for a node that
        is about to leave the cluster).  Never raises."""
        if self.hooks_master is not None:
            self.hooks_master.run_post_on(node_uuids)


class ResultWithJobs:
    """An LU result that asks the processor to submit ``jobs`` (lists of opcodes).

    The opcode's result becomes ``{"jobs": [[success, job id or error], ...],
    **other}`` (Ganeti's ``ResultWithJobs``); clients then wait for those jobs.
    """

    def __init__(self, jobs: list[list[OpCode]], **other: Any) -> None:
        self.jobs = jobs
        self.other = other


class NoHooksLU(LogicalUnit):
    """An LU without hooks (queries, tests, ...)."""


__all__ = [
    "ALL_SET",
    "FeedbackFn",
    "Level",
    "LogicalUnit",
    "NoHooksLU",
    "ResultWithJobs",
    "lu_for",
]
