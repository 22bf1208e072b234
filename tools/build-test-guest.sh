#!/bin/bash
# Build gnt's test guest from Debian packages (nothing binary is committed).
#
# Usage: tools/build-test-guest.sh [OUTDIR]
#   OUTDIR defaults to $GNT_GUEST_DIR, else <repo>/.cache/guest.
#
# Outputs in OUTDIR:
#   vmlinuz      the kernel of Debian's linux-image-cloud-amd64 (extracted, not installed)
#   initrd.img   gzip'd cpio (newc): busybox-static, virtio/ACPI modules, /init
#   disk.img     64 MiB raw ext4 holding gnt-image-marker ("installed-by-gnt-image-os")
#   disk.qcow2   the same as qcow2 (for gnt's `image` OS definition)
#   manifest     kernel version, package versions, module list, build hash
#
# The guest's /init (busybox sh) prints on the console (console=ttyS0):
#   GNT-TEST-GUEST-BOOTED          once userspace runs and modules are loaded
#   GNT-DISK-IMAGE: <text>         if /dev/vda holds /gnt-image-marker
#   GNT-DISK-OK <n>                after appending a line to /gnt-test.log on
#                                  /dev/vda (a blank disk is formatted first);
#                                  n = lines in that log (one per boot)
#   GNT-DISK-UNKNOWN               /dev/vda is neither ext2/3/4 nor blank
#   GNT-COUNTER <n>                every second, only with kernel arg gnt.counter=1
#   GNT-POWEROFF                   on an ACPI power button event, before powering off
# then keeps a shell on the console (respawned when it exits).  Kernel argument
# gnt.modules=a,b loads the optional modules a and b (OPTIONAL_MODULES) at boot.
#
# Rebuilds only when an output is missing or this script changed (hash in
# OUTDIR/.build-hash).  Needs: apt-get, dpkg-deb, depmod/modprobe (kmod), cpio,
# gzip, mkfs.ext4 (e2fsprogs), qemu-img, busybox-static: see tools/install-deps.sh.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SELF="$HERE/$(basename "${BASH_SOURCE[0]}")"
OUT=${1:-${GNT_GUEST_DIR:-$HERE/../.cache/guest}}
KERNEL_META=linux-image-cloud-amd64
BUSYBOX=/bin/busybox
# Modules to load (their dependencies are resolved with modprobe --show-depends).
# Drivers first, virtio_pci last, so devices bind as soon as the bus appears.
MODULES=(virtio_blk virtio_net virtio_pci button evdev)
# Modules shipped in /lib/modules but loaded only on demand (`insmod
# /lib/modules/NAME.ko` on the console, or kernel argument gnt.modules=a,b).
# virtio_balloon is one of them: loaded at boot, 4 of 8 killed-master migrations
# here (QEMU 7.2, TCG) left the guest's kernel spinning with interrupts off
# after it landed on the target, a hang seen only with the driver loaded.
OPTIONAL_MODULES=(virtio_balloon)
DISK_MIB=64
OUTPUTS=(vmlinuz initrd.img disk.img disk.qcow2 manifest)

log() { echo "build-test-guest: $*" >&2; }
die() { log "error: $*"; exit 1; }

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
HASH=$(sha256sum "$SELF" | cut -d' ' -f1)

up_to_date() {
  [[ -f "$OUT/.build-hash" && "$(cat "$OUT/.build-hash")" == "$HASH" ]] || return 1
  local f
  for f in "${OUTPUTS[@]}"; do [[ -s "$OUT/$f" ]] || return 1; done
}

# One build at a time per OUTDIR.
exec 9>"$OUT/.lock"
flock 9
if up_to_date; then
  log "up to date in $OUT"
  exit 0
fi

for tool in apt-get apt-cache dpkg-deb depmod modprobe cpio gzip mkfs.ext4 qemu-img; do
  command -v "$tool" >/dev/null || die "$tool not found; run tools/install-deps.sh"
