"""Official ACON-C / Meta-ACON ResNets (nmaac/acon) -> our ``ActResNet``.

The official ResNets are torchvision-style with three differences that the
conversion handles:

* every convolution has a bias: it is folded into the batch norm after it
  (:func:`~.conversion.fold_conv_bias`), so the converted backbone
  computes the same function without conv biases;
* a Bottleneck strides in its first 1x1 conv: ``style='caffe'`` in
  mmpretrain's ResNet;
* the activation layers are ``acon`` (Bottleneck: after the 3x3 conv) or
  ``acon1``/``acon2`` (BasicBlock: after the first conv and after the add),
  our ``act.conv2``, ``act.conv1``, ``act.add``.
"""
import re
from collections import OrderedDict
from typing import Dict, List, Tuple

from torch import Tensor

from .conversion import Conversion, fold_conv_bias
from .official import (ACON_TENSOR, BATCH_NORM_TENSOR, acon_act_cfg,
                       reject_unknown_keys, rename_acon_tensor)

#: (block type, blocks per stage) -> depth
DEPTHS: Dict[Tuple[str, Tuple[int, ...]], int] = {
    ('basic', (2, 2, 2, 2)): 18,
    ('basic', (3, 4, 6, 3)): 34,
    ('bottleneck', (3, 4, 6, 3)): 50,
    ('bottleneck', (3, 4, 23, 3)): 101,
    ('bottleneck', (3, 8, 36, 3)): 152,
}
#: official activation layer of a block -> ActResNet position
POSITIONS = {'acon': 'conv2', 'acon1': 'conv1', 'acon2': 'add'}

_WEIGHT = r'(weight|bias)'
_OFFICIAL_KEY = re.compile(
    rf'(conv1\.{_WEIGHT}|bn1\.{BATCH_NORM_TENSOR}|fc\.{_WEIGHT}'
    rf'|layer[1-4]\.\d+\.(conv[1-3]\.{_WEIGHT}|bn[1-3]\.{BATCH_NORM_TENSOR}'
    rf'|downsample\.0\.{_WEIGHT}|downsample\.1\.{BATCH_NORM_TENSOR}'
    rf'|acon[12]?\.{ACON_TENSOR}))')
_BLOCK = re.compile(r'(layer([1-4])\.(\d+))\.')
_ACON = re.compile(r'(layer[1-4]\.\d+)\.(acon[12]?)\.(.+)')


def convert_acon_resnet(official: Dict[str, Tensor]) -> Conversion:
    """Convert the state dict of an official ACON-C / Meta-ACON ResNet.

    Args:
        official: The official state dict (``module.`` prefix removed).

    Returns:
        The mmpretrain classifier tensors and the ``ActResNet`` config.
    """
    reject_unknown_keys(
        official, _OFFICIAL_KEY, 'ACON ResNet',
        'conv1, bn1, layer1-4 blocks with conv/bn/downsample/acon, fc')
    state = OrderedDict(official)
    blocks = sorted(
        {match.group(1)
         for match in map(_BLOCK.match, state) if match})
    fold_conv_bias(state, 'conv1', 'bn1')
    for block in blocks:
        for index in (1, 2, 3):
            fold_conv_bias(state, f'{block}.conv{index}', f'{block}.bn{index}')
        fold_conv_bias(state, f'{block}.downsample.0', f'{block}.downsample.1')
    converted = OrderedDict(
        _rename(key, value) for key, value in state.items())
    return Conversion(converted, _backbone_cfg(official, blocks))


def _rename(key: str, value: Tensor) -> Tuple[str, Tensor]:
    if key.startswith('fc.'):
        return f'head.{key}', value
    acon = _ACON.fullmatch(key)
    if acon:
        block, layer, name = acon.groups()
        key = f'{block}.act.{POSITIONS[layer]}.{rename_acon_tensor(name)}'
    return f'backbone.{key}', value


def _backbone_cfg(official: Dict[str, Tensor], blocks: List[str]) -> dict:
    kind = 'bottleneck' if 'layer1.0.conv3.weight' in official else 'basic'
    counts = tuple(
        sum(block.startswith(f'layer{stage}.') for block in blocks)
        for stage in (1, 2, 3, 4))
    if (kind, counts) not in DEPTHS:
        raise ValueError(f'{kind} blocks per stage {counts} match no ResNet '
                         f'depth; known: {sorted(DEPTHS.values())}')
    layers = ['acon'] if kind == 'bottleneck' else ['acon1', 'acon2']
    return dict(
        type='ActResNet',
        depth=DEPTHS[kind, counts],
        style='caffe',
        act_cfg=acon_act_cfg(
            official,
            [f'{block}.{layer}' for block in blocks for layer in layers]),
        act_positions=tuple(POSITIONS[layer] for layer in layers),
        act_stages=None)
