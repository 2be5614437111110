"""Give channel-dependent activations their channel count in ConvModule.

mmcv's ``ConvModule`` builds its activation with
``build_activation_layer(act_cfg)`` and passes no channel count, so
``act_cfg=dict(type='DyReLUB')`` alone could not build a layer with
per-channel parameters. :func:`patch_conv_module` wraps
``ConvModule.__init__`` so that, when ``act_cfg`` names a
:class:`~.base.ChannelActivation` and has no ``channels`` key, it gets the
channel count of the tensor the activation sees:

* ``out_channels`` when the activation comes after the conv (the usual
  ``order=('conv', 'norm', 'act')``),
* ``in_channels`` when it comes before it (e.g. ``('norm', 'act', 'conv')``).

Everything else (other activations, explicit ``channels``, no activation) is
passed through unchanged. The parameters exist right after construction.

Models that build activations themselves, for a tensor whose channel count
they know, use :func:`build_activation`, which fills it in the same way.
"""
import functools
import inspect
from typing import Optional

from mmcv.cnn import ConvModule, build_activation_layer
from mmengine.registry import MODELS
from torch import nn

from .base import ChannelActivation


def activation_channels(act_cfg: Optional[dict], in_channels: int,
                        out_channels: int, order: tuple) -> Optional[int]:
    """Channels to fill into ``act_cfg``, or None if it needs none."""
    if not isinstance(act_cfg, dict) or 'channels' in act_cfg:
        return None
    act_type = act_cfg.get('type')
    act_cls = MODELS.get(act_type) if isinstance(act_type, str) else act_type
    if not (inspect.isclass(act_cls)
            and issubclass(act_cls, ChannelActivation)):
        return None
    if 'conv' in order and order.index('act') < order.index('conv'):
        return in_channels
    return out_channels


def build_activation(act_cfg: dict, channels: int) -> nn.Module:
    """``build_activation_layer(act_cfg)``, with ``channels`` filled in.

    Channel-dependent layers (:class:`~.base.ChannelActivation` subclasses
    such as ``FReLU``) get ``channels`` unless ``act_cfg`` sets it; any other
    activation (``ReLU``...) is built as is.
    """
    filled = activation_channels(act_cfg, channels, channels,
                                 ('conv', 'norm', 'act'))
    if filled is not None:
        act_cfg = dict(act_cfg, channels=filled)
    return build_activation_layer(act_cfg)


def _fill_act_channels(init):
    signature = inspect.signature(init)
    default_order = signature.parameters['order'].default

    @functools.wraps(init)
    def __init__(self, *args, **kwargs):
        bound = signature.bind(self, *args, **kwargs)
        arguments = bound.arguments
        channels = activation_channels(
            arguments.get('act_cfg'), arguments['in_channels'],
            arguments['out_channels'], arguments.get('order', default_order))
        if channels is not None:
            arguments['act_cfg'] = dict(
                arguments['act_cfg'], channels=channels)
        init(*bound.args, **bound.kwargs)

    __init__.fills_act_channels = True
    return __init__


def patch_conv_module() -> None:
    """Wrap ``mmcv.cnn.ConvModule.__init__`` (once) as described above."""
    if not getattr(ConvModule.__init__, 'fills_act_channels', False):
        ConvModule.__init__ = _fill_act_channels(ConvModule.__init__)
