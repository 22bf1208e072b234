"""What an ExtStorage ``attach`` script prints, and what it means.

Ganeti's interface: the first line of stdout is the full path of the local
block device the volume is mapped to; it may be empty when the provider
offers userspace access only.  Every further line is a URI for userspace
access, prefixed with the hypervisor it is meant for, e.g.
``kvm:rbd:pool/volume`` (QEMU then gets ``rbd:pool/volume``).

gnt checks the output: the first line must be empty or an absolute path
that exists and is a block device or, a gnt extension for file-backed
providers, a regular file; with an empty first line at least one URI is
needed.  Lines that are not ``<hypervisor>:<uri>`` are ignored (logged), as
Ganeti would never select them.
"""

from __future__ import annotations

import logging
import os
import re
import stat
from dataclasses import dataclass, field

from gnt import errors

log = logging.getLogger(__name__)

MIB = 1024 * 1024
_URI_RE = re.compile(r"^([A-Za-z0-9_-]+):(.+)$")
_SHOWN = 400  # characters of bad output quoted in an error


@dataclass(frozen=True)
class AttachInfo:
    """Parsed ``attach`` output: ``path`` (may be ``""``) and the ``uris`` lines."""

    path: str
    uris: list[str] = field(default_factory=list)

    def uri_for(self, hypervisor: str) -> str | None:
        """The URI for ``hypervisor`` (prefix matched case-insensitively), without
        the prefix; None when the provider gives none."""
        prefix = hypervisor.lower() + ":"
        for uri in self.uris:
            if uri[:len(prefix)].lower() == prefix:
                return uri[len(prefix):]
        return None


def _garbage(provider: str, volume: str, why: str, output: str) -> errors.BlockDeviceError:
    shown = output if len(output) <= _SHOWN else output[:_SHOWN] + "..."
    return errors.BlockDeviceError(
        f"ExtStorage provider '{provider}': attach script for volume '{volume}' printed "
        f"unusable output ({why}); expected the device path on the first line, then "
        f"optional '<hypervisor>:<uri>' lines. Output was: {shown!r}", errors.ECODE_ENVIRON)


def parse(provider: str, volume: str, output: str) -> AttachInfo:
    """Parse and check ``attach``'s stdout; raises BlockDeviceError
    (``environment_error``, quoting the output) when it is unusable."""
    lines = output.splitlines()
    path = lines[0].strip() if lines else ""
    uris = []
    for line in (ln.strip() for ln in lines[1:]):
        if not line:
            continue
        if _URI_RE.match(line):
            uris.append(line)
        else:
            log.warning("ExtStorage provider %s, volume %s: ignoring attach output line %r "
                        "(not '<hypervisor>:<uri>')", provider, volume, line)
    if not path:
        if not uris:
            raise _garbage(provider, volume, "neither a device path nor a userspace URI",
                           output)
        return AttachInfo(path="", uris=uris)
    if not os.path.isabs(path) or "\0" in path:
        raise _garbage(provider, volume, f"'{path}' is not an absolute path", output)
    try:
        st = os.stat(path)
    except OSError as err:
        raise _garbage(provider, volume, f"cannot stat '{path}': {err.strerror}",
                       output) from None
    if not (stat.S_ISBLK(st.st_mode) or stat.S_ISREG(st.st_mode)):
        raise _garbage(provider, volume,
                       f"'{path}' is neither a block device nor a regular file", output)
    return AttachInfo(path=path, uris=uris)


def device_size(path: str) -> int | None:
    """Size in MiB of the block device or regular file ``path``; None if unknown."""
    try:
        st = os.stat(path)
        if stat.S_ISREG(st.st_mode):
            return st.st_size // MIB
        fd = os.open(path, os.O_RDONLY)
        try:
            return os.lseek(fd, 0, os.SEEK_END) // MIB
        finally:
            os.close(fd)
    except OSError:
        return None
