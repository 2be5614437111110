"""The result of converting an official checkpoint, checked and saved."""
import pprint
from dataclasses import dataclass
from typing import Dict, Tuple

import torch
from mmengine.registry import MODELS
from torch import Tensor

from .state_dict_ops import check_state_dict

BACKBONE_PREFIX = 'backbone.'
#: how the papers' training scripts feed images (ToBGRTensor, no Normalize)
OFFICIAL_INPUTS = (
    'The official models were trained on BGR images in 0..255 without '
    'normalisation: use data_preprocessor mean=[0., 0., 0.], std=[1., 1., '
    '1.] and to_rgb=False (mmpretrain) or bgr_to_rgb=False (mmdet, mmseg, '
    'mmpose).')


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
        return '\n'.join(
            ['backbone config for this checkpoint:',
             pprint.pformat(self.backbone, sort_dicts=False)] +
            list(self.notes))
