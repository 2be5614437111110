"""Test a checkpoint with the metrics of its config (any of the toolboxes).

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out FILE.pkl]
        [--show-dir DIR] [--allow-partial-checkpoint]
        [--cfg-options KEY=VALUE ...] [--launcher {none,pytorch,slurm,mpi}]

The metrics (e.g. COCO bbox mAP, mIoU, top-1 accuracy, keypoint AP) are
logged and written to ``<work dir>/<timestamp>/<timestamp>.json``. A
checkpoint that does not cover the model (e.g. another model's) stops it,
unless ``--allow-partial-checkpoint``. Several processes:
``tools/dist_test.sh CONFIG CHECKPOINT NUM_PROCESSES``. The logic is in
:mod:`mmdynact.cli.test`.
"""
from mmdynact.cli.test import main

if __name__ == '__main__':
    main()
