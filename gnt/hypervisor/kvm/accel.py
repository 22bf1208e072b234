"""Choosing the accelerator: KVM when it really runs guests, TCG otherwise.

``/dev/kvm`` existing (or even opening) does not mean KVM works: under some
nested setups QEMU starts, the BIOS runs, and the guest hangs as soon as it
uses the FPU/SSE in long mode.  So the probe boots a 512-byte boot sector
(:data:`PROBE_SECTOR`) under ``-accel kvm`` that does what every 64-bit OS
does first: protected mode, paging + long mode, SSE, a memory write above
1 MiB.  It then writes ``0x31`` to an ``isa-debug-exit`` device, which makes
QEMU exit with status ``(0x31 << 1) | 1`` = 99.  Anything else (error,
another status, no exit within the timeout) means KVM is not usable.

The verdict is cached per node in ``<kvm_run_dir>/accel-probe.json``, keyed
by the QEMU binary (path, size, mtime) and the host's boot id, and guarded
by a lock so concurrent starts probe once.

Probe source (GNU as, ``as --32`` + ``ld --oformat binary -Ttext 0``)::

    .intel_syntax noprefix
    .code16
      cli; xor ax,ax; mov ds,ax; mov es,ax; mov ss,ax; mov sp,0x7c00
      lgdt [gdt_desc+0x7c00]
      mov eax,cr0; or eax,1; mov cr0,eax          # protected mode
      ljmpl 0x08:pm32+0x7c00
    .code32
    pm32:
      mov ax,0x10; mov ds,ax; mov es,ax; mov ss,ax
      mov edi,0x1000; xor eax,eax; mov ecx,0xc00; rep stosd
      mov dword ptr [0x1000],0x2003               # PML4 -> PDPT
      mov dword ptr [0x2000],0x3003               # PDPT -> PD
      mov dword ptr [0x3000],0x0083               # PD: 2 MiB identity page
      mov eax,0x1000; mov cr3,eax
      mov eax,cr4; or eax,0x620; mov cr4,eax      # PAE, OSFXSR, OSXMMEXCPT
      mov ecx,0xc0000080; rdmsr; or eax,0x100; wrmsr   # EFER.LME
      mov eax,cr0; and eax,0xfffffffb; or eax,0x80000002; mov cr0,eax  # PG, MP, !EM
      ljmp 0x18:lm64+0x7c00
    .code64
    lm64:
      mov rdi,0x100000; mov [rdi],rdi
      pxor xmm0,xmm0; movdqu xmm1,[rdi]; paddq xmm0,xmm1; movq rax,xmm0
      cmp rax,rdi; jne fail
      mov al,0x31; out 0xf4,al                     # success: exit status 99
    halt: hlt; jmp halt
    fail: mov al,0x10; out 0xf4,al; jmp halt       # failure: exit status 33
    gdt: null, code32 0x00cf9a000000ffff, data 0x00cf92000000ffff,
         code64 0x00af9a000000ffff;  gdt_desc: .word 31; .long gdt+0x7c00
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from gnt import errors, paths
from gnt.hypervisor.kvm import params as P
from gnt.utils.io import atomic_write

log = logging.getLogger(__name__)

_CODE = bytes.fromhex(
    "fa31c08ed88ec08ed0bc007c0f0116e07c0f20c06683c8010f22c066ea237c0000080066b81000"
    "8ed88ec08ed0bf0010000031c0b9000c0000f3abc7050010000003200000c70500200000033000"
    "00c7050030000083000000b8001000000f22d80f20e00d200600000f22e0b9800000c00f320d00"
    "0100000f300f20c083e0fb0d020000800f22c0ea8f7c0000180048c7c70000100048893f660fef"
    "c0f30f6f0f660fd4c166480f7ec04839f87507b031e6f4f4ebfdb010e6f4ebf78d742600000000"
    "0000000000ffff0000009acf00ffff00000092cf00ffff0000009aaf001f00c07c0000")
PROBE_SECTOR = _CODE + b"\0" * (510 - len(_CODE)) + b"\x55\xaa"
PROBE_OK_STATUS = 99  # (0x31 << 1) | 1
PROBE_TIMEOUT = 4.0  # s; a working KVM needs well under 1 s, and one slower than
# this would boot guests slower than TCG does anyway
_CACHE_NAME = "accel-probe.json"


def run_probe(qemu: str, accel: str, timeout: float = PROBE_TIMEOUT) -> tuple[bool, str]:
    """Boot :data:`PROBE_SECTOR` with ``-accel <accel>``; (works, detail)."""
    with tempfile.TemporaryDirectory(prefix="gnt-kvm-probe-") as tmp:
        img = Path(tmp) / "probe.img"
        img.write_bytes(PROBE_SECTOR)
        cmd = [qemu, "-accel", accel, "-nodefaults", "-display", "none", "-m", "16",
               "-no-reboot", "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
               "-drive", f"file={img},format=raw,if=ide"]
        t0 = time.monotonic()
        try:
            res = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True,
                                 timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            return False, f"no result within {timeout:.0f}s (the guest hangs)"
        except OSError as err:
            return False, f"cannot run {qemu}: {err.strerror}"
        took = time.monotonic() - t0
        if res.returncode == PROBE_OK_STATUS:
            return True, f"probe guest ran in {took:.2f}s"
        tail = res.stderr.decode(errors="replace").strip().splitlines()[-1:] or [""]
        return False, f"exit status {res.returncode}: {tail[0]}"


def _cache_key(qemu: str) -> dict[str, Any]:
    try:
        st = os.stat(qemu)
        ident: list[object] = [st.st_size, st.st_mtime_ns]
    except OSError:
        ident = []
    try:
        boot_id = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        boot_id = ""
    return {"qemu": qemu, "qemu_stat": ident, "boot_id": boot_id}


def kvm_usable(qemu: str) -> tuple[bool, str]:
    """Whether KVM runs guests with ``qemu`` on this node (cached); (usable, detail)."""
    run_dir = paths.get().kvm_run_dir
    run_dir.mkdir(parents=True, exist_ok=True)
    cache = run_dir / _CACHE_NAME
    key = _cache_key(qemu)
    with open(run_dir / (_CACHE_NAME + ".lock"), "a") as lockf:
        fcntl.flock(lockf, fcntl.LOCK_EX)
        try:
            data = json.loads(cache.read_text())
            if data.get("key") == key:
                return bool(data["usable"]), str(data.get("detail", "")) + " (cached)"
        except (OSError, ValueError, KeyError):
            pass
        if not os.path.exists("/dev/kvm"):
            usable, detail = False, "/dev/kvm does not exist"
        else:
            usable, detail = run_probe(qemu, P.ACCEL_KVM)
        log.info("KVM probe with %s: %s (%s)", qemu, "usable" if usable else "not usable",
                 detail)
        atomic_write(cache, json.dumps({"key": key, "usable": usable, "detail": detail,
                                        "probed_at": time.time()}), fsync=False)
        return usable, detail


def choose(hvparams: dict[str, Any]) -> tuple[str, str]:
    """The accelerator for an instance: (``kvm``|``tcg``, why).

    ``accel`` = ``kvm``/``tcg`` wins; with ``auto``, ``kvm_flag`` =
    ``enabled``/``disabled`` decides, else the (cached) probe does.  Raises
    HypervisorError when ``accel`` and ``kvm_flag`` contradict each other.
    """
    accel = str(hvparams.get(P.ACCEL) or P.ACCEL_AUTO)
    flag = str(hvparams.get(P.KVM_FLAG) or "")
    if (accel == P.ACCEL_TCG and flag == P.KVM_FLAG_ENABLED) or (
            accel == P.ACCEL_KVM and flag == P.KVM_FLAG_DISABLED):
        raise errors.HypervisorError(
            f"Contradicting kvm hypervisor parameters: accel={accel} and kvm_flag={flag}",
            errors.ECODE_INVAL)
    if accel in (P.ACCEL_KVM, P.ACCEL_TCG):
        return accel, f"accel={accel}"
    if flag == P.KVM_FLAG_ENABLED:
        return P.ACCEL_KVM, "kvm_flag=enabled"
    if flag == P.KVM_FLAG_DISABLED:
        return P.ACCEL_TCG, "kvm_flag=disabled"
    usable, detail = kvm_usable(str(hvparams[P.KVM_PATH]))
    return (P.ACCEL_KVM if usable else P.ACCEL_TCG), f"probe: {detail}"
