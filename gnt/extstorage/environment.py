"""The environment of ExtStorage scripts, as Ganeti's ExtStorage interface defines it.

Built from scratch (nothing inherited from the node daemon), every value a
string:

* ``VOL_NAME``: the volume name (``logical_id[1]``), always;
* ``VOL_SIZE``: size in MiB (``create``; ``grow``: the current size);
* ``VOL_NEW_SIZE``: size after growing, MiB (``grow``);
* ``VOL_METADATA``: metadata text (``setinfo``), ``originstname+<instance>``;
* ``VOL_CNAME``: the disk's name, when it has one; ``VOL_UUID``: the disk's UUID;
* ``VOL_SNAPSHOT_NAME``/``VOL_SNAPSHOT_SIZE``: the snapshot to take (``snapshot``);
* ``VOL_OPEN_EXCLUSIVE``: ``True``/``False`` (``open``; False while migrating);
* ``EXTP_<NAME>``: one per disk parameter (the provider's ``--disk`` params,
  plus ``provider`` and ``access`` as Ganeti stores them), name upper-cased;
* ``PATH`` (Ganeti's script PATH) and ``LC_ALL=C``;
* ``GNT_ROOT``: gnt's addition, the node's root prefix (``/`` on a real
  node), so that a provider can find cluster paths on a test node.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gnt import paths
from gnt.osdef.environment import SCRIPT_PATH


def extp_var(name: str) -> str:
    """Environment variable of ext parameter ``name``: ``EXTP_`` + upper case (Ganeti's rule)."""
    return "EXTP_" + name.upper()


def _s(value: Any) -> str:
    return "" if value is None else str(value)


def volume_env(volume: str, ext_params: Mapping[str, Any], *,
               size: int | None = None,
               new_size: int | None = None,
               metadata: str | None = None,
               cname: str | None = None,
               uuid: str | None = None,
               snap_name: str | None = None,
               snap_size: int | None = None,
               exclusive: bool | None = None) -> dict[str, str]:
    """The full environment of one script run for ``volume``.

    Sizes are MiB.  Arguments left None are not exported (see the module
    docstring for which script gets what).
    """
    env = {"PATH": SCRIPT_PATH, "LC_ALL": "C", "GNT_ROOT": str(paths.get().root),
           "VOL_NAME": volume}
    for pname, pvalue in ext_params.items():
        env[extp_var(pname)] = _s(pvalue)
    optional: dict[str, Any] = {
        "VOL_SIZE": size, "VOL_NEW_SIZE": new_size, "VOL_METADATA": metadata,
        "VOL_CNAME": cname, "VOL_UUID": uuid, "VOL_SNAPSHOT_NAME": snap_name,
        "VOL_SNAPSHOT_SIZE": snap_size, "VOL_OPEN_EXCLUSIVE": exclusive,
    }
    for key, value in optional.items():
        if value is not None:
            env[key] = str(value)
    return env
