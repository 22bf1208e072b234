"""Command-line options every gnt daemon shares (Ganeti's daemon options)."""

from __future__ import annotations

import argparse


def daemon_parser(prog: str, description: str, port: int | None = None
                  ) -> argparse.ArgumentParser:
    """A parser with ``-f/--foreground`` and ``-d/--debug``; for a network
    daemon (``port`` given, its default) also ``-b/--bind`` and ``-p/--port``."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("-f", "--foreground", action="store_true",
                        help="do not detach; log to stderr too")
    parser.add_argument("-d", "--debug", action="store_true", help="log debug messages")
    if port is not None:
        parser.add_argument("-b", "--bind", metavar="ADDRESS", default=None,
                            help="address to listen on (default: this node's primary IP)")
        parser.add_argument("-p", "--port", type=int, default=port,
                            help=f"TCP port (default: {port})")
    return parser


def check_options(parser: argparse.ArgumentParser, opts: argparse.Namespace) -> None:
    """Exit with a usage error for a port outside 1-65535 or ``--max-clients`` below 1."""
    port = getattr(opts, "port", None)
    if port is not None and not 0 < port < 65536:
        parser.error(f"invalid port {port}: must be 1-65535")
    max_clients = getattr(opts, "max_clients", None)
    if max_clients is not None and max_clients < 1:
        parser.error("--max-clients must be at least 1")
