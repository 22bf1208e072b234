"""Basic node daemon procedures: identity, liveness, files and ssconf."""

from __future__ import annotations

import base64
import binascii
import logging
import os
import re
from pathlib import Path
from typing import Any

from gnt import constants, errors, netutils, paths
from gnt.noded.registry import procedure
from gnt.utils.io import atomic_write, fsync_dir

log = logging.getLogger(__name__)

BOOT_ID_FILE = "/proc/sys/kernel/random/boot_id"
MEMINFO_FILE = "/proc/meminfo"

SSCONF_PREFIX = "ssconf_"
SSCONF_FILE_MODE = 0o444
_SSCONF_KEY_RE = re.compile(r"^[a-z][a-z0-9_]*$")


@procedure("version")
def version() -> int:
    """The node daemon's protocol version (``constants.PROTOCOL_VERSION``)."""
    return constants.PROTOCOL_VERSION


@procedure("ping")
def ping() -> bool:
    """Always True: the daemon is up and the caller is trusted."""
    return True


def _meminfo_mib() -> dict[str, int]:
    """``/proc/meminfo`` values in MiB (only the kB-valued lines)."""
    out: dict[str, int] = {}
    with open(MEMINFO_FILE) as f:
        for line in f:
            key, _, rest = line.partition(":")
            parts = rest.split()
            if len(parts) == 2 and parts[1] == "kB":
                out[key] = int(parts[0]) // 1024
    return out


@procedure("node_info_basic")
def node_info_basic() -> dict[str, Any]:
    """The node's identity and size.

    Returns ``{"hostname": str, "bootid": str, "cpu_total": int,
    "memory_total": int, "memory_free": int}`` with memory in MiB
    (``memory_free`` is the kernel's MemAvailable estimate).
    """
    mem = _meminfo_mib()
    return {
        "hostname": netutils.my_hostname(),
        "bootid": Path(BOOT_ID_FILE).read_text().strip(),
        "cpu_total": os.cpu_count() or 1,
        "memory_total": mem.get("MemTotal", 0),
        "memory_free": mem.get("MemAvailable", mem.get("MemFree", 0)),
    }


def upload_allowlist(p: paths.Paths | None = None) -> frozenset[Path]:
    """The files ``upload_file`` may write, as paths under the node's root.

    Ganeti's list: the cluster config, /etc/hosts, the cluster SSH
    known_hosts, the VNC password file, the RAPI and SPICE certificates,
    the RAPI users file, the confd HMAC key and the cluster domain secret.
    The allowed file storage paths file is deliberately not uploadable.
    """
    p = p or paths.get()
    return frozenset({
        p.cluster_conf_file,
        p.etc_hosts,
        p.data_dir / "known_hosts",
        p.conf_dir / "vnc-cluster-password",
        p.rapi_cert_file,
        p.data_dir / "spice.pem",
        p.data_dir / "spice-ca.pem",
        p.data_dir / "rapi" / "users",
        p.confd_hmac_key,
        p.cluster_domain_secret_file,
    })


def check_file_write(file_name: object, content_b64: object, mode: object,
                     allowed: frozenset[Path] | set[Path], refusal: str
                     ) -> tuple[Path, bytes, int]:
    """Check one file a caller wants written on this node; nothing is written.

    ``file_name`` is the cluster path (mapped under this node's root), which
    must be in ``allowed``; ``content_b64`` its content in base64; ``mode``
    permission bits from 0 to 0o7777.  Returns ``(path under the root,
    content, mode)``.  Raises :class:`errors.OpPrereqError` ("File NAME
    ``refusal``") for a file outside ``allowed``,
    :class:`errors.ParameterError` for a bad name, content or mode.
    """
    if not isinstance(file_name, str) or not file_name.startswith("/"):
        raise errors.ParameterError(
            f"File name must be an absolute path, not {file_name!r}", errors.ECODE_INVAL)
    target = paths.get().under_root(os.path.normpath(file_name))
    if target not in allowed:
        raise errors.OpPrereqError(f"File {file_name} {refusal}", errors.ECODE_INVAL)
    if not isinstance(mode, int) or isinstance(mode, bool) or not 0 <= mode <= 0o7777:
        raise errors.ParameterError(
            f"Invalid mode {mode!r} for {file_name}: an integer from 0 to 0o7777 is required",
            errors.ECODE_INVAL)
    if not isinstance(content_b64, str):
        raise errors.ParameterError(
            f"Content of {file_name} must be a base64 string", errors.ECODE_INVAL)
    try:
        data = base64.b64decode(content_b64, validate=True)
    except (binascii.Error, ValueError) as err:
        raise errors.ParameterError(
            f"Content of {file_name} is not valid base64: {err}", errors.ECODE_INVAL) from None
    return target, data, mode


