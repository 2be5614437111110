#!/usr/bin/env bash
# Train as a slurm job:
#   tools/slurm_train.sh PARTITION JOB_NAME CONFIG WORK_DIR [train.py options]
# Environment: see tools/slurm_launch.sh (GPUS, GPUS_PER_NODE, SRUN_ARGS, ...).
set -euo pipefail
exec "$(dirname "$0")/slurm_launch.sh" "$1" "$2" train.py "$3" \
  --work-dir "$4" "${@:5}"
