#!/usr/bin/env bash
# Run tools/SCRIPT as a slurm job of GPUS tasks (the shared part of
# slurm_train.sh and slurm_test.sh):
#   tools/slurm_launch.sh PARTITION JOB_NAME SCRIPT [SCRIPT ARGS...]
# Environment: GPUS (8 tasks), GPUS_PER_NODE (8), CPUS_PER_TASK (5),
# GRES (gpu:$GPUS_PER_NODE; set GRES= for CPU-only nodes), SRUN_ARGS,
# PYTHON (python).
set -euo pipefail
tools=$(cd "$(dirname "$0")" && pwd)
partition=$1
job_name=$2
script=$3
shift 3
gpus=${GPUS:-8}
gpus_per_node=${GPUS_PER_NODE:-8}
gres=${GRES-gpu:$gpus_per_node}
set -x
PYTHONPATH="$tools/..${PYTHONPATH:+:$PYTHONPATH}" \
srun -p "$partition" \
  --job-name="$job_name" \
  ${gres:+--gres="$gres"} \
  --ntasks="$gpus" \
  --ntasks-per-node="$gpus_per_node" \
  --cpus-per-task="${CPUS_PER_TASK:-5}" \
  --kill-on-bad-exit=1 \
  ${SRUN_ARGS:-} \
  "${PYTHON:-python}" -u "$tools/$script" "$@" --launcher slurm
