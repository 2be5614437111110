"""Fail at build time when a required pretrained checkpoint is missing."""
import os.path as osp
from typing import Optional, Union


def check_pretrained(init_cfg: Optional[Union[dict, list]],
                     owner: str) -> None:
    """Raise if ``init_cfg`` is ``Pretrained`` with an unusable checkpoint.

    mmengine loads ``Pretrained`` checkpoints only in ``init_weights()``,
    after datasets are built; a missing local file is reported here instead,
    when the model is built. URLs and ``prefix://`` paths are not checked.

    Args:
        init_cfg: The model's ``init_cfg``.
        owner: Name of the model, for the message.
    """
    cfgs = init_cfg if isinstance(init_cfg, list) else [init_cfg]
    for cfg in cfgs:
        if not (isinstance(cfg, dict) and cfg.get('type') == 'Pretrained'):
            continue
        checkpoint = cfg.get('checkpoint')
        if checkpoint and ('://' in str(checkpoint)
                           or osp.isfile(checkpoint)):
            continue
        raise FileNotFoundError(
            f'{owner}: init_cfg.checkpoint={checkpoint!r} is not a file. '
            f'Give the ImageNet checkpoint of this backbone with '
            f'--cfg-options model.backbone.init_cfg.checkpoint=<path>, or '
            f'model.backbone.init_cfg=None to start from random weights '
            f'(e.g. to test a trained model, whose weights are loaded '
            f'afterwards).')
