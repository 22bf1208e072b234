"""Command-line options and option value parsers, with Ganeti's syntax.

Value syntax (as Ganeti's ``gnt-*`` commands):

- key=value dicts: ``-B maxmem=1G,vcpus=2``; a bare ``key`` means True,
  ``no_key`` False and ``-key`` None (reset to default); ``\\,`` is a
  literal comma.
- identifier + dict: ``-H kvm:kernel_path=/x,acpi=false``, ``--disk 0:size=1G``,
  ``-H kvm`` (empty dict); ``no_ident`` gives ``(ident, False)`` and
  ``-ident`` ``(ident, None)`` (remove a parameter group).
- several ident-dicts: ``--ipolicy-bounds-specs min:k=v/max:k=v//min:...``.
- sizes: ``-s 10G`` (MiB, see :func:`gnt.units.parse_unit`), booleans
  ``yes``/``no``, comma lists, ``--priority low|normal|high``.

The core parsers raise :class:`gnt.errors.ParameterError` naming the option
and the bad value; the ``TYPE_*`` adapters wrap them for argparse ``type=``
(argparse then reports ``argument -B/--backend-parameters: ...`` and exits
with status 2).  Options are :class:`Option` objects shared between commands.
"""

from __future__ import annotations

import argparse
import copy
import json
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from gnt import constants as C
from gnt import errors
from gnt.units import parse_unit

NO_PREFIX = "no_"
UN_PREFIX = "-"
VALUE_TRUE = "true"
VALUE_FALSE = "false"
_YORNO = "yes|no"


def _in(opt: str | None) -> str:
    return f" in option {opt}" if opt else ""


# ---------------------------------------------------------------------------
# value parsers


def unescape_and_split(text: str, sep: str = ",") -> list[str]:
    """Split ``text`` on ``sep``; ``\\<sep>`` is a literal separator and
    ``\\\\`` a literal backslash (Ganeti's ``UnescapeAndSplit``)."""
    parts = text.split(sep)
    out: list[str] = []
    while parts:
        elem = parts.pop(0)
        nback = len(elem) - len(elem.rstrip("\\"))
        if nback % 2 == 1 and parts:
            parts.insert(0, elem + sep + parts.pop(0))
            continue
        out.append(elem)
    return [re.sub(r"\\(.)", r"\1", e) for e in out]


def split_key_val(opt: str | None, data: str, parse_prefixes: bool = True) -> dict[str, Any]:
    """Parse ``key=val,key=val`` into a dict (values stay strings).

    With ``parse_prefixes`` a bare ``key`` is True, ``no_key`` False and
    ``-key`` None; without, a bare key is an error.  Raises
    :class:`gnt.errors.ParameterError` on duplicate or empty keys.
    """
    result: dict[str, Any] = {}
    if not data:
        return result
    for elem in unescape_and_split(data, ","):
        val: Any
        if "=" in elem:
            key, val = elem.split("=", 1)
        elif parse_prefixes:
            if elem.startswith(NO_PREFIX):
                key, val = elem[len(NO_PREFIX):], False
            elif elem.startswith(UN_PREFIX):
                key, val = elem[len(UN_PREFIX):], None
            else:
                key, val = elem, True
        else:
            raise errors.ParameterError(
                f"Missing value for key '{elem}'{_in(opt)} (expected key=value)")
        if not key:
            raise errors.ParameterError(f"Empty key in '{data}'{_in(opt)}")
        if key in result:
            raise errors.ParameterError(f"Duplicate key '{key}' in '{data}'{_in(opt)}")
        result[key] = val
    return result


def split_ident_key_val(opt: str | None, value: str,
                        parse_prefixes: bool = True) -> tuple[str, Any]:
    """Parse ``ident:key=val,...`` into ``(ident, {key: val})``.

    ``ident`` alone gives ``(ident, {})``; with ``parse_prefixes``,
    ``no_ident`` gives ``(ident, False)`` and ``-ident`` ``(ident, None)``
    (``-`` followed by a digit stays part of the ident, e.g. an index).
    """
    ident, rest = value.split(":", 1) if ":" in value else (value, "")
    removal: Any = ...
    if parse_prefixes and ident.startswith(NO_PREFIX):
        ident, removal = ident[len(NO_PREFIX):], False
    elif (parse_prefixes and ident.startswith(UN_PREFIX)
          and (len(ident) == len(UN_PREFIX) or not ident[len(UN_PREFIX)].isdigit())):
        ident, removal = ident[len(UN_PREFIX):], None
    if removal is not ...:
        if rest:
            raise errors.ParameterError(
                f"Cannot pass options when removing parameter groups: '{value}'{_in(opt)}")
        return ident, removal
    if not ident:
        raise errors.ParameterError(f"Missing identifier before ':' in '{value}'{_in(opt)}")
    return ident, split_key_val(opt, rest, parse_prefixes)


