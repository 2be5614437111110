#!/usr/bin/env bash
# Test a checkpoint with NUM_PROCESSES processes (GPUs, or CPU processes):
#   tools/dist_test.sh CONFIG CHECKPOINT NUM_PROCESSES [test.py options]
# Environment: see tools/dist_launch.sh (PORT, NNODES, NODE_RANK, ...).
set -euo pipefail
exec "$(dirname "$0")/dist_launch.sh" test.py "$3" "$1" "$2" "${@:4}"