done
[[ "$(dpkg-query -W -f='${db:Status-Status}' busybox-static 2>/dev/null)" == installed ]] \
  || die "busybox-static is not installed (a dynamic busybox cannot run in the initramfs); run tools/install-deps.sh"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/gnt-guest.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# --- kernel package ---------------------------------------------------------
kernel_pkg() {
  apt-cache depends "$KERNEL_META" 2>/dev/null \
    | awk '/^ *Depends: linux-image-[0-9].*-cloud-amd64/ {print $2; exit}'
}
PKG=$(kernel_pkg || true)
if [[ -z "$PKG" ]]; then
  log "package lists do not know $KERNEL_META; running apt-get update"
  apt-get update -qq
  PKG=$(kernel_pkg || true)
fi
[[ -n "$PKG" ]] || die "cannot resolve the kernel package that $KERNEL_META depends on"
log "downloading $PKG"
mkdir -p "$WORK/deb"
download() { (cd "$WORK/deb" && apt-get download -qq -o APT::Sandbox::User=root "$PKG"); }
if ! download; then
  log "download failed; refreshing the package lists and retrying"
  apt-get update -qq
  PKG=$(kernel_pkg || true)
  [[ -n "$PKG" ]] || die "cannot resolve the kernel package that $KERNEL_META depends on"
  download || die "apt-get download $PKG failed"
