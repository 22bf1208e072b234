"""Taking over the master role: the daemon side of ``gnt-cluster master-failover``.

``gnt-cluster master-failover`` (:mod:`gnt.masterfailover`) starts this
node's master daemon with ``--failover``; the daemon, holding its pid file,
runs :func:`take_over` before it serves, so the vote, the config load, the
TLS connections to the nodes and the config push are done once, in the
process that then serves (no second vote, load and push by a master daemon
started afterwards).  Steps, as Ganeti's:

1. this node must be a master candidate with a config replica, not the master;
2. voting (unless ``no_voting``): the answering nodes must agree, in
   majority, that the old master named in this node's config is the master
   (otherwise this node's config is not current);
3. the freshest config among the answering candidates is used (highest
   ``serial_no``);
4. the old master is asked to stop its master daemon (best effort: a dead
   one cannot answer, one that did not answer the vote is not asked; when
   it comes back it loses the vote and steps down);
5. the config naming this node as master is written here.

The daemon then pushes it (config to the candidates, ssconf to every node)
before it serves; see :func:`gnt.masterd.daemon.serve`.  What the takeover
has to tell the command (warnings, the moment ssconf names this node, the
error that stopped it) travels as JSON lines over the report pipe
(:class:`Report`).
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gnt import errors, netutils
from gnt.config import load_config_file, write_config_file
from gnt.masterd import voting
from gnt.noded.procs.replica import decode_config
from gnt.objects import ConfigData
from gnt.rpc.client import RpcClient

log = logging.getLogger(__name__)

Feedback = Callable[[str], None]

#: seconds the old master gets to stop its master daemon
STEP_DOWN_TIMEOUT = 40


class Report:
    """The daemon's end of the report pipe (``--report-fd``): one JSON object
    per line, ``{"feedback": text}``, ``{"master": old_master}`` (this
    node's config and the nodes' ssconf name it as master) or ``{"error":
    encoded GntError}``.  Without a pipe, feedback only goes to the log."""

    def __init__(self, fd: int | None = None) -> None:
        self._fd = fd

    def send(self, **event: Any) -> None:
        if self._fd is None:
            return
        try:
            os.write(self._fd, json.dumps(event).encode() + b"\n")
        except OSError:  # the command went away; the log has it all
            self.close()

    def feedback(self, msg: str) -> None:
        log.info("Failover: %s", msg)
        self.send(feedback=msg)

    def close(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass


@dataclass
class Takeover:
    """What :func:`take_over` did: the config written (``data``, its bytes
    ``raw``), the old master's name and the UUIDs of the nodes that did
    not answer the vote (pushed to with the short timeout of stale nodes)."""

    data: ConfigData
    raw: bytes
    old_master: str
    unreachable: set[str] = field(default_factory=set)


def _freshest(client: RpcClient, data: ConfigData, votes: voting.Votes,
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


def check_candidate(data: ConfigData, me: str) -> None:
    """Raise :class:`errors.OpPrereqError` unless ``me`` may take over:
    a member, not the master, a master candidate."""
    node = data.node_by_name(me)
    if node is None:
        raise errors.OpPrereqError(f"This node ({me}) is not part of the cluster",
                                   errors.ECODE_STATE)
    old = data.nodes.get(data.cluster.master_node)
    if old is not None and old.uuid == node.uuid:
        raise errors.OpPrereqError(f"This node ({me}) is already the master",
                                   errors.ECODE_STATE)
    if not node.master_candidate:
        raise errors.OpPrereqError(
            f"This node ({me}) is not a master candidate; only master candidates can become"
            " master (promote it with 'gnt-node modify -C yes')", errors.ECODE_STATE)


def take_over(client: RpcClient, no_voting: bool, feedback: Feedback) -> Takeover:
    """Steps 1-5 of the module doc; returns what was written.

    Raises :class:`errors.OpPrereqError` when this node cannot or may not
    take over (not a candidate, already master, the vote disagrees).
    """
    data = load_config_file()
    me = netutils.my_hostname()
    check_candidate(data, me)
    old = data.nodes.get(data.cluster.master_node)
    old_name = old.name if old else "(unknown)"
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
    data = _freshest(client, data, votes, feedback)
    node = data.node_by_name(me)
    assert node is not None
    old = data.nodes.get(data.cluster.master_node)
    if old is not None and old.uuid != node.uuid:
        old_name = old.name
        if old.name in votes.unreachable:
            feedback(f"Warning: could not stop the master daemon on {old.name} (it did not"
                     " answer the vote); it will step down once it sees the vote")
        else:
            res = client.call(old.primary_ip, "master_step_down", [me],
                              timeout=STEP_DOWN_TIMEOUT, node_name=old.name,
                              offline=old.offline)
            if res.fail_msg:
                feedback(f"Warning: could not stop the master daemon on {old.name}"
                         f" ({res.fail_msg}); it will step down once it sees the vote")
    data.cluster.master_node = node.uuid
    node.master_candidate = True
    data.serial_no += 1
    data.mtime = data.cluster.mtime = time.time()
    raw = write_config_file(data)
    unreachable = {n.uuid for n in data.nodes.values() if n.name in votes.unreachable}
    return Takeover(data, raw, old_name, unreachable)
