"""Master side: run the hooks of one opcode through the node daemons.

:class:`HooksMaster` is created by the processor after ``check_prereq`` and
drives, in Ganeti's order:

1. global pre hooks (``global-pre.d``) on the master and the LU's pre nodes;
2. the LU's pre hooks (``<HPATH>-pre.d``) on its pre nodes: any failing
   script aborts the opcode with :class:`errors.OpPrereqError` naming node,
   script and output (unreachable nodes only give a warning);
3. (the LU's ``exec``)
4. ``config-update-post.d`` on the master if the config was written;
5. the LU's post hooks (``<HPATH>-post.d``), after a successful ``exec``
   only: failures become job warnings, never a job failure;
6. global post hooks on the master, with ``GANETI_POST_STATUS``
   success/error, whenever step 1 ran.

Speed: the master's own hook directories are on this machine (the master
daemon runs with the master node's root), so a directory without a runnable
script is detected with one ``listdir`` and the master is left out of the
RPC; other nodes get one parallel ``hooks_runner`` call per phase.  A phase
whose node list ends up empty costs nothing.  A master context without node
RPC (``ctx.rpc`` None, as in LU tests without daemons) runs no remote hooks.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gnt import constants as C
from gnt import errors, paths
from gnt.hooks.env import stringify, unique
from gnt.hooks.runner import ScriptResult, has_runnable_scripts, hooks_dir

if TYPE_CHECKING:
    from gnt.cmdlib.base import LogicalUnit

log = logging.getLogger(__name__)


@dataclass
class NodeHooksResult:
    """What the hooks of one phase did on one node.

    ``node``: node name; ``offline``: not contacted (marked offline);
    ``fail_msg``: RPC failure, else None; ``scripts``: one
    :class:`ScriptResult` per directory entry, ``name`` being
    ``<hpath>-<phase>.d/<file>``.
    """

    node: str
    offline: bool = False
    fail_msg: str | None = None
    scripts: list[ScriptResult] = field(default_factory=list)

    @property
    def failed_scripts(self) -> list[ScriptResult]:
        return [s for s in self.scripts if s.status == C.HKR_FAIL]


#: results of one phase, by node UUID
HooksResults = dict[str, NodeHooksResult]


def _to_results(data: Any) -> list[ScriptResult]:
    return [ScriptResult(str(script), int(status), str(output or ""))
            for script, status, output in data or []]


class HooksMaster:
    """Hooks of one LU run (see the module docstring for the sequence).

    ``job_id`` goes into ``GANETI_JOB_ID`` of the global hooks.
    """

    def __init__(self, lu: LogicalUnit, job_id: int | str | None = None) -> None:
        self.lu = lu
        self.rpc = lu.ctx.rpc
        cfg = lu.cfg
        self.op_id = lu.op.OP_ID
        self.hpath = lu.HPATH
        self.htype = lu.HTYPE
        self.job_id = job_id
        self.cluster_name = cfg.cluster.cluster_name
        self.master_uuid = cfg.cluster.master_node
        master = cfg.nodes.get(self.master_uuid)
        self.master_name = master.name if master is not None else self.master_uuid
        self._serial = cfg.serial_no
        self.pre_nodes: list[str] = []
        self.post_nodes: list[str] = []
        if self.hpath is not None:
            pre, post = lu.build_hooks_nodes()
            self.pre_nodes, self.post_nodes = list(pre), list(post)
        #: the LU's pre-phase variables, ``GANETI_``-prefixed (also given to the
        #: post phase, next to the ``GANETI_POST_`` ones)
        self.pre_env = self._lu_env("GANETI_")
        self.global_pre_ran = False

    # --- environment ---
    def _lu_env(self, prefix: str) -> dict[str, str]:
        if self.hpath is None:
            return {}
        return {f"{prefix}{k}": v for k, v in stringify(self.lu.build_hooks_env()).items()}

    def _common_env(self, hpath: str, phase: str, htype: str | None) -> dict[str, str]:
        env = {
            "GANETI_HOOKS_VERSION": str(C.HOOKS_VERSION),
            "GANETI_HOOKS_PHASE": phase,
            "GANETI_HOOKS_PATH": hpath,
            "GANETI_OP_CODE": self.op_id,
            "GANETI_DATA_DIR": str(paths.get().data_dir),
            "GANETI_CLUSTER": self.cluster_name,
            "GANETI_MASTER": self.master_name,
        }
        if htype:
            env["GANETI_OBJECT_TYPE"] = htype
        return env

    # --- running ---
    def run(self, nodes: Iterable[str], hpath: str, phase: str, env: Mapping[str, str],
            master_env: Mapping[str, str] | None = None) -> HooksResults:
        """Run ``<hpath>-<phase>.d`` on ``nodes`` (UUIDs; unknown ones and repeats
        dropped) with ``env``; the master gets ``master_env`` on top.  Returns
        the results by node UUID (the master's without RPC when it has nothing
        to run)."""
        data = self.lu.cfg
        todo = [u for u in unique(nodes) if u in data.nodes]
        results: HooksResults = {}
        if self.master_uuid in todo and not has_runnable_scripts(hooks_dir(hpath, phase)):
            todo.remove(self.master_uuid)
            results[self.master_uuid] = NodeHooksResult(self.master_name)
        if not todo or self.rpc is None:  # None: no node RPC (LU tests without daemons)
            return results
        node_env = {self.master_uuid: dict(master_env)} if master_env else None
        replies = self.rpc.hooks_runner(todo, hpath, phase, dict(env), node_env)
        for uuid in todo:
            res = replies[uuid]
            results[uuid] = NodeHooksResult(
                res.node, offline=res.offline, fail_msg=None if res.offline else res.fail_msg,
                scripts=[] if res.failed else _to_results(res.data))
        return results

    def _warn(self, msg: str) -> None:
        log.warning("%s: %s", self.op_id, msg)
        self.lu.log_warning(msg)

    def _check_pre(self, results: HooksResults) -> None:
        """Warn about unreachable nodes; raise OpPrereqError if a script failed."""
        errs = []
        for res in results.values():
            if res.fail_msg:
                self._warn(f"Communication failure to node {res.node}: {res.fail_msg}")
            errs += [(res.node, s.name, s.output) for s in res.failed_scripts]
        if errs:
            lines = [f"  node: {node}, script: {script}"
                     + (f", output: {out}" if out else " (no output)")
                     for node, script, out in errs]
            raise errors.OpPrereqError("Hooks execution failed:\n" + "\n".join(lines),
                                       errors.ECODE_ENVIRON)

    def _report_post(self, results: HooksResults) -> None:
        for res in results.values():
            if res.fail_msg:
                self._warn(f"Communication failure to node {res.node}: {res.fail_msg}")
            for s in res.failed_scripts:
                self._warn(f"On {res.node} script {s.name} failed, output: "
                           f"{s.output or '(no output)'}")

    # --- phases ---
    def run_pre(self) -> None:
        """Global and LU pre hooks; raises OpPrereqError if any script fails."""
        genv = {**self.pre_env, **self._common_env(C.GLOBAL_HOOKS_DIR, C.HOOKS_PHASE_PRE,
                                                   self.htype)}
        if self.job_id is not None:
            genv["GANETI_JOB_ID"] = str(self.job_id)
        self.global_pre_ran = True
        self._check_pre(self.run(
            [self.master_uuid, *self.pre_nodes], C.GLOBAL_HOOKS_DIR, C.HOOKS_PHASE_PRE,
            {**genv, "GANETI_IS_MASTER": C.GLOBAL_HOOKS_NOT_MASTER},
            master_env={"GANETI_IS_MASTER": C.GLOBAL_HOOKS_MASTER}))
        if self.hpath is None:
            return
        env = {**self.pre_env, **self._common_env(self.hpath, C.HOOKS_PHASE_PRE, self.htype)}
        results = self.run(self.pre_nodes, self.hpath, C.HOOKS_PHASE_PRE, env)
        self._check_pre(results)
        self.lu.hooks_callback(C.HOOKS_PHASE_PRE, results, None)

    def run_post(self, result: Any) -> Any:
        """LU post hooks after a successful exec; returns the (possibly
        adjusted, see ``hooks_callback``) opcode result.  Never raises."""
        if self.hpath is None:
            return result
        try:
            nodes = self.lu.prepare_post_hooks_nodes(list(self.post_nodes))
            env = {**self._lu_env("GANETI_POST_"), **self.pre_env,
                   **self._common_env(self.hpath, C.HOOKS_PHASE_POST, self.htype)}
            results = self.run(nodes, self.hpath, C.HOOKS_PHASE_POST, env)
            self._report_post(results)
            return self.lu.hooks_callback(C.HOOKS_PHASE_POST, results, result)
        except Exception as err:  # post hooks never fail the job
            log.exception("Post hooks of %s failed", self.op_id)
            self._warn(f"Post hooks could not be run: {err}")
            return result

    def run_post_on(self, nodes: Iterable[str]) -> None:
        """The LU's post hooks on ``nodes`` now, during ``exec`` (Ganeti's
        ``RunPostHook``: for a node about to leave the cluster).  Never raises."""
        if self.hpath is None:
            return
        try:
            env = {**self._lu_env("GANETI_POST_"), **self.pre_env,
                   **self._common_env(self.hpath, C.HOOKS_PHASE_POST, self.htype)}
            self._report_post(self.run(nodes, self.hpath, C.HOOKS_PHASE_POST, env))
        except Exception as err:
            log.exception("Post hooks of %s failed", self.op_id)
            self._warn(f"Post hooks could not be run: {err}")

    def run_config_update(self) -> None:
        """``config-update-post.d`` on the master if the config was written since
        this object was created.  Never raises."""
        try:
            if self.lu.cfg.serial_no == self._serial:
                return
            env = {**self.pre_env, **self._common_env(C.HOOKS_NAME_CFGUPDATE,
                                                      C.HOOKS_PHASE_POST, self.htype)}
            self._report_post(self.run([self.master_uuid], C.HOOKS_NAME_CFGUPDATE,
                                       C.HOOKS_PHASE_POST, env))
        except Exception as err:
            log.exception("config-update hooks of %s failed", self.op_id)
            self._warn(f"config-update hooks could not be run: {err}")

    def run_global_post(self, success: bool) -> None:
        """``global-post.d`` on the master (if the global pre phase ran), with
        ``GANETI_POST_STATUS`` success or error.  Never raises."""
        if not self.global_pre_ran:
            return
        try:
            env = self._common_env(C.GLOBAL_HOOKS_DIR, C.HOOKS_PHASE_POST, None)
            env["GANETI_POST_STATUS"] = (C.POST_HOOKS_STATUS_SUCCESS if success
                                         else C.POST_HOOKS_STATUS_ERROR)
            env["GANETI_IS_MASTER"] = C.GLOBAL_HOOKS_MASTER
            if self.job_id is not None:
                env["GANETI_JOB_ID"] = str(self.job_id)
            self._report_post(self.run([self.master_uuid], C.GLOBAL_HOOKS_DIR,
                                       C.HOOKS_PHASE_POST, env))
        except Exception as err:
            log.exception("Global post hooks of %s failed", self.op_id)
            self._warn(f"Global post hooks could not be run: {err}")
