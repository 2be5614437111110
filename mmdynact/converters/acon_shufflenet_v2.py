"""Official ACON-C / Meta-ACON ShuffleNetV2 (nmaac/acon) -> mmpretrain's.

Module names: ``first_conv`` -> ``conv1``, ``features.i`` ->
``layers.S.B``, its ``branch_proj`` -> ``branch1`` and ``branch_main`` ->
``branch2``, ``conv_last`` -> ``layers.3``, ``classifier.0`` ->
``head.fc``. Conv biases are folded into the batch norms after them, and
channels are reordered where the two networks wire their blocks differently
(see :mod:`.shufflenet_v2_channels`), so the converted backbone computes the
official function.

Only the 0.5x models convert: in the others, the first block of the official
network gives its two branches different widths (1.5x: 24 and 152 channels),
while mmpretrain's splits every block evenly.
"""
import re
from collections import OrderedDict
from typing import Dict, List

import torch
from torch import Tensor

from .conversion import NORM_VECTORS, Conversion, fold_conv_bias
from .official import (ACON_TENSOR, BATCH_NORM_TENSOR, acon_act_cfg,
                       reject_unknown_keys, rename_acon_tensor)
from .shufflenet_v2_channels import LAST, STEM, shufflenet_v2_channel_maps

STAGE_BLOCKS = (4, 8, 4)
#: first stage's output channels -> mmpretrain's widen_factor
WIDEN_FACTORS = {48: 0.5, 116: 1.0, 176: 1.5, 244: 2.0}
#: official Sequential index -> our ConvModule part, per branch
BRANCHES = {
    'branch_main': ('branch2', {
        0: '0.conv',
        1: '0.bn',
        2: '0.activate',
        3: '1.conv',
        4: '1.bn',
        5: '2.conv',
        6: '2.bn',
        7: '2.activate'
    }),
    'branch_proj': ('branch1', {
        0: '0.conv',
        1: '0.bn',
        2: '1.conv',
        3: '1.bn',
        4: '1.activate'
    }),
}
SINGLE = {'first_conv': STEM, 'conv_last': LAST}
PARTS = {0: 'conv', 1: 'bn', 2: 'activate'}

_OFFICIAL_KEY = re.compile(
    r'(first_conv|conv_last|features\.\d+\.branch_(main|proj))\.(\d)\.'
    rf'((weight|bias)|{BATCH_NORM_TENSOR}|{ACON_TENSOR})'
    r'|classifier\.0\.(weight|bias)')
_MODULE = re.compile(r'(first_conv|conv_last|features\.\d+\.branch_\w+)'
                     r'\.(\d)\.(.+)')
#: tensor of a ConvModule -> its output-channel dim, for reordering
OUTPUT_DIMS = {
    'conv.weight': 0,
    **{
        f'bn.{name}': 0
        for name in NORM_VECTORS
    },
    'activate.p1': 1,
    'activate.p2': 1,
    'activate.beta': 1,
    'activate.fc1.weight': 1,
    'activate.fc2.weight': 0,
    'activate.fc2.bias': 0,
    **{
        f'activate.norm2.{name}': 0
        for name in NORM_VECTORS
    },
}


def convert_acon_shufflenet_v2(official: Dict[str, Tensor]) -> Conversion:
    """Convert the state dict of an official ACON-C / Meta-ACON ShuffleNetV2.

    Args:
        official: The official state dict (``module.`` prefix removed).

    Returns:
        The mmpretrain classifier tensors and the ``ShuffleNetV2`` config.
    """
    reject_unknown_keys(
        official, _OFFICIAL_KEY, 'ACON ShuffleNetV2',
        'first_conv, features.N.branch_main/branch_proj, conv_last, '
        'classifier')
    stage_channels = _stage_channels(official)
    state = OrderedDict()
    for key, value in official.items():
        state[_rename(key)] = value
    modules = {key.rsplit('.', 2)[0] for key in state if '.conv.' in key}
    for module in modules:
        fold_conv_bias(state, f'{module}.conv', f'{module}.bn')
    _reorder_channels(state, stage_channels)
    act_layers = sorted(key[:-len('.p1')] for key in official
                        if key.endswith('.p1'))
    backbone = dict(
        type='mmpretrain.ShuffleNetV2',
        widen_factor=WIDEN_FACTORS[stage_channels[0]],
        act_cfg=acon_act_cfg(official, act_layers))
    converted = OrderedDict(
        (key if key.startswith('head.') else f'backbone.{key}', value)
        for key, value in state.items())
    return Conversion(converted, backbone)


