"""Build an activation layer for a tensor with a known channel count."""
from mmcv.cnn import build_activation_layer
from torch import nn

from mmdynact.models.activations import activation_channels


def build_activation(act_cfg: dict, channels: int) -> nn.Module:
    """``build_activation_layer(act_cfg)``, with ``channels`` filled in.

    Channel-dependent layers (:class:`~mmdynact.models.activations.
    ChannelActivation` subclasses such as ``FReLU``) get ``channels`` unless
    ``act_cfg`` sets it; any other activation (``ReLU``...) is built as is.
    """
    filled = activation_channels(act_cfg, channels, channels,
                                 ('conv', 'norm', 'act'))
    if filled is not None:
        act_cfg = dict(act_cfg, channels=filled)
    return build_activation_layer(act_cfg)
