"""``gnt-masterd``: the master daemon.

Owns the config (the only writer), the lock manager, the job queue and its
executor threads, and serves LUXI on a unix socket.  Refuses to start on a
node that is not the master according to the config, unless started with
``--failover`` (by ``gnt-cluster master-failover``): then it takes the
master role over first (:mod:`gnt.masterd.takeover`).
"""

from __future__ import annotations

import argparse
import logging
import threading
from collections.abc import Callable

from gnt import daemon_util, errors, netutils, paths
from gnt.cmdlib.processor import Processor
from gnt.config import ConfigWriter, load_config_file
from gnt.daemon.detach import Readiness
from gnt.daemon.runner import run_daemon
from gnt.daemon.signals import on_terminate
from gnt.jqueue import JobQueue
from gnt.jqueue.store import JobStore
from gnt.locking import LockManager
from gnt.luxi.server import LuxiServer, make_dispatcher
from gnt.masterd import luxi_methods, voting
from gnt.masterd.context import MasterContext
from gnt.masterd.noderpc import NodeRpc
from gnt.masterd.replication import Replicator
from gnt.masterd.takeover import Report, Takeover, take_over
from gnt.objects import ConfigData
from gnt.rpc.client import RpcClient

DAEMON_NAME = "ganeti-masterd"
LOG_NAME = "master-daemon"
VOTE_CHECK_INTERVAL = 15.0  # seconds between checks that the nodes still agree

log = logging.getLogger(__name__)


def check_master() -> ConfigData:
    """Load the config and check this node is its master; raises GntError if not."""
    data = load_config_file()
    me = netutils.my_hostname()
    master = data.nodes.get(data.cluster.master_node)
    if master is None or master.name != me:
        raise errors.OpPrereqError(
            f"This node ({me}) is not the master node "
            f"({master.name if master else 'unknown'}); not starting",
            errors.ECODE_STATE)
    return data


def check_votes(data: ConfigData, client: RpcClient) -> None:
    """Refuse to act as master unless the answering nodes agree (Ganeti's voting)."""
    me = netutils.my_hostname()
    votes = voting.gather(client, data, exclude=me)
    if not voting.others_agree(votes, me):
        winner, count = votes.winner()
        raise errors.OpPrereqError(
            f"Stepping down: {count} of {votes.answered} answering nodes name {winner} as"
            f" the master, not this node ({me}); use --no-voting --yes-do-it to override",
            errors.ECODE_STATE)


def build_context(client: RpcClient | None = None, data: ConfigData | None = None,
                  before_queue: Callable[[MasterContext], None] | None = None
                  ) -> MasterContext:
    """Create config writer, RPC, replication, lock manager, processor and job queue.

    ``client``: the node RPC client to use (default: a new one); ``data``:
    the config as just loaded or written (default: loaded from disk);
    ``before_queue(ctx)`` runs once replication is set up, before the job
    queue loads (and starts the queued jobs).
    """
    holder: dict[str, Replicator] = {}

    def on_write(data: ConfigData, raw: bytes) -> None:
        replicator = holder.get("r")
        if replicator is not None:
            replicator.config_written(data, raw)

    cfg = ConfigWriter(on_write=on_write, data=data)
    data = cfg.data
    rpc = NodeRpc(cfg, client)
    replicator = Replicator(rpc, lambda: cfg.data,
                            lambda: paths.get().cluster_conf_file.read_bytes(),
                            JobStore.from_paths())
    holder["r"] = replicator
    glm = LockManager(instances=[i.name for i in data.instances.values()],
                      nodegroups=list(data.nodegroups), nodes=list(data.nodes))
    ctx = MasterContext(cfg=cfg, rpc=rpc, glm=glm)
    ctx.extra["replicator"] = replicator
    if before_queue is not None:
        before_queue(ctx)
    ctx.queue = JobQueue(Processor(ctx), max_running=cfg.data.cluster.max_running_jobs,
                         on_job_update=replicator.job_updated,
                         on_jobs_archived=replicator.jobs_archived)
    return ctx


def _step_down_rapi() -> None:
    """Stop this node's RAPI daemon: it belongs to the master role this node lost."""
    try:
        daemon_util.stop(daemon_util.RAPI, timeout=10)
    except errors.GntError as err:
        log.error("Could not stop the RAPI daemon while stepping down: %s", err)


def _watch_votes(ctx: MasterContext, stop: threading.Event) -> None:
    """Step down (stop the daemon and RAPI) when a majority of nodes names another master."""
    while not stop.wait(VOTE_CHECK_INTERVAL):
        try:
            check_votes(ctx.cfg.data, ctx.rpc.client)
        except errors.OpPrereqError as err:
            log.error("%s", err)
            _step_down_rapi()
            stop.set()
        except Exception:
            log.exception("Master vote check failed")


