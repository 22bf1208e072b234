"""End to end: Debian's ganeti-instance-debootstrap, unchanged, installs a Debian
instance that boots to its login prompt under the kvm hypervisor.

Set-up (all idempotent, done by the fixtures here):

* the OS definition is the package's ``/usr/share/ganeti/os/debootstrap``,
  symlinked into the node's ``<root>/srv/ganeti/os``;
* the package reads its configuration from ``/etc`` (the scripts source
  ``/etc/default/ganeti-instance-debootstrap`` and
  ``/etc/ganeti/instance-debootstrap/variants/<variant>.conf``); this test
  adds its own variant ``gnt-e2e`` there, as an administrator would (a
  ``.conf`` file plus a line in ``variants.list``), leaving the defaults
  file alone.  The variant installs the host's Debian release from the
  mirror apt uses, formats the whole disk without a partition table
  (``PARTITION_STYLE=none``) and keeps debootstrap's own cache tarball in
  ``<repo>/.cache/debootstrap`` (so a fresh clone re-creates it);
* the guest boots the test guest's Debian kernel (``.cache/guest/vmlinuz``)
  with a small initramfs made here from the test guest's one (same kernel
  modules: virtio_blk; ext4 is built in) whose ``/init`` mounts ``/dev/vda``
  and switches to the installed system's ``/sbin/init``.

The Debian mirror must be reachable; if it is not, the test fails saying
so (it never skips).  The time from ``gnt-instance add`` to ``login:`` on
the serial console is printed as JSON.  The package's ``rename`` (which
rewrites the guest's hostname) and ``export`` (dump(8) of the root file
system) then run through gnt's node procedures, and a second boot shows
the new hostname at the login prompt.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cluster import GUEST_DIR, REPO, TestCluster, wait_for
from tests.support.os_rpc import instance_call_args, master_rpc

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

OS_SOURCE = Path("/usr/share/ganeti/os/debootstrap")
CONF_DIR = Path("/etc/ganeti/instance-debootstrap")
VARIANT = "gnt-e2e"
CACHE_DIR = REPO / ".cache" / "debootstrap"
DISK_SIZE = "1G"  # the package refuses disks under 512 MiB
MEMORY = "256M"

SWITCH_ROOT_INIT = """#!/bin/sh
# gnt e2e: load the virtio modules, mount root= read-only, switch to its init
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
exec 0<>/dev/console 1>&0 2>&0
for m in $(cat /etc/modules); do insmod "/lib/modules/$m.ko" 2>/dev/null; done
root=/dev/vda
for arg in $(cat /proc/cmdline); do
  case "$arg" in root=*) root=${arg#root=} ;; esac
done
i=0
while [ ! -b "$root" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
mkdir -p /newroot
if ! mount -t ext4 -o ro "$root" /newroot; then
  echo "gnt-switchroot: cannot mount $root"; exec sh
fi
echo "gnt-switchroot: switching to $root"
umount /sys /proc
mount --move /dev /newroot/dev
exec switch_root /newroot /sbin/init
"""


def _require(cond: bool, why: str) -> None:
    if not cond:
        pytest.fail(why, pytrace=False)


def host_codename() -> str:
    for line in Path("/etc/os-release").read_text().splitlines():
        if line.startswith("VERSION_CODENAME="):
            return line.split("=", 1)[1].strip().strip('"')
    raise AssertionError("no VERSION_CODENAME in /etc/os-release")


def debian_mirror(suite: str) -> str:
    """The Debian archive apt is configured with for ``suite`` (deb822 ``.sources``
    files first, then one-line ``sources.list`` entries)."""
    apt = Path("/etc/apt")
    for src in sorted(apt.glob("sources.list.d/*.sources")):
        for stanza in re.split(r"\n\s*\n", src.read_text()):
            fields: dict[str, str] = {}
            for line in stanza.splitlines():
                if ":" in line and not line.lstrip().startswith("#"):
                    k, v = line.split(":", 1)
                    fields[k.strip().lower()] = v.strip()
            if ("deb" in fields.get("types", "").split() and suite in
                    fields.get("suites", "").split() and "main" in
                    fields.get("components", "").split()):
                return fields["uris"].split()[0].rstrip("/")
    lists = [apt / "sources.list", *sorted(apt.glob("sources.list.d/*.list"))]
    for f in lists:
        if not f.exists():
            continue
        for line in f.read_text().splitlines():
            words = re.sub(r"\[[^]]*\]", "", line).split()
            if len(words) >= 4 and words[0] == "deb" and words[2] == suite and "main" in words:
                return words[1].rstrip("/")
    raise AssertionError(f"apt has no Debian source for {suite} main configured")


def check_mirror(mirror: str, suite: str) -> None:
    """Fail the test (never skip) when the mirror does not answer."""
    url = f"{mirror}/dists/{suite}/Release"
    try:
        with urllib.request.urlopen(url, timeout=20) as resp:
            resp.read(64)
    except (urllib.error.URLError, OSError) as err:
        pytest.fail(f"Debian mirror {mirror} is unreachable ({url}: {err}); "
                    "ganeti-instance-debootstrap needs it to build its cache", pytrace=False)


def install_variant(mirror: str, suite: str) -> None:
    """gnt's variant of the debootstrap OS: whole-disk ext4, our mirror and cache."""
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    conf = (f"# written by gnt's {Path(__file__).relative_to(REPO)}\n"
            f'SUITE="{suite}"\nMIRROR="{mirror}"\nPARTITION_STYLE="none"\n'
            f'CACHE_DIR="{CACHE_DIR}"\nGENERATE_CACHE="yes"\n')
    target = CONF_DIR / "variants" / f"{VARIANT}.conf"
    if not target.exists() or target.read_text() != conf:
        _replace(target, conf)
    vlist = CONF_DIR / "variants.list"
    text = vlist.read_text() if vlist.exists() else ""
    if VARIANT not in (ln.strip() for ln in text.splitlines()):
        _replace(vlist, text + ("" if not text or text.endswith("\n") else "\n") +
                 f"{VARIANT}\n")


def _replace(path: Path, text: str) -> None:
    """Write ``path`` atomically (temp file in the same directory, rename)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def build_switchroot_initrd(out: Path) -> None:
    """The test guest's initramfs with a switch_root ``/init`` (same kernel modules)."""
    work = Path(tempfile.mkdtemp(prefix="gnt-initrd-"))
    try:
        with open(GUEST_DIR / "initrd.img", "rb") as src:
            gz = subprocess.run(["gzip", "-dc"], stdin=src, capture_output=True, check=True)
        subprocess.run(["cpio", "-idm", "--quiet"], input=gz.stdout, cwd=work, check=True)
        init = work / "init"
        init.write_text(SWITCH_ROOT_INIT)
        init.chmod(0o755)
        files = subprocess.run("find . -print0 | LC_ALL=C sort -z", shell=True, cwd=work,
                               capture_output=True, check=True).stdout
        archive = subprocess.run(["cpio", "--null", "-o", "-H", "newc", "-R", "0:0",
                                  "--quiet"], input=files, cwd=work, capture_output=True,
                                 check=True).stdout
        out.write_bytes(subprocess.run(["gzip", "-1n"], input=archive, capture_output=True,
                                       check=True).stdout)
    finally:
        shutil.rmtree(work, ignore_errors=True)


@pytest.fixture
def debootstrap_cluster(cluster_root: Path) -> Iterator[TestCluster]:
    _require(os.geteuid() == 0, "ganeti-instance-debootstrap needs root (losetup, mount, "
                                "chroot)")
    _require((OS_SOURCE / "create").exists(),
             "ganeti-instance-debootstrap is not installed (run tools/install-deps.sh)")
    _require((GUEST_DIR / "vmlinuz").exists() and (GUEST_DIR / "initrd.img").exists(),
             "the test guest is not built (run tools/build-test-guest.sh)")
    _require(shutil.which("qemu-system-x86_64") is not None, "QEMU is missing")
    suite = host_codename()
    mirror = debian_mirror(suite)
    check_mirror(mirror, suite)
    install_variant(mirror, suite)
    initrd = cluster_root / "switchroot-initrd.img"
    build_switchroot_initrd(initrd)

    c = TestCluster(cluster_root)
    (cluster_root / "srv/ganeti/os/debootstrap").symlink_to(OS_SOURCE)
    try:
        c.init("--enabled-hypervisors", "kvm", "--enabled-disk-templates", "file",
               "-H", f"kvm:kernel_path={GUEST_DIR / 'vmlinuz'},initrd_path={initrd},"
                     "root_path=/dev/vda,kernel_args=ro,serial_console=true")
        yield c
    finally:
        c.destroy()


def _wait_login(serial: Path, offset: int, who: str) -> str:
    """Wait for ``<who> login:`` in the serial log after ``offset`` (agetty shows the
    host name up to its first dot unless told otherwise); returns that part."""
    prompt = re.compile(re.escape(who.split(".")[0]) + r"(\.\S+)? login:")

    def seen() -> str | None:
        if not serial.exists():
            return None
        text = serial.read_bytes()[offset:].decode(errors="replace")
        return text if prompt.search(text) else None

    try:
        return str(wait_for(seen, timeout=240, interval=0.5))
    except AssertionError:
        tail = serial.read_text(errors="replace")[-3000:] if serial.exists() else "(none)"
        raise AssertionError(f"no '{who} login:' on the serial console; its end:\n{tail}"
                             ) from None


def test_debootstrap_instance_boots_to_login(debootstrap_cluster: TestCluster) -> None:
    c = debootstrap_cluster
    os_name = f"debootstrap+{VARIANT}"
    assert os_name in c.ok("gnt-os", "list", "--no-headers").split()
    cached = any(CACHE_DIR.glob("cache-*.tar"))

    t0 = time.monotonic()
    c.ok("gnt-instance", "add", "-t", "file", "--disk", f"0:size={DISK_SIZE}", "-o", os_name,
         "-O", "filesystem=ext4", "-B", f"memory={MEMORY}", "--no-nics", "inst1",
         timeout=780)
    created = time.monotonic() - t0
    serial = c.root / "var/log/ganeti/kvm/inst1.gnt.test.serial.log"
    text = _wait_login(serial, 0, "inst1.gnt.test")
    booted = time.monotonic() - t0
    assert "gnt-switchroot: switching to /dev/vda" in text
    assert re.search(r"Debian GNU/Linux \d+", text), text[-2000:]

    # the package's create script logged into gnt's OS log, Ganeti's naming
    logs = list((c.root / "var/log/ganeti/os").glob(f"add-{os_name}-inst1.gnt.test-*.log"))
    assert len(logs) == 1
    print(json.dumps({"debootstrap_cache_used": cached, "create_s": round(created, 1),
                      "create_to_login_s": round(booted, 1)}))

    # the package's rename and export scripts through gnt's node procedures
    c.ok("gnt-instance", "shutdown", "--timeout", "0", "inst1", timeout=120)
    rpc = master_rpc(c)
    node, spec, bdevs = instance_call_args(rpc, "inst1.gnt.test")
    res = rpc.instance_os_rename(node, spec.model_copy(update={"name": "inst2.gnt.test"}),
                                 bdevs, "inst1.gnt.test", 0)
    res.raise_on_fail()
    assert Path(res.data).name.startswith(f"rename-{os_name}-inst1.gnt.test-inst2.gnt.test-")
    res = rpc.instance_os_export(node, spec, bdevs, 0, "/srv/ganeti/export/inst1/disk0.dump",
                                 0)
    res.raise_on_fail()
    dump = c.root / "srv/ganeti/export/inst1/disk0.dump"
    assert res.data["size"] == dump.stat().st_size > 50 * 1024 * 1024  # dump(8) of the fs
    offset = serial.stat().st_size
    c.ok("gnt-instance", "startup", "inst1", timeout=120)
    _wait_login(serial, offset, "inst2.gnt.test")  # the guest's hostname was renamed

    c.ok("gnt-instance", "remove", "-f", "--shutdown-timeout", "0", "inst1", timeout=180)
    assert not any((c.root / "srv/ganeti/file-storage").rglob("*disk0"))
