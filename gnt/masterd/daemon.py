"""``gnt-masterd``: the master daemon.

Owns the config (the only writer), the lock manager, the job queue and its
executor threads, and serves LUXI on a unix socket.  Refuses to start on a
node that is not the master according to the config.
"""

from __future__ import annotations

import argparse
import logging
import threading

from gnt import errors, netutils, paths
from gnt.cmdlib.processor import Processor
from gnt.config import ConfigWriter, load_config_file
from gnt.config.ssconf import compute_values
from gnt.daemon.detach import Readiness
from gnt.daemon.runner import run_daemon
from gnt.daemon.signals import on_terminate
from gnt.jqueue import JobQueue
from gnt.locking import LockManager
from gnt.luxi.server import LuxiServer, make_dispatcher
from gnt.masterd import luxi_methods
from gnt.masterd.context import MasterContext
from gnt.masterd.noderpc import NodeRpc
from gnt.objects import ConfigData

DAEMON_NAME = "ganeti-masterd"
LOG_NAME = "master-daemon"

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


def build_context() -> MasterContext:
    """Create config writer, RPC, lock manager, processor and job queue."""
    holder: dict[str, MasterContext] = {}

    def on_write(data: ConfigData, _raw: bytes) -> None:
        ctx = holder.get("ctx")
        if ctx is None:
            return
        online = [n.uuid for n in data.nodes.values() if not n.offline]
        for uuid, res in ctx.rpc.write_ssconf_files(online, compute_values(data)).items():
            if res.fail_msg:
                log.warning("Could not push ssconf to node %s: %s",
                            data.nodes[uuid].name, res.fail_msg)

    cfg = ConfigWriter(on_write=on_write)
    data = cfg.data
    glm = LockManager(instances=[i.name for i in data.instances.values()],
                      nodegroups=list(data.nodegroups), nodes=list(data.nodes))
    ctx = MasterContext(cfg=cfg, rpc=NodeRpc(cfg), glm=glm)
    holder["ctx"] = ctx
    ctx.queue = JobQueue(Processor(ctx), max_running=cfg.data.cluster.max_running_jobs)
    return ctx


def serve(readiness: Readiness) -> None:
    check_master()
    ctx = build_context()
    stop = threading.Event()
    on_terminate(lambda _sig: stop.set())
    server = LuxiServer(paths.get().luxi_socket, make_dispatcher(luxi_methods.methods(ctx)))
    server.start()
    try:
        # push ssconf once at start-up so every node agrees with this master
        online = [n.uuid for n in ctx.cfg.data.nodes.values() if not n.offline]
        ctx.rpc.write_ssconf_files(online, compute_values(ctx.cfg.data))
        readiness.ready()
        log.info("Master daemon serving on %s", paths.get().luxi_socket)
        stop.wait()
    finally:
        log.info("Shutting down")
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
    opts = parser.parse_args(argv)
    return run_daemon(DAEMON_NAME, LOG_NAME, serve, foreground=opts.foreground,
                      debug=opts.debug)


if __name__ == "__main__":
    raise SystemExit(main())