def _stage_channels(official: Dict[str, Tensor]) -> List[int]:
    """Output channels of the three stages; only even splits convert."""
    firsts = [sum(STAGE_BLOCKS[:stage]) for stage in range(3)]
    channels = []
    for first in firsts:
        prefix = f'features.{first}'
        try:
            proj = official[f'{prefix}.branch_proj.2.weight'].shape[0]
            main = official[f'{prefix}.branch_main.5.weight'].shape[0]
        except KeyError as missing:
            raise KeyError(
                f'{missing.args[0]} is missing: an official ShuffleNetV2 has '
                f'{sum(STAGE_BLOCKS)} blocks in stages of {STAGE_BLOCKS}, '
                'the first of each with branch_proj') from None
        if proj != main:
            raise ValueError(
                f'features.{first} has branches of {proj} and {main} '
                "channels; mmpretrain's ShuffleNetV2 splits every block "
                'evenly, so it cannot hold this model. Only the 0.5x models '
                '(48-96-192 channels) convert.')
        channels.append(proj + main)
    if channels[0] not in WIDEN_FACTORS:
        raise ValueError(f'stage widths {channels} match no ShuffleNetV2 '
                         f'width; known first stages: {list(WIDEN_FACTORS)}')
    return channels


def _rename(key: str) -> str:
    if key.startswith('classifier.0.'):
        return 'head.fc.' + key[len('classifier.0.'):]
    path, index, name = _MODULE.match(key).groups()
    if path in SINGLE:
        module = f'{SINGLE[path]}.{PARTS[int(index)]}'
    else:
        _, block, branch = path.split('.')
        stage, within = _stage_of(int(block))
        ours, parts = BRANCHES[branch]
        module = f'layers.{stage}.{within}.{ours}.{parts[int(index)]}'
    if module.endswith('.activate'):
        name = rename_acon_tensor(name)
    return f'{module}.{name}'


def _stage_of(block: int):
    for stage, count in enumerate(STAGE_BLOCKS):
        if block < count:
            return stage, block
        block -= count
    raise KeyError(f'features.{block + sum(STAGE_BLOCKS)}: an official '
                   f'ShuffleNetV2 has {sum(STAGE_BLOCKS)} blocks')


def _reorder_channels(state: Dict[str, Tensor],
                      stage_channels: List[int]) -> None:
    """Index every tensor as our network wires its channels."""
    maps = shufflenet_v2_channel_maps(stage_channels, STAGE_BLOCKS)
    for module, order in maps.outputs.items():
        for name, dim in OUTPUT_DIMS.items():
            _index(state, f'{module}.{name}', dim, order)
    for consumer, order in maps.inputs.items():
        if consumer == LAST:
            readers = [f'{LAST}.conv.weight']
        else:
            readers = [f'{consumer}.branch2.0.conv.weight']
            if f'{consumer}.branch1.0.conv.weight' in state:
                # the depthwise conv keeps the order; the 1x1 after it reads
                for name, dim in OUTPUT_DIMS.items():
                    _index(state, f'{consumer}.branch1.0.{name}', dim, order)
                readers.append(f'{consumer}.branch1.1.conv.weight')
        for key in readers:
            _index(state, key, 1, order)


def _index(state: Dict[str, Tensor], key: str, dim: int,
           order: List[int]) -> None:
    if key in state:
        state[key] = torch.index_select(state[key], dim,
                                        torch.tensor(order)).contiguous()
