"""Memory-lean FReLU tail: ``y = max(x, BN(c))`` with ``c`` the funnel conv.

FReLU (Ma et al., "Funnel Activation for Visual Recognition", ECCV 2020)
computes ``y = max(x, T(x))`` with ``T(x) = BN(DWConv(x))``. Autograd through
``BN`` and ``max`` keeps ``c``, ``BN(c)`` and ``x`` (3x the input, with the
conv). Fusing batch normalisation into the max keeps only ``c`` beside
``x`` (2x) and recomputes ``BN(c)`` and the winning side in backward.
"""
from typing import Tuple

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from .backend import fused_kernel


@fused_kernel
def _forward(x: Tensor, c: Tensor, scale: Tensor, shift: Tensor) -> Tensor:
    return torch.maximum(x, c * scale + shift).to(x.dtype)


@fused_kernel
def _backward(x: Tensor, c: Tensor, scale: Tensor, shift: Tensor,
              mean: Tensor, invstd: Tensor, weight: Tensor,
              batch_stats: bool, grad_y: Tensor):
    funnel_wins = x < c * scale + shift
    grad_t = torch.where(funnel_wins, grad_y, 0)
    grad_x = torch.where(funnel_wins, 0, grad_y).to(x.dtype)
    dims = (0, ) + tuple(range(2, x.dim()))
    c_hat = (c - mean) * invstd
    acc = torch.promote_types(c.dtype, torch.float32)
    grad_bias = grad_t.sum(dims, keepdim=True, dtype=acc)
    grad_weight = (grad_t * c_hat).sum(dims, keepdim=True, dtype=acc)
    if batch_stats:
        count = c.numel() // c.shape[1]
        grad_c = (grad_t - grad_bias / count -
                  c_hat * (grad_weight / count)) * (weight * invstd)
    else:
        grad_c = grad_t * (weight * invstd)
    return grad_x, grad_c.to(c.dtype), grad_weight, grad_bias


class _FunnelMax(torch.autograd.Function):

    @staticmethod
    def forward(ctx, x: Tensor, c: Tensor, weight: Tensor, bias: Tensor,
                mean: Tensor, invstd: Tensor, batch_stats: bool) -> Tensor:
        scale = invstd * weight
        shift = bias - mean * scale
        ctx.save_for_backward(x, c, weight, bias, mean, invstd)
        ctx.batch_stats = batch_stats
        return _forward(x, c, scale, shift)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_y: Tensor):
        x, c, weight, bias, mean, invstd = ctx.saved_tensors
        scale = invstd * weight
        shift = bias - mean * scale
        grad_x, grad_c, grad_weight, grad_bias = _backward(
            x, c, scale, shift, mean, invstd, weight, ctx.batch_stats, grad_y)
        return (grad_x, grad_c, grad_weight.reshape(weight.shape).to(
            weight.dtype), grad_bias.reshape(bias.shape).to(bias.dtype), None,
                None, None)


def funnel_max(x: Tensor, c: Tensor, weight: Tensor, bias: Tensor,
               mean: Tensor, invstd: Tensor, batch_stats: bool) -> Tensor:
    """``max(x, (c - mean) * invstd * weight + bias)``.

    Args:
        x: Input ``(N, C, *)``.
        c: Funnel conv output, shaped like ``x``.
        weight, bias: Affine parameters of the batch norm, ``(1, C, 1, 1)``.
        mean, invstd: Statistics, ``(1, C, 1, 1)``, without gradient.
        batch_stats: Whether ``mean``/``invstd`` are ``c``'s batch
            statistics (training), so that gradients flow through them.
    """
    return _FunnelMax.apply(x, c, weight, bias, mean, invstd, batch_stats)


def batch_statistics(c: Tensor, eps: float) -> Tuple[Tensor, Tensor, Tensor]:
    """Per-channel ``(mean, biased var, 1 / sqrt(var + eps))`` of ``c``."""
    dims = (0, ) + tuple(range(2, c.dim()))
    with torch.no_grad():
        var, mean = torch.var_mean(
            c.to(torch.promote_types(c.dtype, torch.float32)),
            dim=dims,
            correction=0,
            keepdim=True)
        return mean, var, torch.rsqrt(var + eps)
