"""``gnt-noded``: the node daemon command.

Usage: ``gnt-noded [-f] [-d] [-b ADDRESS] [-p PORT] [--no-mlock]``.
Serves HTTPS on this node's address (``GNT_HOSTNAME`` resolved through
``<GNT_ROOT>/etc/hosts``) and port 1811, with the cluster certificate
``<data_dir>/server.pem``.  Detaches unless ``-f`` and returns once it
serves (exit 0) or with the start-up error (exit 1).  Pid file
``<run_dir>/ganeti-noded.pid``, log ``<log_dir>/node-daemon.log``; SIGTERM
or SIGINT stop it cleanly.
"""

from __future__ import annotations

import argparse
import logging
import sys

from gnt import constants, netutils, paths
from gnt.daemon import Readiness, on_terminate, run_daemon
from gnt.noded import registry
from gnt.noded.server import DEFAULT_WORKERS, NodeServer

NAME = "ganeti-noded"  # Ganeti's daemon name: pid file ganeti-noded.pid
LOG_NAME = "node-daemon"  # Ganeti's log file: node-daemon.log

log = logging.getLogger(__name__)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="gnt-noded", description="gnt node daemon")
    parser.add_argument("-f", "--foreground", action="store_true",
                        help="do not detach; log to stderr too")
    parser.add_argument("-d", "--debug", action="store_true", help="log debug messages")
    parser.add_argument("-b", "--bind", metavar="ADDRESS", default=None,
                        help="address to listen on (default: this node's primary IP)")
    parser.add_argument("-p", "--port", type=int, default=constants.DEFAULT_NODED_PORT,
                        help=f"TCP port (default: {constants.DEFAULT_NODED_PORT})")
    parser.add_argument("--no-mlock", action="store_true",
                        help="accepted for compatibility; gnt-noded never locks its memory")
    parser.add_argument("--max-clients", type=int, default=DEFAULT_WORKERS,
                        help=f"procedures run at the same time (default: {DEFAULT_WORKERS})")
    opts = parser.parse_args(argv)
    if not 0 < opts.port < 65536:
        parser.error(f"invalid port {opts.port}: must be 1-65535")
    if opts.max_clients < 1:
        parser.error("--max-clients must be at least 1")
    return opts


def serve(opts: argparse.Namespace, readiness: Readiness) -> None:
    """Load the procedures, bind, and serve until SIGTERM/SIGINT."""
    loaded = registry.load_procedures()
    log.debug("Procedure modules: %s", ", ".join(loaded))
    address = opts.bind or netutils.my_host().ip
    server = NodeServer(address, opts.port, cert_file=paths.get().noded_cert_file,
                        workers=opts.max_clients)
    server.prepare()
    on_terminate(lambda _sig: server.stop())
    server.serve(on_ready=readiness.ready)


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv)
    return run_daemon(NAME, LOG_NAME, lambda readiness: serve(opts, readiness),
                      foreground=opts.foreground, debug=opts.debug)


if __name__ == "__main__":
    sys.exit(main())
