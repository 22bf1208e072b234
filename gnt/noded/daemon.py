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
import threading
import time

from gnt import constants, netutils, paths
from gnt.daemon import Readiness, on_terminate, run_daemon
from gnt.daemon.cli import check_options, daemon_parser
from gnt.errors import GntError
from gnt.noded import registry
from gnt.noded.join import JoinMode, check_not_member, read_token
from gnt.noded.procs import crypto as crypto_procs
from gnt.noded.server import DEFAULT_WORKERS, NodeServer

NAME = "ganeti-noded"  # Ganeti's daemon name: pid file ganeti-noded.pid
LOG_NAME = "node-daemon"  # Ganeti's log file: node-daemon.log

log = logging.getLogger(__name__)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = daemon_parser("gnt-noded", "gnt node daemon", constants.DEFAULT_NODED_PORT)
    parser.add_argument("--no-mlock", action="store_true",
                        help="accepted for compatibility; gnt-noded never locks its memory")
    parser.add_argument("--join-token-file", metavar="FILE", default=None,
                        help="start in join mode with the one-time token in FILE ('-' reads"
                        " it from stdin): the master's 'gnt-node add --join-token' then"
                        " brings this node into the cluster without SSH")
    parser.add_argument("--join-token", metavar="TOKEN", default=None,
                        help="like --join-token-file, the token given on the command line")
    parser.add_argument("--max-clients", type=int, default=DEFAULT_WORKERS,
                        help=f"procedures run at the same time (default: {DEFAULT_WORKERS})")
    opts = parser.parse_args(argv)
    check_options(parser, opts)
    return opts


def _serve_join_mode(token: str, address: str, opts: argparse.Namespace,
                     readiness: Readiness) -> bool:
    """Serve the join procedures until joined (True) or stopped/given up (False)."""
    mode = JoinMode(token)
    server = NodeServer(address, opts.port, ssl_context=mode.ssl_context(),
                        lookup=mode.lookup, workers=4)
    server.prepare()
    stopped = threading.Event()

    def stop(_sig: int) -> None:
        stopped.set()
        server.stop()

    def watch() -> None:
        while not stopped.is_set():
            if mode.joined.wait(0.2) or mode.gave_up.is_set():
                time.sleep(0.2)  # let the reply reach the master
                server.stop()
                return

    on_terminate(stop)
    threading.Thread(target=watch, name="join-watch", daemon=True).start()
    log.info("Join mode: waiting for the master (certificate sha256 %s)", mode.fingerprint)
    server.serve(on_ready=readiness.ready)
    return mode.joined.is_set() and not stopped.is_set()


def serve(opts: argparse.Namespace, readiness: Readiness) -> None:
    """Load the procedures, bind, and serve until SIGTERM/SIGINT.

    With a join token, first serve the join mode (:mod:`gnt.noded.join`)
    and switch to the normal mode once joined.
    """
    loaded = registry.load_procedures()
    log.debug("Procedure modules: %s", ", ".join(loaded))
    address = opts.bind or netutils.my_host().ip
    if opts.join_token is not None and not _serve_join_mode(opts.join_token, address, opts,
                                                            readiness):
        return
    server = NodeServer(address, opts.port, cert_file=paths.get().noded_cert_file,
                        workers=opts.max_clients)
    server.prepare()
    if server.tls is not None:
        crypto_procs.reload_hook = server.tls.reload
    on_terminate(lambda _sig: server.stop())
    server.serve(on_ready=None if readiness.reported else readiness.ready)


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv)
    try:
        if opts.join_token_file:  # read before detaching: the token may come on stdin
            opts.join_token = read_token(opts.join_token_file)
        if opts.join_token is not None:
            check_not_member()
    except GntError as err:
        print(f"gnt-noded: {err}", file=sys.stderr)
        return 1
    return run_daemon(NAME, LOG_NAME, lambda readiness: serve(opts, readiness),
                      foreground=opts.foreground, debug=opts.debug)


if __name__ == "__main__":
    sys.exit(main())
