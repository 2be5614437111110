"""The official ACON-C / Meta-ACON layers (nmaac/acon) and ours.

Official ``AconC(width)`` holds ``p1``, ``p2``, ``beta``; official
``MetaAconC(width, r)`` holds ``p1``, ``p2`` and its switching network
``fc1`` (1x1 conv to ``max(r, width // r)``), ``bn1``, ``fc2``, ``bn2``.
mmdynact's ``AconC`` has the same tensors; its ``MetaAconC`` names the batch
norms ``norm1``/``norm2`` and builds them only with ``norm_cfg=dict(type=
'BN')``, which a converted Meta-ACON checkpoint therefore needs.
"""
import re
from typing import Dict, List

from torch import Tensor

_NORM_VECTORS = r'(weight|bias|running_mean|running_var|num_batches_tracked)'
#: tensor names inside an official ACON-C / Meta-ACON layer
ACON_TENSOR = (r'(p1|p2|beta|fc[12]\.(weight|bias)|bn[12]\.'
               f'{_NORM_VECTORS})')
BATCH_NORM_TENSOR = _NORM_VECTORS
#: the ``r`` of the official models, preferred when several fit
OFFICIAL_REDUCTIONS = (16, 8)


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
        r for r in range(1, max(width for _, width in widths) + 1)
        if all(max(r, width // r) == hidden for hidden, width in widths)
    ]
    if not fitting:
        raise ValueError('no reduction ratio r gives the hidden widths of '
                         'all Meta-ACON layers (max(r, width // r)); is the '
                         'checkpoint from the official code?')
    preferred = [r for r in OFFICIAL_REDUCTIONS if r in fitting]
    act_cfg = dict(type='MetaAconC', r=(preferred or fitting)[0])
    if f'{layers[0]}.bn1.weight' in state:
        act_cfg['norm_cfg'] = dict(type='BN')
    return act_cfg