def split_multilist_ident_key_val(opt: str | None, value: str) -> list[dict[str, Any]]:
    """Parse ``ident:k=v,../ident:k=v//ident:..`` into ``[{ident: {k: v}}, ...]``."""
    out: list[dict[str, Any]] = []
    for line in value.split("//"):
        group: dict[str, Any] = {}
        for elem in line.split("/"):
            if not elem:
                raise errors.ParameterError(f"Empty section in '{value}'{_in(opt)}")
            ident, params = split_ident_key_val(opt, elem, False)
            if ident in group:
                raise errors.ParameterError(
                    f"Duplicated parameter '{ident}' in '{elem}'{_in(opt)}")
            group[ident] = params
        out.append(group)
    return out


def parse_bool(opt: str | None, value: str | bool) -> bool:
    """``yes``/``true`` -> True, ``no``/``false`` -> False (any case)."""
    if isinstance(value, bool):
        return value
    low = value.strip().lower()
    if low in ("yes", VALUE_TRUE):
        return True
    if low in ("no", VALUE_FALSE):
        return False
    raise errors.ParameterError(
        f"Invalid boolean value '{value}'{_in(opt)}: expected yes or no")


def parse_list(value: str) -> list[str]:
    """Comma-separated list (``\\,`` escapes a comma); empty string -> []."""
    return unescape_and_split(value) if value else []


def parse_size(opt: str | None, value: str | int) -> int:
    """A size in MiB: ``512``, ``4G``, ``1.5T`` (see :func:`gnt.units.parse_unit`)."""
    try:
        return parse_unit(value)
    except errors.ParameterError as err:
        raise errors.ParameterError(f"{err}{_in(opt)}") from None


def parse_maybe_float(opt: str | None, value: str) -> float | str:
    """A float, or the word ``default``."""
    low = value.strip().lower()
    if low == C.VALUE_DEFAULT:
        return low
    try:
        return float(low)
    except ValueError:
        raise errors.ParameterError(
            f"Invalid number '{value}'{_in(opt)}: expected a number or 'default'") from None


def parse_json(opt: str | None, value: str) -> Any:
    """A JSON document."""
    try:
        return json.loads(value)
    except ValueError as err:
        raise errors.ParameterError(f"Invalid JSON '{value}'{_in(opt)}: {err}") from None


def parse_priority(opt: str | None, value: str) -> int:
    """``low``/``normal``/``high`` -> the opcode priority number."""
    try:
        return C.PRIORITY_NAMES[value]
    except KeyError:
        allowed = ", ".join(C.PRIORITY_NAMES)
        raise errors.ParameterError(
            f"Invalid priority '{value}'{_in(opt)}; choose from {allowed}") from None


def parse_fields(selected: str | None, default: Sequence[str]) -> list[str]:
    """``-o`` value to field list: None -> defaults, ``+a,b`` -> defaults + a, b."""
    if selected is None:
        return list(default)
    if selected.startswith("+"):
        return list(default) + selected[1:].split(",")
    return selected.split(",")


_TIMESPEC_SUFFIXES = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_timespec(value: str | int) -> int:
    """Seconds from ``30``, ``30s``, ``5m``, ``2h``, ``1d``, ``1w``.

    Raises :class:`gnt.errors.OpPrereqError` (``wrong_input``) when malformed.
    """
    text = str(value).strip()
    if not text:
        raise errors.OpPrereqError("Empty time specification passed", errors.ECODE_INVAL)
    mult = _TIMESPEC_SUFFIXES.get(text[-1])
    number = text[:-1] if mult else text
    if mult and not number:
        raise errors.OpPrereqError("Invalid time specification (only suffix passed)",
                                   errors.ECODE_INVAL)
    try:
        return int(number) * (mult or 1)
    except ValueError:
        raise errors.OpPrereqError(
            f"Invalid time specification '{value}': expected a number with an optional "
            "suffix s, m, h, d or w", errors.ECODE_INVAL) from None


