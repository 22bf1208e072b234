# common.sh - shared helpers of the gnt "image" OS definition (sourced, not run).
#
# Messages go to stderr: the node daemon appends both output streams of
# create/rename to the OS log, and export's stdout carries the disk data.

log() {
  echo "image: $*" >&2
}

die() {
  echo "image: error: $*" >&2
  exit 1
}

# usage TEXT ARGS...: print TEXT on -h/--help (exit 0) or on unexpected
# arguments (exit 1).
usage() {
  text=$1
  shift
  case "${1:-}" in
    "") return 0 ;;
    -h|--help) echo "$text"; exit 0 ;;
    *) echo "$text" >&2; exit 1 ;;
  esac
}

# image_variant: the variant to use (OS_VARIANT, default raw).
image_variant() {
  case "${OS_VARIANT:-raw}" in
    raw|qcow2) echo "${OS_VARIANT:-raw}" ;;
    *) die "unknown variant '${OS_VARIANT}' (known: raw, qcow2)" ;;
  esac
}

# device_size PATH: size in bytes of a block device or regular file.
device_size() {
  if [ -b "$1" ]; then
    blockdev --getsize64 "$1"
  elif [ -f "$1" ]; then
    stat -L -c %s "$1"
  else
    die "'$1' is neither a block device nor a regular file"
  fi
}

# check_image PATH: the image must be an absolute path to a readable
# regular file or block device.
check_image() {
  case "$1" in
    /*) ;;
    *) die "the image parameter must be an absolute path, got '$1'" ;;
  esac
  [ -e "$1" ] || die "image '$1' does not exist"
  [ -f "$1" ] || [ -b "$1" ] || die "image '$1' is not a regular file or a block device"
  [ -r "$1" ] || die "image '$1' is not readable"
}

# qcow2_info PATH: qemu-img's JSON description of a qcow2 image; refuses
# images that are not qcow2 or that read other files (backing or external
# data files), which could expose host files to the guest.
qcow2_info() {
  command -v qemu-img >/dev/null 2>&1 || die "qemu-img is needed for qcow2 images"
  info=$(qemu-img info --output=json -f qcow2 "$1" 2>&1) \
    || die "'$1' is not a valid qcow2 image: $info"
  case "$info" in
    *'"backing-filename"'*) die "qcow2 image '$1' has a backing file; flatten it first" ;;
    *'"data-file"'*) die "qcow2 image '$1' uses an external data file; flatten it first" ;;
  esac
  echo "$info"
}

# image_size VARIANT PATH: the size in bytes the image has once written.
image_size() {
  if [ "$1" = qcow2 ]; then
    info=$(qcow2_info "$2") || exit 1
    size=$(echo "$info" | sed -n 's/^[[:space:]]*"virtual-size":[[:space:]]*\([0-9][0-9]*\).*/\1/p' | head -n 1)
    [ -n "$size" ] || die "cannot read the virtual size of '$2'"
    echo "$size"
  else
    device_size "$2"
  fi
}

# gnu_dd: whether dd is GNU's (sparse and status=none supported).
gnu_dd() {
  dd --version >/dev/null 2>&1
}

# copy_raw SOURCE TARGET: copy SOURCE to the start of TARGET without
# truncating it; sparse when TARGET is a regular file (which the caller has
# zeroed, so skipped zero blocks read back as zeros).
copy_raw() {
  if gnu_dd; then
    if [ -f "$2" ]; then
      dd if="$1" of="$2" bs=1M conv=sparse,notrunc,fsync status=none
    else
      dd if="$1" of="$2" bs=1M conv=notrunc,fsync status=none
    fi
  else
    dd if="$1" of="$2" bs=1048576 conv=notrunc
  fi
}

# zero_file PATH: make a regular file all zeros (sparse), keeping its size.
zero_file() {
  size=$(stat -L -c %s "$1")
  truncate -s 0 "$1"
  truncate -s "$size" "$1"
}
