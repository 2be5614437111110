"""FReLU: the funnel activation.

Ma et al., "Funnel Activation for Visual Recognition", ECCV 2020
(arXiv:2007.11824)::

    y = max(x, T(x)),    T(x) = BN(DWConv_kxk(x))

``T`` is a depthwise ``k x k`` convolution and batch norm: the "funnel"
condition lets each position take a spatial context instead of zero.
"""
from typing import Optional

import torch
from mmcv.cnn import build_norm_layer
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from mmdynact.ops import FunnelNorm, funnel_max, funnel_max_op
from mmdynact.ops.funnel import FunnelMaxFunction
from mmdynact.ops.hyper_network import (batch_statistics, check_batch,
                                        stage_momentum, synchronises)
from .base import ChannelActivation
from .dispatch import FORMULA, NODE, STAGED, call_path
from .registry import ActivationSpec, register_activation


@register_activation(
    ActivationSpec(
        kernels=(FunnelMaxFunction, ),
        probe='frelu',
        cpu_time_target=1.0,
        gpu_time_target=3.0))
class FReLU(ChannelActivation):
    """``y = max(x, BN(DWConv_kxk(x)))``, input ``(N, C, H, W)``.

    A batch norm that needs no communication is fused into the node, which
    keeps only ``x`` for backward; other norms (a synchronising ``SyncBN``,
    ``GN``) run as their own modules.

    Args:
        channels: Input channels ``C``.
        kernel_size: Odd size ``k`` of the depthwise funnel conv.
        norm_cfg: Norm layer of the funnel. ActResNet and ConvModule fill in
            their own ``norm_cfg`` (SyncBN on a cluster, ``requires_grad``...)
            unless ``act_cfg`` sets one.
        inplace: Ignored (see :class:`ChannelActivation`).
    """

    follows_norm_cfg = True

    def __init__(self,
                 channels: Optional[int] = None,
                 kernel_size: int = 3,
                 norm_cfg: dict = dict(type='BN'),
                 inplace: bool = False) -> None:
        super().__init__(channels, inplace)
        if (isinstance(kernel_size, bool) or not isinstance(kernel_size, int)
                or kernel_size < 1 or kernel_size % 2 == 0):
            raise ValueError(f'FReLU: kernel_size must be an odd positive int '
                             f'(the output keeps the input size), got '
                             f'{kernel_size!r}')
        if not isinstance(norm_cfg, dict):
            raise ValueError(
                f'FReLU: norm_cfg must be a dict such as dict(type="BN") '
                f'(the funnel condition is BN(DWConv(x))), got {norm_cfg!r}')
        self.kernel_size = kernel_size
        self.funnel_conv = nn.Conv2d(
            self.channels,
            self.channels,
            kernel_size,
            padding=kernel_size // 2,
            groups=self.channels,
            bias=False)
        self.funnel_norm = build_norm_layer(norm_cfg, self.channels)[1]

    def funnel(self, x: Tensor) -> Tensor:
        """The funnel condition ``T(x) = BN(DWConv(x))``."""
        self.check_input(x)
        return self.funnel_norm(self.funnel_conv(x))

    def forward(self, x: Tensor) -> Tensor:
        self.check_input(x)
        norm = self.funnel_norm
        path = call_path(x)
        if path is FORMULA or not _fusable(norm):
            return self.formula(x)
        check_batch(norm, x.numel() // x.shape[1], 'FReLU', 'funnel')
        updates = norm.training and norm.track_running_stats
        momentum = stage_momentum(norm) if updates else None
        fused = FunnelNorm(norm.weight, norm.bias, norm.running_mean,
                           norm.running_var, norm.eps, batch_statistics(norm),
                           None if path is STAGED else momentum)
        if path is NODE:
            return funnel_max(x, self.funnel_conv.weight, fused, 'FReLU')
        y, mean, var = funnel_max_op(x, self.funnel_conv.weight, fused)
        if momentum is not None:
            _update_running_stats(norm, mean, var,
                                  x.numel() // x.shape[1], momentum)
        return y

    def formula(self, x: Tensor) -> Tensor:
        return torch.maximum(x, self.funnel(x))

    def extra_repr(self) -> str:
        return f'channels={self.channels}, kernel_size={self.kernel_size}'


def _fusable(norm: nn.Module) -> bool:
    """Whether ``norm`` is a batch norm that the node can fuse: one that
    needs no communication across processes."""
    return isinstance(norm, _BatchNorm) and not synchronises(norm)


def _update_running_stats(norm: _BatchNorm, mean: Tensor, var: Tensor,
                          count: int, momentum: float) -> None:
    """Update ``norm``'s running statistics as its own forward would."""
    with torch.no_grad():
        norm.running_mean.lerp_(mean.flatten().to(norm.running_mean), momentum)
        norm.running_var.lerp_(
            (var.flatten() * count / (count - 1)).to(norm.running_var),
            momentum)
