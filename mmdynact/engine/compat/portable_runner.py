"""mmengine's Runner, able to run distributed on machines without a GPU."""
import copy
from typing import Dict, Optional

from mmengine.device import get_device
from mmengine.dist import is_distributed
from mmengine.model import is_model_wrapper, revert_sync_batchnorm
from mmengine.registry import MODEL_WRAPPERS, RUNNERS
from mmengine.runner import Runner
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from .cpu_distributed import init_cpu_distributed


@RUNNERS.register_module()
class PortableRunner(Runner):
    """A :class:`~mmengine.runner.Runner` that also trains distributed on CPU.

    On a GPU machine it is mmengine's Runner. Without a GPU, mmengine 0.10.7
    cannot run a distributed job (``torch.distributed`` launched by torchrun,
    slurm or mpi); this runner

    * starts the process group with ``gloo`` and without binding the process
      to a CUDA device (``env_cfg.dist_cfg`` is still honoured: timeout,
      port; a GPU backend such as ``'nccl'`` becomes ``'gloo'``),
    * wraps the model in DDP without ``device_ids`` (DDP rejects them for a
      CPU module), whether ``model_wrapper_cfg`` is given or not,
    * turns SyncBN layers into BN first (SyncBN needs a GPU), so configs
      written for GPU clusters run unchanged: each process normalises over
      its own batch.

    mmdynact's ``tools/train.py`` and ``tools/test.py`` build it unless the
    config names another ``runner_type``.
    """

    def setup_env(self, env_cfg: Dict) -> None:
        if self.distributed and not is_distributed() and _on_cpu():
            init_cpu_distributed(self.launcher, **env_cfg.get('dist_cfg', {}))
        super().setup_env(env_cfg)

    def wrap_model(self, model_wrapper_cfg: Optional[Dict],
                   model: nn.Module) -> nn.Module:
        if not (self.distributed and _on_cpu()) or is_model_wrapper(model):
            return super().wrap_model(model_wrapper_cfg, model)
        if self.cfg.get('sync_bn'):
            self.logger.warning(
                f'sync_bn={self.cfg.sync_bn!r} is ignored on CPU: SyncBN '
                'needs a GPU')
        model = revert_sync_batchnorm(model.to('cpu'))
        if model_wrapper_cfg is None:
            wrapper_cfg = dict(
                broadcast_buffers=False,
                find_unused_parameters=self.cfg.get('find_unused_parameters',
                                                    False))
        else:
            wrapper_cfg = copy.deepcopy(dict(model_wrapper_cfg))
        wrapper_cfg.setdefault('type', 'MMDistributedDataParallel')
        if issubclass(
                MODEL_WRAPPERS.get(wrapper_cfg['type']),
                DistributedDataParallel):
            wrapper_cfg['device_ids'] = None
        return MODEL_WRAPPERS.build(
            wrapper_cfg, default_args=dict(module=model))


def _on_cpu() -> bool:
    return get_device() == 'cpu'
