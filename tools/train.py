"""Train a model from a config of mmdet, mmseg, mmpretrain or mmpose.

    python tools/train.py CONFIG [--work-dir DIR] [--resume [CHECKPOINT]]
        [--amp] [--auto-scale-lr] [--cfg-options KEY=VALUE ...]
        [--launcher {none,pytorch,slurm,mpi}]

The toolbox is the config's ``default_scope``; mmdynact's layers, backbones
and hooks are available without ``custom_imports``. Several processes:
``tools/dist_train.sh CONFIG NUM_PROCESSES`` (works without a GPU too). The
logic is in :mod:`mmdynact.cli.train`.
"""
from mmdynact.cli.train import main

if __name__ == '__main__':
    main()
