"""The command-table framework of the ``gnt-*`` tools (Ganeti's ``GenericMain``).

A tool is a dict of subcommand name -> :class:`Command`; :func:`run` parses
``argv``, calls the command function ``func(opts, args) -> exit code`` and
turns errors into Ganeti's messages and exit codes::

    COMMANDS = {
        "startup": Command(startup, ARGS_MANY_INSTANCES, [FORCE_OPT, *JOB_OPTS],
                           "<instance>...", "Starts an instance", aliases=("start",)),
    }

    def main() -> int:
        return run("gnt-instance", COMMANDS)

Behaviour (as Ganeti): no subcommand or an unknown one prints the command
list on stdout and exits 1; ``--help`` prints it and exits 0; ``--version``
prints the version; ``<cmd> --help`` shows the subcommand's options; bad
option values exit 2 with argparse's message naming the option; a wrong
number of arguments prints ``Error: Command <cmd> expects ...`` and exits 1;
every subcommand accepts ``-d/--debug`` and ``--reason``.  Errors raised by
the command print :func:`gnt.cli.errfmt.format_error`'s message on stderr;
``--submit`` ends with ``JobID: <id>`` on stderr, exit 0; Ctrl-C prints
Ganeti's "Aborted..." note and exits 1.
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import sys
import textwrap
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple, NoReturn

from gnt import constants as C
from gnt import errors, paths
from gnt.cli.errfmt import EXIT_FAILURE, EXIT_SUCCESS, format_error
from gnt.cli.jobs import JobSubmitted
from gnt.cli.lazy import CommandTable
from gnt.cli.options import COMMON_OPTS, Option
from gnt.cli.output import OutputClosed, to_stderr, to_stdout
from gnt.luxi.client import Client

logger = logging.getLogger(__name__)

CommandFn = Callable[[argparse.Namespace, list[str]], "int | None"]

ABORTED_MESSAGE = ("Aborted. Note that if the operation created any jobs, they might have"
                   " been submitted and will continue to run in the background.")


# ---------------------------------------------------------------------------
# argument definitions


class Arg(NamedTuple):
    """Positional arguments of one kind: between ``min`` and ``max`` (None:
    unlimited) of them.  ``kind`` names them (instance, node, job id, ...)."""

    kind: str = "argument"
    min: int = 0
    max: int | None = None


ARGS_NONE: list[Arg] = []
ARGS_ANY = [Arg("argument")]
ARGS_ONE = [Arg("argument", 1, 1)]
ARGS_MANY_INSTANCES = [Arg("instance")]
ARGS_ONE_INSTANCE = [Arg("instance", 1, 1)]
ARGS_MANY_NODES = [Arg("node")]
ARGS_ONE_NODE = [Arg("node", 1, 1)]
ARGS_MANY_GROUPS = [Arg("group")]
ARGS_ONE_GROUP = [Arg("group", 1, 1)]
ARGS_ONE_OS = [Arg("os", 1, 1)]
ARGS_MANY_JOBS = [Arg("job id")]
ARGS_ONE_JOB = [Arg("job id", 1, 1)]


def args_fixed(n: int, kind: str = "argument") -> list[Arg]:
    """Exactly ``n`` arguments."""
    return [Arg(kind, n, n)]


def args_at_least(n: int, kind: str = "argument") -> list[Arg]:
    """``n`` or more arguments."""
    return [Arg(kind, n, None)]


class Command(NamedTuple):
    """One subcommand.

    ``func(opts, args)`` returns the exit code (``None`` means 0); ``args``
    bounds the positional arguments; ``options`` are :class:`Option` objects
    (``-d``/``--reason`` are always added); ``usage`` is the argument
    synopsis shown in help; ``help`` the one-line description.  With
    ``interspersed=False`` option parsing stops at the first argument (for
    commands whose arguments are a command line, e.g. ``gnt-cluster command``).
    """

    func: CommandFn
    args: Sequence[Arg] = ()
    options: Sequence[Option] = ()
    usage: str = ""
    help: str = ""
    aliases: tuple[str, ...] = ()
    interspersed: bool = True


def check_arguments(cmd: str, args_def: Sequence[Arg], args: Sequence[str]) -> bool:
    """Check the argument count; print Ganeti's error on stderr if wrong."""
    if args and not args_def:
        to_stderr("Error: Command %s expects no arguments", cmd)
        return False
    min_count = sum(a.min for a in args_def)
    unlimited = any(a.max is None for a in args_def)
    max_count = None if unlimited else sum(a.max or 0 for a in args_def)
    if max_count is not None:
        if min_count == max_count and len(args) != min_count:
            to_stderr("Error: Command %s expects %d argument(s)", cmd, min_count)
            return False
        if len(args) > max_count:
            to_stderr("Error: Command %s expects only %d argument(s)", cmd, max_count)
            return False
    if len(args) < min_count:
        to_stderr("Error: Command %s expects at least %d argument(s)", cmd, min_count)
        return False
    return True


