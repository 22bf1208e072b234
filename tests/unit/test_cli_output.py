"""Output helpers, ``info`` formatting, confirmation prompts and name filters."""

from __future__ import annotations

import importlib
import os
import pty
import re
import threading
import time
from typing import IO

import pytest

from gnt import errors
from gnt.cli import confirm, output, qfilter

pytestmark = pytest.mark.unit


def test_generic_info_nested() -> None:
    data = [
        ("Instance name", "web1"),
        ("UUID", "1234"),
        ("Nodes", [("primary", "node1"), ("secondaries", "")]),
        ("Hypervisor", "kvm"),
        ("Disks", [[("disk/0", "file, size 1.0G"), ("mode", "rw")],
                   [("disk/1", "file, size 2.0G")]]),
        ("Hypervisor parameters", {"acpi": "default (True)", "boot_order": "disk"}),
        ("Tags", ("a", "b")),
        ("Empty", []),
    ]
    expected = [
        "Instance name: web1",
        "UUID: 1234",
        "Nodes: ",
        "  primary: node1",
        "  secondaries: ",
        "Hypervisor: kvm",
        "Disks: ",
        "  - disk/0: file, size 1.0G",
        "    mode: rw",
        "  - disk/1: file, size 2.0G",
        "Hypervisor parameters: ",
        "  acpi: default (True)",
        "  boot_order: disk",
        "Tags: [a, b]",
        "Empty: ",
    ]
    assert output.format_generic_info(data) == "\n".join(expected)


def test_generic_info_alignment_groups() -> None:
    data = [("a", "1", "g"), ("longer", "2", "g"), ("x", "3")]
    assert output.format_generic_info(data) == "a:      1\nlonger: 2\nx: 3"


def test_time_formatting() -> None:
    ts = time.mktime((2023, 12, 31, 23, 59, 58, 0, 0, -1))
    assert output.format_time(ts) == "2023-12-31 23:59:58"
    assert output.format_time(None) == "N/A"
    assert output.format_time("x") == "N/A"
    assert output.format_timestamp([int(ts), 42]) == "2023-12-31 23:59:58.000042"
    assert output.format_timestamp("bad") == "?"
    assert output.merge_time([10, 500000]) == 10.5
    assert output.format_log_entry([int(ts), 0], "message", "hi") == \
        f"{time.ctime(ts)} hi"
    assert output.format_log_entry([int(ts), 0], "remote-import", {"x": 1}).endswith(
        " {'x': 1}")


def test_safe_encode() -> None:
    assert output.safe_encode("a\tb\nc\rd\x01é") == r"a\tb\nc\rd\x01\xe9"
    assert output.safe_encode("plain text") == "plain text"


def _tty() -> tuple[int, IO[str]]:
    master, slave = pty.openpty()
    stream = confirm.open_tty(os.ttyname(slave))
    os.close(slave)
    assert stream is not None
    return master, stream


def _answer(master: int, *replies: str) -> threading.Thread:
    def typist() -> None:
        for reply in replies:
            time.sleep(0.05)
            os.write(master, reply.encode())
    t = threading.Thread(target=typist)
    t.start()
    return t


def _read_all(master: int) -> str:
    chunks = []
    os.set_blocking(master, False)
    try:
        while True:
            chunks.append(os.read(master, 65536))
    except (BlockingIOError, OSError):
        pass
    return b"".join(chunks).decode(errors="replace")


def test_ask_user_on_a_real_terminal() -> None:
    master, tty = _tty()
    try:
        t = _answer(master, "?\n", "y\n")
        assert confirm.ask_user("Destroy everything?", tty=tty) is True
        t.join()
        shown = _read_all(master)
        assert "Destroy everything?" in shown and "y/[n]/?: " in shown
        assert " y - Perform the operation" in shown
    finally:
        tty.close()
        os.close(master)


def test_ask_user_default_is_last_choice_on_eof() -> None:
    master, tty = _tty()
    try:
        t = _answer(master, "\x04")  # Ctrl-D: end of input
        assert confirm.ask_user("Continue?", tty=tty) is False
        t.join()
    finally:
        tty.close()
        os.close(master)


def test_confirm_operation_lists_and_views() -> None:
    master, tty = _tty()
    try:
        t = _answer(master, "y\n")
        assert confirm.confirm_operation(["web1", "web2"], "instances", "shutdown",
                                         tty=tty) is True
        t.join()
        shown = _read_all(master)
        assert "The shutdown will operate on 2 instances." in shown
        assert "Affected instances:" in shown and "  web2" in shown
        names = [f"i{n}" for n in range(25)]
        t = _answer(master, "v\n", "n\n")
        assert confirm.confirm_operation(names, "instances", "reboot", tty=tty) is False
        t.join()
        shown = _read_all(master)
        assert "y/v/[n]/?" in shown and "  i24" in shown
    finally:
        tty.close()
        os.close(master)


def test_open_tty_without_terminal() -> None:
    assert confirm.open_tty("/nonexistent/tty") is None


def test_ask_user_rejects_bad_choices() -> None:
    with pytest.raises(errors.ProgrammerError):
        confirm.ask_user("?", [("?", True, "help is reserved")])


def test_name_filters() -> None:
    assert qfilter.make_filter(None, False) is None
    assert qfilter.make_filter([], False) is None
    assert qfilter.make_filter(["a", "b.example.com"], False) == [
        "|", ["=", "name", "a"], ["=", "name", "b.example.com"]]
    flt = qfilter.make_filter(["web?", "db*"], False, namefield="name")
    assert flt == ["|", ["=~", "name", r"^web[^.](\..*)?$"], ["=~", "name", r"^db[^.]*(\..*)?$"]]
    rx = re.compile(flt[2][2])
    assert rx.match("db1") and rx.match("db1.example.com") and not rx.match("xdb1")
    assert qfilter.make_filter(["12", "13"], False, namefield="id", isnumeric=True) == [
        "|", ["=", "id", 12], ["=", "id", 13]]
    with pytest.raises(errors.OpPrereqError, match="Invalid job ID passed: 'x'"):
        qfilter.make_filter(["x"], False, namefield="id", isnumeric=True)
    with pytest.raises(errors.OpPrereqError, match="Exactly one argument"):
        qfilter.make_filter(["a", "b"], True)
    assert qfilter.looks_like_filter('name == "a"')
    assert not qfilter.looks_like_filter("web*.example.com")


def test_filter_text_uses_query_language_when_available() -> None:
    text = 'name =~ m/^web/'
    try:
        qlang = importlib.import_module("gnt.query.qlang")
        parse = qlang.parse_filter
    except (ImportError, AttributeError):
        with pytest.raises(errors.OpPrereqError, match="query language is not available"):
            qfilter.make_filter([text], False)
    else:
        assert qfilter.make_filter([text], False) == parse(text)
