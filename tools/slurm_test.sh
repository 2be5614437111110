#!/usr/bin/env bash
# Test a checkpoint as a slurm job:
#   tools/slurm_test.sh PARTITION JOB_NAME CONFIG CHECKPOINT [test.py options]
# Environment: see tools/slurm_launch.sh (GPUS, GPUS_PER_NODE, SRUN_ARGS, ...).
set -euo pipefail
exec "$(dirname "$0")/slurm_launch.sh" "$1" "$2" test.py "$3" "$4" "${@:5}"
