#!/usr/bin/env bash
# Start-up time and idle memory of Berth's containers beside docker, podman and bare runc.
set -euo pipefail
cd "$(dirname "$0")/.."
bash ../shared/tools/peers.sh start >/dev/null
.venv/bin/python -m compileall -q runtime >/dev/null  # as `make` does: no compile at each CLI start
exec .venv/bin/python bench/run.py "$@"
