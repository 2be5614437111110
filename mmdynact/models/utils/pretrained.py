"""Pretrained checkpoints a model config starts from, checked before training.

As upstream, a ``Pretrained`` ``init_cfg`` is read only by
``init_weights()``, i.e. when training starts: building the model, testing
it with a trained checkpoint, inference and analysis never need the file.
Training does, and mmengine would notice only after the data sets are
built; ``tools/train.py`` calls :func:`check_pretrained_checkpoints` first.
"""
import os.path as osp
from typing import Any, Iterator, List, Tuple


def _checkpoints(node: Any, key: str) -> Iterator[Tuple[str, Any]]:
    """(config key, checkpoint) of every pretrained init under ``node``."""
    if isinstance(node, (list, tuple)):
        for index, item in enumerate(node):
            yield from _checkpoints(item, f'{key}[{index}]')
        return
    if not isinstance(node, dict):
        return
    for name, value in node.items():
        path = f'{key}.{name}'
        if name == 'pretrained' and isinstance(value, str):
            yield path, value
        elif name == 'init_cfg':
            inits = (
                enumerate(value) if isinstance(value,
                                               (list, tuple)) else [(None,
                                                                     value)])
            for index, init in inits:
                if isinstance(init, dict) and init.get('type') == 'Pretrained':
                    at = path if index is None else f'{path}[{index}]'
                    yield f'{at}.checkpoint', init.get('checkpoint')
        else:
            yield from _checkpoints(value, path)


def missing_pretrained_checkpoints(model_cfg: dict,
                                   key: str = 'model'
                                   ) -> List[Tuple[str, Any]]:
    """The pretrained checkpoints of ``model_cfg`` that are not local files.

    Looks at every ``init_cfg`` of type ``Pretrained`` and every string
    ``pretrained`` (mmseg's segmentors), at any depth. URLs and
    ``prefix://`` paths (``torchvision://``, ``open-mmlab://``) are not
    checked: mmengine downloads them.

    Args:
        model_cfg: A model config, e.g. ``cfg.model``.
        key: Its key in the config, the start of the reported keys.

    Returns:
        ``(config key, checkpoint)`` pairs, e.g. ``('model.backbone.init_cfg.
        checkpoint', 'work_dirs/resnet50_frelu_8xb32_in1k/epoch_100.pth')``.
    """
    return [(path, checkpoint)
            for path, checkpoint in _checkpoints(model_cfg, key)
            if not (checkpoint and
                    ('://' in str(checkpoint) or osp.isfile(checkpoint)))]


def check_pretrained_checkpoints(model_cfg: dict, key: str = 'model') -> None:
    """Raise a FileNotFoundError naming every missing pretrained checkpoint.

    Args:
        model_cfg: A model config, e.g. ``cfg.model``.
        key: Its key in the config, the start of the reported keys.
    """
    missing = missing_pretrained_checkpoints(model_cfg, key)
    if not missing:
        return
    listing = '\n'.join(f'  {path}={checkpoint!r}'
                        for path, checkpoint in missing)
    first = missing[0][0]
    raise FileNotFoundError(
        f'training starts from pretrained weights that are not a file:\n'
        f'{listing}\nTrain or download them first (the paper configs '
        f'expect the ImageNet run of the same folder), give their path with '
        f'--cfg-options {first}=<path>, or set '
        f'{first.rsplit(".checkpoint", 1)[0]}=None to start from random '
        f'weights.')
