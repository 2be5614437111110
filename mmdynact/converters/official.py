"""The official ACON-C / Meta-ACON checkpoints (nmaac/acon), as they come.

Reading one: the file holds a state dict, possibly under ``state_dict`` and
with DataParallel's ``module.`` prefix; its keys are checked against the
official module names.

The ACON layers in it: official ``AconC(width)`` holds ``p1``, ``p2``,
``beta``; official ``MetaAconC(width, r)`` holds ``p1``, ``p2`` and its
switching network ``fc1`` (1x1 conv to ``max(r, width // r)``), ``bn1``,
``fc2``, ``bn2``. mmdynact's ``AconC`` has the same tensors; its
``MetaAconC`` names the batch norms ``norm1``/``norm2`` and builds them only
with ``with_norm=True``, which a converted Meta-ACON checkpoint therefore
needs.
"""
import re
from collections import OrderedDict
from typing import Any, Dict, List, Mapping

from torch import Tensor

from mmdynact.engine.checkpoint_files import read_checkpoint

#: prefix that ``nn.DataParallel`` adds to every key
DATA_PARALLEL_PREFIX = 'module.'
#: tensor names of a batch norm (regular expression)
BATCH_NORM_TENSOR = (r'(weight|bias|running_mean|running_var'
                     r'|num_batches_tracked)')
#: tensor names inside an official ACON-C / Meta-ACON layer
ACON_TENSOR = (r'(p1|p2|beta|fc[12]\.(weight|bias)|bn[12]\.'
               f'{BATCH_NORM_TENSOR})')
#: the ``r`` of the official models, preferred when several fit
OFFICIAL_REDUCTIONS = (16, 8)
#: how the papers' training scripts feed images (ToBGRTensor, no Normalize)
OFFICIAL_INPUTS = (
    'The official models were trained on BGR images in 0..255 without '
    'normalisation: use data_preprocessor mean=[0., 0., 0.], std=[1., 1., '
    '1.] and to_rgb=False (mmpretrain) or bgr_to_rgb=False (mmdet, mmseg, '
    'mmpose).')


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
    """Load ``path`` (tensors only: ``weights_only=True``) and unwrap it.

    An empty, truncated or foreign file fails with an error naming it and
    its problem (:func:`mmdynact.engine.read_checkpoint`).
    """
    checkpoint = read_checkpoint(path, map_location='cpu', weights_only=True)
    return unwrap_state_dict(checkpoint, path)


def reject_unknown_keys(official: Mapping[str, Tensor], pattern: re.Pattern,
                        model: str, expected: str) -> None:
    """Raise a KeyError listing the keys of ``official`` not in ``pattern``.

    Args:
        official: The official state dict.
        pattern: Regular expression every key must match in full.
        model: The official model, for the message.
        expected: What the keys should look like, for the message.
    """
    unknown = [key for key in official if not pattern.fullmatch(key)]
    if unknown:
        raise KeyError(
            f'unexpected keys for an official {model}: {unknown[:10]}'
            f'{" ..." if len(unknown) > 10 else ""} (expected {expected})')


def rename_acon_tensor(name: str) -> str:
    """Official name inside an ACON layer -> ours (``bn1`` -> ``norm1``)."""
    return re.sub(r'^bn([12])\.', r'norm\1.', name)


def acon_act_cfg(state: Dict[str, Tensor], layers: List[str]) -> dict:
    """Our ``act_cfg`` for the official ACON layers ``layers`` of ``state``.

    ``AconC`` if the layers have ``beta``; ``MetaAconC`` with the ``r`` that
    gives every layer's hidden width and ``norm_cfg=dict(type='BN')`` if
    they have ``fc1``.

    Args:
        state: Official state dict.
        layers: Prefixes of the ACON layers in it.
    """
    if all(f'{layer}.beta' in state for layer in layers):
        return dict(type='AconC')
    if not all(f'{layer}.fc1.weight' in state for layer in layers):
        raise KeyError(
            'the ACON layers are neither all ACON-C (p1, p2, beta) nor all '
            f'Meta-ACON (p1, p2, fc1, bn1, fc2, bn2); first layer: '
            f'{layers[0]}.*')
    widths = {
        tuple(state[f'{layer}.fc1.weight'].shape[:2])
        for layer in layers
    }
    fitting = [
        r for r in range(1,
                         max(width for _, width in widths) + 1)
        if all(max(r, width // r) == hidden for hidden, width in widths)
    ]
    if not fitting:
        raise ValueError('no reduction ratio r gives the hidden widths of '
                         'all Meta-ACON layers (max(r, width // r)); is the '
                         'checkpoint from the official code?')
    preferred = [r for r in OFFICIAL_REDUCTIONS if r in fitting]
    act_cfg = dict(type='MetaAconC', r=(preferred or fitting)[0])
    if f'{layers[0]}.bn1.weight' in state:
        act_cfg['with_norm'] = True
    return act_cfg
