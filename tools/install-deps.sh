#!/bin/bash
# Install the Debian packages gnt needs on a node / test machine (Debian 12, as root).
#
# Idempotent and fast when everything is present: `apt-get update` runs only
# when a package is missing, packages are installed with
# --no-install-recommends.  Extra packages can be given as arguments.
#
# Usage: tools/install-deps.sh [EXTRA_PACKAGE...]
set -euo pipefail

PACKAGES=(
  qemu-system-x86   # qemu-system-x86_64 (KVM or TCG)
  qemu-utils        # qemu-img (disk images)
  busybox-static    # the test guest's userland (tools/build-test-guest.sh)
  socat             # serial console access (gnt-instance console)
  cpio              # initramfs for the test guest
  kmod              # depmod/modprobe to resolve the guest kernel's module deps
  e2fsprogs         # mkfs.ext4 (test guest disk images)
  gzip
  iproute2          # ip: tap devices on bridges for kvm NICs
  ganeti-htools-3.0 # Ganeti's htools: the reference for gnt's htools (compat tests, bench)
  python3-ganeti-rapi  # Ganeti's RAPI client: compat test of gnt-rapi
  ganeti-os-noop    # third-party OS definition used unchanged (tests/integration/test_os_noop.py)
  ganeti-instance-debootstrap  # third-party OS definition used unchanged (tests/e2e/test_os_debootstrap.py)
  openssh-client    # ssh: gnt-node add reaches a new node over SSH
  openssh-server    # sshd for tests/integration/test_join_ssh.py (its own sshd per test; the
                    # system service stays off, see below)
  "$@"
)

missing=()
for p in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "installed" ]] || missing+=("$p")
done

if (( ${#missing[@]} == 0 )); then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

if (( EUID != 0 )); then
  echo "install-deps: missing packages: ${missing[*]}; run as root" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}"
# openssh-server is here for the tests, which run their own sshd on a node's
# 127.x address: when this script installs it, the system service must not
# start (nor listen on 0.0.0.0:22).  Debian's ssh.service and init script do
# nothing while /etc/ssh/sshd_not_to_be_run exists.
if [[ " ${missing[*]} " == *" openssh-server "* ]]; then
  mkdir -p /etc/ssh
  touch /etc/ssh/sshd_not_to_be_run
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
if [[ " ${missing[*]} " == *" openssh-server "* ]] && command -v systemctl >/dev/null \
    && [[ -d /run/systemd/system ]]; then
  systemctl disable --now ssh.service ssh.socket >/dev/null 2>&1 || true
fi
