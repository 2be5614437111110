"""Start ``torch.distributed`` on machines without a GPU.

mmengine 0.10's ``init_dist`` always binds the process to a CUDA device
(``torch.cuda.set_device``; under slurm it even divides by the GPU count), so
a distributed run fails on a CPU-only machine before training starts. Here the
process group is started with the CPU backend ``gloo`` from the variables each
launcher sets, and nothing touches CUDA.
"""
import datetime
import os
import subprocess
from typing import Dict, Optional

import torch.distributed as torch_dist
from mmengine.logging import print_log

#: backends that need a GPU, replaced by gloo on CPU
GPU_BACKENDS = ('nccl', 'cncl', 'hccl', 'mccl')
DEFAULT_PORT = '29500'


def _slurm_env(port: Optional[int]) -> Dict[str, str]:
    env = dict(
        RANK=os.environ['SLURM_PROCID'],
        WORLD_SIZE=os.environ['SLURM_NTASKS'],
        LOCAL_RANK=os.environ.get('SLURM_LOCALID', '0'),
        MASTER_PORT=str(port or os.environ.get('MASTER_PORT', DEFAULT_PORT)))
    if 'MASTER_ADDR' not in os.environ:  # the job's first node
        env['MASTER_ADDR'] = subprocess.getoutput(
            f'scontrol show hostname {os.environ["SLURM_NODELIST"]} | '
            'head -n1')
    return env


def _mpi_env(port: Optional[int]) -> Dict[str, str]:
    if 'MASTER_ADDR' not in os.environ:
        raise KeyError('launcher=mpi needs the environment variable '
                       'MASTER_ADDR (the address of the rank-0 host)')
    return dict(
        RANK=os.environ['OMPI_COMM_WORLD_RANK'],
        WORLD_SIZE=os.environ['OMPI_COMM_WORLD_SIZE'],
        LOCAL_RANK=os.environ['OMPI_COMM_WORLD_LOCAL_RANK'],
        MASTER_PORT=str(port or os.environ.get('MASTER_PORT', DEFAULT_PORT)))


def launcher_env(launcher: str, port: Optional[int] = None) -> Dict[str, str]:
    """The ``RANK``/``WORLD_SIZE``/... variables ``launcher`` implies.

    ``pytorch`` (torchrun) sets them itself; ``slurm`` and ``mpi`` are
    translated from their own variables, as mmengine does.
    """
    if launcher == 'pytorch':
        return {}
    if launcher == 'slurm':
        return _slurm_env(port)
    if launcher == 'mpi':
        return _mpi_env(port)
    raise ValueError(f'launcher={launcher!r} is not a distributed launcher; '
                     'choose one of pytorch, slurm, mpi')


def init_cpu_distributed(launcher: str,
                         backend: str = 'gloo',
                         timeout: Optional[float] = None,
                         port: Optional[int] = None,
                         **kwargs) -> None:
    """Start the default process group for CPU training.

    Takes the same arguments as mmengine's ``init_dist`` (the config's
    ``env_cfg.dist_cfg``). A GPU backend such as the configs' usual
    ``'nccl'`` is replaced by ``'gloo'``.

    Args:
        launcher: ``'pytorch'``, ``'slurm'`` or ``'mpi'``.
        backend: ``torch.distributed`` backend.
        timeout: Collective timeout in seconds.
        port: Master port (slurm, mpi); default ``$MASTER_PORT`` or 29500.
        **kwargs: Passed to ``torch.distributed.init_process_group``
            (``init_backend``, if given, must be ``'torch'``).
    """
    init_backend = kwargs.pop('init_backend', 'torch')
    if init_backend != 'torch':
        raise ValueError(f'env_cfg.dist_cfg.init_backend={init_backend!r} '
                         'needs a GPU; remove it to train on CPU')
    if backend in GPU_BACKENDS:
        print_log(
            f'No GPU: distributed backend {backend!r} -> gloo',
            logger='current')
        backend = 'gloo'
    os.environ.update(launcher_env(launcher, port))
    if timeout is not None:
        kwargs['timeout'] = datetime.timedelta(seconds=timeout)
    torch_dist.init_process_group(backend=backend, **kwargs)
