#!/usr/bin/env bash
# Build time of Berth's builder beside docker's classic builder and podman build.
set -euo pipefail
cd "$(dirname "$0")/.."
bash ../shared/tools/peers.sh start >/dev/null
.venv/bin/python -m compileall -q runtime >/dev/null  # as `make` does: no compile at each CLI start
exec .venv/bin/python bench/build.py "$@"
