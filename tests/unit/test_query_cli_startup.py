"""CLI start-up: a ``gnt-*`` tool imports only what the chosen subcommand needs.

Each check runs in a fresh interpreter (imports are process-wide state).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from gnt.cli.lazy import CommandTable, LazyCommands, lazy_module

pytestmark = pytest.mark.unit


def _modules_after(code: str) -> dict[str, object]:
    """Run ``code`` in a fresh interpreter; it sets ``out`` (JSON-able).
    Returns ``{"out": out, "modules": [imported module names]}``."""
    script = textwrap.dedent(code) + textwrap.dedent("""
        import json, sys
        print(json.dumps({"out": out, "modules": sorted(sys.modules)}))
    """)
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=60, check=True)
    return json.loads(res.stdout)


def _heavy(modules: list[str]) -> list[str]:
    return [m for m in modules if m.startswith(("pydantic", "gnt.opcodes", "gnt.objects"))]


@pytest.mark.parametrize(("tool", "command"), [
    ("gnt_instance", "list"), ("gnt_instance", "list-fields"), ("gnt_node", "list"),
    ("gnt_group", "list"), ("gnt_job", "list"), ("gnt_cluster", "getmaster"),
])
def test_list_commands_need_no_pydantic(tool: str, command: str) -> None:
    r = _modules_after(f"""
        from gnt.cli import {tool} as tool
        from gnt.cli.base import _build_parser, _resolve
        name = _resolve("{command}", tool.COMMANDS, {{}})
        table = getattr(tool.COMMANDS, "loaded", lambda: tool.COMMANDS)()
        _build_parser("x", name, table[name])
        out = name
    """)
    assert r["out"] == command
    assert not _heavy(r["modules"]), _heavy(r["modules"])  # type: ignore[arg-type]


def test_a_subcommand_loads_only_its_module() -> None:
    r = _modules_after("""
        from gnt.cli import gnt_instance as tool
        out = [tool.COMMANDS.lookup("migrate"), tool.COMMANDS.lookup("start")]
    """)
    assert r["out"] == ["migrate", "startup"]
    modules = r["modules"]
    assert "gnt.cli.instance_mobility" in modules  # type: ignore[operator]
    assert "gnt.cli.instance_modify" not in modules  # type: ignore[operator]
    assert "gnt.opcodes.instance_modify" not in modules  # type: ignore[operator]


def test_full_table_when_iterated() -> None:
    from gnt.cli import gnt_instance

    names = set(gnt_instance.COMMANDS)
    assert {"add", "list", "list-fields", "migrate", "failover", "modify", "list-tags",
            "add-tags", "remove-tags", "startup", "console"} <= names
    assert gnt_instance.COMMANDS["migrate"].func.__module__ == "gnt.cli.instance_mobility"


def test_command_table_semantics() -> None:
    loads: list[str] = []

    def source(name: str, cmds: dict[str, object]) -> LazyCommands:
        def load() -> dict[str, object]:
            loads.append(name)
            return cmds
        return LazyCommands(load, frozenset(cmds))

    table = CommandTable({"a": 1})
    table.update(source("s1", {"b": 2}))
    table.update(source("s2", {"c": 3}))
    table.update({"d": 4})
    assert table.lookup("a") == "a" and loads == []
    assert table.lookup("c") == "c" and loads == ["s2"]
    assert table.lookup("nosuch") is None and loads == ["s2", "s1"]
    assert dict(table) == {"a": 1, "b": 2, "c": 3, "d": 4}


def test_unscannable_source_is_loaded_when_a_name_is_unknown() -> None:
    table = CommandTable({})
    table.update(LazyCommands(lambda: {"x": 1}))  # names unknown
    assert table.lookup("x") == "x"


def test_lazy_module_imports_on_first_use() -> None:
    r = _modules_after("""
        from gnt.cli.lazy import lazy_module
        m = lazy_module("gnt.units")
        import sys
        before = "gnt.units" in sys.modules
        out = [before, m.parse_unit("1G")]
    """)
    assert r["out"] == [False, 1024]
    assert lazy_module("json").__name__ == "json"  # already imported: the module itself
