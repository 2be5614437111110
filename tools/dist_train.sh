#!/usr/bin/env bash
# Train with NUM_PROCESSES processes (one per GPU; on a CPU-only machine, CPU
# processes talking over gloo):
#   tools/dist_train.sh CONFIG NUM_PROCESSES [train.py options]
# Environment: see tools/dist_launch.sh (PORT, NNODES, NODE_RANK, ...).
set -euo pipefail
exec "$(dirname "$0")/dist_launch.sh" train.py "$2" "$1" "${@:3}"
