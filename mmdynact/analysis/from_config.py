"""Build a config's model for complexity analysis and the benchmarks."""
from typing import Optional, Sequence, Tuple

import torch
from mmengine.config import Config
from mmengine.model import revert_sync_batchnorm
from mmengine.registry import MODELS, DefaultScope
from torch import Tensor, nn

#: input size (H, W) per toolbox when none is given: the usual test sizes
DEFAULT_SHAPES = dict(
    mmpretrain=(224, 224),
    mmdet=(800, 1344),
    mmseg=(512, 1024),
    mmpose=(256, 192))


class TensorForward(nn.Module):
    """``model(inputs, None, mode='tensor')`` as a one-argument module.

    OpenMMLab models return the raw network outputs (no post-processing, no
    losses) in ``mode='tensor'``; that is what the analysis traces.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, inputs: Tensor):
        return self.model(inputs, data_samples=None, mode='tensor')


def model_for_analysis(
    cfg: Config,
    shape: Optional[Sequence[int]] = None
) -> Tuple[TensorForward, Tuple[Tensor]]:
    """The model of ``cfg`` (random weights) and an input ``(1, 3, H, W)``.

    A ``Pretrained`` backbone ``init_cfg`` is dropped: weights do not change
    the counts, and the checkpoint need not exist.

    Args:
        cfg: A config with ``model`` and ``default_scope``.
        shape: Input ``(H, W)``; by default the toolbox's usual size
            (:data:`DEFAULT_SHAPES`).
    """
    scope = cfg.get('default_scope')
    if scope not in DEFAULT_SHAPES and shape is None:
        raise ValueError(f'no default input size for default_scope={scope!r};'
                         f' pass the input size (--shape H W)')
    backbone = cfg.model.get('backbone', {})
    init_cfg = backbone.get('init_cfg')
    if isinstance(init_cfg, dict) and init_cfg.get('type') == 'Pretrained':
        backbone.init_cfg = None
    with DefaultScope.overwrite_default_scope(scope):
        model = MODELS.build(cfg.model)
    height, width = shape or DEFAULT_SHAPES[scope]
    return TensorForward(model).eval(), (torch.randn(1, 3, height, width), )


def model_to_run(cfg: Config, shape: Tuple[int, int],
                 device: torch.device) -> nn.Module:
    """The model of ``cfg`` (random weights) as the benchmarks run it on
    ``device``: with the config's data preprocessor (mmpretrain's configs
    keep it at the top level), mmseg's padded to ``shape = (H, W)``, and
    SyncBN as plain BN off CUDA (one process). ``cfg`` is updated so."""
    if cfg.get('data_preprocessor') is not None:
        cfg.model.setdefault('data_preprocessor', cfg.data_preprocessor)
    if cfg.get('default_scope') == 'mmseg':  # it pads every image to the crop
        cfg.model.data_preprocessor.size = tuple(shape)
    model = model_for_analysis(cfg, shape)[0].model
    if device.type != 'cuda':
        model = revert_sync_batchnorm(model)
    return model.to(device)
