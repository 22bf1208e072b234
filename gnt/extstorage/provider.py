"""ExtStorage providers on disk: discovery and validation.

A provider is a directory named after it in the ExtStorage search path
(``paths.get().es_search_path``: Ganeti's ``/srv/ganeti/extstorage`` under
the node's root).  As Ganeti's ExtStorage interface requires, it holds:

* executables ``create``, ``attach``, ``detach``, ``remove``, ``grow``,
  ``setinfo`` and ``verify`` (required);
* executables ``snapshot``, ``open`` and ``close`` (optional);
* the text file ``parameters.list``: one ``name description`` per line
  (space or tab separated), the parameters the provider understands.

Symbolic links are followed.  A provider name found in several search path
directories is taken from the first one; :func:`diagnose` also reports the
shadowed ones, as Ganeti does.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Iterable
from pathlib import Path

from pydantic import BaseModel, Field

from gnt import constants as C
from gnt import errors, paths

SearchPath = Iterable[str | os.PathLike[str]] | None

# A provider name is one directory name: no "/", not "." or "..".
_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]*$")


class Provider(BaseModel):
    """One provider directory as found on this node.

    ``valid`` tells whether it can be used; when not, ``diagnose`` says why
    and ``scripts``/``parameters`` may be incomplete.  ``scripts`` maps each
    script present (action name -> absolute path); optional scripts that are
    absent are missing from it.  ``parameters`` are ``(name, description)``
    pairs from ``parameters.list``.
    """

    name: str
    path: str
    valid: bool
    diagnose: str = ""
    scripts: dict[str, str] = Field(default_factory=dict)
    parameters: list[tuple[str, str]] = Field(default_factory=list)

    @property
    def parameter_names(self) -> list[str]:
        """Names declared in ``parameters.list``."""
        return [p[0] for p in self.parameters]

    def require_valid(self) -> Provider:
        """Return self; raises BlockDeviceError (``environment_error``) with the
        diagnosis when the provider is invalid."""
        if not self.valid:
            raise errors.BlockDeviceError(
                f"ExtStorage provider '{self.name}' is not usable on this node: "
                f"{self.diagnose}", errors.ECODE_ENVIRON)
        return self

    def script(self, action: str) -> str | None:
        """Path of the script of ``action``; None for an absent optional one."""
        return self.scripts.get(action)


def check_name(name: str) -> str:
    """Return ``name`` if it can name a provider directory; raises
    BlockDeviceError (``wrong_input``) otherwise."""
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise errors.BlockDeviceError(
            f"Invalid ExtStorage provider name {name!r}: use letters, digits and "
            f"'_', '.', '+', '-' (not starting with '.', '+' or '-')", errors.ECODE_INVAL)
    return name


def search_path(override: SearchPath = None) -> list[Path]:
    """The directories searched for providers (default: the node's search path)."""
    if override is None:
        return list(paths.get().es_search_path)
    return [Path(p) for p in override]


def _check_file(es_dir: Path, filename: str, required: bool, executable: bool
                ) -> tuple[str | None, str | None]:
    """``(path, None)`` for a usable file, ``(None, None)`` for an absent
    optional one, ``(None, problem)`` otherwise."""
    path = es_dir / filename
    try:
        st = path.stat()
    except OSError as err:
        if not required and err.errno == errno.ENOENT:
            return None, None
        return None, (f"File '{filename}' under path '{es_dir}' is missing "
                      f"({err.strerror})")
    if not stat.S_ISREG(st.st_mode):
        return None, f"File '{filename}' under path '{es_dir}' is not a regular file"
    if executable and not st.st_mode & stat.S_IXUSR:
        return None, f"File '{filename}' under path '{es_dir}' is not executable"
    return str(path), None


def _parse_parameters(text: str) -> list[tuple[str, str]]:
    """``parameters.list`` lines -> ``(name, description)``; blank lines skipped."""
    out = []
    for line in text.splitlines():
        parts = line.split(None, 1)
        if not parts:
            continue
        out.append((parts[0], parts[1].strip() if len(parts) > 1 else ""))
    return out


def load_from_dir(es_dir: str | os.PathLike[str], name: str | None = None) -> Provider:
    """Validate the provider directory ``es_dir`` as Ganeti does; never raises.

    ``name`` defaults to the directory's base name.  The result is valid, or
    invalid with the first problem found in ``diagnose`` (scripts in
    :data:`gnt.constants.ES_SCRIPTS` order, then ``parameters.list``).
    """
    d = Path(es_dir)
    name = name or d.name
    if not d.is_dir():
        return Provider(name=name, path=str(d), valid=False,
                        diagnose=f"Directory for External Storage Provider {name} not "
                                 f"found in search path")
    scripts: dict[str, str] = {}
    problems: list[str] = []
    for action in C.ES_SCRIPTS:
        path, problem = _check_file(d, action, action in C.ES_SCRIPTS_REQUIRED, True)
        if problem:
            problems.append(problem)
        elif path:
            scripts[action] = path
    params_path, problem = _check_file(d, C.ES_PARAMETERS_FILE, True, False)
    parameters: list[tuple[str, str]] = []
    if problem:
        problems.append(problem)
    elif params_path:
        try:
            parameters = _parse_parameters(Path(params_path).read_text())
        except (OSError, UnicodeDecodeError) as err:
            problems.append(f"Error while reading the EXT parameters file at {params_path}: "
                            f"{getattr(err, 'strerror', None) or err}")
    return Provider(name=name, path=str(d), valid=not problems,
                    diagnose=problems[0] if problems else "", scripts=scripts,
                    parameters=parameters)


def find(name: str, search: SearchPath = None) -> Provider:
    """The provider ``name`` from the first search path directory holding it.

    Never raises for a missing or broken provider: the result is then
    invalid with the reason in ``diagnose``.  Raises BlockDeviceError only
    for a name that cannot be a directory name.
    """
    check_name(name)
    for base in search_path(search):
        candidate = base / name
        if candidate.is_dir():
            return load_from_dir(candidate, name)
    return Provider(name=name, path="", valid=False,
                    diagnose=f"Directory for External Storage Provider {name} not found "
                             f"in search path ({', '.join(map(str, search_path(search)))})")


def get(name: str, search: SearchPath = None) -> Provider:
    """The valid provider ``name``; raises BlockDeviceError (with the
    diagnosis) when it is missing or invalid on this node."""
    return find(name, search).require_valid()


def diagnose(search: SearchPath = None) -> list[Provider]:
    """Every provider directory in the search path, shadowed ones included.

    Ordered by search path directory, then name; the first entry for a name
    is the one in use.  Unreadable search path directories are skipped.
    """
    out: list[Provider] = []
    for base in search_path(search):
        try:
            names = sorted(os.listdir(base))
        except OSError:
            continue
        for n in names:
            if (base / n).is_dir() and _NAME_RE.match(n):
                out.append(load_from_dir(base / n, n))
    return out
