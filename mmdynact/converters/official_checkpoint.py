"""Read the state dict out of an official (non-OpenMMLab) checkpoint file."""
from collections import OrderedDict
from typing import Any, Dict

import torch
from torch import Tensor

#: prefix that ``nn.DataParallel`` adds to every key
DATA_PARALLEL_PREFIX = 'module.'


def unwrap_state_dict(checkpoint: Any, source: str) -> Dict[str, Tensor]:
    """The tensors of ``checkpoint``, without a DataParallel ``module.``.

    Accepts a plain state dict or a dict holding one under ``state_dict``
    (how the papers' training scripts save them).

    Args:
        checkpoint: What ``torch.load`` returned.
        source: Where it came from, for error messages.
    """
    if isinstance(checkpoint, dict) and 'state_dict' in checkpoint:
        checkpoint = checkpoint['state_dict']
    if not isinstance(checkpoint, dict) or not checkpoint or not all(
            isinstance(value, Tensor) for value in checkpoint.values()):
        raise ValueError(
            f'{source}: expected a state dict (name -> tensor), or a dict '
            f"with one under 'state_dict', got {type(checkpoint).__name__}")
    state = OrderedDict()
    for key, value in checkpoint.items():
        if key.startswith(DATA_PARALLEL_PREFIX):
            key = key[len(DATA_PARALLEL_PREFIX):]
        state[key] = value
    return state


def load_official_state_dict(path: str) -> Dict[str, Tensor]:
    """Load ``path`` (tensors only: ``weights_only=True``) and unwrap it."""
    checkpoint = torch.load(path, map_location='cpu', weights_only=True)
    return unwrap_state_dict(checkpoint, path)