def split_node_option(value: str | None) -> tuple[str | None, str | None]:
    """``-n pnode[:snode]`` -> ``(pnode, snode or None)``."""
    if value and ":" in value:
        pnode, snode = value.split(":", 1)
        return pnode, snode
    return value, None


def ident_dicts_to_list(opt: str, values: Iterable[tuple[str, Any]],
                        what: str = "item") -> list[dict[str, Any]]:
    """Turn repeated ``--disk N:k=v`` / ``--net N:k=v`` values into a list.

    The identifiers must be indices (0, 1, ...); missing indices become
    ``{}``.  Raises :class:`gnt.errors.OpPrereqError` for a non-numeric or
    negative index, a duplicate index, or a removal form (``no_N``/``-N``).
    """
    items = list(values)
    indexed: dict[int, dict[str, Any]] = {}
    for ident, params in items:
        try:
            idx = int(ident)
            if idx < 0:
                raise ValueError
        except (TypeError, ValueError):
            raise errors.OpPrereqError(
                f"Invalid {what} index '{ident}' in option {opt}: expected 0, 1, ...",
                errors.ECODE_INVAL) from None
        if not isinstance(params, dict):
            raise errors.OpPrereqError(
                f"Invalid {what}/{idx} value in option {opt}: expected key=value "
                f"parameters, got {params!r}", errors.ECODE_INVAL)
        if idx in indexed:
            raise errors.OpPrereqError(f"Duplicate {what} index {idx} in option {opt}",
                                       errors.ECODE_INVAL)
        indexed[idx] = dict(params)
    if not indexed:
        return []
    return [indexed.get(i, {}) for i in range(max(indexed) + 1)]


# ---------------------------------------------------------------------------
# argparse adapters


def _argtype(name: str, fn: Callable[[str], Any]) -> Callable[[str], Any]:
    def convert(value: str) -> Any:
        try:
            return fn(value)
        except errors.GntError as err:
            raise argparse.ArgumentTypeError(str(err)) from None

    convert.__name__ = name
    return convert


TYPE_KEYVAL = _argtype("keyval", lambda v: split_key_val(None, v))
TYPE_KEYPRIVATEVAL = TYPE_KEYVAL  # gnt keeps private values out of logs elsewhere
TYPE_IDENTKEYVAL = _argtype("identkeyval", lambda v: split_ident_key_val(None, v))
TYPE_MULTILISTIDENTKEYVAL = _argtype("multilistidentkeyval",
                                     lambda v: split_multilist_ident_key_val(None, v))
TYPE_UNIT = _argtype("unit", lambda v: parse_size(None, v))
TYPE_BOOL = _argtype("bool", lambda v: parse_bool(None, v))
TYPE_LIST = _argtype("list", parse_list)
TYPE_MAYBEFLOAT = _argtype("maybefloat", lambda v: parse_maybe_float(None, v))
TYPE_JSON = _argtype("json", lambda v: parse_json(None, v))
TYPE_PRIORITY = _argtype("priority", lambda v: parse_priority(None, v))


class Option:
    """One command-line option, reusable by many commands.

    Takes ``parser.add_argument``'s arguments.  Mutable defaults (``{}``,
    ``[]``) are copied each time the option is added to a parser, so no
    two parses share them.
    """

    def __init__(self, *flags: str, **kwargs: Any) -> None:
        if not flags or not all(f.startswith("-") for f in flags):
            raise errors.ProgrammerError(f"Invalid option flags {flags!r}")
        self.flags = flags
        self.kwargs = kwargs

    @property
    def dest(self) -> str:
        if "dest" in self.kwargs:
            return str(self.kwargs["dest"])
        longs = [f for f in self.flags if f.startswith("--")]
        return (longs[0] if longs else self.flags[0]).lstrip("-").replace("-", "_")

    def add_to(self, parser: argparse.ArgumentParser | Any) -> argparse.Action:
        kwargs = dict(self.kwargs)
        if isinstance(kwargs.get("default"), (dict, list)):
            kwargs["default"] = copy.deepcopy(kwargs["default"])
        action: argparse.Action = parser.add_argument(*self.flags, **kwargs)
        return action

    def __repr__(self) -> str:
        return f"Option({', '.join(self.flags)})"


cli_option = Option


