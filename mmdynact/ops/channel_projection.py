"""``z = sum_c w_c x_c + bias``: a 1x1 convolution to a single channel.

DY-ReLU-C's spatial attention projects the input to one channel with a 1x1
convolution. Generic convolution kernels are slow for one output channel
(its backward dominated DY-ReLU-C's time on CPU); this op is a single
reduction over channels forward and one pass backward. It keeps only ``x``
and the weight for backward, as the convolution does.
"""
from typing import Optional

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from .backend import fused_kernel


@fused_kernel
def _forward(x: Tensor, weight: Tensor, bias: Optional[Tensor]) -> Tensor:
    z = (x * weight).sum(1, keepdim=True)
    return z if bias is None else z + bias


@fused_kernel
def _backward(x: Tensor, weight: Tensor, grad_z: Tensor, need_x: bool,
              need_weight: bool):
    grad_x = (grad_z * weight).to(x.dtype) if need_x else None
    grad_weight = None
    if need_weight:
        dims = (0, ) + tuple(range(2, x.dim()))
        grad_weight = (grad_z * x).sum(
            dims, keepdim=True, dtype=weight.dtype)
    return grad_x, grad_weight


class _ChannelProjection(torch.autograd.Function):

    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor,
                bias: Optional[Tensor]) -> Tensor:
        ctx.save_for_backward(x, weight)
        ctx.bias_shape = None if bias is None else bias.shape
        return _forward(x, weight, bias)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_z: Tensor):
        x, weight = ctx.saved_tensors
        need_x, need_weight, need_bias = ctx.needs_input_grad
        grad_x, grad_weight = _backward(x, weight, grad_z, need_x,
                                        need_weight)
        grad_bias = None
        if need_bias:
            grad_bias = grad_z.sum().reshape(ctx.bias_shape)
        return grad_x, grad_weight, grad_bias


def channel_projection(x: Tensor, weight: Tensor,
                       bias: Optional[Tensor] = None) -> Tensor:
    """``sum_c weight_c x_c + bias`` for ``x`` ``(N, C, *)``.

    Args:
        x: Input ``(N, C, *)``.
        weight: ``(1, C, 1, ...)`` (a 1x1 conv's weight with one output
            channel has this shape), broadcastable to ``x``.
        bias: Optional ``(1, )`` bias.

    Returns:
        ``(N, 1, *)``, the 1x1 convolution of ``x`` with ``weight``.
    """
    return _ChannelProjection.apply(x, weight, bias)