fi
DEB=$(ls "$WORK"/deb/*.deb)
dpkg-deb -x "$DEB" "$WORK/kernel"
KVER=$(ls "$WORK/kernel/lib/modules")
[[ -f "$WORK/kernel/boot/vmlinuz-$KVER" ]] || die "no vmlinuz-$KVER in $DEB"
PKG_VERSION=$(dpkg-deb -f "$DEB" Version)
depmod -b "$WORK/kernel" "$KVER"

# --- initramfs --------------------------------------------------------------
ROOT="$WORK/initramfs"
mkdir -p "$ROOT"/{bin,dev,etc/acpi/PWRF,lib/modules,mnt,proc,sys,tmp,root,var/log,var/run}
cp "$BUSYBOX" "$ROOT/bin/busybox"
for applet in $("$BUSYBOX" --list); do
  [[ "$applet" == busybox ]] || ln -sf busybox "$ROOT/bin/$applet"
done
ln -s bin "$ROOT/sbin"
if (( EUID == 0 )); then
  mknod -m 600 "$ROOT/dev/console" c 5 1
  mknod -m 666 "$ROOT/dev/null" c 1 3
fi

# Resolve module dependencies in load order; builtins need nothing.  Each
# module is shipped once: one already listed (e.g. a dependency loaded at
# boot) is not listed again.
declare -A SEEN=()
ship_modules() {  # ship_modules LISTFILE MODULE...: copy them, list them in LISTFILE
  local list=$1 m kind path base
  shift
  : >"$list"
  for m in "$@"; do
    while read -r kind path _; do
      [[ "$kind" == insmod ]] || continue
      base=$(basename "$path" .ko)
      [[ -n "${SEEN[$base]:-}" ]] && continue
      SEEN[$base]=1
      cp "$path" "$ROOT/lib/modules/$base.ko"
      echo "$base" >>"$list"
    done < <(modprobe -d "$WORK/kernel" -S "$KVER" --show-depends "$m")
  done
}
ship_modules "$ROOT/etc/modules" "${MODULES[@]}"
ship_modules "$ROOT/etc/modules.optional" "${OPTIONAL_MODULES[@]}"
# ext4 must be usable (built in here; fail loudly if a kernel update makes it a module).
grep -q '/ext4.ko' "$WORK/kernel/lib/modules/$KVER/modules.builtin" \
  || die "ext4 is not built into $KVER; add it to MODULES"

# Power button (ACPI, QMP system_powerdown) -> busybox acpid -> this handler.
cat >"$ROOT/etc/acpi/PWRF/00000080" <<'EOS'
#!/bin/sh
echo "GNT-POWEROFF" >/dev/console
[ -f /run-counter.pid ] && kill "$(cat /run-counter.pid)" 2>/dev/null
sync
umount /mnt 2>/dev/null
poweroff -f
EOS
chmod 755 "$ROOT/etc/acpi/PWRF/00000080"

cat >"$ROOT/init" <<'EOS'
#!/bin/sh
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
exec 0<>/dev/console 1>&0 2>&0
for m in $(cat /etc/modules); do
  insmod "/lib/modules/$m.ko" || echo "gnt-guest: insmod $m failed"
done
echo "GNT-TEST-GUEST-BOOTED"
acpid -c /etc/acpi -l /var/log/acpid.log || echo "gnt-guest: acpid failed; ACPI power button ignored"

if [ -b /dev/vda ]; then
  if ! mount -t ext4 /dev/vda /mnt 2>/dev/null; then
    if [ "$(dd if=/dev/vda bs=65536 count=16 2>/dev/null | tr -d '\000' | wc -c)" = 0 ]; then
      mke2fs -q /dev/vda >/dev/null && mount -t ext4 /dev/vda /mnt
    fi
  fi
  if grep -q ' /mnt ' /proc/mounts; then
    [ -f /mnt/gnt-image-marker ] && echo "GNT-DISK-IMAGE: $(cat /mnt/gnt-image-marker)"
    echo "boot at uptime $(cut -d' ' -f1 /proc/uptime)" >>/mnt/gnt-test.log
    sync
    echo "GNT-DISK-OK $(wc -l </mnt/gnt-test.log)"
  else
    echo "GNT-DISK-UNKNOWN"
  fi
fi

for arg in $(cat /proc/cmdline); do
  case "$arg" in
    gnt.modules=*)
      for m in $(echo "${arg#gnt.modules=}" | tr ',' ' '); do
        insmod "/lib/modules/$m.ko" || echo "gnt-guest: insmod $m failed"
      done ;;
  esac
  if [ "$arg" = gnt.counter=1 ]; then
    ( i=0; while :; do i=$((i+1)); echo "GNT-COUNTER $i"; sleep 1; done ) &
    echo $! >/run-counter.pid
  fi
done

hostname gnt-guest
while :; do
  setsid cttyhack sh -l
  sleep 1
done
EOS
chmod 755 "$ROOT/init"
echo 'PS1="gnt-guest# "; export PS1' >"$ROOT/etc/profile"

find "$ROOT" -exec touch -h -d @0 {} +  # reproducible archive
(cd "$ROOT" && find . -print0 | LC_ALL=C sort -z \
  | cpio --null -o -H newc -R 0:0 --quiet --reproducible | gzip -9n) >"$WORK/initrd.img"

# --- disk images ------------------------------------------------------------
mkdir -p "$WORK/diskroot"
echo "installed-by-gnt-image-os" >"$WORK/diskroot/gnt-image-marker"
mkfs.ext4 -q -F -L gnt-image -E root_owner=0:0 -d "$WORK/diskroot" "$WORK/disk.img" "${DISK_MIB}M" >/dev/null
qemu-img convert -f raw -O qcow2 "$WORK/disk.img" "$WORK/disk.qcow2"

cat >"$WORK/manifest" <<EOM
kernel_version=$KVER
kernel_package=$PKG
kernel_package_version=$PKG_VERSION
busybox_version=$(dpkg-query -W -f='${Version}' busybox-static)
modules=$(tr '\n' ' ' <"$ROOT/etc/modules" | sed 's/ $//')
optional_modules=$(tr '\n' ' ' <"$ROOT/etc/modules.optional" | sed 's/ $//')
disk_mib=$DISK_MIB
build_hash=$HASH
EOM

cp "$WORK/kernel/boot/vmlinuz-$KVER" "$WORK/vmlinuz"
for f in "${OUTPUTS[@]}"; do
  mv -f "$WORK/$f" "$OUT/.$f.new"
  mv -f "$OUT/.$f.new" "$OUT/$f"
done
echo "$HASH" >"$OUT/.build-hash"
log "built in $OUT: kernel $KVER, initrd $(stat -c %s "$OUT/initrd.img") bytes"