def _file_spec(name: object, spec: object) -> tuple[object, object]:
    """``[base64 content, mode]`` of one entry of a files mapping."""
    if not isinstance(spec, (list, tuple)) or len(spec) != 2:
        raise errors.ParameterError(f"File {name} needs [base64 content, mode], not {spec!r}",
                                    errors.ECODE_INVAL)
    return spec[0], spec[1]


def check_file_writes(files: object, allowed: frozenset[Path] | set[Path], refusal: str
                      ) -> list[tuple[Path, bytes, int]]:
    """:func:`check_file_write` for ``{cluster path: [base64 content, mode]}``;
    returns ``[(path under the root, content, mode), ...]``."""
    if not isinstance(files, dict):
        raise errors.ParameterError("Files must be given as a dict", errors.ECODE_INVAL)
    return [check_file_write(name, *_file_spec(name, spec), allowed, refusal)
            for name, spec in files.items()]


@procedure("upload_file")
def upload_file(file_name: str, content_b64: str, mode: int) -> None:
    """Replace one of the cluster-wide files on this node.

    ``file_name`` is the file's cluster path (e.g.
    ``/var/lib/ganeti/rapi.pem``), mapped under this node's root; it must
    be in :func:`upload_allowlist`.  ``content_b64`` is the content in
    base64; ``mode`` the permission bits (e.g. ``0o440``).  Writes
    atomically.  Raises :class:`errors.OpPrereqError` for a file outside
    the allowlist, :class:`errors.ParameterError` for bad content or mode.
    """
    target, data, mode = check_file_write(
        file_name, content_b64, mode, upload_allowlist(),
        "is not in the list of files the node daemon accepts")
    atomic_write(target, data, mode=mode)
    log.info("Wrote %s (%d bytes, mode %o)", target, len(data), mode)


@procedure("write_ssconf_files")
def write_ssconf_files(values: dict[str, str]) -> None:
    """Replace this node's ssconf files with ``values`` (key -> file content).

    Writes ``<data_dir>/ssconf_<key>`` atomically (mode 0444) for each
    key and removes ssconf files of keys no longer present.  Keys are
    lower-case letters, digits and ``_``.  Raises
    :class:`errors.OpPrereqError` for a malformed key or a non-string
    value; nothing is written then.
    """
    if not isinstance(values, dict):
        raise errors.OpPrereqError(
            f"ssconf values must be a dict, not {type(values).__name__}", errors.ECODE_INVAL)
    for key, value in values.items():
        if not _SSCONF_KEY_RE.match(key):
            raise errors.OpPrereqError(
                f"Invalid ssconf key {key!r}: only lower-case letters, digits and '_' allowed",
                errors.ECODE_INVAL)
        if not isinstance(value, str):
            raise errors.OpPrereqError(
                f"Value of ssconf key {key!r} must be a string, not {type(value).__name__}",
                errors.ECODE_INVAL)
    p = paths.get()
    changed = {p.ssconf_file(k): v.encode() for k, v in values.items()}
    changed = {path: raw for path, raw in changed.items() if not _holds(path, raw)}
    for path, raw in changed.items():
        atomic_write(path, raw, mode=SSCONF_FILE_MODE, fsync_parent=False)
    wanted = {p.ssconf_file(k).name for k in values}
    removed = False
    for old in p.data_dir.glob(SSCONF_PREFIX + "*"):
        if old.name not in wanted and old.is_file():
            log.info("Removing stale ssconf file %s", old)
            old.unlink(missing_ok=True)
            removed = True
    if changed or removed:  # one directory fsync makes every rename above durable
        fsync_dir(p.data_dir)
        log.info("Wrote %d of %d ssconf files", len(changed), len(values))


def _holds(path: Path, raw: bytes) -> bool:
    """Whether ``path`` already has content ``raw`` and the ssconf file mode
    (an unchanged file is not rewritten: a config push usually changes one key)."""
    try:
        st = path.stat()
        if st.st_size != len(raw) or (st.st_mode & 0o7777) != SSCONF_FILE_MODE:
            return False
        return path.read_bytes() == raw
    except OSError:
        return False
