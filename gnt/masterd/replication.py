"""Replication from the master: ssconf to every node, config and job queue to
the master candidates.

Every config write and every job file change is pushed before the write
returns (so before a job reports success).  A node that misses a push is
marked *stale*: later pushes try it again with a short timeout, and a
background loop resynchronises it completely (config, ssconf, the live job
files) as soon as it answers.  ``gnt-cluster verify`` reports stale nodes
through :meth:`Replicator.stale_nodes`.

Job file pushes use group commit: concurrent updates travel together in
one RPC per candidate.  So do config pushes: once :meth:`Replicator.start`
ran, a config write whose ssconf changes only in
:data:`LAZY_SSCONF_KEYS` (instance add/remove) is pushed by the
``config-push`` thread, which always sends the newest config; writes that
arrive during a push go together in the next one.  Such a write returns at
once, and every job file push (so a job's success) first waits until the
candidates hold the config as it was at that moment: nothing a job
acknowledges is missing on the candidates.  Other writes wait for their
push before returning, as before.  The other nodes get such ssconf changes
from the ``ssconf-push`` thread, at most once per
:data:`LAZY_SSCONF_INTERVAL`.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from gnt.config.ssconf import compute_values
from gnt.jqueue.store import JobStore
from gnt.masterd.noderpc import NodeRpc
from gnt.noded.procs.replica import encode_config, job_digest
from gnt.objects import ConfigData, Node

log = logging.getLogger(__name__)

PUSH_TIMEOUT = 10.0  # seconds for a node in sync
STALE_TIMEOUT = 2.0  # seconds for a node known to have missed pushes
RESYNC_INTERVAL = 3.0
#: ssconf keys whose change alone reaches non-candidate nodes in the
#: background (they change with every instance add/remove); every other
#: change is pushed before the config write returns
LAZY_SSCONF_KEYS = frozenset({"instance_list"})
#: seconds between two background pushes of such changes (each goes to every
#: non-candidate node: with instances created at a high rate, one push per
#: interval carries them all; verify skips the keys still pending, see
#: :meth:`Replicator.ssconf_pending`)
LAZY_SSCONF_INTERVAL = 1.0
CONFIG_WAIT_TIMEOUT = 2 * PUSH_TIMEOUT + 10.0  # seconds a writer/job waits for a push
_OP_DONE = frozenset({"success", "error", "canceled"})  # opcode states that end it


class _ConfigPush:
    """One config push: the serial, the file's bytes, ssconf values, and
    whether the ssconf goes to every node (else to the candidates only)."""

    def __init__(self, serial: int, raw: bytes, values: dict[str, str], everyone: bool) -> None:
        self.serial, self.raw, self.values, self.everyone = serial, raw, values, everyone


class Replicator:
    """Pushes config, ssconf and job files; tracks and heals stale nodes.

    ``config`` returns the live config (the master's), ``raw_config`` its
    bytes on disk; ``store`` is the master's job store (for full resyncs).
    """

    def __init__(self, rpc: NodeRpc, config: Callable[[], ConfigData],
                 raw_config: Callable[[], bytes], store: JobStore | None = None) -> None:
        self._rpc = rpc
        self._config = config
        self._raw_config = raw_config
        self._store = store
        self._stale: set[str] = set()
        self._stale_lock = threading.Lock()
        self._cv = threading.Condition()
        self._pending: dict[int, str] = {}
        self._pending_archive: list[int] = []
        self._enqueued = 0
        self._done = 0
        self._sending = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._ssconf_cv = threading.Condition()
        self._ssconf_wanted: dict[str, str] | None = None
        self._ssconf_pushed: dict[str, str] | None = None
        self._cfg_cv = threading.Condition()
        self._cfg_wanted: _ConfigPush | None = None
        self._cfg_latest = 0  # serial of the newest config handed to config_written
        self._cfg_pushed = 0  # serial of the newest config pushed (or tried)
        self._cfg_thread: threading.Thread | None = None

    # --- which nodes ---
    def _master_uuid(self) -> str:
        return self._config().cluster.master_node

    def _online(self, data: ConfigData) -> list[Node]:
        return [n for n in data.nodes.values() if not n.offline]

    def candidates(self, data: ConfigData | None = None) -> list[Node]:
        """Online master candidates other than the master."""
        data = data or self._config()
        master = data.cluster.master_node
        return [n for n in self._online(data) if n.master_candidate and n.uuid != master]

    def stale_nodes(self) -> set[str]:
        """UUIDs of nodes that missed a push and have not been resynchronised."""
        with self._stale_lock:
            return set(self._stale)

    def forget(self, node_uuid: str) -> None:
        """Stop tracking a node (removed from the cluster or set offline)."""
        with self._stale_lock:
            self._stale.discard(node_uuid)

    def _record(self, results: dict[str, Any], what: str) -> None:
        data = self._config()
        with self._stale_lock:
            for uuid, res in results.items():
                if res.offline:
                    continue
                if res.fail_msg:
                    if uuid not in self._stale:
                        node = data.nodes.get(uuid)
                        log.warning("Node %s missed %s: %s; marked for resync",
                                    node.name if node else uuid, what, res.fail_msg)
                    self._stale.add(uuid)

    def _call(self, nodes: list[Node], proc: str,
              args: list[Any] | Callable[[Node], list[Any]]) -> dict[str, Any]:
        """Call ``proc`` on ``nodes`` in parallel (``args`` may be per node): in-sync
        ones with the normal timeout, stale ones with a short one.  Results
        are keyed by node UUID."""
        stale = self.stale_nodes()
        groups = [(g, tmo) for g, tmo in (
            ([n for n in nodes if n.uuid not in stale], PUSH_TIMEOUT),
            ([n for n in nodes if n.uuid in stale], STALE_TIMEOUT)) if g]
        results: dict[str, Any] = {}

        def run(group: list[Node], timeout: float) -> None:
            by_name = self._rpc.client.call_many(
                {n.name: n.primary_ip for n in group}, proc, timeout=timeout,
                per_node_args={n.name: args(n) if callable(args) else args for n in group})
            results.update({n.uuid: by_name[n.name] for n in group})

        threads = [threading.Thread(target=run, args=g) for g in groups[1:]]
        for t in threads:
            t.start()
        if groups:
            run(*groups[0])
        for t in threads:
            t.join()
        return results

    # --- config ---
    def config_written(self, data: ConfigData, raw: bytes) -> None:
        """Push a config write: ``config.data`` and ssconf to the candidates; ssconf
        to the other nodes too when a key other than :data:`LAZY_SSCONF_KEYS`
        changed (and wait for that), else by the background pushers (see the
        module doc: then :meth:`wait_config` or the next job file push waits)."""
        values = compute_values(data)
        with self._ssconf_cv:
            if values == self._ssconf_wanted:  # unchanged: nothing new to push
                values = self._ssconf_wanted
            last = self._ssconf_pushed
            lazy = self._thread is not None and last is not None and all(
                values.get(k) == last.get(k) for k in set(values) | set(last)
                if k not in LAZY_SSCONF_KEYS)
            self._ssconf_wanted = values
            if lazy:
                self._ssconf_cv.notify_all()
        push = _ConfigPush(data.serial_no, raw, values, everyone=not lazy)
        if self._cfg_thread is None:
            self._push_config(push)
            with self._cfg_cv:
                self._cfg_latest = self._cfg_pushed = max(self._cfg_pushed, push.serial)
            return
        with self._cfg_cv:
            if self._cfg_wanted is not None and self._cfg_wanted.everyone:
                push.everyone = True  # a pending full ssconf push is not lost
            self._cfg_wanted = push
            self._cfg_latest = max(self._cfg_latest, push.serial)
            self._cfg_cv.notify_all()
        if not lazy:
            self.wait_config(push.serial)

    def wait_config(self, serial: int | None = None) -> bool:
        """Wait until config ``serial`` (default: the newest written) was pushed;
        False if that took longer than :data:`CONFIG_WAIT_TIMEOUT`."""
        with self._cfg_cv:
            target = self._cfg_latest if serial is None else serial
            ok = self._cfg_cv.wait_for(
                lambda: self._cfg_pushed >= target or self._cfg_thread is None,
                CONFIG_WAIT_TIMEOUT)
        if not ok:
            log.error("Config serial %s not pushed within %gs", target, CONFIG_WAIT_TIMEOUT)
        return ok

    def _push_config(self, push: _ConfigPush) -> None:
        data = self._config()
        wire = encode_config(push.raw)
        master = data.cluster.master_node
        online = self._online(data)
        cands = {n.uuid for n in online if n.master_candidate and n.uuid != master}
        targets = online if push.everyone else [n for n in online if n.uuid in cands]
        results = self._call(targets, "config_replicate",
                             lambda n: [wire if n.uuid in cands else None, push.values])
        if push.everyone:
            with self._ssconf_cv:
                if self._ssconf_wanted is push.values:
                    self._ssconf_pushed = push.values
        # a stale node that accepted this push still missed earlier job files:
        # it stays stale until the resync loop has copied everything
        self._record(results, f"config serial {push.serial}")

    def _config_loop(self) -> None:
        while not self._stop.is_set():
            with self._cfg_cv:
                self._cfg_cv.wait_for(lambda: self._stop.is_set() or
                                      self._cfg_wanted is not None, 1.0)
                push, self._cfg_wanted = self._cfg_wanted, None
            if push is None:
                continue
            try:
                self._push_config(push)
            except Exception:
                log.exception("Pushing config serial %s failed", push.serial)
            with self._cfg_cv:
                self._cfg_pushed = max(self._cfg_pushed, push.serial)
                self._cfg_cv.notify_all()

    def ssconf_pending(self) -> set[str]:
        """ssconf keys whose newest value may not have reached the non-candidate
        nodes yet (their background push is under way or held back by
        :data:`LAZY_SSCONF_INTERVAL`)."""
        with self._ssconf_cv:
            wanted, pushed = self._ssconf_wanted, self._ssconf_pushed
        if wanted is None or pushed is wanted:
            return set()
        if pushed is None:
            return set(wanted)
        return {k for k in set(wanted) | set(pushed) if wanted.get(k) != pushed.get(k)}

    def _ssconf_loop(self) -> None:
        last = 0.0  # when the previous push started (monotonic)
        while not self._stop.is_set():
            with self._ssconf_cv:
                self._ssconf_cv.wait_for(
                    lambda: self._stop.is_set() or (self._ssconf_wanted is not None and
                                                    self._ssconf_pushed is not
                                                    self._ssconf_wanted), 1.0)
                # one push per interval carries every change made meanwhile
                # (instances created at a high rate)
                self._ssconf_cv.wait_for(self._stop.is_set,
                                         last + LAZY_SSCONF_INTERVAL - time.monotonic())
                values = self._ssconf_wanted
                if values is None or values is self._ssconf_pushed:
                    continue
            last = time.monotonic()
            data = self._config()
            master = data.cluster.master_node
            others = [n for n in self._online(data)
                      if not (n.master_candidate and n.uuid != master)]
            self._record(self._call(others, "config_replicate", [None, values]),
                         "an ssconf update")
            with self._ssconf_cv:
                self._ssconf_pushed = values
                self._ssconf_cv.notify_all()

    # --- job queue ---
    def job_updated(self, job_id: int, data: dict[str, Any]) -> None:
        """Push one job file (waits until the candidates have it)."""
        text = json.dumps(data, separators=(",", ":"), allow_nan=False)
        if any(isinstance(op, dict) and op.get("status") in _OP_DONE
               for op in data.get("ops") or ()):
            # an opcode's result: what it did to the config reaches the candidates first
            self.wait_config()
        self._enqueue(lambda: self._pending.__setitem__(job_id, text))

    def jobs_archived(self, job_ids: list[int]) -> None:
        """Push the archiving of ``job_ids`` (waits until the candidates did it)."""
        self._enqueue(lambda: self._pending_archive.extend(job_ids))

    def _enqueue(self, add: Callable[[], None]) -> None:
        with self._cv:
            add()
            self._enqueued += 1
            ticket = self._enqueued
            while self._done < ticket:
                if self._sending:
                    self._cv.wait()
                    continue
                self._sending = True
                batch, self._pending = self._pending, {}
                archive, self._pending_archive = self._pending_archive, []
                upto = self._enqueued
                self._cv.release()
                try:
                    self._send_jobs(batch, archive)
                finally:
                    self._cv.acquire()
                    self._sending = False
                    self._done = max(self._done, upto)
                    self._cv.notify_all()

    def _send_jobs(self, batch: dict[int, str], archive: list[int]) -> None:
        cands = self.candidates()
        if not cands:
            return
        if batch:
            items = [[job_id, text] for job_id, text in sorted(batch.items())]
            self._record(self._call(cands, "jobqueue_update", [items, max(batch)]),
                         f"{len(items)} job updates")
        if archive:
            self._record(self._call(cands, "jobqueue_archive", [sorted(archive)]),
                         f"archiving of {len(archive)} jobs")

    # --- full resync ---
    def resync(self, node_uuid: str) -> bool:
        """Bring one node fully up to date; True on success (it is no longer stale)."""
        data = self._config()
        node = data.nodes.get(node_uuid)
        if node is None or node.offline:
            self.forget(node_uuid)
            return True
        is_cand = node.master_candidate and node.uuid != data.cluster.master_node
        wire = encode_config(self._raw_config()) if is_cand else None
        res = self._rpc.call(node_uuid, "config_replicate", [wire, compute_values(data)],
                             STALE_TIMEOUT)
        if res.fail_msg:
            return False
        if is_cand and self._store is not None and not self._copy_queue(node_uuid):
            return False
        with self._stale_lock:
            self._stale.discard(node_uuid)
        log.info("Node %s resynchronised", node.name)
        return True

    def _copy_queue(self, node_uuid: str) -> bool:
        """Copy every live job file the node lacks or holds in another version
        (it tells the digests of its replicas first: after a failover the
        candidates usually hold the same queue already), holding the sender
        role so that no push of an older state can overtake the copy."""
        res = self._rpc.call(node_uuid, "jobqueue_digests", [], PUSH_TIMEOUT)
        theirs: dict[str, str] = res.data if not res.fail_msg and isinstance(res.data, dict) \
            else {}
        with self._cv:
            while self._sending:
                self._cv.wait()
            self._sending = True
        try:
            assert self._store is not None
            items = []
            for job_id in self._store.live_ids():
                try:
                    raw = self._store.live_path(job_id).read_bytes()
                except FileNotFoundError:
                    continue
                if theirs.get(str(job_id)) != job_digest(raw):
                    items.append([job_id, raw.decode()])
            res = self._rpc.call(node_uuid, "jobqueue_update",
                                 [items, self._store.read_serial() or None], PUSH_TIMEOUT)
            return not res.fail_msg
        finally:
            with self._cv:
                self._sending = False
                self._cv.notify_all()

    def mark_stale(self, node_uuid: str) -> None:
        """Ask for a full resync of a node (e.g. a newly promoted candidate)."""
        with self._stale_lock:
            self._stale.add(node_uuid)

    def start(self) -> None:
        """Start the background resync loop."""
        self._thread = threading.Thread(target=self._loop, name="resync", daemon=True)
        self._thread.start()
        self._cfg_thread = threading.Thread(target=self._config_loop, name="config-push",
                                            daemon=True)
        self._cfg_thread.start()
        threading.Thread(target=self._ssconf_loop, name="ssconf-push", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()
        with self._ssconf_cv:
            self._ssconf_cv.notify_all()
        with self._cfg_cv:
            self._cfg_thread = None  # writers no longer wait for pushes
            self._cfg_cv.notify_all()

    def _loop(self) -> None:
        while not self._stop.wait(RESYNC_INTERVAL):
            for uuid in sorted(self.stale_nodes()):
                try:
                    self.resync(uuid)
                except Exception:
                    log.exception("Resync of node %s failed", uuid)
