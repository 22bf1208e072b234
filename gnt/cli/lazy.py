"""Lazy loading for the ``gnt-*`` tools: import only what the chosen subcommand needs.

Starting a tool must not import every opcode module (pydantic models cost
tens of milliseconds each).  Two pieces:

* :func:`lazy_module` returns a stand-in for a module that imports it on the
  first attribute access, so ``ops = lazy_module("gnt.opcodes.instance")``
  at the top of a tool costs nothing until a command builds an opcode.  Its
  ``COMMANDS`` attribute is special: it gives a :class:`LazyCommands` that
  does not import the module either.
* :class:`CommandTable` is a tool's subcommand table.  ``update()`` with a
  :class:`LazyCommands` records the source instead of importing it;
  :meth:`CommandTable.lookup` imports only the source that defines the
  requested name (found by scanning the module's source for its
  ``"name": Command(`` entries and ``aliases=``; when the scan finds nothing,
  every pending source is loaded).  Any other access (iteration, ``[]``,
  ``in``, ``len``) loads all sources first, so the table behaves as the
  plain dict it replaces.

Usage in a tool module::

    instance_mobility = lazy_module("gnt.cli.instance_mobility")
    COMMANDS = CommandTable({"list": Command(...), ...})
    COMMANDS.update(instance_mobility.COMMANDS)
"""

from __future__ import annotations

import importlib
import re
import sys
import types
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from typing import Any

_ENTRY_RE = re.compile(r"""^\s*["']([A-Za-z0-9_-]+)["']\s*:\s*Command\(""", re.MULTILINE)
_ALIASES_RE = re.compile(r"aliases\s*=\s*\(([^)]*)\)")
_STRING_RE = re.compile(r"""["']([A-Za-z0-9_-]+)["']""")


class LazyCommands:
    """A source of subcommands not imported yet: ``loader()`` returns the
    commands; ``names`` (optional) are the names and aliases it defines, or
    ``module`` names the module whose source can be scanned for them."""

    def __init__(self, loader: Callable[[], Mapping[str, Any]],
                 names: frozenset[str] | None = None, module: str | None = None) -> None:
        self.loader = loader
        self.module = module
        self._names = names

    def names(self) -> frozenset[str] | None:
        """The names (and aliases) this source defines; None if unknown."""
        if self._names is None and self.module is not None:
            self._names = _scan_module(self.module)
        return self._names

    def __repr__(self) -> str:
        return f"LazyCommands({self.module or self.loader!r})"


def _scan_module(name: str) -> frozenset[str] | None:
    """Command names and aliases in a module's source, without importing it."""
    import importlib.util

    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return None
    try:
        with open(spec.origin, encoding="utf-8") as fh:
            text = fh.read()
    except OSError:
        return None
    names = set(_ENTRY_RE.findall(text))
    for group in _ALIASES_RE.findall(text):
        names.update(_STRING_RE.findall(group))
    return frozenset(names) or None


class LazyModule(types.ModuleType):
    """Stand-in for a module, imported on first attribute access."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.__dict__["_lazy_target"] = name

    def _load(self) -> types.ModuleType:
        return importlib.import_module(self.__dict__["_lazy_target"])

    def __getattr__(self, attr: str) -> Any:
        target = self.__dict__["_lazy_target"]
        if attr == "COMMANDS" and target not in sys.modules:
            return LazyCommands(lambda: self._load().COMMANDS, module=target)
        value = getattr(self._load(), attr)
        if attr != "COMMANDS":
            self.__dict__[attr] = value
        return value

    def __dir__(self) -> list[str]:
        return dir(self._load())


def lazy_module(name: str) -> Any:
    """The module ``name`` if already imported, else a :class:`LazyModule`."""
    module = sys.modules.get(name)
    return module if module is not None else LazyModule(name)


def lazy_commands(loader: Callable[[], Mapping[str, Any]], names: Any = None) -> LazyCommands:
    """A :class:`LazyCommands` for ``CommandTable.update`` (``names``: what it defines)."""
    return LazyCommands(loader, frozenset(names) if names is not None else None)


class CommandTable(MutableMapping[str, Any]):
    """A tool's subcommands: a dict that can hold not-yet-imported sources."""

    def __init__(self, commands: Mapping[str, Any] | None = None) -> None:
        self._commands: dict[str, Any] = dict(commands or {})
        self._pending: list[LazyCommands] = []

    # --- lazy parts ---
    def update(self, other: Any = (), /, **kwargs: Any) -> None:  # type: ignore[override]
        if isinstance(other, LazyCommands):
            self._pending.append(other)
        else:
            if isinstance(other, CommandTable):
                other.load_all()
                other = other._commands
            self._commands.update(other, **kwargs)

    def _load(self, source: LazyCommands) -> None:
        self._pending.remove(source)
        loaded = source.loader()
        if isinstance(loaded, CommandTable):
            loaded.load_all()
            loaded = loaded._commands
        self._commands.update(loaded)

    def load_all(self) -> None:
        """Import every pending source."""
        while self._pending:
            self._load(self._pending[0])

    def _find_loaded(self, name: str) -> str | None:
        if name in self._commands:
            return name
        for cname, cmd in self._commands.items():
            if name in getattr(cmd, "aliases", ()):
                return cname
        return None

    def lookup(self, name: str) -> str | None:
        """The command name ``name`` stands for (itself or via an alias), importing
        only the source that defines it; None if no source does."""
        found = self._find_loaded(name)
        if found is not None:
            return found
        for source in list(self._pending):
            names = source.names()
            if names is not None and name in names:
                self._load(source)
                found = self._find_loaded(name)
                if found is not None:
                    return found
        self.load_all()
        return self._find_loaded(name)

    def loaded(self) -> Mapping[str, Any]:
        """The commands loaded so far (no import)."""
        return self._commands

    # --- the Mapping protocol (loads everything) ---
    def __getitem__(self, key: str) -> Any:
        if key not in self._commands:
            self.load_all()
        return self._commands[key]

    def __setitem__(self, key: str, value: Any) -> None:
        self._commands[key] = value

    def __delitem__(self, key: str) -> None:
        self.load_all()
        del self._commands[key]

    def __contains__(self, key: object) -> bool:
        if key in self._commands:
            return True
        self.load_all()
        return key in self._commands

    def __iter__(self) -> Iterator[str]:
        self.load_all()
        return iter(self._commands)

    def __len__(self) -> int:
        self.load_all()
        return len(self._commands)

    def __repr__(self) -> str:
        return f"CommandTable({sorted(self._commands)}, pending={self._pending})"


def lazy_tag_commands(kind: str) -> LazyCommands:
    """The ``list-tags``/``add-tags``/``remove-tags`` (and for the cluster
    ``search-tags``) subcommands of :func:`gnt.cli.tags.tag_commands`, imported
    when one of them runs."""
    names = {"list-tags", "add-tags", "remove-tags"}
    if kind == "cluster":
        names.add("search-tags")

    def load() -> Mapping[str, Any]:
        from gnt.cli.tags import tag_commands

        return tag_commands(kind)
    return LazyCommands(load, frozenset(names))