# ---------------------------------------------------------------------------
# options shared by the gnt-* commands (Ganeti's flags and dest names)

DEBUG_OPT = Option("-d", "--debug", dest="debug", default=0, action="count",
                   help="Increase debugging level")
REASON_OPT = Option("--reason", dest="reason", default=None,
                    help="The reason for executing the command")
#: Options every command accepts (added automatically by :func:`gnt.cli.base.run`).
COMMON_OPTS = [DEBUG_OPT, REASON_OPT]

SUBMIT_OPT = Option("--submit", dest="submit_only", default=False, action="store_true",
                    help="Submit the job and return the job ID, but don't wait for the job"
                    " to finish")
PRINT_JOBID_OPT = Option("--print-jobid", dest="print_jobid", default=False,
                         action="store_true",
                         help="Additionally print the job as first line on stdout (for"
                         " scripting).")
SUBMIT_OPTS = [SUBMIT_OPT, PRINT_JOBID_OPT]
DRY_RUN_OPT = Option("--dry-run", dest="dry_run", default=False, action="store_true",
                     help="Do not execute the operation, just run the check steps and"
                     " verify if it could be executed")
PRIORITY_OPT = Option("--priority", dest="priority", default=None, type=TYPE_PRIORITY,
                      metavar="|".join(C.PRIORITY_NAMES),
                      help="Priority for opcode processing")
#: Options of commands that submit a job.
JOB_OPTS = SUBMIT_OPTS + [DRY_RUN_OPT, PRIORITY_OPT]

FORCE_OPT = Option("-f", "--force", dest="force", default=False, action="store_true",
                   help="Force the operation")
CONFIRM_OPT = Option("--yes", dest="confirm", default=False, action="store_true",
                     help="Do not require confirmation")
YES_DOIT_OPT = Option("--yes-do-it", "--ya-rly", dest="yes_do_it", default=False,
                      action="store_true", help="Really do it (dangerous operation)")
VERBOSE_OPT = Option("-v", "--verbose", dest="verbose", default=False, action="store_true",
                     help="Increase the verbosity of the operation")
TIMEOUT_OPT = Option("--timeout", dest="timeout", type=int,
                     default=C.DEFAULT_SHUTDOWN_TIMEOUT,
                     help="Maximum time (in seconds) to wait")
SHUTDOWN_TIMEOUT_OPT = Option("--shutdown-timeout", dest="shutdown_timeout", type=int,
                              default=C.DEFAULT_SHUTDOWN_TIMEOUT,
                              help="Maximum time (in seconds) to wait for instance shutdown")

# list commands
NOHDR_OPT = Option("--no-headers", dest="no_headers", default=False, action="store_true",
                   help="Don't display column headers")
SEP_OPT = Option("--separator", dest="separator", default=None,
                 help="Separator between output fields (defaults to one space)")
USEUNITS_OPT = Option("--units", dest="units", default=None, choices=("h", "m", "g", "t"),
                      help="Specify units for output (one of h/m/g/t)")
FIELDS_OPT = Option("-o", "--output", dest="output", default=None, metavar="FIELDS",
                    help="Comma separated list of output fields (a leading '+' adds to"
                    " the default list)")
FORCE_FILTER_OPT = Option("-F", "--filter", dest="force_filter", default=False,
                          action="store_true",
                          help="Whether command argument should be treated as filter")
#: Options of ``list`` subcommands.
LIST_OPTS = [NOHDR_OPT, SEP_OPT, USEUNITS_OPT, FIELDS_OPT, VERBOSE_OPT, FORCE_FILTER_OPT]
#: Options of ``list-fields`` subcommands.
LIST_FIELDS_OPTS = [NOHDR_OPT, SEP_OPT]

# tags
TAG_SRC_OPT = Option("--from", dest="tags_source", default=None, help="File with tag names")
TAG_ADD_OPT = Option("--tags", dest="tags", default=None,
                     help="Comma-separated list of instance tags")

# parameters
BACKEND_OPT = Option("-B", "--backend-parameters", dest="beparams", type=TYPE_KEYVAL,
                     default={}, help="Backend parameters")
HVOPTS_OPT = Option("-H", "--hypervisor-parameters", dest="hvparams", type=TYPE_KEYVAL,
                    default={}, help="Hypervisor parameters")
