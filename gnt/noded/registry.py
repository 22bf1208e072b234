"""The node daemon's procedure registry.

A procedure is a plain function registered under a name with
:func:`procedure`; it takes the decoded JSON arguments of the call
positionally and returns a JSON-able result.  It runs in a worker thread,
so it may block (start QEMU, run a command, wait for a device).  It
reports failures by raising a :class:`gnt.errors.GntError`, which reaches
the caller with its class and error code::

    from gnt.noded.registry import procedure

    @procedure("instance_start")
    def instance_start(instance: dict, startup_paused: bool) -> None:
        ...

Modules defining procedures live in :mod:`gnt.noded.procs`; the daemon
imports all of them at start-up (:func:`load_procedures`).
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from gnt import errors

PROCS_PACKAGE = "gnt.noded.procs"
_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Procedure:
    """A registered procedure: its name, function and call signature."""

    name: str
    func: Callable[..., Any]
    signature: inspect.Signature

    @property
    def usage(self) -> str:
        """``name(arg1, arg2, ...)``, for messages."""
        return f"{self.name}({', '.join(self.signature.parameters)})"

    def check_args(self, args: list[Any]) -> None:
        """Raise :class:`errors.ParameterError` unless ``args`` fit the signature."""
        try:
            self.signature.bind(*args)
        except TypeError as err:
            raise errors.ParameterError(
                f"Invalid arguments for procedure {self.usage}: {err}",
                errors.ECODE_INVAL) from None

    def __call__(self, args: list[Any]) -> Any:
        self.check_args(args)
        return self.func(*args)


_PROCEDURES: dict[str, Procedure] = {}


def _origin(func: Callable[..., Any]) -> str:
    return f"{func.__module__}.{func.__qualname__}"


def register(name: str, func: Callable[..., Any]) -> Procedure:
    """Register ``func`` as procedure ``name`` (see :func:`procedure`)."""
    if not _NAME_RE.match(name):
        raise errors.ProgrammerError(
            f"Invalid procedure name {name!r}: use lower-case letters, digits and '_'")
    old = _PROCEDURES.get(name)
    if old is not None and _origin(old.func) != _origin(func):
        raise errors.ProgrammerError(
            f"Procedure '{name}' is defined twice: {_origin(old.func)} and {_origin(func)}")
    proc = Procedure(name, func, inspect.signature(func))
    _PROCEDURES[name] = proc
    return proc


def procedure(name: str) -> Callable[[F], F]:
    """Decorator registering a function as node daemon procedure ``name``.

    Raises :class:`errors.ProgrammerError` for a malformed name or if
    another function already uses it.
    """
    def deco(func: F) -> F:
        register(name, func)
        return func
    return deco


def lookup(name: str) -> Procedure | None:
    """The procedure called ``name``, or None."""
    return _PROCEDURES.get(name)


def names() -> list[str]:
    """The names of all registered procedures, sorted."""
    return sorted(_PROCEDURES)


def load_procedures(package: str = PROCS_PACKAGE) -> list[str]:
    """Import every module of ``package`` (registering their procedures).

    Returns the imported module names.  Import errors propagate: a
    daemon with a broken procedure module must not start.
    """
    pkg = importlib.import_module(package)
    loaded = []
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
        mod = f"{package}.{info.name}"
        importlib.import_module(mod)
        loaded.append(mod)
    return loaded
