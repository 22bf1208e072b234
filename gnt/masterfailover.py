"""``gnt-cluster master-failover``: make this master candidate the master.

Runs on the candidate itself, without a master daemon (the old one may be
dead).  Steps, as Ganeti's:

1. this node must be a master candidate with a config replica;
2. voting (unless ``no_voting``): the answering nodes must agree, in
   majority, that the old master named in this node's config is the master
   (otherwise this node's config is not current);
3. the freshest config among the answering candidates is used (highest
   ``serial_no``);
4. the old master is asked to stop its master daemon (best effort: a dead
   one cannot answer; when it comes back it loses the vote and steps down);
5. the config naming this node as master is written here, pushed to the
   candidates and ssconf to every node;
6. this node's master daemon starts on the replicated job queue: queued
   jobs run, jobs that were running fail with "Unclean master daemon
   shutdown"; then its RAPI daemon (the old master's stops once its ssconf
   names the new master, see :mod:`gnt.rapi.daemon`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from gnt import daemon_util, errors, netutils, paths
from gnt.config import ConfigWriter, load_config_file, write_config_file
from gnt.masterd import voting
from gnt.masterd.noderpc import NodeRpc
from gnt.masterd.replication import Replicator
from gnt.noded.procs.replica import decode_config
from gnt.objects import ConfigData
from gnt.rpc.client import RpcClient

log = logging.getLogger(__name__)

Feedback = Callable[[str], None]


def _freshest(client: RpcClient, data: ConfigData, votes: voting.Votes, me: str,
              feedback: Feedback) -> ConfigData:
    best_name, best_serial = None, data.serial_no
    for name, serial in votes.serials.items():
        node = data.node_by_name(name)
        if node is not None and node.master_candidate and serial is not None \
                and serial > best_serial:
            best_name, best_serial = name, serial
    if best_name is None:
        return data
    node = data.node_by_name(best_name)
    assert node is not None
    res = client.call(node.primary_ip, "config_fetch", [], timeout=30, node_name=best_name)
    if res.fail_msg or not res.data:
        feedback(f"Warning: {best_name} has a newer config (serial {best_serial}) but it could"
                 f" not be fetched: {res.fail_msg}; using this node's (serial"
                 f" {data.serial_no})")
        return data
    feedback(f"Using the newer config of {best_name} (serial {best_serial}, this node had"
             f" {data.serial_no})")
    return ConfigData.model_validate_json(decode_config(res.data))


def master_failover(no_voting: bool = False, feedback: Feedback = print) -> str:
    """Make this node the master; returns the old master's name.

    Raises :class:`errors.OpPrereqError` when this node cannot or may not
    take over (not a candidate, already master, the vote disagrees).
    """
    p = paths.get()
    data = load_config_file()
    me = netutils.my_hostname()
    node = data.node_by_name(me)
    if node is None:
        raise errors.OpPrereqError(f"This node ({me}) is not part of the cluster",
                                   errors.ECODE_STATE)
    old = data.nodes.get(data.cluster.master_node)
    old_name = old.name if old else "(unknown)"
    if old is not None and old.uuid == node.uuid:
        raise errors.OpPrereqError(f"This node ({me}) is already the master",
                                   errors.ECODE_STATE)
    if not node.master_candidate:
        raise errors.OpPrereqError(
            f"This node ({me}) is not a master candidate; only master candidates can become"
            " master (promote it with 'gnt-node modify -C yes')", errors.ECODE_STATE)
    with RpcClient() as client:
        votes = voting.gather(client, data, exclude=me)
        if not no_voting:
            winner, _ = votes.winner()
            if votes.answered == 0:
                raise errors.OpPrereqError(
                    "No other node answered the vote; cannot check that this node's config"
                    " is current. Use --no-voting (with --yes-do-it) if you are sure",
                    errors.ECODE_ENVIRON)
            if winner != old_name:
                raise errors.OpPrereqError(
                    f"I have a wrong configuration, I believe the master is {old_name} but the"
                    f" other nodes voted {winner}. Please resync the configuration of this"
                    " node.", errors.ECODE_STATE)
        data = _freshest(client, data, votes, me, feedback)
        node = data.node_by_name(me)
        assert node is not None
        old = data.nodes.get(data.cluster.master_node)
        if old is not None and old.uuid != node.uuid:
            old_name = old.name
            res = client.call(old.primary_ip, "master_step_down", [me], timeout=40,
                              node_name=old.name, offline=old.offline)
            if res.fail_msg:
                feedback(f"Warning: could not stop the master daemon on {old.name}"
                         f" ({res.fail_msg}); it will step down once it sees the vote")
        data.cluster.master_node = node.uuid
        node.master_candidate = True
        data.serial_no += 1
        data.mtime = data.cluster.mtime = time.time()
        raw = write_config_file(data)
        cfg = ConfigWriter()
        rpc = NodeRpc(cfg, client)
        replicator = Replicator(rpc, lambda: cfg.data, lambda: raw)
        replicator.config_written(cfg.data, raw)
        stale = replicator.stale_nodes()
        if stale:
            feedback("Warning: could not update node(s) "
                     f"{', '.join(sorted(cfg.data.nodes[u].name for u in stale))};"
                     " they will be updated when they return")
    extra = ["--no-voting", "--yes-do-it"] if no_voting else []
    # RAPI only needs ssconf naming this node (pushed above): it starts while the
    # master daemon does, so the failover waits for the slower one, not for both
    rapi: dict[str, BaseException] = {}

    def start_rapi() -> None:
        try:
            daemon_util.start(daemon_util.RAPI)
        except BaseException as err:  # noqa: BLE001 - reported below
            rapi["error"] = err

    rapi_thread = threading.Thread(target=start_rapi, name="start-rapi")
    rapi_thread.start()
    try:
        daemon_util.start(daemon_util.MASTERD, extra)
    finally:
        rapi_thread.join()
    err = rapi.get("error")
    if isinstance(err, errors.GntError):  # the master role moved; RAPI can be started later
        feedback(f"Warning: could not start the RAPI daemon: {err}")
    elif err is not None:
        raise err
    log.info("Master failover from %s to %s done (root %s)", old_name, me, p.root)
    return old_name
