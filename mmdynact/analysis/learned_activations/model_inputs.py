"""A config's model with trained weights, and inputs to run it on."""
from typing import Iterator, Optional, Sequence, Tuple

import mmcv
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import DATASETS, DefaultScope
from mmengine.runner import load_checkpoint
from torch import nn

from mmdynact.analysis.from_config import model_for_analysis
from mmdynact.engine import trust_local_checkpoints


def load_model(cfg: Config, checkpoint: str, device: str = 'cpu') -> nn.Module:
    """The model of ``cfg`` with the weights of ``checkpoint``, in eval mode.

    The checkpoint is one you trust (it is unpickled in full, as mmengine's
    own checkpoints need); its keys must match the model exactly. A
    top-level ``data_preprocessor`` (mmpretrain's configs) goes into the
    model, as mmengine's ``Runner`` does.
    """
    if cfg.get('data_preprocessor') is not None:
        cfg.model.setdefault('data_preprocessor', cfg.data_preprocessor)
    model = model_for_analysis(cfg)[0].model
    trust_local_checkpoints()
    load_checkpoint(
        model, checkpoint, map_location='cpu', strict=True, logger='silent')
    return model.to(device).eval()


def dataset_batches(cfg: Config, count: int) -> Iterator[dict]:
    """The first ``count`` samples of the config's test (or val) data set.

    Each is a batch of one, through the data set's own pipeline.
    """
    loader = cfg.get('test_dataloader') or cfg.get('val_dataloader')
    if not loader:
        raise KeyError('the config has no test_dataloader or val_dataloader '
                       'to take images from; pass --images')
    with DefaultScope.overwrite_default_scope(cfg.get('default_scope')):
        dataset = DATASETS.build(loader['dataset'])
    if len(dataset) == 0:
        raise ValueError('the config\'s test data set is empty; pass --images')
    for index in range(min(count, len(dataset))):
        yield pseudo_collate([dataset[index]])


def image_batches(paths: Sequence[str],
                  size: Optional[Tuple[int, int]] = None) -> Iterator[dict]:
    """Image files as batches of one (BGR, as mmcv loads them).

    Args:
        paths: Image files.
        size: ``(height, width)`` to resize to; by default the image's own.
    """
    for path in paths:
        image = mmcv.imread(path)
        if image is None:
            raise FileNotFoundError(f'--images: cannot read {path}')
        if size is not None:
            image = mmcv.imresize(image, (size[1], size[0]))
        tensor = torch.from_numpy(image).permute(2, 0, 1).contiguous()
        yield dict(inputs=[tensor], data_samples=None)


def run(model: nn.Module, batches: Iterator[dict]) -> int:
    """Run ``model`` (``mode='tensor'``) on ``batches``; return how many."""
    count = 0
    with torch.no_grad():
        for batch in batches:
            batch.setdefault('data_samples', None)
            data = model.data_preprocessor(batch, False)
            model(**data, mode='tensor')
            count += 1
    return count
