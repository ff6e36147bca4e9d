#!/usr/bin/env bash
# Start-up time and idle memory of Berth's containers beside docker, podman and bare runc.
set -euo pipefail
cd "$(dirname "$0")/.."
bash ../shared/tools/peers.sh start >/dev/null
exec .venv/bin/python bench/run.py "$@"