HYPERVISOR_OPT = Option("-H", "--hypervisor-parameters", dest="hypervisor",
                        type=TYPE_IDENTKEYVAL, default=None,
                        help="Hypervisor and hypervisor options, in the format"
                        " hypervisor:option=value,option=value,...")
HVLIST_OPT = Option("-H", "--hypervisor-parameters", dest="hvparams", type=TYPE_IDENTKEYVAL,
                    action="append", default=[],
                    help="Hypervisor and hypervisor options, in the format"
                    " hypervisor:option=value,option=value,...")
NIC_PARAMS_OPT = Option("-N", "--nic-parameters", dest="nicparams", type=TYPE_KEYVAL,
                        default={}, help="NIC parameters")
DISK_PARAMS_OPT = Option("-D", "--disk-parameters", dest="diskparams", type=TYPE_IDENTKEYVAL,
                         action="append", default=[],
                         help="Disk template parameters, in the format"
                         " template:option=value,option=value,...")
NODE_PARAMS_OPT = Option("--node-parameters", dest="ndparams", type=TYPE_KEYVAL,
                         default=None, help="Node parameters")
OSPARAMS_OPT = Option("-O", "--os-parameters", dest="osparams", type=TYPE_KEYVAL,
                      default={}, help="OS parameters")
OSPARAMS_PRIVATE_OPT = Option("--os-parameters-private", dest="osparams_private",
                              type=TYPE_KEYPRIVATEVAL, default={},
                              help="Private OS parameters (won't be logged)")
OSPARAMS_SECRET_OPT = Option("--os-parameters-secret", dest="osparams_secret",
                             type=TYPE_KEYPRIVATEVAL, default={},
                             help="Secret OS parameters (won't be logged or saved; you"
                             " must supply these for every operation.)")

# instance creation / placement
DISK_OPT = Option("--disk", dest="disks", type=TYPE_IDENTKEYVAL, action="append",
                  default=[], help="Disk parameters")
NET_OPT = Option("--net", dest="nics", type=TYPE_IDENTKEYVAL, action="append", default=[],
                 help="NIC parameters")
OS_SIZE_OPT = Option("-s", "--os-size", dest="sd_size", type=TYPE_UNIT, default=None,
                     metavar="<size>",
                     help="Enforces a single-disk configuration using the given disk"
                     " size, in MiB unless a suffix is used")
DISK_TEMPLATE_OPT = Option("-t", "--disk-template", dest="disk_template", default=None,
                           metavar="TEMPL", choices=list(C.DISK_TEMPLATES),
                           help="Custom disk setup (" + ", ".join(C.DISK_TEMPLATES) + ")")
OS_OPT = Option("-o", "--os-type", dest="os", default=None, metavar="<os>",
                help="What OS to run")
NODE_PLACEMENT_OPT = Option("-n", "--node", dest="node", default=None,
                            metavar="<pnode>[:<snode>]",
                            help="Target node and optional secondary node")
SINGLE_NODE_OPT = Option("-n", "--node", dest="node", default=None, metavar="<node>",
                         help="Target node")
NODE_LIST_OPT = Option("-n", "--node", dest="nodes", action="append", default=[],
                       metavar="<node>",
                       help="Use only this node (can be used multiple times, if not given"
                       " defaults to all nodes)")
NODEGROUP_OPT = Option("-g", "--node-group", dest="nodegroup", default=None,
                       metavar="<nodegroup>", help="Node group (name or uuid)")
IALLOCATOR_OPT = Option("-I", "--iallocator", dest="iallocator", default=None,
                        metavar="<NAME>",
                        help="Select nodes for the instance automatically using the"
                        " <NAME> iallocator plugin")
NOSTART_OPT = Option("--no-start", dest="start", default=True, action="store_false",
                     help="Don't start the instance after creation")
NWSYNC_OPT = Option("--no-wait-for-sync", dest="wait_for_sync", default=True,
                    action="store_false", help="Don't wait for sync (DANGEROUS!)")
NONICS_OPT = Option("--no-nics", dest="no_nics", default=False, action="store_true",
                    help="Do not create any network cards for the instance")
IGNORE_IPOLICY_OPT = Option("--ignore-ipolicy", dest="ignore_ipolicy", default=False,
                            action="store_true", help="Ignore instance policy violations")
EARLY_RELEASE_OPT = Option("--early-release", dest="early_release", default=False,
                           action="store_true",
                           help="Release the locks on the secondary node(s) early")
