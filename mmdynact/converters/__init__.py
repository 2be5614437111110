"""Converters of the papers' official checkpoints into our key layouts.

``tools/model_converters`` runs them (through :mod:`mmdynact.cli.convert`).
The converted checkpoints hold an mmpretrain ``ImageClassifier``
(``backbone.*``, ``head.fc.*``); detection and segmentation configs load the
backbone with ``init_cfg=dict(type='Pretrained', checkpoint=...,
prefix='backbone.')``.
"""
from .acon_resnet import convert_acon_resnet
from .acon_shufflenet_v2 import convert_acon_shufflenet_v2
from .conversion import Conversion, convert_file
from .official import load_official_state_dict, unwrap_state_dict
from .shufflenet_v2_channels import ChannelMaps, shufflenet_v2_channel_maps

__all__ = [
    'convert_acon_resnet', 'convert_acon_shufflenet_v2', 'Conversion',
    'convert_file', 'load_official_state_dict', 'unwrap_state_dict',
    'ChannelMaps', 'shufflenet_v2_channel_maps'
]
