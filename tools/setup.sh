#!/bin/bash
# Set up everything gnt needs on this machine (Debian 12, as root), idempotently:
# Debian packages, the Python virtualenv with gnt and its dependencies in .venv,
# the test guest (kernel + initramfs + disk images in .cache/guest), and the
# shipped OS definitions in /srv/ganeti/os.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)

bash tools/install-deps.sh

PY=${PYTHON:-python3}
if [[ ! -x .venv/bin/python ]]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.gnt-installed
if [[ ! -f $stamp || pyproject.toml -nt $stamp ]]; then
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -e '.[test]'
  touch "$stamp"
fi

# Byte-compile gnt once: every gnt-* command is a fresh Python process, and
# with PYTHONDONTWRITEBYTECODE set (or a read-only tree) it would otherwise
# recompile its modules at every start (~50 ms per command).
.venv/bin/python -m compileall -q -j 0 gnt >/dev/null

bash tools/build-test-guest.sh

# OS definitions shipped with gnt, for a real (non-test) installation
mkdir -p /srv/ganeti/os
for os in os/*/; do
  name=$(basename "$os")
  target=/srv/ganeti/os/$name
  # (re)point links made by an earlier checkout; leave real directories alone
  if [[ -L $target || ! -e $target ]]; then
    ln -sfn "$REPO/os/$name" "$target"
  fi
done
echo "setup: done (commands in $REPO/.venv/bin)"
