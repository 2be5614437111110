#!/usr/bin/env bash
# Start NUM_PROCESSES copies of tools/SCRIPT with torchrun (the shared part of
# dist_train.sh and dist_test.sh):
#   tools/dist_launch.sh SCRIPT NUM_PROCESSES [SCRIPT ARGS...]
# Environment: NNODES (1), NODE_RANK (0), MASTER_ADDR (127.0.0.1),
# PORT (29500), PYTHON (python). Without a GPU the processes train on CPU.
set -euo pipefail
tools=$(cd "$(dirname "$0")" && pwd)
script=$1
nproc=$2
shift 2
PYTHONPATH="$tools/..${PYTHONPATH:+:$PYTHONPATH}" \
exec "${PYTHON:-python}" -m torch.distributed.run \
  --nnodes="${NNODES:-1}" \
  --node_rank="${NODE_RANK:-0}" \
  --master_addr="${MASTER_ADDR:-127.0.0.1}" \
  --master_port="${PORT:-29500}" \
  --nproc_per_node="$nproc" \
  "$tools/$script" "$@" --launcher pytorch
