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

A layer with norms of its own (FReLU's funnel norm, DY-ReLU-C's spatial
norm, Meta-ACON's switching-network norms: ``follows_norm_cfg``) also gets
the ConvModule's ``norm_cfg`` (SyncBN on a cluster, ``requires_grad``...)
unless ``act_cfg`` sets ``norm_cfg``. Everything else (other activations,
explicit ``channels``, no activation) is passed through unchanged. The
parameters exist right after construction.

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


def _activation_class(act_cfg: Optional[dict]) -> Optional[type]:
    """The :class:`~.base.ChannelActivation` subclass ``act_cfg`` names, or
    None."""
    if not isinstance(act_cfg, dict):
        return None
    act_type = act_cfg.get('type')
    act_cls = MODELS.get(act_type) if isinstance(act_type, str) else act_type
    if inspect.isclass(act_cls) and issubclass(act_cls, ChannelActivation):
        return act_cls
    return None


def activation_channels(act_cfg: Optional[dict], in_channels: int,
                        out_channels: int, order: tuple) -> Optional[int]:
    """Channels to fill into ``act_cfg``, or None if it needs none."""
    if _activation_class(act_cfg) is None or 'channels' in act_cfg:
        return None
    if 'conv' in order and order.index('act') < order.index('conv'):
        return in_channels
    return out_channels


def filled_act_cfg(act_cfg: Optional[dict], channels: Optional[int],
                   norm_cfg: Optional[dict]) -> Optional[dict]:
    """``act_cfg`` with ``channels`` and, for a layer with norms of its own
    (``follows_norm_cfg``), the builder's ``norm_cfg`` filled in, unless it
    sets them itself; any other ``act_cfg`` unchanged."""
    act_cls = _activation_class(act_cfg)
    if act_cls is None:
        return act_cfg
    filled = dict(act_cfg)
    if channels is not None:
        filled['channels'] = channels
    if (act_cls.follows_norm_cfg and norm_cfg is not None
            and 'norm_cfg' not in act_cfg):
        filled['norm_cfg'] = dict(norm_cfg)
    return filled


def build_activation(act_cfg: dict,
                     channels: int,
                     norm_cfg: Optional[dict] = None) -> nn.Module:
    """``build_activation_layer(act_cfg)``, with ``channels`` (and the
    builder's ``norm_cfg``) filled in, see :func:`filled_act_cfg`.

    Channel-dependent layers (:class:`~.base.ChannelActivation` subclasses
    such as ``FReLU``) get ``channels`` unless ``act_cfg`` sets it; any other
    activation (``ReLU``...) is built as is.
    """
    channels = activation_channels(act_cfg, channels, channels,
                                   ('conv', 'norm', 'act'))
    return build_activation_layer(filled_act_cfg(act_cfg, channels, norm_cfg))


def _fill_act_channels(init):
    signature = inspect.signature(init)
    default_order = signature.parameters['order'].default

    @functools.wraps(init)
    def __init__(self, *args, **kwargs):
        bound = signature.bind(self, *args, **kwargs)
        arguments = bound.arguments
        act_cfg = arguments.get('act_cfg')
        if _activation_class(act_cfg) is not None:
            channels = activation_channels(
                act_cfg, arguments['in_channels'], arguments['out_channels'],
                arguments.get('order', default_order))
            arguments['act_cfg'] = filled_act_cfg(act_cfg, channels,
                                                  arguments.get('norm_cfg'))
        init(*bound.args, **bound.kwargs)

    __init__.fills_act_channels = True
    return __init__


def patch_conv_module() -> None:
    """Wrap ``mmcv.cnn.ConvModule.__init__`` (once) as described above."""
    if not getattr(ConvModule.__init__, 'fills_act_channels', False):
        ConvModule.__init__ = _fill_act_channels(ConvModule.__init__)
