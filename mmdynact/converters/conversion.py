"""Our side of a conversion: edited tensors, checked, saved, explained.

A converter (``convert_acon_resnet``...) turns an official state dict into a
:class:`Conversion`; :func:`convert_file` runs one on a file.
"""
import os.path as osp
import pprint
from dataclasses import dataclass
from typing import Callable, Dict, Mapping, Tuple

import torch
from mmengine.registry import MODELS
from torch import Tensor

from mmdynact.engine.state_dict_diff import StateDictDiff, listing
from .official import OFFICIAL_INPUTS, load_official_state_dict

BACKBONE_PREFIX = 'backbone.'
#: the tensors of a batch norm that have one value per channel
NORM_VECTORS = ('weight', 'bias', 'running_mean', 'running_var')


@dataclass
class Conversion:
    """A converted checkpoint and the backbone it loads into.

    Attributes:
        state_dict: Keys of an mmpretrain ``ImageClassifier``:
            ``backbone.*`` and ``head.fc.*`` (``LinearClsHead``). Detection
            and segmentation configs load the backbone part with
            ``init_cfg=dict(type='Pretrained', checkpoint=..., prefix=
            'backbone.')``.
        backbone: The backbone config the tensors are for.
        notes: What else a config must set to match the official model.
    """
    state_dict: Dict[str, Tensor]
    backbone: dict
    notes: Tuple[str, ...] = (OFFICIAL_INPUTS, )

    def backbone_state(self) -> Dict[str, Tensor]:
        """The ``backbone.`` tensors, without the prefix."""
        return {
            key[len(BACKBONE_PREFIX):]: value
            for key, value in self.state_dict.items()
            if key.startswith(BACKBONE_PREFIX)
        }

    def check(self) -> None:
        """Build :attr:`backbone` and raise if the tensors do not fit it."""
        model = MODELS.build(self.backbone)
        check_state_dict(self.backbone_state(), model.state_dict(),
                         f'the backbone {self.backbone}')

    def save(self, path: str, source: str) -> None:
        """Write ``{'state_dict', 'meta'}`` (loads with weights_only)."""
        meta = dict(converted_from=source, backbone=repr(self.backbone))
        torch.save(dict(state_dict=self.state_dict, meta=meta), path)

    def usage(self) -> str:
        """How to use the converted checkpoint in a config."""
        return '\n'.join([
            'backbone config for this checkpoint:',
            pprint.pformat(self.backbone, sort_dicts=False)
        ] + list(self.notes))


#: a converter: official state dict -> conversion
Converter = Callable[[Dict[str, Tensor]], Conversion]


def convert_file(convert: Converter, src: str, dst: str) -> Conversion:
    """Convert the official checkpoint ``src``, check it, save it to ``dst``.

    The check builds the target backbone and compares every key and shape.
    """
    if not osp.isfile(src):
        raise FileNotFoundError(f'src: {src} is not a file')
    conversion = convert(load_official_state_dict(src))
    conversion.check()
    conversion.save(dst, src)
    return conversion


def fold_conv_bias(state: Dict[str, Tensor], conv: str, norm: str) -> None:
    """Remove ``conv.bias`` by moving it into the batch norm ``norm``.

    ``BN(conv(x) + bias)`` equals ``BN'(conv(x))`` with ``running_mean' =
    running_mean - bias``: exactly in eval mode, and in training mode too,
    where the batch mean cancels the bias.

    Args:
        state: State dict, edited in place.
        conv: Prefix of the convolution (``<conv>.bias``).
        norm: Prefix of the batch norm that follows it.
    """
    bias = state.pop(f'{conv}.bias', None)
    if bias is None:
        return
    mean_key = f'{norm}.running_mean'
    if mean_key not in state:
        raise KeyError(f'{conv}.bias has no batch norm to fold into: '
                       f'{mean_key} is missing from the checkpoint')
    state[mean_key] = state[mean_key] - bias


def check_state_dict(converted: Mapping[str, Tensor],
                     expected: Mapping[str, Tensor], target: str) -> None:
    """Raise if ``converted`` would not load strictly where ``expected``.

    Args:
        converted: The converted tensors.
        expected: The target module's ``state_dict()``.
        target: Description of the target, for the message.
    """
    diff = StateDictDiff.between(converted, expected)
    if diff.missing or diff.unexpected:
        raise KeyError(
            f'the converted checkpoint does not fit {target}:'
            f'{listing("missing keys", diff.missing)}'
            f'{listing("unexpected keys", diff.unexpected)}\nIs the input a '
            'complete checkpoint of the official model this converter is '
            'for?')
    if diff.mismatched:
        shapes = listing('shape (converted vs model)', diff.mismatched)
        raise ValueError(
            f'the converted checkpoint does not fit {target}:{shapes}')
