"""The command-table framework: parsing, usage, errors and exit codes."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from gnt import errors
from gnt.cli import base as B
from gnt.cli import options as O
from gnt.cli.errfmt import format_error
from gnt.cli.jobs import JobSubmitted
from gnt.luxi import Client
from gnt.luxi import protocol as P

pytestmark = pytest.mark.unit

SEEN: dict[str, Any] = {}


def record(opts: argparse.Namespace, args: list[str]) -> int | None:
    SEEN["opts"], SEEN["args"] = opts, args
    return getattr(opts, "rc", None)


def raiser(exc: BaseException) -> B.CommandFn:
    def fn(opts: argparse.Namespace, args: list[str]) -> int:
        raise exc
    return fn


def talk_to_missing_master(opts: argparse.Namespace, args: list[str]) -> int:
    Client(args[0])
    return 0


COMMANDS = {
    "startup": B.Command(record, B.ARGS_MANY_INSTANCES,
                         [O.FORCE_OPT, O.BACKEND_OPT, O.HVLIST_OPT, *O.JOB_OPTS],
                         "[<instance>...]", "Starts an instance", aliases=("start",)),
    "info": B.Command(record, B.ARGS_ONE_INSTANCE, [O.VERBOSE_OPT], "<instance>",
                      "Show information on the instance"),
    "two": B.Command(record, [B.Arg("node", 1, 1), B.Arg("node", 0, 1)], [], "<a> [<b>]",
                     "One or two arguments"),
    "command": B.Command(record, B.args_at_least(1, "command"), [O.NODE_LIST_OPT],
                         "<command>", "Run a command on nodes", interspersed=False),
    "verify": B.Command(record, B.ARGS_NONE, [O.Option("--rc", dest="rc", type=int)], "",
                        "Verify, with a help text long enough that it has to be wrapped over"
                        " several lines of the command list"),
    "nomaster": B.Command(talk_to_missing_master, B.ARGS_ONE, [], "<socket>",
                          "Talk to a master that is not there"),
}


def run(argv: list[str], **kw: Any) -> int:
    SEEN.clear()
    return B.run("gnt-instance", COMMANDS, argv, **kw)


def test_no_command_prints_usage_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert run([]) == 1
    out = capsys.readouterr().out
    assert out.startswith("Usage: gnt-instance {command} [options...] [argument...]\n"
                          "gnt-instance <command> --help to see details, or man gnt-instance\n"
                          "\nCommands:\n")
    assert " startup  - Starts an instance\n" in out
    assert (" verify   - Verify, with a help text long enough that it has to be wrapped over\n"
            "            several lines of the command list\n\n") in out


def test_unknown_command_exit_1_help_exit_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["bogus"]) == 1
    assert "Commands:" in capsys.readouterr().out
    assert run(["--help"]) == 0
    assert "Commands:" in capsys.readouterr().out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["--version"]) == 0
    assert capsys.readouterr().out.startswith("gnt-instance (gnt v")


def test_subcommand_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["startup", "--help"]) == 0
    out = capsys.readouterr().out
    assert "usage: gnt-instance startup [<instance>...]" in out
    for flag in ("--force", "--backend-parameters", "--submit", "--print-jobid", "--dry-run",
                 "--priority", "--debug", "--reason"):
        assert flag in out


def test_aliases(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["start", "inst1"]) == 0
    assert SEEN["opts"].cli_command == "startup" and SEEN["args"] == ["inst1"]
    assert run(["show", "inst1"], aliases={"show": "info"}) == 0
    assert SEEN["opts"].cli_command == "info"
    with pytest.raises(errors.ProgrammerError):
        run(["x"], aliases={"x": "missing"})


def test_options_and_arguments_intermixed() -> None:
    assert run(["startup", "a", "-f", "b", "--priority", "high", "-B", "maxmem=1G", "-dd",
                "--reason", "maintenance", "-H", "kvm:acpi=false", "-H", "fake"]) == 0
    opts, args = SEEN["opts"], SEEN["args"]
    assert args == ["a", "b"]
    assert opts.force is True and opts.priority == -10 and opts.debug == 2
    assert opts.beparams == {"maxmem": "1G"}
    assert opts.hvparams == [("kvm", {"acpi": "false"}), ("fake", {})]
    assert opts.reason == "maintenance"
    assert opts.cli_tool == "gnt-instance"
    assert opts.submit_only is False and opts.dry_run is False


def test_option_values_starting_with_dash() -> None:
    assert run(["startup", "-B", "-maxmem", "--reason", "-why-", "x"]) == 0
    assert SEEN["opts"].beparams == {"maxmem": None}
    assert SEEN["opts"].reason == "-why-"
    assert SEEN["args"] == ["x"]


def test_non_interspersed_command_keeps_its_options() -> None:
    assert run(["command", "-n", "node1", "-n", "node2", "ls", "-l", "-n", "x"]) == 0
    assert SEEN["opts"].nodes == ["node1", "node2"]
    assert SEEN["args"] == ["ls", "-l", "-n", "x"]


def test_bad_option_value_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["startup", "-B", "a=1,a=2"]) == 2
    err = capsys.readouterr().err
    assert "usage: gnt-instance startup" in err
    assert "gnt-instance startup: error: argument -B/--backend-parameters: Duplicate key 'a'" \
        in err
    assert run(["startup", "--priority", "urgent"]) == 2
    assert "argument --priority: Invalid priority 'urgent'" in capsys.readouterr().err
    assert run(["startup", "--no-such-option"]) == 2
    assert "unrecognized arguments: --no-such-option" in capsys.readouterr().err
    assert "opts" not in SEEN


@pytest.mark.parametrize("argv,message", [
    (["info"], "Error: Command info expects 1 argument(s)"),
    (["info", "a", "b"], "Error: Command info expects 1 argument(s)"),
    (["verify", "x"], "Error: Command verify expects no arguments"),
    (["two"], "Error: Command two expects at least 1 argument(s)"),
    (["two", "a", "b", "c"], "Error: Command two expects only 2 argument(s)"),
    (["command"], "Error: Command command expects at least 1 argument(s)"),
])
def test_argument_count_errors(argv: list[str], message: str,
                               capsys: pytest.CaptureFixture[str]) -> None:
    assert run(argv) == 1
    assert capsys.readouterr().err.strip() == message
    assert "opts" not in SEEN


def test_return_codes_and_override() -> None:
    assert run(["verify"]) == 0
    assert run(["verify", "--rc", "3"]) == 3
    assert run(["verify"], override={"rc": 5}) == 5


def test_prereq_error_message(capsys: pytest.CaptureFixture[str]) -> None:
    COMMANDS["fail"] = B.Command(raiser(errors.OpPrereqError(
        "Instance 'x' not known", errors.ECODE_NOENT)), B.ARGS_NONE)
    try:
        assert run(["fail"]) == 1
    finally:
        del COMMANDS["fail"]
    assert capsys.readouterr().err == ("Failure: prerequisites not met for this operation:\n"
                                       "error type: unknown_entity, error details:\n"
                                       "Instance 'x' not known\n")


def test_no_master_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["nomaster", str(tmp_path / "nothing")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("Cannot communicate with the master daemon")
    assert "Is gnt-masterd running?" in err


def test_job_submitted_and_keyboard_interrupt(capsys: pytest.CaptureFixture[str]) -> None:
    COMMANDS["sub"] = B.Command(raiser(JobSubmitted(1234)), B.ARGS_NONE)
    COMMANDS["intr"] = B.Command(raiser(KeyboardInterrupt()), B.ARGS_NONE)
    try:
        assert run(["sub"]) == 0
        assert capsys.readouterr().err == "JobID: 1234\n"
        assert run(["intr"]) == 1
        assert capsys.readouterr().err == (
            "Aborted. Note that if the operation created any jobs, they might have been"
            " submitted and will continue to run in the background.\n")
    finally:
        del COMMANDS["sub"], COMMANDS["intr"]


def test_unexpected_exceptions_propagate() -> None:
    COMMANDS["bug"] = B.Command(raiser(ZeroDivisionError("bug")), B.ARGS_NONE)
    try:
        with pytest.raises(ZeroDivisionError):
            run(["bug"])
    finally:
        del COMMANDS["bug"]


def test_broken_stdout_pipe_exit_1(monkeypatch: pytest.MonkeyPatch) -> None:
    r, w = os.pipe()
    os.close(r)
    stream = open(w, "w")  # noqa: SIM115 - closed below
    monkeypatch.setattr(sys, "stdout", stream)
    try:
        assert run(["--help"]) == 1
    finally:
        monkeypatch.undo()
        try:
            stream.close()
        except BrokenPipeError:
            pass


def test_commands_log_and_debug(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("GNT_ROOT", str(tmp_path))
    log_dir = tmp_path / "var/log/ganeti"
    log_dir.mkdir(parents=True)
    assert run(["info", "inst1"]) == 0
    assert run(["info", "-d", "inst9"]) == 0
    text = (log_dir / "commands.log").read_text()
    assert "gnt-instance info" in text and "Command line: gnt-instance info -d inst9" in text
    assert "Command line: gnt-instance info -d inst9" in capsys.readouterr().err
    assert "Command line: gnt-instance info inst1" not in text  # not debug: info level only


def test_duplicate_option_definitions_rejected() -> None:
    clash = O.Option("-f", "--file", dest="file")
    commands = {"x": B.Command(record, B.ARGS_NONE, [O.FORCE_OPT, clash])}
    with pytest.raises(errors.ProgrammerError, match="defined twice"):
        B.run("gnt-x", commands, ["x"])


class HooksAbort(errors.GntError):
    """Defined later elsewhere; matched by name."""


@pytest.mark.parametrize("err,code,text", [
    (errors.OpPrereqError("bad", errors.ECODE_INVAL), 1,
     ("Failure: prerequisites not met for this operation:\nerror type: wrong_input, error "
      "details:\nbad")),
    (errors.ParameterError("Invalid OP_X: parameter 'y'"), 1,
     ("Failure: prerequisites not met for this operation:\nerror type: wrong_input, error "
      "details:\nInvalid OP_X: parameter 'y'")),
    (errors.OpExecError("disk failed"), 1, "Failure: command execution error:\ndisk failed"),
    (errors.ConfigurationError("bad json"), 2,
     "Corrupt configuration file: bad json\nAborting."),
    (errors.JobQueueDrainError("drained"), 1,
     "Failure: the job queue is marked for drain and doesn't accept new requests"),
    (HooksAbort("pre hook failed"), 1, "Failure: hooks execution failed:\npre hook failed"),
    (P.LuxiTimeoutError("no answer"), 1,
     ("Timeout while talking to the master daemon. Jobs might have been submitted and will "
      'continue to run even if the call timed out. Useful commands in this situation are '
      '"gnt-job list", "gnt-job cancel" and "gnt-job watch". Error:\nno answer')),
    (P.LuxiPermissionError("denied"), 1,
     ("It seems you don't have permissions to connect to the master daemon.\n"
      "Please retry as a different user.")),
    (P.ProtocolError("garbled"), 1,
     "Unhandled protocol error while talking to the master daemon:\ngarbled"),
    (errors.JobLost("Job with id 3 lost"), 1, "Error checking job status: Job with id 3 lost"),
    (errors.HypervisorError("qemu died"), 1, "Unhandled Ganeti error: qemu died"),
    (ValueError("x"), 1, "Unhandled exception: x"),
])
def test_format_error(err: BaseException, code: int, text: str) -> None:
    assert format_error(err) == (code, text)


def test_format_error_of_decoded_errors() -> None:
    # errors that crossed LUXI format like local ones
    decoded = errors.decode(errors.OpPrereqError("gone", errors.ECODE_NOENT).encode())
    assert format_error(decoded)[1].endswith("error type: unknown_entity, error details:\ngone")
    decoded = errors.decode(["HooksAbort", ["hook x failed", "internal_error"]])
    assert format_error(decoded)[1] == "Failure: hooks execution failed:\nhook x failed"