# ---------------------------------------------------------------------------
# parsing


class _ParserExit(Exception):
    def __init__(self, status: int, message: str | None) -> None:
        super().__init__(status, message)
        self.status = status
        self.message = message


class _Parser(argparse.ArgumentParser):
    """argparse that reports instead of calling ``sys.exit``."""

    def error(self, message: str) -> NoReturn:
        raise _ParserExit(2, f"{self.format_usage()}{self.prog}: error: {message}\n")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        raise _ParserExit(status, message)


def format_usage(binary: str, commands: Mapping[str, Command]) -> list[str]:
    """The tool's command list (shown for no/unknown subcommand and --help)."""
    mlen = min(60, max((len(c) for c in commands), default=0))
    lines = [f"Usage: {binary} {{command}} [options...] [argument...]",
             f"{binary} <command> --help to see details, or man {binary}", "", "Commands:"]
    for name in sorted(commands):
        help_lines = textwrap.wrap(commands[name].help, max(20, 79 - 3 - mlen)) or [""]
        lines.append(f" {name:<{mlen}} - {help_lines.pop(0)}")
        lines.extend(f" {'':<{mlen}}   {line}" for line in help_lines)
    lines.append("")
    return lines


def _build_parser(binary: str, name: str, command: Command) -> _Parser:
    usage = command.usage.replace("%", "%%")
    parser = _Parser(prog=f"{binary} {name}", usage=f"%(prog)s {usage}".rstrip(),
                     description=command.help or None, allow_abbrev=False)
    seen: set[tuple[str, ...]] = set()
    taken: set[str] = set()
    for opt in [*command.options, *COMMON_OPTS]:
        if opt.flags in seen:
            continue
        if taken & set(opt.flags):
            raise errors.ProgrammerError(
                f"{binary} {name}: option {'/'.join(opt.flags)} defined twice")
        seen.add(opt.flags)
        taken |= set(opt.flags)
        opt.add_to(parser)
    if command.interspersed:
        parser.add_argument("args", nargs="*", help=argparse.SUPPRESS)
    else:
        parser.add_argument("args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    return parser


def _value_flags(parser: argparse.ArgumentParser) -> set[str]:
    """Option strings that take exactly one value."""
    out: set[str] = set()
    for action in parser._actions:  # argparse has no public accessor
        if action.option_strings and action.nargs is None and not isinstance(
                action, (argparse._StoreConstAction, argparse._CountAction,
                         argparse._HelpAction, argparse._VersionAction)):
            out.update(action.option_strings)
    return out


def _attach_dash_values(parser: argparse.ArgumentParser, argv: list[str],
                        interspersed: bool) -> list[str]:
    """Let option values start with ``-`` (``-B -memory``, ``-H kvm:-acpi``) as
    optparse did: glue them to their flag (``-B-memory``, ``--x=-v``)."""
    flags = _value_flags(parser)
    out: list[str] = []
    i = 0
    while i < len(argv):
        tok = argv[i]
        if tok == "--":
            out.extend(argv[i:])
            break
        if tok in flags and i + 1 < len(argv):
            value = argv[i + 1]
            if value.startswith("-") and value != "--" and value not in flags:
                out.append(f"{tok}={value}" if tok.startswith("--") else f"{tok}{value}")
            else:
                out.extend([tok, value])
            i += 2
            continue
        out.append(tok)
        if not interspersed and not tok.startswith("-"):
            out.extend(argv[i + 1:])
            break
        i += 1
    return out


def _resolve(name: str, commands: Mapping[str, Command],
             aliases: Mapping[str, str]) -> str | None:
    if isinstance(commands, CommandTable):
        if name in aliases:
            name = aliases[name]
        # imports only the module defining the command
        target = commands.lookup(name)
        if target is None and name in aliases.values():
            raise errors.ProgrammerError(f"Alias maps to unknown command '{name}'")
        return target
    if name in commands:
        return name
    if name in aliases:
        target = aliases[name]
        if target not in commands:
            raise errors.ProgrammerError(f"Alias '{name}' maps to unknown command '{target}'")
        return target
    for cname, cmd in commands.items():
        if name in cmd.aliases:
            return cname
    return None


# ---------------------------------------------------------------------------
# logging


def _setup_logging(binary: str, cmd: str, debug: int) -> Callable[[], None]:
    """Log to ``<log dir>/commands.log`` (if that directory exists) and, with
    ``--debug``, to stderr.  Returns the function undoing it."""
    root = logging.getLogger()
    handlers: list[logging.Handler] = []
    fmt = logging.Formatter(f"%(asctime)s: {binary} {cmd} pid=%(process)d %(levelname)s"
                            " %(message)s")
    log_dir = paths.get().log_dir
    if log_dir.is_dir():
        try:
            fh = logging.FileHandler(log_dir / "commands.log", encoding="utf-8")
        except OSError:
            pass
        else:
            fh.setLevel(logging.DEBUG if debug else logging.INFO)
            handlers.append(fh)
    if debug:
        sh = logging.StreamHandler(sys.stderr)
        sh.setLevel(logging.DEBUG)
        handlers.append(sh)
    old_level = root.level
    for h in handlers:
        h.setFormatter(fmt)
        root.addHandler(h)
    if handlers:
        root.setLevel(logging.DEBUG if debug else min(old_level or logging.INFO, logging.INFO))

    def undo() -> None:
        for h in handlers:
            root.removeHandler(h)
            h.close()
        root.setLevel(old_level)

    return undo


# ---------------------------------------------------------------------------
# main entry


def run(binary: str, commands: Mapping[str, Command], argv: Sequence[str] | None = None,
        aliases: Mapping[str, str] | None = None,
        override: Mapping[str, Any] | None = None) -> int:
    """Run one ``gnt-*`` invocation; return the exit code.

    ``argv`` excludes the program name (default ``sys.argv[1:]``);
    ``aliases`` maps extra names to commands (besides ``Command.aliases``);
    ``override`` sets option values after parsing.  The parsed options also
    carry ``cli_tool`` and ``cli_command`` (used for the reason trail).
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    aliases = dict(aliases or {})
    try:
        return _run(binary, commands, argv, aliases, override)
    except OutputClosed:
        return EXIT_FAILURE


def _run(binary: str, commands: Mapping[str, Command], argv: list[str],
         aliases: dict[str, str], override: Mapping[str, Any] | None) -> int:
    if not argv:
        for line in format_usage(binary, commands):
            to_stdout(line)
        return EXIT_FAILURE
    first = argv[0]
    if first == "--version":
        to_stdout("%s (gnt v%s) %s", binary, C.RELEASE_VERSION, C.RELEASE_VERSION)
        return EXIT_SUCCESS
    if first in ("--help", "-h"):
        for line in format_usage(binary, commands):
            to_stdout(line)
        return EXIT_SUCCESS
    name = _resolve(first, commands, aliases)
    if name is None:
        for line in format_usage(binary, commands):
            to_stdout(line)
        return EXIT_FAILURE
    command = commands[name]
    parser = _build_parser(binary, name, command)
    try:
        cmd_argv = _attach_dash_values(parser, argv[1:], command.interspersed)
        if command.interspersed:
            opts = parser.parse_intermixed_args(cmd_argv)
        else:
            opts = parser.parse_args(cmd_argv)
    except _ParserExit as exc:
        if exc.message:
            (sys.stderr if exc.status else sys.stdout).write(exc.message)
        return exc.status
    args: list[str] = list(opts.args)
    del opts.args
    if not check_arguments(name, command.args, args):
        return EXIT_FAILURE
    for key, value in (override or {}).items():
        setattr(opts, key, value)
    opts.cli_tool = binary
    opts.cli_command = name
    undo_logging = _setup_logging(binary, name, int(getattr(opts, "debug", 0) or 0))
    try:
        logger.debug("Command line: %s", shlex.join([binary, *argv]))
        try:
            result = command.func(opts, args)
        except JobSubmitted as sub:
            to_stderr("JobID: %s", sub.job_id)
            return EXIT_SUCCESS
        except errors.GntError as err:
            code, msg = format_error(err)
            logger.debug("Error during command processing", exc_info=True)
            to_stderr(msg)
            return code
        except KeyboardInterrupt:
            to_stderr(ABORTED_MESSAGE)
            return EXIT_FAILURE
        return EXIT_SUCCESS if result is None else int(result)
    finally:
        undo_logging()


def get_client(socket_path: str | os.PathLike[str] | None = None) -> Client:
    """A connected :class:`gnt.luxi.Client` for this root's master socket.

    Raises :class:`gnt.errors.NoMasterError` if no master daemon listens.
    """
    return Client(socket_path)
