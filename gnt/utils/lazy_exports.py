"""Package attributes imported on first use (PEP 562 module ``__getattr__``).

A package that re-exports names from its submodules would import every
submodule at start-up; with :func:`module_getattr` it imports one only when
one of its names is first used, then caches the value in the package.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def module_getattr(package: str, exports: Mapping[str, str],
                   namespace: dict[str, Any]) -> Callable[[str], object]:
    """A module ``__getattr__`` for ``package``.

    ``exports`` maps each exported name to the module defining it;
    ``namespace`` is the package's ``globals()``, where a loaded value is
    cached.  The returned function raises :class:`AttributeError` for names
    not in ``exports``.
    """
    def __getattr__(name: str) -> object:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value
    return __getattr__


__all__ = ["module_getattr"]
