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


@fused_kernel
def _forward(x: Tensor, p1: Tensor, p2: Tensor, beta: Tensor) -> Tensor:
    dpx = (p1 - p2) * x
    return (dpx * torch.sigmoid(beta * dpx) + p2 * x).to(x.dtype)


@fused_kernel
def _backward(x: Tensor, p1: Tensor, p2: Tensor, beta: Tensor,
              grad_y: Tensor, need_x: bool, need_p1: bool, need_p2: bool,
              need_beta: bool):
    dp = p1 - p2
    dpx = dp * x
    sig = torch.sigmoid(beta * dpx)
    dsig = sig * (1 - sig)
    # d y / d (dpx)
    grad_dpx = grad_y * (sig + beta * dpx * dsig)
    grad_x = (grad_dpx * dp + grad_y * p2).to(x.dtype) if need_x else None
    grad_p1 = (grad_dpx * x).sum_to_size(p1.shape).to(
        p1.dtype) if need_p1 else None
    grad_p2 = ((grad_y - grad_dpx) * x).sum_to_size(p2.shape).to(
        p2.dtype) if need_p2 else None
    grad_beta = (grad_y * dsig * dpx * dpx).sum_to_size(beta.shape).to(
        beta.dtype) if need_beta else None
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
