#!/bin/bash
# Set everything up, then run every test tier (unit, integration, e2e).
# Extra arguments go to pytest (e.g. tools/test.sh -m unit).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
exec .venv/bin/pytest -ra "$@"
