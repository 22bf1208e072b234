"""Helpers of the ``gnt-* info`` commands: fetching the named objects, and the
parameter sections (Ganeti's ``FormatParamsDictInfo`` and ``FormatPolicyInfo``):
each value shows the object's own setting, or ``default (<inherited value>)``
when it inherits it.  The results feed :func:`gnt.cli.output.format_generic_info`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from gnt import errors
from gnt.cli.qfilter import make_filter
from gnt.luxi import protocol as P

#: the order Ganeti prints bounds specs and policy ratios in
MINMAX_KEYS = ("max", "min")
IPOLICY_RATIO_KEYS = ("vcpu-ratio", "spindle-ratio")


def format_params_dict_info(own: Mapping[str, Any] | None,
                            actual: Mapping[str, Any]) -> dict[str, Any]:
    """``{param: text}``: the own value, or ``default (<actual value>)``; nested
    dicts (e.g. disk parameters per template) are formatted recursively."""
    own = own or {}
    out: dict[str, Any] = {}
    for key, value in actual.items():
        if isinstance(value, Mapping) and value:
            out[key] = format_params_dict_info(own.get(key) or {}, value)
        elif key in own:
            out[key] = str(own[key])
        else:
            out[key] = f"default ({value})"
    return out


def _list_or_default(own: Sequence[Any] | None, default: Sequence[Any]) -> str:
    if own is not None:
        return ", ".join(str(x) for x in own)
    return f"default ({', '.join(str(x) for x in default)})"


def format_policy_info(own: Mapping[str, Any] | None, effective: Mapping[str, Any],
                       is_cluster: bool = False) -> list[tuple[str, Any]]:
    """An instance policy as ordered ``(key, value)`` pairs: bounds specs (own if
    set, else the effective ones), std specs (cluster only), allowed disk
    templates and the ratios."""
    own = own or {}
    minmax = own.get("minmax") or effective.get("minmax") or []
    bounds = [[(f"{key}/{idx}", format_params_dict_info(pair[key], pair[key]))
               for key in MINMAX_KEYS if key in pair]
              for idx, pair in enumerate(minmax)]
    out: list[tuple[str, Any]] = [("bounds specs", bounds)]
    if is_cluster and "std" in own:
        out.append(("std", format_params_dict_info(own["std"], own["std"])))
    out.append(("allowed disk templates",
                _list_or_default(own.get("disk-templates"),
                                 effective.get("disk-templates") or [])))
    for key in IPOLICY_RATIO_KEYS:
        out.append((key, str(own[key]) if key in own
                    else f"default ({effective.get(key)})"))
    return out


def query_named(client: Any, resource: str, kind: str, fields: list[str],
                names: list[str]) -> list[list[Any]]:
    """Rows (plain values; None where unavailable) of the ``resource`` items
    called ``names`` (all when empty, globs allowed); raises OpPrereqError
    (unknown_entity) for a plain name that matches nothing."""
    resp = client.query(resource, ["name", *fields], make_filter(names or None, False))
    rows = [[v if st == P.RS_NORMAL else None for st, v in row] for row in resp["data"]]
    found = [str(r[0]) for r in rows]
    for want in names:
        if any(ch in want for ch in "*?[") or any(
                f == want or f.startswith(want + ".") for f in found):
            continue
        raise errors.OpPrereqError(f"{kind} '{want}' not known", errors.ECODE_NOENT)
    return [r[1:] for r in rows]
