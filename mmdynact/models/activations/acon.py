"""ACON: activations that learn whether to activate.

Ma et al., "Activate or Not: Learning Customized Activation", CVPR 2021
(arXiv:2009.04759). ACON is a smooth maximum of linear functions:

* ACON-A: ``y = x * sigmoid(beta x)`` (smooth max of ``x`` and ``0``; Swish)
* ACON-B: ``y = (1 - p) x * sigmoid(beta (1 - p) x) + p x``
* ACON-C: ``y = (p1 - p2) x * sigmoid(beta (p1 - p2) x) + p2 x``
* Meta-ACON: ACON-C whose switching factor ``beta = sigmoid(G(x))`` is
  generated per sample and channel by a small network ``G``.

``p1``, ``p2`` and ``beta`` are per channel, shaped ``(1, C, 1, 1)``.
"""
from typing import Optional

import torch
from mmcv.cnn import build_norm_layer
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from mmdynact.ops import acon, folded_input_gradient, spatial_mean
from mmdynact.ops.acon import AconFunction
from mmdynact.ops.pooling import SpatialMeanFunction
from .base import ChannelActivation
from .export import exporting
from .registry import ActivationSpec, register_activation

_ACON = ActivationSpec(
    kernels=(AconFunction, ),
    probe='acon',
    cpu_time_target=0.6,
    gpu_time_target=2.0)


def acon_formula(x: Tensor, p1, p2, beta) -> Tensor:
    """``(p1 - p2) x sigmoid(beta (p1 - p2) x) + p2 x``, plain ops."""
    return (p1 - p2) * x * torch.sigmoid(beta * (p1 - p2) * x) + p2 * x


def _channel_param(channels: int, init: str) -> nn.Parameter:
    shape = (1, channels, 1, 1)
    return nn.Parameter(
        torch.ones(shape) if init == 'ones' else torch.randn(shape))


@register_activation(_ACON)
class AconA(ChannelActivation):
    """ACON-A: ``y = x * sigmoid(beta x)``, learnable ``beta`` per channel."""

    def __init__(self,
                 channels: Optional[int] = None,
                 inplace: bool = False) -> None:
        super().__init__(channels, inplace)
        self.beta = _channel_param(self.channels, 'ones')
        self.register_buffer('one', torch.ones(1, 1, 1, 1), persistent=False)
        self.register_buffer('zero', torch.zeros(1, 1, 1, 1), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        if exporting():
            return self.formula(x)
        self.check_input(x)
        return acon(x, self.one, self.zero, self.beta, layer='AconA')

    def formula(self, x: Tensor) -> Tensor:
        return x * torch.sigmoid(self.beta * x)


@register_activation(_ACON)
class AconB(ChannelActivation):
    """ACON-B: ``y = (1 - p) x sigmoid(beta (1 - p) x) + p x``, per channel."""

    def __init__(self,
                 channels: Optional[int] = None,
                 inplace: bool = False) -> None:
        super().__init__(channels, inplace)
        self.p = _channel_param(self.channels, 'randn')
        self.beta = _channel_param(self.channels, 'ones')
        self.register_buffer('one', torch.ones(1, 1, 1, 1), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        if exporting():
            return self.formula(x)
        self.check_input(x)
        return acon(x, self.one, self.p, self.beta, layer='AconB')

    def formula(self, x: Tensor) -> Tensor:
        return acon_formula(x, 1, self.p, self.beta)


@register_activation(_ACON)
class AconC(ChannelActivation):
    """ACON-C: ``y = (p1 - p2) x sigmoid(beta (p1 - p2) x) + p2 x``.

    ``p1``, ``p2`` (random normal at init) and ``beta`` (ones) are learnable,
    shaped ``(1, C, 1, 1)``.
    """

    def __init__(self,
                 channels: Optional[int] = None,
                 inplace: bool = False) -> None:
        super().__init__(channels, inplace)
        self.p1 = _channel_param(self.channels, 'randn')
        self.p2 = _channel_param(self.channels, 'randn')
        self.beta = _channel_param(self.channels, 'ones')

    def forward(self, x: Tensor) -> Tensor:
        if exporting():
            return self.formula(x)
        self.check_input(x)
        return acon(x, self.p1, self.p2, self.beta, layer='AconC')

    def formula(self, x: Tensor) -> Tensor:
        return acon_formula(x, self.p1, self.p2, self.beta)


@register_activation(
    ActivationSpec(
        kernels=(SpatialMeanFunction, AconFunction),
        probe='acon',
        cpu_time_target=0.6,
        gpu_time_target=2.0))
class MetaAconC(ChannelActivation):
    """Meta-ACON: ACON-C with ``beta = sigmoid(G(x))`` per sample and channel.

    ``G`` = global average pool -> 1x1 conv ``C -> max(r, C // r)`` ->
    [norm] -> 1x1 conv -> [norm], as in the paper's official code. The norms
    are off by default: a batch norm over the pooled ``(N, C, 1, 1)``
    vectors fails on a batch of one in training.

    Args:
        channels: Input channels ``C``.
        r: Reduction ratio of ``G``'s hidden layer.
        norm_cfg: Norm after each conv of ``G``, e.g. ``dict(type='BN')`` as
            in the official code; ``None`` for none.
        inplace: Ignored (see :class:`ChannelActivation`).
    """

    def __init__(self,
                 channels: Optional[int] = None,
                 r: int = 16,
                 norm_cfg: Optional[dict] = None,
                 inplace: bool = False) -> None:
        super().__init__(channels, inplace)
        hidden = max(r, self.channels // r)
        self.p1 = _channel_param(self.channels, 'randn')
        self.p2 = _channel_param(self.channels, 'randn')
        self.fc1 = nn.Conv2d(self.channels, hidden, 1)
        self.fc2 = nn.Conv2d(hidden, self.channels, 1)
        self.norm1 = (
            build_norm_layer(norm_cfg, hidden)[1]
            if norm_cfg else nn.Identity())
        self.norm2 = (
            build_norm_layer(norm_cfg, self.channels)[1]
            if norm_cfg else nn.Identity())

    def switching_factor(self, x: Tensor) -> Tensor:
        """``beta = sigmoid(G(x))``, shaped ``(N, C, 1, 1)`` (plain autograd
        ops, for looking inside)."""
        self.check_input(x)
        return self._generate_beta(x.mean(dim=(2, 3)), x.shape[0])

    def _generate_beta(self, pooled: Tensor, batch: int) -> Tensor:
        """``sigmoid(G(.))`` of the pooled input ``(N, C)``."""
        if (self.training and batch == 1
                and isinstance(self.norm1, _BatchNorm)):
            raise ValueError(
                'MetaAconC: norm_cfg is a batch norm over the pooled '
                '(N, C, 1, 1) input, which cannot train on a batch of one; '
                'use norm_cfg=None (the default) or a larger batch')
        pooled = pooled.to(self.fc1.weight.dtype)[:, :, None, None]
        return torch.sigmoid(
            self.norm2(self.fc2(self.norm1(self.fc1(pooled)))))

    def forward(self, x: Tensor) -> Tensor:
        if exporting():
            return self.formula(x)
        self.check_input(x)
        fold = folded_input_gradient(x)
        beta = self._generate_beta(
            spatial_mean(x, fold, 'MetaAconC'), x.shape[0])
        return acon(x, self.p1, self.p2, beta, fold, 'MetaAconC')

    def formula(self, x: Tensor) -> Tensor:
        return acon_formula(x, self.p1, self.p2, self.switching_factor(x))
