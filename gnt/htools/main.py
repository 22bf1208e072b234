"""The ``htools`` multi-call entry point: the role comes from the program name.

As in Ganeti, the binary (or symlink) name selects the tool; the ``HTOOLS``
environment variable overrides it.  ``python -m gnt.htools hbal ...`` also
works (the first argument names the tool when the program name does not).
"""

from __future__ import annotations

import importlib
import os
import sys

TOOLS = {"hbal": "gnt.htools.hbal", "hcheck": "gnt.htools.hcheck", "hail": "gnt.htools.hail",
         "hroller": "gnt.htools.hroller", "hscan": "gnt.htools.hscan",
         "hinfo": "gnt.htools.hinfo", "hspace": "gnt.htools.hspace"}


def main(argv: list[str] | None = None) -> int:
    """Dispatch on ``$HTOOLS``, then ``argv[0]``'s basename, then the first argument."""
    argv = list(sys.argv if argv is None else argv)
    role = os.environ.get("HTOOLS") or os.path.basename(argv[0] if argv else "")
    args = argv[1:]
    if role not in TOOLS and args and args[0] in TOOLS:
        role, args = args[0], args[1:]
    if role not in TOOLS:
        sys.stderr.write(f"Error: unknown htools role '{role}'; use one of "
                         f"{', '.join(sorted(TOOLS))} as program name, first argument "
                         f"or HTOOLS value\n")
        return 1
    return int(importlib.import_module(TOOLS[role]).main(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
