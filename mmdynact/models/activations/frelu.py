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

from mmdynact.ops import funnel_max
from mmdynact.ops.funnel import FunnelMaxFunction
from .base import ChannelActivation
from .export import exporting
from .registry import ActivationSpec, register_activation


@register_activation(
    ActivationSpec(
        kernels=(FunnelMaxFunction, ),
        probe='frelu',
        cpu_time_target=1.0,
        gpu_time_target=3.0))
class FReLU(ChannelActivation):
    """``y = max(x, BN(DWConv_kxk(x)))``, input ``(N, C, H, W)``.

    With a batch norm (``BN``) the norm is fused into the max, which keeps
    only ``x`` and the conv output for backward; other norms (``SyncBN``,
    ``GN``) run unfused.

    Args:
        channels: Input channels ``C``.
        kernel_size: Odd size ``k`` of the depthwise funnel conv.
        norm_cfg: Norm layer of the funnel.
        inplace: Ignored (see :class:`ChannelActivation`).
    """

    def __init__(self,
                 channels: Optional[int] = None,
                 kernel_size: int = 3,
                 norm_cfg: dict = dict(type='BN'),
                 inplace: bool = False) -> None:
        super().__init__(channels, inplace)
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f'FReLU: kernel_size must be odd and positive '
                             f'(the output keeps the input size), got '
                             f'{kernel_size}')
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
        if exporting():
            return self.formula(x)
        self.check_input(x)
        norm = self.funnel_norm
        if not _fusable(norm):
            return torch.maximum(x, norm(self.funnel_conv(x)))
        batch_stats = norm.training or norm.running_mean is None
        count = x.numel() // x.shape[1]
        if norm.training and norm.track_running_stats and count < 2:
            raise ValueError(
                f'FReLU: its batch norm needs more than one value per '
                f'channel in training (input has N*H*W = {count})')
        y, mean, var = funnel_max(x, self.funnel_conv.weight, norm.weight,
                                  norm.bias, norm.running_mean,
                                  norm.running_var, norm.eps, batch_stats,
                                  'FReLU')
        if batch_stats:
            _update_running_stats(norm, mean, var, count)
        return y

    def formula(self, x: Tensor) -> Tensor:
        return torch.maximum(x, self.funnel(x))

    def extra_repr(self) -> str:
        return f'channels={self.channels}, kernel_size={self.kernel_size}'


def _fusable(norm: nn.Module) -> bool:
    """Whether ``norm`` is a single-process batch norm we can fuse."""
    return isinstance(norm,
                      _BatchNorm) and not isinstance(norm, nn.SyncBatchNorm)


def _update_running_stats(norm: _BatchNorm, mean: Tensor, var: Tensor,
                          count: int) -> None:
    """Update ``norm``'s running statistics as its own forward would."""
    if not (norm.training and norm.track_running_stats):
        return
    norm.num_batches_tracked.add_(1)
    factor = (1.0 / float(norm.num_batches_tracked)
              if norm.momentum is None else norm.momentum)
    with torch.no_grad():
        norm.running_mean.lerp_(mean.flatten().to(norm.running_mean), factor)
        norm.running_var.lerp_(
            (var.flatten() * count / (count - 1)).to(norm.running_var), factor)
