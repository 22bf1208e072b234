"""OS definitions on disk: discovery, validation, names and parameters.

An OS definition is a directory in the OS search path
(``paths.get().os_search_path``, Ganeti's ``/srv/ganeti/os`` under the root)
holding, as Ganeti's OS interface (API 10, 15 and 20) requires:

* ``ganeti_api_version``: supported API versions, one per line, newest first;
* executables ``create`` (or ``create_untrusted``), ``import``, ``export``,
  ``rename``, and ``verify`` when the newest version is 20 or more;
* ``variants.list`` (API >= 15, optional): one variant per line, ``#`` comments;
* ``parameters.list`` (required for API 20): ``name description`` per line.

OS names given by users have the form ``name+variant``.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from gnt import constants as C
from gnt import errors, paths

OS_API_V15 = 15
API_FILE = "ganeti_api_version"
VARIANTS_FILE = "variants.list"
PARAMETERS_FILE = "parameters.list"

SCRIPT_CREATE = "create"
SCRIPT_CREATE_UNTRUSTED = "create_untrusted"
SCRIPT_IMPORT = "import"
SCRIPT_EXPORT = "export"
SCRIPT_RENAME = "rename"
SCRIPT_VERIFY = "verify"
SCRIPTS = (SCRIPT_CREATE, SCRIPT_IMPORT, SCRIPT_EXPORT, SCRIPT_RENAME, SCRIPT_VERIFY)

VERIFY_PARAMETERS = "parameters"  # the one check ``verify`` knows (API 20)


class OSDefinition(BaseModel):
    """One OS directory as found on this node.

    ``valid`` tells whether it can be used; when it is not, ``diagnose`` says
    why (and the lists are empty).  ``api_versions`` are as listed in the
    file (newest first); ``parameters`` are ``(name, description)`` pairs;
    ``scripts`` maps each script present (``create``, ``create_untrusted``,
    ``import``, ``export``, ``rename``, ``verify``) to its absolute path.
    ``trusted`` is False when the OS ships ``create_untrusted`` (Ganeti runs
    those only inside a helper VM).
    """

    name: str
    path: str
    valid: bool
    diagnose: str = ""
    api_versions: list[int] = Field(default_factory=list)
    variants: list[str] = Field(default_factory=list)
    parameters: list[tuple[str, str]] = Field(default_factory=list)
    trusted: bool = True
    scripts: dict[str, str] = Field(default_factory=dict)

    @property
    def api_version(self) -> int:
        """The highest API version both this OS and gnt support."""
        common = C.OS_API_VERSIONS.intersection(self.api_versions)
        if not common:
            raise errors.OpPrereqError(
                f"OS '{self.name}' supports no API version gnt knows "
                f"(found {self.api_versions}, want one of {sorted(C.OS_API_VERSIONS)})",
                errors.ECODE_ENVIRON)
        return max(common)

    @property
    def parameter_names(self) -> list[str]:
        """Names of the OS parameters declared in ``parameters.list``."""
        return [p[0] for p in self.parameters]

    def script(self, name: str) -> str:
        """Absolute path of script ``name``; raises OpExecError when absent."""
        try:
            return self.scripts[name]
        except KeyError:
            raise errors.OpExecError(
                f"OS '{self.name}' has no '{name}' script (in {self.path})",
                errors.ECODE_ENVIRON) from None

    def require_valid(self) -> OSDefinition:
        """Return self; raises OpPrereqError (with the diagnosis) when invalid."""
        if not self.valid:
            raise errors.OpPrereqError(f"Invalid OS '{self.name}': {self.diagnose}",
                                       errors.ECODE_ENVIRON)
        return self


def split_name(os_name: str) -> tuple[str, str]:
    """``"name+variant"`` -> ``("name", "variant")``; no ``+`` gives an empty variant."""
    name, _, variant = os_name.partition("+")
    return name, variant


def _read_lines(path: Path) -> list[str]:
    """Non-empty, non-comment lines of a text file, stripped."""
    out = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            out.append(line)
    return out


def _invalid(name: str, os_dir: Path, why: str) -> OSDefinition:
    return OSDefinition(name=name, path=str(os_dir), valid=False, diagnose=why)


def _read_api_versions(os_dir: Path) -> list[int] | str:
    """The API versions of the OS in ``os_dir``, or an error message."""
    api_file = os_dir / API_FILE
    try:
        st = api_file.stat()
    except OSError as err:
        return f"Required file '{API_FILE}' not found under path {os_dir}: {err.strerror}"
    if not stat.S_ISREG(st.st_mode):
        return f"File '{API_FILE}' in {os_dir} is not a regular file"
    try:
        raw = api_file.read_text().splitlines()
    except OSError as err:
        return f"Error while reading the API version file at {api_file}: {err.strerror}"
    try:
        return [int(v.strip()) for v in raw if v.strip()]
    except ValueError as err:
        return f"API version(s) can't be converted to integer: {err}"


def load_from_dir(os_dir: str | os.PathLike[str], name: str | None = None) -> OSDefinition:
    """Validate the OS directory ``os_dir`` as Ganeti does; never raises.

    ``name`` defaults to the directory's base name.  The result is valid, or
    invalid with the reason in ``diagnose``.
    """
    d = Path(os_dir)
    name = name or d.name
    if not d.is_dir():
        return _invalid(name, d, f"Directory for OS {name} not found in search path")
    versions = _read_api_versions(d)
    if isinstance(versions, str):
        return _invalid(name, d, versions)
    if not versions or not C.OS_API_VERSIONS.intersection(versions):
        return _invalid(name, d, f"API version mismatch for path '{d}': found {versions}, "
                                 f"want {sorted(C.OS_API_VERSIONS)}")
    newest = max(versions)

    # file name -> required?
    wanted: dict[str, bool] = {SCRIPT_CREATE: False, SCRIPT_CREATE_UNTRUSTED: False,
                               SCRIPT_IMPORT: True, SCRIPT_EXPORT: True, SCRIPT_RENAME: True}
    if newest >= C.OS_API_V20:
        wanted[SCRIPT_VERIFY] = True
        wanted[PARAMETERS_FILE] = True
    if newest >= OS_API_V15:
        wanted[VARIANTS_FILE] = False

    found: dict[str, Path] = {}
    for fname, required in wanted.items():
        fpath = d / fname
        try:
            st = fpath.stat()
        except OSError as err:
            if not required and isinstance(err, FileNotFoundError):
                continue
            return _invalid(name, d, f"File '{fname}' under path '{d}' is missing "
                                     f"({err.strerror})")
        if not stat.S_ISREG(st.st_mode):
            return _invalid(name, d, f"File '{fname}' under path '{d}' is not a regular file")
        is_script = fname in SCRIPTS or fname == SCRIPT_CREATE_UNTRUSTED
        if is_script and not st.st_mode & stat.S_IXUSR:
            return _invalid(name, d, f"File '{fname}' under path '{d}' is not executable")
        found[fname] = fpath
    if SCRIPT_CREATE not in found and SCRIPT_CREATE_UNTRUSTED not in found:
        return _invalid(name, d, f"A create script (trusted or untrusted) under path '{d}' "
                                 "must exist")

    variants: list[str] = []
    parameters: list[tuple[str, str]] = []
    try:
        if VARIANTS_FILE in found:
            variants = _read_lines(found[VARIANTS_FILE])
        if PARAMETERS_FILE in found:
            for line in _read_lines(found[PARAMETERS_FILE]):
                parts = line.split(None, 1)
                parameters.append((parts[0], parts[1].strip() if len(parts) > 1 else ""))
    except OSError as err:
        return _invalid(name, d, f"Error while reading the OS files in {d}: {err.strerror}")

    scripts = {f: str(p) for f, p in found.items()
               if f in SCRIPTS or f == SCRIPT_CREATE_UNTRUSTED}
    return OSDefinition(name=name, path=str(d), valid=True, api_versions=versions,
                        variants=variants, parameters=parameters,
                        trusted=SCRIPT_CREATE_UNTRUSTED not in found, scripts=scripts)


def _search_path(search_path: Iterable[str | os.PathLike[str]] | None) -> list[Path]:
    return [Path(p) for p in (paths.get().os_search_path if search_path is None
                              else search_path)]


def find(os_name: str, search_path: Iterable[str | os.PathLike[str]] | None = None
         ) -> OSDefinition:
    """The OS ``os_name`` (a ``+variant`` suffix is ignored) from the first
    search path directory holding it; never raises.

    When no directory holds it the result is invalid ("not found").
    """
    name, _ = split_name(os_name)
    dirs = _search_path(search_path)
    if not name or "/" in name or name in (".", ".."):
        return _invalid(name, dirs[0] if dirs else Path("."), f"Invalid OS name '{name}'")
    for top in dirs:
        if (top / name).is_dir():
            return load_from_dir(top / name, name)
    where = ", ".join(str(t) for t in dirs)
    return _invalid(name, dirs[0] / name if dirs else Path(name),
                    f"Directory for OS {name} not found in search path ({where})")


def get(os_name: str, search_path: Iterable[str | os.PathLike[str]] | None = None
        ) -> OSDefinition:
    """The valid OS ``os_name``; raises OpPrereqError when missing (``unknown_entity``)
    or invalid (``environment_error``), with the reason."""
    osd = find(os_name, search_path)
    if not osd.valid:
        code = errors.ECODE_ENVIRON if Path(osd.path).is_dir() else errors.ECODE_NOENT
        raise errors.OpPrereqError(f"OS '{osd.name}' is not usable on this node: "
                                   f"{osd.diagnose}", code)
    return osd


def diagnose(search_path: Iterable[str | os.PathLike[str]] | None = None
             ) -> list[OSDefinition]:
    """Every entry of every search path directory, valid or not (with the reason).

    Hidden entries (starting with ``.``) are skipped; a name found in several
    search path directories is listed once per directory, in search order.
    """
    out: list[OSDefinition] = []
    for top in _search_path(search_path):
        try:
            names = sorted(n for n in os.listdir(top) if not n.startswith("."))
        except OSError:  # a missing or unreadable search path directory
            continue
        for name in names:
            out.append(load_from_dir(top / name, name))
    return out


def resolve_variant(osd: OSDefinition, os_name: str, force: bool = False) -> str:
    """The variant to install for ``os_name`` (``name`` or ``name+variant``).

    Returns ``""`` for OSes without variants (or API < 15); with no variant
    given, the first listed one.  Raises OpPrereqError for a variant the OS
    does not list, naming the allowed ones, unless ``force`` (Ganeti's
    ``--force-variant``: the given variant is used as is).
    """
    _, variant = split_name(os_name)
    if osd.api_version < OS_API_V15:  # variants came with API 15
        supported: list[str] = []
        variant = "" if force else variant
    else:
        supported = osd.variants
    if force:
        return variant or (supported[0] if supported else "")
    if not supported:
        if variant:
            raise errors.OpPrereqError(
                f"OS '{osd.name}' doesn't support variants ('{variant}' passed)",
                errors.ECODE_INVAL)
        return ""
    if not variant:
        return supported[0]
    if variant not in supported:
        raise errors.OpPrereqError(
            f"Unsupported variant '{variant}' of OS '{osd.name}'; allowed: "
            f"{', '.join(supported)}", errors.ECODE_INVAL)
    return variant


def check_osparams(osd: OSDefinition, params: Mapping[str, Any] | Iterable[str]) -> None:
    """Reject OS parameter names not declared in ``parameters.list``.

    As in Ganeti, OSes older than API 20 have no parameter list and are not
    checked.  Raises :class:`errors.ParameterError` naming the unknown and
    the allowed parameters.
    """
    if osd.api_version < C.OS_API_V20:
        return
    names = set(params)
    unknown = sorted(names.difference(osd.parameter_names))
    if unknown:
        allowed = ", ".join(osd.parameter_names) or "(none)"
        raise errors.ParameterError(
            f"The following parameters are not supported by the OS {osd.name}: "
            f"{', '.join(unknown)}; allowed: {allowed}", errors.ECODE_INVAL)
