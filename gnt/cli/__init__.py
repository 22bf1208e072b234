"""The shared CLI framework of the ``gnt-*`` commands (Ganeti's options and output).

- :mod:`gnt.cli.base`: command tables, :func:`run` (parsing, errors, exit codes)
- :mod:`gnt.cli.options`: shared options and Ganeti's option value syntax
- :mod:`gnt.cli.jobs`: submitting opcodes and following jobs
- :mod:`gnt.cli.table`: ``list`` / ``list-fields`` output
- :mod:`gnt.cli.output`: stdout/stderr helpers, ``info`` output, time formats
- :mod:`gnt.cli.errfmt`: error messages and exit codes
- :mod:`gnt.cli.confirm`: asking the user
- :mod:`gnt.cli.qfilter`: name filters for list commands

The per-tool modules (``gnt_cluster``, ``gnt_instance``, ...) build on these.
"""

from typing import TYPE_CHECKING

from gnt.utils.lazy_exports import module_getattr

if TYPE_CHECKING:
    from gnt.cli.base import (
        ARGS_ANY,
        ARGS_MANY_GROUPS,
        ARGS_MANY_INSTANCES,
        ARGS_MANY_JOBS,
        ARGS_MANY_NODES,
        ARGS_NONE,
        ARGS_ONE,
        ARGS_ONE_GROUP,
        ARGS_ONE_INSTANCE,
        ARGS_ONE_JOB,
        ARGS_ONE_NODE,
        ARGS_ONE_OS,
        Arg,
        Command,
        args_at_least,
        args_fixed,
        get_client,
        run,
    )
    from gnt.cli.errfmt import (
        EXIT_CONFIRMATION,
        EXIT_FAILURE,
        EXIT_NOTCLUSTER,
        EXIT_NOTMASTER,
        EXIT_SUCCESS,
        EXIT_UNKNOWN_FIELD,
        format_error,
    )
    from gnt.cli.jobs import (
        JobExecutor,
        JobSubmitted,
        poll_job,
        run_job,
        run_opcode,
        send_job,
        set_generic_opcode_opts,
        submit_many,
        submit_opcode,
    )
    from gnt.cli.output import print_generic_info, to_stderr, to_stdout

# The names below are loaded on first use (PEP 562): importing one module of this
# package (e.g. gnt.cli.table for `gnt-instance list`) must not import the others.
_EXPORTS: dict[str, str] = {
    **dict.fromkeys([
        "ARGS_ANY", "ARGS_MANY_GROUPS", "ARGS_MANY_INSTANCES", "ARGS_MANY_JOBS",
        "ARGS_MANY_NODES", "ARGS_NONE", "ARGS_ONE", "ARGS_ONE_GROUP", "ARGS_ONE_INSTANCE",
        "ARGS_ONE_JOB", "ARGS_ONE_NODE", "ARGS_ONE_OS", "Arg", "Command", "args_at_least",
        "args_fixed", "get_client", "run"
    ], "gnt.cli.base"),
    **dict.fromkeys([
        "EXIT_CONFIRMATION", "EXIT_FAILURE", "EXIT_NOTCLUSTER", "EXIT_NOTMASTER",
        "EXIT_SUCCESS", "EXIT_UNKNOWN_FIELD", "format_error"
    ], "gnt.cli.errfmt"),
    **dict.fromkeys([
        "JobExecutor", "JobSubmitted", "poll_job", "run_job", "run_opcode", "send_job",
        "set_generic_opcode_opts", "submit_many", "submit_opcode"
    ], "gnt.cli.jobs"),
    **dict.fromkeys([
        "print_generic_info", "to_stderr", "to_stdout"
    ], "gnt.cli.output"),
}


__getattr__ = module_getattr("gnt.cli", _EXPORTS, globals())


__all__ = [
    "ARGS_ANY", "ARGS_MANY_GROUPS", "ARGS_MANY_INSTANCES", "ARGS_MANY_JOBS", "ARGS_MANY_NODES",
    "ARGS_NONE", "ARGS_ONE", "ARGS_ONE_GROUP", "ARGS_ONE_INSTANCE", "ARGS_ONE_JOB",
    "ARGS_ONE_NODE", "ARGS_ONE_OS", "EXIT_CONFIRMATION", "EXIT_FAILURE", "EXIT_NOTCLUSTER",
    "EXIT_NOTMASTER", "EXIT_SUCCESS", "EXIT_UNKNOWN_FIELD", "Arg", "Command", "JobExecutor",
    "JobSubmitted", "args_at_least", "args_fixed", "format_error", "get_client", "poll_job",
    "print_generic_info", "run", "run_job", "run_opcode", "send_job", "set_generic_opcode_opts",
    "submit_many", "submit_opcode", "to_stderr", "to_stdout",
]
