"""ACON: activations that learn whether to activate.

Ma et al., "Activate or Not: Learning Customized Activation", CVPR 2021
(arXiv:2009.04759). ACON is a smooth maximum of linear functions:

* ACON-A: ``y = x * sigmoid(beta x)`` (smooth max of ``x`` and ``0``; Swish)
* ACON-B: ``y = (1 - p) x * sigmoid(beta (1 - p) x) + p x``
* ACON-C: ``y = (p1 - p2) x * sigmoid(beta (p1 - p2) x) + p2 x``
* Meta-ACON: ACON-C whose switching factor ``beta = sigmoid(G(x))`` is
  generated per sample and channel by a small network ``G``.

``p1``, ``p2`` and ``beta`` are per channel, shaped ``(1, C, 1, 1)``. Each
call is one autograd node (:mod:`mmdynact.ops.acon`).
"""
from typing import Optional

import torch
from mmcv.cnn import build_norm_layer
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from mmdynact.ops import Acon, HyperNetwork, acon, acon_op
from mmdynact.ops.acon import AconFunction
from mmdynact.ops.hyper_network import check_batch
from .base import ChannelActivation, positive_int
from .dispatch import FORMULA, STAGED, call_path
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


class _Acon(ChannelActivation):
    """The forward of ACON-A/B/C: ``p1`` and ``p2`` (or None) from
    :meth:`_switch`, per-channel ``beta``."""

    def _switch(self):
        raise NotImplementedError

    def forward(self, x: Tensor) -> Tensor:
        self.check_input(x)
        path = call_path(x)
        if path is FORMULA:
            return self.formula(x)
        p1, p2 = self._switch()
        if path is STAGED:
            return acon_op(x, p1, p2, self.beta)
        return acon(x, Acon(p1, p2, self.beta), type(self).__name__)


@register_activation(_ACON)
class AconA(_Acon):
    """ACON-A: ``y = x * sigmoid(beta x)``, learnable ``beta`` per channel."""

    def __init__(self,
                 channels: Optional[int] = None,
                 inplace: bool = False) -> None:
        super().__init__(channels, inplace)
        self.beta = _channel_param(self.channels, 'ones')

    def _switch(self):
        return None, None

    def formula(self, x: Tensor) -> Tensor:
        return x * torch.sigmoid(self.beta * x)


@register_activation(_ACON)
class AconB(_Acon):
    """ACON-B: ``y = (1 - p) x sigmoid(beta (1 - p) x) + p x``, per channel."""

    def __init__(self,
                 channels: Optional[int] = None,
                 inplace: bool = False) -> None:
        super().__init__(channels, inplace)
        self.p = _channel_param(self.channels, 'randn')
        self.beta = _channel_param(self.channels, 'ones')

    def _switch(self):
        return None, self.p

    def formula(self, x: Tensor) -> Tensor:
        return acon_formula(x, 1, self.p, self.beta)


@register_activation(_ACON)
class AconC(_Acon):
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

    def _switch(self):
        return self.p1, self.p2

    def formula(self, x: Tensor) -> Tensor:
        return acon_formula(x, self.p1, self.p2, self.beta)


@register_activation(
    ActivationSpec(
        kernels=(AconFunction, ),
        probe='acon',
        cpu_time_target=0.6,
        gpu_time_target=2.0))
class MetaAconC(ChannelActivation):
    """Meta-ACON: ACON-C with ``beta = sigmoid(G(x))`` per sample and channel.

    ``G`` = global average pool -> 1x1 conv ``C -> max(r, C // r)`` ->
    [norm] -> 1x1 conv -> [norm], as in the paper's official code (which
    has the norms). They are off by default: a batch norm over the pooled
    ``(N, C, 1, 1)`` vectors cannot normalise a batch of one in training.

    Args:
        channels: Input channels ``C``.
        r: Reduction ratio of ``G``'s hidden layer.
        with_norm: Put a norm after each conv of ``G``, as the official
            code; the papers' placements do.
        norm_cfg: The norms' config (when ``with_norm``). ActResNet and
            ConvModule fill in their own ``norm_cfg`` (SyncBN on a
            cluster, ``requires_grad``...) unless ``act_cfg`` sets one.
        inplace: Ignored (see :class:`ChannelActivation`).
    """

    follows_norm_cfg = True

    def __init__(self,
                 channels: Optional[int] = None,
                 r: int = 16,
                 with_norm: bool = False,
                 norm_cfg: dict = dict(type='BN'),
                 inplace: bool = False) -> None:
        super().__init__(channels, inplace)
        self.r = positive_int('MetaAconC', 'r', r)
        if with_norm and not isinstance(norm_cfg, dict):
            raise ValueError(f'MetaAconC: with_norm=True needs a norm_cfg '
                             f'dict, e.g. dict(type="BN"), got {norm_cfg!r}')
        hidden = max(r, self.channels // r)
        self.p1 = _channel_param(self.channels, 'randn')
        self.p2 = _channel_param(self.channels, 'randn')
        self.fc1 = nn.Conv2d(self.channels, hidden, 1)
        self.fc2 = nn.Conv2d(hidden, self.channels, 1)
        self.norm1 = (
            build_norm_layer(norm_cfg, hidden)[1]
            if with_norm else nn.Identity())
        self.norm2 = (
            build_norm_layer(norm_cfg, self.channels)[1]
            if with_norm else nn.Identity())

    def _network(self, batch: int) -> tuple:
        """``G``'s stages, checked for a batch of ``batch`` samples."""
        for norm in (self.norm1, self.norm2):
            if isinstance(norm, _BatchNorm):
                check_batch(norm, batch, 'MetaAconC', 'switching network')
        return self.fc1, self.norm1, self.fc2, self.norm2

    def switching_factor(self, x: Tensor) -> Tensor:
        """``beta = sigmoid(G(x))``, shaped ``(N, C, 1, 1)`` (plain autograd
        ops, for looking inside)."""
        self.check_input(x)
        pooled = x.mean(dim=(2, 3), keepdim=True).to(self.fc1.weight.dtype)
        for stage in self._network(x.shape[0]):
            pooled = stage(pooled)
        return torch.sigmoid(pooled)

    def forward(self, x: Tensor) -> Tensor:
        self.check_input(x)
        path = call_path(x)
        if path is FORMULA:
            return self.formula(x)
        if path is STAGED:
            return acon_op(x, self.p1, self.p2, self.switching_factor(x))
        network = HyperNetwork.of(
            self._network(x.shape[0]), self, 'switching network')
        return acon(x, Acon(self.p1, self.p2, None, network), 'MetaAconC')

    def formula(self, x: Tensor) -> Tensor:
        return acon_formula(x, self.p1, self.p2, self.switching_factor(x))

    def extra_repr(self) -> str:
        return f'channels={self.channels}, r={self.r}'