def _push_on_start(ctx: MasterContext) -> None:
    """Every node gets this master's ssconf, the candidates its config (pushed
    with the short timeout of stale nodes, so nodes that are down do not
    delay the start); all are then resynchronised in the background (the
    candidates get this master's job queue)."""
    replicator: Replicator = ctx.extra["replicator"]
    data = ctx.cfg.data
    for node in data.nodes.values():
        if not node.offline and node.uuid != data.cluster.master_node:
            replicator.mark_stale(node.uuid)
    replicator.config_written(data, paths.get().cluster_conf_file.read_bytes())


def _push_after_takeover(ctx: MasterContext, took: Takeover, report: Report) -> None:
    """The failover's push: the new config to the candidates and ssconf to every
    node, the nodes that answered the vote with the normal timeout; then the
    command may start RAPI (``master`` event).  The candidates get this
    master's job queue by the background resync."""
    replicator: Replicator = ctx.extra["replicator"]
    data = ctx.cfg.data
    for uuid in took.unreachable:
        replicator.mark_stale(uuid)
    replicator.config_written(data, took.raw)
    stale = replicator.stale_nodes()  # did not answer the vote or this push
    if stale:
        report.feedback("Warning: could not update node(s) "
                        f"{', '.join(sorted(data.nodes[u].name for u in stale))};"
                        " they will be updated when they answer again")
    report.send(master=took.old_master)
    for node in replicator.candidates(data):
        replicator.mark_stale(node.uuid)


def serve(readiness: Readiness, voting_enabled: bool = True, failover: bool = False,
          report: Report | None = None) -> None:
    """Serve as the master; with ``failover``, take the master role over first
    (:func:`gnt.masterd.takeover.take_over`, its vote replacing the start-up
    vote), telling ``report`` how it goes."""
    report = report or Report()
    # httpx logs every request at INFO: one line (and a global handler lock) per
    # node RPC; the master's own messages say what matters, failures included
    logging.getLogger("httpx").setLevel(logging.WARNING)
    client = RpcClient()
    took: Takeover | None = None
    if failover:
        try:
            took = take_over(client, no_voting=not voting_enabled, feedback=report.feedback)
        except errors.GntError as err:
            report.send(error=err.encode())
            report.close()
            raise
        data = took.data
    else:
        data = check_master()
        if voting_enabled:
            check_votes(data, client)

    def push(ctx: MasterContext) -> None:
        if took is None:
            _push_on_start(ctx)
        else:
            _push_after_takeover(ctx, took, report)
            report.close()

    ctx = build_context(client, data, before_queue=push)
    replicator: Replicator = ctx.extra["replicator"]
    stop = threading.Event()
    on_terminate(lambda _sig: stop.set())
    server = LuxiServer(paths.get().luxi_socket, make_dispatcher(luxi_methods.methods(ctx)))
    server.start()
    try:
        replicator.start()
        if voting_enabled:
            threading.Thread(target=_watch_votes, args=(ctx, stop), name="vote-watch",
                             daemon=True).start()
        readiness.ready()
        log.info("Master daemon serving on %s", paths.get().luxi_socket)
        stop.wait()
    finally:
        log.info("Shutting down")
        replicator.stop()
        server.shutdown()
        ctx.queue.shutdown(timeout=10)
        ctx.rpc.client.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gnt-masterd", description="gnt master daemon")
    parser.add_argument("-f", "--foreground", action="store_true",
                        help="Don't detach from the current terminal")
    parser.add_argument("-d", "--debug", action="store_true", help="Enable debug messages")
    parser.add_argument("--no-voting", action="store_true",
                        help="Do not check that the nodes agree on this node being the master")
    parser.add_argument("--yes-do-it", action="store_true",
                        help="Override interactive check for --no-voting")
    parser.add_argument("--failover", action="store_true",
                        help="Take the master role over from the current master first"
                        " (what gnt-cluster master-failover runs)")
    parser.add_argument("--report-fd", type=int, default=None, metavar="FD",
                        help="With --failover: file descriptor of the pipe that gets the"
                        " takeover's progress (JSON lines)")
    opts = parser.parse_args(argv)
    if opts.no_voting and not opts.yes_do_it:
        parser.error("--no-voting is dangerous (two masters may act at once); add"
                     " --yes-do-it if you are sure")
    report = Report(opts.report_fd if opts.failover else None)
    return run_daemon(DAEMON_NAME, LOG_NAME,
                      lambda readiness: serve(readiness, voting_enabled=not opts.no_voting,
                                              failover=opts.failover, report=report),
                      foreground=opts.foreground, debug=opts.debug)


if __name__ == "__main__":
    raise SystemExit(main())
