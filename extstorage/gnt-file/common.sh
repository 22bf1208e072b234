# common.sh - shared helpers of the gnt "gnt-file" ExtStorage provider (sourced).
#
# Volumes are sparse files named after VOL_NAME in one directory: the ext
# parameter "dir" (a cluster path, taken below GNT_ROOT, which gnt exports;
# default /srv/ganeti/shared-file-storage/gnt-file).  For the volumes to
# move between nodes (failover, migration), that directory must be the
# same on every node: NFS or a cluster file system in production, the
# shared directory of a gnt test cluster.
#
# Ganeti ExtStorage environment used: VOL_NAME, VOL_SIZE, VOL_NEW_SIZE,
# VOL_METADATA, EXTP_DIR.  Messages go to stderr; only attach prints on
# stdout (its result).

DEFAULT_DIR=/srv/ganeti/shared-file-storage/gnt-file

die() {
  echo "gnt-file: error: $*" >&2
  exit 1
}

# usage TEXT ARGS...: print TEXT on -h/--help (exit 0) or on unexpected
# arguments (exit 1); the scripts take no arguments.
usage() {
  text=$1
  shift
  case "${1:-}" in
    "") [ $# -eq 0 ] && return 0; echo "$text" >&2; exit 1 ;;
    -h|--help) echo "$text"; exit 0 ;;
    *) echo "$text" >&2; exit 1 ;;
  esac
}

# set_paths: set VOL_DIR (the local directory of the volumes) and VOL_PATH
# (the file of VOL_NAME), checking both.  Runs in the calling shell (not in
# $(...)), so that a failed check ends the script.
set_paths() {
  VOL_DIR=${EXTP_DIR:-$DEFAULT_DIR}
  case "$VOL_DIR" in
    /*) ;;
    *) die "parameter dir='$VOL_DIR' must be an absolute path" ;;
  esac
  root=${GNT_ROOT:-/}
  VOL_DIR="${root%/}$VOL_DIR"
  case "${VOL_NAME:-}" in
    ""|.|..|*/*) die "invalid volume name '${VOL_NAME:-}'" ;;
  esac
  VOL_PATH="$VOL_DIR/$VOL_NAME"
}

# check_size NAME VALUE: VALUE must be a positive integer (MiB).
check_size() {
  case "$2" in
    ""|*[!0-9]*|0) die "$1='$2' is not a positive number of MiB" ;;
  esac
}
