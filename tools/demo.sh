#!/bin/bash
# Set everything up, then run the demo: a gnt cluster on this machine boots a
# real Linux guest under QEMU (see tools/demo.py).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
exec .venv/bin/python tools/demo.py "$@"
