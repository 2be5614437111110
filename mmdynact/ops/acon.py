"""Memory-lean ACON: ``y = (p1 - p2) x sigmoid(beta (p1 - p2) x) + p2 x``.

ACON-C (Ma et al., "Activate or Not: Learning Customized Activation",
CVPR 2021) with per-channel ``p1, p2`` and a switching factor ``beta`` (per
channel, or per sample and channel for Meta-ACON). ACON-A (``p1 = 1,
p2 = 0``) and ACON-B (``p1 = 1``) are special cases.

Autograd through the formula keeps several full-size intermediates (the
products and the sigmoid); here backward keeps only ``x`` and the small
parameters, and recomputes the rest.
"""
import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from .backend import fused_kernel


def _flat(t: Tensor) -> Tensor:
    """``(N or 1, C or 1, 1, ...)`` -> ``(N or 1, C or 1, 1)``."""
    return t.reshape(t.shape[0], t.shape[1], 1)


def _sum_to(t: Tensor, like: Tensor) -> Tensor:
    """Sum ``(N, C, S)`` down to the (broadcast) shape of ``like``.

    Positions are summed first, per (N, C), in the loop that also writes
    ``grad_x``; the small ``(N, C)`` rest is summed after.
    """
    per_channel = t.sum(2, keepdim=True, dtype=like.dtype)
    dims = [dim for dim in (0, 1) if like.shape[dim] == 1]
    if dims:
        per_channel = per_channel.sum(dims, keepdim=True)
    return per_channel.view(like.shape)


# The kernels work on (N, C, S) views, as the DY-ReLU ones: inductor fuses
# the per-channel reductions of backward better over one flat dimension.
@fused_kernel
def _forward(x: Tensor, p1: Tensor, p2: Tensor, beta: Tensor) -> Tensor:
    x3, p2_ = x.flatten(2), _flat(p2)
    dpx = (_flat(p1) - p2_) * x3
    y = dpx * torch.sigmoid(_flat(beta) * dpx) + p2_ * x3
    return y.to(x.dtype).view_as(x)


@fused_kernel
def _backward(x: Tensor, p1: Tensor, p2: Tensor, beta: Tensor,
              grad_y: Tensor, need_x: bool, need_p1: bool, need_p2: bool,
              need_beta: bool):
    x3, grad = x.flatten(2), grad_y.flatten(2)
    p2_, beta_ = _flat(p2), _flat(beta)
    dp = _flat(p1) - p2_
    dpx = dp * x3
    sig = torch.sigmoid(beta_ * dpx)
    dsig = sig * (1 - sig)
    # d y / d (dpx)
    grad_dpx = grad * (sig + beta_ * dpx * dsig)
    grad_x = ((grad_dpx * dp + grad * p2_).to(x.dtype).view_as(x)
              if need_x else None)
    grad_p1 = _sum_to(grad_dpx * x3, p1) if need_p1 else None
    grad_p2 = _sum_to((grad - grad_dpx) * x3, p2) if need_p2 else None
    grad_beta = (_sum_to(grad * dsig * dpx * dpx, beta)
                 if need_beta else None)
    return grad_x, grad_p1, grad_p2, grad_beta


class _Acon(torch.autograd.Function):

    @staticmethod
    def forward(ctx, x: Tensor, p1: Tensor, p2: Tensor,
                beta: Tensor) -> Tensor:
        ctx.save_for_backward(x, p1, p2, beta)
        return _forward(x, p1, p2, beta)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_y: Tensor):
        return _backward(*ctx.saved_tensors, grad_y, *ctx.needs_input_grad)


def acon(x: Tensor, p1: Tensor, p2: Tensor, beta: Tensor) -> Tensor:
    """ACON-C ``(p1 - p2) x sigmoid(beta (p1 - p2) x) + p2 x``.

    ``p1``, ``p2`` and ``beta`` broadcast against ``x`` (e.g. ``(1, C, 1, 1)``
    per channel, ``(N, C, 1, 1)`` per sample); the result has ``x``'s shape and
    dtype.
    """
    return _Acon.apply(x, p1, p2, beta)
